// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "pem.h"
#include "tlscryptv2.h"

static const char SERVER_PEM[] = "OpenVPN tls-crypt-v2 server key";
static const char CLIENT_PEM[] = "OpenVPN tls-crypt-v2 client key";

int tlscryptv2_server_key_parse(struct tlscryptv2_server_key *out, const char *text, size_t len,
				char *err, size_t errlen)
{
	uint8_t raw[TLSCRYPTV2_SERVER_KEY_LEN + 3];
	size_t n;
	int rc = pem_decode(SERVER_PEM, text, len, raw, sizeof(raw), &n, err, errlen);

	if (rc == 0 && n != TLSCRYPTV2_SERVER_KEY_LEN) {
		snprintf(err, errlen, "a tls-crypt-v2 server key has %d bytes, this one %zu",
			 TLSCRYPTV2_SERVER_KEY_LEN, n);
		rc = -1;
	}
	if (rc == 0)
		memcpy(out->bytes, raw, sizeof(out->bytes));
	crypto_wipe(raw, sizeof(raw));
	return rc;
}

size_t tlscryptv2_server_key_format(const struct tlscryptv2_server_key *k, char *out, size_t cap)
{
	return pem_encode(SERVER_PEM, k->bytes, sizeof(k->bytes), out, cap);
}

int tlscryptv2_client_key_parse(struct static_key *kc, uint8_t *wkc, size_t *wkc_len,
				const char *text, size_t len, char *err, size_t errlen)
{
	uint8_t raw[TLSCRYPTV2_CLIENT_KEY_LEN + TLSCRYPTV2_WKC_MAX + 3];
	size_t n;
	int rc = pem_decode(CLIENT_PEM, text, len, raw, sizeof(raw), &n, err, errlen);

	if (rc == 0 && (n < TLSCRYPTV2_CLIENT_KEY_LEN + TLSCRYPTV2_WKC_MIN ||
			n > TLSCRYPTV2_CLIENT_KEY_LEN + TLSCRYPTV2_WKC_MAX)) {
		snprintf(err, errlen, "a tls-crypt-v2 client key has %d to %d bytes, this one %zu",
			 TLSCRYPTV2_CLIENT_KEY_LEN + TLSCRYPTV2_WKC_MIN,
			 TLSCRYPTV2_CLIENT_KEY_LEN + TLSCRYPTV2_WKC_MAX, n);
		rc = -1;
	}
	if (rc == 0) {
		memcpy(kc->bytes, raw, TLSCRYPTV2_CLIENT_KEY_LEN);
		*wkc_len = n - TLSCRYPTV2_CLIENT_KEY_LEN;
		memcpy(wkc, raw + TLSCRYPTV2_CLIENT_KEY_LEN, *wkc_len);
	}
	crypto_wipe(raw, sizeof(raw));
	return rc;
}

size_t tlscryptv2_client_key_format(const struct static_key *kc, const uint8_t *wkc, size_t wkc_len,
				    char *out, size_t cap)
{
	uint8_t raw[TLSCRYPTV2_CLIENT_KEY_LEN + TLSCRYPTV2_WKC_MAX];
	size_t n = 0;

	if (wkc_len <= TLSCRYPTV2_WKC_MAX) {
		memcpy(raw, kc->bytes, TLSCRYPTV2_CLIENT_KEY_LEN);
		memcpy(raw + TLSCRYPTV2_CLIENT_KEY_LEN, wkc, wkc_len);
		n = pem_encode(CLIENT_PEM, raw, TLSCRYPTV2_CLIENT_KEY_LEN + wkc_len, out, cap);
	}
	crypto_wipe(raw, sizeof(raw));
	return n;
}

/* The server key's halves: AES-256 key first, HMAC-SHA256 key at its own offset. */
static const uint8_t *cipher_key(const struct tlscryptv2_server_key *k)
{
	return k->bytes;
}

static const uint8_t *hmac_key(const struct tlscryptv2_server_key *k)
{
	return k->bytes + TLSCRYPTV2_SERVER_HMAC_AT;
}

/* The tag covers WKc's length (big-endian, 2 bytes), Kc and the metadata, in that order. */
static int tag_of(const struct crypto *c, const struct tlscryptv2_server_key *server,
		  const uint8_t len_field[2], const uint8_t *plain, size_t plain_len, uint8_t *tag)
{
	struct crypto_iov iov[] = { { len_field, 2 }, { plain, plain_len } };

	return crypto_hmac(c, "SHA256", hmac_key(server), CRYPTO_SHA256_LEN, iov, 2, tag);
}

int tlscryptv2_wrap(const struct crypto *c, const struct tlscryptv2_server_key *server,
		    const struct static_key *kc, const uint8_t *metadata, size_t metadata_len,
		    uint8_t *wkc, size_t cap)
{
	uint8_t plain[TLSCRYPTV2_CLIENT_KEY_LEN + TLSCRYPTV2_METADATA_MAX], len_field[2];
	size_t plain_len = TLSCRYPTV2_CLIENT_KEY_LEN + metadata_len;
	size_t total = TLSCRYPTV2_TAG_LEN + plain_len + 2;
	int rc = (int)total;

	if (metadata_len > TLSCRYPTV2_METADATA_MAX)
		return TLSCRYPTV2_ELEN;
	if (cap < total)
		return TLSCRYPTV2_ESPACE;
	put16(len_field, (uint16_t)total);
	memcpy(plain, kc->bytes, TLSCRYPTV2_CLIENT_KEY_LEN);
	if (metadata_len)
		memcpy(plain + TLSCRYPTV2_CLIENT_KEY_LEN, metadata, metadata_len);
	if (tag_of(c, server, len_field, plain, plain_len, wkc) < 0 ||
	    crypto_aes256_ctr(c, cipher_key(server), wkc, plain, wkc + TLSCRYPTV2_TAG_LEN,
			      plain_len) < 0)
		rc = TLSCRYPTV2_ECRYPTO;
	memcpy(wkc + TLSCRYPTV2_TAG_LEN + plain_len, len_field, 2);
	crypto_wipe(plain, sizeof(plain));
	return rc;
}

int tlscryptv2_unwrap(const struct crypto *c, const struct tlscryptv2_server_key *server,
		      const uint8_t *wkc, size_t len, struct tlscryptv2_client *out)
{
	uint8_t plain[TLSCRYPTV2_CLIENT_KEY_LEN + TLSCRYPTV2_METADATA_MAX];
	uint8_t expected[CRYPTO_SHA256_LEN];
	size_t plain_len = len - TLSCRYPTV2_WKC_MIN + TLSCRYPTV2_CLIENT_KEY_LEN;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (len < TLSCRYPTV2_WKC_MIN || len > TLSCRYPTV2_WKC_MAX || get16(wkc + len - 2) != len)
		return TLSCRYPTV2_ELEN;
	if (crypto_aes256_ctr(c, cipher_key(server), wkc, wkc + TLSCRYPTV2_TAG_LEN, plain,
			      plain_len) < 0 ||
	    tag_of(c, server, wkc + len - 2, plain, plain_len, expected) < 0)
		rc = TLSCRYPTV2_ECRYPTO;
	else if (!crypto_equal(expected, wkc, TLSCRYPTV2_TAG_LEN))
		rc = TLSCRYPTV2_EAUTH;
	if (rc == 0) {
		memcpy(out->key.bytes, plain, TLSCRYPTV2_CLIENT_KEY_LEN);
		out->metadata_len = plain_len - TLSCRYPTV2_CLIENT_KEY_LEN;
		memcpy(out->metadata, plain + TLSCRYPTV2_CLIENT_KEY_LEN, out->metadata_len);
		memcpy(out->id, wkc, TLSCRYPTV2_ID_LEN);
	}
	crypto_wipe(plain, sizeof(plain));
	return rc;
}

int tlscryptv2_locate(const uint8_t *packet, size_t len, size_t min_before)
{
	size_t wkc_len;

	if (len < min_before + TLSCRYPTV2_WKC_MIN)
		return TLSCRYPTV2_ELEN;
	wkc_len = get16(packet + len - 2);
	if (wkc_len < TLSCRYPTV2_WKC_MIN || wkc_len > TLSCRYPTV2_WKC_MAX ||
	    wkc_len > len - min_before)
		return TLSCRYPTV2_ELEN;
	return (int)(len - wkc_len);
}

bool tlscryptv2_resends_wkc(uint32_t replay_id)
{
	return (replay_id & TLSCRYPTV2_EARLY_NEG_MASK) == TLSCRYPTV2_EARLY_NEG_START;
}

void tlscryptv2_resend_tlv(uint8_t out[TLSCRYPTV2_RESEND_TLV_LEN])
{
	put16(out, TLSCRYPTV2_TLV_EARLY_NEG_FLAGS);
	put16(out + 2, 2);
	put16(out + 4, TLSCRYPTV2_FLAG_RESEND_WKC);
}

int tlscryptv2_early_neg_parse(const uint8_t *payload, size_t len, bool *resend_wkc)
{
	*resend_wkc = false;
	while (len > 0) {
		size_t type, value_len;

		if (len < TLSCRYPTV2_TLV_HEADER_LEN)
			return -1;
		type = get16(payload);
		value_len = get16(payload + 2);
		payload += TLSCRYPTV2_TLV_HEADER_LEN;
		len -= TLSCRYPTV2_TLV_HEADER_LEN;
		if (value_len > len || (type == TLSCRYPTV2_TLV_EARLY_NEG_FLAGS && value_len != 2))
			return -1;
		if (type == TLSCRYPTV2_TLV_EARLY_NEG_FLAGS &&
		    (get16(payload) & TLSCRYPTV2_FLAG_RESEND_WKC))
			*resend_wkc = true;
		payload += value_len;
		len -= value_len;
	}
	return 0;
}

bool tlscryptv2_created(const struct tlscryptv2_client *k, int64_t *when)
{
	if (k->metadata_len != 9 || k->metadata[0] != TLSCRYPTV2_METADATA_TIMESTAMP)
		return false;
	*when = (int64_t)((uint64_t)get32(k->metadata + 1) << 32 | get32(k->metadata + 5));
	return true;
}

void tlscryptv2_id_format(const uint8_t id[TLSCRYPTV2_ID_LEN], char *out)
{
	for (size_t i = 0; i < TLSCRYPTV2_ID_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

bool tlscryptv2_id_parse(const char *text, uint8_t id[TLSCRYPTV2_ID_LEN])
{
	if (strlen(text) != TLSCRYPTV2_ID_TEXT_LEN ||
	    strspn(text, "0123456789abcdefABCDEF") != TLSCRYPTV2_ID_TEXT_LEN)
		return false;
	for (size_t i = 0; i < TLSCRYPTV2_ID_LEN; i++) {
		char byte[3] = { text[2 * i], text[2 * i + 1], 0 };

		id[i] = (uint8_t)strtoul(byte, NULL, 16);
	}
	return true;
}

static int compare_ids(const void *a, const void *b)
{
	return memcmp(a, b, TLSCRYPTV2_ID_LEN);
}

void tlscryptv2_server_sort(struct tlscryptv2_server *s)
{
	if (s->n_revoked)
		qsort(s->revoked, s->n_revoked, sizeof(*s->revoked), compare_ids);
}

bool tlscryptv2_accepts(const struct tlscryptv2_server *s, const struct tlscryptv2_client *k,
			int64_t now, char *why, size_t whylen)
{
	char id[TLSCRYPTV2_ID_TEXT_LEN + 1];
	int64_t created;

	tlscryptv2_id_format(k->id, id);
	if (s->n_revoked &&
	    bsearch(k->id, s->revoked, s->n_revoked, sizeof(*s->revoked), compare_ids)) {
		snprintf(why, whylen, "client key %s is revoked (tls_crypt_v2_revoked)", id);
		return false;
	}
	if (!s->max_age_days)
		return true;
	if (!tlscryptv2_created(k, &created)) {
		snprintf(why, whylen,
			 "client key %s has no creation time, and tls_crypt_v2_max_age needs one",
			 id);
		return false;
	}
	if (now - created > (int64_t)s->max_age_days * 86400) {
		snprintf(why, whylen,
			 "client key %s is %lld days old, over tls_crypt_v2_max_age (%u days)", id,
			 (long long)((now - created) / 86400), s->max_age_days);
		return false;
	}
	return true;
}

const char *tlscryptv2_error_name(int error)
{
	switch (error) {
	case TLSCRYPTV2_ELEN:
		return "its wrapped client key has a wrong length";
	case TLSCRYPTV2_EAUTH:
		return "client key does not authenticate (made for another tls_crypt_v2 server "
		       "key, or forged)";
	case TLSCRYPTV2_ECRYPTO:
		return "the crypto library failed";
	case TLSCRYPTV2_ESPACE:
		return "no room for the wrapped key";
	}
	return "unknown error";
}

void tlscryptv2_server_clear(struct tlscryptv2_server *s)
{
	free(s->revoked);
	crypto_wipe(s, sizeof(*s));
}
