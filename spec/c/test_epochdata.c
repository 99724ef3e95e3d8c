// SPDX-License-Identifier: MIT
/*
 * OpenVPN 2.7's epoch data format through data_key (epochdata.c): the
 * packet layout, round trips both ways with the payload where the 2.6
 * format has it, tampering and replay, the sender moving to a new epoch
 * at its usage limit, the receiver following into its future window (and
 * moving its own send key up), late packets of the retiring epoch, and
 * epochs outside the window refused. The derivations themselves are
 * test_epoch's, against OpenVPN's vectors.
 */
#include <string.h>

#include "datakey.h"
#include "epochdata.h"
#include "proto.h"
#include "unit.h"

enum { PAYLOAD = 100, BUF = DATA_OVERHEAD + 1500 + DATA_TAILROOM };

static void block_of(uint8_t block[KEYS_BLOCK_LEN])
{
	for (int i = 0; i < KEYS_BLOCK_LEN; i++)
		block[i] = (uint8_t)(i * 7 + 3);
}

static void pair(const struct crypto *c, const char *cipher, struct data_key *server,
		 struct data_key *client)
{
	uint8_t block[KEYS_BLOCK_LEN];
	char err[128] = "";

	block_of(block);
	CHECK(data_key_init(server, c, cipher, block, true, true, 1, err, sizeof(err)) == 0 &&
		      data_key_init(client, c, cipher, block, false, true, 1, err, sizeof(err)) ==
			      0,
	      "%s epoch keys: %s", cipher, err);
}

/* Seals `fill` bytes of payload; the packet's length. */
static int seal(struct data_key *k, uint8_t *pkt, uint8_t fill)
{
	memset(pkt + DATA_OVERHEAD, fill, PAYLOAD);
	return data_seal(k, 7, pkt, PAYLOAD);
}

static bool opens_to(struct data_key *k, uint8_t *pkt, int len, uint8_t fill)
{
	uint8_t want[PAYLOAD];
	int n = data_open(k, pkt, (size_t)len);

	memset(want, fill, sizeof(want));
	return n == PAYLOAD && memcmp(pkt + DATA_OVERHEAD, want, PAYLOAD) == 0;
}

static void test_layout_and_round_trip(const struct crypto *c, const char *cipher)
{
	struct data_key server, client;
	uint8_t pkt[BUF], copy[BUF];
	static const uint8_t first_id[8] = { 0, 1, 0, 0, 0, 0, 0, 1 };
	int n;

	pair(c, cipher, &server, &client);
	n = seal(&client, pkt, 0xa5);
	CHECK(n == PAYLOAD + EPOCH_OVERHEAD,
	      "%s: the packet is 28 bytes longer than its payload (%d)", cipher, n);
	CHECK(pkt[0] == (P_DATA_V2 << 3 | 1) && pkt[1] == 0 && pkt[2] == 0 && pkt[3] == 7,
	      "%s: P_DATA_V2, key id 1, peer-id 7", cipher);
	CHECK(memcmp(pkt + 4, first_id, 8) == 0, "%s: epoch 1, counter 1", cipher);
	memcpy(copy, pkt, (size_t)n);
	CHECK(opens_to(&server, pkt, n, 0xa5), "%s: the server opens it, payload at DATA_OVERHEAD",
	      cipher);
	CHECK(data_open(&server, copy, (size_t)n) == DATA_EREPLAY, "%s: a replay is refused",
	      cipher);
	n = seal(&server, pkt, 0x3c);
	CHECK(opens_to(&client, pkt, n, 0x3c), "%s: and the other way", cipher);
	n = seal(&server, pkt, 0x3c);
	pkt[n - 1] ^= 1;
	CHECK(data_open(&client, pkt, (size_t)n) == DATA_EAUTH, "%s: a flipped tag bit is refused",
	      cipher);
	n = seal(&server, pkt, 0x3c);
	pkt[5] ^= 1; /* the epoch, in the AAD: another epoch's key, or none */
	CHECK(data_open(&client, pkt, (size_t)n) == DATA_EAUTH, "%s: a changed epoch is refused",
	      cipher);
	CHECK(data_open(&client, pkt, EPOCH_MIN_PACKET_LEN - 1) == DATA_ETRUNC,
	      "%s: too short for the format", cipher);
	data_key_clear(&server);
	data_key_clear(&client);
}

/* Epoch of the packet id at pkt + 4. */
static unsigned epoch_of(const uint8_t *pkt)
{
	uint64_t counter;

	return epoch_packet_id_get(pkt + 4, &counter);
}

static void test_sender_moves_on(const struct crypto *c)
{
	struct data_key server, client;
	uint8_t late[BUF], pkt[BUF];
	int late_len, n;

	pair(c, "AES-256-GCM", &server, &client);
	CHECK(epoch_data_contexts(server.epoch) == 2,
	      "a new key holds two cipher contexts, its send key's and epoch 1's (%d): the "
	      "future keys get theirs when first used",
	      epoch_data_contexts(server.epoch));
	late_len = seal(&client, late, 1); /* epoch 1, opened last */
	client.epoch->send_usage.blocks =
		EPOCH_AES_GCM_LIMIT_BLOCKS; /* the key has done its share */
	n = seal(&client, pkt, 2);
	CHECK(epoch_of(pkt) == 2 && client.epoch->send_usage.packets == 1,
	      "at the AES-GCM usage limit the sender moves to epoch 2, counter 1 (epoch %u)",
	      epoch_of(pkt));
	CHECK(opens_to(&server, pkt, n, 2), "the receiver opens epoch 2 with a future key");
	CHECK(server.epoch->current.epoch == 2 && server.epoch->retiring.epoch == 1,
	      "epoch 2 is current now, epoch 1 retiring");
	CHECK(server.epoch->send_chain.epoch == 2,
	      "the receiver's own send key moved up to epoch 2 too");
	CHECK(server.epoch->future[EPOCH_FUTURE_KEYS - 1].epoch == 2 + EPOCH_FUTURE_KEYS,
	      "the future window slid: up to epoch %d", 2 + EPOCH_FUTURE_KEYS);
	CHECK(epoch_data_contexts(server.epoch) == 3,
	      "three cipher contexts now: send, epoch 2, epoch 1 retiring (%d)",
	      epoch_data_contexts(server.epoch));
	CHECK(opens_to(&server, late, late_len, 1), "a late packet of epoch 1 still opens");
	n = seal(&server, pkt, 3);
	CHECK(epoch_of(pkt) == 2 && opens_to(&client, pkt, n, 3),
	      "the server now sends on epoch 2, which the client opens");
	data_key_clear(&server);
	data_key_clear(&client);
}

static void test_window(const struct crypto *c)
{
	struct data_key server, client;
	uint8_t pkt[BUF];
	int n;

	pair(c, "AES-256-GCM", &server, &client);
	for (int i = 0; i < EPOCH_FUTURE_KEYS + 1; i++) {
		client.epoch->send_usage.packets = EPOCH_COUNTER_MAX; /* the counter is spent */
		n = seal(&client, pkt, 9);
	}
	CHECK(epoch_of(pkt) == 2 + EPOCH_FUTURE_KEYS,
	      "a spent counter moves the sender on, once per packet (epoch %u)", epoch_of(pkt));
	CHECK(data_open(&server, pkt, (size_t)n) == DATA_EAUTH && server.epoch->current.epoch == 1,
	      "an epoch beyond the future window opens nothing and moves nothing");
	data_key_clear(&server);
	data_key_clear(&client);
	pair(c, "AES-256-GCM", &server, &client);
	for (int i = 0; i < EPOCH_FUTURE_KEYS; i++) {
		client.epoch->send_usage.packets = EPOCH_COUNTER_MAX;
		n = seal(&client, pkt, 9);
	}
	CHECK(epoch_of(pkt) == 1 + EPOCH_FUTURE_KEYS && opens_to(&server, pkt, n, 9),
	      "the window's last epoch (%u) opens", epoch_of(pkt));
	data_key_clear(&server);
	data_key_clear(&client);
}

static void test_chacha_has_no_limit(const struct crypto *c)
{
	struct data_key server, client;
	uint8_t pkt[BUF];
	int n;

	pair(c, "CHACHA20-POLY1305", &server, &client);
	client.epoch->send_usage.blocks = EPOCH_AES_GCM_LIMIT_BLOCKS + 1;
	n = seal(&client, pkt, 4);
	CHECK(epoch_of(pkt) == 1 && opens_to(&server, pkt, n, 4),
	      "CHACHA20-POLY1305 stays on its epoch past AES-GCM's limit");
	data_key_clear(&server);
	data_key_clear(&client);
}

static void test_worn(const struct crypto *c)
{
	struct data_key server, client;

	pair(c, "AES-128-GCM", &server, &client);
	CHECK(!data_key_worn(&client), "a new key is not worn");
	client.epoch->send_chain.epoch = EPOCH_RENEGOTIATE_AT;
	CHECK(data_key_worn(&client), "at epoch 0xf000 it is time for a new TLS key");
	data_key_clear(&server);
	data_key_clear(&client);
}

int main(void)
{
	char err[128];
	struct crypto *c = crypto_new(err, sizeof(err));

	CHECK(c != NULL, "crypto: %s", err);
	test_layout_and_round_trip(c, "AES-256-GCM");
	test_layout_and_round_trip(c, "AES-128-GCM");
	test_layout_and_round_trip(c, "CHACHA20-POLY1305");
	test_sender_moves_on(c);
	test_window(c);
	test_chacha_has_no_limit(c);
	test_worn(c);
	crypto_free(c);
	return unit_report("test_epochdata");
}
