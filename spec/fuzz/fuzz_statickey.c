// SPDX-License-Identifier: MIT
/* libFuzzer target for static key files: no crash; a parsed key formats and parses back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "statickey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct static_key k, back;
	char text[STATIC_KEY_TEXT_MAX], err[128];

	if (static_key_parse(&k, (const char *)data, size, err, sizeof(err)) != 0)
		return 0;
	size_t n = static_key_format(&k, text, sizeof(text));
	if (!n || static_key_parse(&back, text, n, err, sizeof(err)) != 0 ||
	    memcmp(k.bytes, back.bytes, sizeof(k.bytes)) != 0)
		abort();
	return 0;
}
