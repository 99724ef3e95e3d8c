// SPDX-License-Identifier: MIT
/*
 * The memory-order argument. Indices run free (they are never masked when
 * stored; unsigned subtraction gives the fill level across wrap-around) and
 * each has one writer:
 *
 * - tail is written only by the producer. It fills slots [tail, tail+n) and
 *   then stores tail+n with release. The consumer loads tail with acquire,
 *   so the slot writes happen before its reads of those slots.
 * - head is written only by the consumer. It copies slots [head, head+n) out
 *   and then stores head+n with release. The producer loads head with
 *   acquire before it overwrites a slot, so the consumer's reads of a slot
 *   happen before the producer's next write of it.
 *
 * Each side loads its own index relaxed (only it writes it), and keeps a
 * plain copy of the other's last value it saw: the other index only grows,
 * so a stale copy errs on the safe side (the ring looks fuller to the
 * producer, emptier to the consumer) and the real index is read only when
 * the copy does not allow the whole request.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "ring.h"

/* x86-64 and arm64; the adjacent-line prefetcher of x86 pairs lines, hence two. */
#define RING_LINE 128

struct ring {
	/* The producer's line: its index, and its copy of the consumer's. */
	alignas(RING_LINE) _Atomic size_t tail;
	size_t head_seen;
	/* The consumer's line. */
	alignas(RING_LINE) _Atomic size_t head;
	size_t tail_seen;
	/* Read-only after ring_new(): shared by both sides without traffic. */
	alignas(RING_LINE) size_t mask;
	void **slots;
};

static bool power_of_two(size_t n)
{
	return n && !(n & (n - 1));
}

struct ring *ring_new(size_t capacity)
{
	struct ring *r;

	if (!power_of_two(capacity) || capacity < RING_CAPACITY_MIN ||
	    capacity > RING_CAPACITY_MAX) {
		errno = EINVAL;
		return NULL;
	}
	r = aligned_alloc(RING_LINE, sizeof(*r));
	if (!r)
		return NULL;
	r->slots = calloc(capacity, sizeof(*r->slots));
	if (!r->slots) {
		free(r);
		return NULL;
	}
	atomic_init(&r->tail, 0);
	atomic_init(&r->head, 0);
	r->head_seen = 0;
	r->tail_seen = 0;
	r->mask = capacity - 1;
	return r;
}

void ring_free(struct ring *r)
{
	if (!r)
		return;
	free(r->slots);
	free(r);
}

size_t ring_capacity(const struct ring *r)
{
	return r->mask + 1;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

size_t ring_push(struct ring *r, void *const *items, size_t n)
{
	size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	size_t room = ring_capacity(r) - (tail - r->head_seen);

	if (room < n) {
		/* Acquire: the consumer has read the slots it released. */
		r->head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
		room = ring_capacity(r) - (tail - r->head_seen);
	}
	n = min_size(n, room);
	for (size_t i = 0; i < n; i++)
		r->slots[(tail + i) & r->mask] = items[i];
	/* Release: the slots are written before the consumer can see them. */
	if (n)
		atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return n;
}

size_t ring_pop(struct ring *r, void **items, size_t n)
{
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	size_t ready = r->tail_seen - head;

	if (ready < n) {
		/* Acquire: the producer's writes of the slots up to tail are visible. */
		r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
		ready = r->tail_seen - head;
	}
	n = min_size(n, ready);
	for (size_t i = 0; i < n; i++)
		items[i] = r->slots[(head + i) & r->mask];
	/* Release: the slots are read before the producer may overwrite them. */
	if (n)
		atomic_store_explicit(&r->head, head + n, memory_order_release);
	return n;
}

bool ring_empty(struct ring *r)
{
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

	r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
	return r->tail_seen == head;
}
