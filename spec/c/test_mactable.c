// SPDX-License-Identifier: MIT
/*
 * The TAP switch's address table: learning, a live address kept by its
 * client (another client's frames from it refused and counted), an aged one
 * moving, ageing, the per-client share, group addresses never learned, a
 * client's addresses going with it, and the per-client bucket of flooded
 * frames.
 */
#include <string.h>

#include "mactable.h"
#include "unit.h"

static const uint8_t *mac(unsigned n)
{
	static uint8_t m[MAC_LEN];

	m[0] = 0x02; /* locally administered, unicast */
	m[1] = 0;
	m[2] = (uint8_t)(n >> 24);
	m[3] = (uint8_t)(n >> 16);
	m[4] = (uint8_t)(n >> 8);
	m[5] = (uint8_t)n;
	return m;
}

/* A client's flooded frames: a burst, then so many a second; one client's bucket is its own. */
static void test_flood(struct mac_table *t)
{
	unsigned passed = 0;

	for (unsigned i = 0; i < 2 * MAC_FLOOD_BURST; i++)
		passed += mac_table_may_flood(t, 3, 1000);
	CHECK(passed == MAC_FLOOD_BURST, "a burst: %u", passed);
	CHECK(mac_table_may_flood(t, 4, 1000), "another client floods from its own bucket");
	passed = 0;
	for (unsigned i = 0; i < 2 * MAC_FLOOD_FRAMES_PER_SECOND; i++)
		passed += mac_table_may_flood(t, 3, 1001);
	CHECK(passed == MAC_FLOOD_FRAMES_PER_SECOND, "then so many a second: %u", passed);
	mac_table_forget(t, 3);
	CHECK(mac_table_may_flood(t, 3, 1001), "a new client in the slot has a full bucket");
}

int main(void)
{
	static const uint8_t broadcast[MAC_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t multicast[MAC_LEN] = { 0x01, 0x00, 0x5e, 0, 0, 1 };
	struct mac_table t;
	unsigned learned = 0;

	CHECK(mac_table_init(&t, 4, 300, 1) == 0, "init");
	CHECK(mac_table_lookup(&t, mac(1), 0) == -1, "unknown");
	CHECK(mac_table_learn(&t, mac(1), 7, 0) == MAC_LEARNED &&
		      mac_table_lookup(&t, mac(1), 1) == 7,
	      "learned");
	CHECK(mac_table_learn(&t, broadcast, 7, 0) == MAC_NOT_LEARNED &&
		      mac_table_learn(&t, multicast, 7, 0) == MAC_NOT_LEARNED,
	      "group addresses are never learned");
	CHECK(mac_table_learn(&t, mac(1), 8, 2) == MAC_TAKEN &&
		      mac_table_lookup(&t, mac(1), 3) == 7 && t.count[8] == 0 && t.taken == 1,
	      "another client's live address is not taken: refused and counted");
	CHECK(mac_table_learn(&t, mac(1), 7, 250) == MAC_LEARNED &&
		      mac_table_learn(&t, mac(1), 8, 549) == MAC_TAKEN,
	      "its own frames keep it live");
	CHECK(mac_table_learn(&t, mac(1), 8, 550) == MAC_LEARNED &&
		      mac_table_lookup(&t, mac(1), 551) == 8 && t.count[7] == 0 && t.count[8] == 1,
	      "an aged address may move to another client");
	CHECK(mac_table_lookup(&t, mac(1), 851) == -1, "aged out");
	for (unsigned i = 10; i < 20; i++)
		learned += mac_table_learn(&t, mac(i), 9, 10) == MAC_LEARNED;
	CHECK(learned == 4 && t.count[9] == 4 && t.refused == 6, "a client's share: %u", learned);
	CHECK(mac_table_learn(&t, mac(30), 9, 400) == MAC_LEARNED && t.count[9] == 4,
	      "an aged address of its own makes room");
	mac_table_forget(&t, 9);
	CHECK(t.count[9] == 0 && mac_table_lookup(&t, mac(30), 401) == -1, "forgotten with it");
	CHECK(mac_table_lookup(&t, mac(1), 551) == 8, "others stay");
	test_flood(&t);
	mac_table_free(&t);
	return unit_report("test_mactable");
}
