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
 *
 * With N data-path workers (docs/workers.md) a peer belongs to worker
 * peer-id % N, which is how the kernel steers its P_DATA_V2 datagrams, so
 * the ids 0..cap-1 are split into N residue classes, each with its own
 * never-used counter and its own queue of given-back ids; one class's ids
 * never wait behind another's. The classes' sizes differ by at most one,
 * so every one of the cap ids can be live at once. With N = 1 there is one
 * class and the order is exactly the one above.
 */
#ifndef MOONVPN_PEERIDS_H
#define MOONVPN_PEERIDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	/* Ids are below cap, so 0xffffff (no peer-id, PROTO_PEER_ID_UNDEF) is never one. */
	PEER_IDS_CAP_MAX = 0xffffff,
	PEER_IDS_WORKERS_MAX = 1024,
};

/* One residue class: the ids w, w + N, w + 2N, ... below cap; slot i is id w + i * N. */
struct peer_ids_class {
	uint32_t size;	/* how many ids the class has */
	uint32_t fresh; /* slots [fresh, size) were never taken */
	uint32_t base;	/* the class's part of returned: returned[base .. base + size) */
	uint32_t head, n_returned;
	uint32_t n_live;
};

struct peer_ids {
	uint32_t cap;
	uint32_t n_workers;
	struct peer_ids_class *classes; /* n_workers of them */
	uint32_t *returned;		/* ids given back: a queue per class, oldest at its head */
	uint32_t *live;			/* the live ids, dense: live[0..n_live) */
	uint32_t *pos;			/* a live id's index in live */
	uint32_t n_live;
};

/* Room for cap ids (0..cap-1, cap at most PEER_IDS_CAP_MAX), all free, one worker;
 * -ENOMEM, -EINVAL. */
int peer_ids_init(struct peer_ids *p, uint32_t cap) __attribute__((warn_unused_result));
/* The same for n_workers (1..PEER_IDS_WORKERS_MAX): worker w gets the ids with id % n_workers == w.
 */
int peer_ids_init_workers(struct peer_ids *p, uint32_t cap, uint32_t n_workers)
	__attribute__((warn_unused_result));
void peer_ids_free(struct peer_ids *p);

/* A free id of the least-loaded worker that has one, now live; -1 when all cap are live. */
int32_t peer_ids_take(struct peer_ids *p);
/* A free id of worker w (id % n_workers == w), now live; -1 when w has none free (or w is out of
 * range). */
int32_t peer_ids_take_for(struct peer_ids *p, uint32_t w);
/* The worker for a new peer: the one with the fewest live ids among those with a free id, the
 * lowest such on a tie; -1 when none has. O(n_workers), which is the number of cores. */
int32_t peer_ids_pick_worker(const struct peer_ids *p);
/* A live id is free again (one that is not live is ignored). */
void peer_ids_put(struct peer_ids *p, uint32_t id);

static inline uint32_t peer_ids_count(const struct peer_ids *p)
{
	return p->n_live;
}

/* How many of worker w's ids are live (w below n_workers). */
static inline uint32_t peer_ids_count_for(const struct peer_ids *p, uint32_t w)
{
	return p->classes[w].n_live;
}

/* The i-th live id (i below peer_ids_count); the order changes as ids come and go. */
static inline uint32_t peer_ids_at(const struct peer_ids *p, uint32_t i)
{
	return p->live[i];
}

bool peer_ids_is_live(const struct peer_ids *p, uint32_t id);

#endif
