// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the server's refusal a client reads as a dynamic
 * challenge (AUTH_FAILED,CRV1:...): no crash, every part NUL-terminated
 * within its field, and the answer built from it fits or is refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "challenge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[4096], out[CHALLENGE_PASSWORD_MAX];
	struct challenge c;

	if (size >= sizeof(msg))
		return 0;
	memcpy(msg, data, size);
	msg[size] = '\0';
	if (!challenge_parse(&c, msg))
		return 0;
	if (strlen(c.state_id) >= sizeof(c.state_id) || strlen(c.username) >= sizeof(c.username) ||
	    strlen(c.text) >= sizeof(c.text))
		abort();
	if (challenge_dynamic_password(out, sizeof(out), &c, c.text) &&
	    strncmp(out, "CRV1::", 6) != 0)
		abort();
	(void)challenge_static_password(out, sizeof(out), c.username, c.text);
	return 0;
}
