/* SPDX-License-Identifier: MIT */
/*
 * What a client's device becomes after the server's push: the configured
 * device (type, name) with the pushed addresses (ifconfig, ifconfig-ipv6),
 * the pushed routes and the pushed tun-mtu. For net30/p2p links the
 * server's end gets a host route when it is outside the link prefix.
 * Pure: no I/O; the engine applies the result with device_reconfigure.
 */
#ifndef MOONVPN_PUSHDEV_H
#define MOONVPN_PUSHDEV_H

#include "device.h"
#include "pushopts.h"

enum {
	PUSHDEV_REDIRECT_ROUTES = 4,	 /* two /1 for IPv4, 2000::/3 and fc00::/7 for IPv6 */
	PUSHDEV_CLIENT_ROUTES_MAX = 64,	 /* a client's routes field (config.lua's max) */
	PUSHDEV_BLOCK_LOCAL_ROUTES = 16, /* 2 * ENGINE_BLOCK_LOCAL_NETS */
	PUSHDEV_OWN_ROUTES_MAX = PUSHDEV_CLIENT_ROUTES_MAX + PUSHDEV_BLOCK_LOCAL_ROUTES,
};

struct pushed_device {
	struct device_config cfg; /* its arrays point into this struct */
	struct ip_prefix addrs[2];
	struct ip_prefix
		routes[PUSH_ROUTES_MAX + 1 + PUSHDEV_REDIRECT_ROUTES + PUSHDEV_OWN_ROUTES_MAX];
};

/*
 * redirect: the routes of a pushed redirect-gateway go in too (the caller
 * has kept the server's own address outside the tunnel): 0.0.0.0/1 and
 * 128.0.0.0/1, which win over the default route without replacing it (as
 * OpenVPN's def1, which we always do), and with "ipv6" the global unicast
 * and unique local ranges, 2000::/3 and fc00::/7, as OpenVPN's route.c.
 * own: the client's own routes (a profile's route and route-ipv6 lines,
 * and block-local's), through the device as the pushed ones, whatever the
 * push says.
 */
void pushed_device_config(struct pushed_device *out, const struct device_config *base,
			  const struct push_options *o, bool redirect, const struct ip_prefix *own,
			  size_t n_own);

#endif
