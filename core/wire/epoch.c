// SPDX-License-Identifier: MIT
#include <string.h>

#include "epoch.h"

static const char LABEL_PREFIX[] = "ovpn ";
enum {
	PREFIX_LEN = sizeof(LABEL_PREFIX) - 1,
	/* u16 length, u8 label length, prefix and label, u8 context length, context */
	INFO_MAX = 2 + 1 + PREFIX_LEN + EPOCH_LABEL_MAX + 1 + EPOCH_CONTEXT_MAX,
};

/* RFC 5869 HKDF-Expand with HMAC-SHA256: T(i) = HMAC(secret, T(i-1) || info || i). */
static int hkdf_expand(const struct crypto *c, const uint8_t secret[EPOCH_KEY_LEN],
		       const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	uint8_t t[CRYPTO_SHA256_LEN];
	size_t t_len = 0;

	for (uint8_t i = 1; out_len > 0; i++) {
		struct crypto_iov iov[] = { { t, t_len }, { info, info_len }, { &i, 1 } };
		size_t n = out_len < sizeof(t) ? out_len : sizeof(t);

		if (crypto_hmac(c, "SHA256", secret, EPOCH_KEY_LEN, iov, 3, t) < 0) {
			crypto_wipe(t, sizeof(t));
			return -1;
		}
		t_len = sizeof(t);
		memcpy(out, t, n);
		out += n;
		out_len -= n;
	}
	crypto_wipe(t, sizeof(t));
	return 0;
}

int epoch_expand_label(const struct crypto *c, const uint8_t secret[EPOCH_KEY_LEN],
		       const char *label, const uint8_t *context, size_t context_len, uint8_t *out,
		       size_t out_len)
{
	size_t label_len = strlen(label);
	uint8_t info[INFO_MAX];
	size_t n = 0;

	if (label_len < 1 || label_len > EPOCH_LABEL_MAX || context_len > EPOCH_CONTEXT_MAX ||
	    out_len > EPOCH_EXPAND_MAX)
		return -1;
	info[n++] = (uint8_t)(out_len >> 8);
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)(PREFIX_LEN + label_len);
	memcpy(info + n, LABEL_PREFIX, PREFIX_LEN);
	n += PREFIX_LEN;
	memcpy(info + n, label, label_len);
	n += label_len;
	info[n++] = (uint8_t)context_len;
	if (context_len)
		memcpy(info + n, context, context_len);
	n += context_len;
	return hkdf_expand(c, secret, info, n, out, out_len);
}

void epoch_first_keys(const uint8_t block[KEYS_BLOCK_LEN], bool server, struct epoch_key *send,
		      struct epoch_key *recv)
{
	enum keys_direction out = server ? KEYS_SERVER_TO_CLIENT : KEYS_CLIENT_TO_SERVER;
	enum keys_direction in = server ? KEYS_CLIENT_TO_SERVER : KEYS_SERVER_TO_CLIENT;

	memcpy(send->key, keys_cipher_key(block, out), EPOCH_KEY_LEN);
	send->epoch = 1;
	memcpy(recv->key, keys_cipher_key(block, in), EPOCH_KEY_LEN);
	recv->epoch = 1;
}

int epoch_key_next(const struct crypto *c, struct epoch_key *k)
{
	uint8_t next[EPOCH_KEY_LEN];

	if (k->epoch == 0 || k->epoch == EPOCH_MAX ||
	    epoch_expand_label(c, k->key, "datakey upd", NULL, 0, next, sizeof(next)) < 0)
		return -1;
	memcpy(k->key, next, sizeof(next));
	crypto_wipe(next, sizeof(next));
	k->epoch++;
	return 0;
}

int epoch_data_key(const struct crypto *c, const struct epoch_key *k, uint8_t *key, size_t key_len,
		   uint8_t iv[EPOCH_IV_LEN])
{
	if (k->epoch == 0 || key_len == 0 || key_len > EPOCH_KEY_LEN)
		return -1;
	if (epoch_expand_label(c, k->key, "data_key", NULL, 0, key, key_len) < 0 ||
	    epoch_expand_label(c, k->key, "data_iv", NULL, 0, iv, EPOCH_IV_LEN) < 0) {
		crypto_wipe(key, key_len);
		return -1;
	}
	return 0;
}

void epoch_packet_id_put(uint8_t out[EPOCH_PACKET_ID_LEN], uint16_t epoch, uint64_t counter)
{
	uint64_t v = (uint64_t)epoch << 48 | (counter & EPOCH_COUNTER_MAX);

	for (int i = EPOCH_PACKET_ID_LEN - 1; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

uint16_t epoch_packet_id_get(const uint8_t in[EPOCH_PACKET_ID_LEN], uint64_t *counter)
{
	uint64_t v = 0;

	for (int i = 0; i < EPOCH_PACKET_ID_LEN; i++)
		v = v << 8 | in[i];
	*counter = v & EPOCH_COUNTER_MAX;
	return (uint16_t)(v >> 48);
}

void epoch_nonce(uint8_t nonce[CRYPTO_AEAD_NONCE_LEN], const uint8_t pid[EPOCH_PACKET_ID_LEN],
		 const uint8_t iv[EPOCH_IV_LEN])
{
	for (int i = 0; i < CRYPTO_AEAD_NONCE_LEN; i++)
		nonce[i] = (uint8_t)((i < EPOCH_PACKET_ID_LEN ? pid[i] : 0) ^ iv[i]);
}

bool epoch_usage_reached(uint64_t limit, const struct epoch_usage *u)
{
	return limit > 0 && u->blocks + u->packets > limit;
}

bool epoch_send_due(uint64_t limit, uint16_t send_epoch, const struct epoch_usage *send,
		    uint16_t recv_epoch, const struct epoch_usage *recv)
{
	if (send_epoch == EPOCH_MAX)
		return false;
	if (send->packets >= EPOCH_COUNTER_MAX || epoch_usage_reached(limit, send))
		return true;
	/* As 2.7: only ciphers with a limit nudge the peer. */
	return limit > 0 && send_epoch == recv_epoch &&
	       (epoch_usage_reached(limit, recv) || recv->failed > EPOCH_FAILED_WARN);
}
