/* SPDX-License-Identifier: MIT */
/*
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): a keyed 64-bit hash for the tables whose keys a peer chooses
 * (addresses, flows, MAC addresses). Without the key nobody can pick keys
 * that collide, so no one can turn a table's probes into a linear scan.
 * Holds the function and the key; the tables are their owners'.
 */
#ifndef MOONVPN_SIPHASH_H
#define MOONVPN_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* The 128-bit key as the paper's k0 and k1 (its bytes read little-endian). */
struct siphash_key {
	uint64_t k0, k1;
};

/* A fresh random key (crypto_random: OpenSSL's CSPRNG). 0 or -1. */
int siphash_key_init(struct siphash_key *k) __attribute__((warn_unused_result));

/* SipHash-2-4 of len bytes at data under k. */
uint64_t siphash(const struct siphash_key *k, const void *data, size_t len);

#endif
