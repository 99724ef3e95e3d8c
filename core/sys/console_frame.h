/* SPDX-License-Identifier: MIT */
/*
 * The console reply-frame header "<kind> <length>\n" as a plain value:
 * strict parsing of one header line into a kind and a text length, and the
 * kind names. Pure: no I/O, no allocation. Reading the bytes off the
 * socket and deciding which kind may come when is console_client.c's job.
 */
#ifndef MOONVPN_CONSOLE_FRAME_H
#define MOONVPN_CONSOLE_FRAME_H

#include <stddef.h>

enum console_kind {
	CONSOLE_HELLO,
	CONSOLE_OK,
	CONSOLE_ERROR,
	CONSOLE_MORE,
};

/* Longest header line a reader need accept, '\n' included; "error 4194304\n" is 14. */
enum { CONSOLE_HEADER_MAX = 32 };

struct console_header {
	enum console_kind kind;
	size_t len; /* bytes of text after the header, at most CONSOLE_FRAME_MAX */
};

/*
 * Parses a header line of n bytes without its '\n' (need not be
 * NUL-terminated). Exactly one space, a known kind, a decimal length with
 * no sign or leading zero, at most CONSOLE_FRAME_MAX, and 0 for "more".
 * Returns NULL on success, else a static lower-case reason.
 */
const char *console_header_parse(struct console_header *out, const char *line, size_t n)
	__attribute__((warn_unused_result));

/* The wire name of a kind ("ok", ...). */
const char *console_kind_name(enum console_kind kind);

#endif
