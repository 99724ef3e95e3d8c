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

#endif
