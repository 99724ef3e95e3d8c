/* SPDX-License-Identifier: MIT */
/*
 * What a TAP client's Ethernet frame may carry, judged on its bytes: IP and
 * ARP only from the client's own addresses (or from those a host uses
 * before it has one: 0.0.0.0, :: and IPv6 link-local), and nothing that
 * would speak for another host or for the router. A client's neighbour
 * discovery names only its own addresses (a Neighbour Advertisement's
 * target, the link-layer addresses its options give are the frame's
 * source), it sends no Router Advertisement and no Redirect, ARP is
 * Ethernet/IPv4 with the frame's source as sender, and VLAN-tagged frames
 * (802.1Q, 802.1ad) are refused (what they carry is not checked). Other
 * frame types carry no address of ours and pass. Pure: no I/O, no state;
 * which addresses are the client's the caller says.
 */
#ifndef MOONVPN_TAPCHECK_H
#define MOONVPN_TAPCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip.h"

enum {
	TAP_ETH_HEADER = 14,
	TAP_EXT_HEADERS_MAX = 8, /* IPv6 extension headers walked before a frame is refused */
};

/* Whether a is one of the client's own addresses (its VPN addresses, its subnets). */
typedef bool (*tap_is_own_fn)(const void *ctx, const struct ip_addr *a);

/* Whether the frame (len bytes) may come from a client whose addresses is_own knows. */
bool tapcheck_frame(const uint8_t *frame, size_t len, tap_is_own_fn is_own, const void *ctx);

#endif
