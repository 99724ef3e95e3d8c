/* SPDX-License-Identifier: MIT */
/*
 * The server's auth tokens (auth.token): the key and the renewal and
 * lifetime limits in force, and the sessions whose tokens the operator
 * revoked (kick). Sessions check and issue tokens through it; the token
 * format itself is authtoken.c's. Owned by the engine, so it outlives every
 * server and session; a reload swaps key and limits in place.
 */
#ifndef MOONVPN_TOKENS_H
#define MOONVPN_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authtoken.h"

enum {
	/* Revoked sessions remembered at once; each only until its last token
	 * could expire (2 * renew seconds). More: the soonest to expire goes. */
	TOKENS_REVOKED_MAX = 1024,
};

/* What a client's token was found to be (none: it sent a password). */
#define TOKEN_STATE_MAP(X)          \
	X(TOKEN_NONE, "none")       \
	X(TOKEN_VALID, "valid")     \
	X(TOKEN_EXPIRED, "expired") \
	X(TOKEN_INVALID, "invalid") \
	X(TOKEN_REVOKED, "revoked")

enum token_state {
#define TOKEN_STATE_ENUM(e, s) e,
	TOKEN_STATE_MAP(TOKEN_STATE_ENUM)
#undef TOKEN_STATE_ENUM
};

struct tokens_revoked {
	uint8_t sessid[AUTHTOKEN_SESSID_LEN];
	uint64_t until; /* Unix seconds */
};

struct tokens {
	bool enabled;
	bool random_key; /* no secret file: a key of this process's own */
	struct authtoken_key key;
	struct authtoken_limits lim;
	struct tokens_revoked revoked[TOKENS_REVOKED_MAX];
	size_t n_revoked;
};

/*
 * Turns tokens on with key (NULL: a random key, kept across calls while no
 * secret file is configured) and limits, or off with lim NULL. 0, or -1
 * when the random number generator fails.
 */
int tokens_configure(struct tokens *t, const struct authtoken_key *key,
		     const struct authtoken_limits *lim) __attribute__((warn_unused_result));

/* Wipes the key. */
void tokens_clear(struct tokens *t);

/*
 * Judges password as a token for username at Unix time now: TOKEN_NONE
 * when tokens are off or it does not look like one, else its state; *out
 * gets its contents when TOKEN_VALID.
 */
enum token_state tokens_check(const struct tokens *t, const char *username, const char *password,
			      uint64_t now, struct authtoken *out);

/* A token for a session (sessid and initial of tok, timestamp now) into out. 0 or -1. */
int tokens_issue(const struct tokens *t, const char *username, const struct authtoken *tok,
		 uint64_t now, char out[AUTHTOKEN_TEXT_MAX]) __attribute__((warn_unused_result));

/* No token of session sessid is accepted from now on (until they all expired). */
void tokens_revoke(struct tokens *t, const uint8_t sessid[AUTHTOKEN_SESSID_LEN], uint64_t now);

const char *token_state_name(enum token_state st);

#endif
