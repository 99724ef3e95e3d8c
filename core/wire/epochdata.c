// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>

#include "datakey.h"
#include "epochdata.h"
#include "proto.h"

_Static_assert((int)EPOCH_OVERHEAD == (int)DATA_OVERHEAD + (int)DATA_TAILROOM,
	       "DATA_TAILROOM is what an epoch packet needs beyond a 2.6 one");
_Static_assert((int)EPOCH_HEAD_LEN <= (int)DATA_OVERHEAD,
	       "the payload moves down, never up, to seal");

/* AES-GCM has a usage limit per key; CHACHA20-POLY1305 has none (crypto.c, cipher_get_aead_limits).
 */
static uint64_t usage_limit(const char *cipher)
{
	return strncmp(cipher, "AES-", 4) == 0 ? EPOCH_AES_GCM_LIMIT_BLOCKS : 0;
}

/* A cipher context and implicit IV for epoch k, encrypting or decrypting. */
static struct crypto_aead *key_for(const struct epoch_data *e, const struct epoch_key *k,
				   bool encrypt, uint8_t iv[EPOCH_IV_LEN])
{
	uint8_t key[EPOCH_KEY_LEN];
	struct crypto_aead *a = NULL;
	char err[128];

	if (epoch_data_key(e->crypto, k, key, e->key_len, iv) == 0)
		a = crypto_aead_new(e->crypto, e->cipher, key, encrypt, err, sizeof(err));
	crypto_wipe(key, sizeof(key));
	return a;
}

static void recv_key_clear(struct epoch_recv_key *r)
{
	crypto_aead_free(r->open);
	crypto_wipe(r, sizeof(*r));
}

/* Fills r with the receive key of the chain's epoch, as key bytes; r stays empty when that fails.
 */
static void recv_key_make(const struct epoch_data *e, const struct epoch_key *chain,
			  struct epoch_recv_key *r)
{
	memset(r, 0, sizeof(*r));
	if (epoch_data_key(e->crypto, chain, r->key, e->key_len, r->iv) < 0) {
		crypto_wipe(r, sizeof(*r));
		return;
	}
	r->epoch = chain->epoch;
	replay_init(&r->replay);
}

/* Makes r's cipher context from its key bytes, if not made yet; false when that fails. */
static bool recv_key_ready(const struct epoch_data *e, struct epoch_recv_key *r)
{
	char err[128];

	if (!r->open &&
	    (r->open = crypto_aead_new(e->crypto, e->cipher, r->key, false, err, sizeof(err))))
		crypto_wipe(r->key, sizeof(r->key));
	return r->open != NULL;
}

/*
 * Fills the future window after the current key: keys already made are
 * kept (moved down), the rest are derived along the receive chain. A key
 * that cannot be made leaves its slot empty: that epoch then opens nothing.
 */
static void fill_future(struct epoch_data *e)
{
	struct epoch_recv_key kept[EPOCH_FUTURE_KEYS];
	int i;

	memcpy(kept, e->future, sizeof(kept));
	memset(e->future, 0, sizeof(e->future));
	for (i = 0; i < EPOCH_FUTURE_KEYS; i++) {
		uint16_t want = (uint16_t)(e->current.epoch + 1 + i);

		for (int j = 0; j < EPOCH_FUTURE_KEYS; j++)
			if (kept[j].epoch == want) {
				e->future[i] = kept[j];
				memset(&kept[j], 0, sizeof(kept[j]));
			}
		if (e->future[i].epoch)
			continue;
		while (e->recv_chain.epoch < want && epoch_key_next(e->crypto, &e->recv_chain) == 0)
			;
		if (e->recv_chain.epoch == want)
			recv_key_make(e, &e->recv_chain, &e->future[i]);
	}
	for (i = 0; i < EPOCH_FUTURE_KEYS; i++)
		recv_key_clear(&kept[i]);
}

/* Moves the send key to epoch `to` (above its own); its counter starts again. 0 or -1. */
static int send_move_to(struct epoch_data *e, uint16_t to)
{
	struct epoch_key chain = e->send_chain;
	struct crypto_aead *seal;
	uint8_t iv[EPOCH_IV_LEN];

	while (chain.epoch < to)
		if (epoch_key_next(e->crypto, &chain) < 0)
			return -1;
	if (!(seal = key_for(e, &chain, true, iv)))
		return -1;
	crypto_aead_free(e->seal);
	e->seal = seal;
	memcpy(e->seal_iv, iv, sizeof(iv));
	e->send_chain = chain;
	memset(&e->send_usage, 0, sizeof(e->send_usage));
	crypto_wipe(&chain, sizeof(chain));
	return 0;
}

int epoch_data_init(struct epoch_data *e, const struct crypto *c, const char *cipher,
		    const uint8_t block[KEYS_BLOCK_LEN], bool server, char *err, size_t errlen)
{
	memset(e, 0, sizeof(*e));
	e->crypto = c;
	snprintf(e->cipher, sizeof(e->cipher), "%s", cipher);
	e->key_len = crypto_aead_key_len(cipher);
	e->limit = usage_limit(cipher);
	epoch_first_keys(block, server, &e->send_chain, &e->recv_chain);
	if (e->key_len && (e->seal = key_for(e, &e->send_chain, true, e->seal_iv)))
		recv_key_make(e, &e->recv_chain, &e->current);
	if (!e->current.epoch || !recv_key_ready(e, &e->current)) {
		snprintf(err, errlen, "epoch data keys: cannot set up %s", cipher);
		epoch_data_clear(e);
		return -1;
	}
	fill_future(e);
	return 0;
}

void epoch_data_clear(struct epoch_data *e)
{
	crypto_aead_free(e->seal);
	recv_key_clear(&e->current);
	recv_key_clear(&e->retiring);
	for (int i = 0; i < EPOCH_FUTURE_KEYS; i++)
		recv_key_clear(&e->future[i]);
	crypto_wipe(e, sizeof(*e));
}

int epoch_data_contexts(const struct epoch_data *e)
{
	int n = (e->seal != NULL) + (e->current.open != NULL) + (e->retiring.open != NULL);

	for (int i = 0; i < EPOCH_FUTURE_KEYS; i++)
		n += e->future[i].open != NULL;
	return n;
}

int epoch_data_seal(struct epoch_data *e, uint8_t key_id, uint32_t peer_id, uint8_t *pkt,
		    size_t len)
{
	uint8_t nonce[CRYPTO_AEAD_NONCE_LEN];
	uint8_t *payload = pkt + EPOCH_HEAD_LEN;

	if (epoch_send_due(e->limit, e->send_chain.epoch, &e->send_usage, e->current.epoch,
			   &e->current.usage))
		(void)send_move_to(
			e, (uint16_t)(e->send_chain.epoch + 1)); /* else: on with this one */
	if (e->send_usage.packets >= EPOCH_COUNTER_MAX || len > INT32_MAX - EPOCH_OVERHEAD)
		return DATA_EEXHAUSTED;
	memmove(payload, pkt + DATA_OVERHEAD, len);
	proto_encode_data_v2(pkt, key_id, peer_id);
	epoch_packet_id_put(pkt + 4, e->send_chain.epoch, ++e->send_usage.packets);
	epoch_nonce(nonce, pkt + 4, e->seal_iv);
	if (crypto_aead_seal(e->seal, nonce, pkt, EPOCH_HEAD_LEN, payload, len, payload + len) < 0)
		return DATA_EEXHAUSTED;
	e->send_usage.blocks += epoch_blocks(len);
	return (int)(EPOCH_OVERHEAD + len);
}

/* The receive key of epoch, or NULL (crypto_epoch.c, epoch_lookup_decrypt_key). */
static struct epoch_recv_key *lookup(struct epoch_data *e, uint16_t epoch)
{
	if (epoch == e->current.epoch)
		return &e->current;
	if (e->retiring.epoch && epoch == e->retiring.epoch)
		return &e->retiring;
	/* At the top of the range the window cannot slide on: no future keys there. */
	if (epoch > e->current.epoch && epoch - e->current.epoch <= EPOCH_FUTURE_KEYS &&
	    epoch <= EPOCH_MAX - EPOCH_FUTURE_KEYS - 1)
		return e->future[epoch - e->current.epoch - 1].epoch == epoch
			       ? &e->future[epoch - e->current.epoch - 1]
			       : NULL;
	return NULL;
}

/* The peer moved to the future key r: it becomes current, the current one retires. */
static void promote(struct epoch_data *e, struct epoch_recv_key *r)
{
	if (e->send_chain.epoch < r->epoch)
		(void)send_move_to(e, r->epoch); /* else: we keep sending on the older epoch */
	recv_key_clear(&e->retiring);
	e->retiring = e->current;
	e->current = *r;
	memset(r, 0, sizeof(*r));
	fill_future(e);
}

int epoch_data_open(struct epoch_data *e, uint8_t *pkt, size_t len)
{
	uint8_t nonce[CRYPTO_AEAD_NONCE_LEN];
	struct epoch_recv_key *r;
	uint64_t counter;
	uint16_t epoch;
	size_t n;

	if (len < EPOCH_MIN_PACKET_LEN || proto_opcode(pkt[0]) != P_DATA_V2 || len > INT32_MAX)
		return DATA_ETRUNC;
	epoch = epoch_packet_id_get(pkt + 4, &counter);
	if (!epoch || !(r = lookup(e, epoch)) || r->usage.failed >= EPOCH_FAILED_MAX ||
	    !recv_key_ready(e, r))
		return DATA_EAUTH; /* an epoch we have no key for opens nothing */
	if (replay_check(&r->replay, counter) != REPLAY_OK)
		return DATA_EREPLAY;
	n = len - EPOCH_OVERHEAD;
	epoch_nonce(nonce, pkt + 4, r->iv);
	if (crypto_aead_open(r->open, nonce, pkt, EPOCH_HEAD_LEN, pkt + EPOCH_HEAD_LEN, n,
			     pkt + EPOCH_HEAD_LEN + n) < 0) {
		r->usage.failed++;
		return DATA_EAUTH;
	}
	replay_record(&r->replay, counter);
	r->usage.blocks += epoch_blocks(n);
	if (counter > r->usage.packets)
		r->usage.packets = counter;
	if (r != &e->current && r != &e->retiring)
		promote(e, r);
	memmove(pkt + DATA_OVERHEAD, pkt + EPOCH_HEAD_LEN, n);
	return (int)n;
}

bool epoch_data_worn(const struct epoch_data *e)
{
	return e->send_chain.epoch >= EPOCH_RENEGOTIATE_AT;
}
