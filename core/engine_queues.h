/* SPDX-License-Identifier: MIT */
/*
 * The device's queues for the data-path workers (docs/workers.md): with
 * `workers = N` the device is created with IFF_MULTI_QUEUE and these N
 * queues are read and written, queue k on worker k's loop; the device's own
 * first queue (the engine's devpath) is detached, so the kernel gives it
 * nothing. The kernel spreads the packets it sends out of the device over
 * the attached queues by flow hash, so each must be read.
 */
#ifndef MOONVPN_ENGINE_QUEUES_H
#define MOONVPN_ENGINE_QUEUES_H

#include "devpath.h"

/* What a queue's handlers get as their ctx: the caller's, and which queue (0 on) read it. */
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
 * Opens n queues of dev (a multi_queue device), queue k read on loops[k]
 * with handlers h, whose ctx each queue's handlers get in a struct
 * engine_queue_ctx with the queue's number k; nothing when they are open
 * for dev already. 0, or -errno with err set and none open.
 */
int engine_queues_open(struct engine_queues *q, struct device *dev, unsigned n,
		       struct ev_loop *const *loops, const struct log *lg,
		       const struct devpath_handlers *h, bool coalesce, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Writes what they hold, stops reading them and closes them (before device_free). */
void engine_queues_close(struct engine_queues *q);

/* The devpath of queue k, or first (the engine's own) when none is open. */
struct devpath *engine_queues_path(struct engine_queues *q, struct devpath *first, uint32_t k);

/* The devpath that shows how the device is read (its vnet header, its device): the first
 * queue's, or own (the engine's) without queues. */
const struct devpath *engine_queues_first(const struct engine_queues *q, const struct devpath *own);
/* The queues read: as many as are open, or own's one (0 without a device). */
unsigned engine_queues_count(const struct engine_queues *q, const struct devpath *own);

/* first's counters (the engine's devpath) with every queue's added. */
void engine_queues_stats(const struct engine_queues *q, const struct devpath *first,
			 struct devpath_stats *st, struct vnet_gro_stats *gro);

#endif
