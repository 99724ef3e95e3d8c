// SPDX-License-Identifier: MIT
#include <string.h>

#include "route.h"

void route_table_init(struct route_table *t)
{
	t->n = 0;
}

static size_t find(const struct route_table *t, const struct ip_prefix *p)
{
	size_t i = 0;

	while (i < t->n && !ip_prefix_equal(&t->e[i].prefix, p))
		i++;
	return i;
}

enum route_add_result route_table_add(struct route_table *t, const struct ip_prefix *prefix,
				      uint32_t id)
{
	struct ip_prefix p = *prefix;
	size_t i;

	ip_prefix_mask(&p);
	i = find(t, &p);
	if (i < t->n) {
		t->e[i].id = id;
		return ROUTE_REPLACED;
	}
	if (t->n == ROUTE_MAX)
		return ROUTE_FULL;
	/* After every longer or equally long prefix: lookups take the first match. */
	for (i = 0; i < t->n && t->e[i].prefix.len >= p.len; i++)
		;
	memmove(&t->e[i + 1], &t->e[i], (t->n - i) * sizeof(t->e[0]));
	t->e[i].prefix = p;
	t->e[i].id = id;
	t->n++;
	return ROUTE_ADDED;
}

bool route_table_del(struct route_table *t, const struct ip_prefix *prefix, uint32_t id)
{
	struct ip_prefix p = *prefix;
	size_t i;

	ip_prefix_mask(&p);
	i = find(t, &p);
	if (i == t->n || t->e[i].id != id)
		return false;
	memmove(&t->e[i], &t->e[i + 1], (t->n - i - 1) * sizeof(t->e[0]));
	t->n--;
	return true;
}

int32_t route_table_owner(const struct route_table *t, const struct ip_prefix *prefix)
{
	struct ip_prefix p = *prefix;
	size_t i;

	ip_prefix_mask(&p);
	i = find(t, &p);
	return i < t->n ? (int32_t)t->e[i].id : -1;
}

int32_t route_table_lookup(const struct route_table *t, const struct ip_addr *addr)
{
	for (size_t i = 0; i < t->n; i++)
		if (ip_prefix_contains(&t->e[i].prefix, addr))
			return (int32_t)t->e[i].id;
	return -1;
}
