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

struct pushed_device {
	struct device_config cfg; /* its arrays point into this struct */
	struct ip_prefix addrs[2];
	struct ip_prefix routes[PUSH_ROUTES_MAX + 1];
};

void pushed_device_config(struct pushed_device *out, const struct device_config *base,
			  const struct push_options *o);

#endif
