/* SPDX-License-Identifier: MIT */
/*
 * Subnets routed to clients (OpenVPN's iroute): network prefixes mapped to
 * the peer-id of the client they sit behind, with longest-prefix match.
 * The server consults it after its host-address hash misses, for packets
 * from the device and for the source of packets from a client. Entries
 * are kept longest prefix first, so a lookup stops at the first match;
 * there are at most ROUTE_MAX. Pure: no I/O, no allocation.
 */
#ifndef MOONVPN_ROUTE_H
#define MOONVPN_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip.h"

enum { ROUTE_MAX = 1024 };

struct route_table {
	size_t n;
	struct {
		struct ip_prefix prefix; /* a network (host bits clear) */
		uint32_t id;
	} e[ROUTE_MAX];
};

void route_table_init(struct route_table *t);

enum route_add_result {
	ROUTE_ADDED,	/* a new prefix */
	ROUTE_REPLACED, /* the prefix was another client's: it is this one's now */
	ROUTE_FULL,
};

/* Routes the network prefix to id (host bits are cleared first). */
enum route_add_result route_table_add(struct route_table *t, const struct ip_prefix *prefix,
				      uint32_t id) __attribute__((warn_unused_result));

/* Removes prefix if it still routes to id; true when it did (the prefix is gone). */
bool route_table_del(struct route_table *t, const struct ip_prefix *prefix, uint32_t id);

/* The id prefix (exactly) routes to, or -1. */
int32_t route_table_owner(const struct route_table *t, const struct ip_prefix *prefix);

/* The id of the longest prefix holding addr, or -1. */
int32_t route_table_lookup(const struct route_table *t, const struct ip_addr *addr);

#endif
