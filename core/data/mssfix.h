/* SPDX-License-Identifier: MIT */
/*
 * TCP MSS clamping, as OpenVPN's --mssfix: a TCP SYN passing through the
 * tunnel has its maximum-segment-size option lowered, so that the peers'
 * full-sized segments, once sealed into data packets, still fit the link
 * unfragmented. With a 1500-byte device MTU the kernel offers an MSS of
 * 1460, and a 1500-byte segment sealed and sent over UDP over IPv4 makes a
 * 1552-byte datagram: IP-fragmented on a 1500-byte link, or lost where DF
 * is set. Stock OpenVPN 2.6 clamps by default (mssfix 1492, counted on the
 * outer IP packet, in options.c and mss.c); a moonvpn peer must do the same
 * or TCP between two moonvpn peers is fragmented.
 * Pure: no I/O, no allocation; every length is checked, and a packet that is
 * not a well-formed TCP SYN is left as it is.
 */
#ifndef MOONVPN_MSSFIX_H
#define MOONVPN_MSSFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	/* OpenVPN 2.6's default: outer IP packets of at most this many bytes. */
	MSSFIX_OUTER_BYTES_DEFAULT = 1492,
	MSSFIX_MSS_MIN = 536, /* RFC 879's default MSS: never clamp below it */
};

/* The MSS limits for segments of each inner family on one link. */
struct mssfix {
	uint16_t mss4, mss6;
};

/*
 * The largest MSS with which a full TCP segment of the inner family
 * (inner_ipv6) makes an outer IP packet of the outer family of at most
 * outer_bytes when sealed into a data packet over UDP, the data format
 * adding data_overhead bytes (DATA_OVERHEAD, or EPOCH_OVERHEAD for 2.7's
 * epoch format); tap adds the Ethernet header a frame carries. Never
 * below MSSFIX_MSS_MIN.
 */
uint16_t mssfix_limit(unsigned outer_bytes, bool outer_ipv6, bool inner_ipv6, bool tap,
		      unsigned data_overhead);

/* Both limits of a link (mssfix_limit for IPv4 and IPv6 inside). */
void mssfix_init(struct mssfix *m, unsigned outer_bytes, bool outer_ipv6, bool tap,
		 unsigned data_overhead);

/*
 * Lowers the MSS option of the TCP SYN in the IPv4 or IPv6 packet ip to at
 * most m's limit for its family, with the TCP checksum updated to match.
 * True when it changed the packet; a packet that is not TCP, not a SYN, a
 * later fragment, an IPv6 packet with extension headers before TCP, or
 * malformed in any length is left untouched (false).
 */
bool mssfix_clamp(const struct mssfix *m, uint8_t *ip, size_t len);

/* mssfix_clamp for the IP packet inside an Ethernet frame (TAP mode). */
bool mssfix_clamp_frame(const struct mssfix *m, uint8_t *frame, size_t len);

#endif
