/* SPDX-License-Identifier: MIT */
/*
 * Compression framing, never compression. An OpenVPN client whose profile
 * says comp-lzo or compress puts a compression header on every data packet
 * it sends and expects one on every packet it gets. moonvpn pushes what
 * turns the client's compression off (as 2.6's `compress migrate` does):
 * `compress stub-v2` to clients that announce IV_COMP_STUBv2, whose packets
 * then carry no header unless their first byte is the v2 indicator, and
 * `comp-lzo no` to older ones, whose packets all start with one byte. What
 * a peer still sends compressed (LZO, LZ4) is decompressed; moonvpn never
 * compresses: compressing before encrypting lets an observer learn secrets
 * from the sizes of packets (VORACLE).
 *
 * The bytes are OpenVPN's (comp.h, comp-lz4.c, lzo.c). Pure: every length is
 * checked, a malformed packet is an error code, never a crash.
 */
#ifndef MOONVPN_COMPFRAME_H
#define MOONVPN_COMPFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum compframe {
	COMPFRAME_NONE, /* no compression context: packets as they are */
	COMPFRAME_V2,	/* compress stub-v2: 0x50 leads an escaped or compressed packet */
	COMPFRAME_LZO,	/* comp-lzo: one header byte on every packet */
};

enum {
	COMPFRAME_HEAD_MAX = 2, /* bytes a header adds in front of a packet */
	COMPFRAME_V2_INDICATOR = 0x50,
	COMPFRAME_V2_UNCOMPRESSED = 0x00,
	COMPFRAME_V2_LZ4 = 0x01,
	COMPFRAME_LZO_COMPRESSED = 0x66,
	COMPFRAME_LZ4_COMPRESSED = 0x69, /* compress lz4 (v1): with the head byte swapped */
	COMPFRAME_UNCOMPRESSED = 0xFA,
	COMPFRAME_UNCOMPRESSED_SWAP =
		0xFB, /* compress stub (v1): the first byte moved to the end */
};

enum compframe_error {
	COMPFRAME_E_EMPTY = -1,	 /* a header with nothing after it */
	COMPFRAME_E_HEADER = -2, /* a header byte the framing does not have */
	COMPFRAME_E_INFLATE = -3 /* compressed data that does not decompress within cap */
};

/* "stub-v2", "comp-lzo" or "none": for logs and for Lua. */
const char *compframe_name(enum compframe f);

/*
 * Takes the framing off a payload opened in place at p (len bytes). A
 * packet that was not compressed stays at p, its header removed (the rest
 * moved up); a compressed one is decompressed to out (cap bytes) and
 * *at_out set. Returns the packet's length or a negative compframe_error.
 */
int compframe_unframe(enum compframe f, uint8_t *p, size_t len, uint8_t *out, size_t cap,
		      bool *at_out) __attribute__((warn_unused_result));

/*
 * The header the packet p (len >= 1 bytes) needs under framing f: written
 * to head, its length returned (0: the packet goes as it is).
 */
size_t compframe_head(enum compframe f, const uint8_t *p, uint8_t head[COMPFRAME_HEAD_MAX]);

#endif
