// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the auth-token verifier and key file parser: no
 * crash on any password or file; a password the verifier accepts under a
 * fixed key remakes to the same text; a token made from the input's first
 * 28 bytes verifies with those contents.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authtoken.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct authtoken_key key = { { 1, 2, 3, 4, 5, 6, 7, 8 } };
	static const struct authtoken_limits lim = { 3600, 0 };
	char text[AUTHTOKEN_TEXT_MAX * 2], again[AUTHTOKEN_TEXT_MAX], err[160];
	struct authtoken_key parsed;
	struct authtoken t;
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	unsigned flags;

	(void)!authtoken_key_parse(&parsed, (const char *)data, size, err, sizeof(err));
	memcpy(text, data, n);
	text[n] = '\0';
	flags = authtoken_verify(&key, "user", text, 1800000000, &lim, &t);
	if (flags & AUTHTOKEN_HMAC_OK) {
		const char *who = flags & AUTHTOKEN_EMPTY_USER ? "" : "user";

		if (authtoken_make(&key, who, &t, again) != 0 || strcmp(again, text) != 0)
			abort();
	}
	if (size >= AUTHTOKEN_SESSID_LEN + 16) {
		struct authtoken in, out;

		memcpy(in.sessid, data, AUTHTOKEN_SESSID_LEN);
		memcpy(&in.initial, data + AUTHTOKEN_SESSID_LEN, 8);
		memcpy(&in.timestamp, data + AUTHTOKEN_SESSID_LEN + 8, 8);
		if (authtoken_make(&key, "user", &in, again) != 0 ||
		    !(authtoken_verify(&key, "user", again, 0, &lim, &out) & AUTHTOKEN_HMAC_OK) ||
		    memcmp(in.sessid, out.sessid, sizeof(in.sessid)) != 0 ||
		    in.initial != out.initial || in.timestamp != out.timestamp)
			abort();
	}
	return 0;
}
