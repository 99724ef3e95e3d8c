// SPDX-License-Identifier: MIT
/*
 * Key-method-2 messages as a 2.6.14 client and server write them
 * (protocol guide sections 5.1-5.4), their strings, errors, the peer-info
 * variables and the options string a server echoes.
 */
#include <string.h>

#include "keymethod.h"
#include "unit.h"

#define SERVER_OPTIONS                                                                             \
	"V4,dev-type tun,link-mtu 1541,tun-mtu 1500,proto UDPv4,auth SHA1,keysize 128,key-method " \
	"2,tls-server"
#define CLIENT_OPTIONS                                                                             \
	"V4,dev-type tun,link-mtu 1541,tun-mtu 1500,proto UDPv4,auth SHA1,keysize 128,key-method " \
	"2,tls-client"
#define PEER_INFO                                                                         \
	"IV_VER=2.6.14\nIV_PLAT=linux\nIV_TCPNL=1\nIV_MTU=1600\nIV_CIPHERS=AES-256-GCM\n" \
	"IV_PROTO=990\nIV_LZO_STUB=1\nIV_COMP_STUB=1\nIV_COMP_STUBv2=1\n"

static struct km2_string str(const char *s)
{
	return (struct km2_string){ s, s ? strlen(s) : 0 };
}

static void test_server_message(void)
{
	struct km2 m = { .from_client = false, .options = str(SERVER_OPTIONS) }, d;
	uint8_t buf[KM2_MESSAGE_MAX];
	size_t len;

	memset(m.random1, 0x11, sizeof(m.random1));
	memset(m.random2, 0x22, sizeof(m.random2));
	len = km2_encode(buf, sizeof(buf), &m);
	/* The guide observed 178 bytes with this 101-byte options string. */
	CHECK(strlen(SERVER_OPTIONS) + 1 == 101 && len == 178, "server message is 178 bytes: %zu",
	      len);
	CHECK(memcmp(buf, "\0\0\0\0\x02", 5) == 0, "header");
	CHECK(buf[69] == 0 && buf[70] == 101, "options length includes the NUL");
	CHECK(memcmp(buf + 172, "\0\0\0\0\0\0", 6) == 0, "empty strings written as length 0");
	CHECK(km2_decode(&d, buf, len, false) == 0, "decode");
	CHECK(d.options.len == 100 && strcmp(d.options.text, SERVER_OPTIONS) == 0, "options");
	CHECK(!d.username.text && !d.password.text && !d.peer_info.text, "no credentials");
	CHECK(d.random1[0] == 0x11 && d.random2[31] == 0x22, "randoms");
	CHECK(km2_decode(&d, buf, len, true) != 0, "a server message is not a client message");
}

static void test_client_message(void)
{
	struct km2 m = { .from_client = true,
			 .options = str(CLIENT_OPTIONS),
			 .username = str("alice"),
			 .password = str("secret"),
			 .peer_info = str(PEER_INFO) },
		   d;
	uint8_t buf[KM2_MESSAGE_MAX], again[KM2_MESSAGE_MAX];
	char value[64];
	size_t len;

	for (int i = 0; i < KM2_PRE_MASTER_LEN; i++)
		m.pre_master[i] = (uint8_t)i;
	len = km2_encode(buf, sizeof(buf), &m);
	CHECK(len == 5 + 48 + 64 + 2 + 101 + 2 + 6 + 2 + 7 + 2 + strlen(PEER_INFO) + 1,
	      "length %zu", len);
	CHECK(km2_decode(&d, buf, len, true) == 0, "decode");
	CHECK(d.pre_master[47] == 47, "pre-master");
	CHECK(strcmp(d.username.text, "alice") == 0 && strcmp(d.password.text, "secret") == 0,
	      "credentials");
	CHECK(km2_encode(again, sizeof(again), &d) == len && memcmp(again, buf, len) == 0,
	      "round trip");
	CHECK(km2_peer_info_proto(&d.peer_info) == 990, "IV_PROTO 990");
	CHECK(km2_peer_info_get(&d.peer_info, "IV_CIPHERS", value, sizeof(value)) &&
		      strcmp(value, "AES-256-GCM") == 0,
	      "IV_CIPHERS");
	CHECK(km2_peer_info_get(&d.peer_info, "IV_COMP_STUBv2", value, sizeof(value)) &&
		      strcmp(value, "1") == 0,
	      "last variable");
	CHECK(!km2_peer_info_get(&d.peer_info, "IV_COMP", value, sizeof(value)), "prefix only");
	CHECK(!km2_peer_info_get(&d.peer_info, "IV_HWADDR", value, sizeof(value)), "absent");
	CHECK(km2_peer_info_get(&d.peer_info, "IV_VER", value, 4) && strcmp(value, "2.6") == 0,
	      "value cut to the buffer");
	for (size_t cut = 0; cut < len; cut++)
		CHECK(km2_decode(&d, buf, cut, true) != 0 || cut >= 5 + 48 + 64 + 2 + 101,
		      "prefix %zu", cut);
}

/* { name, bytes, length, from_client, expected } built around a server message */
static void test_errors(void)
{
	uint8_t buf[KM2_MESSAGE_MAX];
	struct km2 m = { .options = str("V4") }, d;
	size_t len = km2_encode(buf, sizeof(buf), &m);
	size_t opt = 5 + 64; /* offset of the options string's length */

	CHECK(len == opt + 2 + 3 + 6, "base length");
	buf[0] = 1;
	CHECK(km2_decode(&d, buf, len, false) == KM2_EHEADER, "non-zero leading u32");
	buf[0] = 0;
	buf[4] = 1;
	CHECK(km2_decode(&d, buf, len, false) == KM2_EHEADER, "key method 1");
	buf[4] = 0x12;
	CHECK(km2_decode(&d, buf, len, false) == 0, "flags in the high nibble are allowed");
	buf[4] = 2;
	buf[opt + 4] = 'x';
	CHECK(km2_decode(&d, buf, len, false) == KM2_ESTRING, "no NUL");
	buf[opt + 4] = 0;
	buf[opt + 3] = 0;
	CHECK(km2_decode(&d, buf, len, false) == KM2_ESTRING, "NUL inside");
	buf[opt + 3] = '4';
	buf[opt] = 0x10;
	CHECK(km2_decode(&d, buf, len, false) == KM2_ETOOLONG, "options over 512");
	buf[opt] = 0;
	CHECK(km2_decode(&d, buf, opt, false) == KM2_ETRUNC, "no options string");
	CHECK(km2_decode(&d, buf, opt + 5, false) == 0, "credentials and peer-info may be absent");
	buf[len] = 0;
	CHECK(km2_decode(&d, buf, len + 1, false) == KM2_ETRAILING, "trailing byte");
	/* A lone NUL (length 1) is an empty string, as the RFC draft writes it. */
	memcpy(buf + opt + 5, "\x00\x01\x00\x00\x00\x00\x00", 7);
	CHECK(km2_decode(&d, buf, opt + 12, false) == 0 && !d.username.text, "length-1 empty");
	m.options = str(NULL);
	char big[600];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	m.options = str(big);
	CHECK(km2_encode(buf, sizeof(buf), &m) == 0, "encode refuses a long options string");
}

static const struct {
	const char *client, *server;
} replies[] = {
	{ CLIENT_OPTIONS, SERVER_OPTIONS },
	{ "V4,dev-type tun,proto TCPv4_CLIENT,keydir 1,tls-auth,key-method 2,tls-client",
	  "V4,dev-type tun,proto TCPv4_SERVER,keydir 0,tls-auth,key-method 2,tls-server" },
	{ "V4,proto TCPv6_CLIENT,keydir 0,tls-client",
	  "V4,proto TCPv6_SERVER,keydir 1,tls-server" },
	{ "V4", "V4" },
	{ "", "" },
};

static void test_options_reply(void)
{
	char out[KM2_OPTIONS_MAX];

	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		CHECK(km2_options_reply(replies[i].client, out, sizeof(out)), "case %zu fits", i);
		CHECK(strcmp(out, replies[i].server) == 0, "case %zu: %s", i, out);
	}
	CHECK(!km2_options_reply(CLIENT_OPTIONS, out, 20), "too small");
}

/* The IV_PROTO bits by name, as OpenVPN's ssl.h numbers them; gaps and the reserved bit 0 have
 * none. */
static void test_iv_proto_names(void)
{
	CHECK(km2_iv_proto_name(0) == NULL, "bit 0 is reserved");
	CHECK(strcmp(km2_iv_proto_name(1), "data-v2") == 0, "bit 1");
	CHECK(strcmp(km2_iv_proto_name(3), "tls-key-export") == 0, "bit 3");
	CHECK(strcmp(km2_iv_proto_name(9), "dyn-tls-crypt") == 0, "bit 9");
	CHECK(strcmp(km2_iv_proto_name(10), "data-epoch") == 0, "bit 10");
	CHECK(strcmp(km2_iv_proto_name(11), "dns-option-v2") == 0, "bit 11");
	CHECK(strcmp(km2_iv_proto_name(12), "push-update") == 0, "bit 12");
	CHECK(km2_iv_proto_name(13) == NULL && km2_iv_proto_name(31) == NULL, "unknown bits");
}

int main(void)
{
	test_server_message();
	test_client_message();
	test_errors();
	test_options_reply();
	test_iv_proto_names();
	return unit_report("test_keymethod");
}
