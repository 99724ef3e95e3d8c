// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datakey.h"
#include "devpath.h"

/* A frame ([virtio-net header] packet) for the device, from the coalescer or passed as is. */
static void write_frame(void *ctx, uint8_t *frame, size_t len)
{
	struct devpath *dp = ctx;

	if (!dp->dev)
		return;
	dp->stats.writes++;
	if (write(device_fd(dp->dev), frame, len) < 0) {
		dp->stats.write_errors++;
		log_debug(dp->log, "device", "write of %zu bytes failed: %s", len, strerror(errno));
	}
}

static void on_flush(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	devpath_flush(w->data);
}

void devpath_flush(struct devpath *dp)
{
	ev_prepare_stop(dp->loop, &dp->flusher);
	if (dp->gro)
		vnet_gro_flush(dp->gro);
}

void devpath_deliver(struct devpath *dp, uint8_t *pkt, size_t len)
{
	if (!dp->vnet) {
		write_frame(dp, pkt, len);
		return;
	}
	vnet_gro_add(dp->gro, pkt, len);
	ev_prepare_start(dp->loop, &dp->flusher);
}

/* One read: a plain packet, a packet whose checksum the kernel left to us, or a superpacket. */
static void handle_read(struct devpath *dp, size_t n)
{
	uint8_t *pkt = dp->buf + DATA_OVERHEAD;
	struct vnet_hdr h;

	dp->stats.reads++;
	if (!dp->vnet) {
		dp->h.packet(dp->h.ctx, dp->buf, n);
		return;
	}
	if (!vnet_hdr_read(pkt - VNET_HDR_LEN, n, &h)) {
		dp->stats.dropped_malformed++;
		return;
	}
	n -= VNET_HDR_LEN;
	if (h.gso_type != VNET_GSO_NONE) {
		dp->stats.superpackets++;
		dp->h.superpacket(dp->h.ctx, &h, pkt, n);
	} else if (vnet_complete_csum(pkt, n, &h) < 0) {
		dp->stats.dropped_malformed++;
	} else {
		dp->h.packet(dp->h.ctx, dp->buf, n);
	}
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct devpath *dp = w->data;
	/* With the header, a read lands right before the packet's headroom ends. */
	size_t at = dp->vnet ? DATA_OVERHEAD - VNET_HDR_LEN : DATA_OVERHEAD;

	(void)loop;
	(void)revents;
	for (int i = 0; i < DEVPATH_READS_PER_WAKEUP && dp->dev; i++) {
		ssize_t n = read(device_fd(dp->dev), dp->buf + at,
				 dp->vnet ? VNET_FRAME_MAX_BYTES : VNET_PACKET_MAX_BYTES);

		if (n <= 0)
			return;
		handle_read(dp, (size_t)n);
	}
}

int devpath_init(struct devpath *dp, struct ev_loop *loop, const struct log *lg,
		 const struct devpath_handlers *h)
{
	memset(dp, 0, sizeof(*dp));
	dp->loop = loop;
	dp->log = lg;
	dp->h = *h;
	dp->buf = malloc(DATA_OVERHEAD + VNET_PACKET_MAX_BYTES);
	ev_init(&dp->watcher, on_readable);
	dp->watcher.data = dp;
	ev_prepare_init(&dp->flusher, on_flush);
	dp->flusher.data = dp;
	return dp->buf ? 0 : -ENOMEM;
}

int devpath_attach(struct devpath *dp, struct device *dev, bool coalesce)
{
	devpath_flush(dp);
	ev_io_stop(dp->loop, &dp->watcher);
	vnet_gro_free(dp->gro);
	dp->gro = NULL;
	dp->dev = dev;
	dp->vnet = dev && device_vnet(dev);
	if (!dev)
		return 0;
	if (dp->vnet && !(dp->gro = vnet_gro_new(coalesce, write_frame, dp))) {
		dp->dev = NULL;
		return -ENOMEM;
	}
	ev_io_set(&dp->watcher, device_fd(dev), EV_READ);
	ev_io_start(dp->loop, &dp->watcher);
	return 0;
}

void devpath_free(struct devpath *dp)
{
	ev_io_stop(dp->loop, &dp->watcher);
	ev_prepare_stop(dp->loop, &dp->flusher);
	vnet_gro_free(dp->gro);
	free(dp->buf);
	memset(dp, 0, sizeof(*dp));
}
