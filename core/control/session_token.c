// SPDX-License-Identifier: MIT
/*
 * A server session's auth tokens, as OpenVPN's --auth-gen-token server
 * handles them (auth_token.c, ssl_verify.c verify_user_pass, push.c
 * prepare_auth_token_push_reply): a client admitted with credentials gets
 * "auth-token" and "auth-token-user" in its PUSH_REPLY and a fresh token
 * every renew seconds as "PUSH_REPLY,auth-token ..."; the client then sends
 * the token as its password in renegotiations and reconnects, and a token
 * keeps the session id and initial time of the first one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_impl.h"

enum {
	/* push.lua's MESSAGE_MAX: one control message, NUL included. */
	PUSH_MESSAGE_MAX = 1024,
	USERNAME_B64_MAX = (AUTHTOKEN_USERNAME_MAX + 2) / 3 * 4 + 1,
};

static bool enabled(const struct session *s)
{
	return s->p.tokens && s->p.tokens->enabled;
}

static uint64_t unix_now(const struct session *s)
{
	return (uint64_t)ev_now(s->p.loop); /* libev's time is the wall clock */
}

/* The password as a C string, when it has a token's length (else ""). */
static void password_of(const struct km2 *km, char out[AUTHTOKEN_TEXT_MAX])
{
	size_t len = km->password.text ? km->password.len : 0;

	if (len != AUTHTOKEN_TEXT_LEN)
		len = 0;
	memcpy(out, len ? km->password.text : "", len);
	out[len] = '\0';
}

static enum token_state check(struct session *s, const struct km2 *km, struct authtoken *out)
{
	char password[AUTHTOKEN_TEXT_MAX];
	enum token_state st;

	if (!enabled(s))
		return TOKEN_NONE;
	password_of(km, password);
	st = tokens_check(s->p.tokens, s->username ? s->username : "", password, unix_now(s), out);
	crypto_wipe(password, sizeof(password));
	return st;
}

void session_token_first(struct session *s, const struct km2 *km)
{
	struct authtoken t;

	s->sent_credentials =
		(km->username.text && km->username.len) || (km->password.text && km->password.len);
	s->token_state = check(s, km, &t);
	if (s->token_state == TOKEN_VALID) {
		s->token = t; /* the reconnecting client keeps its session id and initial time */
		s->has_token = true;
	}
	if (s->token_state != TOKEN_NONE)
		log_info(s->p.log, "session", "%s: auth-token %s", s->who,
			 token_state_name(s->token_state));
}

enum token_state session_token_again(struct session *s, const struct km2 *km)
{
	struct authtoken t;
	enum token_state st = check(s, km, &t);

	/* A token of another session is no better than a forged one. */
	if (st == TOKEN_VALID &&
	    (!s->has_token || memcmp(t.sessid, s->token.sessid, sizeof(t.sessid)) != 0))
		st = TOKEN_INVALID;
	return st;
}

/* ",auth-token TOKEN,auth-token-user BASE64(username)" for a fresh token; false on failure. */
static bool token_options(struct session *s, char *out, size_t cap)
{
	char token[AUTHTOKEN_TEXT_MAX], user[USERNAME_B64_MAX];
	const char *name = s->username ? s->username : "";
	int n;

	if (tokens_issue(s->p.tokens, name, &s->token, unix_now(s), token) < 0 ||
	    (name[0] && !authtoken_base64((const uint8_t *)name, strlen(name), user, sizeof(user))))
		return false;
	n = snprintf(out, cap, name[0] ? ",auth-token %s,auth-token-user %s" : ",auth-token %s",
		     token, user);
	crypto_wipe(token, sizeof(token));
	return n > 0 && (size_t)n < cap;
}

void session_token_attach(struct session *s, char *extra, size_t cap)
{
	char opts[PUSH_MESSAGE_MAX];
	char **last = s->push.n_messages ? &s->push.messages[s->push.n_messages - 1] : NULL;
	size_t len;
	char *grown;

	extra[0] = '\0';
	if (!enabled(s) || !s->sent_credentials || !last)
		return;
	if (!s->has_token) {
		if (crypto_random(s->token.sessid, sizeof(s->token.sessid)) < 0)
			return;
		s->token.initial = unix_now(s);
		s->has_token = true;
	}
	s->next_token = ev_now(s->p.loop) + s->p.tokens->lim.renew_seconds;
	if (!token_options(s, opts, sizeof(opts)))
		return;
	len = strlen(*last);
	if (len + strlen(opts) + 1 > PUSH_MESSAGE_MAX) {
		snprintf(extra, cap, "PUSH_REPLY%s", opts); /* moonvpn.push left too little room */
	} else if ((grown = realloc(*last, len + strlen(opts) + 1))) {
		memcpy(grown + len, opts, strlen(opts) + 1);
		*last = grown;
	}
	crypto_wipe(opts, sizeof(opts));
}

bool session_token_renewal(struct session *s, char *msg, size_t cap)
{
	char opts[PUSH_MESSAGE_MAX];
	bool ok;

	if (!s->has_token || !enabled(s) || ev_now(s->p.loop) < s->next_token)
		return false;
	s->next_token = ev_now(s->p.loop) + s->p.tokens->lim.renew_seconds;
	ok = token_options(s, opts, sizeof(opts));
	/* As OpenVPN's renewal: the token alone (auth-token-user came with the push). */
	if (ok) {
		char *user = strstr(opts, ",auth-token-user ");

		if (user)
			*user = '\0';
		ok = snprintf(msg, cap, "PUSH_REPLY%s", opts) < (int)cap;
	}
	crypto_wipe(opts, sizeof(opts));
	return ok;
}

void session_token_revoke(struct session *s)
{
	if (s->has_token && enabled(s))
		tokens_revoke(s->p.tokens, s->token.sessid, unix_now(s));
}
