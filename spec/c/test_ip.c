// SPDX-License-Identifier: MIT
#include <string.h>
#include <sys/socket.h>

#include "ip.h"
#include "unit.h"

static const struct {
	const char *text;
	int ok;
	int is_network;
	const char *canonical;
} prefix_cases[] = {
	{ "10.8.0.0/24", 1, 1, "10.8.0.0/24" },
	{ "10.8.0.1/24", 1, 0, "10.8.0.1/24" },
	{ "0.0.0.0/0", 1, 1, "0.0.0.0/0" },
	{ "10.8.0.0/32", 1, 1, "10.8.0.0/32" },
	{ "10.8.0.0/33", 0, 0, NULL },
	{ "10.8.0.0/", 0, 0, NULL },
	{ "10.8.0.0", 0, 0, NULL },
	{ "/24", 0, 0, NULL },
	{ "10.8.0.0/024", 0, 0, NULL },
	{ "10.8.0.0/-1", 0, 0, NULL },
	{ "10.8.0.0/2x", 0, 0, NULL },
	{ "10.8.0.300/24", 0, 0, NULL },
	{ "fd00:8::/64", 1, 1, "fd00:8::/64" },
	{ "FD00:8::1/64", 1, 0, "fd00:8::1/64" },
	{ "fd00::/128", 1, 1, "fd00::/128" },
	{ "fd00::/129", 0, 0, NULL },
	{ "fd00:::/64", 0, 0, NULL },
	{ "", 0, 0, NULL },
};

static void test_prefix_parse(void)
{
	for (size_t i = 0; i < sizeof(prefix_cases) / sizeof(prefix_cases[0]); i++) {
		struct ip_prefix p;
		char buf[IP_PREFIX_TEXT_MAX];
		bool ok = ip_prefix_parse(&p, prefix_cases[i].text);

		CHECK(ok == (bool)prefix_cases[i].ok, "case %zu \"%s\"", i, prefix_cases[i].text);
		if (!ok || !prefix_cases[i].ok)
			continue;
		CHECK(ip_prefix_is_network(&p) == (bool)prefix_cases[i].is_network, "case %zu", i);
		ip_prefix_format(&p, buf, sizeof(buf));
		CHECK(strcmp(buf, prefix_cases[i].canonical) == 0, "case %zu: got %s", i, buf);
	}
}

static const struct {
	const char *prefix;
	unsigned long long n;
	const char *host; /* NULL: out of range */
} host_cases[] = {
	{ "10.8.0.0/24", 1, "10.8.0.1" },
	{ "10.8.0.0/24", 254, "10.8.0.254" },
	{ "10.8.0.0/24", 255, NULL },
	{ "10.8.0.0/24", 256, NULL },
	{ "10.8.0.0/16", 256, "10.8.1.0" },
	{ "10.8.0.0/31", 1, "10.8.0.1" },
	{ "10.8.0.0/32", 1, NULL },
	{ "fd00::/64", 1, "fd00::1" },
	{ "fd00::/120", 255, "fd00::ff" },
	{ "fd00::/120", 256, NULL },
	{ "fd00::ff00/112", 0x1ff, "fd00::1:ff" },
	{ "255.255.255.0/24", 1, "255.255.255.1" },
};

static void test_prefix_host(void)
{
	for (size_t i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++) {
		struct ip_prefix p;
		struct ip_addr a;
		char buf[IP_PREFIX_TEXT_MAX];
		bool ok;

		CHECK(ip_prefix_parse(&p, host_cases[i].prefix), "case %zu", i);
		ok = ip_prefix_host(&a, &p, host_cases[i].n);
		CHECK(ok == (host_cases[i].host != NULL), "case %zu: n=%llu", i, host_cases[i].n);
		if (ok && host_cases[i].host) {
			ip_addr_format(&a, buf, sizeof(buf));
			CHECK(strcmp(buf, host_cases[i].host) == 0, "case %zu: got %s", i, buf);
		}
	}
}

static void test_equal(void)
{
	struct ip_prefix a, b, c;

	CHECK(ip_prefix_parse(&a, "10.0.0.0/8") && ip_prefix_parse(&b, "10.0.0.0/8") &&
		      ip_prefix_parse(&c, "10.0.0.0/9"),
	      "parse");
	CHECK(ip_prefix_equal(&a, &b), "same prefix");
	CHECK(!ip_prefix_equal(&a, &c), "different length");
	CHECK(ip_addr_equal(&a.addr, &c.addr), "same address");
}

static void test_packet_addr(void)
{
	uint8_t v4[20] = { 0x45, [12] = 10, 8, 0, 2, 192, 0, 2, 1 };
	uint8_t v6[40] = { 0x60, [8] = 0xfd, [23] = 2, [24] = 0x20, 0x01, [39] = 1 };
	struct ip_addr a;
	char text[IP_PREFIX_TEXT_MAX];

	CHECK(ip_packet_addr(v4, sizeof(v4), true, &a) &&
		      strcmp(ip_addr_format(&a, text, sizeof(text)), "10.8.0.2") == 0,
	      "IPv4 source: %s", text);
	CHECK(ip_packet_addr(v4, sizeof(v4), false, &a) &&
		      strcmp(ip_addr_format(&a, text, sizeof(text)), "192.0.2.1") == 0,
	      "IPv4 destination: %s", text);
	CHECK(ip_packet_addr(v6, sizeof(v6), true, &a) &&
		      strcmp(ip_addr_format(&a, text, sizeof(text)), "fd00::2") == 0,
	      "IPv6 source: %s", text);
	CHECK(ip_packet_addr(v6, sizeof(v6), false, &a) &&
		      strcmp(ip_addr_format(&a, text, sizeof(text)), "2001::1") == 0,
	      "IPv6 destination: %s", text);
	CHECK(!ip_packet_addr(v4, 19, true, &a) && !ip_packet_addr(v6, 39, false, &a),
	      "truncated headers");
}

int main(void)
{
	test_packet_addr();
	test_prefix_parse();
	test_prefix_host();
	test_equal();
	return unit_report("test_ip");
}
