/* SPDX-License-Identifier: MIT */
/*
 * IP packets as the policy sees them: the flow a packet belongs to
 * (addresses, L4 protocol, ports or ICMP type), and the answer to a
 * rejected packet (a TCP reset, or ICMP/ICMPv6 "administratively
 * prohibited") so that the sender fails at once instead of timing out.
 * Pure: no I/O, no allocation; every length is checked.
 */
#ifndef MOONVPN_PACKET_H
#define MOONVPN_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip.h"

enum {
	PACKET_PROTO_ICMP = 1,
	PACKET_PROTO_TCP = 6,
	PACKET_PROTO_UDP = 17,
	PACKET_PROTO_ICMPV6 = 58,
	PACKET_REJECT_MAX = 1280, /* an answer never exceeds the IPv6 minimum MTU */
};

struct packet_flow {
	struct ip_addr src, dst;
	uint8_t proto;	       /* the L4 protocol (after IPv6 extension headers) */
	uint16_t sport, dport; /* TCP and UDP; 0 otherwise */
	int icmp_type;	       /* ICMP and ICMPv6; -1 otherwise */
	bool has_ports;	       /* ports (or the ICMP type) were read: not a later fragment */
	size_t l4_off;	       /* where the L4 header starts */
};

/* Reads the flow of an IPv4 or IPv6 packet; false when it is not a well-formed one. */
bool packet_parse(const uint8_t *ip, size_t len, struct packet_flow *f)
	__attribute__((warn_unused_result));

/*
 * The answer to the rejected packet ip (its flow f): for TCP a reset from
 * the destination, else ICMP (type 3 code 13) or ICMPv6 (type 1 code 1)
 * from `from`, quoting the packet. Writes it to out (PACKET_REJECT_MAX
 * bytes) and returns its length, or 0 when no answer is due: a reset, an
 * ICMP error, or a later fragment are never answered (RFC 1122, RFC 4443).
 */
size_t packet_reject(const uint8_t *ip, size_t len, const struct packet_flow *f,
		     const struct ip_addr *from, uint8_t *out);

/* "tcp", "udp", "icmp" or "icmpv6", or NULL for another protocol number. */
const char *packet_proto_name(uint8_t proto);

/* The Internet checksum (RFC 1071) of data, folded, starting from sum. */
uint16_t packet_checksum(const uint8_t *data, size_t len, uint32_t sum);

#endif
