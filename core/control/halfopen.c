// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>

#include "halfopen.h"

/* --- nodes and their maps ------------------------------------------------- */

static uint32_t node_new(struct halfopen *h, const struct source *key)
{
	uint32_t n;

	if (h->free_node != HALFOPEN_NONE) {
		n = h->free_node;
		h->free_node = h->node[n].up;
	} else if (h->fresh < h->n_nodes) {
		n = h->fresh++;
	} else {
		return HALFOPEN_NONE; /* cannot happen: a session adds at most two */
	}
	memset(&h->node[n], 0, sizeof(h->node[n]));
	h->node[n].key = *key;
	h->node[n].head = h->node[n].tail = HALFOPEN_NONE;
	return n;
}

static void node_free(struct halfopen *h, uint32_t n)
{
	for (int set = 0; set < HALFOPEN_SETS; set++) {
		free(h->node[n].heap[set].item);
		h->node[n].heap[set].item = NULL;
	}
	h->node[n].up = h->free_node;
	h->free_node = n;
}

/* The network of src as a key of its own: its /24 or /48, the rest zero. */
static struct source net_of(const struct source *src)
{
	struct source net = { .len = src->len };

	memcpy(net.bytes, src->bytes, src->len == 4 ? 3 : 6);
	return net;
}

static uint32_t hash(const struct halfopen *h, const struct halfopen_map *m, const struct source *k)
{
	uint8_t b[sizeof(k->bytes) + 1];

	memcpy(b, k->bytes, sizeof(k->bytes));
	b[sizeof(k->bytes)] = (uint8_t)k->len;
	return (uint32_t)siphash(&h->key, b, sizeof(b)) & m->mask;
}

static uint32_t map_find(const struct halfopen *h, const struct halfopen_map *m,
			 const struct source *k)
{
	for (uint32_t i = hash(h, m, k);; i = (i + 1) & m->mask) {
		uint32_t v = m->slot[i];

		if (!v)
			return HALFOPEN_NONE;
		if (source_equal(&h->node[v - 1].key, k))
			return v - 1;
	}
}

static void map_put(const struct halfopen *h, struct halfopen_map *m, uint32_t n)
{
	uint32_t i = hash(h, m, &h->node[n].key);

	while (m->slot[i])
		i = (i + 1) & m->mask;
	m->slot[i] = n + 1;
}

/* Removes node n, shifting back the entries after it that probed past its slot. */
static void map_del(const struct halfopen *h, struct halfopen_map *m, uint32_t n)
{
	uint32_t i = hash(h, m, &h->node[n].key);

	while (m->slot[i] != n + 1)
		i = (i + 1) & m->mask;
	m->slot[i] = 0;
	for (uint32_t j = (i + 1) & m->mask; m->slot[j]; j = (j + 1) & m->mask) {
		uint32_t home = hash(h, m, &h->node[m->slot[j] - 1].key);

		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->slot[i] = m->slot[j];
			m->slot[j] = 0;
			i = j;
		}
	}
}

/* --- the fair order -------------------------------------------------------- */

typedef bool (*before_fn)(const struct halfopen *h, int set, uint32_t a, uint32_t b);

/* A source before another: more sessions, then the older oldest. */
static bool source_before(const struct halfopen *h, int set, uint32_t a, uint32_t b)
{
	const struct halfopen_node *x = &h->node[a], *y = &h->node[b];

	if (x->n[set] != y->n[set])
		return x->n[set] > y->n[set];
	return x->oldest[set] < y->oldest[set];
}

/* A network before another: more sessions, then the better of their best sources. */
static bool net_before(const struct halfopen *h, int set, uint32_t a, uint32_t b)
{
	const struct halfopen_node *x = &h->node[a], *y = &h->node[b];

	if (x->n[set] != y->n[set])
		return x->n[set] > y->n[set];
	return source_before(h, set, x->heap[set].item[0], y->heap[set].item[0]);
}

static void heap_put(struct halfopen *h, struct halfopen_heap *hp, int set, uint32_t i, uint32_t n)
{
	hp->item[i] = n;
	h->node[n].pos[set] = i;
}

static void sift(struct halfopen *h, struct halfopen_heap *hp, int set, uint32_t i,
		 before_fn before)
{
	uint32_t x = hp->item[i];

	while (i > 0 && before(h, set, x, hp->item[(i - 1) / 2])) {
		heap_put(h, hp, set, i, hp->item[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= hp->n)
			break;
		if (c + 1 < hp->n && before(h, set, hp->item[c + 1], hp->item[c]))
			c++;
		if (!before(h, set, hp->item[c], x))
			break;
		heap_put(h, hp, set, i, hp->item[c]);
		i = c;
	}
	heap_put(h, hp, set, i, x);
}

/* Room is there: heaps are grown when a node that may join them is made. */
static void heap_push(struct halfopen *h, struct halfopen_heap *hp, int set, uint32_t n,
		      before_fn before)
{
	heap_put(h, hp, set, hp->n++, n);
	sift(h, hp, set, hp->n - 1, before);
}

static void heap_remove(struct halfopen *h, struct halfopen_heap *hp, int set, uint32_t n,
			before_fn before)
{
	uint32_t i = h->node[n].pos[set], last = hp->item[--hp->n];

	if (i < hp->n) {
		heap_put(h, hp, set, i, last);
		sift(h, hp, set, i, before);
	}
}

static bool in_set(const struct halfopen_entry *e, int set)
{
	return e->listed && (set == HALFOPEN_ALL ? !e->waiting : e->stalled);
}

/* The source's oldest session in the set (its list is oldest first), or HALFOPEN_NONE. */
static uint32_t oldest_in(const struct halfopen *h, uint32_t src, int set)
{
	uint32_t id = h->node[src].head;

	while (id != HALFOPEN_NONE && !in_set(&h->e[id], set))
		id = h->e[id].next;
	return id;
}

/* A session of source src joined (delta 1) or left (-1) the set: its flags say so already. */
static void update(struct halfopen *h, int set, uint32_t src, int delta)
{
	struct halfopen_node *sn = &h->node[src], *nn = &h->node[sn->up];
	bool source_was = sn->n[set] > 0, net_was = nn->n[set] > 0;
	uint32_t oldest;

	sn->n[set] = (uint32_t)((int)sn->n[set] + delta);
	nn->n[set] = (uint32_t)((int)nn->n[set] + delta);
	h->count[set] = (uint32_t)((int)h->count[set] + delta);
	oldest = oldest_in(h, src, set);
	sn->oldest[set] = oldest == HALFOPEN_NONE ? 0 : h->e[oldest].seq;
	if (!sn->n[set])
		heap_remove(h, &nn->heap[set], set, src, source_before);
	else if (!source_was)
		heap_push(h, &nn->heap[set], set, src, source_before);
	else
		sift(h, &nn->heap[set], set, sn->pos[set], source_before);
	if (!nn->n[set])
		heap_remove(h, &h->top[set], set, sn->up, net_before);
	else if (!net_was)
		heap_push(h, &h->top[set], set, sn->up, net_before);
	else
		sift(h, &h->top[set], set, nn->pos[set], net_before);
}

/* --- the activity list ----------------------------------------------------- */

static void activity_unlink(struct halfopen *h, uint32_t id)
{
	struct halfopen_entry *e = &h->e[id];

	if (e->aprev != HALFOPEN_NONE)
		h->e[e->aprev].anext = e->anext;
	else
		h->ahead = e->anext;
	if (e->anext != HALFOPEN_NONE)
		h->e[e->anext].aprev = e->aprev;
	else
		h->atail = e->aprev;
}

static void activity_append(struct halfopen *h, uint32_t id)
{
	struct halfopen_entry *e = &h->e[id];

	e->aprev = h->atail;
	e->anext = HALFOPEN_NONE;
	if (h->atail != HALFOPEN_NONE)
		h->e[h->atail].anext = id;
	else
		h->ahead = id;
	h->atail = id;
}

/* --- the interface --------------------------------------------------------- */

int halfopen_init(struct halfopen *h, uint32_t max_ids)
{
	uint32_t size = 16;

	memset(h, 0, sizeof(*h));
	while (size < 2 * (uint64_t)max_ids)
		size *= 2;
	h->n_nodes = 2 * max_ids;
	h->free_node = h->ahead = h->atail = HALFOPEN_NONE;
	h->e = calloc(max_ids, sizeof(*h->e));
	h->node = calloc(h->n_nodes, sizeof(*h->node));
	h->sources.slot = calloc(size, sizeof(uint32_t));
	h->nets.slot = calloc(size, sizeof(uint32_t));
	h->sources.mask = h->nets.mask = size - 1;
	for (int set = 0; set < HALFOPEN_SETS; set++)
		h->top[set].item = calloc(max_ids, sizeof(uint32_t));
	if (!h->e || !h->node || !h->sources.slot || !h->nets.slot || !h->top[0].item ||
	    !h->top[1].item || siphash_key_init(&h->key) < 0) {
		halfopen_free(h);
		return -1;
	}
	return 0;
}

void halfopen_free(struct halfopen *h)
{
	for (uint32_t n = 0; h->node && n < h->fresh; n++)
		for (int set = 0; set < HALFOPEN_SETS; set++)
			free(h->node[n].heap[set].item); /* freed nodes have NULL */
	free(h->e);
	free(h->node);
	free(h->sources.slot);
	free(h->nets.slot);
	for (int set = 0; set < HALFOPEN_SETS; set++)
		free(h->top[set].item);
	memset(h, 0, sizeof(*h));
}

/* Room in the network's heaps for one more source; false when out of memory. */
static bool net_grow(struct halfopen *h, uint32_t net)
{
	struct halfopen_node *nn = &h->node[net];

	for (int set = 0; set < HALFOPEN_SETS; set++) {
		struct halfopen_heap *hp = &nn->heap[set];
		uint32_t cap = hp->cap ? hp->cap * 2 : 4;
		uint32_t *item;

		if (nn->up + 1 <= hp->cap)
			continue;
		if (!(item = realloc(hp->item, cap * sizeof(*item))))
			return false;
		hp->item = item;
		hp->cap = cap;
	}
	return true;
}

/* The node of source src, made (with its network's) when new; HALFOPEN_NONE when out of memory. */
static uint32_t source_node(struct halfopen *h, const struct source *src)
{
	struct source key = net_of(src);
	uint32_t s = map_find(h, &h->sources, src), net;
	bool new_net = false;

	if (s != HALFOPEN_NONE)
		return s;
	if ((net = map_find(h, &h->nets, &key)) == HALFOPEN_NONE) {
		if ((net = node_new(h, &key)) == HALFOPEN_NONE)
			return HALFOPEN_NONE;
		map_put(h, &h->nets, net);
		new_net = true;
	}
	if (!net_grow(h, net) || (s = node_new(h, src)) == HALFOPEN_NONE) {
		if (new_net) {
			map_del(h, &h->nets, net);
			node_free(h, net);
		}
		return HALFOPEN_NONE;
	}
	h->node[s].up = net;
	h->node[net].up++;
	map_put(h, &h->sources, s);
	return s;
}

bool halfopen_add(struct halfopen *h, uint32_t id, const struct source *src, double now)
{
	struct halfopen_entry *e = &h->e[id];
	uint32_t s;

	halfopen_remove(h, id);
	if ((s = source_node(h, src)) == HALFOPEN_NONE)
		return false;
	*e = (struct halfopen_entry){
		.node = s,
		.prev = h->node[s].tail,
		.next = HALFOPEN_NONE,
		.seq = h->seq++,
		.heard = now,
		.listed = true,
	};
	if (e->prev != HALFOPEN_NONE)
		h->e[e->prev].next = id;
	else
		h->node[s].head = id;
	h->node[s].tail = id;
	h->node[s].listed++;
	activity_append(h, id);
	update(h, HALFOPEN_ALL, s, 1);
	return true;
}

void halfopen_wait(struct halfopen *h, uint32_t id)
{
	struct halfopen_entry *e = &h->e[id];

	if (!halfopen_listed(h, id) || e->waiting)
		return;
	e->waiting = true;
	update(h, HALFOPEN_ALL, e->node, -1);
}

/* Takes slot id's session out of both sets and the activity list. */
static void unset(struct halfopen *h, uint32_t id)
{
	struct halfopen_entry *e = &h->e[id];
	bool was_waiting;

	if (!halfopen_listed(h, id))
		return;
	if (e->stalled) {
		e->stalled = false;
		update(h, HALFOPEN_STALLED, e->node, -1);
	} else {
		activity_unlink(h, id);
	}
	was_waiting = e->waiting;
	e->listed = false; /* before update: it finds the source's oldest by the flags */
	e->waiting = false;
	if (!was_waiting)
		update(h, HALFOPEN_ALL, e->node, -1);
}

void halfopen_remove(struct halfopen *h, uint32_t id)
{
	struct halfopen_entry *e = &h->e[id];
	uint32_t s = e->node, net;

	if (!e->listed)
		return;
	unset(h, id);
	if (e->prev != HALFOPEN_NONE)
		h->e[e->prev].next = e->next;
	else
		h->node[s].head = e->next;
	if (e->next != HALFOPEN_NONE)
		h->e[e->next].prev = e->prev;
	else
		h->node[s].tail = e->prev;
	if (--h->node[s].listed)
		return;
	net = h->node[s].up;
	map_del(h, &h->sources, s);
	node_free(h, s);
	if (--h->node[net].up)
		return;
	map_del(h, &h->nets, net);
	node_free(h, net);
}

void halfopen_heard(struct halfopen *h, uint32_t id, double now)
{
	struct halfopen_entry *e = &h->e[id];

	if (!halfopen_listed(h, id))
		return;
	e->heard = now;
	if (e->stalled) {
		e->stalled = false;
		update(h, HALFOPEN_STALLED, e->node, -1);
	} else {
		activity_unlink(h, id);
	}
	activity_append(h, id);
}

void halfopen_stall(struct halfopen *h, double now, double seconds)
{
	while (h->ahead != HALFOPEN_NONE && now - h->e[h->ahead].heard >= seconds) {
		uint32_t id = h->ahead;

		activity_unlink(h, id);
		h->e[id].stalled = true;
		update(h, HALFOPEN_STALLED, h->e[id].node, 1);
	}
}

uint32_t halfopen_source(const struct halfopen *h, const struct source *src, uint32_t *first)
{
	uint32_t s = map_find(h, &h->sources, src);

	*first = s == HALFOPEN_NONE ? HALFOPEN_NONE : h->node[s].head;
	return s == HALFOPEN_NONE ? 0 : h->node[s].listed;
}

uint32_t halfopen_net_count(const struct halfopen *h, enum halfopen_set set,
			    const struct source *src)
{
	struct source key = net_of(src);
	uint32_t net = map_find(h, &h->nets, &key);

	return net == HALFOPEN_NONE ? 0 : h->node[net].n[set];
}

uint32_t halfopen_victim(const struct halfopen *h, enum halfopen_set set, uint32_t *net_n)
{
	uint32_t net;

	if (!h->top[set].n)
		return HALFOPEN_NONE;
	net = h->top[set].item[0];
	if (net_n)
		*net_n = h->node[net].n[set];
	return oldest_in(h, h->node[net].heap[set].item[0], set);
}
