/* SPDX-License-Identifier: MIT */
/*
 * Creating a kernel TUN or TAP interface through /dev/net/tun. Owns only the
 * TUNSETIFF step: the returned descriptor is the interface, which is never
 * made persistent, so closing the descriptor makes the kernel remove it. Does
 * not set MTU, addresses, routes or link state (netlink.h does that), does not
 * read or write packets, and never attaches to an interface that already
 * exists, whoever created it.
 */
#ifndef MOONVPN_TUN_H
#define MOONVPN_TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

enum tun_layer {
	TUN_LAYER3, /* TUN: IP packets */
	TUN_LAYER2, /* TAP: Ethernet frames */
};

/*
 * Creates the interface, without a packet-info header; with vnet, every read
 * and write carries a virtio-net header instead (IFF_VNET_HDR, see vnet.h).
 * An empty name lets the kernel choose one ("tun%d" or "tap%d"). Returns the descriptor
 * (O_NONBLOCK, O_CLOEXEC) and stores the interface's name in actual; on failure returns -errno and
 * writes a one-line message without the device's name into err: -EEXIST when an interface with the
 * requested name exists.
 */
int tun_open(enum tun_layer layer, const char *name, bool vnet, char actual[IFNAMSIZ], char *err,
	     size_t errlen) __attribute__((warn_unused_result));

#endif
