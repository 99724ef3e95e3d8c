// SPDX-License-Identifier: MIT
/*
 * The server in TAP mode: an Ethernet switch between the clients and the
 * device. A client's frames teach the switch its source addresses; a frame
 * for a known address goes to its client (or, from a client, to another
 * client only with client_to_client), broadcast, multicast and unknown
 * addresses are flooded. A client's frames from another client's live
 * address are dropped (it cannot take that client's traffic), and the frames
 * a client has flooded are rate-limited per client (one client's broadcast
 * storm is not everyone's). IP frames pass the policy (a reject is a drop:
 * there is no Ethernet answer to build); ARP and other frames pass.
 */
#include <stdlib.h>
#include <string.h>

#include "server_impl.h"

enum {
	ETH_HEADER = 14,
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
	to = mac_is_group(frame) ? -1 : mac_table_lookup(&s->macs, frame, now);
	if ((to < 0 || !s->sessions[to]) &&
	    !mac_table_may_flood(&s->macs, session_peer_id(sess), now)) {
		s->stats.dropped_flood++; /* broadcast, multicast or unknown: past its share */
		return;
	}
	if (!server_policy_passes(s, sess, frame, len, POLICY_IN, true))
		return;
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
