// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

static const char *const level_names[] = {
#define LOG_LEVEL_NAME(e, s) [e] = s,
	LOG_LEVEL_MAP(LOG_LEVEL_NAME)
#undef LOG_LEVEL_NAME
};

enum { LEVEL_COUNT = sizeof(level_names) / sizeof(level_names[0]) };

/* syslog(3) priorities of our levels, as sd-daemon(3) prefixes: "<3>" is LOG_ERR. */
static const char level_priority[] = {
	[LOG_ERROR] = '3', [LOG_WARN] = '4', [LOG_INFO] = '6', [LOG_DEBUG] = '7', [LOG_TRACE] = '7',
};

bool log_is_journal(FILE *out)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;

	/* systemd sets "DEV:INO" of the stream it connected; stderr may since go elsewhere. */
	if (!stream || sscanf(stream, "%llu:%llu%n", &dev, &ino, &n) != 2 || stream[n] != '\0')
		return false;
	return fstat(fileno(out), &st) == 0 && (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

static double monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void log_init(struct log *lg, enum log_level level, FILE *out)
{
	memset(lg, 0, sizeof(*lg));
	lg->level = level;
	lg->out = out;
	lg->now = monotonic_now;
	lg->journal = log_is_journal(out);
	lg->owner = pthread_self();
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

size_t log_escape(char *dst, size_t dstlen, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *src; src++) {
		unsigned char ch = (unsigned char)*src;
		char esc[4];
		size_t len = 1;

		esc[0] = (char)ch;
		if (ch == '\n' || ch == '\r') {
			esc[0] = '\\';
			esc[1] = ch == '\n' ? 'n' : 'r';
			len = 2;
		} else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[ch >> 4];
			esc[3] = hex[ch & 15];
			len = 4;
		}
		if (n + len >= dstlen)
			break;
		memcpy(dst + n, esc, len);
		n += len;
	}
	dst[n] = '\0';
	return n;
}

static void vlog(const struct log *lg, enum log_level level, const char *subsys, const char *suffix,
		 const char *fmt, va_list ap)
{
	struct timeval tv;
	struct tm tm;
	char stamp[32], msg[LOG_LINE_MAX], line[LOG_LINE_MAX];
	int n;

	/* One fprintf per part but one line per event: stderr is unbuffered, so
	 * build the line first to keep concurrent writers from interleaving. */
	if (lg->journal && (unsigned)level < LEVEL_COUNT) {
		/* The journal stamps each line itself and reads the level from "<N>". */
		n = snprintf(line, sizeof(line), "<%c>%s: ", level_priority[level], subsys);
	} else {
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "%s.%03dZ %-5s %s: ", stamp,
			     (int)(tv.tv_usec / 1000), log_level_name(level), subsys);
	}
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* The message quotes what peers sent (names, peer-info, errors of hooks). */
	log_escape(line + n, sizeof(line) - (size_t)n, msg);
	fprintf(lg->out, "%s%s\n", line, suffix);
	fflush(lg->out);
	if (lg->tap && pthread_equal(pthread_self(), lg->owner)) {
		char tapped[LOG_LINE_MAX];
		const char *text = strstr(line, ": "); /* after the subsystem: the message */

		snprintf(tapped, sizeof(tapped), "%s: %s%s", subsys, text ? text + 2 : "", suffix);
		lg->tap(lg->tap_ctx, level, tapped);
	}
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

/* The window of file:line; past LOG_RATELIMIT_SITES sites, the shared last one. */
static struct log_site *find_site(const struct log *lg, const char *file, int line)
{
	/* The log's configuration is const to its users; its bookkeeping is not,
	 * and every struct log is a modifiable object (log_init writes it). */
	struct log_site *sites = (struct log_site *)lg->sites;

	for (size_t i = 0; i < LOG_RATELIMIT_SITES; i++) {
		if (!sites[i].file) {
			sites[i].file = file;
			sites[i].line = line;
			return &sites[i];
		}
		if (sites[i].line == line && strcmp(sites[i].file, file) == 0)
			return &sites[i];
	}
	return &sites[LOG_RATELIMIT_SITES];
}

/* True when the site may print now; says what the last window suppressed first. */
static bool site_allows(const struct log *lg, struct log_site *s, enum log_level level,
			const char *subsys)
{
	double now = lg->now();

	if (s->printed && now - s->window_start < LOG_RATELIMIT_INTERVAL_SECONDS) {
		if (s->printed < LOG_RATELIMIT_BURST) {
			s->printed++;
			return true;
		}
		s->suppressed++;
		return false;
	}
	if (s->suppressed)
		log_write(lg, level, subsys,
			  "%lu lines like the next one suppressed (at most %d every %d s)",
			  s->suppressed, LOG_RATELIMIT_BURST, LOG_RATELIMIT_INTERVAL_SECONDS);
	s->window_start = now;
	s->printed = 1;
	s->suppressed = 0;
	return true;
}

void log_write_limited(const struct log *lg, const char *file, int line, bool with_errno,
		       enum log_level level, const char *subsys, const char *fmt, ...)
{
	int saved = errno;
	char suffix[160] = "";
	va_list ap;

	if (!log_enabled(lg, level) || !site_allows(lg, find_site(lg, file, line), level, subsys))
		return;
	if (with_errno)
		snprintf(suffix, sizeof(suffix), ": %s", strerror(saved));
	va_start(ap, fmt);
	vlog(lg, level, subsys, suffix, fmt, ap);
	va_end(ap);
	errno = saved;
}
