// SPDX-License-Identifier: MIT
#include <string.h>
#include <sys/socket.h>

#include "addrindex.h"

/* Open addressing with linear probing; the table is never more than half full. */
static size_t index_home(const struct server_addr_index *ix, const struct ip_addr *a)
{
	return (size_t)(ip_hash_bytes(ix->seed ^ (uint64_t)a->family, a->bytes, ip_addr_size(a)) %
			SERVER_ADDR_SLOTS);
}

/* The slot holding a, or the empty slot that ends its probe sequence. */
static size_t index_find(const struct server_addr_index *ix, const struct ip_addr *a)
{
	size_t i = index_home(ix, a);

	while (ix->slots[i].used && !ip_addr_equal(&ix->slots[i].addr, a))
		i = (i + 1) % SERVER_ADDR_SLOTS;
	return i;
}

static bool is_ip(const struct ip_addr *a)
{
	return a->family == AF_INET || a->family == AF_INET6;
}

void server_addr_index_init(struct server_addr_index *ix, uint64_t seed)
{
	memset(ix, 0, sizeof(*ix));
	ix->seed = seed;
}

bool server_addr_index_put(struct server_addr_index *ix, const struct ip_addr *addr, uint32_t id)
{
	size_t i;

	if (!is_ip(addr))
		return false;
	i = index_find(ix, addr);
	if (!ix->slots[i].used) {
		if (ix->n >= SERVER_ADDR_SLOTS / 2)
			return false;
		ix->n++;
	}
	ix->slots[i].addr = *addr;
	ix->slots[i].id = id;
	ix->slots[i].used = true;
	return true;
}

int32_t server_addr_index_get(const struct server_addr_index *ix, const struct ip_addr *addr)
{
	size_t i;

	if (!is_ip(addr))
		return -1;
	i = index_find(ix, addr);
	return ix->slots[i].used ? (int32_t)ix->slots[i].id : -1;
}

void server_addr_index_del(struct server_addr_index *ix, const struct ip_addr *addr, uint32_t id)
{
	size_t hole, j;

	if (!is_ip(addr))
		return;
	hole = index_find(ix, addr);
	if (!ix->slots[hole].used || ix->slots[hole].id != id)
		return; /* gone, or given to a newer client since */
	/* Backward-shift deletion (Knuth 6.4, algorithm R): no tombstones pile up. */
	for (j = (hole + 1) % SERVER_ADDR_SLOTS; ix->slots[j].used;
	     j = (j + 1) % SERVER_ADDR_SLOTS) {
		if (ip_hash_slot_stays(hole, index_home(ix, &ix->slots[j].addr), j))
			continue;
		ix->slots[hole] = ix->slots[j];
		hole = j;
	}
	ix->slots[hole].used = false;
	ix->n--;
}
