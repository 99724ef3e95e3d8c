// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "hostroute.h"

struct ip_prefix host_route_prefix(const struct ip_addr *a)
{
	struct ip_prefix p = { .addr = *a, .len = a->family == AF_INET6 ? 128 : 32 };

	return p;
}

static bool pinned(const struct host_routes *h, const struct ip_prefix *dst)
{
	for (size_t i = 0; i < h->n; i++)
		if (ip_prefix_equal(&h->pin[i].dst, dst))
			return true;
	return false;
}

/* Adds dst along path and keeps it in h (a route to dst that was there stays someone's). */
static int add_pin(struct host_routes *h, struct netlink *nl, const struct ip_prefix *dst,
		   const struct netlink_path *path)
{
	int r = netlink_path_route_add(nl, dst, path, HOST_ROUTE_PROTOCOL);

	if (r == 0 || r == -EEXIST) {
		h->pin[h->n].dst = *dst;
		h->pin[h->n].path = *path;
		h->pin[h->n++].ours = r == 0;
		return 0;
	}
	return r;
}

/* The path dst had outside the tunnel, learnt by an earlier pin, or NULL. */
static const struct netlink_path *known_path(const struct host_routes *h,
					     const struct ip_prefix *dst)
{
	for (size_t i = 0; i < h->n_known; i++)
		if (ip_prefix_equal(&h->known[i].dst, dst))
			return &h->known[i].path;
	return NULL;
}

static void learn(struct host_routes *h, const struct ip_prefix *dst,
		  const struct netlink_path *path)
{
	if (known_path(h, dst) || h->n_known == HOST_ROUTES_MAX)
		return;
	h->known[h->n_known].dst = *dst;
	h->known[h->n_known++].path = *path;
}

/* 0: pinned (or pinned already), 1: skipped (err says why), or -errno. */
static int pin_one(struct host_routes *h, struct netlink *nl, const struct ip_prefix *dst,
		   unsigned skip_ifindex, char *err, size_t errlen)
{
	char text[IP_PREFIX_TEXT_MAX];
	const struct netlink_path *before;
	struct netlink_path path;
	int r;

	if (pinned(h, dst) || h->n == HOST_ROUTES_MAX)
		return 0;
	r = netlink_route_get(nl, &dst->addr, &path);
	if (r == 0 && path.ifindex == skip_ifindex) {
		if (!(before = known_path(h, dst))) {
			snprintf(err, errlen,
				 "%s is reached through the tunnel, and its path outside is not "
				 "known: not kept outside",
				 ip_prefix_format(dst, text, sizeof(text)));
			return 1;
		}
		path = *before; /* the tunnel's routes stayed on (a reload): the path before */
	}
	if (r == 0 && (r = add_pin(h, nl, dst, &path)) == 0) {
		learn(h, dst, &path);
		return 0;
	}
	snprintf(err, errlen, "cannot keep the route to %s outside the tunnel: %s",
		 ip_prefix_format(dst, text, sizeof(text)), strerror(-r));
	return r;
}

int host_routes_pin_prefixes(struct host_routes *h, const struct ip_prefix *dsts, size_t n,
			     unsigned skip_ifindex, char *err, size_t errlen)
{
	struct netlink nl;
	int r = netlink_open(&nl), skipped = 0;

	if (r < 0) {
		snprintf(err, errlen, "cannot open rtnetlink: %s", strerror(-r));
		return r;
	}
	for (size_t i = 0; i < n && r >= 0; i++)
		skipped += (r = pin_one(h, &nl, &dsts[i], skip_ifindex, err, errlen)) > 0;
	netlink_close(&nl);
	return r < 0 ? r : skipped;
}

int host_routes_pin(struct host_routes *h, const struct ip_addr *dsts, size_t n,
		    unsigned skip_ifindex, char *err, size_t errlen)
{
	struct ip_prefix hosts[HOST_ROUTES_MAX];

	n = n < HOST_ROUTES_MAX ? n : HOST_ROUTES_MAX;
	for (size_t i = 0; i < n; i++)
		hosts[i] = host_route_prefix(&dsts[i]);
	return host_routes_pin_prefixes(h, hosts, n, skip_ifindex, err, errlen);
}

const struct netlink_path *host_routes_path(const struct host_routes *h, int family)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->pin[i].dst.addr.family == family)
			return &h->pin[i].path;
	return NULL;
}

int host_routes_pin_like(struct host_routes *h, const struct ip_addr *dst, unsigned skip_ifindex,
			 char *err, size_t errlen)
{
	const struct netlink_path *like = host_routes_path(h, dst->family);
	struct ip_prefix p = host_route_prefix(dst);
	char text[IP_PREFIX_TEXT_MAX];
	struct netlink nl;
	int r;

	if (!h->n || pinned(h, &p) || h->n == HOST_ROUTES_MAX)
		return 0;
	if ((r = netlink_open(&nl)) == 0) {
		/* No pin of dst's family: the redirect may not cover it, the kernel's path may do.
		 */
		r = like ? add_pin(h, &nl, &p, like)
			 : pin_one(h, &nl, &p, skip_ifindex, err, errlen);
		netlink_close(&nl);
		if (r > 0)
			return -ENETUNREACH; /* err says it goes into the tunnel */
		if (r < 0 && !like)
			return r;
	}
	if (r == 0)
		return 0;
	snprintf(err, errlen, "cannot keep the route to the server %s outside the tunnel: %s",
		 ip_addr_format(dst, text, sizeof(text)), strerror(-r));
	return r;
}

void host_routes_unpin(struct host_routes *h)
{
	struct netlink nl;

	if (h->n && netlink_open(&nl) == 0) {
		for (size_t i = 0; i < h->n; i++)
			if (h->pin[i].ours)
				netlink_path_route_del(&nl, &h->pin[i].dst, &h->pin[i].path,
						       HOST_ROUTE_PROTOCOL);
		netlink_close(&nl);
	}
	h->n = 0;
}

size_t host_routes_clear_stale(const struct ip_prefix *dsts, size_t n)
{
	struct netlink nl;
	size_t removed = 0;

	if (netlink_open(&nl) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		removed += netlink_path_route_del(&nl, &dsts[i], NULL, HOST_ROUTE_PROTOCOL) == 0;
	netlink_close(&nl);
	return removed;
}
