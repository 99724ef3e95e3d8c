/* SPDX-License-Identifier: MIT */
/*
 * Waking a consumer thread's libev loop when a producer thread has pushed
 * into a ring (ring.h) the consumer drains. The producer writes an eventfd
 * only when the consumer has said it is about to sleep, so a busy consumer
 * costs its producers one atomic exchange a push and no system call. One
 * wake may serve several rings with one consumer (a worker's rings from
 * each other worker): any producer that finds the consumer asleep wakes it,
 * and it then drains every ring.
 *
 * On the consumer's loop, before it waits for events, drain() is called
 * (one batch of work, as batch.h does); while it says more remains the
 * loop does not wait. Drain, the eventfd's read and the watchers are the
 * consumer's; ring_wake_signal() is the only call for a producer.
 */
#ifndef MOONVPN_RINGWAKE_H
#define MOONVPN_RINGWAKE_H

#include <ev.h>
#include <stdbool.h>

/* Consumer: takes one batch from the rings; whether more remains. */
typedef bool (*ring_wake_drain_fn)(void *ctx);
/* Consumer: whether every ring is empty now (ring_empty() of each). */
typedef bool (*ring_wake_empty_fn)(void *ctx);

struct ring_wake;

/* On the consumer's thread: the eventfd and the watchers, started. NULL with errno set. */
struct ring_wake *ring_wake_new(struct ev_loop *loop, ring_wake_drain_fn drain,
				ring_wake_empty_fn empty, void *ctx)
	__attribute__((warn_unused_result));
/* On the consumer's thread, once no producer can signal any more. NULL is a no-op. */
void ring_wake_free(struct ring_wake *w);

/* Producer, after a push: wakes the consumer if it sleeps or is about to. */
void ring_wake_signal(struct ring_wake *w);

/* How many times producers wrote the eventfd (a relaxed count, for tests and metrics). */
unsigned long ring_wake_signals(struct ring_wake *w);

#endif
