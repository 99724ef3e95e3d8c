// SPDX-License-Identifier: MIT
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "osslmem.h"

/*
 * Algorithms are fetched once, and the contexts that use them are made once
 * and re-initialized per call: nothing is allocated per packet. A struct
 * crypto therefore belongs to one thread.
 */
struct crypto {
	EVP_KDF *tls1_prf;
	EVP_MAC *hmac;
	EVP_CIPHER *aes256_ctr;
	/* Mutable behind a const struct crypto, so the creating thread's only: a data-path
	 * worker (docs/workers.md) deriving an epoch key makes its own (crypto_hmac). */
	pthread_t owner;
	struct hmac_reuse *hmac_reuse;
	EVP_CIPHER_CTX *cipher_ctx;
	EVP_CIPHER *aead[3]; /* in the order of aead_names */
};

static const struct {
	const char *name;
	size_t key_len;
} aead_names[] = {
	{ "AES-128-GCM", 16 },
	{ "AES-256-GCM", 32 },
	{ "CHACHA20-POLY1305", 32 },
};

/*
 * The tag goes in and out through a parameter array built once: the
 * EVP_CIPHER_CTX_ctrl(EVP_CTRL_AEAD_GET_TAG / SET_TAG) of OpenSSL 3 builds
 * the same array on every call and goes through its legacy control table
 * first, a few dozen nanoseconds per packet of the ~250 that a packet's
 * AEAD costs besides the cipher itself (measured with OpenSSL 3.0: seal
 * 266 -> 251 ns, open 270 -> 264 ns for 16 bytes). The provider still
 * looks the name up in the array. Passing the tag to EVP_DecryptInit_ex2
 * instead measured slower (281 ns): it sets every GCM parameter again.
 */
struct crypto_aead {
	EVP_CIPHER_CTX *ctx;
	bool encrypt;
	OSSL_PARAM tag[2]; /* OSSL_CIPHER_PARAM_AEAD_TAG, then the end */
};

/* The HMAC context and the digest it is set up for (named only when it changes). */
struct hmac_reuse {
	EVP_MAC_CTX *ctx;
	const char *digest;
};

/* Appends OpenSSL's queued errors to a message, and empties the queue. */
static void openssl_error(char *err, size_t errlen, const char *what)
{
	unsigned long e;
	size_t off;

	snprintf(err, errlen, "%s", what);
	while ((e = ERR_get_error()) != 0) {
		off = strlen(err);
		if (off + 3 >= errlen)
			continue;
		snprintf(err + off, errlen - off, ": ");
		ERR_error_string_n(e, err + off + 2, errlen - off - 2);
	}
}

struct crypto *crypto_new(char *err, size_t errlen)
{
	struct crypto *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* Fetched once: implicit fetches on every use are slow (openssl#17064). They live as
	 * long as the process: not with the handshakes' objects (osslmem.h). */
	osslmem_keep_begin();
	c->tls1_prf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
	c->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	c->aes256_ctr = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL);
	c->owner = pthread_self();
	c->hmac_reuse = calloc(1, sizeof(*c->hmac_reuse));
	if (c->hmac_reuse && c->hmac)
		c->hmac_reuse->ctx = EVP_MAC_CTX_new(c->hmac);
	c->cipher_ctx = EVP_CIPHER_CTX_new();
	for (size_t i = 0; i < sizeof(aead_names) / sizeof(aead_names[0]); i++)
		c->aead[i] = EVP_CIPHER_fetch(NULL, aead_names[i].name, NULL);
	osslmem_keep_end();
	if (!c->tls1_prf || !c->hmac || !c->aes256_ctr || !c->hmac_reuse || !c->hmac_reuse->ctx ||
	    !c->cipher_ctx) {
		openssl_error(err, errlen, "crypto: OpenSSL lacks TLS1-PRF, HMAC or AES-256-CTR");
		crypto_free(c);
		return NULL;
	}
	return c;
}

void crypto_free(struct crypto *c)
{
	if (!c)
		return;
	EVP_KDF_free(c->tls1_prf);
	EVP_MAC_free(c->hmac);
	EVP_CIPHER_free(c->aes256_ctr);
	if (c->hmac_reuse)
		EVP_MAC_CTX_free(c->hmac_reuse->ctx);
	free(c->hmac_reuse);
	EVP_CIPHER_CTX_free(c->cipher_ctx);
	for (size_t i = 0; i < sizeof(aead_names) / sizeof(aead_names[0]); i++)
		EVP_CIPHER_free(c->aead[i]);
	free(c);
}

int crypto_tls1_prf(const struct crypto *c, const uint8_t *secret, size_t secret_len,
		    const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len, char *err,
		    size_t errlen)
{
	EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(c->tls1_prf);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"MD5-SHA1", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret,
						  secret_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)seed, seed_len),
		OSSL_PARAM_construct_end(),
	};
	int ok = kctx && EVP_KDF_derive(kctx, out, out_len, params) == 1;

	EVP_KDF_CTX_free(kctx);
	if (!ok) {
		openssl_error(err, errlen, "crypto: TLS1-PRF with MD5-SHA1 failed");
		return -1;
	}
	return 0;
}

void crypto_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}

/* The static name of a supported digest (callers' strings may not live on). */
static const char *digest_name(const char *digest)
{
	static const char *const names[] = { "SHA1", "SHA256", "SHA512" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(digest, names[i]) == 0)
			return names[i];
	return NULL;
}

size_t crypto_digest_size(const char *digest)
{
	static const struct {
		const char *name;
		size_t size;
	} digests[] = { { "SHA1", 20 }, { "SHA256", 32 }, { "SHA512", 64 } };

	for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		if (strcmp(digest, digests[i].name) == 0)
			return digests[i].size;
	return 0;
}

int crypto_hmac(const struct crypto *c, const char *digest, const uint8_t *key, size_t key_len,
		const struct crypto_iov *iov, size_t n_iov, uint8_t *out)
{
	size_t want = crypto_digest_size(digest), n = 0;
	bool mine = pthread_equal(pthread_self(), c->owner);
	/* Another thread's (a worker's epoch keys, a few per million packets): a context of
	 * its own for this call. */
	struct hmac_reuse fresh = { mine ? NULL : EVP_MAC_CTX_new(c->hmac), NULL };
	struct hmac_reuse *r = mine ? c->hmac_reuse : &fresh;
	EVP_MAC_CTX *mctx = r->ctx;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0),
		OSSL_PARAM_construct_end(),
	};
	/* Naming the digest makes OpenSSL fetch it again; re-keying alone does not. */
	bool same = r->digest && strcmp(r->digest, digest) == 0;
	int ok = want && mctx && EVP_MAC_init(mctx, key, key_len, same ? NULL : params) == 1;

	if (ok && !same)
		r->digest = digest_name(digest);

	for (size_t i = 0; ok && i < n_iov; i++)
		ok = EVP_MAC_update(mctx, iov[i].data, iov[i].len) == 1;
	ok = ok && EVP_MAC_final(mctx, out, &n, want) == 1 && n == want;
	if (!ok)
		ERR_clear_error();
	if (!mine)
		EVP_MAC_CTX_free(fresh.ctx);
	return ok ? 0 : -1;
}

int crypto_hmac_sha256(const struct crypto *c, const uint8_t *key, size_t key_len,
		       const uint8_t *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	struct crypto_iov iov = { data, len };

	return crypto_hmac(c, "SHA256", key, key_len, &iov, 1, out);
}

int crypto_aes256_ctr(const struct crypto *c, const uint8_t key[CRYPTO_AES256_KEY_LEN],
		      const uint8_t iv[CRYPTO_AES_BLOCK_LEN], const uint8_t *in, uint8_t *out,
		      size_t len)
{
	bool mine = pthread_equal(pthread_self(), c->owner);
	EVP_CIPHER_CTX *ctx = mine ? c->cipher_ctx : EVP_CIPHER_CTX_new(); /* as crypto_hmac */
	int n = 0, tail = 0;
	int ok = ctx && len <= INT32_MAX &&
		 EVP_EncryptInit_ex2(ctx, c->aes256_ctr, key, iv, NULL) == 1 &&
		 EVP_EncryptUpdate(ctx, out, &n, in, (int)len) == 1 &&
		 EVP_EncryptFinal_ex(ctx, out + n, &tail) == 1 && (size_t)(n + tail) == len;

	if (!ok)
		ERR_clear_error();
	if (!mine)
		EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

int crypto_hmac_oneshot(const char *digest, const void *key, size_t key_len, const void *data,
			size_t data_len, uint8_t *out, size_t cap, size_t *out_len)
{
	if (!EVP_Q_mac(NULL, "HMAC", NULL, digest, NULL, key, key_len, data, data_len, out, cap,
		       out_len)) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

int crypto_random(void *buf, size_t len)
{
	return len <= INT32_MAX && RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static int aead_index(const char *cipher)
{
	for (size_t i = 0; i < sizeof(aead_names) / sizeof(aead_names[0]); i++)
		if (strcmp(cipher, aead_names[i].name) == 0)
			return (int)i;
	return -1;
}

size_t crypto_aead_key_len(const char *cipher)
{
	int i = aead_index(cipher);

	return i < 0 ? 0 : aead_names[i].key_len;
}

struct crypto_aead *crypto_aead_new(const struct crypto *c, const char *cipher, const uint8_t *key,
				    bool encrypt, char *err, size_t errlen)
{
	int i = aead_index(cipher);
	struct crypto_aead *a = NULL;
	int ok;

	if (i < 0 || !c->aead[i]) {
		snprintf(err, errlen, "crypto: %s is not available", cipher);
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	/* A data key lives as long as its client: not with the handshake's objects. */
	osslmem_keep_begin();
	if (!a || !(a->ctx = EVP_CIPHER_CTX_new())) {
		osslmem_keep_end();
		free(a);
		snprintf(err, errlen, "crypto: out of memory");
		return NULL;
	}
	a->encrypt = encrypt;
	a->tag[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, NULL,
						      CRYPTO_AEAD_TAG_LEN);
	a->tag[1] = OSSL_PARAM_construct_end();
	ok = encrypt ? EVP_EncryptInit_ex2(a->ctx, c->aead[i], key, NULL, NULL)
		     : EVP_DecryptInit_ex2(a->ctx, c->aead[i], key, NULL, NULL);
	osslmem_keep_end();
	if (ok != 1) {
		openssl_error(err, errlen, "crypto: cannot set the data key");
		crypto_aead_free(a);
		return NULL;
	}
	return a;
}

void crypto_aead_free(struct crypto_aead *a)
{
	if (!a)
		return;
	EVP_CIPHER_CTX_free(a->ctx); /* clears the key schedule */
	free(a);
}

int crypto_aead_seal(struct crypto_aead *a, const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
		     const uint8_t *aad, size_t aad_len, uint8_t *data, size_t len,
		     uint8_t tag[CRYPTO_AEAD_TAG_LEN])
{
	int n = 0, tail = 0;

	a->tag[0].data = tag;
	if (!a->encrypt || len > INT32_MAX || aad_len > INT32_MAX ||
	    EVP_EncryptInit_ex2(a->ctx, NULL, NULL, nonce, NULL) != 1 ||
	    EVP_EncryptUpdate(a->ctx, NULL, &n, aad, (int)aad_len) != 1 ||
	    EVP_EncryptUpdate(a->ctx, data, &n, data, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(a->ctx, data + n, &tail) != 1 ||
	    EVP_CIPHER_CTX_get_params(a->ctx, a->tag) != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

int crypto_aead_open(struct crypto_aead *a, const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
		     const uint8_t *aad, size_t aad_len, uint8_t *data, size_t len,
		     const uint8_t tag[CRYPTO_AEAD_TAG_LEN])
{
	int n = 0, tail = 0;

	a->tag[0].data = (void *)tag; /* only read: set_params copies it */
	if (a->encrypt || len > INT32_MAX || aad_len > INT32_MAX ||
	    EVP_DecryptInit_ex2(a->ctx, NULL, NULL, nonce, NULL) != 1 ||
	    EVP_DecryptUpdate(a->ctx, NULL, &n, aad, (int)aad_len) != 1 ||
	    EVP_DecryptUpdate(a->ctx, data, &n, data, (int)len) != 1 ||
	    EVP_CIPHER_CTX_set_params(a->ctx, a->tag) != 1 ||
	    EVP_DecryptFinal_ex(a->ctx, data + n, &tail) != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}
