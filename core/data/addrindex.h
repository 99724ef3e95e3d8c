/* SPDX-License-Identifier: MIT */
/*
 * The server's indexes of its clients by address: their VPN addresses (the
 * route from the device) and their transport addresses (where a control
 * packet's session is found). Open addressing with linear probing under
 * SipHash with the server's key (addresses cannot be picked to collide),
 * never more than half full, backward-shift deletion. Pure: no I/O; one
 * allocation, at init, for the keys the server may hold (two per client of
 * max_clients in the VPN index, one in the peer index).
 */
#ifndef MOONVPN_ADDRINDEX_H
#define MOONVPN_ADDRINDEX_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ip.h"
#include "siphash.h"

enum {
	/* A key: a family byte and an address, or a transport address's bytes. */
	SERVER_ADDR_KEY_MAX = sizeof(struct sockaddr_in6),
};

struct server_addr_slot {
	uint8_t key[SERVER_ADDR_KEY_MAX];
	uint8_t len; /* 0: free */
	uint32_t id;
};

/* Keys (bytes) to the slot (peer-id) of the client that has them. Embedded in the server. */
struct server_addr_index {
	struct siphash_key key;
	size_t n, max; /* keys held, and at most (half the slots) */
	size_t cap;    /* slots: a power of two */
	struct server_addr_slot *slots;
};

/* Room for keys_max keys (at least one); -ENOMEM. */
int server_addr_index_init(struct server_addr_index *ix, const struct siphash_key *key,
			   size_t keys_max) __attribute__((warn_unused_result));
void server_addr_index_free(struct server_addr_index *ix);

/* VPN addresses (IPv4 and IPv6): one lookup per packet from the device. */
/* Maps addr to id, replacing an earlier mapping of addr; false when full or not IP. */
bool server_addr_index_put(struct server_addr_index *ix, const struct ip_addr *addr, uint32_t id)
	__attribute__((warn_unused_result));
/* The id addr maps to, or -1. */
int32_t server_addr_index_get(const struct server_addr_index *ix, const struct ip_addr *addr);
/* Removes addr if it still maps to id (a newer client may have been given it since). */
void server_addr_index_del(struct server_addr_index *ix, const struct ip_addr *addr, uint32_t id);

/*
 * Transport addresses, compared as session_is_peer does (the socket
 * address's len bytes): one lookup per control packet. The same rules.
 */
bool server_peer_index_put(struct server_addr_index *ix, const struct sockaddr *peer, socklen_t len,
			   uint32_t id) __attribute__((warn_unused_result));
int32_t server_peer_index_get(const struct server_addr_index *ix, const struct sockaddr *peer,
			      socklen_t len);
void server_peer_index_del(struct server_addr_index *ix, const struct sockaddr *peer, socklen_t len,
			   uint32_t id);

#endif
