// SPDX-License-Identifier: MIT
/*
 * What the packet policy costs per packet, for make bench: filter_pass on
 * one established flow (its verdict cached) with 1,000 rules and on.flow,
 * against the filter off, and a new flow each packet (the rules walked).
 * Prints nanoseconds per packet; never passes or fails on speed.
 *
 *   filterbench [PACKETS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filter.h"

static uint8_t pkt[1400];

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A 1400-byte UDP packet 10.79.0.2:sport -> 10.79.0.1:5201. */
static void udp(unsigned sport)
{
	static const uint8_t hdr[28] = { 0x45, 0, 0x05, 0x78, 0, 0, 0,	0,  64, 17,
					 0,    0, 10,	79,   0, 2, 10, 79, 0,	1 };

	memcpy(pkt, hdr, sizeof(hdr));
	pkt[20] = (uint8_t)(sport >> 8);
	pkt[21] = (uint8_t)sport;
	pkt[22] = 5201 >> 8;
	pkt[23] = 5201 & 0xff;
}

static double run(struct filter *f, long n, bool new_flows)
{
	struct filter_answer answer;
	double t0 = now_ns();
	long passed = 0;

	for (long i = 0; i < n; i++) {
		/* New flows come at the client's share of on.flow, one question each. */
		double now = new_flows ? 1.0 + (double)i / FILTER_CLIENT_ASKS_PER_SECOND : 1.0;
		struct filter_question q;

		if (new_flows)
			udp(1024 + (unsigned)(i % 60000));
		enum filter_result r = filter_pass(f, 0, pkt, sizeof(pkt), POLICY_IN, now, &answer);

		if (r == FILTER_ASK && filter_next_question(f, &q)) {
			filter_decided(f, &q.key, true, POLICY_ACCEPT, 0, now);
			r = FILTER_PASS;
		}
		passed += r == FILTER_PASS;
	}
	if (passed != n)
		fprintf(stderr, "filterbench: %ld of %ld passed\n", passed, n);
	return (now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 5000000;
	struct filter_settings set = { 65536, 300, 1024, POLICY_DROP };
	struct policy_rule rules[1000];
	struct filter f;
	struct policy *p;
	double off, cached, fresh;

	for (int i = 0; i < 1000; i++) /* none matches the benchmark's flow */
		rules[i] = (struct policy_rule){ POLICY_DROP,
						 POLICY_IN | POLICY_OUT,
						 6,
						 0,
						 65535,
						 (uint16_t)(40001 + i),
						 (uint16_t)(40001 + i),
						 -1,
						 0,
						 0,
						 0,
						 0,
						 0 };
	p = policy_new(rules, 1000, NULL, 0, POLICY_ACCEPT);
	if (!p || filter_init(&f, &set, 1024, &(struct siphash_key){ 1, 3 }) < 0)
		return 1;
	udp(40000);
	off = run(&f, n, false);
	filter_set_policy(&f, p, true);
	cached = run(&f, n, false);
	fresh = run(&f, n / 50, true);
	printf("policy cost per packet: off %.1f ns, 1,000 rules + on.flow on a known flow %.1f "
	       "ns, "
	       "on a new flow (rules walked, on.flow asked) %.0f ns\n",
	       off, cached, fresh);
	policy_put(p);
	filter_free(&f);
	return 0;
}
