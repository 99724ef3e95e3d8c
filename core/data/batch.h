/* SPDX-License-Identifier: MIT */
/*
 * Work done from the event loop in batches, one batch a loop turn, after
 * the turn's events (an ev_prepare): the work never delays a turn's packets
 * by more than a batch. While work remains after a batch, an ev_idle keeps
 * the loop from waiting for events, so the rest goes on at the next turn at
 * once, not at the next packet or timer (which may be a second away).
 */
#ifndef MOONVPN_BATCH_H
#define MOONVPN_BATCH_H

#include <ev.h>
#include <stdbool.h>

/* Does one batch of ctx's work; returns whether work remains. */
typedef bool (*batch_fn)(void *ctx);

struct batch {
	struct ev_loop *loop;
	ev_prepare prepare;
	ev_idle idle;
	batch_fn run;
	void *ctx;
};

void batch_init(struct batch *b, struct ev_loop *loop, batch_fn run, void *ctx);

/* There is work: a batch runs before the loop waits again. */
void batch_wake(struct batch *b);

/* Stops the watchers (before b is freed). */
void batch_stop(struct batch *b);

#endif
