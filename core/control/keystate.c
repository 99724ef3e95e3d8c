// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>

#include "keystate.h"

int key_state_start(struct key_state *ks, struct tls_ctx *tls, uint8_t key_id, ev_tstamp now)
{
	memset(ks, 0, sizeof(*ks));
	ks->tls = tls_session_new(tls);
	if (!ks->tls)
		return -1;
	ks->key_id = key_id;
	ks->phase = KEY_PHASE_TLS;
	ks->started = now;
	reliable_init(&ks->rel);
	return 0;
}

void key_state_clear(struct key_state *ks)
{
	if (ks->phase == KEY_PHASE_EMPTY)
		return;
	tls_session_free(ks->tls);
	reliable_free(&ks->rel);
	if (ks->client_km_buf)
		crypto_wipe(ks->client_km_buf, ks->client_km_len);
	free(ks->client_km_buf);
	crypto_wipe(ks, sizeof(*ks)); /* also sets phase to KEY_PHASE_EMPTY (0) */
}

bool key_state_keep_km(struct key_state *ks, const uint8_t *msg, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return false;
	if (ks->client_km_buf)
		crypto_wipe(ks->client_km_buf, ks->client_km_len);
	free(ks->client_km_buf);
	memcpy(copy, msg, len);
	ks->client_km_buf = copy;
	ks->client_km_len = len;
	return true;
}

uint8_t key_state_next_id(uint8_t key_id)
{
	return key_id >= 7 ? 1 : (uint8_t)(key_id + 1);
}
