/* SPDX-License-Identifier: MIT */
/*
 * An HTTP/1.x request head, read without trusting it (RFC 9112 section 3,
 * the parts a one-resource responder needs): the request line's method,
 * target and version, and header lines that are at least well formed. Pure,
 * fuzzed (spec/fuzz/fuzz_httpreq.c); the responder is httpd.c.
 */
#ifndef MOONVPN_HTTPREQ_H
#define MOONVPN_HTTPREQ_H

#include <stddef.h>

/* What a request head asks for, once it is complete. */
enum httpreq_verdict {
	HTTPREQ_INCOMPLETE,  /* no blank line yet */
	HTTPREQ_OK,	     /* GET of the resource */
	HTTPREQ_NOT_FOUND,   /* another path: 404 */
	HTTPREQ_BAD_METHOD,  /* another method: 405 */
	HTTPREQ_BAD_REQUEST, /* not an HTTP/1.x request head: 400 */
};

/*
 * Reads a request head (buf[0..len), not NUL-terminated) for path: a
 * request line "METHOD TARGET HTTP/1.x" and header lines, ending with an
 * empty line (CRLF or LF). The target's query string is ignored.
 */
enum httpreq_verdict httpreq_parse(const char *buf, size_t len, const char *path);

#endif
