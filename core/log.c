// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

static const char *const level_names[] = {
#define LOG_LEVEL_NAME(e, s) [e] = s,
	LOG_LEVEL_MAP(LOG_LEVEL_NAME)
#undef LOG_LEVEL_NAME
};

enum { LEVEL_COUNT = sizeof(level_names) / sizeof(level_names[0]) };

void log_init(struct log *lg, enum log_level level, FILE *out)
{
	lg->level = level;
	lg->out = out;
}

bool log_level_parse(const char *name, enum log_level *out)
{
	for (int i = 0; i < LEVEL_COUNT; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

const char *log_level_name(enum log_level level)
{
	return (unsigned)level < LEVEL_COUNT ? level_names[level] : "?";
}

static void vlog(const struct log *lg, enum log_level level, const char *subsys, const char *suffix,
		 const char *fmt, va_list ap)
{
	struct timeval tv;
	struct tm tm;
	char stamp[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One fprintf per part but one line per event: stderr is unbuffered, so
	 * build the line first to keep concurrent writers from interleaving. */
	char line[2048];
	int n = snprintf(line, sizeof(line), "%s.%03dZ %-5s %s: ", stamp, (int)(tv.tv_usec / 1000),
			 log_level_name(level), subsys);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	fprintf(lg->out, "%s%s\n", line, suffix);
	fflush(lg->out);
}

void log_write(const struct log *lg, enum log_level level, const char *subsys, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(lg, level))
		return;
	va_start(ap, fmt);
	vlog(lg, level, subsys, "", fmt, ap);
	va_end(ap);
}

void log_warn(const struct log *lg, const char *subsys, const char *fmt, ...)
{
	int saved = errno;
	char suffix[160];
	va_list ap;

	if (!log_enabled(lg, LOG_WARN))
		return;
	snprintf(suffix, sizeof(suffix), ": %s", strerror(saved));
	va_start(ap, fmt);
	vlog(lg, LOG_WARN, subsys, suffix, fmt, ap);
	va_end(ap);
	errno = saved;
}
