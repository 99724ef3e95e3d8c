/* SPDX-License-Identifier: MIT */
/*
 * The server's peer-ids: which are free and which are live, each question
 * in O(1) whatever the number of clients. A free id is taken from ids never
 * used yet first, then from the ones given back, oldest first (a queue):
 * an id comes back into use as late as possible, so that a late data
 * packet of a client that left finds no session rather than a new client's
 * (it would fail the new key's check anyway, but be counted as such). The
 * live ids are kept dense, live[0..n), for walks over the clients (the
 * console, status, metrics) that cost the clients there are, not the
 * capacity, and not a walk per client as a search for the i-th would.
 * Everything is allocated once, for cap ids, at init; the pages of ids
 * never used are never touched.
 */
#ifndef MOONVPN_PEERIDS_H
#define MOONVPN_PEERIDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct peer_ids {
	uint32_t cap;
	uint32_t fresh;	    /* ids [fresh, cap) were never taken */
	uint32_t *returned; /* ids given back: a ring of cap, oldest at head */
	uint32_t head, n_returned;
	uint32_t *live; /* the live ids, dense: live[0..n_live) */
	uint32_t *pos;	/* a live id's index in live */
	uint32_t n_live;
};

/* Room for cap ids (0..cap-1), all free; -ENOMEM. */
int peer_ids_init(struct peer_ids *p, uint32_t cap) __attribute__((warn_unused_result));
void peer_ids_free(struct peer_ids *p);

/* A free id, now live; -1 when all cap are live. */
int32_t peer_ids_take(struct peer_ids *p);
/* A live id is free again (one that is not live is ignored). */
void peer_ids_put(struct peer_ids *p, uint32_t id);

static inline uint32_t peer_ids_count(const struct peer_ids *p)
{
	return p->n_live;
}

/* The i-th live id (i below peer_ids_count); the order changes as ids come and go. */
static inline uint32_t peer_ids_at(const struct peer_ids *p, uint32_t i)
{
	return p->live[i];
}

bool peer_ids_is_live(const struct peer_ids *p, uint32_t id);

#endif
