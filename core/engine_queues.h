/* SPDX-License-Identifier: MIT */
/*
 * The device's queues for the data-path workers after the first
 * (docs/workers.md): with `workers = N` the device is created with
 * IFF_MULTI_QUEUE, the engine's own devpath reads and writes its first
 * queue, and these N - 1 read and write the others. The kernel spreads the
 * packets it sends out of the device over the queues by flow hash, so each
 * queue must be read. Served on the engine's loop for now; each queue will
 * be a worker's.
 */
#ifndef MOONVPN_ENGINE_QUEUES_H
#define MOONVPN_ENGINE_QUEUES_H

#include "devpath.h"

/* What a queue's handlers get as their ctx: the caller's, and which queue (1 on) read it. */
struct engine_queue_ctx {
	void *owner;
	uint32_t queue;
};

struct engine_queues {
	struct device *dev; /* the device they are queues of; NULL: none open */
	struct devpath *paths;
	struct engine_queue_ctx *ctxs;
	int *fds;
	unsigned n;
	/* What queues closed since had counted (a device recreated on reload): the
	 * totals never go back. */
	struct devpath_stats closed;
	struct vnet_gro_stats closed_gro;
};

/*
 * Opens n queues of dev (a multi_queue device) and reads them with handlers
 * h, whose ctx each queue's handlers get in a struct engine_queue_ctx with
 * the queue's number (1 to n: the first queue, 0, is the caller's own
 * devpath); nothing when they are open for dev already. 0, or -errno with
 * err set and none open.
 */
int engine_queues_open(struct engine_queues *q, struct device *dev, unsigned n,
		       struct ev_loop *loop, const struct log *lg, const struct devpath_handlers *h,
		       bool coalesce, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Writes what they hold, stops reading them and closes them (before device_free). */
void engine_queues_close(struct engine_queues *q);

/* The devpath of queue k (0: first), or first when k is not open. */
struct devpath *engine_queues_path(struct engine_queues *q, struct devpath *first, uint32_t k);

/* first's counters with every queue's added (first: the engine's devpath). */
void engine_queues_stats(const struct engine_queues *q, const struct devpath *first,
			 struct devpath_stats *st, struct vnet_gro_stats *gro);

#endif
