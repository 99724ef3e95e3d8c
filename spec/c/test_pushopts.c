// SPDX-License-Identifier: MIT
/* PUSH_REPLY as a client parses it: the 2.6.14 reply, continuation, errors. */
#include <string.h>

#include "pushopts.h"
#include "unit.h"

static const char OBSERVED[] =
	"PUSH_REPLY,route-gateway 10.8.0.1,topology subnet,ping 10,ping-restart 60,"
	"ifconfig 10.8.0.2 255.255.255.0,peer-id 0,cipher AES-256-GCM,"
	"protocol-flags cc-exit tls-ekm dyn-tls-crypt,tun-mtu 1500";

static void test_observed(void)
{
	struct push_options o;
	char err[PUSH_ERR_MAX], buf[64];

	push_options_init(&o);
	CHECK(push_parse(&o, OBSERVED, err, sizeof(err)) == 0, "parse: %s", err);
	CHECK(o.has_ifconfig &&
		      strcmp(ip_prefix_format(&o.ifconfig, buf, sizeof(buf)), "10.8.0.2/24") == 0,
	      "ifconfig %s", buf);
	CHECK(o.has_route_gateway && o.topology_subnet, "gateway, topology");
	CHECK(o.ping == 10 && o.ping_restart == 60 && o.tun_mtu == 1500, "timers, mtu");
	CHECK(o.has_peer_id && o.peer_id == 0 && strcmp(o.cipher, "AES-256-GCM") == 0,
	      "peer, cipher");
	CHECK(o.tls_ekm && o.cc_exit && o.dyn_tls_crypt && o.unknown == 0, "flags");
	CHECK(!o.more, "no continuation");
}

/* 2.7 adds aead-epoch for a client that announced the epoch data format (push.c). */
static void test_epoch_flag(void)
{
	struct push_options o;
	char err[PUSH_ERR_MAX];

	push_options_init(&o);
	CHECK(push_parse(&o,
			 "PUSH_REPLY,peer-id 1,cipher AES-256-GCM,"
			 "protocol-flags cc-exit tls-ekm dyn-tls-crypt aead-epoch",
			 err, sizeof(err)) == 0,
	      "parse: %s", err);
	CHECK(o.epoch_data && o.dyn_tls_crypt && o.tls_ekm && o.unknown == 0,
	      "aead-epoch among the flags");
	push_options_init(&o);
	CHECK(push_parse(&o, OBSERVED, err, sizeof(err)) == 0 && !o.epoch_data,
	      "2.6's flags: no epoch format");
}

static void test_routes_dns_continuation(void)
{
	struct push_options o;
	char err[PUSH_ERR_MAX], buf[64];

	push_options_init(&o);
	CHECK(push_parse(&o,
			 "PUSH_REPLY,route 192.168.10.0 255.255.255.0,route 10.9.9.9,"
			 "route-ipv6 fd00:10::/64,push-continuation 2",
			 err, sizeof(err)) == 0 &&
		      o.more,
	      "first part: %s", err);
	CHECK(push_parse(&o,
			 "PUSH_REPLY,dhcp-option DNS 10.8.0.1,dhcp-option DOMAIN vpn.example.com,"
			 "dhcp-option NTP 1.2.3.4,redirect-gateway def1,key-derivation tls-ekm,"
			 "ifconfig-ipv6 fd00:8::2/64 fd00:8::1,push-continuation 1",
			 err, sizeof(err)) == 0 &&
		      !o.more,
	      "last part: %s", err);
	CHECK(o.n_routes == 3, "routes %zu", o.n_routes);
	CHECK(strcmp(ip_prefix_format(&o.routes[1], buf, sizeof(buf)), "10.9.9.9/32") == 0, "%s",
	      buf);
	CHECK(strcmp(ip_prefix_format(&o.routes[2], buf, sizeof(buf)), "fd00:10::/64") == 0, "%s",
	      buf);
	CHECK(o.n_dns == 1 && strcmp(o.domain, "vpn.example.com") == 0, "dns, domain");
	CHECK(o.redirect == (PUSH_REDIRECT_ON | PUSH_REDIRECT_IPV4 | PUSH_REDIRECT_DEF1) &&
		      o.tls_ekm && o.has_ifconfig6 && o.ifconfig6.len == 64,
	      "redirect, ekm, ipv6");
}

static const struct {
	const char *message;
	const char *error; /* substring */
} bad[] = {
	{ "AUTH_FAILED", "not a PUSH_REPLY" },
	{ "PUSH_REPLYX", "not a PUSH_REPLY" },
	{ "PUSH_REPLY,topology subnet,ifconfig 10.8.0.2 255.0.255.0", "\"ifconfig ...\"" },
	{ "PUSH_REPLY,ifconfig 10.8.0.2 fd00::1", "\"ifconfig ...\"" },
	{ "PUSH_REPLY,ifconfig 10.8.0.300 255.255.255.0", "ifconfig" },
	{ "PUSH_REPLY,route 10.0.0.0 255.255.0.255", "route" },
	{ "PUSH_REPLY,peer-id 16777215", "peer-id" },
	{ "PUSH_REPLY,peer-id -1", "peer-id" },
	{ "PUSH_REPLY,ping ten", "ping" },
	{ "PUSH_REPLY,tun-mtu 20", "tun-mtu" },
	{ "PUSH_REPLY,route-ipv6 10.0.0.0/8", "route-ipv6" },
};

static void test_bad(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct push_options o;
		char err[PUSH_ERR_MAX] = "";

		push_options_init(&o);
		CHECK(push_parse(&o, bad[i].message, err, sizeof(err)) < 0 &&
			      strstr(err, bad[i].error),
		      "%s -> %s", bad[i].message, err);
	}
}

/* net30 and p2p: "ifconfig local peer"; the link prefix holds both ends. */
static void test_ifconfig_peer(void)
{
	static const struct {
		const char *message, *prefix;
	} cases[] = {
		{ "PUSH_REPLY,route 10.8.0.1,ifconfig 10.8.0.6 10.8.0.5", "10.8.0.6/30" },
		{ "PUSH_REPLY,ifconfig 10.8.0.6 10.9.0.1", "10.8.0.6/32" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct push_options o;
		char err[PUSH_ERR_MAX] = "", buf[64] = "";

		push_options_init(&o);
		CHECK(push_parse(&o, cases[i].message, err, sizeof(err)) == 0 && o.has_ifconfig &&
			      o.has_ifconfig_peer &&
			      strcmp(ip_prefix_format(&o.ifconfig, buf, sizeof(buf)),
				     cases[i].prefix) == 0,
		      "%s -> %s %s", cases[i].message, buf, err);
	}
}

static void test_redirect_words(void)
{
	static const struct {
		const char *option;
		unsigned flags;
	} cases[] = {
		{ "redirect-gateway", PUSH_REDIRECT_ON | PUSH_REDIRECT_IPV4 },
		{ "redirect-gateway def1 bypass-dhcp", PUSH_REDIRECT_ON | PUSH_REDIRECT_IPV4 |
							       PUSH_REDIRECT_DEF1 |
							       PUSH_REDIRECT_BYPASS },
		{ "redirect-gateway ipv6 !ipv4", PUSH_REDIRECT_ON | PUSH_REDIRECT_IPV6 },
		{ "redirect-gateway local def1 ipv6",
		  PUSH_REDIRECT_ON | PUSH_REDIRECT_IPV4 | PUSH_REDIRECT_IPV6 | PUSH_REDIRECT_LOCAL |
			  PUSH_REDIRECT_DEF1 },
		{ "redirect-gateway block-local",
		  PUSH_REDIRECT_ON | PUSH_REDIRECT_IPV4 | PUSH_REDIRECT_BLOCK_LOCAL },
	};
	char msg[128], err[PUSH_ERR_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct push_options o;

		push_options_init(&o);
		snprintf(msg, sizeof(msg), "PUSH_REPLY,%s", cases[i].option);
		CHECK(push_parse(&o, msg, err, sizeof(err)) == 0 && o.redirect == cases[i].flags,
		      "%s: flags %#x", cases[i].option, o.redirect);
	}
}

static void test_netmask(void)
{
	static const struct {
		const char *mask;
		int len;
	} masks[] = { { "255.255.255.0", 24 }, { "255.255.255.255", 32 }, { "0.0.0.0", 0 },
		      { "255.255.254.0", 23 }, { "255.0.255.0", -1 },	  { "fd00::", -1 } };

	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++)
		CHECK(push_netmask_len(masks[i].mask) == masks[i].len, "%s", masks[i].mask);
}

/* A client's pull-filter: first match wins, ignore drops, reject refuses the reply. */
static void test_pull_filter(void)
{
	static const char reply[] = "PUSH_REPLY,route 10.1.0.0 255.255.0.0,route 10.2.0.0 "
				    "255.255.0.0,redirect-gateway def1,dhcp-option DNS 10.8.0.1,"
				    "ifconfig 10.8.0.2 255.255.255.0";
	struct push_options o;
	char err[PUSH_ERR_MAX];

	push_options_init(&o);
	CHECK(push_parse_filtered(&o, reply,
				  "accept route 10.1.\nignore route\nignore redirect-gateway\n",
				  err, sizeof(err)) == 0,
	      "filtered: %s", err);
	CHECK(o.n_routes == 1 && o.routes[0].len == 16, "route 10.1 accepted, route 10.2 ignored");
	CHECK(o.redirect == 0 && o.filtered == 2, "redirect-gateway ignored; %u filtered",
	      o.filtered);
	CHECK(o.n_dns == 1 && o.has_ifconfig, "the rest untouched");

	push_options_init(&o);
	CHECK(push_parse_filtered(&o, reply, "reject dhcp-option\n", err, sizeof(err)) < 0 &&
		      strstr(err, "\"dhcp-option DNS 10.8.0.1\" refused by pull-filter reject "
				  "dhcp-option"),
	      "reject refuses the reply, naming the option: %s", err);
	push_options_init(&o);
	CHECK(push_parse_filtered(&o, reply, "", err, sizeof(err)) == 0 && o.n_routes == 2 &&
		      o.filtered == 0,
	      "an empty filter takes everything");
	CHECK(push_redirect_parse("def1 ipv6") == (PUSH_REDIRECT_ON | PUSH_REDIRECT_IPV4 |
						   PUSH_REDIRECT_IPV6 | PUSH_REDIRECT_DEF1),
	      "a profile's redirect-gateway words");
	CHECK(push_redirect_parse("") == (PUSH_REDIRECT_ON | PUSH_REDIRECT_IPV4),
	      "redirect-gateway alone");
}

/* comp-lzo and compress pushed: the framing the server expects of the client. */
static void test_compress(void)
{
	static const struct {
		const char *reply;
		uint8_t compress;
	} cases[] = {
		{ "PUSH_REPLY,peer-id 0", PUSH_COMPRESS_UNSAID },
		{ "PUSH_REPLY,comp-lzo no", PUSH_COMPRESS_LZO },
		{ "PUSH_REPLY,comp-lzo", PUSH_COMPRESS_LZO },
		{ "PUSH_REPLY,compress stub-v2", PUSH_COMPRESS_V2 },
		{ "PUSH_REPLY,compress lz4-v2", PUSH_COMPRESS_V2 },
		{ "PUSH_REPLY,compress", PUSH_COMPRESS_V1 },
		{ "PUSH_REPLY,compress stub", PUSH_COMPRESS_V1 },
	};
	char err[PUSH_ERR_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct push_options o;

		push_options_init(&o);
		CHECK(push_parse(&o, cases[i].reply, err, sizeof(err)) == 0 &&
			      o.compress == cases[i].compress && o.unknown == 0,
		      "%s: compress %u", cases[i].reply, o.compress);
	}
}

/* 2.6's dns option: servers by priority with their ports, over dhcp-option's, in any order. */
static void test_dns_option(void)
{
	struct push_options o;
	char err[PUSH_ERR_MAX], buf[64];

	push_options_init(&o);
	CHECK(push_parse(&o,
			 "PUSH_REPLY,dhcp-option DNS 10.8.0.1,dhcp-option DOMAIN old.example,"
			 "dns server 2 address 10.8.0.9,dns server 1 address 10.8.0.7:5353 "
			 "[fd00::53]:5300 fd00::54,dns search-domains a.example b.example,"
			 "dhcp-option DNS 10.8.0.2,dns server 1 dnssec yes",
			 err, sizeof(err)) == 0,
	      "parse: %s", err);
	CHECK(o.n_dns == 4 && o.dns_structured, "servers %zu", o.n_dns);
	CHECK(strcmp(ip_addr_format(&o.dns[0], buf, sizeof(buf)), "10.8.0.7") == 0 &&
		      o.dns_port[0] == 5353,
	      "first %s", buf);
	CHECK(strcmp(ip_addr_format(&o.dns[1], buf, sizeof(buf)), "fd00::53") == 0 &&
		      o.dns_port[1] == 5300,
	      "second %s", buf);
	CHECK(strcmp(ip_addr_format(&o.dns[2], buf, sizeof(buf)), "fd00::54") == 0 &&
		      o.dns_port[2] == 0,
	      "third %s", buf);
	CHECK(strcmp(ip_addr_format(&o.dns[3], buf, sizeof(buf)), "10.8.0.9") == 0, "last %s", buf);
	CHECK(strcmp(o.domain, "a.example b.example") == 0, "domains %s", o.domain);
	CHECK(o.unknown == 1, "dnssec counted as unknown: %u", o.unknown);
	push_options_init(&o);
	CHECK(push_parse(&o, "PUSH_REPLY,dns server x address 10.8.0.1", err, sizeof(err)) < 0,
	      "a bad priority");
	push_options_init(&o);
	CHECK(push_parse(&o, "PUSH_REPLY,dns server 0 address 10.8.0.1:99999", err, sizeof(err)) <
		      0,
	      "a bad port");
}

/* Review M1: a domain that would add a line to resolv.conf, or an option to resolvectl, is
 * ignored with a warning (OpenVPN's validate_domain, domain_helper.h); the push goes on. */
static void test_bad_domains(void)
{
	static const char *const hostile[] = {
		"PUSH_REPLY,dhcp-option DOMAIN evil.example\nnameserver\t192.0.2.66",
		"PUSH_REPLY,dhcp-option DOMAIN a\tb",
		"PUSH_REPLY,dhcp-option DOMAIN -x",
		"PUSH_REPLY,dhcp-option DOMAIN a;b",
		"PUSH_REPLY,dns search-domains good.example --interface=lo",
		"PUSH_REPLY,dns search-domains good.example bad\nsearch.example",
		"PUSH_REPLY,dns search-domains bad\r.example",
	};
	struct push_options o;
	char err[PUSH_ERR_MAX];

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		push_options_init(&o);
		CHECK(push_parse(&o, hostile[i], err, sizeof(err)) == 0, "%zu: parse: %s", i, err);
		CHECK(o.domain[0] == '\0' && !o.domains_structured, "%zu: ignored: %s", i,
		      o.domain);
		CHECK(o.warnings == 1 && strstr(o.warning, "cannot have"), "%zu: warned: %s", i,
		      o.warning);
	}
	push_options_init(&o);
	CHECK(push_parse(&o, "PUSH_REPLY,dhcp-option DOMAIN old.example,dns search-domains x\ny",
			 err, sizeof(err)) == 0 &&
		      strcmp(o.domain, "old.example") == 0,
	      "a bad dns search-domains leaves dhcp-option's: %s", o.domain);
	push_options_init(&o);
	CHECK(push_parse(&o,
			 "PUSH_REPLY,dhcp-option DOMAIN Corp_1.example,"
			 "dns search-domains a-b.example x_y.example \xc3\xa9.example",
			 err, sizeof(err)) == 0 &&
		      strcmp(o.domain, "a-b.example x_y.example \xc3\xa9.example") == 0 &&
		      o.warnings == 0,
	      "good ones (an IDN's bytes too, as OpenVPN): %s", o.domain);
	push_options_init(&o);
	CHECK(push_parse(&o, "PUSH_REPLY,dhcp-option DNS 10.8.0.1\n", err, sizeof(err)) < 0,
	      "a server address is inet_pton's or malformed");
}

/* Review M2: past PUSH_DNS_MAX servers the first ones are kept, the push goes on. */
static void test_many_servers(void)
{
	struct push_options o;
	char err[PUSH_ERR_MAX], buf[64];

	push_options_init(&o);
	CHECK(push_parse(&o,
			 "PUSH_REPLY,dns server 1 address 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4 "
			 "10.0.0.5,dns server 2 address 10.0.0.6 10.0.0.7 10.0.0.8 10.0.0.9,"
			 "dhcp-option DNS 10.9.0.1",
			 err, sizeof(err)) == 0,
	      "parse: %s", err);
	CHECK(o.n_dns == PUSH_DNS_MAX, "servers %zu", o.n_dns);
	CHECK(strcmp(ip_addr_format(&o.dns[7], buf, sizeof(buf)), "10.0.0.8") == 0, "last %s", buf);
	CHECK(o.warnings == 1 && strstr(o.warning, "10.0.0.9 and those after it ignored"),
	      "warned: %s", o.warning);
	push_options_init(&o);
	CHECK(push_parse(&o,
			 "PUSH_REPLY,dhcp-option DNS 10.0.0.1,dhcp-option DNS 10.0.0.2,"
			 "dhcp-option DNS 10.0.0.3,dhcp-option DNS 10.0.0.4,dhcp-option DNS "
			 "10.0.0.5,dhcp-option DNS 10.0.0.6,dhcp-option DNS 10.0.0.7,"
			 "dhcp-option DNS 10.0.0.8,dhcp-option DNS 10.0.0.9,dhcp-option DNS "
			 "10.0.0.10",
			 err, sizeof(err)) == 0 &&
		      o.n_dns == PUSH_DNS_MAX && o.warnings == 2,
	      "ten dhcp-option DNS: %s, %zu, %u", err, o.n_dns, o.warnings);
	push_options_init(&o);
	CHECK(push_parse(&o,
			 "PUSH_REPLY,dns server 1 address 10.0.0.1,dhcp-option DNS 10.0.0.1,"
			 "dhcp-option DNS 10.0.0.2,dhcp-option DNS 10.0.0.3,dhcp-option DNS "
			 "10.0.0.4,dhcp-option DNS 10.0.0.5,dhcp-option DNS 10.0.0.6,"
			 "dhcp-option DNS 10.0.0.7,dhcp-option DNS 10.0.0.8,dhcp-option DNS "
			 "10.0.0.9",
			 err, sizeof(err)) == 0 &&
		      o.n_dns == 1 && o.warnings == 0,
	      "dhcp-option DNS after `dns` won: ignored, no warning: %zu %u", o.n_dns, o.warnings);
	push_options_init(&o);
	CHECK(push_parse(&o, "PUSH_REPLY,dns search-domains a b c d e f g h i j k l m n o p q", err,
			 sizeof(err)) == 0,
	      "parse: %s", err);
	CHECK(strcmp(o.domain, "a b c d e f g h i j k l m n") == 0, "16 words: %s", o.domain);
	CHECK(o.warnings == 1 && strstr(o.warning, "more than 16 words: \"o\""), "warned: %s",
	      o.warning);
}

/* What a dns-option-v2 server may push (OpenVPN's options.c, check_dns_option): read or
 * ignored, never a failed push. Review L4: the client announces v2. */
static void test_dns_v2_syntax(void)
{
	struct push_options o;
	char err[PUSH_ERR_MAX];

	push_options_init(&o);
	CHECK(push_parse(
		      &o,
		      "PUSH_REPLY,dns server 0 address 10.8.0.1 [fd00::1]:853 10.8.0.2:5353,"
		      "dns server 0 resolve-domains corp.example ~.,dns server 0 dnssec optional,"
		      "dns server 0 transport DoT,dns server 0 sni dns.corp.example,"
		      "dns server 1 exclude-domains x.example,dns search-domains corp.example",
		      err, sizeof(err)) == 0,
	      "parse: %s", err);
	CHECK(o.n_dns == 3 && o.dns_port[1] == 853 && o.dns_port[2] == 5353, "servers %zu",
	      o.n_dns);
	CHECK(o.unknown == 5 && o.warnings == 0, "the rest ignored: %u %u", o.unknown, o.warnings);
	CHECK(strcmp(o.domain, "corp.example") == 0, "domains %s", o.domain);
}

int main(void)
{
	test_dns_v2_syntax();
	test_bad_domains();
	test_many_servers();
	test_dns_option();
	test_pull_filter();
	test_compress();
	test_observed();
	test_epoch_flag();
	test_routes_dns_continuation();
	test_bad();
	test_ifconfig_peer();
	test_redirect_words();
	test_netmask();
	return unit_report("test_pushopts");
}
