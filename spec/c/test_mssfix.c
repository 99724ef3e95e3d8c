// SPDX-License-Identifier: MIT
/*
 * MSS clamping of TCP SYNs: the option lowered wherever it sits among the
 * others (even or odd offset), the checksum still verifying afterwards, and
 * everything that is not a well-formed SYN with a larger MSS left untouched,
 * truncations included.
 */
#include <stdlib.h>
#include <string.h>

#include "datakey.h"
#include "epochdata.h"
#include "mssfix.h"
#include "packet.h"
#include "unit.h"

static uint8_t pkt[256];

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)(p[0] << 8 | p[1]);
}

/* The TCP checksum over the pseudo-header and the segment at ip + h (0 when it verifies). */
static uint16_t tcp_checksum(const uint8_t *ip, size_t h, size_t seglen)
{
	uint8_t buf[512] = { 0 };
	size_t n;

	if (ip[0] >> 4 == 4) {
		memcpy(buf, ip + 12, 8);
		buf[9] = 6;
		put16(buf + 10, (unsigned)seglen);
		n = 12;
	} else {
		memcpy(buf, ip + 8, 32);
		put16(buf + 34, (unsigned)seglen);
		buf[39] = 6;
		n = 40;
	}
	memcpy(buf + n, ip + h, seglen);
	return packet_checksum(buf, n + seglen, 0);
}

/*
 * A TCP segment with flags and options (opts_len bytes, a multiple of 4)
 * and payload bytes, in IPv4 (v6 false) or IPv6, with a right checksum.
 * Returns the packet's length; *h is where TCP starts.
 */
static size_t segment(bool v6, uint8_t flags, const uint8_t *opts, size_t opts_len, size_t payload,
		      size_t *h)
{
	size_t seglen = 20 + opts_len + payload;

	memset(pkt, 0, sizeof(pkt));
	if (v6) {
		pkt[0] = 0x60;
		put16(pkt + 4, (unsigned)seglen);
		pkt[6] = 6;
		pkt[7] = 64;
		pkt[8] = 0xfd, pkt[23] = 1, pkt[24] = 0xfd, pkt[39] = 2;
		*h = 40;
	} else {
		pkt[0] = 0x45;
		put16(pkt + 2, (unsigned)(20 + seglen));
		pkt[8] = 64;
		pkt[9] = 6;
		pkt[12] = 10, pkt[15] = 2, pkt[16] = 10, pkt[19] = 1;
		*h = 20;
	}
	put16(pkt + *h, 40000);
	put16(pkt + *h + 2, 5001);
	pkt[*h + 4] = 0x12;
	pkt[*h + 12] = (uint8_t)((20 + opts_len) / 4 << 4);
	pkt[*h + 13] = flags;
	memcpy(pkt + *h + 20, opts, opts_len);
	for (size_t i = 0; i < payload; i++)
		pkt[*h + 20 + opts_len + i] = (uint8_t)(0xa5 + i);
	put16(pkt + *h + 16, tcp_checksum(pkt, *h, seglen));
	return *h + seglen;
}

/* The MSS option's value in the segment at pkt + h with opts_len option bytes, or 0. */
static unsigned mss_of(size_t h, size_t opts_len)
{
	for (size_t off = 0; off < opts_len;) {
		uint8_t kind = pkt[h + 20 + off];

		if (kind == 1) {
			off++;
			continue;
		}
		if (kind == 2)
			return get16(pkt + h + 20 + off + 2);
		off += pkt[h + 20 + off + 1];
	}
	return 0;
}

/* The limit mss for both families. */
static bool clamp(uint8_t *ip, size_t len, uint16_t mss)
{
	return mssfix_clamp(&(struct mssfix){ .mss4 = mss, .mss6 = mss }, ip, len);
}

static bool clamp_frame(uint8_t *frame, size_t len, uint16_t mss)
{
	return mssfix_clamp_frame(&(struct mssfix){ .mss4 = mss, .mss6 = mss }, frame, len);
}

static void test_limit(void)
{
	CHECK(mssfix_limit(1492, false, false, false, DATA_OVERHEAD) == 1400, "IPv4 in IPv4: %u",
	      mssfix_limit(1492, false, false, false, DATA_OVERHEAD));
	CHECK(mssfix_limit(1492, false, true, false, DATA_OVERHEAD) == 1380, "IPv6 in IPv4");
	CHECK(mssfix_limit(1492, true, false, false, DATA_OVERHEAD) == 1380, "IPv4 in IPv6");
	CHECK(mssfix_limit(1492, false, false, true, DATA_OVERHEAD) == 1386, "a frame adds 14");
	CHECK(mssfix_limit(1492, false, false, false, EPOCH_OVERHEAD) == 1396,
	      "the epoch format's packet id and tag take 4 bytes more");
	CHECK(mssfix_limit(600, false, false, false, DATA_OVERHEAD) == MSSFIX_MSS_MIN,
	      "never below 536");
	CHECK(mssfix_limit(0, true, true, true, DATA_OVERHEAD) == MSSFIX_MSS_MIN,
	      "nor for nonsense");

	struct mssfix m;
	size_t h, len;
	static const uint8_t mss[] = { 2, 4, 0x05, 0xb4 };

	mssfix_init(&m, MSSFIX_OUTER_BYTES_DEFAULT, false, false, DATA_OVERHEAD);
	CHECK(m.mss4 == 1400 && m.mss6 == 1380, "init: %u %u", m.mss4, m.mss6);
	len = segment(false, 0x02, mss, 4, 0, &h);
	CHECK(mssfix_clamp(&m, pkt, len) && mss_of(h, 4) == 1400, "an IPv4 SYN gets mss4");
	len = segment(true, 0x02, mss, 4, 0, &h);
	CHECK(mssfix_clamp(&m, pkt, len) && mss_of(h, 4) == 1380, "an IPv6 SYN gets mss6");
}

/* The MSS option among others: at each of four offsets, even and odd. */
static void test_clamps(void)
{
	static const struct {
		uint8_t opts[20];
		size_t len;
	} cases[] = {
		{ { 2, 4, 0x05, 0xb4 }, 4 },
		{ { 1, 2, 4, 0x05, 0xb4, 1, 1, 0 }, 8 },
		{ { 1, 1, 2, 4, 0x05, 0xb4, 0, 0 }, 8 },
		{ { 1, 1, 1, 2, 4, 0x05, 0xb4, 0 }, 8 },
		{ { 4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 4, 0xff, 0xff, 3, 3, 7 }, 20 },
	};

	for (int v6 = 0; v6 <= 1; v6++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			for (size_t payload = 0; payload <= 3; payload += 3) {
				size_t h, len = segment(v6, 0x02, cases[i].opts, cases[i].len,
							payload, &h);

				CHECK(tcp_checksum(pkt, h, len - h) == 0,
				      "the case's own checksum");
				CHECK(clamp(pkt, len, 1400), "v6 %d case %zu: clamped", v6, i);
				CHECK(mss_of(h, cases[i].len) == 1400, "v6 %d case %zu: mss %u", v6,
				      i, mss_of(h, cases[i].len));
				CHECK(tcp_checksum(pkt, h, len - h) == 0,
				      "v6 %d case %zu payload %zu: the checksum verifies", v6, i,
				      payload);
				/* A SYN-ACK too, and an MSS already small enough stays. */
				len = segment(v6, 0x12, cases[i].opts, cases[i].len, payload, &h);
				CHECK(clamp(pkt, len, 1300) && mss_of(h, cases[i].len) == 1300,
				      "SYN-ACK");
				CHECK(tcp_checksum(pkt, h, len - h) == 0, "SYN-ACK checksum");
				CHECK(!clamp(pkt, len, 1300) && !clamp(pkt, len, 1400),
				      "an MSS at or under the limit stays");
			}
		}
	}
}

/* Returns true when mssfix_clamp left the len bytes of pkt as they were. */
static bool untouched(size_t len, uint16_t mss)
{
	uint8_t copy[sizeof(pkt)];

	memcpy(copy, pkt, sizeof(pkt));
	return !clamp(pkt, len, mss) && !memcmp(copy, pkt, sizeof(pkt));
}

static void test_left_alone(void)
{
	static const uint8_t mss[] = { 2, 4, 0x05, 0xb4 };
	size_t h, len;

	len = segment(false, 0x10, mss, 4, 0, &h);
	CHECK(untouched(len, 1400), "an ACK without SYN");
	len = segment(false, 0x02, mss, 4, 0, &h);
	pkt[9] = 17;
	CHECK(untouched(len, 1400), "not TCP");
	len = segment(false, 0x02, mss, 4, 0, &h);
	put16(pkt + 6, 0x0001);
	CHECK(untouched(len, 1400), "a later fragment");
	put16(pkt + 6, 0x2000);
	CHECK(clamp(pkt, len, 1400), "a first fragment holds the header: clamped");
	len = segment(true, 0x02, mss, 4, 0, &h);
	pkt[6] = 0; /* a hop-by-hop header before TCP */
	CHECK(untouched(len, 1400), "IPv6 extension headers");
	len = segment(false, 0x02, (const uint8_t[]){ 3, 0, 2, 4 }, 4, 0, &h);
	CHECK(untouched(len, 1400), "an option of length 0");
	len = segment(false, 0x02, (const uint8_t[]){ 1, 1, 2, 5 }, 4, 0, &h);
	CHECK(untouched(len, 1400), "an option past the header");
	len = segment(false, 0x02, (const uint8_t[]){ 0, 2, 4, 9 }, 4, 0, &h);
	CHECK(untouched(len, 1400), "options end before the MSS");
	len = segment(false, 0x02, mss, 4, 0, &h);
	pkt[h + 12] = 15 << 4;
	CHECK(untouched(len, 1400), "a data offset past the packet");
	len = segment(false, 0x02, mss, 4, 0, &h);
	pkt[0] = 0x44;
	CHECK(untouched(len, 1400), "an IPv4 header of 16 bytes");
	len = segment(false, 0x02, mss, 4, 0, &h);
	put16(pkt + 2, (unsigned)len + 1);
	CHECK(untouched(len, 1400), "a total length past the buffer");
	len = segment(true, 0x02, mss, 4, 0, &h);
	put16(pkt + 4, (unsigned)(len - 40 + 1));
	CHECK(untouched(len, 1400), "an IPv6 payload length past the buffer");
	CHECK(untouched(0, 1400), "nothing");
	pkt[0] = 0x50;
	CHECK(untouched(60, 1400), "IP version 5");
	/* Every truncation of a good SYN: no read past it, no change. */
	for (int v6 = 0; v6 <= 1; v6++) {
		size_t full = segment(v6, 0x02, mss, 4, 0, &h);

		for (len = 0; len < full; len++) {
			uint8_t tail[sizeof(pkt)];

			segment(v6, 0x02, mss, 4, 0, &h);
			memcpy(tail, pkt,
			       len); /* on the heap's edge for ASan: a copy of exactly len */
			CHECK(!clamp(tail, len, 1400), "v6 %d truncated to %zu", v6, len);
		}
	}
}

static void test_frames(void)
{
	static const uint8_t mss[] = { 2, 4, 0x05, 0xb4 };
	uint8_t frame[sizeof(pkt) + 14];
	size_t h, len;

	for (int v6 = 0; v6 <= 1; v6++) {
		len = segment(v6, 0x02, mss, 4, 0, &h);
		memset(frame, 0, 14);
		put16(frame + 12, v6 ? 0x86dd : 0x0800);
		memcpy(frame + 14, pkt, len);
		CHECK(clamp_frame(frame, len + 14, 1386), "v6 %d: a frame's SYN", v6);
		memcpy(pkt, frame + 14, len);
		CHECK(mss_of(h, 4) == 1386 && tcp_checksum(pkt, h, len - h) == 0,
		      "clamped and verifying");
		put16(frame + 12, v6 ? 0x0800 : 0x86dd);
		CHECK(!clamp_frame(frame, len + 14, 1300),
		      "a type that disagrees with the version");
		put16(frame + 12, 0x0806);
		CHECK(!clamp_frame(frame, len + 14, 1300), "ARP");
		CHECK(!clamp_frame(frame, 14, 1300), "a header alone");
		CHECK(!clamp_frame(frame, 3, 1300), "less");
	}
}

int main(void)
{
	test_limit();
	test_clamps();
	test_left_alone();
	test_frames();
	return unit_report("mssfix");
}
