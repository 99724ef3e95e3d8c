// SPDX-License-Identifier: MIT
/*
 * The index of half-open handshakes (halfopen.h) against a plain array and
 * the fair rule written out as a walk over every session (what the server
 * did per handshake before): through random adds, waits, removals, packets
 * heard and stalls, from a few sources in a few networks (IPv4 and IPv6),
 * the counts by set, source and network and the victim of each set agree.
 */
#include <stdlib.h>
#include <string.h>

#include "halfopen.h"
#include "unit.h"

enum { IDS = 300, SOURCES = 24, ROUNDS = 20000 };

struct ref {
	bool listed, evictable, stalled;
	double heard;
	uint64_t seq;
	int src;
	bool waiting; /* halfopen_wait: out of the set of all, stalls as any other */
};

static struct ref ref[IDS];
static struct source srcs[SOURCES];
static uint64_t ref_seq;

/* Sources in 4 IPv4 /24s and 2 IPv6 /48s, several sources each. */
static void make_sources(void)
{
	for (int i = 0; i < SOURCES; i++) {
		memset(&srcs[i], 0, sizeof(srcs[i]));
		if (i % 4 == 3) {
			srcs[i].len = 8;
			srcs[i].bytes[0] = 0x20;
			srcs[i].bytes[5] = (uint8_t)(i % 2);
			srcs[i].bytes[7] = (uint8_t)i;
		} else {
			srcs[i].len = 4;
			srcs[i].bytes[0] = 10;
			srcs[i].bytes[2] = (uint8_t)(i % 4);
			srcs[i].bytes[3] = (uint8_t)i;
		}
	}
}

static bool ref_in(int id, int set)
{
	return ref[id].listed && ref[id].evictable &&
	       (set == HALFOPEN_ALL ? !ref[id].waiting : ref[id].stalled);
}

static uint32_t ref_count(int set, int src, bool net)
{
	uint32_t n = 0;

	for (int i = 0; i < IDS; i++)
		n += ref_in(i, set) &&
		     (src < 0 ||
		      (net ? source_same_net(&srcs[ref[i].src], &srcs[src]) : ref[i].src == src));
	return n;
}

/* The walk the server did: the most (network, source) sessions, then the oldest. */
static uint32_t ref_victim(int set, uint32_t *net_n)
{
	int best = -1;
	uint32_t best_net = 0, best_src = 0;

	for (int i = 0; i < IDS; i++) {
		uint32_t nn, ns;

		if (!ref_in(i, set))
			continue;
		nn = ref_count(set, ref[i].src, true);
		ns = ref_count(set, ref[i].src, false);
		if (best >= 0 && (nn < best_net || (nn == best_net && ns < best_src) ||
				  (nn == best_net && ns == best_src && ref[i].seq > ref[best].seq)))
			continue;
		best = i;
		best_net = nn;
		best_src = ns;
	}
	*net_n = best_net;
	return best < 0 ? HALFOPEN_NONE : (uint32_t)best;
}

static void agree(const struct halfopen *h, int round)
{
	for (int set = 0; set < HALFOPEN_SETS; set++) {
		uint32_t want_net = 0, got_net = 0;
		uint32_t want = ref_victim(set, &want_net), got = halfopen_victim(h, set, &got_net);

		CHECK_STEP(halfopen_count(h, set) == ref_count(set, -1, false),
			   "round %d set %d: %u sessions, %u wanted", round, set,
			   halfopen_count(h, set), ref_count(set, -1, false));
		CHECK_STEP(got == want && (want == HALFOPEN_NONE || got_net == want_net),
			   "round %d set %d: victim %u of %u, wanted %u of %u", round, set, got,
			   got_net, want, want_net);
	}
	for (int i = 0; i < SOURCES; i++) {
		uint32_t first, listed = 0;

		for (int id = 0; id < IDS; id++)
			listed += ref[id].listed && ref[id].src == i;
		CHECK_STEP(halfopen_source(h, &srcs[i], &first) == listed, "round %d source %d",
			   round, i);
		CHECK_STEP(halfopen_net_count(h, HALFOPEN_ALL, &srcs[i]) ==
				   ref_count(HALFOPEN_ALL, i, true),
			   "round %d network of %d", round, i);
	}
}

static void test_random(void)
{
	struct halfopen h;
	double now = 0;
	int bad = unit_counts.failed;

	srand(15);
	make_sources();
	CHECK(halfopen_init(&h, IDS) == 0, "init");
	for (int round = 0; round < ROUNDS && unit_counts.failed == bad; round++) {
		int id = rand() % IDS, op = rand() % 10;

		now += 0.01 * (rand() % 10);
		if (op < 4 && !ref[id].listed) {
			ref[id] = (struct ref){ true, true, false, now, ref_seq++, rand() % SOURCES,
						false };
			CHECK_STEP(halfopen_add(&h, (uint32_t)id, &srcs[ref[id].src], now), "add");
		} else if (op < 6) {
			ref[id].listed = false;
			halfopen_remove(&h, (uint32_t)id);
		} else if (op < 7) {
			if (ref[id].listed && ref[id].evictable)
				ref[id].waiting = true;
			halfopen_wait(&h, (uint32_t)id);
		} else if (op < 9) {
			if (ref[id].listed && ref[id].evictable) {
				ref[id].heard = now;
				ref[id].stalled = false;
			}
			halfopen_heard(&h, (uint32_t)id, now);
		} else {
			for (int i = 0; i < IDS; i++)
				if (ref[i].listed && ref[i].evictable && now - ref[i].heard >= 2)
					ref[i].stalled = true;
			halfopen_stall(&h, now, 2);
		}
		agree(&h, round);
	}
	CHECK(unit_counts.failed == bad,
	      "%d rounds of adds, removes, waits, heard and stalls agree with the reference",
	      ROUNDS);
	halfopen_free(&h);
}

int main(void)
{
	test_random();
	return unit_report("test_halfopen");
}
