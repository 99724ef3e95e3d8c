/* SPDX-License-Identifier: MIT */
/*
 * Log lines: "2026-11-25T03:13:47.123Z info  engine: message", one event
 * per line on stderr, filtered by a level that lives in struct log (one per
 * engine, no global). Each line names its subsystem ("engine", "config",
 * "device", "console", ...). log_warn appends strerror(errno); log_warnx
 * does not. Does not rate-limit: the data path must not log per packet.
 */
#ifndef MOONVPN_LOG_H
#define MOONVPN_LOG_H

#include <stdbool.h>
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

struct log {
	enum log_level level;
	FILE *out;
};

void log_init(struct log *lg, enum log_level level, FILE *out);

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

#define log_error(lg, sub, ...) log_write(lg, LOG_ERROR, sub, __VA_ARGS__)
#define log_warnx(lg, sub, ...) log_write(lg, LOG_WARN, sub, __VA_ARGS__)
#define log_info(lg, sub, ...)	log_write(lg, LOG_INFO, sub, __VA_ARGS__)
#define log_debug(lg, sub, ...) log_write(lg, LOG_DEBUG, sub, __VA_ARGS__)
#define log_trace(lg, sub, ...) log_write(lg, LOG_TRACE, sub, __VA_ARGS__)

#endif
