/* SPDX-License-Identifier: MIT */
/*
 * A data-path worker (docs/workers.md): a thread with its own libev loop
 * that owns the peers whose peer-id is index modulo n_workers. The main
 * thread talks to it only through two workerlinks (workerlink.h): it sends
 * install, retire, remove, settings and query messages, and receives the
 * worker's answers and reports on its own loop. The worker keeps its peers
 * in a table indexed by peer_id / n_workers (the class peerids.h hands
 * out), so a lookup is one array index.
 *
 * This is the skeleton: the loop, the wake-up, the messages and the peer
 * table. The worker's UDP socket, TUN queue and buffers are not here yet.
 * (core/sys/worker.c is another thing: the password-hashing job threads.)
 *
 * Threads: dworker_new, _start, _send, _stop and _free are the main
 * thread's; everything else runs on the worker's thread. Before start the
 * main thread builds the worker's loop and wake; pthread_create hands them
 * over. After dworker_stop() returns (the thread joined) the main thread
 * owns everything again.
 */
#ifndef MOONVPN_DWORKER_H
#define MOONVPN_DWORKER_H

#include <stddef.h>
#include <stdint.h>

#include "ringwake.h"
#include "workerlink.h"

/* The counters a worker sends in WMSG_COUNTERS (after each WMSG_TABLE). */
enum dworker_counter {
	DWORKER_MESSAGES, /* messages received from the main thread */
	DWORKER_INSTALLS,
	DWORKER_RETIRES,
	DWORKER_REMOVES,
	DWORKER_REJECTED, /* a peer-id not this worker's, an unknown peer, an unexpected kind */
	DWORKER_PEERS,	  /* peers in the table now */
	DWORKER_COUNTER_END
};

struct dworker;

/* Worker index of n_workers, for peer-ids below cap; links of ring_capacity messages. Its loop,
 * wake and links are built, its thread not started. NULL with errno set. */
struct dworker *dworker_new(uint32_t index, uint32_t n_workers, uint32_t cap, size_t ring_capacity)
	__attribute__((warn_unused_result));
/* Starts the thread. main_wake is the main thread's ring_wake, whose drain receives from
 * dworker_inbox() and flushes dworker_outbox(). 0 or -errno. */
int dworker_start(struct dworker *w, struct ring_wake *main_wake)
	__attribute__((warn_unused_result));
/* Gives m to the worker (workerlink_send); before dworker_start too: it then waits for the thread.
 */
enum workerlink_sent dworker_send(struct dworker *w, struct wmsg *m);
/* The main thread's ends: what the worker sends it, and what it sends the worker. */
struct workerlink *dworker_inbox(struct dworker *w);
struct workerlink *dworker_outbox(struct dworker *w);
/* Asks the thread to leave its loop (messages not yet read are dropped with the links) and joins
 * it. A worker never started is left as it is. */
void dworker_stop(struct dworker *w);
/* After dworker_stop: the peers, their objects, the links, the loop. NULL is a no-op. */
void dworker_free(struct dworker *w);

#endif
