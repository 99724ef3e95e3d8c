/* SPDX-License-Identifier: MIT */
/*
 * The server's front door on its UDP socket: every datagram is unwrapped
 * (tls-auth/tls-crypt), decoded and either answered statelessly (a hard
 * reset gets the HMAC cookie reply, section 3.2 of the protocol guide) or
 * counted and dropped, before any per-client state exists. A packet that
 * echoes a valid cookie is where a session begins (session.c, next).
 * Owns the socket, its watcher, the cookie key and the drop counters.
 */
#ifndef MOONVPN_SERVER_H
#define MOONVPN_SERVER_H

#include <ev.h>
#include <stdint.h>

#include "crypto.h"
#include "log.h"
#include "udp.h"
#include "wrap.h"

enum {
	SERVER_PACKET_MAX = 2048, /* larger control packets are dropped, as 2.6 does */
	SERVER_HAND_WINDOW_SECONDS = 60,
};

struct server_stats {
	uint64_t packets_in;
	uint64_t bytes_in;
	uint64_t dropped_unwrap;     /* failed the tls-auth/tls-crypt check */
	uint64_t dropped_malformed;  /* not a valid control packet */
	uint64_t dropped_no_session; /* valid, but for no session (stale or forged cookie) */
	uint64_t resets_answered;    /* stateless cookie replies sent */
	uint64_t cookies_accepted;   /* packets echoing a valid cookie */
};

struct server;

/* Opens the UDP socket and starts serving. The wrap is copied; c must outlive the server. */
int server_open(struct server **out, struct ev_loop *loop, const struct log *lg,
		const struct crypto *c, const struct udp_addr *listen, const struct wrap *wrap,
		char *err, size_t errlen) __attribute__((warn_unused_result));

const struct server_stats *server_stats(const struct server *s);

/* Replaces the control channel's wrapping (after a reload changed the key). */
void server_set_wrap(struct server *s, const struct wrap *wrap);

/* Closes the socket. NULL is a no-op. */
void server_free(struct server *s);

#endif
