/* SPDX-License-Identifier: MIT */
/*
 * The server's index of its clients' VPN addresses: open addressing with
 * linear probing under a keyed hash (addresses cannot be picked to
 * collide), never more than half full, backward-shift deletion. Pure: no
 * I/O, no allocation.
 */
#ifndef MOONVPN_ADDRINDEX_H
#define MOONVPN_ADDRINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip.h"

enum {
	/* An IPv4 and an IPv6 address for each of 1024 clients, at most half full. */
	SERVER_ADDR_SLOTS = 4096,
};

/*
 * VPN addresses (IPv4 and IPv6) to the slot (peer-id) of the client that has
 * them: the server's route from the device, one lookup per packet. Embedded
 * in the server.
 */
struct server_addr_index {
	uint64_t seed; /* of the hash: addresses cannot be picked to collide */
	size_t n;
	struct {
		struct ip_addr addr;
		uint32_t id;
		bool used;
	} slots[SERVER_ADDR_SLOTS];
};

void server_addr_index_init(struct server_addr_index *ix, uint64_t seed);
/* Maps addr to id, replacing an earlier mapping of addr; false when full or not IP. */
bool server_addr_index_put(struct server_addr_index *ix, const struct ip_addr *addr, uint32_t id)
	__attribute__((warn_unused_result));
/* The id addr maps to, or -1. */
int32_t server_addr_index_get(const struct server_addr_index *ix, const struct ip_addr *addr);
/* Removes addr if it still maps to id (a newer client may have been given it since). */
void server_addr_index_del(struct server_addr_index *ix, const struct ip_addr *addr, uint32_t id);

#endif
