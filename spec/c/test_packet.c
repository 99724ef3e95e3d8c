// SPDX-License-Identifier: MIT
/*
 * Flows of IPv4 and IPv6 packets, and the answers to rejected ones: TCP
 * resets (RFC 9293 3.10.7.1 sequence numbers), ICMP 3/13 and ICMPv6 1/1
 * quoting the packet, checksums that verify, and the packets that must
 * never be answered.
 */
#include <string.h>
#include <sys/socket.h>

#include "packet.h"
#include "unit.h"

static uint8_t pkt[1600], out[PACKET_REJECT_MAX];

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static struct ip_addr addr(const char *text)
{
	struct ip_addr a;

	memset(&a, 0, sizeof(a));
	if (!ip_addr_parse(&a, text))
		CHECK(0, "bad address %s", text);
	return a;
}

/* An IP header from src to dst for l4_len bytes of proto; its length. */
static size_t ip_header(const char *src, const char *dst, int proto, size_t l4_len)
{
	struct ip_addr s = addr(src), d = addr(dst);

	memset(pkt, 0, sizeof(pkt));
	if (s.family == AF_INET) {
		pkt[0] = 0x45;
		put16(pkt + 2, 20 + l4_len);
		pkt[8] = 64;
		pkt[9] = (uint8_t)proto;
		memcpy(pkt + 12, s.bytes, 4);
		memcpy(pkt + 16, d.bytes, 4);
		return 20;
	}
	pkt[0] = 0x60;
	put16(pkt + 4, l4_len);
	pkt[6] = (uint8_t)proto;
	pkt[7] = 64;
	memcpy(pkt + 8, s.bytes, 16);
	memcpy(pkt + 24, d.bytes, 16);
	return 40;
}

static size_t tcp(const char *src, const char *dst, unsigned sport, unsigned dport, uint32_t seq,
		  uint32_t ack, uint8_t flags, size_t payload)
{
	size_t h = ip_header(src, dst, 6, 20 + payload);

	put16(pkt + h, sport);
	put16(pkt + h + 2, dport);
	put32(pkt + h + 4, seq);
	put32(pkt + h + 8, ack);
	pkt[h + 12] = 5 << 4;
	pkt[h + 13] = flags;
	return h + 20 + payload;
}

static size_t udp(const char *src, const char *dst, unsigned sport, unsigned dport, size_t payload)
{
	size_t h = ip_header(src, dst, 17, 8 + payload);

	put16(pkt + h, sport);
	put16(pkt + h + 2, dport);
	put16(pkt + h + 4, 8 + payload);
	return h + 8 + payload;
}

static size_t icmp(const char *src, const char *dst, int type)
{
	size_t h = ip_header(src, dst, strchr(src, ':') ? 58 : 1, 8);

	pkt[h] = (uint8_t)type;
	return h + 8;
}

/* The L4 checksum of an answer verifies (sums to zero with its pseudo-header). */
static bool l4_verifies(const uint8_t *p, size_t len)
{
	bool v4 = p[0] >> 4 == 4;
	size_t h = v4 ? 20 : 40, alen = v4 ? 4 : 16;
	uint8_t proto = v4 ? p[9] : p[6];
	uint32_t sum = proto + (uint32_t)(len - h);

	if (v4 && proto == 1)
		return packet_checksum(p + h, len - h, 0) == 0;
	for (size_t i = 0; i < 2 * alen; i += 2)
		sum += (uint32_t)(p[(v4 ? 12 : 8) + i] << 8 | p[(v4 ? 12 : 8) + i + 1]);
	return packet_checksum(p + h, len - h, sum) == 0;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_tcp_resets(void)
{
	struct ip_addr gw = addr("10.8.0.1");
	struct packet_flow f;
	size_t len, n;

	/* 0: a SYN to port 25 gets RST|ACK acknowledging the SYN. */
	len = tcp("10.8.0.2", "192.0.2.1", 40000, 25, 1000, 0, 0x02, 0);
	CHECK(packet_parse(pkt, len, &f) && f.proto == 6 && f.sport == 40000 && f.dport == 25 &&
		      f.has_ports,
	      "0: parsed");
	n = packet_reject(pkt, len, &f, &gw, out);
	CHECK(n == 40, "0: a 40-byte reset: %zu", n);
	CHECK(memcmp(out + 12, pkt + 16, 4) == 0 && memcmp(out + 16, pkt + 12, 4) == 0,
	      "0: from the destination to the source");
	CHECK(packet_checksum(out, 20, 0) == 0 && l4_verifies(out, n), "0: checksums");
	CHECK(out[20] == pkt[22] && out[21] == pkt[23] && out[22] == pkt[20], "0: ports swapped");
	CHECK(out[33] == 0x14 && get32(out + 24) == 0 && get32(out + 28) == 1001,
	      "0: RST|ACK, ack = seq + 1 for the SYN");
	/* 1: a segment with ACK and 10 bytes gets a bare RST with seq = its ack. */
	len = tcp("10.8.0.2", "192.0.2.1", 40000, 80, 5000, 777, 0x18, 10);
	CHECK(packet_parse(pkt, len, &f), "1: parsed");
	n = packet_reject(pkt, len, &f, &gw, out);
	CHECK(n == 40 && out[33] == 0x04 && get32(out + 24) == 777, "1: RST, seq = ack");
	/* 2: a reset is never answered. */
	len = tcp("10.8.0.2", "192.0.2.1", 40000, 80, 5000, 777, 0x04, 0);
	CHECK(packet_parse(pkt, len, &f) && packet_reject(pkt, len, &f, &gw, out) == 0,
	      "2: no answer to a reset");
	/* 3: IPv6: a SYN with a FIN and 5 bytes. */
	len = tcp("fd00::2", "2001:db8::1", 50000, 443, 0xfffffff0, 0, 0x03, 5);
	CHECK(packet_parse(pkt, len, &f) && f.proto == 6 && f.dport == 443, "3: parsed");
	n = packet_reject(pkt, len, &f, NULL, out);
	CHECK(n == 60 && out[0] >> 4 == 6 && out[6] == 6 && l4_verifies(out, n),
	      "3: an IPv6 reset with its checksum: %zu", n);
	CHECK(get32(out + 48) == 0xfffffff0u + 7, "3: ack covers SYN, FIN and data");
}

static void test_icmp_answers(void)
{
	struct ip_addr gw = addr("10.8.0.1"), gw6 = addr("fd00::1");
	struct packet_flow f;
	size_t len, n;

	/* 4: UDP gets ICMP 3/13 from the gateway, quoting the packet. */
	len = udp("10.8.0.2", "192.0.2.53", 5353, 53, 30);
	CHECK(packet_parse(pkt, len, &f) && f.proto == 17 && f.dport == 53, "4: parsed");
	n = packet_reject(pkt, len, &f, &gw, out);
	CHECK(n == 20 + 8 + len && out[20] == 3 && out[21] == 13, "4: ICMP 3/13: %zu", n);
	CHECK(memcmp(out + 12, gw.bytes, 4) == 0 && memcmp(out + 28, pkt, len) == 0,
	      "4: from the gateway, the packet quoted");
	CHECK(packet_checksum(out, 20, 0) == 0 && l4_verifies(out, n), "4: checksums");
	/* 5: an echo request is answered; an ICMP error is not. */
	len = icmp("10.8.0.2", "192.0.2.1", 8);
	CHECK(packet_parse(pkt, len, &f) && f.icmp_type == 8 &&
		      packet_reject(pkt, len, &f, &gw, out) > 0,
	      "5: echo request answered");
	len = icmp("10.8.0.2", "192.0.2.1", 3);
	CHECK(packet_parse(pkt, len, &f) && packet_reject(pkt, len, &f, &gw, out) == 0,
	      "5: no error about an error");
	/* 6: a long packet is quoted up to 576 bytes in all. */
	len = udp("10.8.0.2", "192.0.2.53", 1, 2, 1200);
	CHECK(packet_parse(pkt, len, &f) && packet_reject(pkt, len, &f, &gw, out) == 576,
	      "6: quote bounded");
	/* 7: IPv6 UDP behind a hop-by-hop header gets ICMPv6 1/1. */
	len = udp("fd00::2", "2001:db8::53", 7, 53, 4);
	memmove(pkt + 48, pkt + 40, len - 40);
	memset(pkt + 40, 0, 8);
	pkt[40] = 17; /* hop-by-hop: next header UDP, length 0 (8 bytes) */
	pkt[6] = 0;
	put16(pkt + 4, len - 40 + 8);
	len += 8;
	CHECK(packet_parse(pkt, len, &f) && f.proto == 17 && f.dport == 53 && f.l4_off == 48,
	      "7: the extension header is skipped");
	n = packet_reject(pkt, len, &f, &gw6, out);
	CHECK(n == 48 + len && out[40] == 1 && out[41] == 1 && l4_verifies(out, n),
	      "7: ICMPv6 1/1 with its checksum: %zu", n);
	CHECK(packet_reject(pkt, len, &f, &gw, out) == 0, "7: not from an IPv4 address");
	/* 8: ICMPv6 echo request answered, ICMPv6 errors not. */
	len = icmp("fd00::2", "2001:db8::1", 128);
	CHECK(packet_parse(pkt, len, &f) && packet_reject(pkt, len, &f, &gw6, out) > 0, "8: echo");
	len = icmp("fd00::2", "2001:db8::1", 1);
	CHECK(packet_parse(pkt, len, &f) && packet_reject(pkt, len, &f, &gw6, out) == 0,
	      "8: error");
	/* 9: nobody in particular (multicast, unspecified) gets no answer. */
	len = udp("224.0.0.251", "10.8.0.9", 5353, 5353, 4);
	CHECK(packet_parse(pkt, len, &f) && packet_reject(pkt, len, &f, &gw, out) == 0,
	      "9: multicast source");
	len = udp("0.0.0.0", "255.255.255.255", 68, 67, 4);
	CHECK(packet_parse(pkt, len, &f) && packet_reject(pkt, len, &f, &gw, out) == 0,
	      "9: unspecified source");
}

static void test_malformed(void)
{
	struct packet_flow f;
	size_t len = udp("10.8.0.2", "192.0.2.53", 1, 2, 4);

	CHECK(!packet_parse(pkt, 0, &f) && !packet_parse(pkt, 19, &f), "10: truncated header");
	CHECK(!packet_parse(pkt, len - 1, &f), "10: total length beyond the buffer");
	pkt[0] = 0x44;
	CHECK(!packet_parse(pkt, len, &f), "10: header length below 20");
	pkt[0] = 0x45;
	put16(pkt + 6, 0x0010); /* a later fragment */
	CHECK(packet_parse(pkt, len, &f) && !f.has_ports && f.dport == 0 &&
		      packet_reject(pkt, len, &f, NULL, out) == 0,
	      "10: a later fragment has no ports and no answer");
	pkt[0] = 0x55;
	CHECK(!packet_parse(pkt, len, &f), "10: not IPv4 or IPv6");
	len = udp("fd00::2", "2001:db8::53", 7, 53, 4);
	CHECK(!packet_parse(pkt, len - 1, &f), "10: IPv6 payload beyond the buffer");
	pkt[6] = 60; /* a destination-options header that runs past the end */
	pkt[41] = 200;
	CHECK(!packet_parse(pkt, len, &f), "10: extension header past the end");
	/* 11: the attacks on port rules (RFC 1858): refused, not passed without ports. */
	len = tcp("10.8.0.2", "192.0.2.1", 1, 22, 0, 0, 0x02, 0);
	put16(pkt + 2, 28); /* a first fragment holding 8 bytes of the TCP header */
	put16(pkt + 6, 0x2000);
	CHECK(!packet_parse(pkt, 28, &f), "11: a tiny first fragment");
	len = tcp("10.8.0.2", "192.0.2.1", 1, 22, 0, 0, 0x02, 0);
	put16(pkt + 6, 0x0001); /* offset 8: over the first fragment's TCP flags */
	CHECK(!packet_parse(pkt, len, &f), "11: a TCP fragment at offset 8");
	{
		size_t h = 40, n = 9;
		uint8_t *p = pkt;

		memset(pkt, 0, sizeof(pkt));
		p[0] = 0x60;
		p[6] = 60;
		for (size_t i = 0; i < n; i++) /* nine destination-options headers, then TCP */
			p[h + 8 * i] = i + 1 < n ? 60 : 6;
		put16(p + 4, 8 * n + 20);
		CHECK(!packet_parse(pkt, 40 + 8 * n + 20, &f),
		      "11: more extension headers than followed");
	}
}

static void test_names(void)
{
	CHECK(strcmp(packet_proto_name(6), "tcp") == 0 &&
		      strcmp(packet_proto_name(58), "icmpv6") == 0 && packet_proto_name(47) == NULL,
	      "protocol names");
}

/* The checksum the slow way: 16-bit big-endian words, as RFC 1071 writes it. */
static uint16_t reference_checksum(const uint8_t *d, size_t len, uint32_t sum)
{
	uint64_t acc = sum;

	for (; len > 1; d += 2, len -= 2)
		acc += (uint32_t)d[0] << 8 | d[1];
	if (len)
		acc += (uint32_t)d[0] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

/* Every length and alignment up to a superpacket, with and without a starting sum. */
static void test_checksum(void)
{
	static uint8_t buf[65536 + 8];
	unsigned bad = 0, seed = 12345;

	for (size_t i = 0; i < sizeof(buf); i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
	memset(buf + 4000, 0xff, 3000); /* long carries */
	for (size_t len = 0; len < 2100; len++)
		for (size_t at = 0; at < 4; at++)
			bad += packet_checksum(buf + at, len, (uint32_t)len * 977u) !=
			       reference_checksum(buf + at, len, (uint32_t)len * 977u);
	bad += packet_checksum(buf + 1, 65535, 0xfffff) !=
	       reference_checksum(buf + 1, 65535, 0xfffff);
	bad += packet_checksum(buf + 3990, 3100, 0) != reference_checksum(buf + 3990, 3100, 0);
	/* All ones: every 64-bit add carries out, the most the high half holds. */
	memset(buf, 0xff, sizeof(buf));
	for (size_t len = 65500; len <= 65536; len++)
		bad += packet_checksum(buf + (len & 7), len, 0xffff) !=
		       reference_checksum(buf + (len & 7), len, 0xffff);
	CHECK(bad == 0, "the checksum matches RFC 1071's 16-bit sum: %u differ", bad);
}

int main(void)
{
	test_checksum();
	test_tcp_resets();
	test_icmp_answers();
	test_malformed();
	test_names();
	return unit_report("test_packet");
}
