// SPDX-License-Identifier: MIT
/*
 * The server's token state: a random key survives a reconfiguration (a
 * reload must not void connected clients' tokens) and a secret file's key
 * replaces it; a revoked session's tokens are refused until they would have
 * expired anyway; a full revocation table gives up the entry that expires
 * first; tokens are judged only while enabled.
 */
#include <string.h>

#include "tokens.h"
#include "unit.h"

static const struct authtoken_limits LIM = { 60, 0 };

static struct authtoken session_token(uint8_t id)
{
	struct authtoken t = { .initial = 1000, .timestamp = 1000 };

	memset(t.sessid, id, sizeof(t.sessid));
	return t;
}

static enum token_state judge(const struct tokens *t, uint8_t id, uint64_t made, uint64_t now)
{
	struct authtoken tok = session_token(id), out;
	char text[AUTHTOKEN_TEXT_MAX];

	if (tokens_issue(t, "alice", &tok, made, text) < 0)
		return TOKEN_NONE;
	return tokens_check(t, "alice", text, now, &out);
}

static void test_keys(void)
{
	static struct tokens t;
	struct authtoken_key first, file = { { 7 } };

	CHECK(tokens_configure(&t, NULL, &LIM) == 0 && t.enabled && t.random_key, "random key");
	first = t.key;
	CHECK(tokens_configure(&t, NULL, &LIM) == 0 && memcmp(&first, &t.key, sizeof(first)) == 0,
	      "a reload keeps the random key");
	CHECK(tokens_configure(&t, &file, &LIM) == 0 && !t.random_key &&
		      memcmp(&file, &t.key, sizeof(file)) == 0,
	      "the secret file's key");
	CHECK(judge(&t, 1, 1000, 1010) == TOKEN_VALID, "valid");
	CHECK(judge(&t, 1, 1000, 1120) == TOKEN_EXPIRED, "past 2 * renew");
	CHECK(tokens_check(&t, "alice", "hunter2", 1010, NULL) == TOKEN_NONE, "a password");
	CHECK(tokens_check(&t, "alice",
			   "SESS_ID_AT_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
			   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			   1010, &(struct authtoken){ 0 }) == TOKEN_INVALID,
	      "a forged token");
	CHECK(tokens_configure(&t, NULL, NULL) == 0 && !t.enabled &&
		      judge(&t, 1, 1000, 1010) == TOKEN_NONE,
	      "disabled: nothing is a token");
	tokens_clear(&t);
}

static void test_revoke(void)
{
	static struct tokens t;
	struct authtoken_key k = { { 9 } };

	CHECK(tokens_configure(&t, &k, &LIM) == 0, "configured");
	tokens_revoke(&t, session_token(1).sessid, 1010);
	CHECK(judge(&t, 1, 1000, 1020) == TOKEN_REVOKED, "revoked");
	CHECK(judge(&t, 2, 1000, 1020) == TOKEN_VALID, "another session");
	/* A token issued later than the revocation cannot exist: the session ended. */
	CHECK(judge(&t, 1, 1100, 1140) == TOKEN_VALID, "remembered only until 2 * renew");
	/* Expired entries make room first; when none has, the one that expires first goes. */
	for (unsigned i = 0; i < TOKENS_REVOKED_MAX + 1; i++) {
		uint8_t sessid[AUTHTOKEN_SESSID_LEN] = { 0xee };

		memcpy(sessid + 1, &i, sizeof(i));
		tokens_revoke(&t, sessid, 2000 + i / 512);
	}
	CHECK(t.n_revoked == TOKENS_REVOKED_MAX, "bounded: %zu", t.n_revoked);
	unsigned first = 0, last = TOKENS_REVOKED_MAX;
	bool has_first = false, has_last = false;
	for (size_t i = 0; i < t.n_revoked; i++) {
		has_first |= memcmp(t.revoked[i].sessid + 1, &first, sizeof(first)) == 0;
		has_last |= memcmp(t.revoked[i].sessid + 1, &last, sizeof(last)) == 0;
	}
	CHECK(!has_first && has_last, "the first (soonest to expire) went for the last");
	tokens_clear(&t);
}

int main(void)
{
	test_keys();
	test_revoke();
	return unit_report("test_tokens");
}
