/* SPDX-License-Identifier: MIT */
/*
 * Data-channel key material of one key state: the 256-byte key block and
 * how it splits into the two directions (protocol guide section 6). Holds
 * the legacy OpenVPN PRF derivation (its labels and seed layout); the
 * TLS-EKM derivation comes from the TLS session (tls.c). Does not set up
 * ciphers or know about packets.
 */
#ifndef MOONVPN_KEYS_H
#define MOONVPN_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "keymethod.h"
#include "proto.h"

enum {
	KEYS_BLOCK_LEN = 256,
	KEYS_MASTER_LEN = 48,
	KEYS_HALF_LEN = 64,	  /* cipher or hmac half of one direction */
	KEYS_IMPLICIT_IV_LEN = 8, /* AEAD: the first 8 bytes of the direction's hmac half */
};

/*
 * The legacy PRF key block (section 6.3) from the two key-method-2
 * messages and the session ids. Returns 0, or -1 with err set.
 */
int keys_prf_block(const struct crypto *c, const struct km2 *client, const struct km2 *server,
		   const struct proto_sid *client_sid, const struct proto_sid *server_sid,
		   uint8_t block[KEYS_BLOCK_LEN], char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Where each direction's keys sit in the block. */
enum keys_direction {
	KEYS_CLIENT_TO_SERVER = 0,
	KEYS_SERVER_TO_CLIENT = 1,
};

static inline const uint8_t *keys_cipher_key(const uint8_t block[KEYS_BLOCK_LEN],
					     enum keys_direction d)
{
	return block + 128 * d;
}

static inline const uint8_t *keys_implicit_iv(const uint8_t block[KEYS_BLOCK_LEN],
					      enum keys_direction d)
{
	return block + 128 * d + KEYS_HALF_LEN;
}

#endif
