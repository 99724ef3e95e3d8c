// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for key-method-2 messages: decoding must never crash or
 * read out of bounds, and an accepted message must encode again, at most 6
 * bytes longer (absent trailing strings are written as three length-0
 * fields; a length-1 empty string shrinks).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keymethod.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t again[KM2_MESSAGE_MAX + 8192];
	char value[64];
	struct km2 m;

	for (int from_client = 0; from_client < 2; from_client++) {
		if (km2_decode(&m, data, size, from_client) != 0)
			continue;
		km2_peer_info_get(&m.peer_info, "IV_PROTO", value, sizeof(value));
		(void)km2_peer_info_proto(&m.peer_info);
		size_t n = km2_encode(again, sizeof(again), &m);
		if (!n || n > size + 6)
			abort();
	}
	return 0;
}
