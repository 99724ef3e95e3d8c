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

/* Stops the client with exit status 1 (a failure), after err was logged. */
static void stop_failed(struct engine *e)
{
	e->exit_status = 1;
	ev_break(e->loop, EVBREAK_ALL);
}

/*
 * One question on the terminal: 0, or -errno (logged). The end of input (the
 * terminal closed, Ctrl-D) stops the client, as OpenVPN stops when it cannot
 * read from stdin: asking again at each backoff would find no one either.
 */
static int ask_terminal(struct engine *e, const char *prompt, bool echo, char *out, size_t cap)
{
	int rc = ttyask_read(prompt, echo, out, cap);

	if (rc == -EPIPE) {
		log_error(&e->log, "client",
			  "cannot ask \"%s\": %s: stopping (give auth.password or auth.file, or "
			  "auth.ask = function(challenge) ... end)",
			  prompt, ttyask_strerror(rc));
		stop_failed(e);
	} else if (rc == -EINTR) {
		log_info(&e->log, "client", "asking \"%s\" was interrupted: stopping", prompt);
	} else if (rc < 0) {
		log_error(&e->log, "client", "cannot ask \"%s\" on the terminal: %s", prompt,
			  ttyask_strerror(rc));
	}
	return rc;
}

static void ask_on_terminal(struct engine *e, const struct client_ask *q)
{
	char user[TTYASK_ANSWER_MAX] = "", secret[TTYASK_ANSWER_MAX] = "";
	char prompt[CHALLENGE_TEXT_MAX + 4];
	int rc = 0;

	if (q->what == CLIENT_ASK_PASSWORD) {
		if (!q->username)
			rc = ask_terminal(e, "Enter Auth Username: ", true, user, sizeof(user));
		if (rc == 0)
			rc = ask_terminal(e, "Enter Auth Password: ", false, secret,
					  sizeof(secret));
	} else {
		snprintf(prompt, sizeof(prompt), "%s: ", q->text);
		rc = ask_terminal(e, prompt, q->echo, secret, sizeof(secret));
	}
	/* Stopping (end of input, a signal): no answer, nor the next try it would start. */
	if (rc == 0 && q->what == CLIENT_ASK_PASSWORD)
		answered(e, q->username ? NULL : user, secret);
	else if (rc != -EPIPE && rc != -EINTR)
		answered(e, rc == 0 ? secret : NULL, NULL);
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
	if (!ttyask_possible()) { /* nobody to ask, now or at the next try: stop once */
		log_error(&e->log, "client",
			  "cannot ask for %s: standard input is not a terminal, so there is no one "
			  "to ask: stopping (give auth.password or auth.file, or auth.ask = "
			  "function(challenge) ... end)",
			  q->what == CLIENT_ASK_PASSWORD ? "the password"
							 : "the challenge's response");
		stop_failed(e);
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
	stop_failed(e);
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

	/* auth.file with a username alone: the password is asked (credentials.c). */
	bool no_password = cfg->auth_file && !cp->password;

	cp->auth_retry = retries[cfg->auth_retry];
	if (cfg->auth_retry == AUTH_RETRY_INTERACT && cfg->auth_ask == AUTH_ASK_NONE &&
	    !cfg->auth_file && !cfg->auth_username)
		log_warnx(&e->log, "client",
			  "auth_retry = \"interact\" without auth: there is no password to ask "
			  "again, so a refusal is tried again as with \"nointeract\"");
	cp->hooks.refused = on_refused;
	cp->static_challenge = cfg->auth_static_challenge;
	cp->static_echo = cfg->auth_static_echo;
	if (cfg->auth_ask == AUTH_ASK_NONE && !no_password)
		return 0;
	if (cfg->auth_ask != AUTH_ASK_FUNCTION && !ttyask_possible()) {
		if (no_password) {
			snprintf(
				err, errlen,
				"auth.file has a username but no password (its second line), and "
				"standard input is not a terminal to ask it on: write the password "
				"on the file's second line, or give auth.ask = function(challenge) "
				"... end");
			return -EINVAL;
		}
		return without_terminal(e, cfg, err, errlen);
	}
	cp->hooks.ask = on_ask;
	cp->ask_password = (!cfg->auth_password && !cfg->auth_file) || no_password;
	return 0;
}
