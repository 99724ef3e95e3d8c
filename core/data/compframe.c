// SPDX-License-Identifier: MIT
#include <lz4.h>
#include <lzo/lzo1x.h>
#include <pthread.h>
#include <string.h>

#include "compframe.h"

const char *compframe_name(enum compframe f)
{
	switch (f) {
	case COMPFRAME_V2:
		return "stub-v2";
	case COMPFRAME_LZO:
		return "comp-lzo";
	case COMPFRAME_NONE:
		break;
	}
	return "none";
}

/* Removes the first skip bytes of the packet at p in place; its new length. */
static int strip(uint8_t *p, size_t len, size_t skip)
{
	if (len <= skip)
		return COMPFRAME_E_EMPTY;
	memmove(p, p + skip, len - skip);
	return (int)(len - skip);
}

static int inflate_lz4(const uint8_t *in, size_t len, uint8_t *out, size_t cap, bool *at_out)
{
	int n;

	if (len == 0 || len > INT32_MAX || cap > INT32_MAX)
		return COMPFRAME_E_EMPTY;
	n = LZ4_decompress_safe((const char *)in, (char *)out, (int)len, (int)cap);
	if (n <= 0)
		return COMPFRAME_E_INFLATE;
	*at_out = true;
	return n;
}

/* liblzo2 wants lzo_init() first, once, from whichever worker thread comes first. */
static pthread_once_t lzo_once = PTHREAD_ONCE_INIT;
static bool lzo_ready;

static void init_lzo(void)
{
	lzo_ready = lzo_init() == LZO_E_OK;
}

static int inflate_lzo(const uint8_t *in, size_t len, uint8_t *out, size_t cap, bool *at_out)
{
	lzo_uint n = cap;

	if (len == 0)
		return COMPFRAME_E_EMPTY;
	pthread_once(&lzo_once, init_lzo);
	if (!lzo_ready)
		return COMPFRAME_E_INFLATE;
	/* The _safe variant checks every read and write against the lengths given. */
	if (lzo1x_decompress_safe(in, len, out, &n, NULL) != LZO_E_OK || n == 0)
		return COMPFRAME_E_INFLATE;
	*at_out = true;
	return (int)n;
}

/*
 * compress stub and lz4 (v1) move the packet's first byte to its end and
 * put the header in its place (OpenVPN's COMP_F_SWAP): put it back.
 */
static size_t unswap(uint8_t *p, size_t len)
{
	p[0] = p[len - 1];
	return len - 1;
}

static int unframe_v2(uint8_t *p, size_t len, uint8_t *out, size_t cap, bool *at_out)
{
	if (p[0] != COMPFRAME_V2_INDICATOR)
		return (int)len; /* the usual case: no header at all */
	if (len < 2)
		return COMPFRAME_E_EMPTY;
	if (p[1] == COMPFRAME_V2_UNCOMPRESSED)
		return strip(p, len, 2);
	if (p[1] == COMPFRAME_V2_LZ4)
		return inflate_lz4(p + 2, len - 2, out, cap, at_out);
	return COMPFRAME_E_HEADER;
}

static int unframe_v1(uint8_t *p, size_t len, uint8_t *out, size_t cap, bool *at_out)
{
	switch (p[0]) {
	case COMPFRAME_UNCOMPRESSED:
		return strip(p, len, 1);
	case COMPFRAME_UNCOMPRESSED_SWAP:
		return len < 2 ? COMPFRAME_E_EMPTY : (int)unswap(p, len);
	case COMPFRAME_LZO_COMPRESSED:
		return inflate_lzo(p + 1, len - 1, out, cap, at_out);
	case COMPFRAME_LZ4_COMPRESSED:
		return len < 2 ? COMPFRAME_E_EMPTY
			       : inflate_lz4(p, unswap(p, len), out, cap, at_out);
	}
	return COMPFRAME_E_HEADER;
}

int compframe_unframe(enum compframe f, uint8_t *p, size_t len, uint8_t *out, size_t cap,
		      bool *at_out)
{
	*at_out = false;
	if (f == COMPFRAME_NONE)
		return (int)len;
	if (len == 0)
		return COMPFRAME_E_EMPTY;
	return f == COMPFRAME_V2 ? unframe_v2(p, len, out, cap, at_out)
				 : unframe_v1(p, len, out, cap, at_out);
}

size_t compframe_head(enum compframe f, const uint8_t *p, uint8_t head[COMPFRAME_HEAD_MAX])
{
	if (f == COMPFRAME_LZO) {
		head[0] = COMPFRAME_UNCOMPRESSED;
		return 1;
	}
	if (f == COMPFRAME_V2 && p[0] == COMPFRAME_V2_INDICATOR) {
		head[0] = COMPFRAME_V2_INDICATOR; /* escaped, as the peer would escape it */
		head[1] = COMPFRAME_V2_UNCOMPRESSED;
		return 2;
	}
	return 0;
}
