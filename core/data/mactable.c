// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ip.h"
#include "mactable.h"

int mac_table_init(struct mac_table *t, uint32_t clients, unsigned per_client_max, double age,
		   const struct siphash_key *key)
{
	size_t cap = 64, all = (size_t)per_client_max * clients + MAC_TABLE_DEVICE_MAX,
	       max = all < MAC_TABLE_ADDRS_MAX ? all : MAC_TABLE_ADDRS_MAX;

	memset(t, 0, sizeof(*t));
	/* Every owner at its share (up to MAC_TABLE_ADDRS_MAX), at most half full. */
	while (cap / 2 < max)
		cap *= 2;
	t->e = calloc(cap, sizeof(*t->e));
	t->own = calloc(all, sizeof(*t->own));
	t->count = calloc((size_t)clients + 1, sizeof(*t->count));
	t->flood = calloc(clients ? clients : 1, sizeof(*t->flood));
	if (!t->e || !t->own || !t->count || !t->flood) {
		mac_table_free(t);
		return -ENOMEM;
	}
	t->cap = cap;
	t->max = max;
	t->key = *key;
	t->age = age;
	t->per_client_max = per_client_max;
	t->clients = clients;
	return 0;
}

void mac_table_free(struct mac_table *t)
{
	free(t->e);
	free(t->own);
	free(t->count);
	free(t->flood);
	memset(t, 0, sizeof(*t));
}

static size_t home(const struct mac_table *t, const uint8_t mac[MAC_LEN])
{
	return (size_t)siphash(&t->key, mac, MAC_LEN) & (t->cap - 1);
}

static size_t find(const struct mac_table *t, const uint8_t mac[MAC_LEN])
{
	size_t i = home(t, mac);

	while (t->e[i].used && memcmp(t->e[i].mac, mac, MAC_LEN) != 0)
		i = (i + 1) & (t->cap - 1);
	return i;
}

/* Owner id's index in count and own: a client's peer-id, the device's last. */
static uint32_t owner_of(const struct mac_table *t, uint32_t id)
{
	return id == MAC_TABLE_DEVICE ? t->clients : id;
}

/* Owner id's own list of addresses (the device's is the last). */
static uint8_t (*own_of(struct mac_table *t, uint32_t id))[MAC_LEN]
{
	return t->own + (size_t)owner_of(t, id) * t->per_client_max;
}

/* Owner id's count of addresses. */
static unsigned *count_of(struct mac_table *t, uint32_t id)
{
	return &t->count[owner_of(t, id)];
}

unsigned mac_table_count(const struct mac_table *t, uint32_t id)
{
	return id < t->clients || id == MAC_TABLE_DEVICE ? t->count[owner_of(t, id)] : 0;
}

static unsigned share_of(const struct mac_table *t, uint32_t id)
{
	return id == MAC_TABLE_DEVICE ? MAC_TABLE_DEVICE_MAX : t->per_client_max;
}

static bool is_live(const struct mac_table *t, const struct mac_entry *e, double now)
{
	return e->used && (e->pinned || now - e->last_seen < t->age);
}

static void own_remove(struct mac_table *t, uint32_t id, const uint8_t mac[MAC_LEN])
{
	uint8_t(*own)[MAC_LEN] = own_of(t, id);

	unsigned *n = count_of(t, id);

	for (unsigned k = 0; k < *n; k++)
		if (memcmp(own[k], mac, MAC_LEN) == 0) {
			memcpy(own[k], own[--*n], MAC_LEN);
			return;
		}
}

/* Backward-shift deletion (Knuth 6.4, algorithm R). */
static void remove_at(struct mac_table *t, size_t hole)
{
	size_t j;

	own_remove(t, t->e[hole].id, t->e[hole].mac);
	for (j = (hole + 1) & (t->cap - 1); t->e[j].used; j = (j + 1) & (t->cap - 1)) {
		if (ip_hash_slot_stays(hole, home(t, t->e[j].mac), j))
			continue;
		t->e[hole] = t->e[j];
		hole = j;
	}
	memset(&t->e[hole], 0, sizeof(t->e[hole]));
	t->n--;
}

/* The client's least recently seen address goes to make room for a new one, if aged. */
static void drop_oldest_of(struct mac_table *t, uint32_t id, double now)
{
	uint8_t(*own)[MAC_LEN] = own_of(t, id);
	size_t oldest = t->cap;

	for (unsigned k = 0; k < *count_of(t, id); k++) {
		size_t i = find(t, own[k]);

		if (!t->e[i].pinned &&
		    (oldest == t->cap || t->e[i].last_seen < t->e[oldest].last_seen))
			oldest = i;
	}
	if (oldest < t->cap && !is_live(t, &t->e[oldest], now))
		remove_at(t, oldest);
}

enum mac_learned mac_table_learn(struct mac_table *t, const uint8_t mac[MAC_LEN], uint32_t id,
				 double now)
{
	size_t i;

	if ((id >= t->clients && id != MAC_TABLE_DEVICE) || mac_is_group(mac))
		return MAC_NOT_LEARNED;
	i = find(t, mac);
	if (t->e[i].used && t->e[i].id == id) {
		t->e[i].last_seen = now;
		return MAC_LEARNED;
	}
	if (is_live(t, &t->e[i], now)) {
		t->taken++; /* a live address of another owner: not for the taking */
		return MAC_TAKEN;
	}
	if (t->e[i].used)
		remove_at(t, i); /* aged out: the address may move to another owner */
	if (*count_of(t, id) >= share_of(t, id))
		drop_oldest_of(t, id, now); /* only an aged one: a live one is not displaced */
	if (*count_of(t, id) >= share_of(t, id) || t->n >= t->max) {
		t->refused++;
		return MAC_NOT_LEARNED;
	}
	i = find(t, mac);
	memcpy(t->e[i].mac, mac, MAC_LEN);
	t->e[i].used = true;
	t->e[i].id = id;
	t->e[i].last_seen = now;
	t->n++;
	memcpy(own_of(t, id)[(*count_of(t, id))++], mac, MAC_LEN);
	return MAC_LEARNED;
}

void mac_table_pin_device(struct mac_table *t, const uint8_t mac[MAC_LEN], double now)
{
	size_t i;

	if (mac_is_group(mac))
		return;
	if (t->has_pinned) {
		i = find(t, t->pinned);
		if (t->e[i].used) {
			t->e[i].pinned = false; /* ages from now on */
			t->e[i].last_seen = now;
		}
		t->has_pinned = false;
	}
	i = find(t, mac);
	if (t->e[i].used && t->e[i].id != MAC_TABLE_DEVICE)
		remove_at(t, i); /* a client had it: the device's own address is not for clients */
	if (mac_table_learn(t, mac, MAC_TABLE_DEVICE, now) != MAC_LEARNED)
		return; /* the device has its share of live addresses: the next one will do */
	t->e[find(t, mac)].pinned = true;
	memcpy(t->pinned, mac, MAC_LEN);
	t->has_pinned = true;
}

bool mac_table_may_flood(struct mac_table *t, uint32_t id, double now)
{
	if (id >= t->clients)
		return false;
	return bucket_take(&t->flood[id], now, MAC_FLOOD_FRAMES_PER_SECOND, MAC_FLOOD_BURST);
}

int32_t mac_table_lookup(const struct mac_table *t, const uint8_t mac[MAC_LEN], double now)
{
	const struct mac_entry *e = &t->e[find(t, mac)];

	return is_live(t, e, now) ? (int32_t)e->id : -1;
}

void mac_table_forget(struct mac_table *t, uint32_t id)
{
	if (id >= t->clients)
		return; /* the device does not leave */
	while (t->count[id])
		remove_at(t, find(t, own_of(t, id)[0]));
	memset(&t->flood[id], 0, sizeof(t->flood[id]));
}
