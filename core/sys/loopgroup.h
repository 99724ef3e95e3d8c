/* SPDX-License-Identifier: MIT */
/*
 * A group of threads, each running a libev loop of its own, that run only
 * while their owner's loop sleeps (docs/workers.md): the data-path
 * workers.
 *
 * Each thread holds its own lock except while it polls. The owner takes
 * every lock when its own poll returns (loop_group_park) and gives them
 * back just before it polls again (loop_group_unpark): its loop's acquire
 * and release callbacks (libev's ev_set_loop_release_cb, as the THREADS
 * section of libev's manual describes). So while the owner's callbacks run,
 * every worker is parked between two of its loop turns, holding nothing
 * half-done, and the owner may read and change what the workers use (their
 * watchers too) without a lock or a message of its own; a worker runs while
 * the owner sleeps, and then reads what the owner wrote, never the other
 * way round. A worker takes its lock twice per loop turn, never per packet,
 * and waits for it only when the owner woke.
 *
 * Unparking wakes every loop, so that a worker sees at once what the owner
 * changed (a packet queued on its socket, a watcher started).
 */
#ifndef MOONVPN_LOOPGROUP_H
#define MOONVPN_LOOPGROUP_H

#include <ev.h>
#include <stdbool.h>

enum { LOOP_GROUP_MAX = 256 };

struct loop_group;

/*
 * n workers (1..LOOP_GROUP_MAX) with their loops, parked: the caller holds
 * every lock, as after loop_group_park(). Their threads start with
 * loop_group_start(): the caller may first start watchers on the loops and
 * drop its privileges (capabilities are each thread's own, so a thread
 * started before would keep them). NULL with errno set.
 */
struct loop_group *loop_group_new(unsigned n) __attribute__((warn_unused_result));
/* Starts the threads not started yet (with every signal blocked: they are the main thread's).
 * 0, or -errno (those started stay). */
int loop_group_start(struct loop_group *g) __attribute__((warn_unused_result));
unsigned loop_group_size(const struct loop_group *g);
/* Worker k's loop: the owner starts watchers on it while the group is parked. */
struct ev_loop *loop_group_loop(const struct loop_group *g, unsigned k);

/* The owner: every worker stops at the end of its loop turn; returns once all have. */
void loop_group_park(struct loop_group *g);
/* The owner: every worker may run again, woken. */
void loop_group_unpark(struct loop_group *g);

/* The worker index of the calling thread, or -1 when it is not one of a group's. */
int loop_group_current(void);

/* Stops the threads (parked or not) and frees their loops; the watchers on them must be
 * stopped first. NULL is a no-op. */
void loop_group_free(struct loop_group *g);

#endif
