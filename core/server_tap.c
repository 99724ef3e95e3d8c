// SPDX-License-Identifier: MIT
/*
 * The server in TAP mode: an Ethernet switch between the clients and the
 * device. A client's frames teach the switch its source addresses; a frame
 * for a known address goes to its client (or, from a client, to another
 * client only with client_to_client), broadcast, multicast and unknown
 * addresses are flooded. IP frames pass the policy (a reject is a drop:
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

/* The policy on a frame: its IP packet meets the rules, any frame may meet on.flow. */
static bool tap_passes(struct server *s, struct session *sess, const uint8_t *frame, size_t len,
		       enum policy_direction dir)
{
	uint32_t id = session_peer_id(sess);
	enum filter_result r = filter_pass_frame(&s->filter, id, frame, len, dir, ev_now(s->loop));

	if (r == FILTER_ASK) {
		s->params.hooks.flow(s->params.hooks.ctx, sess, &s->filter.ask.key,
				     &s->filter.ask.flow);
		r = filter_pass_frame(&s->filter, id, frame, len, dir, ev_now(s->loop));
	}
	if (r == FILTER_PASS)
		return true;
	if (r == FILTER_PENDING || r == FILTER_ASK)
		s->stats.dropped_pending++;
	else if (r == FILTER_UNPARSED)
		s->stats.dropped_unparsed++;
	else
		s->stats.dropped_policy++;
	return false;
}

/* Seals a copy of the frame (len bytes at pkt + DATA_OVERHEAD) for client to. */
static void send_copy(struct server *s, struct session *to, const uint8_t *pkt, size_t len)
{
	if (session_state(to) != SESSION_ACTIVE ||
	    !tap_passes(s, to, pkt + DATA_OVERHEAD, len, POLICY_OUT))
		return;
	memcpy(s->tap_copy + DATA_OVERHEAD, pkt + DATA_OVERHEAD, len);
	if (session_data_send(to, s->tap_copy, len) == 0) {
		s->stats.data_out++;
		s->stats.data_bytes_out += len;
	}
}

/* Every active client but the one it came from (NULL: from the device). */
static void flood(struct server *s, const struct session *from, const uint8_t *pkt, size_t len)
{
	for (size_t id = 0; id < SERVER_SESSIONS_MAX; id++)
		if (s->sessions[id] && s->sessions[id] != from)
			send_copy(s, s->sessions[id], pkt, len);
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
	if (!tap_passes(s, sess, frame, len, POLICY_IN))
		return;
	(void)mac_table_learn(&s->macs, frame + 6, session_peer_id(sess), now);
	if (mac_is_group(frame)) {
		if (s->params.client_to_client)
			flood(s, sess, buf, len);
		s->params.hooks.deliver(s->params.hooks.ctx, sess, frame, len);
		return;
	}
	to = mac_table_lookup(&s->macs, frame, now);
	if (to >= 0 && s->sessions[to] && s->sessions[to] != sess && s->params.client_to_client) {
		send_copy(s, s->sessions[to], buf, len);
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
		send_copy(s, s->sessions[to], pkt, len);
	else
		flood(s, NULL, pkt, len); /* broadcast, multicast, or an address not learned */
}
