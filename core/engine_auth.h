/* SPDX-License-Identifier: MIT */
/*
 * Client mode's logins beyond a given password: the client's questions
 * (the password, a static or dynamic challenge's response) go to the
 * configuration's auth.ask function or to the terminal, and a refusal under
 * auth_retry "none" stops the engine with exit status 1, as OpenVPN's
 * receive_auth_failed does with its default auth-retry.
 */
#ifndef MOONVPN_ENGINE_AUTH_H
#define MOONVPN_ENGINE_AUTH_H

#include <stddef.h>

struct engine;
struct config;
struct client_params;

/*
 * Sets cp's auth_retry, questions and hooks (refused, ask) from cfg; -EINVAL
 * with err when cfg asks on the terminal and standard input is not one.
 */
int engine_auth_params(struct engine *e, const struct config *cfg, struct client_params *cp,
		       char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
