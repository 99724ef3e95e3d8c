// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the superpacket code. The first byte picks a mode.
 * Split (even): a vnet header and a packet; every segment fits
 * vnet_split_max, their count is the one vnet_split_init gave, their bytes
 * add up to the packet's plus a copy of the headers each, and their IP and
 * L4 checksums verify. Coalesce (odd): a sequence of records, each a packet
 * (optionally with lengths and checksums fixed, or built on the previous
 * packet's headers as the next segment of its flow, so that groups form);
 * every frame emitted is well formed, and the frames hold every packet
 * exactly once: as many segments and as many bytes as went in.
 */
#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "vnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	REC_FIX = 0x01,	 /* fix IP lengths and checksums */
	REC_NEXT = 0x02, /* previous packet's headers, next sequence number, this payload */
	REC_HDR = 3,	 /* control byte and 16-bit length */
	/* REC_NEXT may build past 64 KB: 60 + 60 bytes of headers in front of 65535 of payload. */
	PACKET_MAX_BYTES = VNET_PACKET_MAX_BYTES + 120,
};

static uint8_t seg[VNET_FRAME_MAX_BYTES], in[VNET_HDR_LEN + PACKET_MAX_BYTES],
	prev[PACKET_MAX_BYTES];
static size_t prev_len;

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t pseudo(const uint8_t *ip, uint8_t proto, size_t l4len)
{
	bool v6 = ip[0] >> 4 == 6;
	const uint8_t *a = ip + (v6 ? 8 : 12);
	uint32_t sum = proto + (uint32_t)l4len;

	for (size_t i = 0; i < (v6 ? 32u : 8u); i += 2)
		sum += rd16(a + i);
	return sum;
}

/* A segment's checksums verify (split writes full ones). */
static void check_sums(const uint8_t *p, size_t len, size_t iphl, uint8_t proto)
{
	if (p[0] >> 4 == 4 && packet_checksum(p, iphl, 0) != 0)
		abort();
	if (packet_checksum(p + iphl, len - iphl, pseudo(p, proto, len - iphl)) != 0)
		abort();
}

/* The two-piece form of the segment just written whole. */
static void check_parts(struct vnet_split *parts, const uint8_t *whole, size_t len)
{
	static uint8_t hdr[VNET_PACKET_MAX_BYTES];
	const uint8_t *payload;
	size_t hl, plen;

	if (vnet_split_next_parts(parts, hdr, sizeof(hdr), &hl, &payload, &plen) != len ||
	    hl + plen != len || (parts->proto && hl > VNET_SPLIT_HDR_MAX) ||
	    memcmp(hdr, whole, hl) != 0 || memcmp(payload, whole + hl, plen) != 0)
		abort();
}

static void fuzz_split(const uint8_t *data, size_t size)
{
	struct vnet_split sp, parts;
	struct vnet_hdr h;
	size_t total = 0, max;
	unsigned count = 0;
	int n;

	if (!vnet_hdr_read(data, size, &h))
		return;
	data += VNET_HDR_LEN, size -= VNET_HDR_LEN;
	n = vnet_split_init(&sp, &h, data, size);
	if (n <= 0)
		return;
	max = vnet_split_max(&sp);
	if (max > VNET_PACKET_MAX_BYTES || n > VNET_SEGMENTS_MAX)
		abort();
	if (vnet_split_init(&parts, &h, data, size) != n)
		abort();
	for (;;) {
		size_t len = vnet_split_next(&sp, seg, max);

		if (!len)
			break;
		if (len > max)
			abort();
		check_parts(&parts, seg, len);
		if (sp.proto)
			check_sums(seg, len, sp.iphl, sp.proto);
		total += len;
		count++;
	}
	if (count != (unsigned)n)
		abort();
	if (total != size + (size_t)(n - 1) * (sp.iphl + sp.l4hl))
		abort();
}

/* What the emitted frames held. */
struct tally {
	size_t packets, bytes;
};

static void on_frame(void *ctx, uint8_t *frame, size_t len)
{
	struct tally *t = ctx;
	struct vnet_split sp;
	struct vnet_hdr h;
	int n;

	if (!vnet_hdr_read(frame, len, &h) || len > VNET_HDR_LEN + PACKET_MAX_BYTES)
		abort();
	if (h.gso_type == VNET_GSO_NONE) {
		if (h.flags || h.hdr_len || h.gso_size || h.csum_start || h.csum_offset)
			abort(); /* a packet passed as is carries a zero header */
		t->packets++;
		t->bytes += len - VNET_HDR_LEN;
		return;
	}
	/* A group: the kernel must take it, and it must split back into its segments. */
	n = vnet_split_init(&sp, &h, frame + VNET_HDR_LEN, len - VNET_HDR_LEN);
	if (n < 2 || len > VNET_FRAME_MAX_BYTES || h.flags != VNET_F_NEEDS_CSUM ||
	    h.hdr_len != sp.iphl + sp.l4hl)
		abort();
	for (size_t got; (got = vnet_split_next(&sp, seg, sizeof(seg))) != 0;) {
		t->packets++;
		t->bytes += got;
	}
}

/* Lengths and checksums made right, so that the coalescer's checks can pass. */
static void fix(uint8_t *p, size_t len)
{
	size_t iphl, thl;
	uint8_t proto;

	if (len >= 20 && p[0] >> 4 == 4 && (p[0] & 15) * 4u >= 20 && (p[0] & 15) * 4u <= len) {
		iphl = (p[0] & 15) * 4u;
		proto = p[9];
		wr16(p + 2, len);
		wr16(p + 10, 0);
		wr16(p + 10, packet_checksum(p, iphl, 0));
	} else if (len >= 40 && p[0] >> 4 == 6) {
		iphl = 40;
		proto = p[6];
		wr16(p + 4, len - 40);
	} else {
		return;
	}
	if (proto != PACKET_PROTO_TCP || len < iphl + 20)
		return;
	thl = (p[iphl + 12] >> 4) * 4u;
	if (thl < 20 || iphl + thl > len)
		return;
	wr16(p + iphl + 16, 0);
	wr16(p + iphl + 16,
	     packet_checksum(p + iphl, len - iphl, pseudo(p, PACKET_PROTO_TCP, len - iphl)));
}

/* The previous packet's headers with the sequence number and ID of the next segment. */
static size_t next_of_prev(uint8_t *p, const uint8_t *payload, size_t plen)
{
	size_t iphl, thl;
	uint32_t seq;

	if (prev_len < 40)
		return 0;
	iphl = prev[0] >> 4 == 6 ? 40 : (prev[0] & 15) * 4u;
	if (iphl < 20 || prev_len < iphl + 20)
		return 0;
	thl = (prev[iphl + 12] >> 4) * 4u;
	if (thl < 20 || iphl + thl > prev_len || iphl + thl + plen > PACKET_MAX_BYTES)
		return 0;
	memcpy(p, prev, iphl + thl);
	seq = (uint32_t)rd16(p + iphl + 4) << 16 | rd16(p + iphl + 6);
	seq += (uint32_t)(prev_len - iphl - thl);
	wr16(p + iphl + 4, seq >> 16);
	wr16(p + iphl + 6, seq & 0xffff);
	if (iphl != 40)
		wr16(p + 4, rd16(p + 4) + 1u);
	memcpy(p + iphl + thl, payload, plen);
	return iphl + thl + plen;
}

static void fuzz_coalesce(const uint8_t *data, size_t size)
{
	struct tally want = { 0 }, got = { 0 };
	struct vnet_gro *g = vnet_gro_new(data[0] & 2, on_frame, &got);
	uint8_t *p = in + VNET_HDR_LEN;

	if (!g)
		abort();
	data++, size--;
	prev_len = 0;
	while (size >= REC_HDR) {
		uint8_t ctl = data[0];
		size_t take = rd16(data + 1), len = 0;
		const uint8_t *body = data + REC_HDR;

		data += REC_HDR, size -= REC_HDR;
		if (take > size)
			take = size;
		data += take, size -= take;
		if (ctl & REC_NEXT)
			len = next_of_prev(p, body, take);
		if (!len) {
			memcpy(p, body, take);
			len = take;
		}
		if (ctl & REC_FIX)
			fix(p, len);
		memcpy(prev, p, len);
		prev_len = len;
		want.packets++;
		want.bytes += len;
		vnet_gro_add(g, p, len);
	}
	vnet_gro_flush(g);
	vnet_gro_free(g);
	if (got.packets != want.packets || got.bytes != want.bytes)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_coalesce(data, size);
	else
		fuzz_split(data + 1, size - 1);
	return 0;
}
