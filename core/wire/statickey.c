// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "statickey.h"

static const char BEGIN[] = "-----BEGIN OpenVPN Static key V1-----";
static const char END[] = "-----END OpenVPN Static key V1-----";

static const char *find(const char *text, size_t len, const char *what)
{
	return memmem(text, len, what, strlen(what));
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int static_key_parse(struct static_key *out, const char *text, size_t len, char *err, size_t errlen)
{
	const char *begin = find(text, len, BEGIN), *end, *p;
	size_t digits = 0;

	if (!begin) {
		snprintf(err, errlen, "not an OpenVPN static key: no \"%s\" line", BEGIN);
		return -1;
	}
	begin += strlen(BEGIN);
	end = find(begin, len - (size_t)(begin - text), END);
	if (!end) {
		snprintf(err, errlen, "OpenVPN static key is cut short: no \"%s\" line", END);
		return -1;
	}
	for (p = begin; p < end; p++) {
		int v = hex_value(*p);

		if (isspace((unsigned char)*p))
			continue;
		if (v < 0) {
			snprintf(err, errlen, "OpenVPN static key has a non-hex character '%c'",
				 *p);
			return -1;
		}
		if (digits < 2 * STATIC_KEY_LEN)
			out->bytes[digits / 2] =
				(uint8_t)(digits % 2 ? out->bytes[digits / 2] | v : v << 4);
		digits++;
	}
	if (digits != 2 * STATIC_KEY_LEN) {
		snprintf(err, errlen, "OpenVPN static key has %zu hex digits, expected %d", digits,
			 2 * STATIC_KEY_LEN);
		return -1;
	}
	return 0;
}

size_t static_key_format(const struct static_key *k, char *out, size_t cap)
{
	size_t n = (size_t)snprintf(out, cap, "#\n# 2048 bit OpenVPN static key\n#\n%s\n", BEGIN);

	for (size_t i = 0; i < STATIC_KEY_LEN && n < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%02x%s", k->bytes[i],
				      i % 16 == 15 ? "\n" : "");
	if (n < cap)
		n += (size_t)snprintf(out + n, cap - n, "%s\n", END);
	return n < cap ? n : 0;
}
