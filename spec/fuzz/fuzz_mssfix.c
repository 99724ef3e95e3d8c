// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for MSS clamping: no crash, no out-of-bounds access, and
 * a packet it changes has only its MSS (now at most the limit) and its TCP
 * checksum changed, with the segment's one's-complement sum the same: a
 * checksum that verified before still verifies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mssfix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct mssfix limits = { .mss4 = 1400, .mss6 = 1380 };

/* The folded one's-complement sum of len bytes (0xffff and 0 both stand for zero). */
static uint16_t sum16(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (; len > 1; p += 2, len -= 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff ? 0 : (uint16_t)s;
}

/* Checks a changed IP packet ip against its original orig (len bytes each). */
static void check_changed(const uint8_t *orig, const uint8_t *ip, size_t len)
{
	size_t tcp, seglen, diffs = 0;
	uint16_t limit;

	/* The clamp accepted the headers, so these lengths are within len. */
	if (ip[0] >> 4 == 4) {
		tcp = (size_t)(ip[0] & 0x0f) * 4;
		seglen = (size_t)(ip[2] << 8 | ip[3]) - tcp;
		limit = limits.mss4;
	} else {
		tcp = 40;
		seglen = (size_t)(ip[4] << 8 | ip[5]);
		limit = limits.mss6;
	}
	if (tcp + seglen > len || sum16(orig + tcp, seglen) != sum16(ip + tcp, seglen))
		abort();
	for (size_t i = 0; i < len; i++) {
		if (orig[i] == ip[i])
			continue;
		diffs++;
		/* Only the checksum (bytes 16 and 17) and the MSS option's value. */
		if (i < tcp + 16 || (i >= tcp + 18 && i < tcp + 20 + 2))
			abort();
	}
	if (diffs > 4)
		abort();
	for (size_t off = tcp + 20; off + 4 <= len; off++) {
		if (ip[off] == 2 && ip[off + 1] == 4 && orig[off + 2] != ip[off + 2] &&
		    (ip[off + 2] << 8 | ip[off + 3]) > limit)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size heap copies: any read or write past size is caught. */
	uint8_t *ip = malloc(size ? size : 1), *frame = malloc(size ? size : 1);

	memcpy(ip, data, size);
	if (mssfix_clamp(&limits, ip, size))
		check_changed(data, ip, size);
	memcpy(frame, data, size);
	if (mssfix_clamp_frame(&limits, frame, size))
		check_changed(data + 14, frame + 14, size - 14);
	free(ip);
	free(frame);
	return 0;
}
