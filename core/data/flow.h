/* SPDX-License-Identifier: MIT */
/*
 * The flow table: the policy's verdict for each flow (client, direction,
 * protocol, addresses, ports), so that rules and the on.flow hook are
 * consulted once per flow and every later packet costs one hash lookup.
 * Open addressing under a keyed hash, bounded: when it is full, idle and
 * outdated entries go first, then the least recently seen of a sample. A
 * new policy bumps the generation, which outdates every entry at once
 * without a sweep. Pure: no I/O; one allocation, at creation.
 */
#ifndef MOONVPN_FLOW_H
#define MOONVPN_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"
#include "policy.h"
#include "siphash.h"

enum {
	FLOW_TABLE_MIN = 64,
	FLOW_PROBE_MAX = 32, /* entries looked at to make room, at most, per insertion */
	FLOW_NO_SLOT = UINT32_MAX,
};

struct flow_key {
	uint32_t peer_id;
	uint8_t family, proto, direction; /* family 0: not IP (a TAP frame such as ARP) */
	uint16_t sport, dport;
	int16_t icmp_type;
	uint8_t src[16], dst[16];
	uint16_t ethertype; /* TAP mode: the frame's type and addresses; 0 for TUN */
	uint8_t src_mac[6], dst_mac[6];
};

enum { FLOW_RULE_NONE, FLOW_RULE_CLIENT, FLOW_RULE_GLOBAL };

enum flow_state {
	FLOW_EMPTY,
	FLOW_DECIDED,
	FLOW_PENDING, /* waiting for on.flow: never evicted, never expired */
};

struct flow_entry {
	struct flow_key key;
	uint8_t state;
	enum policy_verdict verdict;
	uint8_t owner; /* whose rule decided: FLOW_RULE_NONE, _CLIENT or _GLOBAL */
	uint32_t rule; /* that rule's index, for its counters */
	uint32_t generation;
	double last_seen, expires; /* expires: 0 when the verdict has no lifetime */
	uint64_t packets, bytes;
	/* The slots of the same peer's other entries (FLOW_NO_SLOT: none), when the
	 * table chains them (flow_table_chain_peers); kept as entries move. */
	uint32_t peer_prev, peer_next;
};

struct flow_stats {
	uint64_t inserted, evicted, expired, full; /* full: no room even after evicting */
	uint64_t peer_visits; /* entries flow_table_remove_peer looked at, in all */
};

struct flow_table {
	size_t cap, n; /* cap: a power of two; at most three quarters used */
	struct flow_entry *e;
	struct siphash_key key; /* of the hash: peers choose the flows */
	uint32_t generation;
	double idle_timeout;
	size_t hand; /* where the next search for room starts */
	struct flow_stats stats;
	uint32_t *peer_first; /* by peer-id: the slot of its first entry; NULL: not chained */
	uint32_t n_peers;
};

/* A table for max_flows flows (rounded up), forgetting flows idle for idle_timeout s. */
int flow_table_init(struct flow_table *t, size_t max_flows, double idle_timeout,
		    const struct siphash_key *key) __attribute__((warn_unused_result));
void flow_table_free(struct flow_table *t);

/*
 * Chains each peer's entries (peer-ids below n_peers), so that
 * flow_table_remove_peer costs that peer's entries, not the table's size
 * (walking the table when a client left was O(flows) per disconnect). On a
 * table that is still empty; -ENOMEM.
 */
int flow_table_chain_peers(struct flow_table *t, uint32_t n_peers)
	__attribute__((warn_unused_result));

/* Removes every entry of peer_id (pending ones too); returns how many were pending. */
size_t flow_table_remove_peer(struct flow_table *t, uint32_t peer_id);

/*
 * Room for max_flows flows from now on (a reload's policy.flows): the flows
 * move to a new array, pending ones first; when it is smaller, the decided
 * flows that do not fit are forgotten (counted as evicted). -ENOMEM, or
 * -ENOSPC when more flows wait for on.flow than the new size holds, leaves t
 * as it was.
 */
int flow_table_resize(struct flow_table *t, size_t max_flows, double now)
	__attribute__((warn_unused_result));

/* The flow of a parsed packet of client peer_id going direction. */
void flow_key_of(struct flow_key *k, const struct packet_flow *f, uint32_t peer_id,
		 enum policy_direction direction);

/* TAP mode: the Ethernet part of k from frame (14 bytes at least). */
void flow_key_set_l2(struct flow_key *k, const uint8_t *frame);

/* The live entry for k at time now (current generation, not expired or idle), or NULL. */
struct flow_entry *flow_table_lookup(struct flow_table *t, const struct flow_key *k, double now);

/*
 * A fresh entry for k (state and verdict for the caller to fill), reusing a
 * stale one for the same key; NULL when the table is full of live flows.
 */
struct flow_entry *flow_table_insert(struct flow_table *t, const struct flow_key *k, double now);

/* Removes e (from lookup or insert). */
void flow_table_remove(struct flow_table *t, struct flow_entry *e);

/* Outdates every entry: the policy changed. Pending ones stay pending. */
void flow_table_flush(struct flow_table *t);

/* The entries of the current generation, in table order: for i in 0..cap, NULL for holes. */
const struct flow_entry *flow_table_at(const struct flow_table *t, size_t i, double now);

#endif
