/* SPDX-License-Identifier: MIT */
/*
 * Creating a kernel TUN or TAP interface through /dev/net/tun. Owns only the
 * TUNSETIFF step: the returned descriptor is the interface, which is never
 * made persistent, so closing the descriptor makes the kernel remove it. Does
 * not set MTU, addresses, routes or link state (netlink.h does that), does not
 * read or write packets, and never attaches to an interface that already
 * exists, whoever created it, but to add a queue to its caller's own
 * multi-queue interface (tun_open_queue).
 */
#ifndef MOONVPN_TUN_H
#define MOONVPN_TUN_H

#include <net/if.h>
#include <stddef.h>

enum tun_layer {
	TUN_LAYER3, /* TUN: IP packets */
	TUN_LAYER2, /* TAP: Ethernet frames */
};

/* How the interface is created (tun_open) and how its queues must match it (tun_open_queue). */
enum {
	TUN_VNET = 0x1, /* IFF_VNET_HDR: a virtio-net header on every read and write (vnet.h) */
	TUN_MULTI_QUEUE = 0x2, /* IFF_MULTI_QUEUE: more descriptors can be queues of it */
};

/*
 * Creates the interface, without a packet-info header, with the TUN_* flags.
 * An empty name lets the kernel choose one ("tun%d" or "tap%d"). Returns the descriptor
 * (O_NONBLOCK, O_CLOEXEC) and stores the interface's name in actual; on failure returns -errno and
 * writes a one-line message without the device's name into err: -EEXIST when an interface with the
 * requested name exists.
 */
int tun_open(enum tun_layer layer, const char *name, unsigned flags, char actual[IFNAMSIZ],
	     char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Another queue of the multi-queue interface name, which the caller created
 * with tun_open(layer, ..., flags) and keeps open (so that it is the caller's
 * own: only its own descriptor keeps the interface in being). flags must be
 * those given to tun_open: the kernel takes a queue's flags as the
 * interface's. The kernel spreads the packets it sends out of the interface
 * over its queues by flow; a packet written to any queue enters the stack.
 * Closing the descriptor removes the queue. Returns it (O_NONBLOCK,
 * O_CLOEXEC), or -errno with a one-line message in err.
 */
int tun_open_queue(enum tun_layer layer, const char name[IFNAMSIZ], unsigned flags, char *err,
		   size_t errlen) __attribute__((warn_unused_result));

/*
 * Detaches queue fd of a multi-queue interface (TUNSETQUEUE with
 * IFF_DETACH_QUEUE): the kernel sends it no packet any more, and it can
 * neither be read nor written (its poll says error), but it keeps the
 * interface while it is open. 0, or -errno (-EINVAL: one queue, or already
 * detached).
 */
int tun_detach_queue(int fd) __attribute__((warn_unused_result));

#endif
