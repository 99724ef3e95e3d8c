/* SPDX-License-Identifier: MIT */
/*
 * A bounded single-producer/single-consumer ring of pointers, for handing
 * packets (or batch handles) from one data-path thread to another
 * (docs/workers.md). One thread pushes, one thread pops; nothing else may
 * touch a ring while both run. No lock and no allocation after ring_new():
 * a push or a pop is a few plain copies and one release store, and reads
 * the other side's index only when its cached copy says the ring looks full
 * (or empty). The producer's and the consumer's indices live on separate
 * cache lines, so neither side's stores invalidate the line the other
 * writes. The consumer is woken by other means (an ev_async: server_threads.c).
 */
#ifndef MOONVPN_RING_H
#define MOONVPN_RING_H

#include <stdbool.h>
#include <stddef.h>

enum {
	RING_CAPACITY_MIN = 2,
	RING_CAPACITY_MAX = 1 << 24,
};

struct ring;

/* A ring of capacity slots (a power of two within the limits above); NULL with errno set. */
struct ring *ring_new(size_t capacity) __attribute__((warn_unused_result));
/* Neither thread may use the ring any more. NULL is a no-op. */
void ring_free(struct ring *r);
size_t ring_capacity(const struct ring *r);

/* Producer: pushes the first of items, up to n of them, in order; how many went in (0: full). */
size_t ring_push(struct ring *r, void *const *items, size_t n);

/* Consumer: pops up to n items into items, oldest first; how many came out (0: empty). */
size_t ring_pop(struct ring *r, void **items, size_t n);

/* Consumer: whether nothing is waiting, as of now (reads the producer's index). */
bool ring_empty(struct ring *r);

#endif
