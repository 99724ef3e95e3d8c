/* SPDX-License-Identifier: MIT */
/*
 * Password hashes in crypt(3) form through libxcrypt: yescrypt ("$y$",
 * Debian's default) and sha512-crypt ("$6$"), among the others libxcrypt
 * knows. Hashing is slow on purpose: call these from a worker thread
 * (worker.c), not from the loop. Thread-safe; no state.
 */
#ifndef MOONVPN_PASSWD_H
#define MOONVPN_PASSWD_H

#include <stdbool.h>
#include <stddef.h>

enum { PASSWD_HASH_MAX = 512 };

/* True when password hashes to hash (compared in constant time). False for a malformed hash. */
bool passwd_verify(const char *password, const char *hash);

/*
 * A new hash of password with method "yescrypt" or "sha512" and a random
 * salt. 0, or -1 with err set.
 */
int passwd_hash(const char *password, const char *method, char out[PASSWD_HASH_MAX], char *err,
		size_t errlen) __attribute__((warn_unused_result));

#endif
