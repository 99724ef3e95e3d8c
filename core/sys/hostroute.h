/* SPDX-License-Identifier: MIT */
/*
 * Host routes that keep a client's own packets to its servers outside the
 * tunnel once redirect-gateway sends everything else into it: each server
 * address is pinned to the path the kernel takes to it now (its gateway and
 * interface), before the tunnel's routes go in. The routes carry protocol
 * HOST_ROUTE_PROTOCOL, so that those a killed client left behind are found
 * at its next start and removed (host_routes_clear_stale), and nobody
 * else's are touched.
 */
#ifndef MOONVPN_HOSTROUTE_H
#define MOONVPN_HOSTROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "ip.h"
#include "netlink.h"

enum {
	HOST_ROUTES_MAX = 96,	   /* CLIENT_REMOTES_MAX literal ones, and the addresses of names */
	HOST_ROUTE_PROTOCOL = 109, /* rtm_protocol ("proto 109" in ip route): moonvpn's pins */
};

struct host_routes {
	size_t n;
	struct {
		struct ip_prefix dst; /* a host, or a network (a route ... net_gateway) */
		struct netlink_path path;
		bool ours; /* false: a route to dst was there already; it stays */
	} pin[HOST_ROUTES_MAX];
	/*
	 * The paths found outside the tunnel, kept when the pins go (a reload):
	 * the tunnel's routes may stay on and cover a destination by then, and the
	 * kernel's answer would be the tunnel; the first path is the one kept.
	 */
	size_t n_known;
	struct {
		struct ip_prefix dst;
		struct netlink_path path;
	} known[HOST_ROUTES_MAX];
};

/*
 * Pins each of dsts (duplicates once) to its path now; one whose path is
 * through skip_ifindex (the tunnel itself) goes along the path it had
 * outside before, if h knows it, else it is skipped. How many were skipped
 * (err names the last), or -errno with err naming the address; the pins
 * made stay in h either way.
 */
int host_routes_pin(struct host_routes *h, const struct ip_addr *dsts, size_t n,
		    unsigned skip_ifindex, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Pins dst to the path h's first pin of its address family took (the
 * redirect routes are on: the kernel would send it into the tunnel), else to
 * the kernel's path now unless that is through skip_ifindex; nothing when
 * pinned already or h has no pin. 0, or -errno with err naming the address.
 */
int host_routes_pin_like(struct host_routes *h, const struct ip_addr *dst, unsigned skip_ifindex,
			 char *err, size_t errlen) __attribute__((warn_unused_result));

/* The path outside of h's first pin of family (AF_INET, AF_INET6), or NULL. */
const struct netlink_path *host_routes_path(const struct host_routes *h, int family);

/* The same for networks (a profile's route ... net_gateway): each along its path now. */
int host_routes_pin_prefixes(struct host_routes *h, const struct ip_prefix *dsts, size_t n,
			     unsigned skip_ifindex, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* a as a prefix of its full length. */
struct ip_prefix host_route_prefix(const struct ip_addr *a);

/* Removes the pins h made; h has no pin after (the paths it knows stay). */
void host_routes_unpin(struct host_routes *h);

/* Removes our pins to dsts left by a client that did not exit cleanly; how many went. */
size_t host_routes_clear_stale(const struct ip_prefix *dsts, size_t n);

#endif
