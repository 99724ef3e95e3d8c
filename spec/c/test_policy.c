// SPDX-License-Identifier: MIT
/*
 * The compiled policy: first match wins, each field narrows, groups, ports
 * and ICMP types only on packets that carry them, the default, counters,
 * and rules that refer past their prefixes are refused.
 */
#include <string.h>
#include <sys/socket.h>

#include "policy.h"
#include "unit.h"

static struct ip_prefix P(const char *text) {
	struct ip_prefix p;

	memset(&p, 0, sizeof(p));
	CHECK(ip_prefix_parse(&p, text), "prefix %s", text);
	return p;
}

static struct packet_flow
F(const char *src, const char *dst, int proto, int sport, int dport) {
	struct packet_flow f;

	memset(&f, 0, sizeof(f));
	CHECK(ip_addr_parse(&f.src, src) && ip_addr_parse(&f.dst, dst), "flow %s %s", src, dst);
	f.proto = (uint8_t)proto;
	f.icmp_type = -1;
	f.has_ports = sport >= 0;
	if (proto == PACKET_PROTO_ICMP || proto == PACKET_PROTO_ICMPV6)
		f.icmp_type = sport;
	else if (sport >= 0) {
		f.sport = (uint16_t)sport;
		f.dport = (uint16_t)dport;
	}
	return f;
}

#define ANY_PORTS 0, 65535, 0, 65535
enum { ADMINS = 1 << 1,
       GUESTS = 1 << 2 };

static const struct policy_rule rules[] = {
	/* 0 */ { POLICY_DROP, POLICY_IN | POLICY_OUT, 6, 0, 65535, 25, 25, -1, 0, 0, 0, 0, 0 },
	/* 1 */ { POLICY_REJECT, POLICY_IN, 17, 0, 65535, 5000, 5999, -1, 0, 0, 0, 0, 1 },
	/* 2 */ { POLICY_ACCEPT, POLICY_IN, 1, ANY_PORTS, 8, ADMINS, 0, 0, 0, 0 },
	/* 3 */ { POLICY_DROP, POLICY_IN, 1, ANY_PORTS, -1, 0, 0, 0, 0, 0 },
	/* 4 */ { POLICY_DROP, POLICY_OUT, 6, 0, 65535, 22, 22, -1, 0, 1, 2, 0, 0 },
	/* 5 */ { POLICY_REJECT, POLICY_IN, -1, ANY_PORTS, -1, GUESTS, 0, 0, 3, 1 },
};

static const char *const prefixes[] = {
	"10.99.0.0/16",
	"192.0.2.0/24",
	"198.51.100.0/24",
	"10.0.0.0/8",
};

static const struct {
	const char *src, *dst;
	int proto, sport, dport;
	enum policy_direction dir;
	uint64_t groups;
	enum policy_verdict verdict;
	int rule; /* -1: the default */
} cases[] = {
	/* 0 */ { "10.8.0.2", "192.0.2.1", 6, 40000, 25, POLICY_IN, 0, POLICY_DROP, 0 },
	/* 1 */ { "192.0.2.1", "10.8.0.2", 6, 40000, 25, POLICY_OUT, 0, POLICY_DROP, 0 },
	/* 2 */ { "10.8.0.2", "192.0.2.1", 6, 40000, 80, POLICY_IN, 0, POLICY_ACCEPT, -1 },
	/* 3 */ { "10.8.0.2", "10.99.3.4", 17, 1, 5000, POLICY_IN, 0, POLICY_REJECT, 1 },
	/* 4 */ { "10.8.0.2", "10.99.3.4", 17, 1, 5999, POLICY_IN, 0, POLICY_REJECT, 1 },
	/* 5 */ { "10.8.0.2", "10.99.3.4", 17, 1, 6000, POLICY_IN, 0, POLICY_ACCEPT, -1 },
	/* 6 */ { "10.8.0.2", "10.98.3.4", 17, 1, 5000, POLICY_IN, 0, POLICY_ACCEPT, -1 },
	/* 7 */ { "10.99.3.4", "10.8.0.2", 17, 1, 5000, POLICY_OUT, 0, POLICY_ACCEPT, -1 },
	/* 8 */ { "10.8.0.2", "10.8.0.1", 1, 8, 0, POLICY_IN, ADMINS, POLICY_ACCEPT, 2 },
	/* 9 */ { "10.8.0.2", "10.8.0.1", 1, 8, 0, POLICY_IN, 0, POLICY_DROP, 3 },
	/* 10 */ { "10.8.0.2", "10.8.0.1", 1, 0, 0, POLICY_IN, ADMINS, POLICY_DROP, 3 },
	/* 11 */ { "198.51.100.7", "10.8.0.2", 6, 5555, 22, POLICY_OUT, 0, POLICY_DROP, 4 },
	/* 12 */ { "203.0.113.7", "10.8.0.2", 6, 5555, 22, POLICY_OUT, 0, POLICY_ACCEPT, -1 },
	/* 13 */ { "10.8.0.2", "10.0.0.1", 6, 1, 2, POLICY_IN, GUESTS, POLICY_REJECT, 5 },
	/* 14 */ { "10.8.0.2", "10.0.0.1", 6, 1, 2, POLICY_IN, ADMINS, POLICY_ACCEPT, -1 },
	/* 15: a later fragment has no ports: the port rule passes it by */
	{ "10.8.0.2", "192.0.2.1", 6, -1, 0, POLICY_IN, 0, POLICY_ACCEPT, -1 },
	/* 16: ... but a rule without ports still applies */
	{ "10.8.0.2", "10.0.0.1", 6, -1, 0, POLICY_IN, GUESTS, POLICY_REJECT, 5 },
	/* 17 */ { "fd00::2", "2001:db8::1", 6, 1, 25, POLICY_IN, 0, POLICY_DROP, 0 },
	/* 18: ICMPv6 is not ICMP */
	{ "fd00::2", "fd00::1", 58, 128, 0, POLICY_IN, 0, POLICY_ACCEPT, -1 },
};

int main(void)
{
	struct ip_prefix pv[4];
	struct policy *p;
	uint64_t hits[6] = { 0 };

	for (size_t i = 0; i < 4; i++)
		pv[i] = P(prefixes[i]);
	p = policy_new(rules, 6, pv, 4, POLICY_ACCEPT);
	CHECK(p != NULL, "policy_new");
	if (!p)
		return unit_report("test_policy");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct packet_flow f = F(cases[i].src, cases[i].dst, cases[i].proto, cases[i].sport,
					 cases[i].dport);
		int32_t rule;
		enum policy_verdict v =
			policy_match(p, &f, cases[i].dir, cases[i].groups, 100, &rule);

		CHECK(v == cases[i].verdict && rule == cases[i].rule, "case %zu: %s, rule %d", i,
		      policy_verdict_name(v), rule);
		if (cases[i].rule >= 0)
			hits[cases[i].rule]++;
	}
	for (size_t i = 0; i < 6; i++)
		CHECK(policy_counter(p, i)->packets == hits[i] &&
			      policy_counter(p, i)->bytes == 100 * hits[i],
		      "rule %zu counted %llu", i,
		      (unsigned long long)policy_counter(p, i)->packets);
	CHECK(policy_get(p) == p, "get");
	policy_put(p);
	policy_put(p);
	CHECK(policy_new(rules, 6, pv, 3, POLICY_DROP) == NULL, "a rule past the prefixes");
	p = policy_new(NULL, 0, NULL, 0, POLICY_DROP);
	{
		struct packet_flow f = F("10.8.0.2", "10.8.0.1", 17, 1, 2);
		int32_t rule = 0;

		CHECK(p && policy_match(p, &f, POLICY_IN, 0, 1, &rule) == POLICY_DROP && rule == -1,
		      "no rules: the default");
	}
	policy_put(p);
	CHECK(strcmp(policy_verdict_name(POLICY_REJECT), "reject") == 0, "names");
	{
		enum policy_verdict v = POLICY_ACCEPT;

		CHECK(policy_verdict_parse("drop", &v) && v == POLICY_DROP, "parse drop");
		CHECK(!policy_verdict_parse("allow", &v) && !policy_verdict_parse(NULL, &v) &&
			      v == POLICY_DROP,
		      "not a verdict: unchanged");
	}
	return unit_report("test_policy");
}
