// SPDX-License-Identifier: MIT
/* libFuzzer target for PUSH_REPLY parsing: no crash, counts within bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pushopts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[4096], err[PUSH_ERR_MAX];
	struct push_options o;

	if (size >= sizeof(msg))
		return 0;
	memcpy(msg, data, size);
	msg[size] = '\0';
	push_options_init(&o);
	(void)push_parse(&o, msg, err, sizeof(err));
	if (o.n_routes > PUSH_ROUTES_MAX || o.n_dns > PUSH_DNS_MAX)
		abort();
	return 0;
}
