/* SPDX-License-Identifier: MIT */
/*
 * Subnets routed to clients (OpenVPN's iroute): network prefixes mapped to
 * the peer-id of the client they sit behind, with longest-prefix match.
 * The server consults it after its host-address hash misses, for packets
 * from the device and for the source of packets from a client. The
 * prefixes sit in a hash of (family, length, network) under SipHash with
 * the server's key (clients choose them); a lookup tries each prefix length
 * in use, longest first, one probe each: what a packet costs depends on the
 * lengths in use (at most 33 for IPv4, 129 for IPv6, in practice a few),
 * not on how many clients have subnets (a walk over them all was). Open
 * addressing, never more than half full, backward-shift deletion; one
 * allocation, at init, for at most max prefixes. Pure: no I/O.
 */
#ifndef MOONVPN_ROUTE_H
#define MOONVPN_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip.h"
#include "siphash.h"

/* Subnets in all at least: the server's bound is the larger of this and max_clients. */
enum { ROUTE_MAX = 1024 };

struct route_entry {
	struct ip_prefix prefix; /* a network (host bits clear); len 0 and no family: free */
	uint32_t id;
};

struct route_table {
	size_t n, max; /* prefixes held, and at most */
	size_t cap;    /* slots: a power of two, at least twice max */
	struct route_entry *e;
	struct siphash_key key;
	uint32_t lengths4[33], lengths6[129]; /* prefixes of each length */
};

/* Room for max prefixes; -ENOMEM. */
int route_table_init(struct route_table *t, size_t max, const struct siphash_key *key)
	__attribute__((warn_unused_result));
void route_table_free(struct route_table *t);

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
