// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine_queues.h"

static void add_stats(const struct devpath *dp, struct devpath_stats *st,
		      struct vnet_gro_stats *gro)
{
	const struct vnet_gro_stats *g = dp->gro ? vnet_gro_stats(dp->gro) : NULL;

	st->reads += dp->stats.reads;
	st->superpackets += dp->stats.superpackets;
	st->writes += dp->stats.writes;
	st->write_errors += dp->stats.write_errors;
	st->dropped_malformed += dp->stats.dropped_malformed;
	if (g) {
		gro->groups += g->groups;
		gro->coalesced += g->coalesced;
		gro->passed += g->passed;
	}
}

void engine_queues_close(struct engine_queues *q)
{
	for (unsigned i = 0; i < q->n; i++) {
		devpath_flush(&q->paths[i]);
		add_stats(&q->paths[i], &q->closed, &q->closed_gro);
		devpath_free(&q->paths[i]);
		close(q->fds[i]);
	}
	free(q->paths);
	free(q->ctxs);
	free(q->fds);
	q->dev = NULL;
	q->paths = NULL;
	q->ctxs = NULL;
	q->fds = NULL;
	q->n = 0;
}

/* Queue i: opened, with its devpath reading it; 0 or -errno with err set (nothing of it left). */
static int open_one(struct engine_queues *q, struct device *dev, struct ev_loop *loop,
		    const struct log *lg, const struct devpath_handlers *h, bool coalesce,
		    char *err, size_t errlen)
{
	struct devpath *dp = &q->paths[q->n];
	struct devpath_handlers mine = *h;
	int fd = device_open_queue(dev, err, errlen);

	if (fd < 0)
		return fd;
	q->ctxs[q->n] = (struct engine_queue_ctx){ h->ctx, q->n };
	mine.ctx = &q->ctxs[q->n];
	if (devpath_init(dp, loop, lg, &mine) < 0 ||
	    devpath_attach_queue(dp, dev, fd, coalesce) < 0) {
		devpath_free(dp);
		close(fd);
		snprintf(err, errlen, "out of memory for the device's queues");
		return -ENOMEM;
	}
	q->fds[q->n++] = fd;
	return 0;
}

int engine_queues_open(struct engine_queues *q, struct device *dev, unsigned n,
		       struct ev_loop *const *loops, const struct log *lg,
		       const struct devpath_handlers *h, bool coalesce, char *err, size_t errlen)
{
	int rc = 0;

	if (q->dev == dev && q->n == n)
		return 0;
	engine_queues_close(q);
	if (!dev || n == 0)
		return 0;
	q->paths = calloc(n, sizeof(*q->paths));
	q->ctxs = calloc(n, sizeof(*q->ctxs));
	q->fds = calloc(n, sizeof(*q->fds));
	if (!q->paths || !q->ctxs || !q->fds) {
		snprintf(err, errlen, "out of memory for the device's queues");
		rc = -ENOMEM;
	}
	while (rc == 0 && q->n < n)
		rc = open_one(q, dev, loops[q->n], lg, h, coalesce, err, errlen);
	if (rc < 0) {
		engine_queues_close(q);
		return rc;
	}
	q->dev = dev;
	return 0;
}

void engine_queues_stats(const struct engine_queues *q, const struct devpath *first,
			 struct devpath_stats *st, struct vnet_gro_stats *gro)
{
	*st = q->closed;
	*gro = q->closed_gro;
	add_stats(first, st, gro);
	for (unsigned i = 0; i < q->n; i++)
		add_stats(&q->paths[i], st, gro);
}

struct devpath *engine_queues_path(struct engine_queues *q, struct devpath *first, uint32_t k)
{
	return q->n ? &q->paths[k % q->n] : first;
}

const struct devpath *engine_queues_first(const struct engine_queues *q, const struct devpath *own)
{
	return q->n ? &q->paths[0] : own;
}

unsigned engine_queues_count(const struct engine_queues *q, const struct devpath *own)
{
	return q->n ? q->n : own->dev != NULL;
}
