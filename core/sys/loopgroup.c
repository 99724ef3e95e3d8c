// SPDX-License-Identifier: MIT
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "loopgroup.h"

struct worker {
	struct loop_group *g;
	unsigned index;
	struct ev_loop *loop;
	pthread_t thread;
	bool running; /* the thread was started (and is not joined yet) */
	pthread_mutex_t lock;
	/* A mutex is not fair, so each side says when it waits for the lock. The
	 * owner is about to take it: the worker lets it, rather than taking it
	 * back at once after its poll. The worker's poll returned and it waits:
	 * the owner lets it have one turn (turns counts them) before it parks it,
	 * so a busy owner cannot starve the workers. */
	atomic_bool owner_waits, worker_waits;
	atomic_uint turns;
	atomic_bool stop;
	ev_async wake;
};

struct loop_group {
	unsigned n;
	bool parked; /* the owner holds every lock */
	struct worker *w;
};

static _Thread_local int current = -1;

int loop_group_current(void)
{
	return current;
}

static void release(struct ev_loop *loop)
{
	struct worker *w = ev_userdata(loop);

	atomic_fetch_add_explicit(&w->turns, 1, memory_order_release);
	pthread_mutex_unlock(&w->lock);
}

static void acquire(struct ev_loop *loop)
{
	struct worker *w = ev_userdata(loop);

	while (atomic_load_explicit(&w->owner_waits, memory_order_acquire))
		sched_yield(); /* a few microseconds: the owner takes the lock next */
	atomic_store_explicit(&w->worker_waits, true, memory_order_release);
	pthread_mutex_lock(&w->lock);
	atomic_store_explicit(&w->worker_waits, false, memory_order_release);
}

static void on_wake(struct ev_loop *loop, ev_async *a, int revents)
{
	struct worker *w = a->data;

	(void)revents;
	if (atomic_load_explicit(&w->stop, memory_order_acquire))
		ev_break(loop, EVBREAK_ALL);
}

static void *run(void *arg)
{
	struct worker *w = arg;

	current = (int)w->index;
	pthread_mutex_lock(&w->lock); /* the owner's until it first unparks */
	ev_run(w->loop, 0);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int make_worker(struct loop_group *g, unsigned k)
{
	struct worker *w = &g->w[k];

	w->g = g;
	w->index = k;
	if (!(w->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK)))
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	ev_set_userdata(w->loop, w);
	ev_set_loop_release_cb(w->loop, release, acquire);
	ev_async_init(&w->wake, on_wake);
	w->wake.data = w;
	ev_async_start(w->loop, &w->wake); /* and keeps the loop running until the stop */
	pthread_mutex_lock(&w->lock);	   /* parked from the start */
	return 0;
}

struct loop_group *loop_group_new(unsigned n)
{
	struct loop_group *g;
	int rc = 0;

	if (n < 1 || n > LOOP_GROUP_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if (!(g = calloc(1, sizeof(*g))) || !(g->w = calloc(n, sizeof(*g->w)))) {
		free(g);
		errno = ENOMEM;
		return NULL;
	}
	g->parked = true;
	for (unsigned k = 0; k < n && rc == 0; k++) {
		g->n = k + 1;
		rc = make_worker(g, k);
	}
	if (rc < 0) {
		loop_group_free(g);
		errno = -rc;
		return NULL;
	}
	return g;
}

int loop_group_start(struct loop_group *g)
{
	sigset_t all, was;
	int rc = 0;

	/* Created with every signal blocked (they inherit the mask): the signals are the main
	 * thread's, and never stop a worker's system calls. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &was);
	for (unsigned k = 0; k < g->n && rc == 0; k++) {
		struct worker *w = &g->w[k];

		if (w->running)
			continue;
		if ((rc = pthread_create(&w->thread, NULL, run, w)) == 0)
			w->running = true;
	}
	pthread_sigmask(SIG_SETMASK, &was, NULL);
	return -rc;
}

unsigned loop_group_size(const struct loop_group *g)
{
	return g->n;
}

struct ev_loop *loop_group_loop(const struct loop_group *g, unsigned k)
{
	return g->w[k].loop;
}

/* The owner: a worker whose poll returned gets its turn first (one, however short). */
static void let_waiting_worker_run(struct worker *w)
{
	unsigned turns = atomic_load_explicit(&w->turns, memory_order_acquire);

	while (atomic_load_explicit(&w->worker_waits, memory_order_acquire) &&
	       atomic_load_explicit(&w->turns, memory_order_acquire) == turns)
		sched_yield();
}

void loop_group_park(struct loop_group *g)
{
	if (g->parked)
		return;
	for (unsigned k = 0; k < g->n; k++)
		let_waiting_worker_run(&g->w[k]);
	/* All at once: no worker starts a new turn while the owner waits for another. */
	for (unsigned k = 0; k < g->n; k++)
		atomic_store_explicit(&g->w[k].owner_waits, true, memory_order_release);
	for (unsigned k = 0; k < g->n; k++) {
		pthread_mutex_lock(&g->w[k].lock);
		atomic_store_explicit(&g->w[k].owner_waits, false, memory_order_release);
	}
	g->parked = true;
}

void loop_group_unpark(struct loop_group *g)
{
	if (!g->parked)
		return;
	g->parked = false;
	for (unsigned k = 0; k < g->n; k++) {
		pthread_mutex_unlock(&g->w[k].lock);
		ev_async_send(g->w[k].loop, &g->w[k].wake);
	}
}

void loop_group_free(struct loop_group *g)
{
	if (!g)
		return;
	for (unsigned k = 0; k < g->n; k++) {
		struct worker *w = &g->w[k];

		if (!w->loop)
			continue;
		if (w->running) {
			atomic_store_explicit(&w->stop, true, memory_order_release);
			if (g->parked)
				pthread_mutex_unlock(&w->lock);
			ev_async_send(w->loop, &w->wake);
			pthread_join(w->thread, NULL);
		} else if (g->parked) {
			pthread_mutex_unlock(&w->lock);
		}
		ev_async_stop(w->loop, &w->wake);
		ev_loop_destroy(w->loop);
		pthread_mutex_destroy(&w->lock);
	}
	free(g->w);
	free(g);
}
