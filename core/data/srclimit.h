/* SPDX-License-Identifier: MIT */
/*
 * Token buckets per source (an IPv4 address or an IPv6 /64), one for each
 * source exactly, never shared: a bucket shared by hash lets a flood from
 * many forged sources drain the bucket of a real client it collides with.
 * The table is bounded (a set-associative cache under a keyed hash); a
 * bucket that has refilled is as good as forgotten, so a new source takes
 * the fullest bucket of its set, and the sources being limited (drained
 * buckets) stay. Pure: no I/O, no allocation, time passed in.
 */
#ifndef MOONVPN_SRCLIMIT_H
#define MOONVPN_SRCLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bucket.h"
#include "siphash.h"

enum {
	SRCLIMIT_SETS = 1024, /* power of two */
	SRCLIMIT_WAYS = 8,    /* sources per set: 8,192 remembered at once */
	SRCLIMIT_SOURCE_MAX = 8,
};

struct srclimit_entry {
	uint8_t src[SRCLIMIT_SOURCE_MAX];
	uint8_t len; /* 0: unused */
	struct bucket bucket;
};

struct srclimit {
	struct siphash_key key;
	double rate, burst; /* tokens a second, and at most saved up */
	struct srclimit_entry e[SRCLIMIT_SETS][SRCLIMIT_WAYS];
};

/* An empty table giving each source rate tokens a second, at most burst saved up. */
void srclimit_init(struct srclimit *l, const struct siphash_key *key, double rate, double burst);

/* Takes a token from src's bucket (len at most SRCLIMIT_SOURCE_MAX) at time now (s). */
bool srclimit_take(struct srclimit *l, const uint8_t *src, size_t len, double now);

#endif
