// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the packet codec. Whatever the input, decoding must
 * not crash or read out of bounds, and any control packet the decoder
 * accepts must encode back to exactly the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_control c;
	struct proto_data d;
	uint8_t *again;

	if (proto_decode_data(&d, data, size) == 0 && d.header_len > size)
		abort();
	if (proto_decode_control(&c, data, size) != 0)
		return 0;
	if (proto_control_len(&c) != size)
		abort();
	again = malloc(size);
	if (!again || proto_encode_control(again, size, &c) != size || memcmp(again, data, size))
		abort();
	free(again);
	return 0;
}
