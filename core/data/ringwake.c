// SPDX-License-Identifier: MIT
/*
 * The memory-order argument. The consumer must never sleep while an item
 * waits that no producer will signal. Its last steps before waiting are
 * "set sleeping, then look at the rings"; a producer's are "push (release
 * tail), then look at sleeping". This is the store-then-load pattern that
 * acquire and release alone do not order when the flag is written by a
 * plain store. So every write of sleeping, by either side, is an atomic
 * exchange with acq_rel, and never a plain store:
 *
 * - All exchanges of sleeping are totally ordered (its modification order),
 *   and each reads the value the one before it wrote.
 * - If the consumer's arming exchange comes after a producer's exchange, it
 *   reads a value in the release sequence that producer's exchange heads
 *   (a release sequence runs on through later read-modify-writes by any
 *   thread), so it synchronizes with it: the producer's push happens before
 *   the consumer's look at the rings, which then finds the item.
 * - If the producer's exchange comes after the consumer's arming, it reads
 *   1 (or a later producer's 0, whose producer has then signalled) and the
 *   producer writes the eventfd: the consumer wakes.
 *
 * Either way the item is found. The producer's exchange clears the flag, so
 * one sleep costs at most one eventfd write whatever the number of pushes;
 * the consumer clears it too after every wake-up (an ev_check), so a
 * consumer woken by something else is not signalled for nothing.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ringwake.h"

#define RING_WAKE_LINE 128 /* as ring.c: the flag shares no line with the consumer's state */

struct ring_wake {
	/* Written by producers and the consumer. */
	alignas(RING_WAKE_LINE) atomic_int sleeping;
	atomic_ulong signals;
	/* The consumer's own. */
	alignas(RING_WAKE_LINE) int fd;
	struct ev_loop *loop;
	ev_io io;
	ev_prepare prepare;
	ev_check check;
	ev_idle idle;
	ring_wake_drain_fn drain;
	ring_wake_empty_fn empty;
	void *ctx;
};

static int set_sleeping(struct ring_wake *w, int v)
{
	return atomic_exchange_explicit(&w->sleeping, v, memory_order_acq_rel);
}

/* Before the loop waits: a batch; then either go on without waiting or arm and look again. */
static void on_prepare(struct ev_loop *loop, ev_prepare *p, int revents)
{
	struct ring_wake *w = p->data;

	(void)revents;
	if (w->drain(w->ctx)) {
		ev_idle_start(loop, &w->idle);
		return;
	}
	set_sleeping(w, 1);
	if (!w->empty(w->ctx)) {
		/* Pushed since the batch: not asleep after all; the next turn drains it. */
		set_sleeping(w, 0);
		ev_idle_start(loop, &w->idle);
		return;
	}
	ev_idle_stop(loop, &w->idle);
}

/* After the loop's wait, whatever ended it: awake, no producer need signal. */
static void on_check(struct ev_loop *loop, ev_check *c, int revents)
{
	(void)loop;
	(void)revents;
	set_sleeping(c->data, 0);
}

/* The eventfd was written: empty its count; the next prepare drains. */
static void on_io(struct ev_loop *loop, ev_io *io, int revents)
{
	struct ring_wake *w = io->data;
	eventfd_t count;

	(void)loop;
	(void)revents;
	(void)eventfd_read(w->fd, &count); /* EAGAIN: another wake-up read it first */
}

/* Only its being active matters: the loop polls without waiting. */
static void on_idle(struct ev_loop *loop, ev_idle *i, int revents)
{
	(void)loop;
	(void)i;
	(void)revents;
}

struct ring_wake *ring_wake_new(struct ev_loop *loop, ring_wake_drain_fn drain,
				ring_wake_empty_fn empty, void *ctx)
{
	struct ring_wake *w = aligned_alloc(RING_WAKE_LINE, sizeof(*w));

	if (!w)
		return NULL;
	w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->fd < 0) {
		int e = errno;

		free(w);
		errno = e;
		return NULL;
	}
	atomic_init(&w->sleeping, 0);
	atomic_init(&w->signals, 0);
	w->loop = loop;
	w->drain = drain;
	w->empty = empty;
	w->ctx = ctx;
	ev_io_init(&w->io, on_io, w->fd, EV_READ);
	ev_prepare_init(&w->prepare, on_prepare);
	ev_check_init(&w->check, on_check);
	ev_idle_init(&w->idle, on_idle);
	w->io.data = w->prepare.data = w->check.data = w->idle.data = w;
	ev_io_start(loop, &w->io);
	ev_prepare_start(loop, &w->prepare);
	ev_check_start(loop, &w->check);
	return w;
}

void ring_wake_free(struct ring_wake *w)
{
	if (!w)
		return;
	ev_io_stop(w->loop, &w->io);
	ev_prepare_stop(w->loop, &w->prepare);
	ev_check_stop(w->loop, &w->check);
	ev_idle_stop(w->loop, &w->idle);
	close(w->fd);
	free(w);
}

void ring_wake_signal(struct ring_wake *w)
{
	if (!set_sleeping(w, 0))
		return;
	atomic_fetch_add_explicit(&w->signals, 1, memory_order_relaxed);
	/* Cannot fail short of the count's overflow; a lost write would only be a later wake. */
	(void)eventfd_write(w->fd, 1);
}

unsigned long ring_wake_signals(struct ring_wake *w)
{
	return atomic_load_explicit(&w->signals, memory_order_relaxed);
}
