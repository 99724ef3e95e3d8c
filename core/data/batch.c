// SPDX-License-Identifier: MIT
#include "batch.h"

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct batch *b = w->data;

	(void)loop;
	(void)revents;
	if (b->run(b->ctx))
		ev_idle_start(b->loop, &b->idle); /* more: the loop must not wait for events */
	else
		batch_stop(b);
}

/* Only its being active matters: the loop polls without waiting, then prepares again. */
static void on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

void batch_init(struct batch *b, struct ev_loop *loop, batch_fn run, void *ctx)
{
	b->loop = loop;
	b->run = run;
	b->ctx = ctx;
	ev_prepare_init(&b->prepare, on_prepare);
	b->prepare.data = b;
	ev_idle_init(&b->idle, on_idle);
	b->idle.data = b;
}

void batch_wake(struct batch *b)
{
	ev_prepare_start(b->loop, &b->prepare);
}

void batch_stop(struct batch *b)
{
	ev_prepare_stop(b->loop, &b->prepare);
	ev_idle_stop(b->loop, &b->idle);
}
