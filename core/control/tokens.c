// SPDX-License-Identifier: MIT
#include <string.h>

#include "crypto.h"
#include "tokens.h"

int tokens_configure(struct tokens *t, const struct authtoken_key *key,
		     const struct authtoken_limits *lim)
{
	if (!lim) {
		t->enabled = false;
		return 0;
	}
	if (key) {
		t->key = *key;
		t->random_key = false;
	} else if (!t->random_key) {
		/* A reload keeps the random key: connected clients' tokens stay good. */
		if (authtoken_key_generate(&t->key) < 0)
			return -1;
		t->random_key = true;
	}
	t->lim = *lim;
	t->enabled = true;
	return 0;
}

void tokens_clear(struct tokens *t)
{
	crypto_wipe(&t->key, sizeof(t->key));
	t->enabled = t->random_key = false;
}

static bool is_revoked(const struct tokens *t, const uint8_t *sessid, uint64_t now)
{
	for (size_t i = 0; i < t->n_revoked; i++)
		if (t->revoked[i].until > now &&
		    memcmp(t->revoked[i].sessid, sessid, AUTHTOKEN_SESSID_LEN) == 0)
			return true;
	return false;
}

enum token_state tokens_check(const struct tokens *t, const char *username, const char *password,
			      uint64_t now, struct authtoken *out)
{
	unsigned flags;

	if (!t || !t->enabled || !authtoken_looks_like(password))
		return TOKEN_NONE;
	flags = authtoken_verify(&t->key, username, password, now, &t->lim, out);
	if (!(flags & AUTHTOKEN_HMAC_OK))
		return TOKEN_INVALID;
	if (is_revoked(t, out->sessid, now))
		return TOKEN_REVOKED;
	/* Only for the empty username: the client's username was not what it was made for. */
	return flags == AUTHTOKEN_HMAC_OK  ? TOKEN_VALID
	       : flags & AUTHTOKEN_EXPIRED ? TOKEN_EXPIRED
					   : TOKEN_INVALID;
}

int tokens_issue(const struct tokens *t, const char *username, const struct authtoken *tok,
		 uint64_t now, char out[AUTHTOKEN_TEXT_MAX])
{
	struct authtoken fresh = *tok;

	fresh.timestamp = now;
	return authtoken_make(&t->key, username, &fresh, out);
}

/* An expired entry, else a free one, else the one that expires first. */
static size_t revoke_slot(struct tokens *t, uint64_t now)
{
	size_t soonest = 0;

	for (size_t i = 0; i < t->n_revoked; i++) {
		if (t->revoked[i].until <= now)
			return i;
		if (t->revoked[i].until < t->revoked[soonest].until)
			soonest = i;
	}
	return t->n_revoked < TOKENS_REVOKED_MAX ? t->n_revoked++ : soonest;
}

void tokens_revoke(struct tokens *t, const uint8_t sessid[AUTHTOKEN_SESSID_LEN], uint64_t now)
{
	size_t slot = revoke_slot(t, now);

	memcpy(t->revoked[slot].sessid, sessid, AUTHTOKEN_SESSID_LEN);
	/* Its newest token was made at most now, and is good for 2 * renew after. */
	t->revoked[slot].until = now + 2 * (uint64_t)t->lim.renew_seconds + 1;
}

const char *token_state_name(enum token_state st)
{
	switch (st) {
#define TOKEN_STATE_NAME(e, s) \
	case e:                \
		return s;
		TOKEN_STATE_MAP(TOKEN_STATE_NAME)
#undef TOKEN_STATE_NAME
	}
	return "?";
}
