// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>

#include "mgmt_proto.h"
#include "unit.h"

static const struct {
	const char *line;
	int argc;
	const char *words[5];
} split_cases[] = {
	{ "status", 1, { "status" } },
	{ "  status   2  ", 2, { "status", "2" } },
	{ "status\t3", 2, { "status", "3" } },
	{ "", 0, { NULL } },
	{ "   ", 0, { NULL } },
	{ "client-deny 3 1 \"bad password\" \"try again\"",
	  5,
	  { "client-deny", "3", "1", "bad password", "try again" } },
	{ "push \"route 10.9.0.0 255.255.255.0\"", 2, { "push", "route 10.9.0.0 255.255.255.0" } },
	{ "echo \"a \\\"quoted\\\" word\"", 2, { "echo", "a \"quoted\" word" } },
	{ "x 'single quoted'", 2, { "x", "single quoted" } },
	{ "x \"\"", 2, { "x", "" } },
	{ "x a\"b c\"d", 2, { "x", "ab cd" } },
	{ "x \"open", -1, { NULL } },
	{ "a b c d e f", -1, { NULL } }, /* more than the 5 words the test allows */
};

static void test_split(void)
{
	for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		char line[128];
		char *argv[5];
		int argc;

		snprintf(line, sizeof(line), "%s", split_cases[i].line);
		argc = mgmt_split(line, argv, 5);
		CHECK(argc == split_cases[i].argc, "%s: %d words, want %d", split_cases[i].line,
		      argc, split_cases[i].argc);
		for (int w = 0; w < argc && w < 5 && split_cases[i].words[w]; w++)
			CHECK(strcmp(argv[w], split_cases[i].words[w]) == 0,
			      "%s: word %d is [%s], want [%s]", split_cases[i].line, w, argv[w],
			      split_cases[i].words[w]);
	}
}

static const char *const routes[] = { "10.9.0.0/24" };

static const struct mgmt_client clients[] = {
	{ .cn = "alice",
	  .username = "",
	  .real_address = "192.0.2.7:51234",
	  .vaddr4 = "10.8.0.2",
	  .vaddr6 = "fd00:8::1000",
	  .cipher = "AES-256-GCM",
	  .bytes_in = 1234,
	  .bytes_out = 5678,
	  .connected_since = 1700000000,
	  .cid = 7,
	  .peer_id = 0,
	  .routes = routes,
	  .n_routes = 1 },
	{ .cn = "",
	  .username = "bob",
	  .real_address = "192.0.2.8:1194",
	  .vaddr4 = "10.8.0.3",
	  .vaddr6 = "",
	  .cipher = "CHACHA20-POLY1305",
	  .bytes_in = 1,
	  .bytes_out = 2,
	  .connected_since = 1700000100,
	  .cid = 8,
	  .peer_id = 1 },
};

static const struct mgmt_status status = {
	.title = "moonvpn 0.1.0",
	.now = 1700000200,
	.clients = clients,
	.n_clients = 2,
	.eol = "\n",
};

static const char want_v1[] = "OpenVPN CLIENT LIST\n"
			      "Updated,2023-11-14 22:16:40\n"
			      "Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since\n"
			      "alice,192.0.2.7:51234,1234,5678,2023-11-14 22:13:20\n"
			      "UNDEF,192.0.2.8:1194,1,2,2023-11-14 22:15:00\n"
			      "ROUTING TABLE\n"
			      "Virtual Address,Common Name,Real Address,Last Ref\n"
			      "10.8.0.2,alice,192.0.2.7:51234,2023-11-14 22:16:40\n"
			      "fd00:8::1000,alice,192.0.2.7:51234,2023-11-14 22:16:40\n"
			      "10.9.0.0/24,alice,192.0.2.7:51234,2023-11-14 22:16:40\n"
			      "10.8.0.3,UNDEF,192.0.2.8:1194,2023-11-14 22:16:40\n"
			      "GLOBAL STATS\n"
			      "Max bcast/mcast queue length,0\n"
			      "END\n";

static const char want_v2[] =
	"TITLE,moonvpn 0.1.0\n"
	"TIME,2023-11-14 22:16:40,1700000200\n"
	"HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,"
	"Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,"
	"Peer ID,Data Channel Cipher\n"
	"CLIENT_LIST,alice,192.0.2.7:51234,10.8.0.2,fd00:8::1000,1234,5678,2023-11-14 22:13:20,"
	"1700000000,UNDEF,7,0,AES-256-GCM\n"
	"CLIENT_LIST,UNDEF,192.0.2.8:1194,10.8.0.3,,1,2,2023-11-14 22:15:00,1700000100,bob,8,1,"
	"CHACHA20-POLY1305\n"
	"HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,"
	"Last Ref (time_t)\n"
	"ROUTING_TABLE,10.8.0.2,alice,192.0.2.7:51234,2023-11-14 22:16:40,1700000200\n"
	"ROUTING_TABLE,fd00:8::1000,alice,192.0.2.7:51234,2023-11-14 22:16:40,1700000200\n"
	"ROUTING_TABLE,10.9.0.0/24,alice,192.0.2.7:51234,2023-11-14 22:16:40,1700000200\n"
	"ROUTING_TABLE,10.8.0.3,UNDEF,192.0.2.8:1194,2023-11-14 22:16:40,1700000200\n"
	"GLOBAL_STATS,Max bcast/mcast queue length,0\n"
	"GLOBAL_STATS,dco_enabled,0\n"
	"END\n";

static void test_status(void)
{
	struct mgmt_buf b = { 0 };
	char *v3;

	CHECK(mgmt_format_status(&b, &status, 1) == 0, "version 1");
	CHECK(!b.failed && strcmp(b.data, want_v1) == 0, "v1:\n%s", b.data);
	mgmt_buf_free(&b);

	CHECK(mgmt_format_status(&b, &status, 2) == 0, "version 2");
	CHECK(!b.failed && strcmp(b.data, want_v2) == 0, "v2:\n%s", b.data);
	mgmt_buf_free(&b);

	/* Version 3 is version 2 with tabs: no field of the test has a comma of its own. */
	CHECK(mgmt_format_status(&b, &status, 3) == 0, "version 3");
	v3 = strdup(want_v2);
	for (char *p = v3; *p; p++)
		if (*p == ',')
			*p = '\t';
	CHECK(!b.failed && strcmp(b.data, v3) == 0, "v3:\n%s", b.data);
	free(v3);
	mgmt_buf_free(&b);

	CHECK(mgmt_format_status(&b, &status, 4) == -1, "version 4 is refused");
	CHECK(mgmt_format_status(&b, &status, 0) == -1, "version 0 is refused");
	mgmt_buf_free(&b);
}

static void test_env(void)
{
	struct mgmt_buf b = { 0 };
	char longv[MGMT_ENV_VALUE_MAX + 50];

	mgmt_format_env(&b, "common_name", "alice");
	mgmt_format_env(&b, "username", "evil\r\n>CLIENT:ESTABLISHED,1");
	CHECK(strcmp(b.data, ">CLIENT:ENV,common_name=alice\r\n"
			     ">CLIENT:ENV,username=evil__>CLIENT:ESTABLISHED,1\r\n") == 0,
	      "env:\n%s", b.data);
	mgmt_buf_free(&b);

	memset(longv, 'x', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	mgmt_format_env(&b, "v", longv);
	CHECK(b.len == strlen(">CLIENT:ENV,v=") + MGMT_ENV_VALUE_MAX + 2, "cut at %d: %zu",
	      MGMT_ENV_VALUE_MAX, b.len);
	mgmt_buf_free(&b);
}

static void test_buf_bound(void)
{
	struct mgmt_buf b = { 0 };
	char chunk[4097];

	memset(chunk, 'a', sizeof(chunk) - 1);
	chunk[sizeof(chunk) - 1] = '\0';
	for (size_t i = 0; i < MGMT_BUF_MAX_BYTES / 4096 + 2; i++)
		mgmt_buf_printf(&b, "%s", chunk);
	CHECK(b.failed, "a report over %d bytes fails", MGMT_BUF_MAX_BYTES);
	CHECK(b.len < MGMT_BUF_MAX_BYTES, "and stays under the bound: %zu", b.len);
	mgmt_buf_free(&b);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	test_split();
	test_status();
	test_env();
	test_buf_bound();
	return unit_report("test_mgmt_proto");
}
