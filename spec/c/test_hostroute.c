// SPDX-License-Identifier: MIT
/*
 * hostroute.c against the kernel, in a namespace of its own (netns.h): a
 * "LAN" with an IPv4 and an IPv6 gateway, and a second link standing
 * for the tunnel. The pins' paths are read back from h and from the kernel.
 */
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hostroute.h"
#include "netns.h"
#include "unit.h"

static bool sh(const char *command)
{
	bool ok = system(command) == 0;

	CHECK(ok, "%s", command);
	return ok;
}

static struct ip_addr addr(const char *text)
{
	struct ip_addr a;

	CHECK(ip_addr_parse(&a, text), "parse %s", text);
	return a;
}

/* The gateway the kernel's route to dst has now (family 0: none). */
static struct ip_addr kernel_gateway(const char *dst)
{
	struct ip_addr a = addr(dst), none = { 0 };
	struct netlink_path path = { 0 };
	struct netlink nl;

	if (netlink_open(&nl) < 0)
		return none;
	if (netlink_route_get(&nl, &a, &path) < 0)
		path.gateway = none;
	netlink_close(&nl);
	return path.gateway;
}

/* A dual-stack name reached over IPv6 first, then at its IPv4 address: an IPv4 path. */
static void test_other_family(unsigned tunnel)
{
	struct host_routes *h = calloc(1, sizeof(*h));
	struct ip_addr v6 = addr("2001:db8:5::9"), v4 = addr("198.51.100.7");
	struct ip_addr gw4 = addr("192.0.2.1"), gw6 = addr("2001:db8::1"), got;
	char err[256] = "";

	CHECK(host_routes_pin(h, &v6, 1, tunnel, err, sizeof(err)) == 0, "pin v6: %s", err);
	CHECK(h->n == 1 && ip_addr_equal(&h->pin[0].path.gateway, &gw6), "v6 via its gateway");
	CHECK(!host_routes_path(h, AF_INET), "no IPv4 path yet");
	CHECK(host_routes_pin_like(h, &v4, tunnel, err, sizeof(err)) == 0, "pin like v4: %s", err);
	CHECK(h->n == 2 && h->pin[1].ours, "v4 pinned");
	CHECK(host_routes_path(h, AF_INET) &&
		      ip_addr_equal(&host_routes_path(h, AF_INET)->gateway, &gw4),
	      "the IPv4 path has the IPv4 gateway");
	got = kernel_gateway("198.51.100.7");
	CHECK(ip_addr_equal(&got, &gw4), "the kernel routes v4 via the IPv4 gateway");
	host_routes_unpin(h);
	free(h);
}

/* A network the tunnel's routes cover by now: the path it had before, else skipped. */
static void test_known_path(unsigned tunnel)
{
	struct host_routes *h = calloc(1, sizeof(*h));
	struct ip_prefix net;
	struct ip_addr gw4 = addr("192.0.2.1"), got;
	char err[256] = "";

	CHECK(ip_prefix_parse(&net, "203.0.113.0/28"), "parse");
	CHECK(host_routes_pin_prefixes(h, &net, 1, tunnel, err, sizeof(err)) == 0, "first: %s",
	      err);
	host_routes_unpin(h);
	if (!sh("ip route add 203.0.113.0/24 dev mvtun0"))
		goto out;
	CHECK(host_routes_pin_prefixes(h, &net, 1, tunnel, err, sizeof(err)) == 0, "again: %s",
	      err);
	got = kernel_gateway("203.0.113.5");
	CHECK(h->n == 1 && ip_addr_equal(&got, &gw4), "outside along the path it had");
	host_routes_unpin(h);
	h->n_known = 0;
	err[0] = '\0';
	CHECK(host_routes_pin_prefixes(h, &net, 1, tunnel, err, sizeof(err)) == 1, "skipped");
	CHECK(h->n == 0 && strstr(err, "203.0.113.0/28 is reached through the tunnel"),
	      "says so: %s", err);
out:
	free(h);
}

int main(void)
{
	unsigned tunnel;

	if (!unit_netns("test_hostroute", "routes in a namespace", UNIT_NETNS_LO_UP))
		return 0;
	/* veth pairs: the kernels the tests run on may have no dummy module. */
	if (!sh("ip link add mvlan0 type veth peer name mvlan1 && ip link add mvtun0 type veth "
		"peer "
		"name mvtun1 && for l in mvlan0 mvlan1 mvtun0 mvtun1; do ip link set $l up; done "
		"&& "
		"ip addr add 192.0.2.2/24 dev mvlan0 && ip -6 addr add 2001:db8::2/64 dev mvlan0 "
		"nodad "
		"&& ip route add default via 192.0.2.1 && ip -6 route add default via 2001:db8::1"))
		return unit_report("test_hostroute");
	tunnel = if_nametoindex("mvtun0");
	test_other_family(tunnel);
	test_known_path(tunnel);
	return unit_report("test_hostroute");
}
