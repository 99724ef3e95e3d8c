/* SPDX-License-Identifier: MIT */
/*
 * The few rtnetlink requests the engine makes, through libmnl: set a link's
 * MTU, set it up, add or remove an IPv4/IPv6 address, add or remove a route
 * through a link in the main table. Each request waits for the kernel's
 * acknowledgement and returns 0 or -errno. Owns the netlink socket of a
 * struct netlink handle; does not create interfaces (tun.h does), does not
 * remember what it configured (device.c does) and does not format messages.
 */
#ifndef MOONVPN_NETLINK_H
#define MOONVPN_NETLINK_H

#include <stddef.h>
#include <stdint.h>

#include "ip.h"

struct mnl_socket;
struct nlmsghdr;

struct netlink {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
};

enum {
	NETLINK_MSG_BYTES = 256,   /* room for any request built below */
	NETLINK_RECV_BYTES = 8192, /* an acknowledgement, even one quoting the request */
};

/* One request; aligned so that it can be used as a struct nlmsghdr. */
struct netlink_msg {
	_Alignas(8) unsigned char bytes[NETLINK_MSG_BYTES];
};

/* Opens a NETLINK_ROUTE socket (close-on-exec). netlink_close() on a zeroed handle is a no-op. */
int netlink_open(struct netlink *nl) __attribute__((warn_unused_result));
void netlink_close(struct netlink *nl);

int netlink_set_mtu(struct netlink *nl, unsigned ifindex, unsigned mtu)
	__attribute__((warn_unused_result));
int netlink_set_up(struct netlink *nl, unsigned ifindex) __attribute__((warn_unused_result));

/* An interface address: the address itself with its on-link prefix length. IPv6 skips DAD. */
int netlink_addr_add(struct netlink *nl, unsigned ifindex, const struct ip_prefix *addr)
	__attribute__((warn_unused_result));
int netlink_addr_del(struct netlink *nl, unsigned ifindex, const struct ip_prefix *addr)
	__attribute__((warn_unused_result));

/*
 * A route to a network prefix through the link, in the main table with
 * protocol "static". Adding fails with -EEXIST rather than replacing a route
 * to the same prefix (which may belong to someone else); removing only
 * matches a "static" route through this link.
 */
int netlink_route_add(struct netlink *nl, unsigned ifindex, const struct ip_prefix *dst)
	__attribute__((warn_unused_result));
int netlink_route_del(struct netlink *nl, unsigned ifindex, const struct ip_prefix *dst)
	__attribute__((warn_unused_result));

/* Where the kernel sends packets for an address: through ifindex, via gateway (family 0: on the
 * link). */
struct netlink_path {
	unsigned ifindex;
	struct ip_addr gateway;
};

/* The main table's answer for dst (RTM_GETROUTE): 0, or -errno (-ENETUNREACH: no route). */
int netlink_route_get(struct netlink *nl, const struct ip_addr *dst, struct netlink_path *out)
	__attribute__((warn_unused_result));

/*
 * The addresses of family (AF_INET or AF_INET6) on ifindex, each with its
 * on-link prefix length (RTM_GETADDR dump): how many went into out (at most
 * cap), or -errno. Dumps leave nothing to read on nl: it may go on serving.
 */
int netlink_link_addrs(struct netlink *nl, unsigned ifindex, int family, struct ip_prefix *out,
		       size_t cap) __attribute__((warn_unused_result));

/*
 * A route to dst (a host: its full length) along path, in the main table
 * with the given protocol (rtm_protocol: a number of the owner's, so that
 * its routes can be found and removed again, and only they). Adding fails
 * with -EEXIST; removing matches the protocol, and ifindex/gateway when
 * path is not NULL.
 */
int netlink_path_route_add(struct netlink *nl, const struct ip_prefix *dst,
			   const struct netlink_path *path, uint8_t protocol)
	__attribute__((warn_unused_result));
int netlink_path_route_del(struct netlink *nl, const struct ip_prefix *dst,
			   const struct netlink_path *path, uint8_t protocol);

/*
 * The request messages, built without a socket (exported for the unit
 * tests). type is RTM_NEWADDR/RTM_DELADDR or RTM_NEWROUTE/RTM_DELROUTE. They
 * return the message inside msg, or NULL for a prefix that is not a valid
 * IPv4/IPv6 prefix or an unknown type. The sequence number is left 0.
 */
struct nlmsghdr *netlink_build_mtu(struct netlink_msg *msg, unsigned ifindex, unsigned mtu);
struct nlmsghdr *netlink_build_up(struct netlink_msg *msg, unsigned ifindex);
struct nlmsghdr *netlink_build_addr(struct netlink_msg *msg, uint16_t type, unsigned ifindex,
				    const struct ip_prefix *addr);
struct nlmsghdr *netlink_build_route(struct netlink_msg *msg, uint16_t type, unsigned ifindex,
				     const struct ip_prefix *dst);
/* RTM_NEWROUTE/RTM_DELROUTE of a host route (path may be NULL for a delete), or RTM_GETROUTE. */
struct nlmsghdr *netlink_build_host_route(struct netlink_msg *msg, uint16_t type,
					  const struct ip_addr *dst,
					  const struct netlink_path *path, uint8_t protocol);
/* The same for a prefix of any length. */
struct nlmsghdr *netlink_build_path_route(struct netlink_msg *msg, uint16_t type,
					  const struct ip_prefix *dst,
					  const struct netlink_path *path, uint8_t protocol);

#endif
