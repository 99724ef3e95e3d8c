/* SPDX-License-Identifier: MIT */
/*
 * Log lines: "2026-11-25T03:13:47.123Z info  engine: message", one event
 * per line on stderr, filtered by a level that lives in struct log (one per
 * engine, no global). Each line names its subsystem ("engine", "config",
 * "device", "console", ...). log_warn appends strerror(errno); log_warnx
 * does not.
 *
 * A line is one line whatever it quotes: control bytes in the message
 * (a newline in a username, an escape sequence in peer-info) are written
 * as \n, \r or \xHH, so no string a peer chose can forge a line.
 *
 * When stderr is the journal (systemd's $JOURNAL_STREAM names its device
 * and inode) a line is "<6>engine: message" instead: no time stamp of ours,
 * and the level as a syslog priority, which journald reads (sd-daemon(3)).
 *
 * The data path must not log per packet. An error that can repeat as fast
 * as the network brings it (accept failing, a socket error) goes through
 * log_ratelimited: each call site prints at most LOG_RATELIMIT_BURST lines
 * per LOG_RATELIMIT_INTERVAL_SECONDS, then one line saying how many it
 * suppressed.
 */
#ifndef MOONVPN_LOG_H
#define MOONVPN_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* X-macro: enum value, name in configs and on the wire of log lines. */
#define LOG_LEVEL_MAP(X)      \
	X(LOG_ERROR, "error") \
	X(LOG_WARN, "warn")   \
	X(LOG_INFO, "info")   \
	X(LOG_DEBUG, "debug") \
	X(LOG_TRACE, "trace")

enum log_level {
#define LOG_LEVEL_ENUM(e, s) e,
	LOG_LEVEL_MAP(LOG_LEVEL_ENUM)
#undef LOG_LEVEL_ENUM
};

enum {
	LOG_LINE_MAX = 2048,		    /* bytes of one line, escapes included */
	LOG_RATELIMIT_INTERVAL_SECONDS = 5, /* each call site's window */
	LOG_RATELIMIT_BURST = 10,	    /* lines a call site prints per window */
	LOG_RATELIMIT_SITES = 64,	    /* call sites tracked; more share one budget */
};

/* One rate-limited call site's window. */
struct log_site {
	const char *file; /* the call site; NULL: free */
	int line;
	double window_start;
	unsigned printed;
	unsigned long suppressed;
};

struct log {
	enum log_level level;
	FILE *out;
	/* Seconds on a monotonic clock; tests may replace it. */
	double (*now)(void);
	bool journal; /* out is the journal: "<N>" priorities, no time stamps */
	/* Bookkeeping of log_ratelimited, changed through a const struct log:
	 * what was printed lately is not part of what the log is. */
	struct log_site sites[LOG_RATELIMIT_SITES + 1]; /* the last one: the overflow */
	/* Also given each line written, as "subsys: message" (the management
	 * interface's >LOG); NULL: none. Only lines of the thread that called
	 * log_init (the main thread): a data-path worker's go to out alone. */
	void (*tap)(void *ctx, enum log_level level, const char *line);
	void *tap_ctx;
	pthread_t owner;
};

/* Sets journal when out is the stream $JOURNAL_STREAM names. */
void log_init(struct log *lg, enum log_level level, FILE *out);

/* True when out is the journal's stream ($JOURNAL_STREAM is "DEV:INO" of it). */
bool log_is_journal(FILE *out);

/* "info" -> LOG_INFO; false for an unknown name. */
bool log_level_parse(const char *name, enum log_level *out) __attribute__((warn_unused_result));
const char *log_level_name(enum log_level level);

static inline bool log_enabled(const struct log *lg, enum log_level level)
{
	return level <= lg->level;
}

void log_write(const struct log *lg, enum log_level level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Like log_write at LOG_WARN, with ": strerror(errno)" appended; errno is preserved. */
void log_warn(const struct log *lg, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * log_write for the call site file:line, within its budget; errno is
 * preserved, and with with_errno ": strerror(errno)" is appended. Called
 * from the loop's thread only. Use the macros.
 */
void log_write_limited(const struct log *lg, const char *file, int line, bool with_errno,
		       enum log_level level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

#define log_ratelimited(lg, level, sub, ...) \
	log_write_limited(lg, __FILE__, __LINE__, false, level, sub, __VA_ARGS__)
/* log_warn, rate-limited. */
#define log_warn_ratelimited(lg, sub, ...) \
	log_write_limited(lg, __FILE__, __LINE__, true, LOG_WARN, sub, __VA_ARGS__)

#define log_error(lg, sub, ...) log_write(lg, LOG_ERROR, sub, __VA_ARGS__)
#define log_warnx(lg, sub, ...) log_write(lg, LOG_WARN, sub, __VA_ARGS__)
#define log_info(lg, sub, ...)	log_write(lg, LOG_INFO, sub, __VA_ARGS__)
#define log_debug(lg, sub, ...) log_write(lg, LOG_DEBUG, sub, __VA_ARGS__)
#define log_trace(lg, sub, ...) log_write(lg, LOG_TRACE, sub, __VA_ARGS__)

/*
 * Copies src into dst (dstlen > 0) with every control byte but tab written
 * as \n, \r or \xHH; cuts at a whole escape. Returns the length written.
 */
size_t log_escape(char *dst, size_t dstlen, const char *src);

#endif
