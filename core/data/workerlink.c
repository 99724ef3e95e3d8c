// SPDX-License-Identifier: MIT
/*
 * Waking a sender whose overflow list waits for room: the sender, finding
 * the ring full, sets sender_waiting and then tries the ring once more; the
 * receiver, after popping, clears it and signals the sender if it was set.
 * Both writes of the flag are acq_rel exchanges (ringwake.c's argument):
 * if the receiver's comes second it reads the sender's 1 and signals; if
 * the sender's comes second it synchronizes with the receiver's, which came
 * after the pop's release of the ring's head, so the sender's retry sees
 * the room. Either way the overflow list moves on.
 *
 * The receiver's signal may come after the sender's last flush but before
 * its loop armed its wake (the signal then writes no eventfd). The
 * receiver cleared the flag before signalling, and the sender's arming
 * exchange comes after the signal's, so it synchronizes with it and its
 * empty() reads the cleared flag: workerlink_flushable() says so and the
 * loop drains again instead of sleeping.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "ring.h"
#include "workerlink.h"

struct workerlink {
	struct ring *ring;
	struct ring_wake *receiver_wake, *sender_wake;
	atomic_int sender_waiting;
	/* The sender's own. */
	struct wmsg *over_head, *over_tail;
	unsigned long over_len;
	struct workerlink_stats stats;
};

struct wmsg *wmsg_new(enum wmsg_kind kind, size_t len)
{
	struct wmsg *m = calloc(1, sizeof(*m) + len);

	if (m) {
		m->kind = kind;
		m->len = len;
	}
	return m;
}

void wmsg_free(struct wmsg *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < WMSG_OWN_MAX; i++)
		if (m->own[i] && m->own_free[i])
			m->own_free[i](m->own[i]);
	free(m);
}

void *wmsg_take(struct wmsg *m, unsigned i)
{
	void *p = m->own[i];

	m->own[i] = NULL;
	return p;
}

bool wmsg_droppable(enum wmsg_kind kind)
{
	return kind == WMSG_COUNTERS || kind == WMSG_CONTROL_PACKET || kind == WMSG_FLOW_QUESTION;
}

const char *wmsg_kind_name(enum wmsg_kind kind)
{
	static const char *const names[WMSG_KIND_END] = {
		[WMSG_PEER_INSTALL] = "install",
		[WMSG_KEY_RETIRE] = "retire",
		[WMSG_PEER_REMOVE] = "remove",
		[WMSG_SETTINGS] = "settings",
		[WMSG_QUERY] = "query",
		[WMSG_FLOW_ANSWER] = "flow-answer",
		[WMSG_FLOAT] = "float",
		[WMSG_KEEPALIVE_TIMEOUT] = "keepalive-timeout",
		[WMSG_COUNTERS] = "counters",
		[WMSG_CONTROL_PACKET] = "control-packet",
		[WMSG_FLOW_QUESTION] = "flow-question",
		[WMSG_TABLE] = "table",
	};

	return kind > 0 && kind < WMSG_KIND_END ? names[kind] : "?";
}

struct workerlink *workerlink_new(size_t capacity)
{
	struct workerlink *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->ring = ring_new(capacity);
	if (!l->ring) {
		int e = errno;

		free(l);
		errno = e;
		return NULL;
	}
	atomic_init(&l->sender_waiting, 0);
	return l;
}

void workerlink_free(struct workerlink *l)
{
	struct wmsg *m;
	void *p;

	if (!l)
		return;
	while (ring_pop(l->ring, &p, 1))
		wmsg_free(p);
	while ((m = l->over_head)) {
		l->over_head = m->next;
		wmsg_free(m);
	}
	ring_free(l->ring);
	free(l);
}

void workerlink_set_wakes(struct workerlink *l, struct ring_wake *receiver,
			  struct ring_wake *sender)
{
	l->receiver_wake = receiver;
	l->sender_wake = sender;
}

static bool push_one(struct workerlink *l, struct wmsg *m)
{
	void *p = m;

	return ring_push(l->ring, &p, 1) == 1;
}

/* The ring is full: ask to be woken when it has room, then look once more (see the top). */
static bool push_or_wait(struct workerlink *l, struct wmsg *m)
{
	if (push_one(l, m))
		return true;
	atomic_exchange_explicit(&l->sender_waiting, 1, memory_order_acq_rel);
	return push_one(l, m);
}

static void wake_receiver(struct workerlink *l)
{
	if (l->receiver_wake)
		ring_wake_signal(l->receiver_wake);
}

bool workerlink_flush(struct workerlink *l)
{
	struct wmsg *m, *next;
	bool moved = false;

	/* next is read before the push: once in the ring, m is the receiver's (it may be freed). */
	while ((m = l->over_head) && (next = m->next, push_or_wait(l, m))) {
		l->over_head = next;
		l->over_len--;
		l->stats.sent++;
		moved = true;
	}
	if (!l->over_head)
		l->over_tail = NULL;
	if (moved)
		wake_receiver(l);
	return !l->over_head;
}

static void enqueue_overflow(struct workerlink *l, struct wmsg *m)
{
	m->next = NULL;
	if (l->over_tail)
		l->over_tail->next = m;
	else
		l->over_head = m;
	l->over_tail = m;
	l->stats.queued++;
	if (++l->over_len > l->stats.queued_max)
		l->stats.queued_max = l->over_len;
}

enum workerlink_sent workerlink_send(struct workerlink *l, struct wmsg *m)
{
	/* Behind a backlog nothing may overtake it: order is kept per link. */
	if (workerlink_flush(l) && push_or_wait(l, m)) {
		l->stats.sent++;
		wake_receiver(l);
		return WORKERLINK_SENT;
	}
	if (wmsg_droppable(m->kind)) {
		wmsg_free(m);
		l->stats.dropped++;
		return WORKERLINK_DROPPED;
	}
	enqueue_overflow(l, m);
	return WORKERLINK_QUEUED;
}

bool workerlink_backlog(struct workerlink *l)
{
	return l->over_head != NULL;
}

bool workerlink_flushable(struct workerlink *l)
{
	return l->over_head && !atomic_load_explicit(&l->sender_waiting, memory_order_acquire);
}

struct workerlink_stats workerlink_stats(const struct workerlink *l)
{
	return l->stats;
}

enum { RECV_CHUNK = 32 };

/* Pops into void pointers and converts each: the ring's slots are void *, out's are not. */
static size_t pop_messages(struct workerlink *l, struct wmsg **out, size_t n)
{
	void *p[RECV_CHUNK];
	size_t got = 0, k;

	do {
		k = ring_pop(l->ring, p, n - got < RECV_CHUNK ? n - got : RECV_CHUNK);
		for (size_t i = 0; i < k; i++)
			out[got + i] = p[i];
		got += k;
	} while (k == RECV_CHUNK && got < n);
	return got;
}

size_t workerlink_recv(struct workerlink *l, struct wmsg **out, size_t n)
{
	size_t got = pop_messages(l, out, n);

	if (got && atomic_exchange_explicit(&l->sender_waiting, 0, memory_order_acq_rel) &&
	    l->sender_wake)
		ring_wake_signal(l->sender_wake);
	return got;
}

bool workerlink_empty(struct workerlink *l)
{
	return ring_empty(l->ring);
}
