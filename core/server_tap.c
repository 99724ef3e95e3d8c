// SPDX-License-Identifier: MIT
/*
 * The server in TAP mode: an Ethernet switch between the clients and the
 * device. A client's frames teach the switch its source addresses; a frame
 * for a known address goes to its client (or, from a client, to another
 * client only with client_to_client), broadcast, multicast and unknown
 * addresses are flooded. A client's frames from another client's live
 * address are dropped (it cannot take that client's traffic), and the frames
 * a client has flooded are rate-limited per client (one client's broadcast
 * storm is not everyone's). As in TUN mode, a client sends IP (and ARP)
 * only from its own VPN addresses and the subnets client:route gave it, or
 * from the addresses a host uses before it has one. IP frames pass the policy (a reject is a drop:
 * there is no Ethernet answer to build); ARP and other frames pass.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "server_impl.h"

enum {
	ETH_HEADER = 14,
	ETH_TYPE_IPV4 = 0x0800,
	ETH_TYPE_ARP = 0x0806,
	ETH_TYPE_IPV6 = 0x86dd,
	ARP_IPV4_LEN = 28, /* Ethernet and IPv4 (RFC 826): the sender's address at offset 14 */
	TAP_MACS_PER_CLIENT = 64,
	TAP_MAC_AGE_SECONDS = 300,
};

int server_tap_init(struct server *s)
{
	if (!(s->tap_copy = malloc(DATA_OVERHEAD + SERVER_FRAME_MAX)))
		return -1;
	return mac_table_init(&s->macs, TAP_MACS_PER_CLIENT, TAP_MAC_AGE_SECONDS,
			      s->hash_seed ^ 0x94d049bb133111ebULL);
}

void server_tap_free(struct server *s)
{
	mac_table_free(&s->macs);
	free(s->tap_copy);
	s->tap_copy = NULL;
}

/*
 * Seals the frame (len bytes at pkt + DATA_OVERHEAD) for client to: in place,
 * or in a copy when the same frame goes to others too (a flood).
 */
static void send_frame(struct server *s, struct session *to, uint8_t *pkt, size_t len, bool copy)
{
	if (session_state(to) != SESSION_ACTIVE ||
	    !server_policy_passes(s, to, pkt + DATA_OVERHEAD, len, POLICY_OUT, true))
		return;
	if (copy) {
		memcpy(s->tap_copy + DATA_OVERHEAD, pkt + DATA_OVERHEAD, len);
		pkt = s->tap_copy;
	}
	if (session_data_send(to, pkt, len) == 0) {
		s->stats.data_out++;
		s->stats.data_bytes_out += len;
	}
}

/* Every active client but the one it came from (NULL: from the device). */
static void flood(struct server *s, const struct session *from, uint8_t *pkt, size_t len)
{
	for (size_t id = 0; id < SERVER_SESSIONS_MAX; id++)
		if (s->sessions[id] && s->sessions[id] != from)
			send_frame(s, s->sessions[id], pkt, len, true);
}

/* Client id's own address: one of its VPN addresses, or in a subnet behind it. */
static bool is_own_address(const struct server *s, uint32_t id, const struct ip_addr *a)
{
	if (ip_addr_equal(&s->vpn_addrs[id][0], a) || ip_addr_equal(&s->vpn_addrs[id][1], a))
		return true;
	return s->subnets.n && route_table_lookup(&s->subnets, a) == (int32_t)id;
}

static bool is_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/*
 * Whether the IP or ARP inside a frame from client id (len >= ETH_HEADER)
 * comes from an address of its own. Before it has one, a host sends from
 * 0.0.0.0 (DHCP, ARP probes), :: (duplicate address detection) and its IPv6
 * link-local address (neighbour discovery): those pass. Other types carry no
 * address of ours.
 */
static bool is_own_source(const struct server *s, uint32_t id, const uint8_t *frame, size_t len)
{
	uint16_t type = (uint16_t)(frame[12] << 8 | frame[13]);
	const uint8_t *l3 = frame + ETH_HEADER;
	size_t n = len - ETH_HEADER;
	struct ip_addr a = { 0 };

	if (type == ETH_TYPE_ARP) {
		if (n < ARP_IPV4_LEN || l3[2] != 0x08 || l3[3] != 0x00 || l3[5] != 4)
			return true; /* not ARP for IPv4 */
		a.family = AF_INET;
		memcpy(a.bytes, l3 + 14, 4);
		return is_zero(a.bytes, 4) || is_own_address(s, id, &a);
	}
	if (type != ETH_TYPE_IPV4 && type != ETH_TYPE_IPV6)
		return true;
	if ((type == ETH_TYPE_IPV4) != (n >= 1 && l3[0] >> 4 == 4) ||
	    !ip_packet_addr(l3, n, true, &a))
		return false; /* the frame's type and the packet's version disagree, or no packet */
	if (a.family == AF_INET)
		return is_zero(a.bytes, 4) || is_own_address(s, id, &a);
	return is_zero(a.bytes, 16) || (a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80) ||
	       is_own_address(s, id, &a);
}

void server_tap_from_client(struct server *s, struct session *sess, uint8_t *buf, size_t len)
{
	const uint8_t *frame = buf + DATA_OVERHEAD;
	double now = ev_now(s->loop);
	int32_t to;

	if (len < ETH_HEADER) {
		s->stats.dropped_malformed++;
		return;
	}
	if (mac_table_learn(&s->macs, frame + 6, session_peer_id(sess), now) == MAC_TAKEN) {
		s->stats.dropped_mac_spoof++;
		return;
	}
	if (!is_own_source(s, session_peer_id(sess), frame, len)) {
		s->stats.dropped_spoofed++;
		return;
	}
	to = mac_is_group(frame) ? -1 : mac_table_lookup(&s->macs, frame, now);
	if ((to < 0 || !s->sessions[to]) &&
	    !mac_table_may_flood(&s->macs, session_peer_id(sess), now)) {
		s->stats.dropped_flood++; /* broadcast, multicast or unknown: past its share */
		return;
	}
	if (server_policy_passes(s, sess, frame, len, POLICY_IN, true))
		server_tap_switch(s, sess, buf, len);
}

void server_tap_switch(struct server *s, struct session *sess, uint8_t *buf, size_t len)
{
	const uint8_t *frame = buf + DATA_OVERHEAD;
	int32_t to = mac_is_group(frame) ? -1 : mac_table_lookup(&s->macs, frame, ev_now(s->loop));

	if (mac_is_group(frame)) {
		if (s->params.client_to_client)
			flood(s, sess, buf, len);
		s->params.hooks.deliver(s->params.hooks.ctx, sess, frame, len);
		return;
	}
	if (to >= 0 && s->sessions[to] && s->sessions[to] != sess && s->params.client_to_client) {
		send_frame(s, s->sessions[to], buf, len, false);
		return;
	}
	if (to >= 0 && s->sessions[to] == sess)
		return; /* for its own address: nothing to switch */
	s->params.hooks.deliver(s->params.hooks.ctx, sess, frame, len);
}

void server_tap_from_device(struct server *s, uint8_t *pkt, size_t len)
{
	const uint8_t *frame = pkt + DATA_OVERHEAD;
	int32_t to;

	if (len < ETH_HEADER) {
		s->stats.dropped_malformed++;
		return;
	}
	to = mac_is_group(frame) ? -1 : mac_table_lookup(&s->macs, frame, ev_now(s->loop));
	if (to >= 0 && s->sessions[to])
		send_frame(s, s->sessions[to], pkt, len, false);
	else
		flood(s, NULL, pkt, len); /* broadcast, multicast, or an address not learned */
}
