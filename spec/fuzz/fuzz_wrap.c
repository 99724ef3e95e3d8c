// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for unwrapping hostile packets with tls-auth (SHA1 and
 * SHA256, both directions) and tls-crypt: no crash, no out-of-bounds
 * access, and anything that opens must seal back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wrap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct crypto *crypto;
static struct wrap wraps[4];

static void setup(void)
{
	struct static_key key;
	char err[256];

	for (int i = 0; i < STATIC_KEY_LEN; i++)
		key.bytes[i] = (uint8_t)(i * 7 + 3);
	crypto = crypto_new(err, sizeof(err));
	if (!crypto || wrap_init_tls_auth(&wraps[0], crypto, &key, 0, "SHA1", err, sizeof(err)) ||
	    wrap_init_tls_auth(&wraps[1], crypto, &key, WRAP_KEY_DIRECTION_NONE, "SHA256", err,
			       sizeof(err)))
		abort();
	wrap_init_tls_crypt(&wraps[2], crypto, &key, true);
	wrap_init_none(&wraps[3]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t plain[4096], again[4096 + 128];
	uint32_t pid, t;

	if (!crypto)
		setup();
	if (size > sizeof(plain))
		return 0;
	for (size_t i = 0; i < sizeof(wraps) / sizeof(wraps[0]); i++) {
		int n = wrap_open(&wraps[i], data, size, plain, sizeof(plain), &pid, &t);

		if (n < 0 || wraps[i].mode == WRAP_TLS_CRYPT)
			continue; /* a forged tag never opens; tls-crypt cannot be re-sealed to a
				     peer's tag */
		if (wraps[i].mode == WRAP_TLS_AUTH && wraps[i].hmac_len == 20)
			continue; /* direction 0 receives with the other key than it sends with */
		int m = wrap_seal(&wraps[i], plain, (size_t)n, pid, t, again, sizeof(again));
		if (m != (int)size || memcmp(again, data, size) != 0)
			abort();
	}
	return 0;
}
