// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peerids.h"

/* pos[id] of an id that is not live: never an index into live (there are at most cap). */
#define NOT_LIVE UINT32_MAX

int peer_ids_init(struct peer_ids *p, uint32_t cap)
{
	return peer_ids_init_workers(p, cap, 1);
}

/* Class w holds the ids below cap that are w modulo n: ceil((cap - w) / n) of them. */
static void split_classes(struct peer_ids *p)
{
	uint32_t base = 0, n = p->n_workers;

	for (uint32_t w = 0; w < n; w++) {
		struct peer_ids_class *c = &p->classes[w];

		c->size = w < p->cap ? (p->cap - w + n - 1) / n : 0;
		c->base = base;
		base += c->size;
	}
}

int peer_ids_init_workers(struct peer_ids *p, uint32_t cap, uint32_t n_workers)
{
	memset(p, 0, sizeof(*p));
	if (cap > PEER_IDS_CAP_MAX || n_workers < 1 || n_workers > PEER_IDS_WORKERS_MAX)
		return -EINVAL;
	p->classes = calloc(n_workers, sizeof(*p->classes));
	p->returned = calloc(cap ? cap : 1, sizeof(*p->returned));
	p->live = calloc(cap ? cap : 1, sizeof(*p->live));
	/* Not filled with NOT_LIVE (that would touch every page): a position is
	 * believed only when live holds the id there (peer_ids_is_live). */
	p->pos = calloc(cap ? cap : 1, sizeof(*p->pos));
	if (!p->classes || !p->returned || !p->live || !p->pos) {
		peer_ids_free(p);
		return -ENOMEM;
	}
	p->cap = cap;
	p->n_workers = n_workers;
	split_classes(p);
	return 0;
}

void peer_ids_free(struct peer_ids *p)
{
	free(p->classes);
	free(p->returned);
	free(p->live);
	free(p->pos);
	memset(p, 0, sizeof(*p));
}

bool peer_ids_is_live(const struct peer_ids *p, uint32_t id)
{
	return id < p->cap && p->pos[id] < p->n_live && p->live[p->pos[id]] == id;
}

int32_t peer_ids_take_for(struct peer_ids *p, uint32_t w)
{
	struct peer_ids_class *c;
	uint32_t id;

	if (w >= p->n_workers)
		return -1;
	c = &p->classes[w];
	if (c->fresh < c->size) {
		id = w + c->fresh++ * p->n_workers;
	} else if (c->n_returned) {
		id = p->returned[c->base + c->head];
		c->head = (c->head + 1) % c->size;
		c->n_returned--;
	} else {
		return -1;
	}
	c->n_live++;
	p->pos[id] = p->n_live;
	p->live[p->n_live++] = id;
	return (int32_t)id;
}

int32_t peer_ids_pick_worker(const struct peer_ids *p)
{
	int32_t best = -1;

	for (uint32_t w = 0; w < p->n_workers; w++) {
		const struct peer_ids_class *c = &p->classes[w];

		if (c->n_live < c->size && (best < 0 || c->n_live < p->classes[best].n_live))
			best = (int32_t)w;
	}
	return best;
}

int32_t peer_ids_take(struct peer_ids *p)
{
	int32_t w = peer_ids_pick_worker(p);

	return w < 0 ? -1 : peer_ids_take_for(p, (uint32_t)w);
}

void peer_ids_put(struct peer_ids *p, uint32_t id)
{
	struct peer_ids_class *c;
	uint32_t i, last;

	if (!peer_ids_is_live(p, id))
		return;
	/* The last live id fills the hole: live stays dense. */
	i = p->pos[id];
	last = p->live[--p->n_live];
	p->live[i] = last;
	p->pos[last] = i;
	p->pos[id] = NOT_LIVE;
	c = &p->classes[id % p->n_workers];
	c->n_live--;
	p->returned[c->base + (c->head + c->n_returned) % c->size] = id;
	c->n_returned++;
}
