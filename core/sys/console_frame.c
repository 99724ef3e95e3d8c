// SPDX-License-Identifier: MIT
#include <stdint.h>
#include <string.h>

#include "console_frame.h"
#include "console_proto.h"

static const char *const kind_names[] = {
	[CONSOLE_HELLO] = CONSOLE_KIND_HELLO,
	[CONSOLE_OK] = CONSOLE_KIND_OK,
	[CONSOLE_ERROR] = CONSOLE_KIND_ERROR,
	[CONSOLE_MORE] = CONSOLE_KIND_MORE,
};

const char *console_kind_name(enum console_kind kind)
{
	if ((size_t)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "?";
	return kind_names[kind];
}

static int parse_kind(const char *text, size_t n, enum console_kind *out)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		if (strlen(kind_names[i]) == n && memcmp(kind_names[i], text, n) == 0) {
			*out = (enum console_kind)i;
			return 0;
		}
	}
	return -1;
}

/* The bound check runs per digit, so a long run of digits cannot overflow. */
static const char *parse_len(const char *text, size_t n, size_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return "missing length";
	for (size_t i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return "length is not a decimal number";
	}
	if (text[0] == '0' && n > 1)
		return "length has a leading zero";
	for (size_t i = 0; i < n; i++) {
		v = v * 10 + (uint64_t)(text[i] - '0');
		if (v > CONSOLE_FRAME_MAX)
			return "length exceeds CONSOLE_FRAME_MAX";
	}
	*out = (size_t)v;
	return NULL;
}

const char *console_header_parse(struct console_header *out, const char *line, size_t n)
{
	const char *space = memchr(line, ' ', n);
	size_t kind_len;
	const char *why;

	if (!space)
		return "no space between kind and length";
	kind_len = (size_t)(space - line);
	if (parse_kind(line, kind_len, &out->kind) < 0)
		return "unknown frame kind";
	why = parse_len(space + 1, n - kind_len - 1, &out->len);
	if (why)
		return why;
	if (out->kind == CONSOLE_MORE && out->len != 0)
		return "more frame with a non-zero length";
	return NULL;
}
