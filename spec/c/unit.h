/* SPDX-License-Identifier: MIT */
/*
 * A tiny unit-test harness: CHECK() records a pass or a failure with the
 * file and line, and unit_report() prints "N passed, N failed" and
 * returns the exit status. Each test program is one main() that walks
 * tables of cases.
 */
#ifndef MOONVPN_UNIT_H
#define MOONVPN_UNIT_H

#include <stdio.h>
#include <stdlib.h>

struct unit_counts {
	int passed;
	int failed;
};

static struct unit_counts unit_counts;

#define UNIT_FAIL(text, ...)                                                   \
	do {                                                                   \
		unit_counts.failed++;                                          \
		fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, text); \
		fprintf(stderr, __VA_ARGS__);                                  \
		fputc('\n', stderr);                                           \
	} while (0)

#define CHECK(cond, ...)                               \
	do {                                           \
		if (cond)                              \
			unit_counts.passed++;          \
		else                                   \
			UNIT_FAIL(#cond, __VA_ARGS__); \
	} while (0)

/*
 * One step of a randomized test of many rounds: a failure is reported and
 * counted as CHECK's is, a pass is not, so that the thousands of steps of one
 * property test do not swamp the count of checks. The rounds are followed by
 * a CHECK that says what they showed.
 */
#define CHECK_STEP(cond, ...)                          \
	do {                                           \
		if (!(cond))                           \
			UNIT_FAIL(#cond, __VA_ARGS__); \
	} while (0)

static inline int unit_report(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, unit_counts.passed, unit_counts.failed);
	return unit_counts.failed ? 1 : 0;
}

enum { UNIT_TEXT_MAX_BYTES = 16384 };

/* A small file's text, NUL-terminated and malloc'd (a PEM file, a key file); a check fails if it is
 * empty. */
static inline char *unit_read_text(const char *path)
{
	char *text = calloc(1, UNIT_TEXT_MAX_BYTES);
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f && text)
		n = fread(text, 1, UNIT_TEXT_MAX_BYTES - 1, f);
	if (f)
		fclose(f);
	CHECK(n > 0, "read %s", path);
	return text;
}

#endif
