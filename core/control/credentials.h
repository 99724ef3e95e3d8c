/* SPDX-License-Identifier: MIT */
/*
 * The credentials of a configuration: its TLS context (CA, certificate,
 * key, CRL, all read and checked) and the control channel's static-key
 * wrapping (tls-auth or tls-crypt, or none; a client's tls-crypt-v2 client
 * key; a server's tls-crypt-v2 server key beside), and the auth-token secret
 * (auth.token.secret). Loaded completely before the engine opens anything,
 * and again on reload, where a failure keeps the running credentials.
 * Errors name the config field and the file.
 */
#ifndef MOONVPN_CREDENTIALS_H
#define MOONVPN_CREDENTIALS_H

#include <stddef.h>

#include "authtoken.h"
#include "config.h"
#include "crypto.h"
#include "tls.h"
#include "tlscryptv2.h"
#include "wrap.h"

struct credentials {
	struct tls_ctx *tls;
	struct wrap wrap;
	/* A client's tls-crypt-v2 key: wrap is its Kc, this its wrapped part (0: none). */
	uint8_t wkc[TLSCRYPTV2_WKC_MAX];
	size_t wkc_len;
	struct tlscryptv2_server *tls_crypt_v2; /* NULL unless set; wrap.v2 points here */
	bool has_token_key;			/* auth.token.secret was read into token_key */
	struct authtoken_key token_key;
	/* A client's auth-user-pass (auth), read from its file when it names one; NULL: none. */
	char *username, *password;
};

int credentials_load(struct credentials *out, const struct crypto *c, const struct config *cfg,
		     char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * As credentials_load, for a reload: the key's password is never asked on
 * the terminal (the password asked at start is used again); a key that would
 * need it asked is refused saying so, and the running credentials stay.
 */
int credentials_reload(struct credentials *out, const struct crypto *c, const struct config *cfg,
		       char *err, size_t errlen) __attribute__((warn_unused_result));

/* Frees the TLS context and wipes the keys; safe on a zeroed struct. */
void credentials_clear(struct credentials *cr);

#endif
