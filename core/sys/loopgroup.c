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
	/* The owner is about to take the lock: the worker lets it, rather than
	 * taking it back at once after its poll (a mutex is not fair). */
	atomic_bool owner_waits;
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

	pthread_mutex_unlock(&w->lock);
}

static void acquire(struct ev_loop *loop)
{
	struct worker *w = ev_userdata(loop);

	while (atomic_load_explicit(&w->owner_waits, memory_order_acquire))
		sched_yield(); /* a few microseconds: the owner takes the lock next */
	pthread_mutex_lock(&w->lock);
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
	sigset_t all;

	sigfillset(&all); /* the main thread's signals: never stop a worker's system calls */
	pthread_sigmask(SIG_BLOCK, &all, NULL);
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
	for (unsigned k = 0; k < g->n; k++) {
		struct worker *w = &g->w[k];
		int rc;

		if (w->running)
			continue;
		if ((rc = pthread_create(&w->thread, NULL, run, w)) != 0)
			return -rc;
		w->running = true;
	}
	return 0;
}

unsigned loop_group_size(const struct loop_group *g)
{
	return g->n;
}

struct ev_loop *loop_group_loop(const struct loop_group *g, unsigned k)
{
	return g->w[k].loop;
}

void loop_group_park(struct loop_group *g)
{
	if (g->parked)
		return;
	for (unsigned k = 0; k < g->n; k++) {
		struct worker *w = &g->w[k];

		atomic_store_explicit(&w->owner_waits, true, memory_order_release);
		pthread_mutex_lock(&w->lock);
		atomic_store_explicit(&w->owner_waits, false, memory_order_release);
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
