// SPDX-License-Identifier: MIT
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

int route_table_init(struct route_table *t, size_t max, const struct siphash_key *key)
{
	size_t cap = 2;

	memset(t, 0, sizeof(*t));
	while (cap / 2 < max)
		cap *= 2;
	/* calloc: the pages of a large table stay untouched until prefixes land there. */
	if (!(t->e = calloc(cap, sizeof(*t->e))))
		return -ENOMEM;
	t->cap = cap;
	t->max = max;
	t->key = *key;
	return 0;
}

void route_table_free(struct route_table *t)
{
	free(t->e);
	memset(t, 0, sizeof(*t));
}

static bool is_used(const struct route_entry *e)
{
	return e->prefix.addr.family != 0;
}

/* A prefix's hash: its family, its length and its network's bytes. */
static size_t home(const struct route_table *t, const struct ip_prefix *p)
{
	uint8_t k[2 + 16];
	size_t size = ip_addr_size(&p->addr);

	k[0] = p->addr.family == AF_INET6 ? 6 : 4;
	k[1] = p->len;
	memcpy(k + 2, p->addr.bytes, size);
	return (size_t)siphash(&t->key, k, 2 + size) & (t->cap - 1);
}

/* The slot holding p (a masked prefix), or the free slot that ends its probe sequence. */
static size_t find(const struct route_table *t, const struct ip_prefix *p)
{
	size_t i = home(t, p);

	while (is_used(&t->e[i]) && !ip_prefix_equal(&t->e[i].prefix, p))
		i = (i + 1) & (t->cap - 1);
	return i;
}

/* The count of prefixes of p's family and length. */
static uint32_t *length_count(struct route_table *t, const struct ip_prefix *p)
{
	return p->addr.family == AF_INET6 ? &t->lengths6[p->len] : &t->lengths4[p->len];
}

/* A prefix as the table keys it: a known family, a length that fits, host bits clear. */
static bool masked(const struct ip_prefix *in, struct ip_prefix *out)
{
	if ((in->addr.family != AF_INET && in->addr.family != AF_INET6) ||
	    in->len > ip_addr_size(&in->addr) * 8)
		return false;
	*out = *in;
	ip_prefix_mask(out);
	return true;
}

enum route_add_result route_table_add(struct route_table *t, const struct ip_prefix *prefix,
				      uint32_t id)
{
	struct ip_prefix p;
	size_t i;

	if (!masked(prefix, &p))
		return ROUTE_FULL; /* nothing the table can hold */
	i = find(t, &p);
	if (is_used(&t->e[i])) {
		t->e[i].id = id;
		return ROUTE_REPLACED;
	}
	if (t->n >= t->max)
		return ROUTE_FULL;
	t->e[i].prefix = p;
	t->e[i].id = id;
	(*length_count(t, &p))++;
	t->n++;
	return ROUTE_ADDED;
}

bool route_table_del(struct route_table *t, const struct ip_prefix *prefix, uint32_t id)
{
	struct ip_prefix p;
	size_t hole, j;

	if (!t->n || !masked(prefix, &p))
		return false;
	hole = find(t, &p);
	if (!is_used(&t->e[hole]) || t->e[hole].id != id)
		return false;
	(*length_count(t, &p))--;
	t->n--;
	/* Backward-shift deletion (Knuth 6.4, algorithm R): no tombstones pile up. */
	for (j = (hole + 1) & (t->cap - 1); is_used(&t->e[j]); j = (j + 1) & (t->cap - 1)) {
		if (ip_hash_slot_stays(hole, home(t, &t->e[j].prefix), j))
			continue;
		t->e[hole] = t->e[j];
		hole = j;
	}
	memset(&t->e[hole], 0, sizeof(t->e[hole]));
	return true;
}

int32_t route_table_owner(const struct route_table *t, const struct ip_prefix *prefix)
{
	struct ip_prefix p;
	size_t i;

	if (!t->n || !masked(prefix, &p))
		return -1;
	i = find(t, &p);
	return is_used(&t->e[i]) ? (int32_t)t->e[i].id : -1;
}

int32_t route_table_lookup(const struct route_table *t, const struct ip_addr *addr)
{
	const uint32_t *lengths = addr->family == AF_INET6 ? t->lengths6 : t->lengths4;
	struct ip_prefix p = { .addr = *addr };
	int bits = addr->family == AF_INET6 ? 128 : addr->family == AF_INET ? 32 : -1;

	for (int len = bits; t->n && len >= 0; len--) {
		size_t i;

		if (!lengths[len])
			continue;
		p.addr = *addr;
		p.len = (uint8_t)len;
		ip_prefix_mask(&p);
		i = find(t, &p);
		if (is_used(&t->e[i]))
			return (int32_t)t->e[i].id;
	}
	return -1;
}
