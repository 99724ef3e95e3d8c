// SPDX-License-Identifier: MIT
#include <string.h>
#include <sys/socket.h>

#include "tapcheck.h"

enum {
	ETH_TYPE_IPV4 = 0x0800,
	ETH_TYPE_ARP = 0x0806,
	ETH_TYPE_VLAN = 0x8100,	    /* 802.1Q */
	ETH_TYPE_QINQ = 0x88a8,	    /* 802.1ad */
	ETH_TYPE_QINQ_OLD = 0x9100, /* the tag used for 802.1ad before it was one */
	ETH_TYPE_IPV6 = 0x86dd,
	MAC_BYTES = 6,
	ARP_IPV4_LEN = 28, /* Ethernet and IPv4 (RFC 826) */
	ARP_HTYPE_ETHERNET = 1,
	IPV4_HEADER = 20,
	IPV6_HEADER = 40,
	IP6_NEXT_HOPOPTS = 0,
	IP6_NEXT_ROUTING = 43,
	IP6_NEXT_FRAGMENT = 44,
	IP6_NEXT_ICMPV6 = 58,
	IP6_NEXT_DSTOPTS = 60,
	ND_ROUTER_SOLICIT = 133,
	ND_ROUTER_ADVERT = 134,
	ND_NEIGHBOR_SOLICIT = 135,
	ND_NEIGHBOR_ADVERT = 136,
	ND_REDIRECT = 137,
	ND_OPT_SOURCE_LLADDR = 1,
	ND_OPT_TARGET_LLADDR = 2,
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static bool is_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static bool is_link_local6(const uint8_t *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static bool own(tap_is_own_fn is_own, const void *ctx, int family, const uint8_t *bytes)
{
	struct ip_addr a = { .family = family };

	memcpy(a.bytes, bytes, family == AF_INET ? 4 : 16);
	return is_own(ctx, &a);
}

/* ARP for IPv4 over Ethernet, its sender the frame's source, from 0.0.0.0 (a probe) or its own. */
static bool arp_ok(const uint8_t *frame, const uint8_t *arp, size_t n, tap_is_own_fn is_own,
		   const void *ctx)
{
	if (n < ARP_IPV4_LEN || be16(arp) != ARP_HTYPE_ETHERNET || be16(arp + 2) != ETH_TYPE_IPV4 ||
	    arp[4] != MAC_BYTES || arp[5] != 4)
		return false;
	if (memcmp(arp + 8, frame + 6, MAC_BYTES) != 0)
		return false; /* would point the server's cache for its address at another host */
	return is_zero(arp + 14, 4) || own(is_own, ctx, AF_INET, arp + 14);
}

/* The link-layer address options of a neighbour discovery message: each the frame's source. */
static bool nd_options_ok(const uint8_t *frame, const uint8_t *opt, size_t n)
{
	while (n >= 2) {
		size_t len = (size_t)opt[1] * 8;

		if (len == 0 || len > n)
			return false; /* RFC 4861 4.6: a zero length is invalid */
		if ((opt[0] == ND_OPT_SOURCE_LLADDR || opt[0] == ND_OPT_TARGET_LLADDR) &&
		    (len < 2 + MAC_BYTES || memcmp(opt + 2, frame + 6, MAC_BYTES) != 0))
			return false;
		opt += len;
		n -= len;
	}
	return n == 0;
}

/*
 * An ICMPv6 message (n bytes at m) from a client: no router's messages (RA,
 * Redirect), and neighbour discovery only for itself.
 */
static bool icmp6_ok(const uint8_t *frame, const uint8_t *m, size_t n, tap_is_own_fn is_own,
		     const void *ctx)
{
	if (n < 4)
		return false;
	switch (m[0]) {
	case ND_ROUTER_ADVERT:
	case ND_REDIRECT:
		return false;
	case ND_ROUTER_SOLICIT:
		return n >= 8 && nd_options_ok(frame, m + 8, n - 8);
	case ND_NEIGHBOR_SOLICIT: /* any target: asking is harmless; the source is checked */
		return n >= 24 && nd_options_ok(frame, m + 24, n - 24);
	case ND_NEIGHBOR_ADVERT: /* its own target only: else it takes that address's traffic */
		return n >= 24 && (is_link_local6(m + 8) || own(is_own, ctx, AF_INET6, m + 8)) &&
		       nd_options_ok(frame, m + 24, n - 24);
	default:
		return true;
	}
}

/*
 * The upper layer of an IPv6 packet (n bytes at ip, the header checked),
 * past its extension headers: ICMPv6 is checked wherever it starts, so
 * neighbour discovery cannot hide behind options or in a first fragment.
 */
static bool ipv6_payload_ok(const uint8_t *frame, const uint8_t *ip, size_t n, tap_is_own_fn is_own,
			    const void *ctx)
{
	uint8_t next = ip[6];
	size_t off = IPV6_HEADER;

	for (int k = 0; k < TAP_EXT_HEADERS_MAX; k++) {
		if (next == IP6_NEXT_ICMPV6)
			return icmp6_ok(frame, ip + off, n - off, is_own, ctx);
		if (next == IP6_NEXT_FRAGMENT) {
			if (n - off < 8)
				return false;
			if (be16(ip + off + 2) & 0xfff8)
				return true; /* not the first fragment: no header of ours in it */
			next = ip[off];
			off += 8;
			continue;
		}
		if (next != IP6_NEXT_HOPOPTS && next != IP6_NEXT_ROUTING &&
		    next != IP6_NEXT_DSTOPTS)
			return true; /* TCP, UDP, ...: no address of ours inside */
		if (n - off < 8 || n - off < ((size_t)ip[off + 1] + 1) * 8)
			return false;
		next = ip[off];
		off += ((size_t)ip[off + 1] + 1) * 8;
	}
	return false; /* more extension headers than any host sends */
}

bool tapcheck_frame(const uint8_t *frame, size_t len, tap_is_own_fn is_own, const void *ctx)
{
	const uint8_t *l3 = frame + TAP_ETH_HEADER;
	size_t n;
	uint16_t type;

	if (len < TAP_ETH_HEADER)
		return false;
	n = len - TAP_ETH_HEADER;
	type = be16(frame + 12);
	switch (type) {
	case ETH_TYPE_VLAN:
	case ETH_TYPE_QINQ:
	case ETH_TYPE_QINQ_OLD:
		return false; /* a tag would carry a frame past these checks */
	case ETH_TYPE_ARP:
		return arp_ok(frame, l3, n, is_own, ctx);
	case ETH_TYPE_IPV4:
		if (n < IPV4_HEADER || l3[0] >> 4 != 4)
			return false;
		return is_zero(l3 + 12, 4) || own(is_own, ctx, AF_INET, l3 + 12);
	case ETH_TYPE_IPV6:
		if (n < IPV6_HEADER || l3[0] >> 4 != 6)
			return false;
		if (!is_zero(l3 + 8, 16) && !is_link_local6(l3 + 8) &&
		    !own(is_own, ctx, AF_INET6, l3 + 8))
			return false;
		return ipv6_payload_ok(frame, l3, n, is_own, ctx);
	default:
		return true; /* carries no address of ours */
	}
}
