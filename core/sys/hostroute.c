// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hostroute.h"

static bool pinned(const struct host_routes *h, const struct ip_addr *dst)
{
	for (size_t i = 0; i < h->n; i++)
		if (ip_addr_equal(&h->pin[i].dst, dst))
			return true;
	return false;
}

static int pin_one(struct host_routes *h, struct netlink *nl, const struct ip_addr *dst,
		   unsigned skip_ifindex, char *err, size_t errlen)
{
	char text[IP_PREFIX_TEXT_MAX];
	struct netlink_path path;
	int r;

	if (pinned(h, dst) || h->n == HOST_ROUTES_MAX)
		return 0;
	r = netlink_route_get(nl, dst, &path);
	if (r == 0 && path.ifindex == skip_ifindex)
		return 0; /* reached through the tunnel already: nothing to keep outside */
	if (r == 0) {
		r = netlink_host_route_add(nl, dst, &path, HOST_ROUTE_PROTOCOL);
		h->pin[h->n].dst = *dst;
		h->pin[h->n].path = path;
		h->pin[h->n].ours = r == 0;
		if (r == 0 || r == -EEXIST) {
			h->n++;
			return 0;
		}
	}
	snprintf(err, errlen, "cannot keep the route to the server %s outside the tunnel: %s",
		 ip_addr_format(dst, text, sizeof(text)), strerror(-r));
	return r;
}

int host_routes_pin(struct host_routes *h, const struct ip_addr *dsts, size_t n,
		    unsigned skip_ifindex, char *err, size_t errlen)
{
	struct netlink nl;
	int r = netlink_open(&nl);

	if (r < 0) {
		snprintf(err, errlen, "cannot open rtnetlink: %s", strerror(-r));
		return r;
	}
	for (size_t i = 0; i < n && r == 0; i++)
		r = pin_one(h, &nl, &dsts[i], skip_ifindex, err, errlen);
	netlink_close(&nl);
	return r;
}

int host_routes_pin_like(struct host_routes *h, const struct ip_addr *dst, char *err, size_t errlen)
{
	char text[IP_PREFIX_TEXT_MAX];
	struct netlink nl;
	int r;

	if (!h->n || pinned(h, dst) || h->n == HOST_ROUTES_MAX)
		return 0;
	if ((r = netlink_open(&nl)) == 0) {
		r = netlink_host_route_add(&nl, dst, &h->pin[0].path, HOST_ROUTE_PROTOCOL);
		netlink_close(&nl);
	}
	if (r == 0 || r == -EEXIST) {
		h->pin[h->n].dst = *dst;
		h->pin[h->n].path = h->pin[0].path;
		h->pin[h->n++].ours = r == 0;
		return 0;
	}
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
				netlink_host_route_del(&nl, &h->pin[i].dst, &h->pin[i].path,
						       HOST_ROUTE_PROTOCOL);
		netlink_close(&nl);
	}
	h->n = 0;
}

size_t host_routes_clear_stale(const struct ip_addr *dsts, size_t n)
{
	struct netlink nl;
	size_t removed = 0;

	if (netlink_open(&nl) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		removed += netlink_host_route_del(&nl, &dsts[i], NULL, HOST_ROUTE_PROTOCOL) == 0;
	netlink_close(&nl);
	return removed;
}
