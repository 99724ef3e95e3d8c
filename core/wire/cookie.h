/* SPDX-License-Identifier: MIT */
/*
 * The 2.6 stateless server cookie (protocol guide section 3.2): a UDP
 * server answers a client's hard reset with a server session id that is an
 * HMAC over the time slot, the client's address and port and the client's
 * session id, and creates per-client state only when a later packet echoes
 * a valid cookie. Spoofed resets therefore cost no memory. Holds the key
 * and the checks; sending and session creation are the caller's.
 */
#ifndef MOONVPN_COOKIE_H
#define MOONVPN_COOKIE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto.h"
#include "proto.h"

enum {
	COOKIE_KEY_LEN = 32,
	COOKIE_SLOTS_BEFORE = 2, /* slots in the past still accepted, as 2.6 does */
	COOKIE_SLOTS_AFTER = 1,
};

struct cookie_key {
	uint8_t bytes[COOKIE_KEY_LEN];
	unsigned slot_seconds; /* (hand_window + 1) / 2: 30 s for the default 60 s */
};

/* A fresh random key; slot length from the hand-window. 0 or -1. */
int cookie_key_init(struct cookie_key *k, unsigned hand_window_seconds)
	__attribute__((warn_unused_result));

/* The cookie for this client at time now (seconds). 0 or -1 (crypto failure). */
int cookie_make(const struct crypto *c, const struct cookie_key *k, uint64_t now,
		const struct sockaddr *peer, const struct proto_sid *client_sid,
		struct proto_sid *cookie) __attribute__((warn_unused_result));

/* True when cookie was made for this client in one of the accepted slots around now. */
bool cookie_check(const struct crypto *c, const struct cookie_key *k, uint64_t now,
		  const struct sockaddr *peer, const struct proto_sid *client_sid,
		  const struct proto_sid *cookie);

/* The stateless HARD_RESET_SERVER_V2 answering a client's reset: acks msg 0, msg id 0. */
void cookie_reply(struct proto_control *reply, const struct proto_control *client_reset,
		  const struct proto_sid *cookie);

/*
 * True when a packet may open a session with a cookie: P_CONTROL_V1, P_ACK_V1
 * or P_CONTROL_WKC_V1 with key id 0 and acks (so that it echoes our id).
 */
bool cookie_opens_session(const struct proto_control *p);

#endif
