// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for opening hostile data packets with each cipher: no
 * crash, no out-of-bounds access, and nothing forged ever opens.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "datakey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct crypto *crypto;
static struct data_key keys[3];

static void setup(void)
{
	static const char *const ciphers[] = { "AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305" };
	uint8_t block[KEYS_BLOCK_LEN];
	char err[256];

	for (int i = 0; i < KEYS_BLOCK_LEN; i++)
		block[i] = (uint8_t)(i * 13 + 1);
	crypto = crypto_new(err, sizeof(err));
	for (int i = 0; crypto && i < 3; i++)
		if (data_key_init(&keys[i], crypto, ciphers[i], block, true, false, 0, err,
				  sizeof(err)))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t pkt[4096];

	if (!crypto)
		setup();
	if (size > sizeof(pkt))
		return 0;
	for (int i = 0; i < 3; i++) {
		memcpy(pkt, data, size);
		if (data_open(&keys[i], pkt, size) >= 0)
			abort(); /* a 128-bit tag cannot be guessed by a fuzzer */
	}
	return 0;
}
