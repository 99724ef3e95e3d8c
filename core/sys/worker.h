/* SPDX-License-Identifier: MIT */
/*
 * Worker threads for work that would stall the loop: CPU-heavy jobs such as
 * password hashing (yescrypt costs tens of milliseconds by design). A job
 * runs on a worker thread; its completion runs on the loop thread, woken
 * by an ev_async. The queue is bounded. Nothing else here is shared
 * between threads: a job's run() touches only the job.
 */
#ifndef MOONVPN_WORKER_H
#define MOONVPN_WORKER_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

enum {
	WORKER_THREADS = 2,
	WORKER_QUEUE_MAX = 256, /* jobs waiting for a thread */
};

struct worker_job {
	void (*run)(struct worker_job *job);  /* on a worker thread */
	void (*done)(struct worker_job *job); /* on the loop: after run, or unrun when the
						 worker is freed (then cancelled is set) */
	bool cancelled;
	struct worker_job *next; /* the worker's */
};

struct worker;

struct worker *worker_new(struct ev_loop *loop) __attribute__((warn_unused_result));
/* Stops the threads (a running job finishes first); jobs not done get done() with cancelled. */
void worker_free(struct worker *w);
/* Queues job (the caller keeps it alive until done). 0, or -EAGAIN when the queue is full. */
int worker_submit(struct worker *w, struct worker_job *job) __attribute__((warn_unused_result));

#endif
