// SPDX-License-Identifier: MIT
/* TCP MSS clamping of SYNs in the tunnel: see mssfix.h. */
#include "bytes.h"
#include "mssfix.h"

enum {
	IPV4_HEADER_MIN = 20,
	IPV6_HEADER_BYTES = 40,
	UDP_HEADER_BYTES = 8,
	TCP_HEADER_MIN = 20,
	ETHER_HEADER_BYTES = 14,
	ETHERTYPE_IPV4 = 0x0800,
	ETHERTYPE_IPV6 = 0x86dd,
	PROTO_TCP = 6,
	TCP_FLAG_SYN = 0x02,
	TCP_OPT_END = 0,
	TCP_OPT_NOP = 1,
	TCP_OPT_MSS = 2,
	TCP_OPT_MSS_LEN = 4,
	TCP_CHECKSUM_OFF = 16,
};

uint16_t mssfix_limit(unsigned outer_bytes, bool outer_ipv6, bool inner_ipv6, bool tap,
		      unsigned data_overhead)
{
	unsigned spent = (outer_ipv6 ? IPV6_HEADER_BYTES : IPV4_HEADER_MIN) + UDP_HEADER_BYTES +
			 data_overhead + (tap ? ETHER_HEADER_BYTES : 0) +
			 (inner_ipv6 ? IPV6_HEADER_BYTES : IPV4_HEADER_MIN) + TCP_HEADER_MIN;

	if (outer_bytes < spent + MSSFIX_MSS_MIN)
		return MSSFIX_MSS_MIN;
	return (uint16_t)(outer_bytes - spent > UINT16_MAX ? UINT16_MAX : outer_bytes - spent);
}

void mssfix_init(struct mssfix *m, unsigned outer_bytes, bool outer_ipv6, bool tap,
		 unsigned data_overhead)
{
	m->mss4 = mssfix_limit(outer_bytes, outer_ipv6, false, tap, data_overhead);
	m->mss6 = mssfix_limit(outer_bytes, outer_ipv6, true, tap, data_overhead);
}

/*
 * The checksum after a 16-bit field changed from old to new (RFC 1624,
 * eqn. 3). A field at an odd offset from the header's start lies across two
 * of the sum's words: it counts with its bytes swapped.
 */
static uint16_t checksum_adjust(uint16_t sum, uint16_t old, uint16_t new, bool odd)
{
	uint32_t s;

	if (odd) {
		old = (uint16_t)(old << 8 | old >> 8);
		new = (uint16_t)(new << 8 | new >> 8);
	}
	s = (uint16_t)~sum + (uint32_t)(uint16_t)~old + new;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The TCP segment tcp (len bytes): its SYN's MSS option lowered to mss. */
static bool clamp_tcp(uint8_t *tcp, size_t len, uint16_t mss)
{
	size_t hlen, off;

	if (len < TCP_HEADER_MIN || !(tcp[13] & TCP_FLAG_SYN))
		return false;
	hlen = (size_t)(tcp[12] >> 4) * 4;
	if (hlen < TCP_HEADER_MIN || hlen > len)
		return false;
	for (off = TCP_HEADER_MIN; off < hlen;) {
		uint8_t kind = tcp[off], optlen;

		if (kind == TCP_OPT_END)
			return false;
		if (kind == TCP_OPT_NOP) {
			off++;
			continue;
		}
		if (off + 2 > hlen || (optlen = tcp[off + 1]) < 2 || off + optlen > hlen)
			return false;
		if (kind == TCP_OPT_MSS && optlen == TCP_OPT_MSS_LEN) {
			uint16_t old = get16(tcp + off + 2);

			if (old <= mss)
				return false;
			put16(tcp + off + 2, mss);
			put16(tcp + TCP_CHECKSUM_OFF, checksum_adjust(get16(tcp + TCP_CHECKSUM_OFF),
								      old, mss, (off + 2) & 1));
			return true;
		}
		off += optlen;
	}
	return false;
}

static bool clamp_ipv4(uint8_t *ip, size_t len, uint16_t mss)
{
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4, total;

	if (len < IPV4_HEADER_MIN || ihl < IPV4_HEADER_MIN || ihl > len)
		return false;
	total = get16(ip + 2);
	/* Only a whole packet or a first fragment (offset 0) holds the TCP
	 * header; the checksum's update is right for a part of the segment too. */
	if (total < ihl || total > len || ip[9] != PROTO_TCP || (get16(ip + 6) & 0x1fff))
		return false;
	return clamp_tcp(ip + ihl, total - ihl, mss);
}

static bool clamp_ipv6(uint8_t *ip, size_t len, uint16_t mss)
{
	size_t payload;

	if (len < IPV6_HEADER_BYTES || ip[6] != PROTO_TCP)
		return false;
	payload = get16(ip + 4);
	if (payload > len - IPV6_HEADER_BYTES)
		return false;
	return clamp_tcp(ip + IPV6_HEADER_BYTES, payload, mss);
}

bool mssfix_clamp(const struct mssfix *m, uint8_t *ip, size_t len)
{
	if (len < 1)
		return false;
	switch (ip[0] >> 4) {
	case 4:
		return clamp_ipv4(ip, len, m->mss4);
	case 6:
		return clamp_ipv6(ip, len, m->mss6);
	default:
		return false;
	}
}

bool mssfix_clamp_frame(const struct mssfix *m, uint8_t *frame, size_t len)
{
	uint16_t type;

	if (len <= ETHER_HEADER_BYTES)
		return false;
	type = get16(frame + 12);
	/* The frame's type and the packet's version must agree. */
	if ((type != ETHERTYPE_IPV4 || frame[ETHER_HEADER_BYTES] >> 4 != 4) &&
	    (type != ETHERTYPE_IPV6 || frame[ETHER_HEADER_BYTES] >> 4 != 6))
		return false;
	return mssfix_clamp(m, frame + ETHER_HEADER_BYTES, len - ETHER_HEADER_BYTES);
}
