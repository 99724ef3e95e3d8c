// SPDX-License-Identifier: MIT
/*
 * The TAP switch's address table: learning, an address moving to another
 * client, ageing, the per-client share, group addresses never learned, and
 * a client's addresses going with it.
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

int main(void)
{
	static const uint8_t broadcast[MAC_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t multicast[MAC_LEN] = { 0x01, 0x00, 0x5e, 0, 0, 1 };
	struct mac_table t;
	unsigned learned = 0;

	CHECK(mac_table_init(&t, 4, 300, 1) == 0, "init");
	CHECK(mac_table_lookup(&t, mac(1), 0) == -1, "unknown");
	CHECK(mac_table_learn(&t, mac(1), 7, 0) && mac_table_lookup(&t, mac(1), 1) == 7, "learned");
	CHECK(!mac_table_learn(&t, broadcast, 7, 0) && !mac_table_learn(&t, multicast, 7, 0),
	      "group addresses are never learned");
	CHECK(mac_table_learn(&t, mac(1), 8, 2) && mac_table_lookup(&t, mac(1), 3) == 8 &&
		      t.count[7] == 0 && t.count[8] == 1,
	      "an address that moves follows its client");
	CHECK(mac_table_lookup(&t, mac(1), 302) == -1, "aged out");
	for (unsigned i = 10; i < 20; i++)
		learned += mac_table_learn(&t, mac(i), 9, 10);
	CHECK(learned == 4 && t.count[9] == 4 && t.refused == 6, "a client's share: %u", learned);
	CHECK(mac_table_learn(&t, mac(30), 9, 400) && t.count[9] == 4,
	      "an aged address of its own makes room");
	mac_table_forget(&t, 9);
	CHECK(t.count[9] == 0 && mac_table_lookup(&t, mac(30), 401) == -1, "forgotten with it");
	CHECK(mac_table_lookup(&t, mac(1), 3) == 8, "others stay");
	mac_table_free(&t);
	return unit_report("test_mactable");
}
