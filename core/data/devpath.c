// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
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
	if (write(dp->fd, frame, len) < 0) {
		dp->stats.write_errors++;
		log_debug(dp->log, "device", "write of %zu bytes failed: %s", len, strerror(errno));
	}
}

/*
 * Why held groups wait for a timer rather than for the end of the wake-up:
 * a peer that sends one datagram per packet (stock OpenVPN) wakes the loop
 * for every two or three segments, so flushing at each wake-up writes
 * groups of two or three. Each write costs a trip through the kernel's TCP
 * stack, a wake-up of the receiving application and an ACK that comes back
 * through the device to be sealed and sent: per write, not per byte. The
 * kernel's own GRO has the same knob for the same reason (the device's
 * gro_flush_timeout, Documentation/networking/napi.rst): hold a flow's
 * segments a little across polls so that fewer, larger packets go up the
 * stack. A segment with PSH (the end of a sender's write, so interactive
 * traffic), a short one, a full group or any packet of the flow that cannot
 * join still writes the group at once; only the middle of a bulk transfer
 * waits, by DEVPATH_HOLD_NS at most. The timer is a timerfd because
 * libev's epoll timeouts are whole milliseconds.
 *
 * Held groups fill only as fast as the loop reads datagrams, and with a
 * peer that sends one at a time each wake-up found one or two: a poll, a
 * sleep, a context switch and a recvmmsg per datagram. So while groups are
 * held (bulk TCP is flowing) the loop also collects I/O for up to
 * DEVPATH_COLLECT_NS before it polls (libev's ev_set_io_collect_interval:
 * it sleeps what is left of the interval since the last poll), and one poll
 * then brings several datagrams, as the kernel defers a NIC's next
 * interrupt while its NAPI poll keeps finding work (napi_defer_hard_irqs).
 * When nothing is held the interval is 0 again: an idle tunnel answers a
 * ping without it.
 */
static void collect_io(struct devpath *dp, bool on)
{
	dp->collecting = on;
	ev_set_io_collect_interval(dp->loop, on ? (double)DEVPATH_COLLECT_NS / 1e9 : 0.);
}

static void arm_hold(struct devpath *dp)
{
	struct itimerspec its = { .it_value = { .tv_nsec = DEVPATH_HOLD_NS } };

	if (timerfd_settime(dp->hold_fd, 0, &its, NULL) == 0) {
		dp->hold_armed = true;
		collect_io(dp, true);
		return;
	}
	log_debug(dp->log, "device", "cannot arm the coalescing timer: %s", strerror(errno));
	vnet_gro_flush(dp->gro);
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct devpath *dp = w->data;

	(void)loop;
	(void)revents;
	ev_prepare_stop(dp->loop, &dp->flusher);
	if (!dp->gro || !vnet_gro_holding(dp->gro))
		return;
	if (dp->hold_fd < 0)
		vnet_gro_flush(dp->gro);
	else if (!dp->hold_armed)
		arm_hold(dp);
}

static void on_hold_expired(struct ev_loop *loop, ev_io *w, int revents)
{
	struct devpath *dp = w->data;
	uint64_t expirations;

	(void)loop;
	(void)revents;
	if (read(dp->hold_fd, &expirations, sizeof(expirations)) < 0 && errno == EAGAIN)
		return; /* disarmed or re-armed since it became readable */
	dp->hold_armed = false;
	collect_io(dp, false);
	if (dp->gro)
		vnet_gro_flush(dp->gro);
}

static void disarm_hold(struct devpath *dp)
{
	struct itimerspec off = { 0 };

	if (dp->hold_fd >= 0 && dp->hold_armed)
		(void)timerfd_settime(dp->hold_fd, 0, &off, NULL);
	dp->hold_armed = false;
	if (dp->collecting)
		collect_io(dp, false);
}

void devpath_flush(struct devpath *dp)
{
	ev_prepare_stop(dp->loop, &dp->flusher);
	disarm_hold(dp);
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
		ssize_t n = read(dp->fd, dp->buf + at,
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
	dp->buf = malloc(DATA_OVERHEAD + VNET_PACKET_MAX_BYTES + DATA_TAILROOM);
	ev_init(&dp->watcher, on_readable);
	dp->watcher.data = dp;
	ev_prepare_init(&dp->flusher, on_prepare);
	dp->flusher.data = dp;
	/* Without a timerfd every group is written before the loop waits, as if DEVPATH_HOLD_NS
	 * were 0. */
	dp->hold_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (dp->hold_fd < 0)
		log_warn(lg, "device",
			 "cannot make a timerfd, so TCP segments are coalesced per wake-up only");
	ev_io_init(&dp->hold, on_hold_expired, dp->hold_fd, EV_READ);
	dp->hold.data = dp;
	if (dp->hold_fd >= 0)
		ev_io_start(loop, &dp->hold);
	if (dp->hold_fd >= 0)
		ev_unref(loop); /* the timer alone does not keep the loop running */
	return dp->buf ? 0 : -ENOMEM;
}

int devpath_attach(struct devpath *dp, struct device *dev, bool coalesce)
{
	return devpath_attach_queue(dp, dev, dev ? device_fd(dev) : -1, coalesce);
}

int devpath_attach_queue(struct devpath *dp, struct device *dev, int fd, bool coalesce)
{
	devpath_flush(dp);
	ev_io_stop(dp->loop, &dp->watcher);
	vnet_gro_free(dp->gro);
	dp->gro = NULL;
	dp->dev = dev;
	dp->fd = fd;
	dp->vnet = dev && device_vnet(dev);
	if (!dev)
		return 0;
	if (dp->vnet && !(dp->gro = vnet_gro_new(coalesce, write_frame, dp))) {
		dp->dev = NULL;
		return -ENOMEM;
	}
	ev_io_set(&dp->watcher, fd, EV_READ);
	ev_io_start(dp->loop, &dp->watcher);
	return 0;
}

void devpath_free(struct devpath *dp)
{
	ev_io_stop(dp->loop, &dp->watcher);
	ev_prepare_stop(dp->loop, &dp->flusher);
	if (dp->loop && dp->hold_fd >= 0) {
		ev_ref(dp->loop);
		ev_io_stop(dp->loop, &dp->hold);
		close(dp->hold_fd);
	}
	vnet_gro_free(dp->gro);
	free(dp->buf);
	memset(dp, 0, sizeof(*dp));
}
