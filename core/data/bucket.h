/* SPDX-License-Identifier: MIT */
/*
 * A token bucket: rate tokens a second, at most burst saved up. Every
 * limit on what a peer may make the server do (resets answered per
 * source, the loop time they may take, on.flow questions and flooded
 * frames per client) is one of these. The caller keeps the clock and the
 * rates, so one bucket costs three words.
 */
#ifndef MOONVPN_BUCKET_H
#define MOONVPN_BUCKET_H

#include <stdbool.h>

struct bucket {
	double tokens, at; /* at: when it was last refilled */
	bool started;	   /* false: never used, and full */
};

/* Adds what b earned since it was last refilled; a bucket never used starts full. */
static inline void bucket_refill(struct bucket *b, double now, double rate, double burst)
{
	if (!b->started) {
		*b = (struct bucket){ burst, now, true };
		return;
	}
	if (now > b->at) {
		b->tokens += (now - b->at) * rate;
		b->at = now;
	}
	if (b->tokens > burst)
		b->tokens = burst;
}

/* Takes one token after refilling b: false when there is none to take. */
static inline bool bucket_take(struct bucket *b, double now, double rate, double burst)
{
	bucket_refill(b, now, rate, burst);
	if (b->tokens < 1)
		return false;
	b->tokens -= 1;
	return true;
}

#endif
