/* SPDX-License-Identifier: MIT */
/*
 * Client mode's DNS: the servers and search domains a server pushes
 * (dhcp-option DNS/DOMAIN, 2.6's dns server/search-domains) go to the
 * system's resolver as the configuration's `dns` says (resolver.h), or
 * first to the Lua hook on.dns, which may change them, apply them itself or
 * refuse them; it is told again at exit ("down") so that it can undo.
 */
#ifndef MOONVPN_ENGINE_DNS_H
#define MOONVPN_ENGINE_DNS_H

#include <stdbool.h>

#include "resolver.h"

struct engine;
struct push_options;

struct engine_dns {
	struct resolver_dns given; /* the last push's, for on.dns's "down" */
	bool all_traffic;	   /* the last push redirects everything */
	bool told;		   /* on.dns was told "up": it is told "down" at the end */
	bool ending;		   /* "down" was called: a late "up" answer applies nothing */
};

/* A push's DNS settings, through on.dns when there is one, to the resolver. */
void engine_dns_up(struct engine *e, const struct push_options *o, bool all_traffic);

/*
 * The end: on.dns is told "down" (the loop runs until it answers, at most
 * the hooks' deadline), then what the resolver was given is taken back.
 */
void engine_dns_down(struct engine *e);

#endif
