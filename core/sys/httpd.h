/* SPDX-License-Identifier: MIT */
/*
 * A strictly bounded HTTP/1.x responder for one resource (GET /metrics) on
 * the engine's loop: non-blocking sockets, at most HTTPD_CONNS_MAX
 * connections (the oldest is closed for a newcomer), a request head of at
 * most HTTPD_REQUEST_MAX bytes that must arrive within
 * HTTPD_READ_DEADLINE_SECONDS, and a response written without blocking
 * that must be taken within HTTPD_WRITE_DEADLINE_SECONDS; responses held
 * for slow readers are bounded in all (HTTPD_HELD_MAX_BYTES). Every
 * connection gets one response and Connection: close. A slow or hostile
 * client costs a slot and a bounded buffer, never the loop's time.
 *
 * Owns the listening socket and the connections; the body comes from the
 * caller's respond function, which decides nothing about HTTP.
 */
#ifndef MOONVPN_HTTPD_H
#define MOONVPN_HTTPD_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "httpreq.h"
#include "log.h"
#include "udp.h"

enum {
	HTTPD_CONNS_MAX = 16,
	HTTPD_REQUEST_MAX = 4096, /* request line and headers */
	HTTPD_READ_DEADLINE_SECONDS = 5,
	HTTPD_WRITE_DEADLINE_SECONDS = 10,
	HTTPD_HELD_MAX_BYTES = 32 * 1024 * 1024, /* responses not yet taken, in all */
	HTTPD_ACCEPT_PAUSE_SECONDS = 1,		 /* out of descriptors: accepting waits */
};

/* The body for a good request: malloc'd, *len bytes; NULL for a 500. */
typedef char *(*httpd_respond_fn)(void *ctx, size_t *len);

struct httpd_params {
	const char *path;	  /* "/metrics"; borrowed, must outlive the server */
	const char *content_type; /* borrowed */
	httpd_respond_fn respond;
	void *ctx;
	/* seconds; 0: HTTPD_READ_DEADLINE_SECONDS, HTTPD_WRITE_DEADLINE_SECONDS (tests shorten
	 * them) */
	double read_deadline, write_deadline;
};

struct httpd_stats {
	uint64_t requests; /* answered 200 */
	uint64_t errors;   /* answered 4xx or 5xx */
	uint64_t timeouts; /* closed at a deadline */
	uint64_t evicted;  /* closed for a newcomer, or for the held-responses bound */
	uint64_t accepted; /* connections */
};

struct httpd;

/*
 * Listens on addr (TCP) and serves. The log and params must outlive it. err
 * says why it could not listen (the address, and the system's reason).
 */
int httpd_open(struct httpd **out, struct ev_loop *loop, const struct log *lg,
	       const struct udp_addr *addr, const struct httpd_params *params, char *err,
	       size_t errlen) __attribute__((warn_unused_result));
const struct httpd_stats *httpd_stats(const struct httpd *h);
/* The address listened on (its port, when the configuration said 0). */
void httpd_address(const struct httpd *h, struct udp_addr *out);
/* Connections open now. */
size_t httpd_conns(const struct httpd *h);
/* Closes the listener and every connection. NULL is a no-op. */
void httpd_free(struct httpd *h);

#endif
