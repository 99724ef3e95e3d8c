// SPDX-License-Identifier: MIT
#include <string.h>
#include <sys/socket.h>

#include "pushdev.h"

/* The kernel already routes an address's own network through the device. */
static bool is_link_network(const struct pushed_device *d, const struct ip_prefix *p)
{
	for (size_t i = 0; i < d->cfg.n_addrs; i++) {
		struct ip_prefix link = d->addrs[i];

		ip_prefix_mask(&link);
		if (ip_prefix_equal(&link, p))
			return true;
	}
	return false;
}

static void add_route(struct pushed_device *d, const struct ip_prefix *p)
{
	if (is_link_network(d, p))
		return;
	for (size_t i = 0; i < d->cfg.n_routes; i++)
		if (ip_prefix_equal(&d->routes[i], p))
			return; /* pushed and in the profile too: one route */
	if (d->cfg.n_routes < sizeof(d->routes) / sizeof(d->routes[0]))
		d->routes[d->cfg.n_routes++] = *p;
}

static void add_redirect_routes(struct pushed_device *d, unsigned flags)
{
	static const char *const v4[] = { "0.0.0.0/1", "128.0.0.0/1" };
	static const char *const v6[] = { "2000::/3", "fc00::/7" };
	struct ip_prefix p;

	for (size_t i = 0; i < 2; i++) {
		if ((flags & PUSH_REDIRECT_IPV4) && ip_prefix_parse(&p, v4[i]))
			add_route(d, &p);
		if ((flags & PUSH_REDIRECT_IPV6) && ip_prefix_parse(&p, v6[i]))
			add_route(d, &p);
	}
}

void pushed_device_config(struct pushed_device *out, const struct device_config *base,
			  const struct push_options *o, bool redirect, const struct ip_prefix *own,
			  size_t n_own)
{
	memset(out, 0, sizeof(*out));
	out->cfg = *base;
	out->cfg.addrs = out->addrs;
	out->cfg.routes = out->routes;
	out->cfg.n_addrs = out->cfg.n_routes = 0;
	if (o->tun_mtu)
		out->cfg.mtu = o->tun_mtu;
	if (o->has_ifconfig)
		out->addrs[out->cfg.n_addrs++] = o->ifconfig;
	if (o->has_ifconfig6)
		out->addrs[out->cfg.n_addrs++] = o->ifconfig6;
	/* A p2p link's far end is not inside a /32: reach it through the device. */
	if (o->has_ifconfig_peer && o->ifconfig.len == 32) {
		struct ip_prefix peer = { .addr = o->ifconfig_peer, .len = 32 };

		add_route(out, &peer);
	}
	for (size_t i = 0; i < o->n_routes; i++)
		add_route(out, &o->routes[i]);
	for (size_t i = 0; i < n_own && i < PUSHDEV_OWN_ROUTES_MAX; i++)
		add_route(out, &own[i]);
	if (redirect)
		add_redirect_routes(out, o->redirect);
}
