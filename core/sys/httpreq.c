// SPDX-License-Identifier: MIT
#include <stdbool.h>
#include <string.h>

#include "httpreq.h"

static bool is_tchar(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The end of the head (the byte after its blank line), or NULL while there is none. */
static const char *head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return buf + i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return buf + i + 3;
	}
	return NULL;
}

/* One line [p, eol) without its CR: printable ASCII and tabs only (obs-text refused). */
static bool is_clean_line(const char *p, const char *eol)
{
	for (; p < eol; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f || (unsigned char)*p >= 0x80)
			return false;
	return true;
}

static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	const char *eol = nl ? nl : end;

	return eol > p && eol[-1] == '\r' ? eol - 1 : eol;
}

/* Header lines: "name: value", the name a token. */
static bool are_headers_valid(const char *p, const char *end)
{
	while (p < end) {
		const char *eol = line_end(p, end), *colon;
		const char *next = memchr(p, '\n', (size_t)(end - p));

		if (eol == p)
			return true; /* the blank line */
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p || !is_clean_line(p, eol))
			return false;
		for (const char *q = p; q < colon; q++)
			if (!is_tchar(*q))
				return false;
		p = next ? next + 1 : end;
	}
	return true;
}

enum httpreq_verdict httpreq_parse(const char *buf, size_t len, const char *path)
{
	const char *end = head_end(buf, len), *eol, *sp1, *sp2, *target_end;
	size_t plen = strlen(path);

	if (!end)
		return HTTPREQ_INCOMPLETE;
	eol = line_end(buf, end);
	if (!is_clean_line(buf, eol))
		return HTTPREQ_BAD_REQUEST;
	sp1 = memchr(buf, ' ', (size_t)(eol - buf));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp1 || sp1 == buf || !sp2 || sp2 == sp1 + 1 || sp1[1] != '/')
		return HTTPREQ_BAD_REQUEST;
	for (const char *q = buf; q < sp1; q++)
		if (!is_tchar(*q))
			return HTTPREQ_BAD_REQUEST;
	if (eol - sp2 - 1 != 8 ||
	    (memcmp(sp2 + 1, "HTTP/1.0", 8) && memcmp(sp2 + 1, "HTTP/1.1", 8)))
		return HTTPREQ_BAD_REQUEST;
	if (memchr(sp1 + 1, ' ', (size_t)(sp2 - sp1 - 1)) ||
	    !are_headers_valid((const char *)memchr(buf, '\n', (size_t)(end - buf)) + 1, end))
		return HTTPREQ_BAD_REQUEST;
	if (sp1 - buf != 3 || memcmp(buf, "GET", 3) != 0)
		return HTTPREQ_BAD_METHOD;
	target_end = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
	if (!target_end)
		target_end = sp2;
	if ((size_t)(target_end - sp1 - 1) != plen || memcmp(sp1 + 1, path, plen) != 0)
		return HTTPREQ_NOT_FOUND;
	return HTTPREQ_OK;
}
