// SPDX-License-Identifier: MIT
/*
 * The workers' threads (loopgroup.h): each runs its own loop, and only
 * while the owner's loop sleeps. Two workers read a pipe each that a writer
 * thread fills all along; every callback adds to a counter that only the
 * owner reads and writes while the group is parked (so ThreadSanitizer,
 * make tsan, would report a worker running while parked as a race). Parked,
 * the counters stand still however long the owner waits; unparked, they
 * move; watchers the owner starts on a parked worker's loop work once it
 * runs; each callback knows its worker (loop_group_current) and the owner
 * is none. Freeing stops the threads whether parked or not.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loopgroup.h"
#include "unit.h"

enum { WORKERS = 2 };

struct reader {
	ev_io io;
	int fd;
	unsigned long reads; /* the worker's, read by the owner while parked */
	int seen_as;	     /* loop_group_current() in the callback */
	bool timer_fired;
	ev_timer timer;
};

static struct reader readers[WORKERS];
static int writers[WORKERS];
static atomic_bool writing;

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct reader *r = w->data;
	char buf[256];

	(void)loop;
	(void)revents;
	while (read(r->fd, buf, sizeof(buf)) > 0)
		r->reads++;
	r->seen_as = loop_group_current();
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct reader *r = w->data;

	(void)loop;
	(void)revents;
	r->timer_fired = true;
}

static void *write_all_along(void *arg)
{
	(void)arg;
	while (atomic_load(&writing)) {
		for (int k = 0; k < WORKERS; k++)
			(void)!write(writers[k], "x", 1);
		usleep(200);
	}
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static unsigned long total_reads(void)
{
	unsigned long n = 0;

	for (int k = 0; k < WORKERS; k++)
		n += readers[k].reads;
	return n;
}

static void watch_pipes(struct loop_group *g)
{
	for (int k = 0; k < WORKERS; k++) {
		int p[2];

		CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
		readers[k].fd = p[0];
		readers[k].seen_as = -2;
		writers[k] = p[1];
		ev_io_init(&readers[k].io, on_read, p[0], EV_READ);
		readers[k].io.data = &readers[k];
		ev_io_start(loop_group_loop(g, (unsigned)k), &readers[k].io);
	}
}

static void unwatch_pipes(struct loop_group *g)
{
	for (int k = 0; k < WORKERS; k++) {
		ev_io_stop(loop_group_loop(g, (unsigned)k), &readers[k].io);
		ev_timer_stop(loop_group_loop(g, (unsigned)k), &readers[k].timer);
		close(readers[k].fd);
		close(writers[k]);
	}
}

static void test_parked_means_stopped(void)
{
	struct loop_group *g = loop_group_new(WORKERS);
	pthread_t writer;
	unsigned long before, after;

	CHECK(g != NULL, "a group of %d: %s", WORKERS, strerror(errno));
	if (!g)
		return;
	CHECK(loop_group_size(g) == WORKERS, "its size");
	CHECK(loop_group_current() == -1, "the owner is no worker");
	watch_pipes(g);
	atomic_store(&writing, true);
	CHECK(pthread_create(&writer, NULL, write_all_along, NULL) == 0, "writer");
	CHECK(loop_group_start(g) == 0, "threads started");
	sleep_ms(50);
	CHECK(total_reads() == 0, "started, but parked: nothing read (%lu)", total_reads());
	for (int round = 0; round < 20; round++) {
		loop_group_unpark(g);
		sleep_ms(5);
		loop_group_park(g);
		before = total_reads();
		sleep_ms(5);
		after = total_reads();
		CHECK(before == after, "round %d: parked, the counters stand still", round);
	}
	CHECK(total_reads() > 0, "unparked, the workers read (%lu)", total_reads());
	for (int k = 0; k < WORKERS; k++) {
		CHECK(readers[k].reads > 0, "worker %d read", k);
		CHECK(readers[k].seen_as == k, "worker %d's callback ran as %d", k,
		      readers[k].seen_as);
		/* A watcher started by the owner while the worker is parked. */
		ev_timer_init(&readers[k].timer, on_timer, 0.001, 0.);
		readers[k].timer.data = &readers[k];
		ev_timer_start(loop_group_loop(g, (unsigned)k), &readers[k].timer);
	}
	loop_group_unpark(g);
	sleep_ms(50);
	loop_group_park(g);
	for (int k = 0; k < WORKERS; k++)
		CHECK(readers[k].timer_fired, "worker %d ran the owner's timer", k);
	atomic_store(&writing, false);
	pthread_join(writer, NULL);
	unwatch_pipes(g);
	loop_group_free(g); /* parked */
}

static void test_free(void)
{
	struct loop_group *g = loop_group_new(3);

	CHECK(g != NULL, "a group of 3");
	if (!g)
		return;
	CHECK(loop_group_start(g) == 0, "started");
	loop_group_unpark(g);
	sleep_ms(10);
	loop_group_free(g); /* running */
	g = loop_group_new(1);
	CHECK(g != NULL, "a group of 1");
	loop_group_free(g); /* never started */
	CHECK(loop_group_new(0) == NULL && errno == EINVAL, "none refused");
	CHECK(loop_group_new(LOOP_GROUP_MAX + 1) == NULL && errno == EINVAL, "too many refused");
}

static double elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e9 + (double)(b->tv_nsec - a->tv_nsec);
}

/*
 * What parking costs the owner (printed, not judged): with idle workers, an
 * unpark and park cycle; with workers kept busy by the pipes' writer, how
 * long a park waits for them to end their turns.
 */
static void measure_parking(void)
{
	enum { CYCLES = 20000, BUSY_CYCLES = 2000 };
	struct loop_group *g = loop_group_new(WORKERS);
	struct timespec a, b;
	double idle_ns, busy_ns = 0;
	pthread_t writer;

	if (!g || loop_group_start(g) < 0) {
		CHECK(false, "a group to measure");
		loop_group_free(g);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < CYCLES; i++) {
		loop_group_unpark(g);
		loop_group_park(g);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	idle_ns = elapsed_ns(&a, &b) / CYCLES;
	watch_pipes(g);
	atomic_store(&writing, true);
	CHECK(pthread_create(&writer, NULL, write_all_along, NULL) == 0, "writer");
	for (int i = 0; i < BUSY_CYCLES; i++) {
		loop_group_unpark(g);
		sleep_ms(0); /* a yield: the workers take their turns */
		usleep(100);
		clock_gettime(CLOCK_MONOTONIC, &a);
		loop_group_park(g);
		clock_gettime(CLOCK_MONOTONIC, &b);
		busy_ns += elapsed_ns(&a, &b);
	}
	atomic_store(&writing, false);
	pthread_join(writer, NULL);
	printf("test_loopgroup: %d workers: an unpark and park while idle %.2f us; a park of busy "
	       "workers %.1f us\n",
	       WORKERS, idle_ns / 1000, busy_ns / BUSY_CYCLES / 1000);
	unwatch_pipes(g);
	loop_group_free(g);
}

int main(void)
{
	test_parked_means_stopped();
	test_free();
	measure_parking();
	return unit_report("test_loopgroup");
}
