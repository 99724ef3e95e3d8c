/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus text exposition format, version 0.0.4: a bounded text
 * buffer that metric families (# HELP and # TYPE lines) and samples are
 * appended to, with label values and help text escaped as the format asks
 * (a backslash, a double quote and a newline in a label value; a backslash
 * and a newline in help text). It owns only its buffer; what the samples
 * mean is the caller's (metrics.c).
 */
#ifndef MOONVPN_PROMTEXT_H
#define MOONVPN_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROMTEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum {
	PROMTEXT_MAX_BYTES = 16 * 1024 * 1024, /* a body larger than this is refused */
	PROMTEXT_LABELS_MAX = 4,	       /* label pairs on one sample */
};

struct promtext {
	char *buf; /* NUL-terminated while not failed */
	size_t len, cap, max;
	bool failed; /* out of memory, or past max: the text is incomplete */
};

/* An empty text of at most max bytes (0: PROMTEXT_MAX_BYTES). */
void promtext_init(struct promtext *t, size_t max);
/* Frees the buffer; the struct can be initialised again. */
void promtext_deinit(struct promtext *t);
/* Hands the buffer (len bytes) to the caller and empties t; NULL when t failed. */
char *promtext_take(struct promtext *t, size_t *len) __attribute__((warn_unused_result));

/* "# HELP name help\n# TYPE name type\n"; type is counter, gauge or histogram. */
void promtext_family(struct promtext *t, const char *name, const char *type, const char *help);

/*
 * One sample: name{k1="v1",...} value. labels holds n key/value pairs
 * (keys are trusted names, values are escaped); value is the number's text.
 */
void promtext_sample(struct promtext *t, const char *name, const char *const *labels, size_t n,
		     const char *value);
/* The same with an unsigned integer, a double (as few digits as read back; +Inf, -Inf, NaN as the
 * format spells them), and at most one label (key NULL: none). */
void promtext_u64(struct promtext *t, const char *name, const char *key, const char *value,
		  uint64_t v);
void promtext_double(struct promtext *t, const char *name, const char *key, const char *value,
		     double v);

/* Writes v's text as the format spells it into out (at least 32 bytes). */
void promtext_format_double(char *out, size_t outlen, double v);

#endif
