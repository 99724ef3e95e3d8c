// SPDX-License-Identifier: MIT
/*
 * The single-producer/single-consumer ring: the semantics on one thread
 * (full, empty, partial batches, wrap-around), then two threads passing ten
 * million sequence numbers (order kept, nothing lost or repeated). Built
 * with SANITIZE=thread (make tsan) the threaded case is where
 * ThreadSanitizer would see a race.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "ring.h"
#include "unit.h"

enum {
	STRESS_ITEMS = 10 * 1000 * 1000,
	STRESS_RING = 1024,
	STRESS_BATCH_MAX = 64,
};

static void *item(uintptr_t n)
{
	return (void *)n;
}

static uintptr_t seq(void *p)
{
	return (uintptr_t)p;
}

/* --- one thread ----------------------------------------------------------------- */

static void test_bad_capacity(void)
{
	static const size_t bad[] = { 0, 1, 3, 6, 1000, (size_t)RING_CAPACITY_MAX * 2 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ring *r;

		errno = 0;
		r = ring_new(bad[i]);
		CHECK(!r && errno == EINVAL, "capacity %zu refused", bad[i]);
		ring_free(r);
	}
	ring_free(NULL);
}

/* Pops n and checks they are first, first+1, ... */
static void expect_pop(struct ring *r, size_t want, size_t n, uintptr_t first)
{
	void *out[64];
	size_t got = ring_pop(r, out, want);

	CHECK(got == n, "popped %zu of %zu, wanted %zu", got, want, n);
	for (size_t i = 0; i < got && i < n; i++)
		CHECK(seq(out[i]) == first + i, "item %zu is %zu, not %zu", i, (size_t)seq(out[i]),
		      (size_t)(first + i));
}

static size_t push_seq(struct ring *r, uintptr_t first, size_t n)
{
	void *in[64];

	for (size_t i = 0; i < n; i++)
		in[i] = item(first + i);
	return ring_push(r, in, n);
}

static void test_full_empty_partial(void)
{
	struct ring *r = ring_new(8);
	void *out[1];

	CHECK(r && ring_capacity(r) == 8, "ring of 8");
	if (!r)
		return;
	CHECK(ring_empty(r), "new ring is empty");
	CHECK(ring_pop(r, out, 1) == 0, "nothing to pop");
	CHECK(push_seq(r, 1, 8) == 8, "fills");
	CHECK(!ring_empty(r), "full ring is not empty");
	CHECK(push_seq(r, 9, 1) == 0, "full: nothing goes in");
	expect_pop(r, 3, 3, 1);
	CHECK(push_seq(r, 9, 5) == 3, "partial push: room for 3 of 5");
	expect_pop(r, 64, 8, 4); /* partial pop: 8 of 64 */
	CHECK(ring_empty(r), "drained");
	CHECK(ring_pop(r, out, 1) == 0, "empty again");
	CHECK(push_seq(r, 1, 0) == 0 && ring_pop(r, out, 0) == 0, "zero-sized batches");
	ring_free(r);
}

/* Indices run past the capacity thousands of times; batches straddle the end of the slots. */
static void test_wrap_around(void)
{
	struct ring *r = ring_new(4);
	uintptr_t next_in = 1, next_out = 1;

	if (!r)
		return;
	for (int round = 0; round < 5000; round++) {
		size_t fill = next_in - next_out;
		size_t push = (size_t)round % 4 + 1, pop = (size_t)round * 3 % 4 + 1;
		size_t room = 4 - fill, in = push_seq(r, next_in, push);

		CHECK(in == (push < room ? push : room), "round %d: pushed %zu of %zu", round, in,
		      push);
		next_in += in;
		fill += in;
		expect_pop(r, pop, pop < fill ? pop : fill, next_out);
		next_out += pop < fill ? pop : fill;
	}
	CHECK(next_in > 4 * 1000, "went round many times: %zu", (size_t)next_in);
	ring_free(r);
}

/* --- two threads ---------------------------------------------------------------- */

struct stress {
	struct ring *r;
	uintptr_t items;
	unsigned long full_spins;
};

/* A cheap per-thread generator for batch sizes. */
static size_t next_batch(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return (*state >> 16) % STRESS_BATCH_MAX + 1;
}

static void *producer(void *arg)
{
	struct stress *s = arg;
	uint32_t rnd = 1;
	void *in[STRESS_BATCH_MAX];
	uintptr_t next = 1;

	while (next <= s->items) {
		size_t n = next_batch(&rnd);
		size_t sent;

		if (n > s->items - next + 1)
			n = s->items - next + 1;
		for (size_t i = 0; i < n; i++)
			in[i] = item(next + i);
		/* What did not fit goes again with the next batch's numbers after it. */
		sent = ring_push(s->r, in, n);
		next += sent;
		if (!sent) {
			s->full_spins++;
			sched_yield();
		}
	}
	return NULL;
}

/* The consumer: every number once, in order. Returns the number of mismatches. */
static unsigned long consume(struct stress *s, unsigned long *empty_spins)
{
	uint32_t rnd = 7;
	void *out[STRESS_BATCH_MAX];
	uintptr_t want = 1;
	unsigned long bad = 0;

	while (want <= s->items) {
		size_t n = ring_pop(s->r, out, next_batch(&rnd));

		if (!n) {
			(*empty_spins)++;
			sched_yield();
		}
		for (size_t i = 0; i < n; i++, want++) {
			if (seq(out[i]) != want && bad++ < 5)
				fprintf(stderr, "got %zu, wanted %zu\n", (size_t)seq(out[i]),
					(size_t)want);
		}
	}
	return bad;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_two_threads(void)
{
	struct stress s = { .r = ring_new(STRESS_RING), .items = STRESS_ITEMS };
	unsigned long empty_spins = 0, bad;
	pthread_t t;
	double t0, dt;
	void *last[1];

	if (!s.r)
		return;
	t0 = now_s();
	CHECK(pthread_create(&t, NULL, producer, &s) == 0, "producer thread");
	bad = consume(&s, &empty_spins);
	pthread_join(t, NULL);
	dt = now_s() - t0;
	CHECK(bad == 0, "%lu items out of order or lost", bad);
	CHECK(ring_pop(s.r, last, 1) == 0, "nothing after the last");
	printf("test_ring: %d items in %.2f s, %.1f M items/s (batches 1..%d, ring %d; "
	       "producer found it full %lu times, consumer empty %lu times)\n",
	       STRESS_ITEMS, dt, STRESS_ITEMS / dt / 1e6, STRESS_BATCH_MAX, STRESS_RING,
	       s.full_spins, empty_spins);
	ring_free(s.r);
}

int main(void)
{
	test_bad_capacity();
	test_full_empty_partial();
	test_wrap_around();
	test_two_threads();
	return unit_report("test_ring");
}
