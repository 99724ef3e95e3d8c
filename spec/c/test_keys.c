// SPDX-License-Identifier: MIT
/*
 * The legacy OpenVPN PRF key derivation against the test vector of the
 * protocol guide (section 14.2), computed by an implementation that
 * interoperated with a stock 2.6.14 server.
 */
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "unit.h"

static void unhex(uint8_t *out, const char *hex)
{
	for (size_t i = 0; hex[2 * i]; i++) {
		char byte[3] = { hex[2 * i], hex[2 * i + 1], 0 };
		out[i] = (uint8_t)strtoul(byte, NULL, 16);
	}
}

static const struct {
	size_t offset;
	const char *hex;
} block_slices[] = {
	{ 0, "d9a795d12e70d4394acdc4437f347c64bcbca5be8090331aea38825a454143d2" },
	{ 64, "5c0d475839f993f5" },
	{ 128, "d91064434ec70884d3922891ce4a09e15d3622802fbfc5ace83a8ee9f37c2a24" },
	{ 192, "827689b569ef4555" },
};

static void vector_inputs(struct km2 *client, struct km2 *server, struct proto_sid *csid,
			  struct proto_sid *ssid)
{
	memset(client, 0, sizeof(*client));
	memset(server, 0, sizeof(*server));
	for (int i = 0; i < KM2_PRE_MASTER_LEN; i++)
		client->pre_master[i] = (uint8_t)i;
	memset(client->random1, 0x11, KM2_RANDOM_LEN);
	memset(server->random1, 0x22, KM2_RANDOM_LEN);
	memset(client->random2, 0x33, KM2_RANDOM_LEN);
	memset(server->random2, 0x44, KM2_RANDOM_LEN);
	unhex(csid->bytes, "0102030405060708");
	unhex(ssid->bytes, "a1a2a3a4a5a6a7a8");
}

static void test_master(const struct crypto *c)
{
	uint8_t seed[21 + 64], master[KEYS_MASTER_LEN], want[KEYS_MASTER_LEN], pre[48];
	char err[256];

	for (int i = 0; i < 48; i++)
		pre[i] = (uint8_t)i;
	memcpy(seed, "OpenVPN master secret", 21);
	memset(seed + 21, 0x11, 32);
	memset(seed + 53, 0x22, 32);
	unhex(want, "8d4d229a2b8a2af73a3e37ceca8c1a2db162292f18b5b070383cd081b68d82b4"
		    "31f11370733cc4b308ba7d5a0975f368");
	CHECK(crypto_tls1_prf(c, pre, sizeof(pre), seed, sizeof(seed), master, sizeof(master), err,
			      sizeof(err)) == 0,
	      "prf: %s", err);
	CHECK(memcmp(master, want, sizeof(want)) == 0, "master secret matches the vector");
}

static void test_block(const struct crypto *c)
{
	struct km2 client, server;
	struct proto_sid csid, ssid;
	uint8_t block[KEYS_BLOCK_LEN], want[64];
	char err[256];

	vector_inputs(&client, &server, &csid, &ssid);
	CHECK(keys_prf_block(c, &client, &server, &csid, &ssid, block, err, sizeof(err)) == 0,
	      "block: %s", err);
	for (size_t i = 0; i < sizeof(block_slices) / sizeof(block_slices[0]); i++) {
		size_t n = strlen(block_slices[i].hex) / 2;

		unhex(want, block_slices[i].hex);
		CHECK(memcmp(block + block_slices[i].offset, want, n) == 0, "block[%zu..%zu]",
		      block_slices[i].offset, block_slices[i].offset + n - 1);
	}
	CHECK(keys_implicit_iv(block, KEYS_CLIENT_TO_SERVER) == block + 64 &&
		      keys_implicit_iv(block, KEYS_SERVER_TO_CLIENT) == block + 192 &&
		      keys_cipher_key(block, KEYS_SERVER_TO_CLIENT) == block + 128,
	      "direction layout");
	/* Swapping the session ids must change the block (they are part of the seed). */
	uint8_t other[KEYS_BLOCK_LEN];
	CHECK(keys_prf_block(c, &client, &server, &ssid, &csid, other, err, sizeof(err)) == 0 &&
		      memcmp(block, other, sizeof(block)) != 0,
	      "session ids are in the seed");
}

int main(void)
{
	char err[256];
	struct crypto *c = crypto_new(err, sizeof(err));

	CHECK(c != NULL, "crypto_new: %s", err);
	if (c) {
		test_master(c);
		test_block(c);
	}
	crypto_free(c);
	return unit_report("test_keys");
}
