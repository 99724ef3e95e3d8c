// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "wrap.h"

/* Offsets in the static key: key[0] = {cipher 0..63, hmac 64..127}, key[1] at 128. */
enum { KEY0_CIPHER = 0, KEY0_HMAC = 64, KEY1_CIPHER = 128, KEY1_HMAC = 192 };

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void wrap_init_none(struct wrap *w)
{
	memset(w, 0, sizeof(*w));
	w->mode = WRAP_NONE;
}

int wrap_init_tls_auth(struct wrap *w, const struct crypto *c, const struct static_key *key,
		       int direction, const char *digest, char *err, size_t errlen)
{
	size_t h = crypto_digest_size(digest);
	/* Direction 0 sends with key[0].hmac and receives with key[1].hmac; 1 the reverse;
	 * without a direction both ways use key[0].hmac. */
	size_t send = direction == 1 ? KEY1_HMAC : KEY0_HMAC;
	size_t recv = direction == 0 ? KEY1_HMAC : KEY0_HMAC;

	memset(w, 0, sizeof(*w));
	if (!h || strlen(digest) >= sizeof(w->digest)) {
		snprintf(err, errlen, "tls-auth: unsupported digest \"%s\" (SHA1, SHA256, SHA512)",
			 digest);
		return -1;
	}
	w->mode = WRAP_TLS_AUTH;
	w->crypto = c;
	snprintf(w->digest, sizeof(w->digest), "%s", digest);
	w->hmac_len = h;
	memcpy(w->send_hmac, key->bytes + send, h);
	memcpy(w->recv_hmac, key->bytes + recv, h);
	w->original = *key;
	return 0;
}

void wrap_init_tls_crypt(struct wrap *w, const struct crypto *c, const struct static_key *key,
			 bool server)
{
	/* key[0] protects server -> client, key[1] client -> server; key-direction is ignored. */
	size_t send = server ? 0 : 128, recv = server ? 128 : 0;

	memset(w, 0, sizeof(*w));
	w->mode = WRAP_TLS_CRYPT;
	w->crypto = c;
	w->hmac_len = CRYPTO_SHA256_LEN;
	memcpy(w->send_cipher, key->bytes + send + KEY0_CIPHER, CRYPTO_AES256_KEY_LEN);
	memcpy(w->send_hmac, key->bytes + send + KEY0_HMAC, CRYPTO_SHA256_LEN);
	memcpy(w->recv_cipher, key->bytes + recv + KEY0_CIPHER, CRYPTO_AES256_KEY_LEN);
	memcpy(w->recv_hmac, key->bytes + recv + KEY0_HMAC, CRYPTO_SHA256_LEN);
	w->original = *key;
}

void wrap_init_dynamic(struct wrap *w, const struct crypto *c, const struct wrap *original,
		       const uint8_t ekm[WRAP_DYNAMIC_KEY_LEN], bool server)
{
	struct static_key key;

	memcpy(key.bytes, ekm, sizeof(key.bytes));
	if (original->mode != WRAP_NONE)
		for (size_t i = 0; i < sizeof(key.bytes); i++)
			key.bytes[i] ^= original->original.bytes[i];
	wrap_init_tls_crypt(w, c, &key, server);
	w->dynamic = true;
	crypto_wipe(&key, sizeof(key));
}

size_t wrap_overhead(const struct wrap *w)
{
	switch (w->mode) {
	case WRAP_TLS_AUTH:
		return w->hmac_len + WRAP_REPLAY_LEN;
	case WRAP_TLS_CRYPT:
		return WRAP_REPLAY_LEN + WRAP_TLS_CRYPT_TAG_LEN;
	case WRAP_NONE:
		break;
	}
	return 0;
}

void wrap_clear(struct wrap *w)
{
	crypto_wipe(w, sizeof(*w));
}

const char *wrap_failure(const struct wrap *w)
{
	if (w->dynamic)
		return "does not authenticate with the session's dynamic tls-crypt key";
	if (w->client_key)
		return "does not authenticate with the client's own tls-crypt-v2 key";
	switch (w->mode) {
	case WRAP_TLS_CRYPT:
		return "does not authenticate with the tls_crypt key";
	case WRAP_TLS_AUTH:
		return "does not authenticate with the tls_auth key";
	case WRAP_NONE:
		break;
	}
	return "too short for a control packet";
}

/* tls-auth: op | sid | HMAC | packet-id | time | body; the HMAC covers
 * packet-id | time | op | sid | body (the replay fields moved to the front). */
static int seal_tls_auth(const struct wrap *w, const uint8_t *plain, size_t len,
			 const uint8_t *replay, uint8_t *out, size_t cap)
{
	size_t h = w->hmac_len, wire = len + h + WRAP_REPLAY_LEN;
	struct crypto_iov iov[] = { { replay, WRAP_REPLAY_LEN },
				    { plain, PROTO_HEADER_LEN },
				    { plain + PROTO_HEADER_LEN, len - PROTO_HEADER_LEN } };

	if (cap < wire)
		return WRAP_ESPACE;
	memmove(out + PROTO_HEADER_LEN + h + WRAP_REPLAY_LEN, plain + PROTO_HEADER_LEN,
		len - PROTO_HEADER_LEN);
	iov[2].data = out + PROTO_HEADER_LEN + h + WRAP_REPLAY_LEN;
	memmove(out, plain, PROTO_HEADER_LEN);
	iov[1].data = out;
	memcpy(out + PROTO_HEADER_LEN + h, replay, WRAP_REPLAY_LEN);
	if (crypto_hmac(w->crypto, w->digest, w->send_hmac, h, iov, 3, out + PROTO_HEADER_LEN) < 0)
		return WRAP_ECRYPTO;
	return (int)wire;
}

static int open_tls_auth(const struct wrap *w, const uint8_t *wire, size_t len, uint8_t *plain,
			 size_t cap)
{
	size_t h = w->hmac_len, body = len - PROTO_HEADER_LEN - h - WRAP_REPLAY_LEN;
	const uint8_t *replay = wire + PROTO_HEADER_LEN + h;
	uint8_t mac[CRYPTO_HMAC_MAX];
	struct crypto_iov iov[] = { { replay, WRAP_REPLAY_LEN },
				    { wire, PROTO_HEADER_LEN },
				    { replay + WRAP_REPLAY_LEN, body } };

	if (crypto_hmac(w->crypto, w->digest, w->recv_hmac, h, iov, 3, mac) < 0)
		return WRAP_ECRYPTO;
	if (!crypto_equal(mac, wire + PROTO_HEADER_LEN, h))
		return WRAP_EAUTH;
	if (cap < PROTO_HEADER_LEN + body)
		return WRAP_ESPACE;
	memmove(plain, wire, PROTO_HEADER_LEN);
	memmove(plain + PROTO_HEADER_LEN, replay + WRAP_REPLAY_LEN, body);
	return (int)(PROTO_HEADER_LEN + body);
}

/* tls-crypt: op | sid | packet-id | time | tag | AES-256-CTR(body), tag =
 * HMAC-SHA256(op | sid | packet-id | time | body), IV = the tag's first 16 bytes. */
enum { CRYPT_HEADER = PROTO_HEADER_LEN + WRAP_REPLAY_LEN };

static int seal_tls_crypt(const struct wrap *w, const uint8_t *plain, size_t len,
			  const uint8_t *replay, uint8_t *out, size_t cap)
{
	size_t body = len - PROTO_HEADER_LEN, wire = CRYPT_HEADER + WRAP_TLS_CRYPT_TAG_LEN + body;
	uint8_t header[CRYPT_HEADER];
	uint8_t *tag = out + CRYPT_HEADER, *ct = tag + WRAP_TLS_CRYPT_TAG_LEN;
	struct crypto_iov iov[] = { { header, CRYPT_HEADER }, { plain + PROTO_HEADER_LEN, body } };

	if (cap < wire)
		return WRAP_ESPACE;
	memcpy(header, plain, PROTO_HEADER_LEN);
	memcpy(header + PROTO_HEADER_LEN, replay, WRAP_REPLAY_LEN);
	if (crypto_hmac(w->crypto, "SHA256", w->send_hmac, CRYPTO_SHA256_LEN, iov, 2, tag) < 0 ||
	    crypto_aes256_ctr(w->crypto, w->send_cipher, tag, plain + PROTO_HEADER_LEN, ct, body) <
		    0)
		return WRAP_ECRYPTO;
	memcpy(out, header, CRYPT_HEADER);
	return (int)wire;
}

static int open_tls_crypt(const struct wrap *w, const uint8_t *wire, size_t len, uint8_t *plain,
			  size_t cap)
{
	size_t body = len - CRYPT_HEADER - WRAP_TLS_CRYPT_TAG_LEN;
	const uint8_t *tag = wire + CRYPT_HEADER, *ct = tag + WRAP_TLS_CRYPT_TAG_LEN;
	uint8_t expected[CRYPTO_SHA256_LEN];
	struct crypto_iov iov[] = { { wire, CRYPT_HEADER }, { plain + PROTO_HEADER_LEN, body } };

	if (cap < PROTO_HEADER_LEN + body)
		return WRAP_ESPACE;
	if (crypto_aes256_ctr(w->crypto, w->recv_cipher, tag, ct, plain + PROTO_HEADER_LEN, body) <
		    0 ||
	    crypto_hmac(w->crypto, "SHA256", w->recv_hmac, CRYPTO_SHA256_LEN, iov, 2, expected) < 0)
		return WRAP_ECRYPTO;
	if (!crypto_equal(expected, tag, WRAP_TLS_CRYPT_TAG_LEN)) {
		crypto_wipe(plain + PROTO_HEADER_LEN, body);
		return WRAP_EAUTH;
	}
	memcpy(plain, wire, PROTO_HEADER_LEN);
	return (int)(PROTO_HEADER_LEN + body);
}

int wrap_seal(const struct wrap *w, const uint8_t *plain, size_t len, uint32_t packet_id,
	      uint32_t time, uint8_t *out, size_t cap)
{
	uint8_t replay[WRAP_REPLAY_LEN];

	if (len < PROTO_HEADER_LEN || len > INT32_MAX / 2)
		return WRAP_ETRUNC;
	put_u32(replay, packet_id);
	put_u32(replay + 4, time);
	switch (w->mode) {
	case WRAP_TLS_AUTH:
		return seal_tls_auth(w, plain, len, replay, out, cap);
	case WRAP_TLS_CRYPT:
		return seal_tls_crypt(w, plain, len, replay, out, cap);
	case WRAP_NONE:
		break;
	}
	if (cap < len)
		return WRAP_ESPACE;
	memmove(out, plain, len);
	return (int)len;
}

int wrap_open(const struct wrap *w, const uint8_t *wire, size_t len, uint8_t *plain, size_t cap,
	      uint32_t *packet_id, uint32_t *time)
{
	size_t replay_at =
		w->mode == WRAP_TLS_AUTH ? PROTO_HEADER_LEN + w->hmac_len : PROTO_HEADER_LEN;

	if (len < PROTO_HEADER_LEN + wrap_overhead(w) || len > INT32_MAX / 2)
		return WRAP_ETRUNC;
	*packet_id = *time = 0;
	if (w->mode != WRAP_NONE) {
		*packet_id = get_u32(wire + replay_at);
		*time = get_u32(wire + replay_at + 4);
	}
	switch (w->mode) {
	case WRAP_TLS_AUTH:
		return open_tls_auth(w, wire, len, plain, cap);
	case WRAP_TLS_CRYPT:
		return open_tls_crypt(w, wire, len, plain, cap);
	case WRAP_NONE:
		break;
	}
	if (cap < len)
		return WRAP_ESPACE;
	memmove(plain, wire, len);
	return (int)len;
}
