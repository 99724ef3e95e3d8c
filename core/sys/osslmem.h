/* SPDX-License-Identifier: MIT */
/*
 * OpenSSL's allocations in the server's own process: the small ones go to
 * slab.h's heap apart (what a TLS handshake allocates and frees), except
 * between osslmem_keep_begin and osslmem_keep_end, where they go to malloc
 * as everything else that outlives a handshake (a data key's cipher
 * contexts, the TLS contexts). Allocations of other threads go to malloc.
 */
#ifndef MOONVPN_OSSLMEM_H
#define MOONVPN_OSSLMEM_H

#include <stdbool.h>

/* Before any other OpenSSL call; false when OpenSSL had allocated already (nothing changes). */
bool osslmem_init(void);
/* What is allocated in between is kept past the handshake (they nest). */
void osslmem_keep_begin(void);
void osslmem_keep_end(void);

#endif
