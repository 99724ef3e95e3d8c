// SPDX-License-Identifier: MIT
/*
 * Compression framing: a modern client's packets (stub-v2) pass as they
 * are unless they start with the v2 indicator; an escaped one and an LZ4
 * one are taken apart; comp-lzo's one-byte header comes off, with LZO
 * data decompressed; compress stub and lz4 (v1) swap bytes back; a header
 * a framing does not have, an empty packet, and compressed data that would
 * not fit are errors. What we send carries only the header the framing
 * needs, and round-trips.
 */
#include <lz4.h>
#include <lzo/lzo1x.h>
#include <string.h>

#include "compframe.h"
#include "unit.h"

enum { CAP = 2048 };

static uint8_t ip[200];

static void make_ip(void)
{
	for (size_t i = 0; i < sizeof(ip); i++)
		ip[i] = (uint8_t)(i % 7); /* compressible */
	ip[0] = 0x45;
}

static void test_none_and_v2(void)
{
	uint8_t p[CAP], out[CAP];
	bool at_out;
	int n;

	memcpy(p, ip, sizeof(ip));
	CHECK(compframe_unframe(COMPFRAME_NONE, p, sizeof(ip), out, CAP, &at_out) ==
		      (int)sizeof(ip),
	      "none: as it is");
	CHECK(compframe_unframe(COMPFRAME_V2, p, sizeof(ip), out, CAP, &at_out) ==
			      (int)sizeof(ip) &&
		      !at_out && memcmp(p, ip, sizeof(ip)) == 0,
	      "stub-v2: an IP packet has no header");
	p[0] = 0x50, p[1] = 0x00, p[2] = 0x50, p[3] = 9;
	n = compframe_unframe(COMPFRAME_V2, p, 4, out, CAP, &at_out);
	CHECK(n == 2 && p[0] == 0x50 && p[1] == 9, "an escaped packet: %d", n);
	p[0] = 0x50, p[1] = 0x01;
	n = LZ4_compress_default((const char *)ip, (char *)p + 2, sizeof(ip), CAP - 2);
	CHECK(n > 0 && n < (int)sizeof(ip), "LZ4 compressed %d", n);
	n = compframe_unframe(COMPFRAME_V2, p, (size_t)n + 2, out, CAP, &at_out);
	CHECK(n == (int)sizeof(ip) && at_out && memcmp(out, ip, sizeof(ip)) == 0,
	      "LZ4 decompressed: %d", n);
	p[0] = 0x50, p[1] = 0x07;
	CHECK(compframe_unframe(COMPFRAME_V2, p, 10, out, CAP, &at_out) == COMPFRAME_E_HEADER,
	      "unknown v2 algorithm");
	CHECK(compframe_unframe(COMPFRAME_V2, p, 1, out, CAP, &at_out) == COMPFRAME_E_EMPTY,
	      "indicator alone");
	p[0] = 0x50, p[1] = 0x01;
	n = LZ4_compress_default((const char *)ip, (char *)p + 2, sizeof(ip), CAP - 2);
	CHECK(compframe_unframe(COMPFRAME_V2, p, (size_t)n + 2, out, 100, &at_out) ==
		      COMPFRAME_E_INFLATE,
	      "decompressed data larger than the room");
	p[0] = 0x50, p[1] = 0x01, p[2] = 0xff;
	CHECK(compframe_unframe(COMPFRAME_V2, p, 3, out, CAP, &at_out) == COMPFRAME_E_INFLATE,
	      "garbage that does not decompress");
}

static void test_lzo_framing(void)
{
	static uint8_t work[LZO1X_1_MEM_COMPRESS];
	uint8_t p[CAP], out[CAP];
	lzo_uint zlen = 0;
	bool at_out;
	int n;

	p[0] = 0xFA;
	memcpy(p + 1, ip, sizeof(ip));
	n = compframe_unframe(COMPFRAME_LZO, p, sizeof(ip) + 1, out, CAP, &at_out);
	CHECK(n == (int)sizeof(ip) && !at_out && memcmp(p, ip, sizeof(ip)) == 0,
	      "comp-lzo no: the byte comes off");
	CHECK(lzo_init() == LZO_E_OK, "lzo_init");
	p[0] = 0x66;
	CHECK(lzo1x_1_compress(ip, sizeof(ip), p + 1, &zlen, work) == LZO_E_OK && zlen > 0,
	      "LZO compressed");
	n = compframe_unframe(COMPFRAME_LZO, p, zlen + 1, out, CAP, &at_out);
	CHECK(n == (int)sizeof(ip) && at_out && memcmp(out, ip, sizeof(ip)) == 0,
	      "LZO decompressed: %d", n);
	CHECK(compframe_unframe(COMPFRAME_LZO, p, zlen + 1, out, 50, &at_out) ==
		      COMPFRAME_E_INFLATE,
	      "LZO data larger than the room");
	/* compress stub (v1): the first byte swapped to the end, 0xFB in its place. */
	p[0] = 0xFB;
	memcpy(p + 1, ip + 1, sizeof(ip) - 1);
	p[sizeof(ip)] = ip[0];
	n = compframe_unframe(COMPFRAME_LZO, p, sizeof(ip) + 1, out, CAP, &at_out);
	CHECK(n == (int)sizeof(ip) && memcmp(p, ip, sizeof(ip)) == 0, "swapped back");
	/* compress lz4 (v1): the same swap around LZ4 data. */
	n = LZ4_compress_default((const char *)ip, (char *)p, sizeof(ip), CAP - 1);
	p[n] = p[0];
	p[0] = 0x69;
	n = compframe_unframe(COMPFRAME_LZO, p, (size_t)n + 1, out, CAP, &at_out);
	CHECK(n == (int)sizeof(ip) && at_out && memcmp(out, ip, sizeof(ip)) == 0,
	      "LZ4 v1 decompressed: %d", n);
	p[0] = 0x42;
	CHECK(compframe_unframe(COMPFRAME_LZO, p, 10, out, CAP, &at_out) == COMPFRAME_E_HEADER,
	      "no such header");
	p[0] = 0xFA;
	CHECK(compframe_unframe(COMPFRAME_LZO, p, 1, out, CAP, &at_out) == COMPFRAME_E_EMPTY,
	      "a header alone");
	CHECK(compframe_unframe(COMPFRAME_LZO, p, 0, out, CAP, &at_out) == COMPFRAME_E_EMPTY,
	      "nothing");
}

/* The header we add, then the peer's unframing: the packet as it was. */
static void test_round_trip(enum compframe f, uint8_t first)
{
	uint8_t head[COMPFRAME_HEAD_MAX], p[CAP], out[CAP];
	uint8_t pkt[64];
	size_t h;
	bool at_out;

	memset(pkt, 0xab, sizeof(pkt));
	pkt[0] = first;
	h = compframe_head(f, pkt, head);
	memcpy(p, head, h);
	memcpy(p + h, pkt, sizeof(pkt));
	CHECK(compframe_unframe(f, p, h + sizeof(pkt), out, CAP, &at_out) == (int)sizeof(pkt) &&
		      memcmp(p, pkt, sizeof(pkt)) == 0,
	      "%s, first byte %#x: %zu header bytes, round trip", compframe_name(f), first, h);
}

int main(void)
{
	uint8_t head[COMPFRAME_HEAD_MAX];

	make_ip();
	test_none_and_v2();
	test_lzo_framing();
	CHECK(compframe_head(COMPFRAME_V2, ip, head) == 0, "stub-v2: an IP packet goes as it is");
	CHECK(compframe_head(COMPFRAME_NONE, ip, head) == 0, "none");
	CHECK(compframe_head(COMPFRAME_LZO, ip, head) == 1 && head[0] == 0xFA, "comp-lzo: 0xFA");
	test_round_trip(COMPFRAME_V2, 0x45);
	test_round_trip(COMPFRAME_V2, 0x50); /* a TAP frame's MAC may start so */
	test_round_trip(COMPFRAME_LZO, 0x45);
	test_round_trip(COMPFRAME_LZO, 0x50);
	return unit_report("test_compframe");
}
