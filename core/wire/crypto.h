/* SPDX-License-Identifier: MIT */
/*
 * The door to OpenSSL for everything but the TLS session itself: the
 * algorithms fetched once at start-up, and the primitives the protocol
 * needs from them (so far the TLS 1.0 PRF of OpenVPN's legacy key
 * derivation). Errors drain OpenSSL's error queue into the caller's message.
 * Knows nothing of sessions, packets or key states. Nothing is allocated
 * per call, so one struct crypto serves one thread.
 */
#ifndef MOONVPN_CRYPTO_H
#define MOONVPN_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct crypto;

/* Fetches the algorithms; NULL with err set when OpenSSL lacks one. */
struct crypto *crypto_new(char *err, size_t errlen) __attribute__((warn_unused_result));

/* NULL is a no-op. */
void crypto_free(struct crypto *c);

/*
 * The TLS 1.0/1.1 PRF (RFC 2246 section 5: P_MD5 xor P_SHA1 over the two
 * halves of the secret), with seed the label and seed concatenated.
 * Returns 0, or -1 with err set (e.g. FIPS builds refuse MD5).
 */
int crypto_tls1_prf(const struct crypto *c, const uint8_t *secret, size_t secret_len,
		    const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

enum {
	CRYPTO_SHA256_LEN = 32,
	CRYPTO_HMAC_MAX = 64, /* SHA-512 */
	CRYPTO_AES256_KEY_LEN = 32,
	CRYPTO_AES_BLOCK_LEN = 16,
};

/* A piece of a message that is authenticated as one. */
struct crypto_iov {
	const uint8_t *data;
	size_t len;
};

/* Output size of a digest by name ("SHA1", "SHA256", "SHA512"), 0 if unknown. */
size_t crypto_digest_size(const char *digest);

/* HMAC with the named digest over the pieces; out gets crypto_digest_size(digest) bytes. */
int crypto_hmac(const struct crypto *c, const char *digest, const uint8_t *key, size_t key_len,
		const struct crypto_iov *iov, size_t n_iov, uint8_t *out)
	__attribute__((warn_unused_result));

/* AES-256-CTR: out = in xor keystream(key, iv); in and out may be the same. 0 or -1. */
int crypto_aes256_ctr(const struct crypto *c, const uint8_t key[CRYPTO_AES256_KEY_LEN],
		      const uint8_t iv[CRYPTO_AES_BLOCK_LEN], const uint8_t *in, uint8_t *out,
		      size_t len) __attribute__((warn_unused_result));

/* Compares in constant time (MACs and tags). */
bool crypto_equal(const void *a, const void *b, size_t len);

/*
 * HMAC without a struct crypto (the Lua helpers, for TOTP): fetches the
 * digest each call, so not for packets. 0, or -1 for an unknown digest.
 */
int crypto_hmac_oneshot(const char *digest, const void *key, size_t key_len, const void *data,
			size_t data_len, uint8_t *out, size_t cap, size_t *out_len)
	__attribute__((warn_unused_result));

/* HMAC-SHA256 of data under key into out. 0, or -1 (OpenSSL failure). */
int crypto_hmac_sha256(const struct crypto *c, const uint8_t *key, size_t key_len,
		       const uint8_t *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
	__attribute__((warn_unused_result));

/* Fills buf from OpenSSL's CSPRNG. 0, or -1. */
int crypto_random(void *buf, size_t len) __attribute__((warn_unused_result));

/*
 * AEAD keys for the data channel (AES-128-GCM, AES-256-GCM,
 * CHACHA20-POLY1305): one cipher context per key and direction, keyed once;
 * sealing and opening only set the nonce, in place, allocating nothing.
 */
enum {
	CRYPTO_AEAD_TAG_LEN = 16,
	CRYPTO_AEAD_NONCE_LEN = 12,
};

struct crypto_aead;

/* Key length of a data cipher by name, 0 if it is not one we support. */
size_t crypto_aead_key_len(const char *cipher);

/* A key for one direction (encrypt or decrypt); NULL with err set. */
struct crypto_aead *crypto_aead_new(const struct crypto *c, const char *cipher, const uint8_t *key,
				    bool encrypt, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void crypto_aead_free(struct crypto_aead *a);

/* Encrypts data in place and writes the tag. 0 or -1. */
int crypto_aead_seal(struct crypto_aead *a, const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
		     const uint8_t *aad, size_t aad_len, uint8_t *data, size_t len,
		     uint8_t tag[CRYPTO_AEAD_TAG_LEN]) __attribute__((warn_unused_result));

/* Decrypts data in place if the tag verifies. 0, or -1 (forged or corrupted). */
int crypto_aead_open(struct crypto_aead *a, const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
		     const uint8_t *aad, size_t aad_len, uint8_t *data, size_t len,
		     const uint8_t tag[CRYPTO_AEAD_TAG_LEN]) __attribute__((warn_unused_result));

/* Overwrites secret memory in a way the compiler cannot optimize away. */
void crypto_wipe(void *p, size_t len);

#endif
