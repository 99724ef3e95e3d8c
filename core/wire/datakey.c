// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datakey.h"
#include "epochdata.h"
#include "proto.h"

enum { HEADER_LEN = 4, PID_LEN = 4, AAD_LEN = HEADER_LEN + PID_LEN };

/* The epoch format's keys, apart (they are large) and only for the peers that use it. */
static int epoch_init(struct data_key *k, const struct crypto *c, const char *cipher,
		      const uint8_t block[KEYS_BLOCK_LEN], bool server, char *err, size_t errlen)
{
	if (!(k->epoch = malloc(sizeof(*k->epoch)))) {
		snprintf(err, errlen, "epoch data keys: out of memory");
		return -1;
	}
	if (epoch_data_init(k->epoch, c, cipher, block, server, err, errlen) < 0) {
		free(k->epoch);
		k->epoch = NULL;
		return -1;
	}
	return 0;
}

int data_key_init(struct data_key *k, const struct crypto *c, const char *cipher,
		  const uint8_t block[KEYS_BLOCK_LEN], bool server, bool epoch_format,
		  uint8_t key_id, char *err, size_t errlen)
{
	enum keys_direction out = server ? KEYS_SERVER_TO_CLIENT : KEYS_CLIENT_TO_SERVER;
	enum keys_direction in = server ? KEYS_CLIENT_TO_SERVER : KEYS_SERVER_TO_CLIENT;

	memset(k, 0, sizeof(*k));
	k->key_id = key_id;
	if (epoch_format)
		return epoch_init(k, c, cipher, block, server, err, errlen);
	k->next_packet_id = 1; /* 0 is never valid */
	replay_init(&k->replay);
	memcpy(k->seal_iv, keys_implicit_iv(block, out), KEYS_IMPLICIT_IV_LEN);
	memcpy(k->open_iv, keys_implicit_iv(block, in), KEYS_IMPLICIT_IV_LEN);
	k->seal = crypto_aead_new(c, cipher, keys_cipher_key(block, out), true, err, errlen);
	k->open =
		k->seal ? crypto_aead_new(c, cipher, keys_cipher_key(block, in), false, err, errlen)
			: NULL;
	if (!k->open) {
		data_key_clear(k);
		return -1;
	}
	return 0;
}

void data_key_clear(struct data_key *k)
{
	if (k->epoch) {
		epoch_data_clear(k->epoch);
		free(k->epoch);
	}
	crypto_aead_free(k->seal);
	crypto_aead_free(k->open);
	crypto_wipe(k, sizeof(*k));
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* nonce = the packet-id as on the wire || the implicit IV */
static void make_nonce(uint8_t nonce[CRYPTO_AEAD_NONCE_LEN], const uint8_t *pid,
		       const uint8_t iv[KEYS_IMPLICIT_IV_LEN])
{
	memcpy(nonce, pid, PID_LEN);
	memcpy(nonce + PID_LEN, iv, KEYS_IMPLICIT_IV_LEN);
}

int data_seal(struct data_key *k, uint32_t peer_id, uint8_t *pkt, size_t len)
{
	uint8_t nonce[CRYPTO_AEAD_NONCE_LEN];

	if (k->epoch)
		return epoch_data_seal(k->epoch, k->key_id, peer_id, pkt, len);
	if (k->next_packet_id > DATA_PACKET_ID_MAX)
		return DATA_EEXHAUSTED;
	proto_encode_data_v2(pkt, k->key_id, peer_id);
	put_u32(pkt + HEADER_LEN, (uint32_t)k->next_packet_id++);
	make_nonce(nonce, pkt + HEADER_LEN, k->seal_iv);
	if (crypto_aead_seal(k->seal, nonce, pkt, AAD_LEN, pkt + DATA_OVERHEAD, len,
			     pkt + AAD_LEN) < 0)
		return DATA_EEXHAUSTED;
	return (int)(DATA_OVERHEAD + len);
}

int data_open(struct data_key *k, uint8_t *pkt, size_t len)
{
	uint8_t nonce[CRYPTO_AEAD_NONCE_LEN];
	uint64_t pid;

	if (k->epoch)
		return epoch_data_open(k->epoch, pkt, len);
	if (len < DATA_OVERHEAD || proto_opcode(pkt[0]) != P_DATA_V2 || len > INT32_MAX)
		return DATA_ETRUNC;
	pid = (uint64_t)pkt[4] << 24 | (uint64_t)pkt[5] << 16 | (uint64_t)pkt[6] << 8 | pkt[7];
	/* A cheap look first; the window only records ids whose tag verified. */
	if (replay_check(&k->replay, pid) != REPLAY_OK)
		return DATA_EREPLAY;
	make_nonce(nonce, pkt + HEADER_LEN, k->open_iv);
	if (crypto_aead_open(k->open, nonce, pkt, AAD_LEN, pkt + DATA_OVERHEAD, len - DATA_OVERHEAD,
			     pkt + AAD_LEN) < 0)
		return DATA_EAUTH;
	replay_record(&k->replay, pid);
	return (int)(len - DATA_OVERHEAD);
}

bool data_key_worn(const struct data_key *k)
{
	return k->epoch ? epoch_data_worn(k->epoch)
			: k->next_packet_id >= DATA_PACKET_ID_RENEGOTIATE;
}

const char *data_error_name(int error)
{
	switch (error) {
	case DATA_ETRUNC:
		return "malformed";
	case DATA_EAUTH:
		return "authentication failed";
	case DATA_EREPLAY:
		return "replay";
	case DATA_EEXHAUSTED:
		return "packet-ids exhausted";
	}
	return error >= 0 ? "ok" : "unknown";
}
