/* SPDX-License-Identifier: MIT */
/*
 * Prometheus metrics (config `metrics`): the counters that live nowhere
 * else (handshake outcomes, auth results, hook calls and their durations),
 * the rendering of every figure of the engine as the text format
 * (promtext.h) when a scraper asks, and the HTTP listener that serves it
 * (httpd.h). Values are read in C where they live, once per scrape; no Lua
 * runs for a scrape. Per-client series (bytes and packets by common name)
 * are bounded by metrics.per_client_max and can be turned off.
 */
#ifndef MOONVPN_METRICS_H
#define MOONVPN_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct engine;
struct session;
struct metrics;

enum {
	METRICS_HOOKS_MAX = 16,	   /* hook names with a histogram (they are the engine's own) */
	METRICS_HOOK_BUCKETS = 12, /* upper bounds in metrics.c */
};

/* How a client's admission ended. */
enum metrics_auth {
	METRICS_AUTH_ACCEPTED, /* on.auth and on.connect let it in (or no hook asked) */
	METRICS_AUTH_REFUSED,  /* a hook refused it, or failed */
	METRICS_AUTH_PENDING,  /* deferred: a hook told it to wait (client:pending) */
	METRICS_AUTH_N,
};

/* For the engine (e->metrics is NULL until this returns). NULL when out of memory. */
struct metrics *metrics_new(struct engine *e) __attribute__((warn_unused_result));
void metrics_free(struct metrics *m);
/* Room for max_clients clients (by peer-id); -ENOMEM. */
int metrics_set_max_clients(struct metrics *m, uint32_t max_clients)
	__attribute__((warn_unused_result));

/*
 * Serves cfg's metrics (or stops: cfg NULL, or no metrics.listen). A new
 * address is listened on before the old one closes; on failure the running
 * listener stays and err says why.
 */
int metrics_configure(struct metrics *m, const struct config *cfg, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* The address served, "" when none. */
const char *metrics_listen_address(const struct metrics *m);

/* Counting, from the engine's callbacks. */
void metrics_auth(struct metrics *m, enum metrics_auth result);
/* A client was let in (a handshake completed), or refused by its hooks. */
void metrics_admitted(struct metrics *m, const struct session *s);
void metrics_refused(struct metrics *m, const struct session *s);
/* A session ended; one never admitted counts as a failed handshake, by its reason. */
void metrics_session_ended(struct metrics *m, const struct session *s, const char *reason);
/* A hook call (its name as the runtime logs it) took seconds, and failed or not. */
void metrics_hook_observe(struct metrics *m, const char *name, double seconds, bool failed);

/* The whole text, malloc'd (*len bytes); NULL when it does not fit or out of memory. */
char *metrics_render(struct metrics *m, size_t *len) __attribute__((warn_unused_result));

/* The failure reason label for a session that ended before it was admitted. */
const char *metrics_failure_reason(const char *reason);

#endif
