// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for a TAP client's frame check: no crash, no
 * out-of-bounds access, a VLAN-tagged frame never passes, and neither does
 * a Router Advertisement or a Redirect directly after an IPv6 header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "tapcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The client owns the addresses whose last byte is odd: both answers get explored. */
static bool is_own(const void *ctx, const struct ip_addr *a)
{
	(void)ctx;
	return a->bytes[a->family == AF_INET ? 3 : 15] & 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool pass = tapcheck_frame(data, size, is_own, NULL);
	uint16_t type = size >= 14 ? (uint16_t)(data[12] << 8 | data[13]) : 0;

	if (pass && (type == 0x8100 || type == 0x88a8))
		abort();
	if (pass && type == 0x86dd && size >= 14 + 41 && data[14 + 6] == 58 &&
	    (data[14 + 40] == 134 || data[14 + 40] == 137))
		abort();
	return 0;
}
