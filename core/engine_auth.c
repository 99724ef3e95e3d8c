// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "challenge.h"
#include "client.h"
#include "engine.h"
#include "engine_auth.h"
#include "script.h"
#include "ttyask.h"

static void answered(void *ctx, const char *first, const char *second)
{
	struct engine *e = ctx;

	if (e->client)
		client_answer(e->client, first, second);
}

/* The kind an auth.ask function is told: "password", "static" or "dynamic". */
static const char *kind_of(enum client_question what)
{
	static const char *const kinds[] = {
#define CLIENT_QUESTION_NAME(e, s) [e] = s,
		CLIENT_QUESTION_MAP(CLIENT_QUESTION_NAME)
#undef CLIENT_QUESTION_NAME
	};

	return kinds[what];
}

/* One question on the terminal; false (and logged) when it could not be asked. */
static bool ask_terminal(struct engine *e, const char *prompt, bool echo, char *out, size_t cap)
{
	int rc = ttyask_read(prompt, echo, out, cap);

	if (rc < 0)
		log_error(&e->log, "client", "cannot ask \"%s\" on the terminal: %s", prompt,
			  rc == -EMSGSIZE ? "the answer is too long" : strerror(-rc));
	return rc == 0;
}

static void ask_on_terminal(struct engine *e, const struct client_ask *q)
{
	char user[TTYASK_ANSWER_MAX] = "", secret[TTYASK_ANSWER_MAX] = "";
	char prompt[CHALLENGE_TEXT_MAX + 4];
	bool ok = true;

	if (q->what == CLIENT_ASK_PASSWORD) {
		if (!q->username)
			ok = ask_terminal(e, "Enter Auth Username: ", true, user, sizeof(user));
		ok = ok && ask_terminal(e, "Enter Auth Password: ", false, secret, sizeof(secret));
	} else {
		snprintf(prompt, sizeof(prompt), "%s: ", q->text);
		ok = ask_terminal(e, prompt, q->echo, secret, sizeof(secret));
	}
	if (ok && q->what == CLIENT_ASK_PASSWORD)
		answered(e, q->username ? NULL : user, secret);
	else
		answered(e, ok ? secret : NULL, NULL);
	/* explicit_bzero: a memset of buffers dead after it may be optimised away. */
	explicit_bzero(user, sizeof(user));
	explicit_bzero(secret, sizeof(secret));
}

static void on_ask(void *ctx, const struct client_ask *q)
{
	struct engine *e = ctx;

	if (q->what == CLIENT_ASK_DYNAMIC)
		log_info(&e->log, "client", "the server's challenge: %s", q->text);
	if (e->cfg && e->cfg->auth_ask == AUTH_ASK_FUNCTION) {
		script_client_ask(e->script, q->what == CLIENT_ASK_PASSWORD ? NULL : q->text,
				  kind_of(q->what), answered, e);
		return;
	}
	if (!ttyask_possible()) {
		log_error(&e->log, "client",
			  "cannot ask for %s: standard input is not a terminal (give auth.password "
			  "or auth.file, or auth.ask = function(challenge) ... end)",
			  q->what == CLIENT_ASK_PASSWORD ? "the password"
							 : "the challenge's response");
		answered(e, NULL, NULL);
		return;
	}
	ask_on_terminal(e, q);
}

static void on_refused(void *ctx, const char *message)
{
	struct engine *e = ctx;

	log_error(
		&e->log, "client",
		"the server refused our credentials (%s): stopping, as auth_retry = \"none\" says "
		"(\"nointeract\" tries again, \"interact\" asks again)",
		message);
	e->exit_status = 1;
	ev_break(e->loop, EVBREAK_ALL);
}

/*
 * auth.ask = true without a terminal (a service): refused at start when a
 * question is certain (the password, a static challenge, auth_retry
 * interact). Otherwise only a server's dynamic challenge could ask, and
 * without hooks.ask it is a refusal, which auth_retry handles.
 */
static int without_terminal(struct engine *e, const struct config *cfg, char *err, size_t errlen)
{
	if ((!cfg->auth_password && !cfg->auth_file) || cfg->auth_static_challenge ||
	    cfg->auth_retry == AUTH_RETRY_INTERACT) {
		snprintf(
			err, errlen,
			"auth.ask = true asks on the terminal, but standard input is not one: give "
			"auth.password or auth.file, or auth.ask = function(challenge) ... end");
		return -EINVAL;
	}
	log_warnx(&e->log, "client",
		  "auth.ask = true: standard input is not a terminal, so a dynamic challenge from "
		  "the server will be taken as a refusal");
	return 0;
}

int engine_auth_params(struct engine *e, const struct config *cfg, struct client_params *cp,
		       char *err, size_t errlen)
{
	static const enum client_auth_retry retries[] = {
		[AUTH_RETRY_NONE] = CLIENT_AUTH_RETRY_NONE,
		[AUTH_RETRY_NOINTERACT] = CLIENT_AUTH_RETRY_NOINTERACT,
		[AUTH_RETRY_INTERACT] = CLIENT_AUTH_RETRY_INTERACT,
	};

	cp->auth_retry = retries[cfg->auth_retry];
	cp->hooks.refused = on_refused;
	cp->static_challenge = cfg->auth_static_challenge;
	cp->static_echo = cfg->auth_static_echo;
	if (cfg->auth_ask == AUTH_ASK_NONE)
		return 0;
	if (cfg->auth_ask == AUTH_ASK_TERMINAL && !ttyask_possible())
		return without_terminal(e, cfg, err, errlen);
	cp->hooks.ask = on_ask;
	cp->ask_password = !cfg->auth_password && !cfg->auth_file;
	return 0;
}
