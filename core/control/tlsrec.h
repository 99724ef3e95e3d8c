/* SPDX-License-Identifier: MIT */
/*
 * TLS 1.3 records after the handshake (RFC 8446 section 5.2), without
 * OpenSSL's SSL object: the application traffic keys of both directions
 * (derived from their secrets as section 7.3 says) and the record sequence
 * numbers reached so far. A key state that is established and quiet hands
 * its session over to this and frees the SSL (some 20 KB per client), yet
 * still seals and opens the few control messages that follow the
 * handshake (PUSH_REPLY updates, auth-token renewals, RESTART, HALT,
 * EXIT). Only the AEAD suites TLS 1.3 has (AES-GCM, ChaCha20-Poly1305).
 * Does not know about BIOs, packets or sessions: one record at a time.
 */
#ifndef MOONVPN_TLSREC_H
#define MOONVPN_TLSREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	TLSREC_SECRET_MAX = 48, /* SHA-384 */
	TLSREC_KEY_MAX = 32,
	TLSREC_IV_LEN = 12,
	TLSREC_HEADER_LEN = 5,
	TLSREC_TAG_LEN = 16,
	TLSREC_PLAIN_MAX = 16384,				  /* 2^14, section 5.1 */
	TLSREC_CIPHER_MAX = TLSREC_PLAIN_MAX + 256,		  /* section 5.2 */
	TLSREC_OVERHEAD = TLSREC_HEADER_LEN + 1 + TLSREC_TAG_LEN, /* and the inner type */
	TLSREC_TYPE_ALERT = 21,
	TLSREC_TYPE_HANDSHAKE = 22,
	TLSREC_TYPE_APPLICATION_DATA = 23,
};

struct tlsrec_dir {
	uint8_t key[TLSREC_KEY_MAX];
	uint8_t iv[TLSREC_IV_LEN];
	uint64_t seq; /* the next record's sequence number */
};

struct tlsrec {
	int cipher_nid; /* NID_aes_128_gcm, NID_aes_256_gcm or NID_chacha20_poly1305 */
	struct tlsrec_dir tx, rx;
};

/* Whether the suite's AEAD (an OpenSSL NID) is one tlsrec can carry. */
bool tlsrec_supported(int cipher_nid);

/*
 * Keys from the application traffic secrets (secret_len bytes each, hashed
 * with digest: "SHA256" or "SHA384"), with the sequence numbers each
 * direction reached under OpenSSL. 0, or -1 when the suite is unknown or
 * the derivation fails.
 */
int tlsrec_init(struct tlsrec *r, int cipher_nid, const char *digest, const uint8_t *tx_secret,
		const uint8_t *rx_secret, size_t secret_len, uint64_t tx_seq, uint64_t rx_seq)
	__attribute__((warn_unused_result));

/*
 * Seals len bytes (at most TLSREC_PLAIN_MAX) of application data into one
 * record at out (len + TLSREC_OVERHEAD bytes). Returns its length, or 0.
 */
size_t tlsrec_seal(struct tlsrec *r, const uint8_t *plain, size_t len, uint8_t *out)
	__attribute__((warn_unused_result));

/*
 * The length of the record at the start of data when all of it is there
 * (header included), 0 when more is needed, or -1 when the header is not a
 * TLS 1.3 protected record's.
 */
long tlsrec_record_len(const uint8_t *data, size_t len);

/*
 * Opens one whole record (rec, len bytes from tlsrec_record_len) in place:
 * its content then starts at rec + TLSREC_HEADER_LEN, *plain_len bytes.
 * Returns its inner content type, or -1 when it does not authenticate.
 */
int tlsrec_open(struct tlsrec *r, uint8_t *rec, size_t len, size_t *plain_len)
	__attribute__((warn_unused_result));

void tlsrec_wipe(struct tlsrec *r);

#endif
