// SPDX-License-Identifier: MIT
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "worker.h"

struct worker {
	struct ev_loop *loop;
	ev_async wake;
	pthread_mutex_t lock;
	pthread_cond_t work;
	pthread_t threads[WORKER_THREADS];
	size_t n_threads;
	struct worker_job *queue, *queue_tail, *finished;
	size_t queued;
	bool stopping;
};

static void *thread_main(void *arg)
{
	struct worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct worker_job *job;

		while (!w->stopping && !w->queue)
			pthread_cond_wait(&w->work, &w->lock);
		if (w->stopping)
			break;
		job = w->queue;
		w->queue = job->next;
		if (!w->queue)
			w->queue_tail = NULL;
		w->queued--;
		pthread_mutex_unlock(&w->lock);
		job->run(job);
		pthread_mutex_lock(&w->lock);
		job->next = w->finished;
		w->finished = job;
		ev_async_send(w->loop, &w->wake);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Completions, on the loop thread. */
static void on_wake(struct ev_loop *loop, ev_async *a, int revents)
{
	struct worker *w = a->data;
	struct worker_job *job;

	(void)loop;
	(void)revents;
	pthread_mutex_lock(&w->lock);
	job = w->finished;
	w->finished = NULL;
	pthread_mutex_unlock(&w->lock);
	while (job) {
		struct worker_job *next = job->next;

		job->done(job);
		job = next;
	}
}

struct worker *worker_new(struct ev_loop *loop)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->loop = loop;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	ev_async_init(&w->wake, on_wake);
	w->wake.data = w;
	ev_async_start(loop, &w->wake);
	/* The threads take no signal: SIGINT and SIGTERM go to the loop's thread, which a
	 * question on the terminal (ttyask.c) must see interrupted. They inherit this mask. */
	sigset_t all, saved;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	for (; w->n_threads < WORKER_THREADS; w->n_threads++)
		if (pthread_create(&w->threads[w->n_threads], NULL, thread_main, w) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (w->n_threads == 0) {
		worker_free(w);
		return NULL;
	}
	return w;
}

static void cancel_all(struct worker_job *job)
{
	while (job) {
		struct worker_job *next = job->next;

		job->cancelled = true;
		job->done(job);
		job = next;
	}
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->lock);
	for (size_t i = 0; i < w->n_threads; i++)
		pthread_join(w->threads[i], NULL);
	ev_async_stop(w->loop, &w->wake);
	on_wake(w->loop, &w->wake, 0); /* run, but not reported yet */
	cancel_all(w->queue);
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int worker_submit(struct worker *w, struct worker_job *job)
{
	int rc = 0;

	pthread_mutex_lock(&w->lock);
	if (w->queued >= WORKER_QUEUE_MAX) {
		rc = -EAGAIN;
	} else {
		job->cancelled = false;
		job->next = NULL;
		if (w->queue_tail)
			w->queue_tail->next = job;
		else
			w->queue = job;
		w->queue_tail = job;
		w->queued++;
		pthread_cond_signal(&w->work);
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}
