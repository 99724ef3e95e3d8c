/* SPDX-License-Identifier: MIT */
/*
 * The device side of the data path. Reads the TUN/TAP device in batches and
 * hands each packet to the server or client; with an offloading TUN device
 * (device.h, vnet.h) a read may be a TSO/USO superpacket of up to 64 KiB,
 * handed over whole so that it is routed and judged once and cut into
 * segments by whoever seals them. The other way, packets the peers sent are
 * written to the device; on an offloading device the TCP segments of one
 * flow are first coalesced into one superpacket (one write for dozens of
 * segments, and one trip through the kernel's TCP stack). A group may wait
 * up to DEVPATH_HOLD_NS for more segments of its flow, across wake-ups,
 * then a timer writes it: nothing waits longer. While groups are held the
 * loop collects I/O for DEVPATH_COLLECT_NS before each poll (devpath.c says
 * why).
 */
#ifndef MOONVPN_DEVPATH_H
#define MOONVPN_DEVPATH_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "log.h"
#include "vnet.h"

enum {
	DEVPATH_READS_PER_WAKEUP = 64, /* so the device cannot starve the loop */
	/*
	 * How long coalesced TCP segments may wait for more of their flow
	 * before they are written; a PSH, a short segment, a full group or
	 * another packet of the flow writes them at once.
	 */
	DEVPATH_HOLD_NS = 200 * 1000,
	/* While segments are held, how long the loop collects I/O before it polls. */
	DEVPATH_COLLECT_NS = 50 * 1000,
};

struct devpath_handlers {
	/* A packet read from the device: len bytes at buf + DATA_OVERHEAD, headroom in front. */
	void (*packet)(void *ctx, uint8_t *buf, size_t len);
	/* A superpacket (its IP packet, with its header h); never called without offloads. */
	void (*superpacket)(void *ctx, const struct vnet_hdr *h, const uint8_t *pkt, size_t len);
	void *ctx;
};

struct devpath_stats {
	uint64_t reads, superpackets; /* reads, and those that carried a superpacket */
	uint64_t writes, write_errors;
	uint64_t dropped_malformed; /* reads whose virtio-net header is not one */
};

struct devpath {
	struct ev_loop *loop;
	const struct log *log;
	struct device *dev; /* NULL: none attached */
	int fd;		    /* the queue of dev read and written: device_fd(), or another */
	bool vnet;	    /* every read and write carries a virtio-net header */
	struct devpath_handlers h;
	ev_io watcher;
	ev_prepare flusher; /* starts the hold timer, or writes at once without one */
	ev_io hold;	    /* the timerfd: the held groups' time is up */
	int hold_fd;	    /* a timerfd, or -1: every group is written before the loop waits */
	bool hold_armed;
	bool collecting;      /* the loop's I/O collect interval is DEVPATH_COLLECT_NS */
	uint8_t *buf;	      /* one read, with DATA_OVERHEAD bytes of headroom */
	struct vnet_gro *gro; /* with vnet */
	struct devpath_stats stats;
};

int devpath_init(struct devpath *dp, struct ev_loop *loop, const struct log *lg,
		 const struct devpath_handlers *h) __attribute__((warn_unused_result));

/*
 * Reads and writes dev from now on (NULL: no device); coalesce asks for TCP
 * coalescing where the device takes superpackets. What was held for the
 * previous device is written to it first. 0, or -ENOMEM.
 */
int devpath_attach(struct devpath *dp, struct device *dev, bool coalesce)
	__attribute__((warn_unused_result));
/* The same for another queue of a multi_queue device (device_open_queue()'s fd, which the caller
 * keeps and closes after detaching). */
int devpath_attach_queue(struct devpath *dp, struct device *dev, int fd, bool coalesce)
	__attribute__((warn_unused_result));

/*
 * Writes a packet from a peer to the device (len bytes at pkt, which has at
 * least VNET_HDR_LEN writable bytes in front of it), or holds it to be
 * coalesced with the next ones of its flow.
 */
void devpath_deliver(struct devpath *dp, uint8_t *pkt, size_t len);

/* Writes what is held. */
void devpath_flush(struct devpath *dp);

void devpath_free(struct devpath *dp);

#endif
