/* SPDX-License-Identifier: MIT */
/*
 * Data-channel cipher negotiation on the server (protocol guide section
 * 9): the client's list comes from IV_CIPHERS, else IV_NCP >= 2 means
 * AES-256-GCM and AES-128-GCM, else the cipher in its options string; the
 * first cipher of the server's list that the client has wins. Pure.
 */
#ifndef MOONVPN_NCP_H
#define MOONVPN_NCP_H

#include <stddef.h>

#include "keymethod.h"

/*
 * The cipher to push (canonical upper-case name from server_ciphers), or
 * NULL when the client supports none of them.
 */
const char *ncp_select(const char *const *server_ciphers, size_t n,
		       const struct km2_string *peer_info, const struct km2_string *options);

#endif
