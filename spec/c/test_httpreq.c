// SPDX-License-Identifier: MIT
#include <string.h>

#include "httpreq.h"
#include "unit.h"

static const struct {
	const char *head;
	enum httpreq_verdict v;
} cases[] = {
	{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", HTTPREQ_OK },
	{ "GET /metrics HTTP/1.0\r\n\r\n", HTTPREQ_OK },
	{ "GET /metrics HTTP/1.1\n\n", HTTPREQ_OK },
	{ "GET /metrics?name[]=up HTTP/1.1\r\n\r\n", HTTPREQ_OK },
	{ "GET /metrics HTTP/1.1\r\nAccept: text/plain;q=0.9\r\nUser-Agent: "
	  "Prometheus/2.42\r\n\r\n",
	  HTTPREQ_OK },
	{ "GET /metrics HTTP/1.1\r\nX-Empty:\r\n\r\n", HTTPREQ_OK },
	/* incomplete: no blank line yet */
	{ "", HTTPREQ_INCOMPLETE },
	{ "GET /metrics HTTP/1.1\r\n", HTTPREQ_INCOMPLETE },
	{ "GET /metrics HTTP/1.1\r\nHost: x\r\n", HTTPREQ_INCOMPLETE },
	{ "GET /metr", HTTPREQ_INCOMPLETE },
	{ "GET /metrics HTTP/1.1\r\n\r", HTTPREQ_INCOMPLETE },
	/* other paths and methods */
	{ "GET / HTTP/1.1\r\n\r\n", HTTPREQ_NOT_FOUND },
	{ "GET /metricsx HTTP/1.1\r\n\r\n", HTTPREQ_NOT_FOUND },
	{ "GET /metric HTTP/1.1\r\n\r\n", HTTPREQ_NOT_FOUND },
	{ "GET /Metrics HTTP/1.1\r\n\r\n", HTTPREQ_NOT_FOUND },
	{ "GET /metrics/ HTTP/1.1\r\n\r\n", HTTPREQ_NOT_FOUND },
	{ "POST /metrics HTTP/1.1\r\n\r\n", HTTPREQ_BAD_METHOD },
	{ "HEAD /metrics HTTP/1.1\r\n\r\n", HTTPREQ_BAD_METHOD },
	{ "get /metrics HTTP/1.1\r\n\r\n", HTTPREQ_BAD_METHOD },
	{ "DELETE / HTTP/1.1\r\n\r\n", HTTPREQ_BAD_METHOD },
	/* garbage */
	{ "hello\r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "\r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "GET\r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "GET /metrics\r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "GET /metrics HTTP/2.0\r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "GET /metrics HTTP/1.1 \r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "GET  /metrics HTTP/1.1\r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "GET metrics HTTP/1.1\r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "GET /met rics HTTP/1.1\r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "GET /metrics HTTP/1.1\r\n: value\r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "GET /metrics HTTP/1.1\r\nBad Name: v\r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "GET /metrics HTTP/1.1\r\nX: a\x01b\r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "GET /metrics HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "G\x7fT /metrics HTTP/1.1\r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HTTPREQ_BAD_REQUEST },
	{ "\x16\x03\x01\x02\x05\x01\xfc\x03\x03\n\n", HTTPREQ_BAD_REQUEST }, /* a TLS hello */
	{ "G(T /metrics HTTP/1.1\r\n\r\n", HTTPREQ_BAD_REQUEST },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum httpreq_verdict v =
			httpreq_parse(cases[i].head, strlen(cases[i].head), "/metrics");

		CHECK(v == cases[i].v, "case %zu: got %d, want %d", i, v, cases[i].v);
	}
	/* The head is not NUL-terminated: only len bytes are read. */
	CHECK(httpreq_parse("GET /metrics HTTP/1.1\r\n\r\nXYZ", 23, "/metrics") ==
		      HTTPREQ_INCOMPLETE,
	      "a head cut short by len");
	return unit_report("test_httpreq");
}
