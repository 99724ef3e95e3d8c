/* SPDX-License-Identifier: MIT */
/*
 * Client mode's logins beyond a given password: a refusal under auth_retry
 * "none" stops the engine with exit status 1, as OpenVPN's
 * receive_auth_failed does with its default auth-retry.
 */
#ifndef MOONVPN_ENGINE_AUTH_H
#define MOONVPN_ENGINE_AUTH_H

struct engine;
struct config;
struct client_params;

/* Sets cp's auth_retry and its refused hook from cfg. */
void engine_auth_params(struct engine *e, const struct config *cfg, struct client_params *cp);

#endif
