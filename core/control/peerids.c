// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peerids.h"

/* pos[id] of an id that is not live: never an index into live (there are at most cap). */
#define NOT_LIVE UINT32_MAX

int peer_ids_init(struct peer_ids *p, uint32_t cap)
{
	memset(p, 0, sizeof(*p));
	p->returned = calloc(cap ? cap : 1, sizeof(*p->returned));
	p->live = calloc(cap ? cap : 1, sizeof(*p->live));
	/* Not filled with NOT_LIVE (that would touch every page): a position is
	 * believed only when live holds the id there (peer_ids_is_live). */
	p->pos = calloc(cap ? cap : 1, sizeof(*p->pos));
	if (!p->returned || !p->live || !p->pos) {
		peer_ids_free(p);
		return -ENOMEM;
	}
	p->cap = cap;
	return 0;
}

void peer_ids_free(struct peer_ids *p)
{
	free(p->returned);
	free(p->live);
	free(p->pos);
	memset(p, 0, sizeof(*p));
}

bool peer_ids_is_live(const struct peer_ids *p, uint32_t id)
{
	return id < p->cap && p->pos[id] < p->n_live && p->live[p->pos[id]] == id;
}

int32_t peer_ids_take(struct peer_ids *p)
{
	uint32_t id;

	if (p->fresh < p->cap) {
		id = p->fresh++;
	} else if (p->n_returned) {
		id = p->returned[p->head];
		p->head = (p->head + 1) % p->cap;
		p->n_returned--;
	} else {
		return -1;
	}
	p->pos[id] = p->n_live;
	p->live[p->n_live++] = id;
	return (int32_t)id;
}

void peer_ids_put(struct peer_ids *p, uint32_t id)
{
	uint32_t i, last;

	if (!peer_ids_is_live(p, id))
		return;
	/* The last live id fills the hole: live stays dense. */
	i = p->pos[id];
	last = p->live[--p->n_live];
	p->live[i] = last;
	p->pos[last] = i;
	p->pos[id] = NOT_LIVE;
	p->returned[(p->head + p->n_returned) % p->cap] = id;
	p->n_returned++;
}
