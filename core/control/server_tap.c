// SPDX-License-Identifier: MIT
/*
 * The server in TAP mode: an Ethernet switch between the clients and the
 * device. Each side's frames teach the switch their source addresses: a
 * client's (once its frame passed the source check and the policy) and the
 * device's (the server's own address, pinned, and on a bridge the hosts
 * behind it). A frame for a known address goes to its owner (from a client
 * to another client only with client_to_client); broadcast and multicast
 * are flooded, and so are the device's frames for unknown addresses. A
 * client's unicast frame for an address no client has goes to the device
 * only: that is not a flood. A client's frames from another owner's live
 * address are dropped (it cannot take that client's, or the server's,
 * traffic), and the broadcast and multicast frames a client sends are
 * rate-limited per client (one client's storm is not everyone's). As in TUN
 * mode, a client sends IP (and ARP) only from its own VPN addresses and the
 * subnets client:route gave it, or from the addresses a host uses before it
 * has one (tapcheck.c). IP frames pass the policy (a reject is a drop: there
 * is no Ethernet answer to build); ARP and other frames pass.
 */
#include <stdlib.h>
#include <string.h>

#include "server_impl.h"
#include "tapcheck.h"

/* The device's owner id in the switch is no client's. */
_Static_assert((long)SERVER_CLIENTS_LIMIT < (long)MAC_TABLE_DEVICE,
	       "a peer-id would be the device's");

enum {
	ETH_HEADER = TAP_ETH_HEADER,
	TAP_MACS_PER_CLIENT = 64,
	TAP_MAC_AGE_SECONDS = 300,
};

int server_tap_init(struct server *s)
{
	return mac_table_init(&s->macs, s->max_clients, TAP_MACS_PER_CLIENT, TAP_MAC_AGE_SECONDS,
			      &s->hash_key);
}

void server_tap_free(struct server *s)
{
	mac_table_free(&s->macs);
}

/*
 * Seals the frame (len bytes at pkt + DATA_OVERHEAD) for client to: in place,
 * or in a copy when the same frame goes to others too (a flood).
 */
static void send_frame(struct server *s, struct dataplane *dp, const struct dp_peer *to,
		       uint8_t *pkt, size_t len, bool copy)
{
	struct dataplane *owner;

	if (session_state(to->sess) != SESSION_ACTIVE)
		return;
	owner = server_owner_dp(s, dp, to->dc->peer_id); /* the copy stays in the reader's lane */
	if (!server_policy_passes(s, owner, to, pkt + DATA_OVERHEAD, len, POLICY_OUT, true))
		return;
	if (copy) {
		memcpy(dp->lane.frame_copy + DATA_OVERHEAD, pkt + DATA_OVERHEAD, len);
		pkt = dp->lane.frame_copy;
	}
	(void)server_send_data(s, owner, to, pkt, len);
}

/* The client that owns the frame's destination, or NULL (the device's, unknown, or a group). */
static const struct dp_peer *client_of_destination(const struct server *s, const uint8_t *frame,
						   int32_t *owner)
{
	*owner = mac_is_group(frame) ? -1 : mac_table_lookup(&s->macs, frame, ev_now(s->loop));
	return *owner >= 0 ? server_peer(s, (uint32_t)*owner) : NULL;
}

/* Every active client but the one it came from (NULL: from the device): the live ones only. */
static void flood(struct server *s, struct dataplane *dp, const struct dp_peer *from, uint8_t *pkt,
		  size_t len)
{
	for (uint32_t i = 0; i < peer_ids_count(&s->ids); i++) {
		const struct dp_peer *to = server_peer(s, peer_ids_at(&s->ids, i));

		if (to && to != from)
			send_frame(s, dp, to, pkt, len, true);
	}
}

struct client_ref {
	const struct server *s;
	uint32_t id;
};

/* The client's own address: one of its VPN addresses, or in a subnet behind it. */
static bool is_own_address(const void *ctx, const struct ip_addr *a)
{
	const struct client_ref *c = ctx;
	const struct server *s = c->s;

	if (ip_addr_equal(&s->vpn_addrs[c->id][0], a) || ip_addr_equal(&s->vpn_addrs[c->id][1], a))
		return true;
	return s->routes.subnets.n && route_table_lookup(&s->routes.subnets, a) == (int32_t)c->id;
}

void server_tap_from_client(struct server *s, struct dataplane *dp, const struct dp_peer *peer,
			    uint8_t *buf, size_t len)
{
	const uint8_t *frame = buf + DATA_OVERHEAD;
	uint32_t id = peer->dc->peer_id;
	int32_t owner;

	if (len < ETH_HEADER) {
		dp->stats.dropped_malformed++;
		return;
	}
	server_clamp_mss(s, peer, buf + DATA_OVERHEAD, len);
	owner = mac_table_lookup(&s->macs, frame + 6, ev_now(s->loop));
	if (owner >= 0 && owner != (int32_t)id) {
		dp->stats.dropped_mac_spoof++; /* another client's, or the server's side's, live
						 address */
		return;
	}
	if (!tapcheck_frame(frame, len, is_own_address, &(struct client_ref){ s, id })) {
		dp->stats.dropped_spoofed++;
		return;
	}
	/* Only group frames are flooded: unicast goes to one client or to the device. */
	if (mac_is_group(frame) && !mac_table_may_flood(&s->macs, id, ev_now(s->loop))) {
		dp->stats.dropped_flood++; /* broadcast or multicast: past its share */
		return;
	}
	if (server_policy_passes(s, dp, peer, frame, len, POLICY_IN, true))
		server_tap_switch(s, dp, peer, buf, len);
}

void server_tap_switch(struct server *s, struct dataplane *dp, const struct dp_peer *peer,
		       uint8_t *buf, size_t len)
{
	uint8_t *frame = buf + DATA_OVERHEAD;
	uint32_t id = peer->dc->peer_id;
	const struct dp_peer *to;
	int32_t owner;

	/* Learnt only now, past the checks and the policy: a dropped frame claims nothing. */
	if (mac_table_learn(&s->macs, frame + 6, id, ev_now(s->loop)) == MAC_TAKEN) {
		dp->stats.dropped_mac_spoof++; /* taken while its first frame waited for on.flow */
		return;
	}
	to = client_of_destination(s, frame, &owner);
	if (mac_is_group(frame)) {
		if (s->params.client_to_client)
			flood(s, dp, peer, buf, len);
		s->params.hooks.deliver(s->params.hooks.ctx, id, frame, len);
		return;
	}
	if (to && to != peer && s->params.client_to_client) {
		send_frame(s, dp, to, buf, len, server_reseal_must_move(peer, to));
		return;
	}
	if (to == peer)
		return; /* for its own address: nothing to switch */
	s->params.hooks.deliver(s->params.hooks.ctx, id, frame, len);
}

void server_tap_from_device(struct server *s, struct dataplane *dp, uint8_t *pkt, size_t len)
{
	const uint8_t *frame = pkt + DATA_OVERHEAD;
	const struct dp_peer *to;
	int32_t owner;

	if (len < ETH_HEADER) {
		dp->stats.dropped_malformed++;
		return;
	}
	/* The server's side's address: no client may take it (a client's live one stays its). */
	(void)mac_table_learn(&s->macs, frame + 6, MAC_TABLE_DEVICE, ev_now(s->loop));
	to = client_of_destination(s, frame, &owner);
	server_clamp_mss(s, to, pkt + DATA_OVERHEAD, len); /* flooded: for every client */
	if (to)
		send_frame(s, dp, to, pkt, len, false);
	else if (owner != MAC_TABLE_DEVICE)
		flood(s, dp, NULL, pkt, len); /* broadcast, multicast, or an address not learned */
}

void server_set_device_mac(struct server *s, const uint8_t mac[MAC_LEN])
{
	if (s->params.tap)
		mac_table_pin_device(&s->macs, mac, ev_now(s->loop));
}
