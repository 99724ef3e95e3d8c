// SPDX-License-Identifier: MIT
/*
 * The packet filter: off without rules, verdicts cached per flow with the
 * rules' counters still counting packets, on.flow asked once per new flow
 * (pending flows drop their packets until the answer), the fallback when
 * the hook fails or too many flows wait, a client's flows gone with it.
 */
#include <string.h>
#include <sys/socket.h>

#include "filter.h"
#include "unit.h"

static uint8_t pkt[64];

/* A UDP packet 10.8.0.2:sport -> 192.0.2.1:dport. */
static size_t udp(unsigned sport, unsigned dport)
{
	static const uint8_t hdr[28] = { 0x45, 0, 0,  28, 0, 0, 0,   0, 64, 17,
					 0,    0, 10, 8,  0, 2, 192, 0, 2,  1 };

	memcpy(pkt, hdr, sizeof(hdr));
	pkt[20] = (uint8_t)(sport >> 8);
	pkt[21] = (uint8_t)sport;
	pkt[22] = (uint8_t)(dport >> 8);
	pkt[23] = (uint8_t)dport;
	return 28;
}

static enum filter_result pass(struct filter *f, uint32_t id, unsigned sport, unsigned dport,
			       double now)
{
	size_t answer;

	return filter_pass(f, id, pkt, udp(sport, dport), POLICY_IN, now, &answer);
}

static struct policy *drop_port(uint16_t port)
{
	struct policy_rule r = {
		POLICY_DROP, POLICY_IN, 17, 0, 65535, port, port, -1, 0, 0, 0, 0, 0
	};

	return policy_new(&r, 1, NULL, 0, POLICY_ACCEPT);
}

int main(void)
{
	struct filter_settings set = { 1000, 60, 2, POLICY_DROP };
	struct filter f;
	struct policy *p = drop_port(53);

	CHECK(filter_init(&f, &set, 1) == 0, "init");
	CHECK(pass(&f, 0, 1, 53, 0) == FILTER_PASS && f.flows.n == 0, "off: not even parsed");
	filter_set_policy(&f, p, false);
	for (int i = 0; i < 5; i++)
		CHECK(pass(&f, 0, 1000, 53, i) == FILTER_DROP, "dropped %d", i);
	CHECK(pass(&f, 0, 1000, 80, 0) == FILTER_PASS, "other ports pass");
	CHECK(f.flows.n == 2, "two flows cached: %zu", f.flows.n);
	CHECK(policy_counter(p, 0)->packets == 5, "the rule counts every packet of its flow: %llu",
	      (unsigned long long)policy_counter(p, 0)->packets);
	/* on.flow */
	filter_set_policy(&f, p, true);
	CHECK(pass(&f, 0, 2000, 80, 10) == FILTER_ASK && f.pending == 1,
	      "a new flow is asked about");
	CHECK(pass(&f, 0, 2000, 80, 10) == FILTER_PENDING, "its packets wait (dropped)");
	CHECK(pass(&f, 0, 2000, 53, 10) == FILTER_DROP, "a rule still decides without the hook");
	filter_decided(&f, &f.ask.key, true, POLICY_ACCEPT, 0, 11);
	CHECK(f.pending == 0 && pass(&f, 0, 2000, 80, 12) == FILTER_PASS,
	      "then its verdict applies");
	CHECK(f.stats.asked == 1, "asked once per flow");
	CHECK(pass(&f, 0, 2001, 80, 12) == FILTER_ASK, "ask");
	filter_decided(&f, &f.ask.key, false, POLICY_ACCEPT, 0, 12);
	CHECK(pass(&f, 0, 2001, 80, 13) == FILTER_DROP, "a failed hook: the fallback (drop)");
	CHECK(pass(&f, 0, 2002, 80, 12) == FILTER_ASK, "ask");
	filter_decided(&f, &f.ask.key, true, POLICY_REJECT, 5, 12);
	CHECK(pass(&f, 0, 2002, 80, 14) == FILTER_REJECT, "a verdict with a lifetime");
	CHECK(pass(&f, 0, 2002, 80, 18) == FILTER_ASK, "asked again once it ran out");
	CHECK(pass(&f, 0, 3000, 80, 18) == FILTER_ASK && f.pending == 2, "two wait");
	CHECK(pass(&f, 0, 3001, 80, 18) == FILTER_DROP && f.stats.overflow == 1,
	      "beyond pending_max: the fallback, counted");
	filter_set_client(&f, 0, NULL, 0);
	CHECK(f.pending == 0 && f.flows.n == 0, "the client's flows go with it: %zu", f.flows.n);
	filter_set_policy(&f, p, false);
	CHECK(pass(&f, 1, 1, 53, 20) == FILTER_DROP && pass(&f, 2, 1, 53, 20) == FILTER_DROP &&
		      f.flows.n == 2,
	      "flows are per client");
	filter_set_policy(&f, NULL, false);
	CHECK(pass(&f, 1, 1, 53, 21) == FILTER_PASS, "a new policy applies at once");
	policy_put(p);
	filter_free(&f);
	return unit_report("test_filter");
}
