// SPDX-License-Identifier: MIT
#include <netinet/in.h>
#include <string.h>

#include "client.h"
#include "engine.h"
#include "engine_redirect.h"

static void add_address(struct ip_addr *out, size_t *n, const struct udp_addr *ua)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)&ua->ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ua->ss;

	if (*n == HOST_ROUTES_MAX || (ua->ss.ss_family != AF_INET && ua->ss.ss_family != AF_INET6))
		return;
	memset(&out[*n], 0, sizeof(out[*n]));
	out[*n].family = ua->ss.ss_family;
	if (ua->ss.ss_family == AF_INET)
		memcpy(out[*n].bytes, &in->sin_addr, 4);
	else
		memcpy(out[*n].bytes, &in6->sin6_addr, 16);
	(*n)++;
}

/* The remotes' literal addresses, as cfg names them: how many went into out. */
static size_t remote_addresses(const struct config *cfg, struct ip_addr *out)
{
	char host[NAMERES_HOST_MAX];
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_remotes; i++) {
		struct client_remote r;

		if (client_remote_parse(&r, cfg->remotes[i], host, sizeof(host)) && !r.host)
			add_address(out, &n, &r.addr);
	}
	return n;
}

bool engine_redirect_begin(struct engine *e, const struct push_options *o)
{
	struct ip_addr remotes[HOST_ROUTES_MAX];
	char err[256];
	size_t n;

	if (!(o->redirect & PUSH_REDIRECT_ON))
		return false;
	if (o->redirect & PUSH_REDIRECT_BLOCK_LOCAL)
		log_warnx(&e->log, "client",
			  "redirect-gateway block-local is not applied: the local network "
			  "stays reachable outside the tunnel");
	if (o->redirect & PUSH_REDIRECT_LOCAL)
		return true; /* the server is on our link: its route is more specific than /1 */
	n = remote_addresses(e->cfg, remotes);
	add_address(remotes, &n, client_address(e->client)); /* a name's, the one we reached */
	if (host_routes_pin(&e->pins, remotes, n, device_ifindex(e->device), err, sizeof(err)) == 0)
		return true;
	log_error(&e->log, "client", "redirect-gateway not applied: %s", err);
	host_routes_unpin(&e->pins);
	return false;
}

void engine_redirect_keep(struct engine *e, const struct udp_addr *addr)
{
	struct ip_addr dst;
	char err[256];
	size_t n = 0;

	if (!e->pins.n)
		return; /* no redirect on: the kernel's route to addr is the right one */
	add_address(&dst, &n, addr);
	if (n && host_routes_pin_like(&e->pins, &dst, err, sizeof(err)) < 0)
		log_warnx(&e->log, "client", "%s", err);
}

void engine_redirect_end(struct engine *e)
{
	host_routes_unpin(&e->pins);
}

void engine_redirect_clear_stale(struct engine *e, const struct config *cfg)
{
	struct ip_addr remotes[HOST_ROUTES_MAX];
	size_t n = host_routes_clear_stale(remotes, remote_addresses(cfg, remotes));

	if (n)
		log_info(&e->log, "client",
			 "removed %zu route(s) to the server a previous run left (it did not "
			 "exit cleanly)",
			 n);
}
