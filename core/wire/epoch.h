/* SPDX-License-Identifier: MIT */
/*
 * Epoch data keys (OpenVPN 2.7, src/openvpn/crypto_epoch.c): the pure
 * part. Each direction starts from a 32-byte epoch key E_1 taken from the
 * key-state's key block and walks a one-way chain E_n+1 = Expand-Label(E_n,
 * "datakey upd"); every E_n yields that epoch's AEAD key and a 12-byte
 * implicit IV. A sender moves to the next epoch on its own, before the
 * AES-GCM usage limit, so one TLS session can carry data far beyond the
 * 2^32 packets of the 2.6 format without renegotiating. Knows nothing of
 * cipher contexts, replay windows or sessions; allocates nothing.
 *
 * Negotiation. A client announces the format with bit 10 of IV_PROTO
 * (IV_PROTO_DATA_EPOCH, 1024). A server that supports it, and picks an
 * AEAD cipher for that client, adds "aead-epoch" to the pushed
 * "protocol-flags" item (2.7 pushes e.g. "protocol-flags cc-exit tls-ekm
 * dyn-tls-crypt aead-epoch", see push.c and multi.c). The format needs
 * P_DATA_V2 (a peer-id): a 2.7 client refuses the push otherwise (init.c).
 * CHACHA20-POLY1305 may use it too; it just has no usage limit.
 *
 * E_1. The key block is the same 256 bytes as for the 2.6 format (TLS-EKM
 * label "EXPORTER-OpenVPN-datakeys", or the legacy PRF; keys.h): E_1 of a
 * direction is the first 32 bytes of that direction's cipher half, i.e.
 * client-to-server E_1 = block[0..31], server-to-client = block[128..159]
 * (ssl.c, init_epoch_keys). The hmac halves are not used.
 *
 * Per epoch n (crypto_epoch.c, epoch_data_key_derive):
 *   key_n = OVPN-Expand-Label(E_n, "data_key", "", cipher key length)
 *   iv_n  = OVPN-Expand-Label(E_n, "data_iv", "", 12)
 * OVPN-Expand-Label is TLS 1.3's HKDF-Expand-Label (RFC 8446 7.1) with
 * SHA-256 and the prefix "ovpn " instead of "tls13 ": HKDF-Expand(secret,
 * info = u16 length || u8 len("ovpn "+label) || "ovpn " label || u8
 * len(context) || context, length).
 *
 * Packet (crypto.c, openvpn_encrypt_aead / openvpn_decrypt_aead):
 *   [P_DATA_V2 op|key-id: 1][peer-id: 3][packet id: 8][ciphertext][tag: 16]
 * The packet id is big-endian: 16-bit epoch, then the 48-bit per-epoch
 * counter (starts at 1 for each new send key; epoch 0 is invalid).
 * AAD = the first 12 bytes (header and packet id). Unlike the 2.6 format
 * the tag goes AFTER the ciphertext. Nonce = (packet id || 4 zero bytes)
 * XOR iv_n: the whole 12-byte IV is derived, nothing is concatenated.
 * A packet must hold at least 4 + 8 + 16 + 1 bytes.
 *
 * Plan for datakey.c / dchan.c (OpenVPN's behaviour, crypto_epoch.c):
 *  - send: before sealing, epoch_send_due(); if it says so, epoch_key_next
 *    on the send chain, derive, re-key the seal context and restart the
 *    counter at 1. The send epoch never goes below the receive epoch.
 *  - receive: keep the current open key, the one it replaced ("retiring",
 *    with its own replay window) and EPOCH_FUTURE_KEYS keys ahead. A packet
 *    of a future epoch that authenticates makes that epoch current (the
 *    previous current becomes retiring, the future window slides) and, if
 *    it is above our send epoch, moves our send chain up to it too. An
 *    epoch outside the window, or above EPOCH_MAX - EPOCH_FUTURE_KEYS - 1,
 *    is dropped unread ("unknown epoch"). Replay is per epoch key.
 *  - a key whose forged-packet count exceeds EPOCH_FAILED_MAX opens
 *    nothing more; above EPOCH_FAILED_WARN we advance our send epoch to
 *    nudge the peer to a new key.
 *  - renegotiate TLS (new key state) when the send epoch reaches
 *    EPOCH_RENEGOTIATE_AT; with epoch keys the 2.6 packet-id-wrap and
 *    usage-limit renegotiation triggers do not apply, reneg-sec, -bytes
 *    and -pkts still do (ssl.c, should_trigger_renegotiation).
 */
#ifndef MOONVPN_EPOCH_H
#define MOONVPN_EPOCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "keys.h"

enum {
	EPOCH_KEY_LEN = CRYPTO_SHA256_LEN,    /* E_n: bytes */
	EPOCH_IV_LEN = CRYPTO_AEAD_NONCE_LEN, /* implicit IV: the whole nonce, bytes */
	EPOCH_PACKET_ID_LEN = 8,	      /* 16-bit epoch || 48-bit counter, bytes */
	EPOCH_LABEL_MAX = 250,		      /* label bytes (the length byte holds "ovpn " too) */
	EPOCH_CONTEXT_MAX = 255,	      /* context bytes */
	EPOCH_EXPAND_MAX = 255 * CRYPTO_SHA256_LEN, /* HKDF-Expand output limit, bytes */
	EPOCH_MAX = 0xffff,			    /* last epoch number; 0 is never used */
	EPOCH_RENEGOTIATE_AT = 0xf000,		    /* send epoch at which to start a new TLS key */
	EPOCH_FUTURE_KEYS = 4,			    /* receive keys kept ahead of the current one */
	EPOCH_MIN_PACKET_LEN = 4 + EPOCH_PACKET_ID_LEN + CRYPTO_AEAD_TAG_LEN + 1, /* bytes */
	EPOCH_BLOCK_LEN = 16, /* AES block for the usage count, bytes */
};

/* The last per-epoch packet counter: 48 bits; the send key must move on before it. */
#define EPOCH_COUNTER_MAX ((UINT64_C(1) << 48) - 1)

/*
 * AES-GCM usage limit per key, in 16-byte blocks plus packets (q + s):
 * draft-irtf-cfrg-aead-limits gives q + s <= p^(1/2) * 2^(129/2) - 1 for an
 * attacker advantage p; with p = 2^-57 that is 2^36 - 1 (crypto.c,
 * cipher_get_aead_limits). CHACHA20-POLY1305 has no limit here.
 */
#define EPOCH_AES_GCM_LIMIT_BLOCKS ((UINT64_C(1) << 36) - 1)
/* Failed tag checks after which a key opens nothing more (as DTLS 1.3). */
#define EPOCH_FAILED_MAX (UINT64_C(1) << 36)
/* Failed tag checks after which we move our send epoch to push the peer on. */
#define EPOCH_FAILED_WARN (UINT64_C(1) << 35)

struct epoch_key {
	uint8_t key[EPOCH_KEY_LEN];
	uint16_t epoch; /* 1 for E_1; 0 means unset */
};

/*
 * OVPN-Expand-Label(secret, label, context, out_len) into out. 0, or -1
 * for a label, context or length out of range, or an OpenSSL failure.
 */
int epoch_expand_label(const struct crypto *c, const uint8_t secret[EPOCH_KEY_LEN],
		       const char *label, const uint8_t *context, size_t context_len, uint8_t *out,
		       size_t out_len) __attribute__((warn_unused_result));

/*
 * E_1 of both directions from a key-state's key block: a server sends with
 * the server-to-client half and receives with the other; a client the
 * reverse.
 */
void epoch_first_keys(const uint8_t block[KEYS_BLOCK_LEN], bool server, struct epoch_key *send,
		      struct epoch_key *recv);

/* E_n -> E_n+1 in place. 0, or -1 at EPOCH_MAX or on an OpenSSL failure (k unchanged). */
int epoch_key_next(const struct crypto *c, struct epoch_key *k) __attribute__((warn_unused_result));

/*
 * The epoch's AEAD key (key_len bytes, the cipher's key length) and
 * implicit IV. 0, or -1 (unset epoch key, bad length, OpenSSL failure).
 */
int epoch_data_key(const struct crypto *c, const struct epoch_key *k, uint8_t *key, size_t key_len,
		   uint8_t iv[EPOCH_IV_LEN]) __attribute__((warn_unused_result));

/* Writes the 8-byte packet id; counter must be <= EPOCH_COUNTER_MAX. */
void epoch_packet_id_put(uint8_t out[EPOCH_PACKET_ID_LEN], uint16_t epoch, uint64_t counter);

/* Reads the 8-byte packet id: the epoch (0 = invalid packet) and the counter. */
uint16_t epoch_packet_id_get(const uint8_t in[EPOCH_PACKET_ID_LEN], uint64_t *counter);

/* nonce = (packet id || 4 zero bytes) xor implicit IV. */
void epoch_nonce(uint8_t nonce[CRYPTO_AEAD_NONCE_LEN], const uint8_t pid[EPOCH_PACKET_ID_LEN],
		 const uint8_t iv[EPOCH_IV_LEN]);

/*
 * AES blocks len bytes count against the usage limit, rounded up. 2.7's
 * sender counts the 12 AAD bytes with the ciphertext, its receiver only
 * the plaintext; either is far inside the margin.
 */
static inline uint64_t epoch_blocks(size_t len)
{
	return ((uint64_t)len + EPOCH_BLOCK_LEN - 1) / EPOCH_BLOCK_LEN;
}

/* What one key has done so far; limit is EPOCH_AES_GCM_LIMIT_BLOCKS or 0 (none). */
struct epoch_usage {
	uint64_t blocks;  /* plaintext blocks sealed or opened */
	uint64_t packets; /* highest packet counter sent or received */
	uint64_t failed;  /* tag checks that failed (receive side) */
};

/* q + s above the limit; a limit of 0 means the cipher has none. */
bool epoch_usage_reached(uint64_t limit, const struct epoch_usage *u);

/*
 * Whether the send key must move to the next epoch before the next packet:
 * its own usage limit or counter is reached; or, while both directions are
 * at the same epoch, the receive key's usage or forged-packet count is high
 * (we cannot make the peer rekey, but our new epoch invites it to). Never
 * at EPOCH_MAX (then only a TLS renegotiation helps).
 */
bool epoch_send_due(uint64_t limit, uint16_t send_epoch, const struct epoch_usage *send,
		    uint16_t recv_epoch, const struct epoch_usage *recv);

#endif
