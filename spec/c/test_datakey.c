// SPDX-License-Identifier: MIT
/*
 * P_DATA_V2 AEAD packets: the guide's test vector (section 7.2, accepted by
 * a stock 2.6.14 server) opened and reproduced byte for byte, round trips
 * for the three ciphers in both directions, tampering, replay, reordering.
 */
#include <stdlib.h>
#include <string.h>

#include "datakey.h"
#include "unit.h"

static size_t unhex(uint8_t *out, const char *hex)
{
	size_t n = 0;

	for (const char *p = hex; p[0] && p[1]; p += 2) {
		char byte[3] = { p[0], p[1], 0 };
		out[n++] = (uint8_t)strtoul(byte, NULL, 16);
	}
	return n;
}

static const char VECTOR_KEY[] = "ece49e0cc3bc36da03ef4096d859bf3091140cb22b898a9cfce04b82a0835833";
static const char VECTOR_IV[] = "fb113885f0064f6f";
static const char VECTOR_PACKET[] = "4800000000000001"
				    "65308fa87f12ae423d06d000c13b1632"
				    "c62cd21ff8a2402ba71d7580b94baf20";
static const char PING[] = "2a187bf3641eb4cb07ed2d0a981fc748";

/* A key block whose client-to-server half holds the vector's key and IV. */
static void vector_block(uint8_t block[KEYS_BLOCK_LEN])
{
	memset(block, 0x5a, KEYS_BLOCK_LEN);
	unhex(block, VECTOR_KEY);
	unhex(block + 64, VECTOR_IV);
}

static void test_vector(const struct crypto *c)
{
	uint8_t block[KEYS_BLOCK_LEN], pkt[128], want[128], ping[16];
	struct data_key server, client;
	char err[128];
	size_t len = unhex(pkt, VECTOR_PACKET);
	int n;

	vector_block(block);
	unhex(ping, PING);
	memcpy(want, pkt, len);
	CHECK(data_key_init(&server, c, "AES-256-GCM", block, true, false, 0, err, sizeof(err)) ==
			      0 &&
		      data_key_init(&client, c, "AES-256-GCM", block, false, false, 0, err,
				    sizeof(err)) == 0,
	      "keys: %s", err);
	n = data_open(&server, pkt, len);
	CHECK(n == 16 && memcmp(pkt + DATA_OVERHEAD, ping, 16) == 0,
	      "the vector opens to the ping (%d: %s)", n, data_error_name(n));
	memcpy(pkt + DATA_OVERHEAD, ping, 16);
	n = data_seal(&client, 0, pkt, 16);
	CHECK(n == (int)len && memcmp(pkt, want, len) == 0, "sealing the ping gives the vector");
	memcpy(pkt, want, len);
	CHECK(data_open(&server, pkt, len) == DATA_EREPLAY, "the same packet again is a replay");
	data_key_clear(&server);
	data_key_clear(&client);
}

static void round_trip(const struct crypto *c, const char *cipher)
{
	uint8_t block[KEYS_BLOCK_LEN], pkt[1600], copy[1600];
	struct data_key server, client;
	char err[128];
	int n;

	for (int i = 0; i < KEYS_BLOCK_LEN; i++)
		block[i] = (uint8_t)(i * 29 + 7);
	CHECK(data_key_init(&server, c, cipher, block, true, false, 3, err, sizeof(err)) == 0 &&
		      data_key_init(&client, c, cipher, block, false, false, 3, err, sizeof(err)) ==
			      0,
	      "%s keys: %s", cipher, err);
	for (int i = 0; i < 1400; i++)
		pkt[DATA_OVERHEAD + i] = (uint8_t)i;
	n = data_seal(&server, 0x123456, pkt, 1400);
	CHECK(n == 1400 + DATA_OVERHEAD && pkt[0] == 0x4b && pkt[1] == 0x12, "%s: header", cipher);
	memcpy(copy, pkt, (size_t)n);
	CHECK(data_open(&server, pkt, (size_t)n) == DATA_EAUTH, "%s: own direction refused",
	      cipher);
	/* Forgeries first: each is refused, and none may poison the replay window. */
	for (int i = 1; i < n; i += 97) {
		memcpy(pkt, copy, (size_t)n);
		pkt[i] ^= 1;
		int rc = data_open(&client, pkt, (size_t)n);
		CHECK(rc == DATA_EAUTH || (i >= 4 && i < 8 && rc < 0), "%s: byte %d flipped: %s",
		      cipher, i, data_error_name(rc));
	}
	memcpy(pkt, copy, (size_t)n);
	CHECK(data_open(&client, pkt, (size_t)n) == 1400 &&
		      pkt[DATA_OVERHEAD + 1399] == (uint8_t)1399,
	      "%s: server to client, after the forgeries", cipher);
	data_key_clear(&server);
	data_key_clear(&client);
}

static void test_reordering(const struct crypto *c)
{
	uint8_t block[KEYS_BLOCK_LEN] = { 0 }, pkts[3][64];
	struct data_key server, client;
	char err[128];
	int n[3];

	CHECK(data_key_init(&server, c, "CHACHA20-POLY1305", block, true, false, 0, err,
			    sizeof(err)) == 0 &&
		      data_key_init(&client, c, "CHACHA20-POLY1305", block, false, false, 0, err,
				    sizeof(err)) == 0,
	      "keys: %s", err);
	for (int i = 0; i < 3; i++) {
		memset(pkts[i] + DATA_OVERHEAD, i, 8);
		n[i] = data_seal(&client, 7, pkts[i], 8);
	}
	CHECK(data_open(&server, pkts[2], (size_t)n[2]) == 8, "id 3 first");
	CHECK(data_open(&server, pkts[0], (size_t)n[0]) == 8, "id 1 late, inside the window");
	CHECK(data_open(&server, pkts[0], (size_t)n[0]) == DATA_EREPLAY, "id 1 again");
	CHECK(data_open(&server, pkts[1], 10) == DATA_ETRUNC, "truncated");
	pkts[1][0] = 0x30;
	CHECK(data_open(&server, pkts[1], (size_t)n[1]) == DATA_ETRUNC, "P_DATA_V1 refused here");
	server.next_packet_id = DATA_PACKET_ID_MAX + 1ULL;
	CHECK(data_seal(&server, 0, pkts[0], 8) == DATA_EEXHAUSTED, "ids never wrap");
	data_key_clear(&server);
	data_key_clear(&client);
}

int main(void)
{
	char err[256];
	struct crypto *c = crypto_new(err, sizeof(err));
	struct data_key k;
	uint8_t block[KEYS_BLOCK_LEN] = { 0 };

	CHECK(c != NULL, "crypto: %s", err);
	if (c) {
		test_vector(c);
		round_trip(c, "AES-128-GCM");
		round_trip(c, "AES-256-GCM");
		round_trip(c, "CHACHA20-POLY1305");
		test_reordering(c);
		CHECK(data_key_init(&k, c, "BF-CBC", block, true, false, 0, err, sizeof(err)) < 0 &&
			      strstr(err, "BF-CBC"),
		      "unsupported cipher: %s", err);
	}
	crypto_free(c);
	return unit_report("test_datakey");
}
