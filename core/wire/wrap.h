/* SPDX-License-Identifier: MIT */
/*
 * Control-channel wrapping with a static key (protocol guide section 11):
 * tls-auth (an HMAC over every control packet, digest SHA1/SHA256/SHA512,
 * optional key direction) and tls-crypt v1 (HMAC-SHA256 tag plus
 * AES-256-CTR, keys fixed by role). wrap_seal turns a plain control packet
 * (opcode | session id | body, as proto.c encodes it) into the wire form
 * and wrap_open back, checking authenticity in constant time. Each wrapped
 * packet carries a replay packet-id and time; checking those against a
 * window is the session's job, as is sending and counting.
 *
 * Dynamic tls-crypt (OpenVPN 2.6's protocol-flags dyn-tls-crypt,
 * tls_session_generate_dynamic_tls_crypt_key in OpenVPN's tls_crypt.c):
 * renegotiations are wrapped with a tls-crypt key exported from the first
 * TLS session and mixed with the original static key, if any.
 */
#ifndef MOONVPN_WRAP_H
#define MOONVPN_WRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "statickey.h"

enum wrap_mode {
	WRAP_NONE,
	WRAP_TLS_AUTH,
	WRAP_TLS_CRYPT,
};

enum wrap_error {
	WRAP_ETRUNC = -1,  /* too short for the wrapping */
	WRAP_EAUTH = -2,   /* the HMAC or tag does not verify: wrong key or tampering */
	WRAP_ESPACE = -3,  /* the output buffer is too small */
	WRAP_ECRYPTO = -4, /* OpenSSL failed */
};

enum {
	WRAP_REPLAY_LEN = 8, /* packet-id and time */
	WRAP_TLS_CRYPT_TAG_LEN = 32,
	WRAP_KEY_DIRECTION_NONE = -1,
	WRAP_DYNAMIC_KEY_LEN = STATIC_KEY_LEN, /* bytes of TLS keying material it takes */
};

struct tlscryptv2_server;

struct wrap {
	enum wrap_mode mode;
	/* A server's tls-crypt-v2 settings beside the mode above (borrowed, NULL: none;
	 * a session's copy never reads it), and whether this tls-crypt key is a
	 * tls-crypt-v2 client's own. */
	const struct tlscryptv2_server *v2;
	bool client_key;
	bool dynamic; /* a dynamic tls-crypt key (wrap_init_dynamic) */
	const struct crypto *crypto;
	char digest[8]; /* tls-auth */
	size_t hmac_len;
	uint8_t send_hmac[CRYPTO_HMAC_MAX], recv_hmac[CRYPTO_HMAC_MAX];
	uint8_t send_cipher[CRYPTO_AES256_KEY_LEN],
		recv_cipher[CRYPTO_AES256_KEY_LEN]; /* tls-crypt */
	/* The whole static key the wrapping came from (tls-auth, tls-crypt, a
	 * tls-crypt-v2 client's Kc): dynamic tls-crypt mixes it in. */
	struct static_key original;
};

/* No wrapping: seal and open copy the packet. */
void wrap_init_none(struct wrap *w);

/*
 * tls-auth with the given digest ("SHA1" is OpenVPN's default `auth`) and
 * key direction 0, 1 or WRAP_KEY_DIRECTION_NONE (both directions use the
 * same key). 0, or -1 with err set.
 */
int wrap_init_tls_auth(struct wrap *w, const struct crypto *c, const struct static_key *key,
		       int direction, const char *digest, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* tls-crypt v1 for the server (server = true) or the client side. */
void wrap_init_tls_crypt(struct wrap *w, const struct crypto *c, const struct static_key *key,
			 bool server);

/*
 * Dynamic tls-crypt for a session whose own wrapping is original: tls-crypt
 * v1 with ekm (the first TLS session's keying material, label
 * "EXPORTER-OpenVPN-dynamic-tls-crypt") XORed with original's static key
 * when original is tls-auth or tls-crypt (a tls-crypt-v2 client's key
 * included), ekm as it is without wrapping. Keys fixed by role as in
 * tls-crypt.
 */
void wrap_init_dynamic(struct wrap *w, const struct crypto *c, const struct wrap *original,
		       const uint8_t ekm[WRAP_DYNAMIC_KEY_LEN], bool server);

/* Bytes the wrapping adds to a plain control packet. */
size_t wrap_overhead(const struct wrap *w);

/* Wraps a plain control packet; returns the wire length or a WRAP_E* code.
 * plain and out must not overlap (nor wire and plain below). */
int wrap_seal(const struct wrap *w, const uint8_t *plain, size_t len, uint32_t packet_id,
	      uint32_t time, uint8_t *out, size_t cap) __attribute__((warn_unused_result));

/* Unwraps into a plain control packet; returns its length or a WRAP_E* code. */
int wrap_open(const struct wrap *w, const uint8_t *wire, size_t len, uint8_t *plain, size_t cap,
	      uint32_t *packet_id, uint32_t *time) __attribute__((warn_unused_result));

/* Wipes the keys. */
void wrap_clear(struct wrap *w);

/* Why a packet that did not open with w was dropped, for the log. */
const char *wrap_failure(const struct wrap *w);

#endif
