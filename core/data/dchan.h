/* SPDX-License-Identifier: MIT */
/*
 * One peer's data channel: everything the data path reads and writes per
 * packet, kept apart from the control plane (session.c, about 85 KB of
 * reliability layer, TLS and key exchange per peer). It holds the data keys
 * in three slots, as WireGuard keeps its keypairs: the current key (data is
 * sealed with it), the next one (installed by a renegotiation, already
 * opening what the peer sends with it) and the previous one (the "lame
 * duck", still opening packets sealed before the switch; OpenVPN's
 * ssl.c:key_state_soft_reset and tls_pre_decrypt keep it the same way).
 *
 * The control plane changes it only through dchan_install, dchan_promote,
 * dchan_retire and dchan_set_gates; the data path only seals and opens.
 * Nothing here reaches the session, its scratch buffers or the event loop,
 * so a data-path worker thread can own a dchan (time comes in as an
 * argument). A packet from a new source address is not followed here: the
 * data path reports it (dchan_is_peer) and the control plane decides.
 */
#ifndef MOONVPN_DCHAN_H
#define MOONVPN_DCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "datakey.h"

enum dchan_slot {
	DCHAN_CURRENT,	/* seals; opens */
	DCHAN_NEXT,	/* a renegotiated key the peer may already use: opens */
	DCHAN_PREVIOUS, /* the key before the last switch: opens until retired */
	DCHAN_SLOTS,
};

enum {
	DCHAN_PING_LEN = 16, /* OpenVPN's keepalive: a fixed 16-byte payload (ping.c) */
	DCHAN_PING_MAX = DCHAN_PING_LEN + 1, /* with a comp-lzo peer's framing byte */
};

struct dchan_key {
	struct data_key key;
	bool live;
	double started;	    /* when its handshake began: for the hard lifetime */
	double last_opened; /* when it last opened a packet of the peer's (0: never) */
	uint64_t bytes;	    /* payload bytes sealed and opened with it (renegotiate.bytes) */
};

/* Data-channel traffic of the peer, keepalive pings excluded. */
struct dchan_counters {
	uint64_t packets_in, bytes_in, packets_out, bytes_out;
};

struct dchan {
	uint32_t peer_id;
	bool may_seal, may_open; /* the session's state allows it (dchan_set_gates) */
	double lifetime;	 /* a key older than this seals and opens nothing; 0: no limit */
	uint8_t framing;	 /* enum compframe: the peer's compression framing */
	struct sockaddr_storage peer; /* where the peer's packets come from and go to */
	socklen_t peer_len;
	double last_received, last_sent; /* data packets, pings included */
	struct dchan_counters counters;
	struct dchan_key keys[DCHAN_SLOTS];
};

void dchan_init(struct dchan *dc, uint32_t peer_id, const struct sockaddr *peer, socklen_t len);

/* Retires every key and wipes their secrets. */
void dchan_clear(struct dchan *dc);

/*
 * Puts k into slot (a key already there is retired first); started is when
 * its handshake began, from which its lifetime counts. dc takes over k's
 * cipher contexts and k is wiped.
 */
void dchan_install(struct dchan *dc, enum dchan_slot slot, struct data_key *k, double started);

/* The next key becomes the current one, the current one the previous (the old previous goes). */
void dchan_promote(struct dchan *dc);

/* Retires the key in slot, if any. */
void dchan_retire(struct dchan *dc, enum dchan_slot slot);

/* The slot holding key_id, or DCHAN_SLOTS when none does. */
enum dchan_slot dchan_find(const struct dchan *dc, uint8_t key_id);

void dchan_set_gates(struct dchan *dc, bool may_seal, bool may_open);

/* A key older than seconds (0: no limit) stops sealing and opening: the hard key lifetime. */
void dchan_set_lifetime(struct dchan *dc, double seconds);

/* The peer frames its packets for compression (compframe.h); they are (un)framed around the seal.
 */
void dchan_set_framing(struct dchan *dc, uint8_t framing);
/* Whether the key in slot opened a packet of the peer's within the last seconds before now. */
bool dchan_opened_within(const struct dchan *dc, enum dchan_slot slot, double now, double seconds);

/* Whether the key in slot is live and within its lifetime at now. */
bool dchan_usable(const struct dchan *dc, enum dchan_slot slot, double now);

/* Follows the peer to a new address (the control plane's decision on a float). */
void dchan_set_peer(struct dchan *dc, const struct sockaddr *peer, socklen_t len);

/* Whether addr is the peer's address (as the socket API reports it). */
bool dchan_is_peer(const struct dchan *dc, const struct sockaddr *addr, socklen_t len);

/*
 * Seals len payload bytes at pkt + DATA_OVERHEAD with the current key into
 * a P_DATA_V2 packet at pkt. Returns the packet's length, or a DATA_E*
 * code: DATA_EAUTH when no key may seal now.
 */
int dchan_seal(struct dchan *dc, uint8_t *pkt, size_t len, double now)
	__attribute__((warn_unused_result));

/* Seals a keepalive ping into pkt (not counted as traffic). */
int dchan_seal_ping(struct dchan *dc, uint8_t pkt[DATA_OVERHEAD + DCHAN_PING_MAX + DATA_TAILROOM],
		    double now) __attribute__((warn_unused_result));

/*
 * Opens a P_DATA_V2 packet in place with the key its key_id names. Returns
 * the payload's length (at pkt + DATA_OVERHEAD) with *ping telling whether
 * it was a keepalive (counted as received, not as traffic), or a DATA_E*
 * code: DATA_EAUTH also when no live key has that key_id.
 */
int dchan_open(struct dchan *dc, uint8_t *pkt, size_t len, double now, bool *ping)
	__attribute__((warn_unused_result));

#endif
