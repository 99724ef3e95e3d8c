/* SPDX-License-Identifier: MIT */
/*
 * One key state of a session (one key_id): its reliability layer, TLS
 * session, the client's key-method-2 message, the derived key block and
 * the data-channel keys. A session has the current key state and, around a
 * renegotiation, the next one or the previous one kept as a "lame duck" for
 * decryption (protocol guide section 10). Holds data only; the protocol
 * steps are session.c's.
 */
#ifndef MOONVPN_KEYSTATE_H
#define MOONVPN_KEYSTATE_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "datakey.h"
#include "keymethod.h"
#include "keys.h"
#include "reliable.h"
#include "tls.h"

enum key_phase {
	KEY_PHASE_EMPTY,	/* the slot is unused */
	KEY_PHASE_TLS,		/* reset exchanged, TLS handshake running */
	KEY_PHASE_KEY_EXCHANGE, /* TLS up, waiting for the peer's key-method-2 */
	KEY_PHASE_PUSH,		/* a client's first key: waits for the PUSH_REPLY that says
				   how to derive it (TLS-EKM or PRF) and with which cipher */
	KEY_PHASE_READY,	/* data keys installed (in the session's data channel, dchan.h) */
};

struct key_state {
	uint8_t key_id;
	enum key_phase phase;
	struct reliable rel;
	struct tls_session *tls;
	uint8_t *client_km_buf; /* the key-method-2 message received, as long as it is */
	size_t client_km_len;
	/* The client's message (ours in client mode); its strings point into client_km_buf. */
	struct km2 client_km;
	struct km2 server_km; /* the server's randoms (its strings are not kept) */
	uint8_t key_block[KEYS_BLOCK_LEN];
	ev_tstamp started;
	unsigned tls_dropped; /* records its parked TLS session dropped, as last logged */
	/* Its handshake began under a TLS context a reload has replaced since: the
	 * peer's certificate is verified again against the new one when it is done. */
	bool stale;
};

/* Starts a key state in its slot; 0, or -1 when out of memory. */
int key_state_start(struct key_state *ks, struct tls_ctx *tls, uint8_t key_id, ev_tstamp now)
	__attribute__((warn_unused_result));

/* Keeps a copy of the peer's key-method-2 message in client_km_buf; false when out of memory. */
bool key_state_keep_km(struct key_state *ks, const uint8_t *msg, size_t len)
	__attribute__((warn_unused_result));

/* Frees the TLS session and data keys and wipes the secrets; the slot becomes empty. */
void key_state_clear(struct key_state *ks);

/* The key_id after this one: 1..7, wrapping 7 -> 1 (0 is only ever the first). */
uint8_t key_state_next_id(uint8_t key_id);

#endif
