// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "flow.h"

/* Slots for max_flows flows: a power of two, at most three quarters used. */
static size_t capacity_for(size_t max_flows)
{
	size_t cap = FLOW_TABLE_MIN;

	while (cap / 4 * 3 < max_flows)
		cap *= 2;
	return cap;
}

int flow_table_init(struct flow_table *t, size_t max_flows, double idle_timeout,
		    const struct siphash_key *key)
{
	size_t cap = capacity_for(max_flows);

	memset(t, 0, sizeof(*t));
	if (!(t->e = calloc(cap, sizeof(*t->e))))
		return -ENOMEM;
	t->cap = cap;
	t->key = *key;
	t->generation = 1;
	t->idle_timeout = idle_timeout;
	return 0;
}

void flow_table_free(struct flow_table *t)
{
	free(t->e);
	memset(t, 0, sizeof(*t));
}

void flow_key_of(struct flow_key *k, const struct packet_flow *f, uint32_t peer_id,
		 enum policy_direction direction)
{
	memset(k, 0, sizeof(*k)); /* padding too: keys are hashed and compared as bytes */
	k->peer_id = peer_id;
	k->family = f->src.family == AF_INET ? 4 : 6;
	k->proto = f->proto;
	k->direction = (uint8_t)direction;
	k->sport = f->sport;
	k->dport = f->dport;
	k->icmp_type = (int16_t)f->icmp_type;
	memcpy(k->src, f->src.bytes, sizeof(k->src));
	memcpy(k->dst, f->dst.bytes, sizeof(k->dst));
}

void flow_key_set_l2(struct flow_key *k, const uint8_t *frame)
{
	memcpy(k->dst_mac, frame, sizeof(k->dst_mac));
	memcpy(k->src_mac, frame + 6, sizeof(k->src_mac));
	k->ethertype = (uint16_t)(frame[12] << 8 | frame[13]);
}

static size_t home(const struct flow_table *t, const struct flow_key *k)
{
	return (size_t)siphash(&t->key, k, sizeof(*k)) & (t->cap - 1);
}

static bool is_live(const struct flow_table *t, const struct flow_entry *e, double now)
{
	if (e->state == FLOW_PENDING)
		return true;
	return e->state == FLOW_DECIDED && e->generation == t->generation &&
	       (e->expires == 0 || now < e->expires) && now - e->last_seen < t->idle_timeout;
}

/* The slot holding k, or the empty slot that ends its probe sequence. */
static size_t find(const struct flow_table *t, const struct flow_key *k)
{
	size_t i = home(t, k);

	while (t->e[i].state != FLOW_EMPTY && memcmp(&t->e[i].key, k, sizeof(*k)) != 0)
		i = (i + 1) & (t->cap - 1);
	return i;
}

struct flow_entry *flow_table_lookup(struct flow_table *t, const struct flow_key *k, double now)
{
	struct flow_entry *e = &t->e[find(t, k)];

	if (e->state == FLOW_EMPTY || !is_live(t, e, now))
		return NULL;
	return e;
}

void flow_table_remove(struct flow_table *t, struct flow_entry *e)
{
	size_t hole = (size_t)(e - t->e), j;

	/* Backward-shift deletion (Knuth 6.4, algorithm R): no tombstones pile up. */
	for (j = (hole + 1) & (t->cap - 1); t->e[j].state != FLOW_EMPTY;
	     j = (j + 1) & (t->cap - 1)) {
		if (ip_hash_slot_stays(hole, home(t, &t->e[j].key), j))
			continue;
		t->e[hole] = t->e[j];
		hole = j;
	}
	memset(&t->e[hole], 0, sizeof(t->e[hole]));
	t->n--;
}

/*
 * Frees at least one slot: the stale entries among the next FLOW_PROBE_MAX
 * flows the hand passes, else the least recently seen of them (a sampled
 * LRU, as Redis evicts). False when the hand finds only pending flows.
 */
static bool make_room(struct flow_table *t, double now)
{
	struct flow_entry *oldest = NULL;
	bool freed = false;

	for (size_t seen = 0, steps = 0; seen < FLOW_PROBE_MAX && steps < t->cap; steps++) {
		struct flow_entry *e = &t->e[t->hand];

		if (e->state != FLOW_DECIDED) {
			t->hand = (t->hand + 1) & (t->cap - 1);
			continue;
		}
		seen++;
		if (!is_live(t, e, now)) {
			flow_table_remove(t, e); /* the next entry may shift into this slot */
			t->stats.expired++;
			freed = true;
			continue;
		}
		if (!oldest || e->last_seen < oldest->last_seen)
			oldest = e;
		t->hand = (t->hand + 1) & (t->cap - 1);
	}
	if (freed)
		return true;
	if (!oldest)
		return false;
	flow_table_remove(t, oldest);
	t->stats.evicted++;
	return true;
}

struct flow_entry *flow_table_insert(struct flow_table *t, const struct flow_key *k, double now)
{
	size_t i = find(t, k);
	struct flow_entry *e;

	if (t->e[i].state == FLOW_EMPTY) {
		if (t->n >= t->cap / 4 * 3) {
			if (!make_room(t, now)) {
				t->stats.full++;
				return NULL;
			}
			i = find(t, k); /* removals move entries */
		}
		t->n++;
	}
	e = &t->e[i];
	memset(e, 0, sizeof(*e));
	e->key = *k;
	e->state = FLOW_DECIDED;
	e->generation = t->generation;
	e->last_seen = now;
	t->stats.inserted++;
	return e;
}

/* Copies the entries of `from` in `state` that are live at now into t, while there is room. */
static void carry_over(struct flow_table *t, const struct flow_entry *from, size_t cap,
		       uint8_t state, double now)
{
	for (size_t i = 0; i < cap; i++) {
		const struct flow_entry *e = &from[i];

		if (e->state != state || !is_live(t, e, now))
			continue;
		if (t->n >= t->cap / 4 * 3) {
			t->stats.evicted++;
			continue;
		}
		t->e[find(t, &e->key)] = *e;
		t->n++;
	}
}

int flow_table_resize(struct flow_table *t, size_t max_flows, double now)
{
	size_t cap = capacity_for(max_flows), old_cap = t->cap;
	struct flow_entry *old = t->e, *fresh;

	size_t pending = 0;

	if (cap == old_cap)
		return 0;
	for (size_t i = 0; i < old_cap; i++)
		pending += old[i].state == FLOW_PENDING;
	if (pending > cap / 4 * 3)
		return -ENOSPC;
	if (!(fresh = calloc(cap, sizeof(*fresh))))
		return -ENOMEM;
	t->e = fresh;
	t->cap = cap;
	t->n = 0;
	t->hand = 0;
	carry_over(t, old, old_cap, FLOW_PENDING, now); /* first: they must stay */
	carry_over(t, old, old_cap, FLOW_DECIDED, now);
	free(old);
	return 0;
}

void flow_table_flush(struct flow_table *t)
{
	t->generation++;
}

const struct flow_entry *flow_table_at(const struct flow_table *t, size_t i, double now)
{
	const struct flow_entry *e = &t->e[i];

	return i < t->cap && e->state != FLOW_EMPTY && is_live(t, e, now) ? e : NULL;
}
