/* SPDX-License-Identifier: MIT */
/*
 * The epoch data format of one key state (OpenVPN 2.7, crypto_epoch.c and
 * crypto.c): the send key moving along its chain of epochs, and the
 * receive keys, which are the current epoch, the one it replaced (still
 * opening late packets) and EPOCH_FUTURE_KEYS epochs ahead, so that the
 * peer may move on without telling us. epoch.h has the derivations and
 * the packet layout; this file keeps the keys and seals and opens.
 *
 * Buffers follow datakey.h: the payload sits at pkt + DATA_OVERHEAD, with
 * headroom in front. The epoch packet is [header 4][packet id 8]
 * [ciphertext][tag 16], so sealing moves the payload 12 bytes down to
 * follow the packet id and the packet ends DATA_TAILROOM bytes after
 * where a 2.6-format packet would; opening moves the plaintext back up to
 * pkt + DATA_OVERHEAD. (OpenVPN seals into a second buffer; the moves keep
 * one buffer layout for both formats. They cost a copy per packet, which
 * a peer running OpenVPN 2.7's single-threaded data path never notices.)
 */
#ifndef MOONVPN_EPOCHDATA_H
#define MOONVPN_EPOCHDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "epoch.h"
#include "replay.h"

enum {
	EPOCH_HEAD_LEN = 4 + EPOCH_PACKET_ID_LEN, /* header and packet id: the AAD, bytes */
	EPOCH_OVERHEAD = EPOCH_HEAD_LEN + CRYPTO_AEAD_TAG_LEN, /* 28 bytes */
	EPOCH_CIPHER_NAME_MAX = 32,
};

/*
 * One epoch's receive key. A future key is kept as its key bytes, and its
 * cipher context (about 1 KB of OpenSSL's, with AES-GCM's tables) is made
 * from them when a packet of its epoch first comes: precomputed, the four
 * future keys were a quarter of what an idle client cost the server.
 */
struct epoch_recv_key {
	uint16_t epoch;		    /* 0: no key here */
	struct crypto_aead *open;   /* NULL until the key first opens a packet */
	uint8_t key[EPOCH_KEY_LEN]; /* until open is made from it; then wiped */
	uint8_t iv[EPOCH_IV_LEN];
	struct replay replay;
	struct epoch_usage usage;
};

struct epoch_data {
	const struct crypto *crypto;
	char cipher[EPOCH_CIPHER_NAME_MAX];
	size_t key_len;
	uint64_t limit; /* usage limit in blocks (AES-GCM), 0 for none (CHACHA20-POLY1305) */

	struct epoch_key send_chain; /* E_n of the send key */
	struct crypto_aead *seal;
	uint8_t seal_iv[EPOCH_IV_LEN];
	struct epoch_usage send_usage; /* .packets: the last counter sent */

	struct epoch_key recv_chain; /* E_n of the newest future key */
	struct epoch_recv_key current, retiring, future[EPOCH_FUTURE_KEYS];
};

/*
 * Sets up both directions from a key state's key block (epoch_first_keys):
 * E_1 to send with, E_1 to E_1+EPOCH_FUTURE_KEYS to receive. 0, or -1 with
 * err set.
 */
int epoch_data_init(struct epoch_data *e, const struct crypto *c, const char *cipher,
		    const uint8_t block[KEYS_BLOCK_LEN], bool server, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Frees the cipher contexts and wipes the keys; safe on a zeroed struct. */
void epoch_data_clear(struct epoch_data *e);

/* The cipher contexts e holds now (its memory; the future keys have none until used). */
int epoch_data_contexts(const struct epoch_data *e);

/*
 * Seals len payload bytes at pkt + DATA_OVERHEAD into a P_DATA_V2 packet
 * at pkt, EPOCH_OVERHEAD + len bytes long (the buffer must hold them).
 * Moves the send key to its next epoch first when its usage says so.
 * Returns the packet length, or DATA_EEXHAUSTED when the last epoch's
 * counter is spent (only a new TLS key helps then).
 */
int epoch_data_seal(struct epoch_data *e, uint8_t key_id, uint32_t peer_id, uint8_t *pkt,
		    size_t len) __attribute__((warn_unused_result));

/*
 * Opens an epoch-format P_DATA_V2 packet in place; on success the payload
 * is at pkt + DATA_OVERHEAD and its length is returned, else a DATA_E*
 * code. A packet of a future epoch that authenticates makes that epoch
 * the current one (and moves the send key up to it).
 */
int epoch_data_open(struct epoch_data *e, uint8_t *pkt, size_t len)
	__attribute__((warn_unused_result));

/* Whether the send key has reached EPOCH_RENEGOTIATE_AT: time for a new TLS key. */
bool epoch_data_worn(const struct epoch_data *e);

#endif
