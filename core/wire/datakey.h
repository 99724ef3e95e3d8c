/* SPDX-License-Identifier: MIT */
/*
 * The data-channel keys of one key state and the P_DATA_V2 AEAD format
 * (protocol guide 7.1-7.3): header | packet-id | tag | ciphertext, nonce =
 * packet-id || implicit IV, AAD = header || packet-id. Sealing and opening
 * work in place in the caller's buffer, which has DATA_OVERHEAD bytes of
 * headroom in front of the payload, so nothing is copied or allocated per
 * packet. Opening checks the tag, then the replay window.
 *
 * A key state may use OpenVPN 2.7's epoch format instead (epochdata.h),
 * when the peer announced it and the server pushed "aead-epoch": the same
 * calls seal and open it, with the payload at the same place; its packets
 * are DATA_TAILROOM bytes longer, so every buffer a packet is sealed in has
 * that much room after the payload's largest size.
 */
#ifndef MOONVPN_DATAKEY_H
#define MOONVPN_DATAKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "keys.h"
#include "replay.h"

enum {
	DATA_OVERHEAD = 4 + 4 + CRYPTO_AEAD_TAG_LEN, /* header, packet-id, tag: 24 bytes */
	DATA_PACKET_ID_MAX = 0xffffffffu,	     /* AEAD ids never wrap: rekey before */
	/* Renegotiate from here, as 2.6 does (ssl.c, packet-id near its end): well before the end.
	 */
	DATA_PACKET_ID_RENEGOTIATE = 0xff000000u,
	DATA_TAILROOM = 4, /* bytes an epoch-format packet takes beyond the payload's end */
};

/* The bytes a data packet adds to its payload: the 2.6 format's, or the epoch format's. */
static inline unsigned data_overhead(bool epoch_format)
{
	return DATA_OVERHEAD + (epoch_format ? DATA_TAILROOM : 0);
}

enum data_error {
	DATA_ETRUNC = -1,     /* shorter than the overhead, or not P_DATA_V2 */
	DATA_EAUTH = -2,      /* the tag does not verify: forged, corrupted, or a wrong key */
	DATA_EREPLAY = -3,    /* a replayed, too old or zero packet-id */
	DATA_EEXHAUSTED = -4, /* every packet-id of this key has been used */
};

struct epoch_data;

struct data_key {
	uint8_t key_id;
	struct epoch_data *epoch; /* the epoch format's keys, or NULL for the 2.6 format */
	struct crypto_aead *seal, *open;
	uint8_t seal_iv[KEYS_IMPLICIT_IV_LEN], open_iv[KEYS_IMPLICIT_IV_LEN];
	uint64_t next_packet_id;
	struct replay replay;
};

/*
 * Sets up both directions from a key block: a server seals with the
 * server-to-client half and opens the client-to-server half; a client the
 * reverse. epoch_format picks OpenVPN 2.7's epoch data format. 0, or -1
 * with err set.
 */
int data_key_init(struct data_key *k, const struct crypto *c, const char *cipher,
		  const uint8_t block[KEYS_BLOCK_LEN], bool server, bool epoch_format,
		  uint8_t key_id, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Frees the cipher contexts; safe on a zeroed struct. */
void data_key_clear(struct data_key *k);

/* Whether this key has sealed so much that it is time for a new TLS key (renegotiation). */
bool data_key_worn(const struct data_key *k);

/*
 * Seals len payload bytes found at pkt + DATA_OVERHEAD into a P_DATA_V2
 * packet starting at pkt (up to DATA_OVERHEAD + len + DATA_TAILROOM bytes).
 * Returns the packet length or DATA_EEXHAUSTED.
 */
int data_seal(struct data_key *k, uint32_t peer_id, uint8_t *pkt, size_t len)
	__attribute__((warn_unused_result));

/*
 * Opens a P_DATA_V2 packet in place; on success the payload is at
 * pkt + DATA_OVERHEAD and its length is returned, else a DATA_E* code.
 */
int data_open(struct data_key *k, uint8_t *pkt, size_t len) __attribute__((warn_unused_result));

const char *data_error_name(int error);

#endif
