// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the flow parser and the reject answers: no crash, no
 * out-of-bounds access, every answer fits PACKET_REJECT_MAX, is IP of the
 * packet's family, and never answers an answer (a reset or an ICMP error).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[PACKET_REJECT_MAX], again[PACKET_REJECT_MAX];
	struct ip_addr gw4 = { AF_INET, { 10, 8, 0, 1 } };
	struct ip_addr gw6 = { AF_INET6, { 0xfd, 0, [15] = 1 } };
	struct packet_flow f, g;
	size_t n;

	if (!packet_parse(data, size, &f))
		return 0;
	n = packet_reject(data, size, &f, f.src.family == AF_INET ? &gw4 : &gw6, out);
	if (n > PACKET_REJECT_MAX)
		abort();
	if (n == 0)
		return 0;
	if (!packet_parse(out, n, &g) || g.src.family != f.src.family)
		abort();
	if (packet_reject(out, n, &g, f.src.family == AF_INET ? &gw4 : &gw6, again) != 0)
		abort(); /* an answer (a reset, an ICMP error) is never answered */
	return 0;
}
