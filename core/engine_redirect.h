/* SPDX-License-Identifier: MIT */
/*
 * Client mode's redirect-gateway: before the tunnel takes every route, the
 * servers' own addresses are pinned to the paths they take now
 * (hostroute.h), so the tunnel's packets keep going outside it. The pins
 * stay across reconnects to the same remotes (traffic waits for the tunnel
 * rather than leaking around it), and go when a push no longer redirects,
 * when a reload changes the remotes, and at exit. A client killed with
 * SIGKILL leaves only its pins (the device and its routes go with the
 * process); the next start removes those to its literal addresses (a
 * name's are not resolved at start: `ip route del ADDRESS proto 109`).
 */
#ifndef MOONVPN_ENGINE_REDIRECT_H
#define MOONVPN_ENGINE_REDIRECT_H

#include <stdbool.h>
#include <stddef.h>

struct engine;
struct config;
struct push_options;

/* Whether o's redirect-gateway routes may go onto the device (the servers are pinned). */
bool engine_redirect_begin(struct engine *e, const struct push_options *o);

enum { ENGINE_BLOCK_LOCAL_NETS = 8 /* the local interface's IPv4 networks kept out */ };

struct ip_prefix;

/*
 * redirect-gateway block-local (after engine_redirect_begin pinned the
 * servers): the networks of the interface the server is reached through,
 * each as its two halves one bit longer, so that they win over the
 * interface's own route and go through the tunnel, as OpenVPN's
 * add_block_local_routes (route.c); the gateway is pinned outside. How many
 * prefixes went into out (cap at least 2 * ENGINE_BLOCK_LOCAL_NETS).
 */
size_t engine_redirect_block_local(struct engine *e, const struct push_options *o,
				   struct ip_prefix *out, size_t cap);

/*
 * An attempt is about to reach addr (a named remote's answer may be new):
 * while the redirect routes are on, it is pinned too, to the path the first
 * pin took (the kernel's own answer now is the tunnel).
 */
struct udp_addr;
void engine_redirect_keep(struct engine *e, const struct udp_addr *addr);

/* The pins go (the redirect routes must be off the device already, or about to go). */
void engine_redirect_end(struct engine *e);

/*
 * routes_outside (a profile's route ... net_gateway): pinned at the first
 * push to the path each takes then (before the tunnel's routes go in), kept
 * across reconnects, removed at exit and when a reload reconnects.
 */
void engine_outside_begin(struct engine *e);
void engine_outside_end(struct engine *e);

/* At start: the pins a killed client left for cfg's remotes and routes_outside go. */
void engine_redirect_clear_stale(struct engine *e, const struct config *cfg);

#endif
