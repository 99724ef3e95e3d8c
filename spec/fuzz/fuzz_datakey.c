// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for opening hostile data packets with each cipher, in
 * the 2.6 format and in 2.7's epoch format: no crash, no out-of-bounds
 * access, and nothing forged ever opens (so no epoch ever moves).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "datakey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct crypto *crypto;
enum { CIPHERS = 3, KEYS = 2 * CIPHERS };

static struct data_key keys[KEYS];

static void setup(void)
{
	static const char *const ciphers[] = { "AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305" };
	uint8_t block[KEYS_BLOCK_LEN];
	char err[256];

	for (int i = 0; i < KEYS_BLOCK_LEN; i++)
		block[i] = (uint8_t)(i * 13 + 1);
	crypto = crypto_new(err, sizeof(err));
	for (int i = 0; crypto && i < KEYS; i++)
		if (data_key_init(&keys[i], crypto, ciphers[i % CIPHERS], block, true, i >= CIPHERS,
				  0, err, sizeof(err)))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t pkt[4096];

	if (!crypto)
		setup();
	if (size > sizeof(pkt))
		return 0;
	for (int i = 0; i < KEYS; i++) {
		memcpy(pkt, data, size);
		if (data_open(&keys[i], pkt, size) >= 0)
			abort(); /* a 128-bit tag cannot be guessed by a fuzzer */
	}
	return 0;
}
