// SPDX-License-Identifier: MIT
/*
 * A packet loop's dataplane (server_impl.h, docs/workers.md): its scratch,
 * its UDP socket with its receive and send batches, and its counters. The
 * server has one for each worker; the first is its own loop's, whose socket
 * also takes the control packets (steer.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compframe.h"
#include "server_impl.h"
#include "vnet.h"

/* The lane's buffers, each with room for a packet of the largest size and its header. */
static int lane_init(struct server_lane *l, bool tap)
{
	size_t size = DATA_OVERHEAD + COMPFRAME_HEAD_MAX + VNET_PACKET_MAX_BYTES + DATA_TAILROOM;

	l->segment = malloc(size);
	l->framed = malloc(size);
	l->inflated = malloc(size);
	if (tap)
		l->frame_copy = malloc(DATA_OVERHEAD + SERVER_FRAME_MAX + DATA_TAILROOM);
	return l->segment && l->framed && l->inflated && (!tap || l->frame_copy) ? 0 : -1;
}

static void lane_free(struct server_lane *l)
{
	free(l->segment);
	free(l->framed);
	free(l->inflated);
	free(l->frame_copy);
}

/* A bounded number of batches per wake-up, so a flood cannot starve the loop. */
enum { RECEIVES_PER_WAKEUP = 4 };

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dataplane *dp = w->data;
	struct udpio_datagram d;

	(void)loop;
	(void)revents;
	for (int i = 0; i < RECEIVES_PER_WAKEUP; i++) {
		if (udpio_receive(dp->udp_rx, dp->fd) <= 0)
			return;
		while (udpio_rx_next(dp->udp_rx, &d))
			server_handle_datagram(dp->s, dp,
					       &(struct arrival){ d.from, d.from_len, NULL },
					       d.data, d.len);
		if (udpio_rx_drained(dp->udp_rx))
			return; /* the poll says when more comes: no receive that finds nothing */
	}
}

static void on_udp_flush(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct dataplane *dp = w->data;

	(void)revents;
	ev_prepare_stop(loop, w);
	(void)udpio_tx_flush(dp->udp_tx);
}

int dataplane_init(struct dataplane *dp, struct server *s, struct ev_loop *loop, bool tap)
{
	memset(dp, 0, sizeof(*dp));
	dp->s = s;
	dp->loop = loop;
	dp->fd = -1;
	ev_init(&dp->watcher, on_readable);
	dp->watcher.data = dp;
	ev_prepare_init(&dp->udp_flusher, on_udp_flush);
	dp->udp_flusher.data = dp;
	return lane_init(&dp->lane, tap) < 0 ? -ENOMEM : 0;
}

int dataplane_take_socket(struct dataplane *dp, int fd, bool gso, bool gro)
{
	dp->fd = fd;
	udpio_probe(fd, gso, gro, &dp->udp_caps);
	dp->udp_rx = udpio_rx_new(dp->udp_caps.gro);
	dp->udp_tx = dp->udp_rx ? udpio_tx_new(fd, &dp->udp_caps) : NULL;
	if (!dp->udp_tx)
		return -ENOMEM;
	ev_io_set(&dp->watcher, fd, EV_READ);
	return 0;
}

void dataplane_start(struct dataplane *dp)
{
	if (dp->fd >= 0)
		ev_io_start(dp->loop, &dp->watcher);
}

void dataplane_stop(struct dataplane *dp)
{
	ev_io_stop(dp->loop, &dp->watcher);
}

void dataplane_free(struct dataplane *dp)
{
	ev_io_stop(dp->loop, &dp->watcher);
	ev_prepare_stop(dp->loop, &dp->udp_flusher);
	if (dp->udp_tx)
		(void)udpio_tx_flush(dp->udp_tx); /* the RESTART messages to clients */
	if (dp->fd >= 0)
		close(dp->fd);
	udpio_rx_free(dp->udp_rx);
	udpio_tx_free(dp->udp_tx);
	lane_free(&dp->lane);
	memset(dp, 0, sizeof(*dp));
	dp->fd = -1;
}

void dataplane_send(struct dataplane *dp, const struct sockaddr *to, socklen_t to_len,
		    const uint8_t *wire, size_t len)
{
	if (len > UDPIO_SLOT_MAX) {
		(void)udpio_tx_flush(dp->udp_tx);
		(void)!sendto(dp->fd, wire, len, 0, to, to_len);
		return;
	}
	memcpy(udpio_tx_slot(dp->udp_tx), wire, len);
	udpio_tx_commit(dp->udp_tx, to, to_len, len);
	ev_prepare_start(dp->loop, &dp->udp_flusher);
}
