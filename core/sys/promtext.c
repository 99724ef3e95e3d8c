// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promtext.h"

void promtext_init(struct promtext *t, size_t max)
{
	*t = (struct promtext){ .max = max ? max : PROMTEXT_MAX_BYTES };
}

void promtext_deinit(struct promtext *t)
{
	free(t->buf);
	*t = (struct promtext){ .max = t->max };
}

char *promtext_take(struct promtext *t, size_t *len)
{
	char *buf = t->failed ? NULL : t->buf;

	*len = t->failed ? 0 : t->len;
	if (t->failed)
		free(t->buf);
	if (!buf && !t->failed)
		buf = calloc(1, 1); /* nothing appended: an empty body */
	*t = (struct promtext){ .max = t->max };
	return buf;
}

/* Room for n more bytes and the NUL; false (and failed) past max or out of memory. */
static bool reserve(struct promtext *t, size_t n)
{
	size_t want = t->len + n + 1, cap = t->cap ? t->cap : 4096;
	char *grown;

	if (t->failed)
		return false;
	if (want > t->max + 1) {
		t->failed = true;
		return false;
	}
	if (want <= t->cap)
		return true;
	while (cap < want)
		cap *= 2;
	if (cap > t->max + 1)
		cap = t->max + 1;
	grown = realloc(t->buf, cap);
	if (!grown) {
		t->failed = true;
		return false;
	}
	t->buf = grown;
	t->cap = cap;
	return true;
}

static void put(struct promtext *t, const char *s, size_t n)
{
	if (!reserve(t, n))
		return;
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

static void puts_(struct promtext *t, const char *s)
{
	put(t, s, strlen(s));
}

/* Appends s with \ and newline escaped, and " too when quoted (a label value). */
static void put_escaped(struct promtext *t, const char *s, bool quoted)
{
	for (const char *p = s; *p; p++) {
		if (*p == '\\')
			put(t, "\\\\", 2);
		else if (*p == '\n')
			put(t, "\\n", 2);
		else if (*p == '"' && quoted)
			put(t, "\\\"", 2);
		else
			put(t, p, 1);
	}
}

void promtext_family(struct promtext *t, const char *name, const char *type, const char *help)
{
	puts_(t, "# HELP ");
	puts_(t, name);
	put(t, " ", 1);
	put_escaped(t, help, false);
	puts_(t, "\n# TYPE ");
	puts_(t, name);
	put(t, " ", 1);
	puts_(t, type);
	put(t, "\n", 1);
}

void promtext_sample(struct promtext *t, const char *name, const char *const *labels, size_t n,
		     const char *value)
{
	puts_(t, name);
	for (size_t i = 0; i < n; i++) {
		put(t, i ? "," : "{", 1);
		puts_(t, labels[2 * i]);
		put(t, "=\"", 2);
		put_escaped(t, labels[2 * i + 1], true);
		put(t, "\"", 1);
	}
	if (n)
		put(t, "}", 1);
	put(t, " ", 1);
	puts_(t, value);
	put(t, "\n", 1);
}

void promtext_u64(struct promtext *t, const char *name, const char *key, const char *value,
		  uint64_t v)
{
	const char *labels[2] = { key, value };
	char text[24];

	snprintf(text, sizeof(text), "%" PRIu64, v);
	promtext_sample(t, name, labels, key ? 1 : 0, text);
}

void promtext_format_double(char *out, size_t outlen, double v)
{
	if (isnan(v))
		snprintf(out, outlen, "NaN");
	else if (isinf(v))
		snprintf(out, outlen, "%cInf", v > 0 ? '+' : '-');
	else if (snprintf(out, outlen, "%.15g", v) > 0 && strtod(out, NULL) != v)
		snprintf(out, outlen, "%.17g", v); /* the shortest of the two that reads back */
}

void promtext_double(struct promtext *t, const char *name, const char *key, const char *value,
		     double v)
{
	const char *labels[2] = { key, value };
	char text[32];

	promtext_format_double(text, sizeof(text), v);
	promtext_sample(t, name, labels, key ? 1 : 0, text);
}
