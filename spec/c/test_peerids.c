// SPDX-License-Identifier: MIT
/*
 * The server's peer-ids: ids are handed out once each before any comes
 * back, given-back ids return oldest first, a full pool says so, the live
 * ids stay dense and agree with a plain array through random takes and
 * puts, and putting an id that is not live changes nothing.
 */
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

int main(void)
{
	test_order();
	test_random();
	test_large();
	return unit_report("peerids");
}
