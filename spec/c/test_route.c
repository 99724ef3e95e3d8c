// SPDX-License-Identifier: MIT
/*
 * Subnets behind clients: longest-prefix match, replacement by a newer
 * client, removal only by the owner, IPv4 and IPv6 apart, and the bound;
 * random adds and removals of prefixes of many lengths agree with a plain
 * list searched longest first; a table for 65,535 clients' subnets finds
 * each.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const struct siphash_key KEY = { 1, 2 };

/* The model: a plain list of prefixes, searched for the longest that holds an address. */
enum { MODEL_MAX = 600, MODEL_OPS = 100000 };
static struct {
	struct ip_prefix p;
	uint32_t id;
	bool used;
} model[MODEL_MAX];

static int32_t model_lookup(const struct ip_addr *a)
{
	int best = -1;

	for (int i = 0; i < MODEL_MAX; i++)
		if (model[i].used && ip_prefix_contains(&model[i].p, a) &&
		    (best < 0 || model[i].p.len > model[best].p.len))
			best = i;
	return best < 0 ? -1 : (int32_t)model[best].id;
}

/* Prefix number i of the model: 10.x.y.0 with a length of 8 to 32 (host bits cleared). */
static struct ip_prefix model_prefix(unsigned i)
{
	struct ip_prefix p = { .addr = { .family = AF_INET }, .len = (uint8_t)(8 + i % 25) };

	p.addr.bytes[0] = 10;
	p.addr.bytes[1] = (uint8_t)(i % 7);
	p.addr.bytes[2] = (uint8_t)(i % 13);
	p.addr.bytes[3] = (uint8_t)(i * 37);
	ip_prefix_mask(&p);
	return p;
}

static void test_random(void)
{
	struct route_table t;
	unsigned seed = 99, wrong = 0;

	CHECK(route_table_init(&t, MODEL_MAX, &KEY) == 0, "init");
	for (int op = 0; op < MODEL_OPS; op++) {
		unsigned r = (unsigned)rand_r(&seed), i = r % MODEL_MAX;
		struct ip_prefix p = model_prefix(i);
		struct ip_addr a = { .family = AF_INET,
				     .bytes = { 10, (uint8_t)(r >> 8) % 7, (uint8_t)(r >> 12) % 13,
						(uint8_t)(r >> 20) } };
		uint32_t id = (r >> 10) % 50;

		/* Prefixes i and j may be equal: the model keeps the one entry, as the table. */
		for (unsigned j = 0; j < MODEL_MAX; j++)
			if (j != i && model[j].used && ip_prefix_equal(&model[j].p, &p))
				i = j;
		if ((r >> 28) % 2) {
			wrong += route_table_add(&t, &p, id) == ROUTE_FULL;
			model[i].p = p;
			model[i].id = id;
			model[i].used = true;
		} else if (model[i].used && route_table_del(&t, &p, model[i].id)) {
			model[i].used = false;
		}
		wrong += route_table_lookup(&t, &a) != model_lookup(&a);
	}
	CHECK(wrong == 0, "%u lookups disagree with the list", wrong);
	route_table_free(&t);
}

/* One /24 for each of 65,535 clients, each found; the table holds no more. */
static void test_large(void)
{
	struct route_table t;
	unsigned found = 0;

	CHECK(route_table_init(&t, 65535, &KEY) == 0, "init");
	for (unsigned i = 0; i < 65535; i++) {
		struct ip_prefix p = { .addr = { .family = AF_INET,
						 .bytes = { 10, (uint8_t)(i >> 8), (uint8_t)i } },
				       .len = 24 };

		if (route_table_add(&t, &p, i) != ROUTE_ADDED)
			break;
	}
	for (unsigned i = 0; i < 65535; i++) {
		struct ip_addr a = { .family = AF_INET,
				     .bytes = { 10, (uint8_t)(i >> 8), (uint8_t)i, 77 } };

		found += route_table_lookup(&t, &a) == (int32_t)i;
	}
	CHECK(found == 65535 && t.n == 65535, "found %u", found);
	CHECK(add(&t, "11.0.0.0/8", 1) == ROUTE_FULL, "full at its max");
	route_table_free(&t);
}

int main(void)
{
	struct route_table t;
	struct ip_prefix p;

	CHECK(route_table_init(&t, ROUTE_MAX, &KEY) == 0, "init");
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
	route_table_free(&t);
	CHECK(route_table_init(&t, ROUTE_MAX, &KEY) == 0, "init");
	for (unsigned i = 0; i < ROUTE_MAX; i++) {
		char text[32];

		snprintf(text, sizeof(text), "10.%u.%u.0/24", i / 256, i % 256);
		p = P(text);
		if (route_table_add(&t, &p, i) != ROUTE_ADDED)
			break;
	}
	CHECK(t.n == ROUTE_MAX && add(&t, "11.0.0.0/8", 1) == ROUTE_FULL, "bounded");
	CHECK(lookup(&t, "10.3.255.9") == 1023, "last entry");
	route_table_free(&t);
	test_random();
	test_large();
	return unit_report("test_route");
}
