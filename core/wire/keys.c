// SPDX-License-Identifier: MIT
#include <string.h>

#include "keys.h"

static const char MASTER_LABEL[] = "OpenVPN master secret";
static const char EXPANSION_LABEL[] = "OpenVPN key expansion";

int keys_prf_block(const struct crypto *c, const struct km2 *client, const struct km2 *server,
		   const struct proto_sid *client_sid, const struct proto_sid *server_sid,
		   uint8_t block[KEYS_BLOCK_LEN], char *err, size_t errlen)
{
	uint8_t seed[sizeof(EXPANSION_LABEL) - 1 + 2 * KM2_RANDOM_LEN + 2 * PROTO_SID_LEN];
	uint8_t master[KEYS_MASTER_LEN];
	size_t n = 0;
	int rc;

	/* master = PRF(pre_master, label || client.random1 || server.random1) */
	memcpy(seed, MASTER_LABEL, sizeof(MASTER_LABEL) - 1);
	n = sizeof(MASTER_LABEL) - 1;
	memcpy(seed + n, client->random1, KM2_RANDOM_LEN);
	memcpy(seed + n + KM2_RANDOM_LEN, server->random1, KM2_RANDOM_LEN);
	n += 2 * KM2_RANDOM_LEN;
	rc = crypto_tls1_prf(c, client->pre_master, KM2_PRE_MASTER_LEN, seed, n, master,
			     sizeof(master), err, errlen);
	if (rc < 0)
		goto out;
	/* block = PRF(master, label || client.random2 || server.random2 || sids) */
	memcpy(seed, EXPANSION_LABEL, sizeof(EXPANSION_LABEL) - 1);
	n = sizeof(EXPANSION_LABEL) - 1;
	memcpy(seed + n, client->random2, KM2_RANDOM_LEN);
	n += KM2_RANDOM_LEN;
	memcpy(seed + n, server->random2, KM2_RANDOM_LEN);
	n += KM2_RANDOM_LEN;
	memcpy(seed + n, client_sid->bytes, PROTO_SID_LEN);
	n += PROTO_SID_LEN;
	memcpy(seed + n, server_sid->bytes, PROTO_SID_LEN);
	n += PROTO_SID_LEN;
	rc = crypto_tls1_prf(c, master, sizeof(master), seed, n, block, KEYS_BLOCK_LEN, err,
			     errlen);
out:
	crypto_wipe(master, sizeof(master));
	return rc;
}
