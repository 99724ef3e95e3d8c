/* SPDX-License-Identifier: MIT */
/*
 * The typed messages between the main thread (control plane, Lua) and a
 * data-path worker (docs/workers.md), and the one-way link that carries
 * them: a single-producer/single-consumer ring (ring.h) of message
 * pointers, plus an overflow list on the sender's side. Each worker has two
 * links, main -> worker and worker -> main.
 *
 * Ownership moves with a message. The sender allocates it (wmsg_new), fills
 * it, and gives it to workerlink_send(); from then on the message and every
 * pointer in own[] belong to the link and then to the receiver, and the
 * sender never touches them again, whatever send returned (a dropped
 * message is freed by the link). The receiver takes what it keeps out of
 * own[] (wmsg_take) and frees the message with wmsg_free(), which releases
 * whatever own[] still holds with its own_free. Nothing is shared, so
 * nothing needs a lock: the ring's release/acquire pair orders the
 * sender's writes of a message before the receiver's reads.
 *
 * Bounded rings, and what a full ring does to each kind (wmsg_droppable):
 * a control message (install, retire, remove, settings, query, flow answer,
 * and back float, keepalive timeout, table) must not be lost, so it waits on the
 * sender's overflow list, in order, and every later message queues behind
 * it until the ring has room; the receiver wakes the sender when it makes
 * room (the sender_waiting flag). A counters snapshot, a control packet and
 * an on.flow question are dropped and counted instead: the next snapshot
 * supersedes a lost one, a lost control packet is a lost datagram the
 * peer's reliability layer resends, and a flow whose question is lost asks
 * again with its next packet; letting them queue would let a flood of
 * datagrams grow the main thread's memory without bound. The overflow list
 * holds only control-plane events, each for a peer that exists, so it is
 * bounded by what the control plane itself decided to do.
 */
#ifndef MOONVPN_WORKERLINK_H
#define MOONVPN_WORKERLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ringwake.h"

enum wmsg_kind {
	/* main -> worker */
	WMSG_PEER_INSTALL = 1, /* peer_id, key_id; own[0] the data channel, own[1] a policy snapshot
				  (either may be NULL: keep the one installed) */
	WMSG_KEY_RETIRE,       /* peer_id, key_id */
	WMSG_PEER_REMOVE,      /* peer_id */
	WMSG_SETTINGS,	       /* own[0] the reloaded settings */
	WMSG_QUERY,	       /* cookie: answered by WMSG_TABLE with the same cookie */
	WMSG_FLOW_ANSWER, /* peer_id, count: the verdict, data[len]: the flow's key (as asked) */
	/* worker -> main */
	WMSG_FLOAT,		/* peer_id, addr: the peer's new source address, its keys checked */
	WMSG_KEEPALIVE_TIMEOUT, /* peer_id */
	WMSG_COUNTERS,		/* counters[] */
	WMSG_CONTROL_PACKET,	/* addr, data[len]: a datagram for the control plane */
	WMSG_FLOW_QUESTION,	/* peer_id, data[len]: the flow's key (the worker keeps or drops its
				   packets) */
	WMSG_TABLE,		/* cookie, count; own[0] count struct wmsg_peer */
	WMSG_KIND_END
};

enum {
	WMSG_OWN_MAX = 2,
	WMSG_COUNTERS_MAX = 8,
};

struct wmsg {
	struct wmsg *next; /* the overflow list's: the link's, not the sender's */
	enum wmsg_kind kind;
	uint32_t peer_id;
	uint8_t key_id;
	uint32_t count;
	uint64_t cookie;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	uint64_t counters[WMSG_COUNTERS_MAX];
	void *own[WMSG_OWN_MAX];
	void (*own_free[WMSG_OWN_MAX])(void *);
	size_t len;
	uint8_t data[];
};

/* One row of WMSG_TABLE: a peer a worker holds and its live key ids (bit k: key_id k). */
struct wmsg_peer {
	uint32_t peer_id;
	uint8_t keys;
};

/* A zeroed message of kind with len bytes of data; NULL when out of memory. */
struct wmsg *wmsg_new(enum wmsg_kind kind, size_t len) __attribute__((warn_unused_result));
/* Releases what own[] still holds, then the message. NULL is a no-op. */
void wmsg_free(struct wmsg *m);
/* The receiver keeps own[i]: it is no longer the message's to release. */
void *wmsg_take(struct wmsg *m, unsigned i);
/* Whether a full ring drops this kind instead of queueing it (see above). */
bool wmsg_droppable(enum wmsg_kind kind);
const char *wmsg_kind_name(enum wmsg_kind kind);

enum workerlink_sent {
	WORKERLINK_SENT,   /* in the ring */
	WORKERLINK_QUEUED, /* on the overflow list, in order: sent when the ring has room */
	WORKERLINK_DROPPED /* freed: a droppable kind and a full ring */
};

struct workerlink_stats {
	unsigned long sent, queued, dropped,
		queued_max; /* queued_max: the overflow list's longest */
};

struct workerlink;

/* A link with a ring of capacity (a power of two, ring.h); NULL with errno set. */
struct workerlink *workerlink_new(size_t capacity) __attribute__((warn_unused_result));
/* Once neither thread uses it: frees the link and every message still in it. NULL is a no-op. */
void workerlink_free(struct workerlink *l);
/* Before either thread uses it: whom to wake. The receiver's wake is signalled after a send,
 * the sender's when the receiver made room for its overflow list; either may be NULL (one thread).
 */
void workerlink_set_wakes(struct workerlink *l, struct ring_wake *receiver,
			  struct ring_wake *sender);

/* Sender: gives m away (see above) and wakes the receiver. */
enum workerlink_sent workerlink_send(struct workerlink *l, struct wmsg *m);
/* Sender, from its loop's drain: moves the overflow list into the ring; whether it is empty now. */
bool workerlink_flush(struct workerlink *l);
/* Sender: whether messages wait on the overflow list. */
bool workerlink_backlog(struct workerlink *l);
/* Sender: whether a flush could move some of the backlog now (the receiver made room since the
 * sender last found the ring full). The sender's ring_wake empty() must say "not empty" when this
 * holds, or the receiver's wake-up, signalled before the sender armed its wake, would be lost. */
bool workerlink_flushable(struct workerlink *l);
/* Sender: the counts so far. */
struct workerlink_stats workerlink_stats(const struct workerlink *l);

/* Receiver: up to n messages, oldest first, now the caller's; how many. */
size_t workerlink_recv(struct workerlink *l, struct wmsg **out, size_t n);
/* Receiver: whether the ring is empty (its ring_wake's empty()). */
bool workerlink_empty(struct workerlink *l);

#endif
