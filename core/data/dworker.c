// SPDX-License-Identifier: MIT
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "dworker.h"

enum {
	DWORKER_BATCH = 32, /* messages a drain handles before the loop looks at other events */
	DWORKER_KEYS = 8,   /* key ids 0..7 (the opcode byte's three bits) */
};

/* An owned object and how to release it, as it came in a message's own[]. */
struct owned {
	void *p;
	void (*free)(void *);
};

struct dworker_peer {
	uint32_t peer_id;
	uint8_t keys; /* bit k: key id k installed and not retired */
	struct owned dchan, policy;
};

struct dworker {
	uint32_t index, n_workers, size; /* size: the ids of this worker's class */
	struct dworker_peer **peers;	 /* by peer_id / n_workers */
	struct owned settings;
	uint64_t counters[DWORKER_COUNTER_END];
	struct ev_loop *loop;
	struct ring_wake *wake;
	struct workerlink *to, *from; /* main -> worker, worker -> main */
	atomic_bool stop;
	pthread_t thread;
	bool started;
};

static void owned_release(struct owned *o)
{
	if (o->p && o->free)
		o->free(o->p);
	o->p = NULL;
}

/* Keeps own[i] of m in o, releasing what o held; an empty own[i] keeps o as it is. */
static void owned_replace(struct owned *o, struct wmsg *m, unsigned i)
{
	if (!m->own[i])
		return;
	owned_release(o);
	o->free = m->own_free[i];
	o->p = wmsg_take(m, i);
}

static void peer_free(struct dworker_peer *p)
{
	if (!p)
		return;
	owned_release(&p->dchan);
	owned_release(&p->policy);
	free(p);
}

/* The slot of peer_id in this worker's table, or NULL when the id is not this worker's. */
static struct dworker_peer **slot(struct dworker *w, uint32_t peer_id)
{
	uint32_t i = peer_id / w->n_workers;

	return peer_id % w->n_workers == w->index && i < w->size ? &w->peers[i] : NULL;
}

static void install(struct dworker *w, struct wmsg *m)
{
	struct dworker_peer **s = slot(w, m->peer_id);

	if (!s || m->key_id >= DWORKER_KEYS) {
		w->counters[DWORKER_REJECTED]++;
		return;
	}
	if (!*s) {
		if (!(*s = calloc(1, sizeof(**s)))) {
			w->counters[DWORKER_REJECTED]++;
			return;
		}
		(*s)->peer_id = m->peer_id;
		w->counters[DWORKER_PEERS]++;
	}
	(*s)->keys |= (uint8_t)(1u << m->key_id);
	owned_replace(&(*s)->dchan, m, 0);
	owned_replace(&(*s)->policy, m, 1);
	w->counters[DWORKER_INSTALLS]++;
}

static void retire(struct dworker *w, struct wmsg *m)
{
	struct dworker_peer **s = slot(w, m->peer_id);

	if (!s || !*s || m->key_id >= DWORKER_KEYS) {
		w->counters[DWORKER_REJECTED]++;
		return;
	}
	(*s)->keys &= (uint8_t) ~(1u << m->key_id);
	w->counters[DWORKER_RETIRES]++;
}

static void remove_peer(struct dworker *w, struct wmsg *m)
{
	struct dworker_peer **s = slot(w, m->peer_id);

	if (!s || !*s) {
		w->counters[DWORKER_REJECTED]++;
		return;
	}
	peer_free(*s);
	*s = NULL;
	w->counters[DWORKER_PEERS]--;
	w->counters[DWORKER_REMOVES]++;
}

/* To the main thread, on the worker's thread. */
static void report(struct dworker *w, struct wmsg *m)
{
	if (m)
		(void)workerlink_send(w->from, m);
}

/* The table, in peer-id order, then the counters. */
static void answer_query(struct dworker *w, uint64_t cookie)
{
	struct wmsg *t = wmsg_new(WMSG_TABLE, 0), *c = wmsg_new(WMSG_COUNTERS, 0);
	struct wmsg_peer *rows = calloc(w->counters[DWORKER_PEERS] + 1, sizeof(*rows));

	if (t && rows) {
		for (uint32_t i = 0; i < w->size; i++)
			if (w->peers[i])
				rows[t->count++] = (struct wmsg_peer){ w->peers[i]->peer_id,
								       w->peers[i]->keys };
		t->cookie = cookie;
		t->own[0] = rows;
		t->own_free[0] = free;
		rows = NULL;
	}
	free(rows);
	report(w, t);
	if (c) {
		c->cookie = cookie;
		for (int i = 0; i < DWORKER_COUNTER_END; i++)
			c->counters[i] = w->counters[i];
	}
	report(w, c);
}

static void handle(struct dworker *w, struct wmsg *m)
{
	w->counters[DWORKER_MESSAGES]++;
	switch (m->kind) {
	case WMSG_PEER_INSTALL:
		install(w, m);
		break;
	case WMSG_KEY_RETIRE:
		retire(w, m);
		break;
	case WMSG_PEER_REMOVE:
		remove_peer(w, m);
		break;
	case WMSG_SETTINGS:
		owned_replace(&w->settings, m, 0);
		break;
	case WMSG_QUERY:
		answer_query(w, m->cookie);
		break;
	case WMSG_FLOW_ANSWER: /* no verdict cache in the skeleton yet */
		break;
	default: /* a worker -> main kind: the main thread's mistake */
		w->counters[DWORKER_REJECTED]++;
		break;
	}
	wmsg_free(m);
}

static bool drain(void *ctx)
{
	struct dworker *w = ctx;
	struct wmsg *got[DWORKER_BATCH];
	size_t n;

	if (atomic_load_explicit(&w->stop, memory_order_acquire)) {
		ev_break(w->loop, EVBREAK_ALL);
		return false;
	}
	workerlink_flush(w->from);
	n = workerlink_recv(w->to, got, DWORKER_BATCH);
	for (size_t i = 0; i < n; i++)
		handle(w, got[i]);
	return n == DWORKER_BATCH;
}

/* Not asleep while asked to stop, while messages wait, or while the main thread made room. */
static bool idle(void *ctx)
{
	struct dworker *w = ctx;

	return !atomic_load_explicit(&w->stop, memory_order_acquire) && workerlink_empty(w->to) &&
	       !workerlink_flushable(w->from);
}

struct dworker *dworker_new(uint32_t index, uint32_t n_workers, uint32_t cap, size_t ring_capacity)
{
	struct dworker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	if (!n_workers || index >= n_workers) {
		free(w);
		errno = EINVAL;
		return NULL;
	}
	w->index = index;
	w->n_workers = n_workers;
	w->size = index < cap ? (cap - index + n_workers - 1) / n_workers : 0;
	atomic_init(&w->stop, false);
	w->peers = calloc(w->size ? w->size : 1, sizeof(*w->peers));
	w->to = w->peers ? workerlink_new(ring_capacity) : NULL;
	w->from = w->to ? workerlink_new(ring_capacity) : NULL;
	w->loop = w->from ? ev_loop_new(EVFLAG_AUTO) : NULL;
	w->wake = w->loop ? ring_wake_new(w->loop, drain, idle, w) : NULL;
	if (!w->wake) {
		int e = errno ? errno : ENOMEM;

		dworker_free(w);
		errno = e;
		return NULL;
	}
	return w;
}

static void *run(void *arg)
{
	struct dworker *w = arg;

	ev_run(w->loop, 0);
	return NULL;
}

int dworker_start(struct dworker *w, struct ring_wake *main_wake)
{
	int err;

	workerlink_set_wakes(w->to, w->wake, main_wake);
	workerlink_set_wakes(w->from, main_wake, w->wake);
	err = pthread_create(&w->thread, NULL, run, w);
	w->started = err == 0;
	return -err;
}

enum workerlink_sent dworker_send(struct dworker *w, struct wmsg *m)
{
	return workerlink_send(w->to, m);
}

struct workerlink *dworker_inbox(struct dworker *w)
{
	return w->from;
}

struct workerlink *dworker_outbox(struct dworker *w)
{
	return w->to;
}

void dworker_stop(struct dworker *w)
{
	if (!w->started)
		return;
	atomic_store_explicit(&w->stop, true, memory_order_release);
	ring_wake_signal(w->wake);
	pthread_join(w->thread, NULL);
	w->started = false;
}

void dworker_free(struct dworker *w)
{
	if (!w)
		return;
	dworker_stop(w);
	for (uint32_t i = 0; w->peers && i < w->size; i++)
		peer_free(w->peers[i]);
	free(w->peers);
	owned_release(&w->settings);
	ring_wake_free(w->wake);
	if (w->loop)
		ev_loop_destroy(w->loop);
	workerlink_free(w->to);
	workerlink_free(w->from);
	free(w);
}
