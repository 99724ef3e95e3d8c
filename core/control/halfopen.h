/* SPDX-License-Identifier: MIT */
/*
 * The server's half-open handshakes, indexed so that choosing one to evict
 * costs O(log n), never a walk over all of them (issue 15: nothing in the
 * server is O(clients) per handshake). A listed session (by its slot) is
 * evictable: its handshake runs, or it is waiting: a client without a
 * certificate that finished TLS and waits for its hooks' decision. A waiting
 * one counts towards its source's share, but not in the set of all (it is
 * never the fair victim of a storm, nor counted in the total bound: the
 * hooks' limits and the auth timeout bound it); only once it is silent for
 * a while does it join the stalled set, as a frozen or vanished client does
 * (a live stock client repeats its PUSH_REQUEST while it waits).
 *
 * Two sets of evictable sessions keep the fair order: all of them, and the
 * stalled ones (silent for a while, found from an activity list, most
 * silent first). In each, the victim is from the network (IPv4 /24, IPv6
 * /48: source.h) holding the most, within it from the source holding the
 * most, and of those the oldest: each network keeps a heap of its sources
 * and each set a heap of its networks. Does not know about sessions or
 * time beyond the numbers it is given.
 */
#ifndef MOONVPN_HALFOPEN_H
#define MOONVPN_HALFOPEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "siphash.h"
#include "source.h"

enum halfopen_set {
	HALFOPEN_ALL,	  /* every evictable session but the waiting ones */
	HALFOPEN_STALLED, /* those silent since halfopen_stall's limit */
	HALFOPEN_SETS,
};

enum { HALFOPEN_NONE = UINT32_MAX };

struct halfopen_heap {
	uint32_t *item;
	uint32_t n, cap;
};

/* One listed session, by slot. */
struct halfopen_entry {
	uint32_t node;	       /* its source */
	uint32_t prev, next;   /* its source's sessions, oldest first */
	uint32_t aprev, anext; /* the activity list: evictable and not stalled, most silent first */
	uint64_t seq;	       /* the order sessions were listed in: smaller is older */
	double heard;	       /* when its peer last sent something */
	bool listed, stalled, waiting; /* listed: evictable (a waiting one once stalled) */
};

/* A source or a network. */
struct halfopen_node {
	struct source key;
	uint32_t up;		     /* a source: its network; a network: how many sources it has */
	uint32_t head, tail;	     /* a source's sessions */
	uint32_t listed;	     /* a source: its sessions listed, waiting ones included */
	uint32_t n[HALFOPEN_SETS];   /* its sessions in each set */
	uint32_t pos[HALFOPEN_SETS]; /* a source: in its network's heap; a network: in the set's */
	uint64_t oldest[HALFOPEN_SETS]; /* a source: its oldest session's seq in the set */
	struct halfopen_heap heap[HALFOPEN_SETS]; /* a network: its sources in the set */
};

/* Open addressing over node numbers (+1; 0 is empty), keyed by the node's key. */
struct halfopen_map {
	uint32_t *slot;
	uint32_t mask;
};

struct halfopen {
	struct halfopen_entry *e; /* by slot */
	struct halfopen_node *node;
	uint32_t n_nodes, fresh; /* nodes in all, and the first never used */
	uint32_t free_node;	 /* a list of freed nodes through node[].up */
	struct halfopen_map sources, nets;
	struct halfopen_heap top[HALFOPEN_SETS]; /* networks */
	uint32_t ahead, atail;			 /* the activity list */
	uint64_t seq;
	uint32_t count[HALFOPEN_SETS];
	struct siphash_key key;
};

/* For slots 0 .. max_ids - 1; 0, or -1 when out of memory. */
int halfopen_init(struct halfopen *h, uint32_t max_ids) __attribute__((warn_unused_result));
void halfopen_free(struct halfopen *h);

/* Slot id's new session from src, heard at now: evictable. False when out of memory. */
bool halfopen_add(struct halfopen *h, uint32_t id, const struct source *src, double now)
	__attribute__((warn_unused_result));
/* Slot id's session is no longer half-open (a no-op when not listed). */
void halfopen_remove(struct halfopen *h, uint32_t id);
/* Slot id's session finished its handshake and waits for a decision: out of the set of all,
 * evictable only once stalled. */
void halfopen_wait(struct halfopen *h, uint32_t id);
/* Slot id's peer sent something at now: no longer stalled, the last of the activity list. */
void halfopen_heard(struct halfopen *h, uint32_t id, double now);
/* The evictable sessions silent for seconds at now join the stalled set. */
void halfopen_stall(struct halfopen *h, double now, double seconds);

static inline bool halfopen_listed(const struct halfopen *h, uint32_t id)
{
	return h->e[id].listed;
}

/* The sessions in a set. */
static inline uint32_t halfopen_count(const struct halfopen *h, enum halfopen_set set)
{
	return h->count[set];
}

/* Sessions listed from src, waiting ones included; the first (oldest) in *first. */
uint32_t halfopen_source(const struct halfopen *h, const struct source *src, uint32_t *first);
/* The next session of the same source after id, or HALFOPEN_NONE. */
static inline uint32_t halfopen_next(const struct halfopen *h, uint32_t id)
{
	return h->e[id].next;
}
/* The set's sessions from src's network. */
uint32_t halfopen_net_count(const struct halfopen *h, enum halfopen_set set,
			    const struct source *src);
/*
 * The set's session to evict (HALFOPEN_NONE when empty): from the network
 * holding the most (how many in *net_n unless NULL), within it the source
 * holding the most, and of those the oldest.
 */
uint32_t halfopen_victim(const struct halfopen *h, enum halfopen_set set, uint32_t *net_n);

#endif
