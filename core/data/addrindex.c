// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addrindex.h"

/* A key as bytes: what the table hashes and compares. */
struct key {
	uint8_t bytes[SERVER_ADDR_KEY_MAX];
	size_t len; /* 0: not a key */
};

/* Open addressing with linear probing; the table is never more than half full. */
static size_t index_home(const struct server_addr_index *ix, const uint8_t *k, size_t len)
{
	return (size_t)(siphash(&ix->key, k, len) & (ix->cap - 1));
}

static bool holds(const struct server_addr_index *ix, size_t i, const struct key *k)
{
	return ix->slots[i].len == k->len && memcmp(ix->slots[i].key, k->bytes, k->len) == 0;
}

/* The slot holding k, or the empty slot that ends its probe sequence. */
static size_t index_find(const struct server_addr_index *ix, const struct key *k)
{
	size_t i = index_home(ix, k->bytes, k->len);

	while (ix->slots[i].len && !holds(ix, i, k))
		i = (i + 1) & (ix->cap - 1);
	return i;
}

int server_addr_index_init(struct server_addr_index *ix, const struct siphash_key *key,
			   size_t keys_max)
{
	size_t cap = 2;

	memset(ix, 0, sizeof(*ix));
	while (cap / 2 < keys_max)
		cap *= 2;
	/* calloc: a large table's pages stay untouched until keys land there. */
	if (!(ix->slots = calloc(cap, sizeof(*ix->slots))))
		return -ENOMEM;
	ix->key = *key;
	ix->cap = cap;
	ix->max = cap / 2;
	return 0;
}

void server_addr_index_free(struct server_addr_index *ix)
{
	free(ix->slots);
	memset(ix, 0, sizeof(*ix));
}

static bool put(struct server_addr_index *ix, const struct key *k, uint32_t id)
{
	size_t i;

	if (!k->len)
		return false;
	i = index_find(ix, k);
	if (!ix->slots[i].len) {
		if (ix->n >= ix->max)
			return false;
		ix->n++;
	}
	memcpy(ix->slots[i].key, k->bytes, k->len);
	ix->slots[i].len = (uint8_t)k->len;
	ix->slots[i].id = id;
	return true;
}

static int32_t get(const struct server_addr_index *ix, const struct key *k)
{
	size_t i;

	if (!k->len)
		return -1;
	i = index_find(ix, k);
	return ix->slots[i].len ? (int32_t)ix->slots[i].id : -1;
}

static void del(struct server_addr_index *ix, const struct key *k, uint32_t id)
{
	size_t hole, j;

	if (!k->len)
		return;
	hole = index_find(ix, k);
	if (!ix->slots[hole].len || ix->slots[hole].id != id)
		return; /* gone, or given to a newer client since */
	/* Backward-shift deletion (Knuth 6.4, algorithm R): no tombstones pile up. */
	for (j = (hole + 1) & (ix->cap - 1); ix->slots[j].len; j = (j + 1) & (ix->cap - 1)) {
		size_t home = index_home(ix, ix->slots[j].key, ix->slots[j].len);

		if (ip_hash_slot_stays(hole, home, j))
			continue;
		ix->slots[hole] = ix->slots[j];
		hole = j;
	}
	ix->slots[hole].len = 0;
	ix->n--;
}

/* A VPN address's key: its family and its bytes; none for anything but IP. */
static struct key addr_key(const struct ip_addr *a)
{
	struct key k = { .len = 0 };

	if (a->family != AF_INET && a->family != AF_INET6)
		return k;
	k.bytes[0] = (uint8_t)a->family;
	memcpy(k.bytes + 1, a->bytes, ip_addr_size(a));
	k.len = 1 + ip_addr_size(a);
	return k;
}

/* A transport address's key: its bytes, as session_is_peer compares them. */
static struct key peer_key(const struct sockaddr *peer, socklen_t len)
{
	struct key k = { .len = 0 };

	if (len == 0 || len > SERVER_ADDR_KEY_MAX)
		return k;
	memcpy(k.bytes, peer, len);
	k.len = len;
	return k;
}

bool server_addr_index_put(struct server_addr_index *ix, const struct ip_addr *addr, uint32_t id)
{
	struct key k = addr_key(addr);

	return put(ix, &k, id);
}

int32_t server_addr_index_get(const struct server_addr_index *ix, const struct ip_addr *addr)
{
	struct key k = addr_key(addr);

	return get(ix, &k);
}

void server_addr_index_del(struct server_addr_index *ix, const struct ip_addr *addr, uint32_t id)
{
	struct key k = addr_key(addr);

	del(ix, &k, id);
}

bool server_peer_index_put(struct server_addr_index *ix, const struct sockaddr *peer, socklen_t len,
			   uint32_t id)
{
	struct key k = peer_key(peer, len);

	return put(ix, &k, id);
}

int32_t server_peer_index_get(const struct server_addr_index *ix, const struct sockaddr *peer,
			      socklen_t len)
{
	struct key k = peer_key(peer, len);

	return get(ix, &k);
}

void server_peer_index_del(struct server_addr_index *ix, const struct sockaddr *peer, socklen_t len,
			   uint32_t id)
{
	struct key k = peer_key(peer, len);

	del(ix, &k, id);
}
