// SPDX-License-Identifier: MIT
/*
 * The flow table: distinct keys, idle expiry and verdict lifetimes, the
 * generation flush, bounded size with eviction of stale then least
 * recently used flows, pending flows never evicted, removal that keeps
 * every other flow findable, and resizing that keeps them (pending ones always);
 * a peer's entries chained, so that removing them visits only them.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "flow.h"
#include "unit.h"

static struct flow_key key(uint32_t peer, uint16_t sport, enum policy_direction dir)
{
	struct packet_flow f;
	struct flow_key k;

	memset(&f, 0, sizeof(f));
	f.src.family = f.dst.family = AF_INET;
	f.src.bytes[0] = 10;
	f.src.bytes[3] = 2;
	f.dst.bytes[0] = 192;
	f.proto = 6;
	f.sport = sport;
	f.dport = 80;
	f.icmp_type = -1;
	flow_key_of(&k, &f, peer, dir);
	return k;
}

static void test_basics(void)
{
	struct flow_table t;
	struct flow_key a = key(1, 1000, POLICY_IN), b = key(1, 1000, POLICY_OUT),
			c = key(2, 1000, POLICY_IN);
	struct flow_entry *e;

	CHECK(flow_table_init(&t, 100, 60, &(struct siphash_key){ 42, 1 }) == 0 && t.cap >= 128,
	      "init: cap %zu", t.cap);
	CHECK(!flow_table_lookup(&t, &a, 0), "empty");
	e = flow_table_insert(&t, &a, 0);
	CHECK(e && e->state == FLOW_DECIDED, "insert");
	e->verdict = POLICY_DROP;
	CHECK(flow_table_insert(&t, &b, 0) && flow_table_insert(&t, &c, 0) && t.n == 3,
	      "direction and peer make distinct flows");
	e = flow_table_lookup(&t, &a, 10);
	CHECK(e && e->verdict == POLICY_DROP, "found");
	e->last_seen = 10;
	CHECK(flow_table_lookup(&t, &a, 69) && !flow_table_lookup(&t, &a, 71),
	      "idle for the timeout: gone");
	CHECK(flow_table_insert(&t, &a, 71) && t.n == 3, "a stale entry's slot is reused");
	e = flow_table_lookup(&t, &b, 5);
	e->expires = 8;
	CHECK(flow_table_lookup(&t, &b, 7) && !flow_table_lookup(&t, &b, 8),
	      "a verdict's lifetime");
	flow_table_flush(&t);
	CHECK(!flow_table_lookup(&t, &c, 1), "a flush outdates everything");
	e = flow_table_insert(&t, &c, 1);
	e->state = FLOW_PENDING;
	flow_table_flush(&t);
	CHECK(flow_table_lookup(&t, &c, 1000) == e, "pending flows outlive flushes and idleness");
	flow_table_free(&t);
}

static void test_bounded(void)
{
	struct flow_table t;
	size_t i, found = 0;

	CHECK(flow_table_init(&t, 1000, 60, &(struct siphash_key){ 7, 1 }) == 0, "init");
	for (i = 0; i < 100000; i++) {
		struct flow_key k = key(1, (uint16_t)i, POLICY_IN);

		if (!flow_table_insert(&t, &k, (double)i / 1000))
			break;
	}
	CHECK(i == 100000, "100000 new flows all get a slot (%zu)", i);
	CHECK(t.n <= t.cap / 4 * 3, "never more than three quarters full: %zu of %zu", t.n, t.cap);
	CHECK(t.stats.evicted + t.stats.expired >= 100000 - t.cap, "evicted %llu expired %llu",
	      (unsigned long long)t.stats.evicted, (unsigned long long)t.stats.expired);
	for (i = 100000 - 200; i < 100000; i++) {
		struct flow_key k = key(1, (uint16_t)i, POLICY_IN);

		found += flow_table_lookup(&t, &k, 100) != NULL;
	}
	CHECK(found == 200, "the newest flows are there: %zu", found);
	flow_table_free(&t);
}

static void test_pending_is_kept(void)
{
	struct flow_table t;
	size_t i, pending = 0;

	CHECK(flow_table_init(&t, 48, 60, &(struct siphash_key){ 9, 1 }) == 0, "init");
	for (i = 0; i < 1000; i++) {
		struct flow_key k = key(3, (uint16_t)i, POLICY_IN);
		struct flow_entry *e = flow_table_insert(&t, &k, 0);

		if (!e)
			break;
		e->state = FLOW_PENDING;
		pending++;
	}
	CHECK(pending == t.cap / 4 * 3 && t.stats.full == 1, "full of pending flows: %zu", pending);
	flow_table_free(&t);
}

static void test_removal(void)
{
	struct flow_table t;
	size_t ok = 0;

	CHECK(flow_table_init(&t, 3000, 60, &(struct siphash_key){ 11, 1 }) == 0, "init");
	for (uint16_t i = 0; i < 3000; i++) {
		struct flow_key k = key(4, i, POLICY_OUT);

		flow_table_insert(&t, &k, 0)->verdict = (enum policy_verdict)(i % 3);
	}
	for (uint16_t i = 0; i < 3000; i += 2) {
		struct flow_key k = key(4, i, POLICY_OUT);

		flow_table_remove(&t, flow_table_lookup(&t, &k, 0));
	}
	for (uint16_t i = 1; i < 3000; i += 2) {
		struct flow_key k = key(4, i, POLICY_OUT);
		struct flow_entry *e = flow_table_lookup(&t, &k, 0);

		ok += e && e->verdict == (enum policy_verdict)(i % 3);
	}
	CHECK(ok == 1500 && t.n == 1500, "the others stay findable: %zu", ok);
	flow_table_free(&t);
}

/* A reload's policy.flows: flows move over, pending ones first and always. */
static void test_resize(void)
{
	struct flow_table t;
	size_t found = 0, pending = 0;

	CHECK(flow_table_init(&t, 1000, 60, &(struct siphash_key){ 13, 1 }) == 0, "init");
	for (uint16_t i = 0; i < 600; i++) {
		struct flow_key k = key(5, i, POLICY_IN);
		struct flow_entry *e = flow_table_insert(&t, &k, 0);

		e->verdict = (enum policy_verdict)(i % 3);
		if (i % 60 == 0)
			e->state = FLOW_PENDING;
	}
	CHECK(flow_table_resize(&t, 4000, 1) == 0 && t.cap / 4 * 3 >= 4000, "grown: cap %zu",
	      t.cap);
	for (uint16_t i = 0; i < 600; i++) {
		struct flow_key k = key(5, i, POLICY_IN);
		struct flow_entry *e = flow_table_lookup(&t, &k, 1);

		found += e && e->verdict == (enum policy_verdict)(i % 3);
	}
	CHECK(found == 600 && t.n == 600, "every flow moved to the larger table: %zu", found);
	CHECK(flow_table_resize(&t, 48, 1) == 0 && t.cap == 64 && t.n == 48,
	      "shrunk: cap %zu, %zu flows", t.cap, t.n);
	for (uint16_t i = 0; i < 600; i += 60) {
		struct flow_key k = key(5, i, POLICY_IN);
		const struct flow_entry *e = flow_table_lookup(&t, &k, 1);

		pending += e && e->state == FLOW_PENDING;
	}
	CHECK(pending == 10 && t.stats.evicted == 600 - 48, "pending flows stay: %zu; evicted %llu",
	      pending, (unsigned long long)t.stats.evicted);
	flow_table_free(&t);

	CHECK(flow_table_init(&t, 1000, 60, &(struct siphash_key){ 13, 1 }) == 0, "init");
	for (uint16_t i = 0; i < 100; i++) {
		struct flow_key k = key(6, i, POLICY_IN);

		flow_table_insert(&t, &k, 0)->state = FLOW_PENDING;
	}
	CHECK(flow_table_resize(&t, 48, 1) == -ENOSPC && t.n == 100 && t.cap / 4 * 3 >= 1000,
	      "more pending flows than the new size holds: refused, the table as it was");
	flow_table_free(&t);
}

/* Every chained entry's peer chain, walked, holds exactly the live slots of that peer. */
static bool chains_hold(const struct flow_table *t)
{
	size_t chained = 0, used = 0;

	for (uint32_t p = 0; p < t->n_peers; p++) {
		uint32_t prev = FLOW_NO_SLOT;

		for (uint32_t i = t->peer_first[p]; i != FLOW_NO_SLOT; i = t->e[i].peer_next) {
			if (t->e[i].state == FLOW_EMPTY || t->e[i].key.peer_id != p ||
			    t->e[i].peer_prev != prev || ++chained > t->cap)
				return false;
			prev = i;
		}
	}
	for (size_t i = 0; i < t->cap; i++)
		used += t->e[i].state != FLOW_EMPTY && t->e[i].key.peer_id < t->n_peers;
	return chained == used;
}

/* Fills t with `others` flows of peers 1..99 and 20 of peer 0 (5 pending); removes peer 0's. */
static uint64_t visits_to_remove_peer0(size_t max_flows, size_t others)
{
	struct flow_table t;
	uint64_t visits;
	size_t pending, left = 0;

	CHECK(flow_table_init(&t, max_flows, 60, &(struct siphash_key){ 17, 1 }) == 0 &&
		      flow_table_chain_peers(&t, 100) == 0,
	      "init for %zu", max_flows);
	for (size_t i = 0; i < others; i++) {
		struct flow_key k = key(1 + (uint32_t)(i % 99), (uint16_t)(i / 99), POLICY_IN);

		flow_table_insert(&t, &k, 0);
	}
	for (uint16_t i = 0; i < 20; i++) {
		struct flow_key k = key(0, i, i % 2 ? POLICY_IN : POLICY_OUT);

		flow_table_insert(&t, &k, 0)->state = i < 5 ? FLOW_PENDING : FLOW_DECIDED;
	}
	CHECK(chains_hold(&t), "chains after %zu insertions", others + 20);
	visits = t.stats.peer_visits;
	pending = flow_table_remove_peer(&t, 0);
	visits = t.stats.peer_visits - visits;
	CHECK(pending == 5 && t.n == others, "peer 0's 20 gone, 5 of them pending: %zu, %zu left",
	      pending, t.n);
	for (size_t i = 0; i < others; i++) {
		struct flow_key k = key(1 + (uint32_t)(i % 99), (uint16_t)(i / 99), POLICY_IN);

		left += flow_table_lookup(&t, &k, 1) != NULL;
	}
	CHECK(left == others && chains_hold(&t), "the others stay findable and chained: %zu", left);
	flow_table_free(&t);
	return visits;
}

/*
 * A client leaving removes its flows: that walked every slot of the table
 * (O(flows) per disconnect). Chained, it visits the client's 20 entries
 * whether the table holds 100 flows or 100,000.
 */
static void test_remove_peer_visits_its_own(void)
{
	uint64_t small = visits_to_remove_peer0(200, 100);
	uint64_t large = visits_to_remove_peer0(150000, 100000);
	struct flow_table t;

	CHECK(small == 20 && large == 20,
	      "entries visited: %llu with 100 others, %llu with 100,000", (unsigned long long)small,
	      (unsigned long long)large);

	/* Chains follow entries as removals shift them, stale slots are reused and the table
	 * resizes. */
	CHECK(flow_table_init(&t, 500, 60, &(struct siphash_key){ 19, 1 }) == 0 &&
		      flow_table_chain_peers(&t, 8) == 0,
	      "init");
	for (uint16_t i = 0; i < 3000; i++) {
		struct flow_key k =
			key(i % 9, (uint16_t)(i % 700), POLICY_IN); /* peer 8: unchained */

		flow_table_insert(&t, &k, i / 10.0);
		if (i % 7 == 0) {
			struct flow_key gone =
				key((i / 7) % 9, (uint16_t)((i / 3) % 700), POLICY_IN);
			struct flow_entry *e = flow_table_lookup(&t, &gone, i / 10.0);

			if (e)
				flow_table_remove(&t, e);
		}
		if (i == 1500)
			CHECK(flow_table_resize(&t, 300, i / 10.0) == 0, "shrunk");
	}
	CHECK(chains_hold(&t), "chains hold after churn and a resize");
	flow_table_remove_peer(&t, 3);
	flow_table_remove_peer(&t, 8); /* beyond the chained peers: the whole table, still right */
	for (size_t i = 0; i < t.cap; i++)
		CHECK(t.e[i].state == FLOW_EMPTY ||
			      (t.e[i].key.peer_id != 3 && t.e[i].key.peer_id != 8),
		      "slot %zu: peer %u left", i, t.e[i].key.peer_id);
	CHECK(chains_hold(&t), "chains hold after removing peers");
	flow_table_free(&t);
}

int main(void)
{
	test_basics();
	test_bounded();
	test_pending_is_kept();
	test_removal();
	test_resize();
	test_remove_peer_visits_its_own();
	return unit_report("test_flow");
}
