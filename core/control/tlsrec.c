// SPDX-License-Identifier: MIT
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <string.h>

#include "crypto.h"
#include "tlsrec.h"

enum {
	LABEL_MAX = 64,
	LEGACY_VERSION = 0x0303, /* every TLS 1.3 record says TLS 1.2 (section 5.1) */
};

static size_t key_len(int cipher_nid)
{
	switch (cipher_nid) {
	case NID_aes_128_gcm:
		return 16;
	case NID_aes_256_gcm:
	case NID_chacha20_poly1305:
		return 32;
	}
	return 0;
}

bool tlsrec_supported(int cipher_nid)
{
	return key_len(cipher_nid) != 0;
}

/* HKDF-Expand-Label(secret, label, "", len), section 7.1. */
static int expand_label(const char *digest, const uint8_t *secret, size_t secret_len,
			const char *label, uint8_t *out, size_t len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *k = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	uint8_t info[LABEL_MAX];
	size_t n = strlen(label);
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM params[5];
	int rc = -1;

	info[0] = (uint8_t)(len >> 8);
	info[1] = (uint8_t)len;
	info[2] = (uint8_t)(6 + n);
	memcpy(info + 3, "tls13 ", 6);
	memcpy(info + 9, label, n);
	info[9 + n] = 0; /* no context */
	params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
	params[2] =
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, 10 + n);
	params[4] = OSSL_PARAM_construct_end();
	if (k && EVP_KDF_derive(k, out, len, params) == 1)
		rc = 0;
	EVP_KDF_CTX_free(k);
	EVP_KDF_free(kdf);
	return rc;
}

static int init_dir(struct tlsrec_dir *d, const char *digest, const uint8_t *secret,
		    size_t secret_len, size_t klen, uint64_t seq)
{
	d->seq = seq;
	return expand_label(digest, secret, secret_len, "key", d->key, klen) == 0 &&
			       expand_label(digest, secret, secret_len, "iv", d->iv,
					    TLSREC_IV_LEN) == 0
		       ? 0
		       : -1;
}

int tlsrec_init(struct tlsrec *r, int cipher_nid, const char *digest, const uint8_t *tx_secret,
		const uint8_t *rx_secret, size_t secret_len, uint64_t tx_seq, uint64_t rx_seq)
{
	size_t klen = key_len(cipher_nid);

	memset(r, 0, sizeof(*r));
	r->cipher_nid = cipher_nid;
	if (!klen || secret_len > TLSREC_SECRET_MAX ||
	    init_dir(&r->tx, digest, tx_secret, secret_len, klen, tx_seq) < 0 ||
	    init_dir(&r->rx, digest, rx_secret, secret_len, klen, rx_seq) < 0) {
		tlsrec_wipe(r);
		return -1;
	}
	return 0;
}

/* The per-record nonce: the IV with the sequence number XORed into its end (5.3). */
static void nonce(const struct tlsrec_dir *d, uint8_t out[TLSREC_IV_LEN])
{
	memcpy(out, d->iv, TLSREC_IV_LEN);
	for (int i = 0; i < 8; i++)
		out[TLSREC_IV_LEN - 1 - i] ^= (uint8_t)(d->seq >> (8 * i));
}

static void header(uint8_t *h, size_t body_len)
{
	h[0] = TLSREC_TYPE_APPLICATION_DATA;
	h[1] = LEGACY_VERSION >> 8;
	h[2] = LEGACY_VERSION & 0xff;
	h[3] = (uint8_t)(body_len >> 8);
	h[4] = (uint8_t)body_len;
}

/* Runs the AEAD over in (len bytes) into out, the record header as additional data. */
static int aead(const struct tlsrec *r, const struct tlsrec_dir *d, bool seal, const uint8_t *hdr,
		const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	const EVP_CIPHER *cipher = EVP_get_cipherbynid(r->cipher_nid);
	uint8_t iv[TLSREC_IV_LEN];
	int n, rc = -1;

	nonce(d, iv);
	if (c && cipher && len <= TLSREC_CIPHER_MAX &&
	    EVP_CipherInit_ex(c, cipher, NULL, d->key, iv, seal) == 1 &&
	    EVP_CipherUpdate(c, NULL, &n, hdr, TLSREC_HEADER_LEN) == 1 &&
	    EVP_CipherUpdate(c, out, &n, in, (int)len) == 1 &&
	    (seal || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, TLSREC_TAG_LEN, tag) == 1) &&
	    EVP_CipherFinal_ex(c, out + n, &n) == 1 &&
	    (!seal || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, TLSREC_TAG_LEN, tag) == 1))
		rc = 0;
	EVP_CIPHER_CTX_free(c);
	crypto_wipe(iv, sizeof(iv));
	return rc;
}

size_t tlsrec_seal(struct tlsrec *r, const uint8_t *plain, size_t len, uint8_t *out)
{
	size_t body = len + 1 + TLSREC_TAG_LEN;
	uint8_t *inner = out + TLSREC_HEADER_LEN;

	if (len > TLSREC_PLAIN_MAX)
		return 0;
	header(out, body);
	memmove(inner, plain, len);
	inner[len] = TLSREC_TYPE_APPLICATION_DATA;
	if (aead(r, &r->tx, true, out, inner, len + 1, inner, inner + len + 1) < 0)
		return 0;
	r->tx.seq++;
	return TLSREC_HEADER_LEN + body;
}

long tlsrec_record_len(const uint8_t *data, size_t len)
{
	size_t body;

	if (len < TLSREC_HEADER_LEN)
		return 0;
	body = (size_t)data[3] << 8 | data[4];
	if (data[0] != TLSREC_TYPE_APPLICATION_DATA || data[1] != (LEGACY_VERSION >> 8) ||
	    body < 1 + TLSREC_TAG_LEN || body > TLSREC_CIPHER_MAX)
		return -1;
	return len < TLSREC_HEADER_LEN + body ? 0 : (long)(TLSREC_HEADER_LEN + body);
}

int tlsrec_open(struct tlsrec *r, uint8_t *rec, size_t len, size_t *plain_len)
{
	uint8_t *body = rec + TLSREC_HEADER_LEN;
	size_t n;

	if (len < TLSREC_OVERHEAD)
		return -1;
	n = len - TLSREC_HEADER_LEN - TLSREC_TAG_LEN;
	if (aead(r, &r->rx, false, rec, body, n, body, body + n) < 0)
		return -1;
	r->rx.seq++;
	while (n > 0 && body[n - 1] == 0)
		n--; /* padding (section 5.4) */
	if (n == 0)
		return -1;
	*plain_len = n - 1;
	return body[n - 1];
}

void tlsrec_wipe(struct tlsrec *r)
{
	crypto_wipe(r, sizeof(*r));
}
