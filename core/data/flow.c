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
	free(t->peer_first);
	memset(t, 0, sizeof(*t));
}

int flow_table_chain_peers(struct flow_table *t, uint32_t n_peers)
{
	if (!(t->peer_first = malloc((n_peers ? n_peers : 1) * sizeof(*t->peer_first))))
		return -ENOMEM;
	for (uint32_t i = 0; i < n_peers; i++)
		t->peer_first[i] = FLOW_NO_SLOT;
	t->n_peers = n_peers;
	return 0;
}

/* The head of slot i's peer chain, or NULL when its peer is not chained. */
static uint32_t *chain_of(const struct flow_table *t, size_t i)
{
	uint32_t peer = t->e[i].key.peer_id;

	return t->peer_first && peer < t->n_peers ? &t->peer_first[peer] : NULL;
}

/* Puts the entry in slot i first in its peer's chain. */
static void chain_link(struct flow_table *t, size_t i)
{
	uint32_t *first = chain_of(t, i);
	struct flow_entry *e = &t->e[i];

	e->peer_prev = e->peer_next = FLOW_NO_SLOT;
	if (!first)
		return;
	e->peer_next = *first;
	if (*first != FLOW_NO_SLOT)
		t->e[*first].peer_prev = (uint32_t)i;
	*first = (uint32_t)i;
}

static void chain_unlink(struct flow_table *t, size_t i)
{
	uint32_t *first = chain_of(t, i);
	struct flow_entry *e = &t->e[i];

	if (!first)
		return;
	if (e->peer_prev != FLOW_NO_SLOT)
		t->e[e->peer_prev].peer_next = e->peer_next;
	else
		*first = e->peer_next;
	if (e->peer_next != FLOW_NO_SLOT)
		t->e[e->peer_next].peer_prev = e->peer_prev;
}

/* Moves the entry in slot from to the free slot to; its chain follows it. */
static void move_entry(struct flow_table *t, size_t from, size_t to)
{
	uint32_t *first;
	struct flow_entry *e;

	t->e[to] = t->e[from];
	e = &t->e[to];
	if (!(first = chain_of(t, to)))
		return;
	if (e->peer_prev != FLOW_NO_SLOT)
		t->e[e->peer_prev].peer_next = (uint32_t)to;
	else
		*first = (uint32_t)to;
	if (e->peer_next != FLOW_NO_SLOT)
		t->e[e->peer_next].peer_prev = (uint32_t)to;
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

	chain_unlink(t, hole);
	/* Backward-shift deletion (Knuth 6.4, algorithm R): no tombstones pile up. */
	for (j = (hole + 1) & (t->cap - 1); t->e[j].state != FLOW_EMPTY;
	     j = (j + 1) & (t->cap - 1)) {
		if (ip_hash_slot_stays(hole, home(t, &t->e[j].key), j))
			continue;
		move_entry(t, j, hole);
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
	} else {
		chain_unlink(t, i); /* a stale entry for k: linked again below */
	}
	e = &t->e[i];
	memset(e, 0, sizeof(*e));
	e->key = *k;
	e->state = FLOW_DECIDED;
	e->generation = t->generation;
	e->last_seen = now;
	chain_link(t, i);
	t->stats.inserted++;
	return e;
}

size_t flow_table_remove_peer(struct flow_table *t, uint32_t peer_id)
{
	size_t pending = 0;

	if (!t->peer_first || peer_id >= t->n_peers) { /* not chained: every slot */
		for (size_t i = 0; i < t->cap; i++) {
			struct flow_entry *e = &t->e[i];

			t->stats.peer_visits++;
			while (e->state != FLOW_EMPTY && e->key.peer_id == peer_id) {
				pending += e->state == FLOW_PENDING;
				flow_table_remove(t, e); /* another entry may shift in */
			}
		}
		return pending;
	}
	while (t->peer_first[peer_id] != FLOW_NO_SLOT) {
		struct flow_entry *e = &t->e[t->peer_first[peer_id]];

		t->stats.peer_visits++;
		pending += e->state == FLOW_PENDING;
		flow_table_remove(t, e); /* moves others, chains and all */
	}
	return pending;
}

/* Copies the entries of `from` in `state` that are live at now into t, while there is room. */
static void carry_over(struct flow_table *t, const struct flow_entry *from, size_t cap,
		       uint8_t state, double now)
{
	for (size_t i = 0; i < cap; i++) {
		const struct flow_entry *e = &from[i];
		size_t to;

		if (e->state != state || !is_live(t, e, now))
			continue;
		if (t->n >= t->cap / 4 * 3) {
			t->stats.evicted++;
			continue;
		}
		to = find(t, &e->key);
		t->e[to] = *e;
		chain_link(t, to);
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
	for (uint32_t i = 0; t->peer_first && i < t->n_peers; i++)
		t->peer_first[i] = FLOW_NO_SLOT;	/* carry_over chains them again */
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
