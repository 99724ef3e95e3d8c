// SPDX-License-Identifier: MIT
/*
 * The server's peer-ids: ids are handed out once each before any comes
 * back, given-back ids return oldest first, a full pool says so, the live
 * ids stay dense and agree with a plain array through random takes and
 * puts, and putting an id that is not live changes nothing. Split over
 * workers: each worker's ids are its residue class, in the same order
 * within the class; a new peer goes to the least-loaded worker; every id
 * is reachable whatever the split; the 24-bit bound is enforced.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peerids.h"
#include "unit.h"

static void test_order(void)
{
	struct peer_ids p;

	CHECK(peer_ids_init(&p, 4) == 0, "init");
	for (int32_t i = 0; i < 4; i++)
		CHECK(peer_ids_take(&p) == i, "fresh id %d first", i);
	CHECK(peer_ids_take(&p) == -1, "a full pool");
	peer_ids_put(&p, 2);
	peer_ids_put(&p, 0);
	peer_ids_put(&p, 0); /* not live any more: ignored */
	peer_ids_put(&p, 9); /* beyond cap: ignored */
	CHECK(peer_ids_count(&p) == 2, "two live: %u", peer_ids_count(&p));
	CHECK(peer_ids_take(&p) == 2, "the oldest given back first");
	CHECK(peer_ids_take(&p) == 0, "then the next");
	CHECK(peer_ids_take(&p) == -1, "full again");
	peer_ids_free(&p);
}

enum { RANDOM_CAP = 1000, RANDOM_STEPS = 200000 };

/* Random takes and puts against a plain array of flags. */
static void test_random(void)
{
	static bool live[RANDOM_CAP];
	struct peer_ids p;
	uint32_t n = 0, r = 12345;
	int bad = 0;

	CHECK(peer_ids_init(&p, RANDOM_CAP) == 0, "init");
	for (int step = 0; step < RANDOM_STEPS; step++) {
		r = r * 1103515245 + 12345;
		if ((r >> 16) % 3) {
			int32_t id = peer_ids_take(&p);

			if (n == RANDOM_CAP) {
				bad += id != -1;
				continue;
			}
			bad += id < 0 || id >= RANDOM_CAP || live[id];
			if (id >= 0 && id < RANDOM_CAP) {
				live[id] = true;
				n++;
			}
		} else {
			uint32_t id = (r >> 8) % RANDOM_CAP;

			n -= live[id];
			live[id] = false;
			peer_ids_put(&p, id);
		}
		bad += peer_ids_count(&p) != n;
	}
	CHECK(bad == 0, "%d steps disagreed with the plain array", bad);
	for (uint32_t i = 0; i < peer_ids_count(&p); i++)
		bad += !live[peer_ids_at(&p, i)];
	for (uint32_t id = 0; id < RANDOM_CAP; id++)
		bad += peer_ids_is_live(&p, id) != live[id];
	CHECK(bad == 0, "the dense list and is_live agree: %d wrong", bad);
	peer_ids_free(&p);
}

/* The largest pool the configuration allows: allocated, and usable to its end. */
static void test_large(void)
{
	struct peer_ids p;
	uint32_t cap = 65535, n = 0;

	CHECK(peer_ids_init(&p, cap) == 0, "init %u", cap);
	while (peer_ids_take(&p) >= 0)
		n++;
	CHECK(n == cap, "%u of %u taken", n, cap);
	peer_ids_put(&p, cap - 1);
	CHECK(peer_ids_take(&p) == (int32_t)(cap - 1), "the one given back");
	peer_ids_free(&p);
}

/* Three workers over ten ids: classes of 4, 3 and 3, each in the one-worker order. */
static void test_classes(void)
{
	struct peer_ids p;

	CHECK(peer_ids_init_workers(&p, 10, 3) == 0, "init");
	CHECK(peer_ids_take_for(&p, 1) == 1, "worker 1's first id");
	CHECK(peer_ids_take_for(&p, 1) == 4, "then 4");
	CHECK(peer_ids_take_for(&p, 1) == 7, "then 7");
	CHECK(peer_ids_take_for(&p, 1) == -1, "worker 1 has three ids");
	CHECK(peer_ids_take_for(&p, 0) == 0, "worker 0's first id");
	CHECK(peer_ids_take_for(&p, 3) == -1, "no worker 3");
	peer_ids_put(&p, 7);
	peer_ids_put(&p, 1);
	CHECK(peer_ids_count_for(&p, 1) == 1, "one left live on worker 1");
	CHECK(peer_ids_take_for(&p, 1) == 7, "the oldest given back first");
	CHECK(peer_ids_take_for(&p, 1) == 1, "then the next");
	CHECK(peer_ids_take_for(&p, 2) == 2, "worker 2 untouched by worker 1's queue");
	CHECK(peer_ids_count(&p) == 5, "five live: %u", peer_ids_count(&p));
	peer_ids_free(&p);
}

/* take() fills the least-loaded worker, the lowest on a tie, and returns to one that lost a peer.
 */
static void test_least_loaded(void)
{
	struct peer_ids p;
	int bad = 0;

	CHECK(peer_ids_init_workers(&p, 8, 4) == 0, "init");
	for (int32_t i = 0; i < 8; i++)
		bad += peer_ids_take(&p) != i; /* 0,1,2,3 then 4,5,6,7: round the workers */
	CHECK(bad == 0, "round the workers in order: %d wrong", bad);
	CHECK(peer_ids_pick_worker(&p) == -1, "no worker has room");
	CHECK(peer_ids_take(&p) == -1, "full");
	peer_ids_put(&p, 6);
	peer_ids_put(&p, 1);
	CHECK(peer_ids_pick_worker(&p) == 1, "workers 1 and 2 lost one; the lower first");
	CHECK(peer_ids_take(&p) == 1, "worker 1's id back");
	CHECK(peer_ids_take(&p) == 6, "then worker 2's");
	peer_ids_free(&p);

	CHECK(peer_ids_init_workers(&p, 2, 4) == 0, "fewer ids than workers");
	CHECK(peer_ids_take(&p) == 0 && peer_ids_take(&p) == 1, "both ids");
	CHECK(peer_ids_take(&p) == -1 && peer_ids_take_for(&p, 3) == -1,
	      "then none, not even for 3");
	peer_ids_free(&p);
}

/* Out of the 24-bit space or with no workers: refused. */
static void test_bounds(void)
{
	struct peer_ids p;

	CHECK(peer_ids_init(&p, PEER_IDS_CAP_MAX + 1) == -EINVAL, "0xffffff would be an id");
	CHECK(peer_ids_init_workers(&p, 10, 0) == -EINVAL, "no workers");
	CHECK(peer_ids_init_workers(&p, 10, PEER_IDS_WORKERS_MAX + 1) == -EINVAL, "too many");
}

enum { SPREAD_WORKERS = 5 };

/* Random takes (for a random worker, or the least loaded) and puts against a plain array. */
static void test_random_workers(void)
{
	static bool live[RANDOM_CAP];
	uint32_t per[SPREAD_WORKERS] = { 0 };
	struct peer_ids p;
	uint32_t n = 0, r = 777;
	int bad = 0;

	CHECK(peer_ids_init_workers(&p, RANDOM_CAP, SPREAD_WORKERS) == 0, "init");
	for (int step = 0; step < RANDOM_STEPS; step++) {
		r = r * 1103515245 + 12345;
		if ((r >> 16) % 3) {
			uint32_t w = (r >> 8) % (SPREAD_WORKERS + 1); /* SPREAD_WORKERS: any */
			int32_t id =
				w < SPREAD_WORKERS ? peer_ids_take_for(&p, w) : peer_ids_take(&p);

			if (id < 0) {
				bad += w < SPREAD_WORKERS ? per[w] != RANDOM_CAP / SPREAD_WORKERS
							  : n != RANDOM_CAP;
				continue;
			}
			bad += id >= RANDOM_CAP || live[id] ||
			       (w < SPREAD_WORKERS && (uint32_t)id % SPREAD_WORKERS != w);
			live[id] = true;
			per[id % SPREAD_WORKERS]++;
			n++;
		} else {
			uint32_t id = (r >> 8) % RANDOM_CAP;

			n -= live[id];
			per[id % SPREAD_WORKERS] -= live[id];
			live[id] = false;
			peer_ids_put(&p, id);
		}
		for (uint32_t w = 0; w < SPREAD_WORKERS; w++)
			bad += peer_ids_count_for(&p, w) != per[w];
		bad += peer_ids_count(&p) != n;
	}
	CHECK(bad == 0, "%d steps disagreed with the plain array", bad);
	for (uint32_t id = 0; id < RANDOM_CAP; id++)
		bad += peer_ids_is_live(&p, id) != live[id];
	CHECK(bad == 0, "is_live agrees: %d wrong", bad);
	peer_ids_free(&p);
}

/* The largest pool the configuration allows, over 7 workers: every id reachable, evenly. */
static void test_large_workers(void)
{
	struct peer_ids p;
	uint32_t cap = 65535, n = 0;

	CHECK(peer_ids_init_workers(&p, cap, 7) == 0, "init %u", cap);
	while (peer_ids_take(&p) >= 0)
		n++;
	CHECK(n == cap, "%u of %u taken", n, cap);
	CHECK(peer_ids_count_for(&p, 0) == 9363 && peer_ids_count_for(&p, 6) == 9362,
	      "classes differ by one: %u %u", peer_ids_count_for(&p, 0), peer_ids_count_for(&p, 6));
	peer_ids_free(&p);
}

int main(void)
{
	test_order();
	test_random();
	test_large();
	test_classes();
	test_least_loaded();
	test_bounds();
	test_random_workers();
	test_large_workers();
	return unit_report("peerids");
}
