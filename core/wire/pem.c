// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pem.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char DASHES[] = "-----";

static int sextet(char c)
{
	const char *p = c ? strchr(ALPHABET, c) : NULL;

	return p ? (int)(p - ALPHABET) : -1;
}

/* The name of a "-----BEGIN NAME-----" line at text into name; the line's end, or NULL. */
static const char *begin_line(const char *text, const char *end, char *name, size_t cap)
{
	const char *p = text + strlen("-----BEGIN "), *close;

	if (p > end)
		return NULL;
	close = memmem(p, (size_t)(end - p), DASHES, strlen(DASHES));
	if (!close || (size_t)(close - p) >= cap || memchr(p, '\n', (size_t)(close - p)))
		return NULL;
	memcpy(name, p, (size_t)(close - p));
	name[close - p] = '\0';
	return close + strlen(DASHES);
}

/* The first BEGIN line at a line start; the text after it, or NULL. */
static const char *find_begin(const char *text, size_t len, char *name, size_t cap)
{
	const char *end = text + len;

	for (const char *p = text; p && p < end;) {
		p = memmem(p, (size_t)(end - p), "-----BEGIN ", strlen("-----BEGIN "));
		if (!p)
			return NULL;
		if (p == text || p[-1] == '\n') {
			const char *after = begin_line(p, end, name, cap);

			if (after)
				return after;
		}
		p++;
	}
	return NULL;
}

/* Base64 between b and e (whitespace ignored, '=' padding only at the end) into out. */
static int decode64(const char *b, const char *e, uint8_t *out, size_t cap, size_t *n, char *err,
		    size_t errlen)
{
	uint32_t acc = 0;
	size_t chars = 0, pad = 0;

	*n = 0;
	for (const char *p = b; p < e; p++) {
		int v = sextet(*p);

		if (isspace((unsigned char)*p))
			continue;
		if (*p == '=' && chars % 4 >= 2 && pad < 2) {
			pad++;
			chars++;
			continue;
		}
		if (v < 0 || pad) {
			snprintf(err, errlen, "a character that is not base64 (0x%02x) in the key",
				 (unsigned char)*p);
			return -1;
		}
		acc = acc << 6 | (uint32_t)v;
		if (++chars % 4 == 0) {
			if (*n + 3 > cap)
				goto too_long;
			out[(*n)++] = (uint8_t)(acc >> 16);
			out[(*n)++] = (uint8_t)(acc >> 8);
			out[(*n)++] = (uint8_t)acc;
			acc = 0;
		}
	}
	if (chars % 4 != 0) {
		snprintf(err, errlen, "the base64 of the key is cut short (%zu characters)", chars);
		return -1;
	}
	if (pad) { /* the last group: 4 - pad characters for 3 - pad bytes */
		acc <<= 6 * pad;
		if (*n + 3 - pad > cap)
			goto too_long;
		for (size_t i = 0; i < 3 - pad; i++)
			out[(*n)++] = (uint8_t)(acc >> (16 - 8 * i));
	}
	return 0;
too_long:
	snprintf(err, errlen, "the key is longer than expected (over %zu bytes)", cap);
	return -1;
}

int pem_decode(const char *name, const char *text, size_t len, uint8_t *out, size_t cap,
	       size_t *out_len, char *err, size_t errlen)
{
	char found[PEM_NAME_MAX], end_line[PEM_NAME_MAX + 16];
	const char *body = find_begin(text, len, found, sizeof(found)), *end;

	if (!body) {
		snprintf(err, errlen, "no \"-----BEGIN %s-----\" line", name);
		return -1;
	}
	if (strcmp(found, name) != 0) {
		snprintf(err, errlen, "this is a \"%s\", not a \"%s\"", found, name);
		return -1;
	}
	snprintf(end_line, sizeof(end_line), "-----END %s-----", name);
	end = memmem(body, len - (size_t)(body - text), end_line, strlen(end_line));
	if (!end) {
		snprintf(err, errlen, "cut short: no \"%s\" line", end_line);
		return -1;
	}
	return decode64(body, end, out, cap, out_len, err, errlen);
}

static size_t put(char *out, size_t cap, size_t n, const char *s)
{
	size_t l = strlen(s);

	if (n + l < cap)
		memcpy(out + n, s, l + 1);
	return n + l;
}

size_t pem_encode(const char *name, const uint8_t *data, size_t len, char *out, size_t cap)
{
	char line[PEM_NAME_MAX + 16], group[5] = { 0 };
	size_t n = 0, col = 0;

	snprintf(line, sizeof(line), "-----BEGIN %s-----\n", name);
	n = put(out, cap, n, line);
	for (size_t i = 0; i < len; i += 3) {
		uint32_t acc = (uint32_t)data[i] << 16;
		size_t have = len - i < 3 ? len - i : 3;

		if (have > 1)
			acc |= (uint32_t)data[i + 1] << 8;
		if (have > 2)
			acc |= data[i + 2];
		for (int j = 0; j < 4; j++)
			group[j] = (size_t)j <= have ? ALPHABET[(acc >> (18 - 6 * j)) & 63] : '=';
		n = put(out, cap, n, group);
		col += 4;
		if (col == PEM_LINE_CHARS || i + 3 >= len) {
			n = put(out, cap, n, "\n");
			col = 0;
		}
	}
	snprintf(line, sizeof(line), "-----END %s-----\n", name);
	n = put(out, cap, n, line);
	return n < cap ? n : 0;
}
