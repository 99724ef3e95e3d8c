// SPDX-License-Identifier: MIT
/*
 * Subnets behind clients: longest-prefix match, replacement by a newer
 * client, removal only by the owner, IPv4 and IPv6 apart, and the bound.
 */
#include <stdio.h>

#include "route.h"
#include "unit.h"

static struct ip_prefix P(const char *text) {
	struct ip_prefix p;

	if (!ip_prefix_parse(&p, text))
		fprintf(stderr, "bad prefix %s\n", text);
	return p;
}

static struct ip_addr
A(const char *text) {
	struct ip_addr a;

	if (!ip_addr_parse(&a, text))
		fprintf(stderr, "bad address %s\n", text);
	return a;
}

static enum route_add_result
add(struct route_table *t, const char *prefix, uint32_t id)
{
	struct ip_prefix p = P(prefix);

	return route_table_add(t, &p, id);
}

static int32_t lookup(const struct route_table *t, const char *addr)
{
	struct ip_addr a = A(addr);

	return route_table_lookup(t, &a);
}

static const struct {
	const char *addr;
	int32_t id;
} lookups[] = {
	/* 0 */ { "192.168.70.1", 1 },	 /* in 192.168.70.0/24 */
	/* 1 */ { "192.168.70.200", 3 }, /* the /25 inside it is longer */
	/* 2 */ { "192.168.71.1", 2 },	 /* only the /16 */
	/* 3 */ { "192.169.0.1", -1 },
	/* 4 */ { "10.1.2.3", 4 }, /* 10.0.0.0/8 */
	/* 5 */ { "fd00:70::1", 5 },
	/* 6 */ { "fd00:71::1", -1 },
	/* 7 */ { "0.0.0.0", -1 },
	/* 8 */ { "192.168.70.128", 3 }, /* the /25's first address */
	/* 9 */ { "192.168.70.127", 1 }, /* just below it */
};

int main(void)
{
	struct route_table t;
	struct ip_prefix p;

	route_table_init(&t);
	CHECK(add(&t, "192.168.70.0/24", 1) == ROUTE_ADDED, "add");
	CHECK(add(&t, "192.168.0.0/16", 2) == ROUTE_ADDED, "add");
	CHECK(add(&t, "192.168.70.130/25", 3) == ROUTE_ADDED, "host bits are cleared");
	CHECK(add(&t, "10.0.0.0/8", 4) == ROUTE_ADDED, "add");
	CHECK(add(&t, "fd00:70::/32", 5) == ROUTE_ADDED, "add");
	for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
		CHECK(lookup(&t, lookups[i].addr) == lookups[i].id, "lookup %zu (%s): %d", i,
		      lookups[i].addr, lookup(&t, lookups[i].addr));
	}
	p = P("192.168.70.0/24");
	CHECK(route_table_add(&t, &p, 9) == ROUTE_REPLACED, "a newer client takes the prefix");
	CHECK(!route_table_del(&t, &p, 1), "the old owner cannot remove it any more");
	CHECK(lookup(&t, "192.168.70.1") == 9, "new owner");
	CHECK(route_table_del(&t, &p, 9), "the owner removes it");
	CHECK(lookup(&t, "192.168.70.1") == 2, "the shorter prefix answers now");
	CHECK(!route_table_del(&t, &p, 9), "removed once");
	route_table_init(&t);
	for (unsigned i = 0; i < ROUTE_MAX; i++) {
		char text[32];

		snprintf(text, sizeof(text), "10.%u.%u.0/24", i / 256, i % 256);
		p = P(text);
		if (route_table_add(&t, &p, i) != ROUTE_ADDED)
			break;
	}
	CHECK(t.n == ROUTE_MAX && add(&t, "11.0.0.0/8", 1) == ROUTE_FULL, "bounded");
	CHECK(lookup(&t, "10.3.255.9") == 1023, "last entry");
	return unit_report("test_route");
}
