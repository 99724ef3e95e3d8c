// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for compression unframing: whatever a peer sends, under
 * either framing, no crash and no access outside the buffers; a result
 * never exceeds its buffer.
 */
#include <stdint.h>
#include <string.h>

#include "compframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FUZZ_CAP = 1600 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t p[70000], out[FUZZ_CAP];
	bool at_out;
	int n;

	if (size < 1 || size - 1 > sizeof(p))
		return 0;
	memcpy(p, data + 1, size - 1);
	n = compframe_unframe(data[0] & 1 ? COMPFRAME_V2 : COMPFRAME_LZO, p, size - 1, out,
			      data[0] & 2 ? 64 : FUZZ_CAP, &at_out);
	if (n > (int)(at_out ? FUZZ_CAP : size - 1))
		__builtin_trap();
	return 0;
}
