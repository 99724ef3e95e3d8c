// SPDX-License-Identifier: MIT
#include "client.h"
#include "engine.h"
#include "engine_auth.h"

static void on_refused(void *ctx, const char *message)
{
	struct engine *e = ctx;

	log_error(
		&e->log, "client",
		"the server refused our credentials (%s): stopping, as auth_retry = \"none\" says "
		"(\"nointeract\" tries again)",
		message);
	e->exit_status = 1;
	ev_break(e->loop, EVBREAK_ALL);
}

void engine_auth_params(struct engine *e, const struct config *cfg, struct client_params *cp)
{
	static const enum client_auth_retry retries[] = {
		[AUTH_RETRY_NONE] = CLIENT_AUTH_RETRY_NONE,
		[AUTH_RETRY_NOINTERACT] = CLIENT_AUTH_RETRY_NOINTERACT,
	};

	(void)e;
	cp->auth_retry = retries[cfg->auth_retry];
	cp->hooks.refused = on_refused;
}
