// SPDX-License-Identifier: MIT
#include <netinet/in.h>
#include <string.h>

#include "client.h"
#include "engine.h"
#include "engine_redirect.h"
#include "pinstate.h"

/* The pins on now, written down for the next start should this run be killed. */
static void save_pins(struct engine *e)
{
	const struct host_routes *sets[] = { &e->pins, &e->outside };
	char err[300];

	if (pin_state_save(e->config_path, sets, 2, err, sizeof(err)) < 0)
		log_warnx(
			&e->log, "client",
			"%s: a kill now would leave its routes behind (give the user moonvpn runs "
			"as write access to that directory, or set RUNTIME_DIRECTORY to one it can "
			"write)",
			err);
}

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

/* The two halves of a local network (one bit longer), as OpenVPN's add_block_local_item. */
static size_t halves(const struct ip_prefix *net, struct ip_prefix *out)
{
	struct ip_prefix p = *net;

	if (p.len >= 31)
		return 0; /* a point-to-point link or a host: no neighbours to keep out */
	ip_prefix_mask(&p);
	p.len++;
	out[0] = out[1] = p;
	out[1].addr.bytes[(p.len - 1) / 8] |= (uint8_t)(0x80 >> ((p.len - 1) % 8));
	return 2;
}

size_t engine_redirect_block_local(struct engine *e, const struct push_options *o,
				   struct ip_prefix *out, size_t cap)
{
	struct ip_prefix local[ENGINE_BLOCK_LOCAL_NETS];
	const struct netlink_path *outside = host_routes_path(&e->pins, AF_INET);
	struct ip_addr gateway;
	struct netlink nl;
	char err[256];
	int n;
	size_t k = 0;

	if ((o->redirect &
	     (PUSH_REDIRECT_BLOCK_LOCAL | PUSH_REDIRECT_IPV4 | PUSH_REDIRECT_LOCAL)) !=
		    (PUSH_REDIRECT_BLOCK_LOCAL | PUSH_REDIRECT_IPV4) ||
	    !outside)
		return 0; /* "local": the server is on that network (OpenVPN's block_local_needed)
			   */
	/* An IPv4 server's path: the IPv4 gateway and the interface of the local network. */
	gateway = outside->gateway;
	/* The gateway stays reachable outside the tunnel (OpenVPN's bypass of it). */
	if (gateway.family == AF_INET &&
	    host_routes_pin(&e->pins, &gateway, 1, device_ifindex(e->device), err, sizeof(err)) < 0)
		log_warnx(&e->log, "client", "block-local: %s", err);
	save_pins(e);
	if (netlink_open(&nl) < 0)
		return 0;
	n = netlink_link_addrs(&nl, outside->ifindex, AF_INET, local, ENGINE_BLOCK_LOCAL_NETS);
	netlink_close(&nl);
	for (int i = 0; i < n && k + 2 <= cap; i++)
		k += halves(&local[i], &out[k]);
	if (n < 0)
		log_warnx(&e->log, "client", "block-local: cannot read the local addresses: %s",
			  strerror(-n));
	return k;
}

bool engine_redirect_begin(struct engine *e, const struct push_options *o)
{
	struct ip_addr remotes[HOST_ROUTES_MAX];
	char err[256];
	size_t n;

	if (!(o->redirect & PUSH_REDIRECT_ON))
		return false;
	if (o->redirect & PUSH_REDIRECT_LOCAL)
		return true; /* the server is on our link: its route is more specific than /1 */
	n = remote_addresses(e->cfg, remotes);
	add_address(remotes, &n, client_address(e->client)); /* a name's, the one we reached */
	int skipped =
		host_routes_pin(&e->pins, remotes, n, device_ifindex(e->device), err, sizeof(err));

	save_pins(e);
	if (skipped > 0)
		log_warnx(&e->log, "client", "redirect-gateway: %s", err);
	if (skipped >= 0)
		return true;
	log_error(&e->log, "client", "redirect-gateway not applied: %s", err);
	engine_redirect_end(e);
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
	if (n &&
	    host_routes_pin_like(&e->pins, &dst, device_ifindex(e->device), err, sizeof(err)) < 0)
		log_warnx(&e->log, "client", "%s", err);
	save_pins(e);
}

void engine_redirect_end(struct engine *e)
{
	if (!e->pins.n)
		return;
	host_routes_unpin(&e->pins);
	save_pins(e);
}

void engine_outside_begin(struct engine *e)
{
	char err[256];

	if (e->outside.n || !e->cfg->n_routes_outside)
		return; /* pinned at the first push: they stay across reconnects */
	int r = host_routes_pin_prefixes(&e->outside, e->cfg->routes_outside,
					 e->cfg->n_routes_outside, device_ifindex(e->device), err,
					 sizeof(err));

	if (r < 0)
		log_error(&e->log, "client", "routes_outside: %s", err);
	else if (r > 0)
		log_warnx(&e->log, "client", "routes_outside: %s", err);
	save_pins(e);
}

void engine_outside_end(struct engine *e)
{
	if (!e->outside.n)
		return;
	host_routes_unpin(&e->outside);
	save_pins(e);
}

void engine_redirect_clear_stale(struct engine *e, const struct config *cfg)
{
	struct ip_addr remotes[HOST_ROUTES_MAX];
	struct ip_prefix stale[HOST_ROUTES_MAX];
	size_t k = remote_addresses(cfg, remotes), n;

	for (size_t i = 0; i < k; i++)
		stale[i] = host_route_prefix(&remotes[i]);
	for (size_t i = 0; i < cfg->n_routes_outside && k < HOST_ROUTES_MAX; i++)
		stale[k++] = cfg->routes_outside[i];
	/* A host name's addresses, and those of remotes since changed: the list this
	 * configuration's last run wrote (pinstate.h). */
	n = host_routes_clear_stale(stale, k) + pin_state_clear(e->config_path);

	if (n)
		log_info(&e->log, "client",
			 "removed %zu route(s) to the server a previous run left (it did not "
			 "exit cleanly)",
			 n);
}
