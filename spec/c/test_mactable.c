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

/*
 * The device side is an owner too: the device's own address is pinned (no
 * client takes it, ever, and one that had it loses it), the addresses seen
 * from the device are its own and not a client's, and they age like a
 * client's. A new device address unpins the old one.
 */
static void test_device(struct mac_table *t)
{
	CHECK(mac_table_learn(t, mac(100), 5, 0) == MAC_LEARNED, "a client has an address");
	mac_table_pin_device(t, mac(100), 1);
	CHECK(mac_table_lookup(t, mac(100), 2) == MAC_TABLE_DEVICE && t->count[5] == 0,
	      "the device's own address is the device's, whoever had it");
	CHECK(mac_table_learn(t, mac(100), 5, 3) == MAC_TAKEN &&
		      mac_table_learn(t, mac(100), 6, 100000) == MAC_TAKEN &&
		      mac_table_lookup(t, mac(100), 100000) == MAC_TABLE_DEVICE,
	      "pinned: no client takes it, even long after");
	CHECK(mac_table_learn(t, mac(101), MAC_TABLE_DEVICE, 10) == MAC_LEARNED &&
		      mac_table_learn(t, mac(101), 5, 11) == MAC_TAKEN &&
		      mac_table_lookup(t, mac(101), 12) == MAC_TABLE_DEVICE,
	      "a host behind the device is the device's: not for a client");
	CHECK(mac_table_learn(t, mac(101), 5, 311) == MAC_LEARNED,
	      "an address behind the device ages like any");
	for (unsigned i = 0; i < MAC_TABLE_DEVICE_MAX; i++)
		(void)mac_table_learn(t, mac(1000 + i), MAC_TABLE_DEVICE, 400);
	CHECK(mac_table_count(t, MAC_TABLE_DEVICE) == MAC_TABLE_DEVICE_MAX,
	      "the device has a larger share: %u", mac_table_count(t, MAC_TABLE_DEVICE));
	CHECK(mac_table_learn(t, mac(5000), MAC_TABLE_DEVICE, 100000) == MAC_LEARNED &&
		      mac_table_lookup(t, mac(100), 100001) == MAC_TABLE_DEVICE,
	      "making room ages out the oldest learned address, never the pinned one");
	mac_table_pin_device(t, mac(102), 100002);
	CHECK(mac_table_lookup(t, mac(102), 100003) == MAC_TABLE_DEVICE &&
		      mac_table_lookup(t, mac(100), 100003) == MAC_TABLE_DEVICE &&
		      mac_table_lookup(t, mac(100), 100303) == -1,
	      "a new own address: the old one ages from then on");
	mac_table_forget(t, MAC_TABLE_DEVICE);
	CHECK(mac_table_lookup(t, mac(102), 100004) == MAC_TABLE_DEVICE, "the device never leaves");
	mac_table_forget(t, 5);
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

/* A table for two clients (max_clients = 2): ids 0 and 1 and the device, nothing else. */
static void test_sized(void)
{
	struct mac_table t;

	CHECK(mac_table_init(&t, 2, 4, 300, &(struct siphash_key){ 3, 4 }) == 0, "init for 2");
	CHECK(mac_table_learn(&t, mac(1), 1, 0) == MAC_LEARNED && mac_table_count(&t, 1) == 1,
	      "the last client id learns");
	CHECK(mac_table_learn(&t, mac(2), 2, 0) == MAC_NOT_LEARNED && mac_table_count(&t, 2) == 0,
	      "an id at max_clients is no client");
	CHECK(mac_table_learn(&t, mac(3), MAC_TABLE_DEVICE, 0) == MAC_LEARNED &&
		      mac_table_count(&t, MAC_TABLE_DEVICE) == 1 && mac_table_count(&t, 1) == 1,
	      "the device's count is its own, after the clients'");
	CHECK(!mac_table_may_flood(&t, 2, 0) && mac_table_may_flood(&t, 1, 0),
	      "flood buckets for the clients only");
	mac_table_forget(&t, 1);
	CHECK(mac_table_count(&t, 1) == 0 && mac_table_lookup(&t, mac(3), 1) == MAC_TABLE_DEVICE,
	      "a client forgotten, the device's address stays");
	mac_table_free(&t);
}

/*
 * Room for 20,000 clients' shares would be 1.3 million addresses: the table
 * holds MAC_TABLE_ADDRS_MAX of them, refuses the next (counted), and takes
 * one again once an owner's go.
 */
static void test_bounded(void)
{
	struct mac_table t;
	unsigned learned = 0;

	CHECK(mac_table_init(&t, 20000, 64, 300, &(struct siphash_key){ 5, 6 }) == 0, "init");
	CHECK(t.max == MAC_TABLE_ADDRS_MAX && t.cap == 2 * MAC_TABLE_ADDRS_MAX, "max %zu, cap %zu",
	      t.max, t.cap);
	for (unsigned n = 0; n < MAC_TABLE_ADDRS_MAX; n++)
		learned += mac_table_learn(&t, mac(n), n / 64, 0) == MAC_LEARNED;
	CHECK(learned == MAC_TABLE_ADDRS_MAX, "learned %u", learned);
	CHECK(mac_table_learn(&t, mac(MAC_TABLE_ADDRS_MAX), 19999, 0) == MAC_NOT_LEARNED &&
		      t.refused == 1,
	      "full: refused and counted");
	mac_table_forget(&t, 0);
	CHECK(t.n == MAC_TABLE_ADDRS_MAX - 64 &&
		      mac_table_learn(&t, mac(MAC_TABLE_ADDRS_MAX), 19999, 1) == MAC_LEARNED,
	      "room again once a client's addresses went");
	mac_table_free(&t);
}

int main(void)
{
	static const uint8_t broadcast[MAC_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t multicast[MAC_LEN] = { 0x01, 0x00, 0x5e, 0, 0, 1 };
	struct mac_table t;
	unsigned learned = 0;

	CHECK(mac_table_init(&t, 1024, 4, 300, &(struct siphash_key){ 1, 2 }) == 0, "init");
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
	test_device(&t);
	mac_table_free(&t);
	test_sized();
	test_bounded();
	return unit_report("test_mactable");
}
