// SPDX-License-Identifier: MIT
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compframe.h"
#include "cookie.h"
#include "loopgroup.h"
#include "proto.h"
#include "server.h"
#include "server_impl.h"
#include "source.h"
#include "steer.h"
#include "tlscryptv2.h"
#include "vnet.h"

/* A peer-id travels in 24 bits of a P_DATA_V2 header. */
_Static_assert(SERVER_CLIENTS_LIMIT < (1 << 24), "peer-ids are 24 bits");

/*
 * The session of a packet that arrived as a says: a TCP connection knows
 * its slot; a UDP client is found in the peer index (a walk over every slot
 * per packet let a flood of control packets cost 1024 compares each).
 */
static struct session *find_session(const struct server *s, const struct arrival *a)
{
	int32_t id = a->via ? tcp_conn_tag(a->via)
			    : server_peer_index_get(&s->peer_index, a->from, a->from_len);

	if (id < 0 || (uint32_t)id >= s->max_clients || !s->sessions[id] ||
	    s->conns[id] != a->via || !session_is_peer(s->sessions[id], a->from, a->from_len))
		return NULL;
	return s->sessions[id];
}

/* The length of a socket address as recvfrom and accept give it, by its family. */
static socklen_t peer_len(const struct sockaddr *a)
{
	return a->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* Forgets the VPN addresses of slot id. */
static void unindex_session(struct server *s, uint32_t id)
{
	for (int i = 0; i < 2; i++) {
		if (s->vpn_addrs[id][i].family)
			server_addr_index_del(&s->routes.vpn, &s->vpn_addrs[id][i], id);
		memset(&s->vpn_addrs[id][i], 0, sizeof(s->vpn_addrs[id][i]));
	}
}

/*
 * Indexes the addresses the connect hook gave a client, parsed as
 * session.c parses them, so that a packet from the device finds its
 * client in one lookup rather than a walk over every slot.
 */
static void index_session(struct server *s, uint32_t id, const struct session_push *push)
{
	const char *text[2] = { push->address, push->address6 };

	unindex_session(s, id);
	for (int i = 0; i < 2; i++) {
		struct ip_addr a;

		if (!text[i][0] || !ip_addr_parse(&a, text[i]) ||
		    !server_addr_index_put(&s->routes.vpn, &a, id))
			continue;
		s->vpn_addrs[id][i] = a;
	}
}

/* Routes the client's subnets to slot id; a subnet new to the table gets its device route. */
static void attach_subnets(struct server *s, uint32_t id, const struct session_push *push)
{
	struct client_subnets *cs;

	if (!push->n_routes || !(cs = calloc(1, sizeof(*cs))))
		return;
	for (size_t i = 0; i < push->n_routes; i++) {
		int32_t owner = route_table_owner(&s->routes.subnets, &push->routes[i]);
		enum route_add_result r;
		char text[IP_PREFIX_TEXT_MAX];

		/* Another connected client's subnet stays its own: the first one keeps it. */
		if (owner >= 0 && (uint32_t)owner != id && s->sessions[owner]) {
			log_warnx(s->log, "server", "%s is routed to peer-id %d already; not to %u",
				  ip_prefix_format(&push->routes[i], text, sizeof(text)), owner,
				  id);
			s->stats.dropped_subnets++;
			continue;
		}
		r = route_table_add(&s->routes.subnets, &push->routes[i], id);
		if (r == ROUTE_FULL) {
			s->stats.dropped_subnets++;
			continue;
		}
		cs->prefix[cs->n] = push->routes[i];
		cs->ours[cs->n] =
			r == ROUTE_ADDED &&
			s->params.hooks.subnet(s->params.hooks.ctx, &push->routes[i], true);
		cs->n++;
	}
	s->client_subnets[id] = cs;
}

/* The client's subnets leave the table, and their device routes with them (if ours). */
static void detach_subnets(struct server *s, uint32_t id)
{
	struct client_subnets *cs = s->client_subnets[id];

	if (!cs)
		return;
	for (size_t i = 0; i < cs->n; i++)
		if (route_table_del(&s->routes.subnets, &cs->prefix[i], id) && cs->ours[i])
			s->params.hooks.subnet(s->params.hooks.ctx, &cs->prefix[i], false);
	free(cs);
	s->client_subnets[id] = NULL;
}

void server_end_session(struct server *s, struct session *sess, const char *reason)
{
	uint32_t id = session_peer_id(sess);

	server_tcp_detach(s, id);
	s->params.hooks.ended(s->params.hooks.ctx, sess, reason);
	server_peer_index_del(&s->peer_index, session_peer(sess), peer_len(session_peer(sess)), id);
	unindex_session(s, id);
	detach_subnets(s, id);
	filter_set_client(server_filter_of(s, id), id, NULL, 0);
	if (s->params.tap)
		mac_table_forget(&s->macs, id);
	server_tls_crypt_v2_forget(s, id);
	halfopen_remove(&s->half_open, id);
	s->sessions[id] = NULL;
	server_peer_close(s, id);
	peer_ids_put(&s->ids, id);
	session_free(sess);
	server_trim_arm(s);
}

static void on_session_send(void *ctx, struct session *sess, const uint8_t *wire, size_t len)
{
	struct server *s = ctx;

	if (!server_tcp_send(s, session_peer_id(sess), wire, len))
		dataplane_send(server_main_dp(s), session_peer(sess), peer_len(session_peer(sess)),
			       wire, len);
}

static void on_session_cr_response(void *ctx, struct session *sess, const char *response)
{
	struct server *s = ctx;

	if (s->params.hooks.cr_response)
		s->params.hooks.cr_response(s->params.hooks.ctx, sess, response);
}

static bool on_session_reauth(void *ctx, struct session *sess, uint8_t key_id, const char *password)
{
	struct server *s = ctx;

	return s->params.hooks.reauth &&
	       s->params.hooks.reauth(s->params.hooks.ctx, sess, key_id, password);
}

static void on_session_connect(void *ctx, struct session *sess)
{
	struct server *s = ctx;

	s->params.hooks.connect(s->params.hooks.ctx, sess);
}

bool server_admit(struct server *s, struct session *sess, struct session_push *push)
{
	if (session_state(sess) != SESSION_AUTH)
		return false; /* it is closing: kicked or gone while its hooks ran */
	index_session(s, session_peer_id(sess), push);
	attach_subnets(s, session_peer_id(sess), push);
	filter_set_client(server_filter_of(s, session_peer_id(sess)), session_peer_id(sess),
			  push->policy, push->groups);
	session_admit(sess, push);
	server_peer_admit(s, session_peer_id(sess));
	return true;
}

static void on_session_ended(void *ctx, struct session *sess, const char *reason)
{
	server_end_session(ctx, sess, reason);
}

/* The bound on half-open handshakes in all, for the server's max_clients. */
static size_t half_open_max(const struct server *s)
{
	return server_half_open_max(s->max_clients);
}

/*
 * Half-open until SESSION_AUTH: the handshake has not finished. A client
 * whose certificate verified leaves the half-open sessions there. One
 * without a certificate (auth.certificate "none" or "optional") proved
 * nothing yet, anyone can get that far, so it still counts towards its
 * source's share until it is admitted; but it finished its handshake and
 * waits for the hooks' decision (a deferred on.auth), so it is never the
 * fair victim of a storm nor counted in the total bound: the hooks' limits
 * (hook calls in flight, hooks.timeout, the pending timeout) bound how long
 * and how many. Only once it falls silent (a live client repeats its
 * PUSH_REQUEST while it waits) may it go to make room, as a stalled
 * handshake does, and it is told with RESTART.
 */
static void on_session_state(void *ctx, struct session *sess)
{
	struct server *s = ctx;
	uint32_t id = session_peer_id(sess);
	enum session_state st = session_state(sess);

	if (st < SESSION_AUTH || id >= s->max_clients || s->sessions[id] != sess)
		return;
	if (st == SESSION_AUTH && !session_peer_fingerprint(sess))
		halfopen_wait(&s->half_open, id);
	else
		halfopen_remove(&s->half_open, id);
}

size_t server_half_open_count(const struct server *s)
{
	return halfopen_count(&s->half_open, HALFOPEN_ALL);
}

void server_session_receive(struct server *s, struct session *sess, const struct proto_control *ctl,
			    uint32_t replay_id, uint32_t replay_time)
{
	uint32_t id = session_peer_id(sess);

	session_receive(sess, ctl, replay_id, replay_time);
	if (s->sessions[id] == sess)
		halfopen_heard(&s->half_open, id, session_last_received(sess));
}

/* Ends a handshake we give up on, telling its client so that it restarts at once. */
static void give_up(struct server *s, uint32_t id, const char *reason)
{
	session_give_up(s->sessions[id]);
	server_end_session(s, s->sessions[id], reason);
}

/* Seconds since slot id's peer last sent a control packet. */
static double silent_for(const struct server *s, uint32_t id)
{
	return ev_now(s->loop) - session_last_received(s->sessions[id]);
}

/*
 * The sessions listed from src (at most SERVER_HALF_OPEN_PER_SOURCE_MAX and
 * the newest, so this walk is bounded), and in *quietest the one
 * silent the longest (HALFOPEN_NONE: none).
 */
static uint32_t source_half_open(const struct server *s, const struct source *src,
				 uint32_t *quietest)
{
	uint32_t id, n = halfopen_source(&s->half_open, src, &id);

	*quietest = HALFOPEN_NONE;
	for (; id != HALFOPEN_NONE; id = halfopen_next(&s->half_open, id))
		if (*quietest == HALFOPEN_NONE || silent_for(s, id) > silent_for(s, *quietest))
			*quietest = id;
	return n;
}

/*
 * The half-open table, or every client slot, is full: the one to evict for
 * a newcomer from src, or HALFOPEN_NONE for none. A stalled session goes
 * first (the fair victim of those). Without one, a session that keeps
 * talking (an ACK every few seconds keeps a flood from ever stalling) goes
 * only when its network holds more than the newcomer's will, the newcomer
 * counted: a flood from a few networks loses its own sessions to clients
 * from elsewhere, while a storm (spread evenly, or all behind one network)
 * is not churned, each handshake's work kept. The per-source bound alone
 * left a flood of ceil(max_clients / 64) sources holding every slot.
 */
static uint32_t crowd_victim(const struct server *s, const struct source *src)
{
	uint32_t victim, victim_net;

	if (halfopen_count(&s->half_open, HALFOPEN_STALLED))
		return halfopen_victim(&s->half_open, HALFOPEN_STALLED, NULL);
	victim = halfopen_victim(&s->half_open, HALFOPEN_ALL, &victim_net);
	if (victim == HALFOPEN_NONE)
		return HALFOPEN_NONE; /* every slot holds a client: none to evict */
	return victim_net > halfopen_net_count(&s->half_open, HALFOPEN_ALL, src) + 1
		       ? victim
		       : HALFOPEN_NONE;
}

/* make_room's answer for a newcomer. */
enum room {
	ROOM_MADE,    /* open its session (with every client slot taken, it waits for one) */
	ROOM_REFUSED, /* its source holds its share, all progressing: refuse it, and say so */
	ROOM_NONE, /* the half-open table is full: no session; its retransmission may find room */
};

/*
 * Makes room for one more half-open session from src. Without tls-auth or
 * tls-crypt anyone who can receive our cookie can open a session, with a
 * bare P_ACK_V1 if they like (2.6 accepts one too, so we must), and never
 * finish the handshake: such sessions live for the hand-window. So a
 * source keeps at most SERVER_HALF_OPEN_PER_SOURCE_MAX of them: at that,
 * its most silent one goes if it stalled, else the newcomer is refused
 * (evicting the oldest, as this did, ended handshakes that were
 * progressing: an office behind one address lost clients to its own
 * colleagues). When the half-open table (half_open_max) or every client
 * slot is full, crowd_victim goes if there is one; else the newcomer waits,
 * its echo dropped (as when max_clients are connected): its client resends
 * it within seconds (RELIABLE_TIMEOUT_MAX_MS) and a finished handshake frees
 * a place. Evicting the fair victim for each newcomer instead threw away a
 * handshake's work each time: bench-scale's 10,000 clients at 2,000 a second
 * had 1,801 handshakes evicted on a quiet machine, some 15,000 on a busy one.
 * Each step is O(1) or O(log n) in the half-open sessions (halfopen.h): it
 * runs per handshake.
 */
static enum room make_room(struct server *s, const struct source *src)
{
	uint32_t quietest, victim, n_here;
	bool table_full, slots_full;

	halfopen_stall(&s->half_open, ev_now(s->loop), SERVER_HALF_OPEN_STALL_SECONDS);
	n_here = source_half_open(s, src, &quietest);
	if (n_here >= SERVER_HALF_OPEN_PER_SOURCE_MAX) {
		if (quietest == HALFOPEN_NONE ||
		    silent_for(s, quietest) < SERVER_HALF_OPEN_STALL_SECONDS) {
			s->stats.refused_half_open_source++;
			return ROOM_REFUSED;
		}
		s->stats.evicted_half_open_source++;
		give_up(s, quietest, "evicted: too many handshakes from its source");
		return ROOM_MADE;
	}
	table_full = halfopen_count(&s->half_open, HALFOPEN_ALL) >= half_open_max(s);
	slots_full = peer_ids_count(&s->ids) >= s->max_clients;
	if (!table_full && !slots_full)
		return ROOM_MADE;
	if ((victim = crowd_victim(s, src)) != HALFOPEN_NONE) {
		s->stats.evicted_half_open++;
		give_up(s, victim,
			table_full ? "evicted: too many handshakes at once"
				   : "evicted: every client slot is taken");
		return ROOM_MADE;
	}
	if (!table_full)
		return ROOM_MADE; /* open_session finds no free slot: the newcomer waits for one */
	s->stats.deferred_half_open++;
	return ROOM_NONE;
}

/*
 * A session only to say no, in slot id for as long as it takes: its client
 * restarts at once rather than wait a minute for a handshake we refused.
 * Its TCP connection, if any, stays for the client to close.
 */
static void refuse_newcomer(struct server *s, struct session *sess, uint32_t id,
			    const struct arrival *a)
{
	char who[UDP_ADDR_TEXT_MAX];

	log_ratelimited(s->log, LOG_WARN, "server",
			"%s: refused a handshake: %d from its source in progress already",
			udp_addr_format(a->from, who, sizeof(who)),
			SERVER_HALF_OPEN_PER_SOURCE_MAX);
	server_tcp_attach(s, id, a->via);
	session_give_up(sess);
	s->conns[id] = NULL;
	if (a->via)
		tcp_conn_set_tag(a->via, -1);
	session_free(sess);
}

/*
 * No session for a client that echoed our cookie, for now. No message tells
 * a client before TLS (2.6 drops it silently too, when full): its next
 * retransmission echoes the cookie again, and gets in once there is room.
 */
static void no_room_yet(struct server *s, const struct arrival *a, const char *why)
{
	char who[UDP_ADDR_TEXT_MAX];

	log_ratelimited(s->log, LOG_INFO, "server", "%s: %s",
			udp_addr_format(a->from, who, sizeof(who)), why);
}

/*
 * Opens a session for a peer that echoed a valid cookie, replacing an older
 * one; its control packets are wrapped with w (a tls-crypt-v2 client's own
 * key, v2, or the server's wrapping).
 */
static struct session *open_session(struct server *s, const struct proto_control *ctl,
				    const struct arrival *a, const struct wrap *w,
				    const struct tlscryptv2_client *v2)
{
	struct session *old = find_session(s, a);
	struct session_params sp = {
		.loop = s->loop,
		.log = s->log,
		.crypto = s->crypto,
		.tls = s->params.tls,
		.wrap = w,
		.tls_crypt_v2 = v2,
		.ciphers = s->params.ciphers,
		.n_ciphers = s->params.n_ciphers,
		.replay_time = s->started,
		.ops = &s->session_ops,
		.ctx = s,
		.tokens = s->params.tokens,
		.renegotiations = &s->stats.renegotiations,
	};
	struct session *sess;
	struct source src;
	int32_t id;
	enum room room;

	if (old) {
		s->conns[session_peer_id(old)] =
			NULL; /* the connection goes on, with the new one */
		if (a->via) /* without a session until the new one opens (back on the main loop) */
			tcp_conn_set_tag(a->via, -1);
		server_end_session(s, old, "the client started a new session");
	}
	source_of(a->from, &src);
	room = make_room(s, &src);
	if (room == ROOM_NONE) {
		no_room_yet(s, a, "refused for now: too many handshakes at once");
		return NULL;
	}
	if ((id = peer_ids_take(&s->ids)) < 0) {
		char why[64];

		s->stats.dropped_full++;
		snprintf(why, sizeof(why), "refused: max_clients (%u) clients are connected",
			 s->max_clients);
		no_room_yet(s, a, why);
		return NULL;
	}
	sess = session_new(&sp, a->from, a->from_len, &ctl->remote_sid, &ctl->sid, (uint32_t)id);
	if (sess && room == ROOM_REFUSED) {
		refuse_newcomer(s, sess, (uint32_t)id, a);
		peer_ids_put(&s->ids, (uint32_t)id); /* no session: the id is free again */
		return NULL;
	}
	if (sess && v2) {
		char who[UDP_ADDR_TEXT_MAX], key[TLSCRYPTV2_ID_TEXT_LEN + 1];

		tlscryptv2_id_format(v2->id, key);
		log_info(s->log, "server", "%s: tls-crypt-v2 client key %s",
			 udp_addr_format(a->from, who, sizeof(who)), key);
	}
	if (sess) {
		server_tcp_attach(s, (uint32_t)id, a->via);
		/* Never full: it has room for max_clients addresses. */
		if (!a->via)
			(void)!server_peer_index_put(&s->peer_index, a->from, a->from_len,
						     (uint32_t)id);
		s->sessions[id] = sess;
		server_peer_open(s, (uint32_t)id, sess);
		/* Out of memory (a network's heap), it is not listed: never evicted. */
		(void)!halfopen_add(&s->half_open, (uint32_t)id, &src, ev_now(s->loop));
		server_trim_arm(s);
		session_set_keepalive(sess, s->params.ping_interval, s->params.ping_timeout);
		session_set_renegotiation(sess, s->params.reneg_seconds, s->params.reneg_bytes);
	} else {
		peer_ids_put(&s->ids, (uint32_t)id); /* no session: the id is free again */
	}
	return sess;
}

/* Monotonic seconds, for what a reply costs (ev_now is the loop's cached time). */
static double monotonic(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Loop time left for replies: a reply's cost is taken after it, so any left will do. */
static bool reply_time_left(struct server *s)
{
	bucket_refill(&s->reset_time, monotonic(), SERVER_RESET_TIME_PERMILLE / 1000.0,
		      SERVER_RESET_TIME_BURST_MS / 1000.0);
	return s->reset_time.tokens > 0;
}

/*
 * The reply to a reset is larger than the reset (about 1.9 times, more
 * with tls-auth), and a reset's source can be forged: unbounded, the
 * server would reflect floods onto their victims. So each source gets its
 * own bucket (2.6 has connect-freq-initial for this). In all, replies may
 * take a share of the loop's time, measured: a single global count (it was
 * 50 a second) let forged resets from many sources use it all up, and a
 * real client, retrying every few seconds, waited for half a minute or for
 * ever. The time share lets the machine answer what it cheaply can.
 */
static bool may_answer(struct server *s, const struct sockaddr *from)
{
	double now = ev_now(s->loop);
	struct source src;

	source_of(from, &src);
	return reply_time_left(s) && srclimit_take(&s->reset_sources, src.bytes, src.len, now);
}

/*
 * Sends the stateless reply to a client's hard reset (no state is kept),
 * wrapped with w. A tls-crypt-v2 client is asked to send its wrapped key
 * again with the packet that echoes the cookie, as 2.6 servers ask.
 */
static void answer_reset(struct server *s, const struct proto_control *reset,
			 const struct arrival *a, uint64_t now, const struct wrap *w)
{
	uint8_t plain[64], wire[64 + 128], tlv[TLSCRYPTV2_RESEND_TLV_LEN];
	struct proto_control reply;
	struct proto_sid cookie;
	double began;
	size_t len;
	int n;

	if (!may_answer(s, a->from)) {
		s->stats.dropped_reset_rate++;
		return;
	}
	began = monotonic();
	if (cookie_make(s->crypto, &s->cookie, now, a->from, &reset->sid, &cookie) < 0)
		return;
	cookie_reply(&reply, reset, &cookie);
	if (w->client_key) {
		tlscryptv2_resend_tlv(tlv);
		reply.payload = tlv;
		reply.payload_len = sizeof(tlv);
	}
	len = proto_encode_control(plain, sizeof(plain), &reply);
	/* The stateless reply is always the first wrapped packet: replay id 1. */
	n = wrap_seal(w, plain, len, 1, s->started, wire, sizeof(wire));
	if (n > 0 &&
	    (a->via ? tcp_conn_send(a->via, wire, (size_t)n)
		    : sendto(server_main_dp(s)->fd, wire, (size_t)n, 0, a->from, a->from_len) == n))
		s->stats.resets_answered++;
	s->reset_time.tokens -= fmin(monotonic() - began, SERVER_RESET_COST_MAX_US / 1e6);
}

void server_handle_control(struct server *s, const struct proto_control *ctl,
			   const struct arrival *a, uint32_t replay_id, uint32_t replay_time,
			   const struct wrap *w, const struct tlscryptv2_client *v2)
{
	char who[UDP_ADDR_TEXT_MAX];
	uint64_t now = (uint64_t)time(NULL);

	if ((ctl->opcode == P_CONTROL_HARD_RESET_CLIENT_V2 ||
	     ctl->opcode == P_CONTROL_HARD_RESET_CLIENT_V3) &&
	    ctl->key_id == 0) {
		answer_reset(s, ctl, a, now, w);
		return;
	}
	if (cookie_opens_session(ctl) &&
	    cookie_check(s->crypto, &s->cookie, now, a->from, &ctl->sid, &ctl->remote_sid)) {
		struct session *sess = open_session(s, ctl, a, w, v2);

		s->stats.cookies_accepted++;
		log_ratelimited(s->log, LOG_DEBUG, "server",
				"%s echoed a valid cookie: new session",
				udp_addr_format(a->from, who, sizeof(who)));
		if (sess && !(v2 && server_tls_crypt_v2_hold(s, sess, ctl, replay_id, replay_time)))
			server_session_receive(s, sess, ctl, replay_id, replay_time);
		return;
	}
	s->stats.dropped_no_session++;
}

/*
 * True when from is another live client's address. session_data_open moves
 * a session to the source of any packet that authenticates (float); from
 * another client's address and port that would give two sessions one
 * address, and the other client's control packets and traffic to the wrong
 * session. A client cannot legitimately arrive from where another one is.
 */
static bool is_taken(const struct server *s, const struct session *sess, const struct arrival *a)
{
	const struct session *owner;

	if (session_is_peer(sess, a->from, a->from_len))
		return false;
	owner = find_session(s, a);
	return owner && owner != sess;
}

uint32_t server_worker_of(const struct server *s, uint32_t peer_id)
{
	return peer_id % s->n_dps;
}

/* With threads, a handoff is one trip over the ring between the two workers. */
struct dataplane *server_owner_dp(struct server *s, struct dataplane *read_on, uint32_t id)
{
	struct dataplane *owner = &s->dps[server_worker_of(s, id)];

	if (owner != read_on)
		read_on->stats.handoffs++;
	return owner;
}

/* Counts a data packet sealed for a client (ok), or one that could not be. */
static void count_sent(struct dataplane *dp, bool ok, size_t len)
{
	if (!ok) {
		dp->stats.dropped_no_route++; /* no key may seal now */
		return;
	}
	dp->stats.data_out++;
	dp->stats.data_bytes_out += len;
}

/*
 * A packet for a peer that frames for compression gets the header its
 * framing needs (none, for most packets of a stub-v2 peer): a copy in the
 * lane, with the header in front. Returns the buffer to seal and *len.
 */
static uint8_t *add_framing(struct dataplane *dp, const struct dchan *dc, uint8_t *pkt, size_t *len)
{
	uint8_t head[COMPFRAME_HEAD_MAX];
	size_t h = compframe_head(dc->framing, pkt + DATA_OVERHEAD, head);

	if (!h || *len + h > VNET_PACKET_MAX_BYTES)
		return pkt;
	memcpy(dp->lane.framed + DATA_OVERHEAD, head, h);
	memcpy(dp->lane.framed + DATA_OVERHEAD + h, pkt + DATA_OVERHEAD, *len);
	*len += h;
	return dp->lane.framed;
}

/*
 * The data path's send: seals a packet (len bytes at pkt + DATA_OVERHEAD)
 * in place with the peer's data channel and queues it on the peer's
 * transport. It reads the data channel only, never the session.
 */
static bool seal_and_send(struct server *s, struct dataplane *dp, struct dchan *dc, uint8_t *pkt,
			  size_t len)
{
	int n;

	if (dc->framing != COMPFRAME_NONE && len)
		pkt = add_framing(dp, dc, pkt, &len);
	n = dchan_seal(dc, pkt, len, ev_now(dp->loop));

	if (n < 0)
		return false;
	if (!server_tcp_send(s, dc->peer_id, pkt, (size_t)n))
		dataplane_send(dp, (const struct sockaddr *)&dc->peer, dc->peer_len, pkt,
			       (size_t)n);
	return true;
}

bool server_send_data(struct server *s, struct dataplane *dp, const struct dp_peer *to,
		      uint8_t *pkt, size_t len)
{
	bool ok = seal_and_send(s, dp, to->dc, pkt, len);

	count_sent(dp, ok, len);
	return ok;
}

/* A packet (len bytes at pkt + DATA_OVERHEAD) that passed the policy, sealed in place for to. */
static void send_to(struct server *s, struct dataplane *dp, const struct dp_peer *to, uint8_t *pkt,
		    size_t len)
{
	(void)server_send_data(s, dp, to, pkt, len);
}

/*
 * The segments of a superpacket for to, each sealed where it leaves from:
 * a UDP client's straight into the send queue's next slot (no copy after
 * the cut), a TCP client's in the lane's scratch (its connection copies).
 */
static void send_segments(struct server *s, struct dataplane *dp, const struct dp_peer *to,
			  struct vnet_split *sp)
{
	struct dchan *dc = to->dc;
	bool in_slot = dp->udp_tx && !s->conns[dc->peer_id] && dc->framing != COMPFRAME_LZO &&
		       DATA_OVERHEAD + vnet_split_max(sp) + DATA_TAILROOM <= UDPIO_SLOT_MAX;
	size_t cap =
		in_slot ? UDPIO_SLOT_MAX - DATA_OVERHEAD - DATA_TAILROOM : VNET_PACKET_MAX_BYTES;
	uint8_t *buf;
	size_t n;
	int sealed;

	if (!in_slot) {
		while ((n = vnet_split_next(sp, dp->lane.segment + DATA_OVERHEAD, cap)))
			send_to(s, dp, to, dp->lane.segment, n);
		return;
	}
	while ((n = vnet_split_next(sp, (buf = udpio_tx_slot(dp->udp_tx)) + DATA_OVERHEAD, cap))) {
		sealed = dchan_seal(dc, buf, n, ev_now(dp->loop));
		if (sealed > 0)
			udpio_tx_commit(dp->udp_tx, (const struct sockaddr *)&dc->peer,
					dc->peer_len, (size_t)sealed);
		count_sent(dp, sealed > 0, n);
	}
	ev_prepare_start(dp->loop, &dp->udp_flusher);
}

bool server_reseal_must_move(const struct dp_peer *from, const struct dp_peer *to)
{
	return to->epoch_data && !from->epoch_data;
}

/*
 * client_to_client: a packet for another client's VPN address goes straight
 * to that client, sealed again in the same buffer, without passing through
 * the kernel (its forwarding and firewall). True when it was for a client.
 */
static bool forward_to_client(struct server *s, struct dataplane *dp, const struct dp_peer *from,
			      uint8_t *pkt, size_t len)
{
	const struct dp_peer *to;
	struct ip_addr dst;
	int32_t id;

	if (!ip_packet_addr(pkt + DATA_OVERHEAD, len, false, &dst) ||
	    (id = server_routes_find(s, &dst)) < 0 || !(to = server_peer(s, (uint32_t)id)) ||
	    to == from)
		return false;
	if (server_worker_cannot(s, dp, (uint32_t)id)) { /* the main thread forwards it */
		server_hand_to_main(dp, HANDOFF_FROM_CLIENT, from->dc->peer_id, pkt, len, NULL,
				    NULL, 0);
		return true;
	}
	dp = server_owner_dp(s, dp, (uint32_t)id);
	if (!server_policy_passes(s, dp, to, pkt + DATA_OVERHEAD, len, POLICY_OUT, false))
		return true;
	if (server_reseal_must_move(from, to)) {
		memcpy(dp->lane.segment + DATA_OVERHEAD, pkt + DATA_OVERHEAD, len);
		pkt = dp->lane.segment;
	}
	send_to(s, dp, to, pkt, len);
	return true;
}

struct filter *server_filter_of(const struct server *s, uint32_t id)
{
	return &s->dps[server_worker_of(s, id)].filter;
}

/* The owner's filter judges, on the owner's loop's time (the main thread's too, for it). */
static enum filter_result judge_packet(struct server *s, uint32_t id, const uint8_t *p, size_t len,
				       enum policy_direction dir, bool frame,
				       struct filter_answer *answer)
{
	struct dataplane *owner = &s->dps[server_worker_of(s, id)];
	double now = ev_now(owner->loop);

	answer->len = 0;
	return frame ? filter_pass_frame(&owner->filter, id, p, len, dir, now)
		     : filter_pass(&owner->filter, id, p, len, dir, now, answer);
}

/* on.flow runs on the main thread, outside the packet loop: a worker wakes it. */
static void wake_asker(struct server *s)
{
	if (server_on_worker())
		ev_async_send(s->loop, &s->handoffs); /* on_handoffs wakes the asker */
	else
		batch_wake(&s->asker);
}

/*
 * The policy on a packet (or, in TAP mode, a frame) of sess going dir. A
 * rejected packet's answer goes back where the packet came from: to the
 * client (in), or to the device (out).
 */
bool server_policy_passes(struct server *s, struct dataplane *dp, const struct dp_peer *peer,
			  const uint8_t *p, size_t len, enum policy_direction dir, bool frame)
{
	uint32_t id = peer->dc->peer_id;
	struct filter_answer answer; /* this call's own: no scratch shared between loops */
	enum filter_result r;

	r = judge_packet(s, id, p, len, dir, frame, &answer);
	if (r == FILTER_ASK)
		wake_asker(s);
	if (r == FILTER_PASS)
		return true;
	if (r == FILTER_PENDING || r == FILTER_ASK)
		dp->stats.dropped_pending++;
	else if (r == FILTER_DROP)
		dp->stats.dropped_policy++;
	else if (r == FILTER_UNPARSED)
		dp->stats.dropped_unparsed++;
	else
		dp->stats.rejected_policy++;
	if (answer.len && dir == POLICY_IN)
		(void)seal_and_send(s, dp, peer->dc, answer.buf, answer.len);
	else if (answer.len)
		s->params.hooks.deliver(s->params.hooks.ctx, id, answer.buf + DATA_OVERHEAD,
					answer.len);
	return false;
}

/*
 * Before the loop waits again, once this turn's packets are handled: asks
 * on.flow up to FILTER_ASKS_PER_TURN of the filter's questions, one client's
 * at a time in turn, so a client opening flows fast neither delays the
 * others' packets nor takes their turn. What is left is asked at the next
 * turn, which comes at once (batch.c), not at the next packet or timer.
 */
bool server_has_questions(const struct server *s)
{
	for (uint32_t k = 0; k < s->n_dps; k++)
		if (filter_has_questions(&s->dps[k].filter))
			return true;
	return false;
}

/* Each worker's filter in turn gives one question, until the turn's share is asked. */
static bool ask(void *ctx)
{
	struct server *s = ctx;
	struct filter_question q;
	bool asked = true;

	for (int n = 0; n < FILTER_ASKS_PER_TURN && asked;) {
		asked = false;
		for (uint32_t k = 0; k < s->n_dps && n < FILTER_ASKS_PER_TURN; k++) {
			struct session *sess;

			if (!filter_next_question(&s->dps[k].filter, &q))
				continue;
			asked = true;
			n++;
			if ((sess = s->sessions[q.key.peer_id])) /* answered at once, or later */
				s->params.hooks.flow(s->params.hooks.ctx, sess, &q.key, &q.flow);
		}
	}
	return server_has_questions(s); /* the rest at the next turn, at once */
}

void server_set_policy(struct server *s, struct policy *p, bool flow_hook)
{
	for (uint32_t k = 0; k < s->n_dps; k++)
		filter_set_policy(&s->dps[k].filter, p, flow_hook);
}

void server_set_flow_hook(struct server *s, bool flow_hook)
{
	for (uint32_t k = 0; k < s->n_dps; k++) {
		s->dps[k].filter.flow_hook = flow_hook;
		flow_table_flush(&s->dps[k].filter.flows);
	}
}

/* The first packet of a flow on.flow accepted goes on from where the policy stopped it. */
static void pass_held(struct server *s, const struct dp_peer *peer, struct filter_held *h)
{
	uint32_t id = peer->dc->peer_id;
	struct dataplane *dp = &s->dps[server_worker_of(s, id)];

	if (h->dir == POLICY_OUT) {
		if (session_state(peer->sess) == SESSION_ACTIVE)
			send_to(s, dp, peer, h->buf, h->len);
	} else if (h->frame) {
		server_tap_switch(s, dp, peer, h->buf, h->len);
	} else if (!s->params.client_to_client || !forward_to_client(s, dp, peer, h->buf, h->len)) {
		s->params.hooks.deliver(s->params.hooks.ctx, id, h->buf + DATA_OVERHEAD, h->len);
	}
}

void server_flow_decided(struct server *s, const struct flow_key *key, bool ok,
			 enum policy_verdict verdict, double lifetime)
{
	struct filter *f = server_filter_of(s, key->peer_id % s->max_clients);
	const struct dp_peer *peer;
	struct filter_held *h;

	filter_decided(f, key, ok, verdict, lifetime, ev_now(s->loop));
	if (!(h = filter_take_held(f, key)))
		return;
	if ((peer = server_peer(s, key->peer_id)))
		pass_held(s, peer, h);
	filter_release_held(h);
}

uint32_t server_flow_tables(const struct server *s)
{
	return s->n_dps;
}

const struct flow_table *server_flows(const struct server *s, uint32_t k)
{
	return &s->dps[k].filter.flows;
}

void server_flow_totals(const struct server *s, struct server_flow_totals *out)
{
	memset(out, 0, sizeof(*out));
	for (uint32_t k = 0; k < s->n_dps; k++) {
		const struct filter *f = &s->dps[k].filter;

		out->capacity += f->flows.cap / 4 * 3;
		out->cached += f->flows.n;
		out->inserted += f->flows.stats.inserted;
		out->evicted += f->flows.stats.evicted;
		out->expired += f->flows.stats.expired;
		out->full += f->flows.stats.full;
		out->asked += f->stats.asked;
		out->overflow += f->stats.overflow;
		out->over_share += f->stats.over_share;
	}
}

uint64_t server_client_over_share(const struct server *s, uint32_t peer_id)
{
	const struct filter *f;

	if (peer_id >= s->max_clients)
		return 0;
	f = server_filter_of(s, peer_id);
	return f->clients[peer_id].over_share;
}

const struct policy *server_policy(const struct server *s)
{
	return s->dps[0].filter.global;
}

void server_set_client_groups(struct server *s, uint32_t peer_id, uint64_t groups)
{
	if (peer_id < s->max_clients && s->sessions[peer_id])
		server_filter_of(s, peer_id)->groups[peer_id] = groups;
}

/* A packet from a host in one of the subnets behind client id. */
static bool from_own_subnet(const struct server *s, uint32_t id, const uint8_t *ip, size_t len)
{
	struct ip_addr src;

	if (!s->routes.subnets.n || !ip_packet_addr(ip, len, true, &src))
		return false;
	return route_table_lookup(&s->routes.subnets, &src) == (int32_t)id;
}

/*
 * A UDP client's authenticated packet came from a new address (float): the
 * session moves there and the peer index with it.
 */
void server_follow_float(struct server *s, struct dp_peer *peer, const struct sockaddr *from,
			 socklen_t from_len)
{
	struct session *sess = peer->sess;
	struct sockaddr_in6 was; /* either family fits */
	uint32_t id = session_peer_id(sess);
	int32_t holder = server_peer_index_get(&s->peer_index, from, from_len);

	peer->float_reported = false;
	if (dchan_is_peer(peer->dc, from, from_len) || (holder >= 0 && (uint32_t)holder != id))
		return; /* already there (reported twice), or another client's address by now */

	memcpy(&was, session_peer(sess), peer_len(session_peer(sess)));
	session_float(sess, from, from_len);
	if (!session_is_peer(sess, from, from_len))
		return;
	server_peer_index_del(&s->peer_index, (struct sockaddr *)&was,
			      peer_len((struct sockaddr *)&was), id);
	(void)!server_peer_index_put(&s->peer_index, from, from_len, id);
}

/*
 * Opens a data packet in place; one from a new address is a float, which a
 * worker reports to the main thread (once per address it sees).
 */
static int open_data(struct server *s, struct dataplane *dp, struct dp_peer *peer, uint8_t *buf,
		     size_t len, const struct arrival *a, bool *ping)
{
	int n = dchan_open(peer->dc, buf, len, ev_now(dp->loop), ping);

	if (n < 0 || a->via || dchan_is_peer(peer->dc, a->from, a->from_len))
		return n;
	if (!server_on_worker())
		server_follow_float(s, peer, a->from, a->from_len);
	else if (!peer->float_reported)
		peer->float_reported = server_hand_to_main(dp, HANDOFF_FLOAT, peer->dc->peer_id,
							   NULL, 0, NULL, a->from, a->from_len);
	return n;
}

/* Whether a client's packets travel over IPv6 (an IPv4-mapped address is IPv4). */
static bool outer_ipv6(const struct dp_peer *peer)
{
	const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&peer->dc->peer;

	return a->sin6_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&a->sin6_addr);
}

void server_clamp_mss(const struct server *s, const struct dp_peer *peer, uint8_t *p, size_t len)
{
	const struct mssfix *m = &s->mss[peer && peer->epoch_data][!peer || outer_ipv6(peer)];

	if (!s->params.mssfix)
		return;
	if (s->params.tap)
		(void)mssfix_clamp_frame(m, p, len);
	else
		(void)mssfix_clamp(m, p, len);
}

/* A frame carries its Ethernet header beyond the MTU (tagged frames are refused, tapcheck.c). */
enum { SERVER_FRAME_HEADER_MAX = 14 };

/*
 * Larger than the device's MTU: the device would refuse it, and a client
 * whose MTU is over ours must not make us send others (client_to_client)
 * or a TCP frame what they cannot take.
 */
static bool over_device_mtu(const struct server *s, size_t len)
{
	size_t max = s->params.device_mtu + (s->params.tap ? SERVER_FRAME_HEADER_MAX : 0);

	return s->params.device_mtu && len > max;
}

/*
 * Takes a client's compression framing off its packet (len bytes at *buf +
 * DATA_OVERHEAD): in place, or decompressed into the lane, *buf then
 * pointing there. The packet's length, or -1 when it was dropped.
 */
static int unframe(struct dataplane *dp, const struct dchan *dc, uint8_t **buf, size_t len)
{
	bool at_out;
	int n;

	if (dc->framing == COMPFRAME_NONE)
		return (int)len;
	n = compframe_unframe(dc->framing, *buf + DATA_OVERHEAD, len,
			      dp->lane.inflated + DATA_OVERHEAD, VNET_PACKET_MAX_BYTES, &at_out);
	if (n <= 0) {
		dp->stats.dropped_compression++;
		return -1;
	}
	if (at_out)
		*buf = dp->lane.inflated;
	return n;
}

/* A data packet: found by its peer-id, opened in place, delivered to the device. */
static void handle_data(struct server *s, struct dataplane *dp, const struct arrival *a,
			uint8_t *buf, size_t len)
{
	struct dp_peer *peer;
	struct proto_data d;
	bool ping;
	int n;

	/* A worker opens only its own clients' packets (its socket gets no others, steer.h). */
	if (proto_decode_data(&d, buf, len) != 0 || d.opcode != P_DATA_V2 ||
	    !(peer = server_peer(s, d.peer_id)) ||
	    (server_on_worker() && &s->dps[server_worker_of(s, d.peer_id)] != dp)) {
		dp->stats.dropped_no_session++;
		return;
	}
	if (is_taken(s, peer->sess, a) || s->conns[d.peer_id] != a->via) {
		dp->stats.dropped_float++; /* another client's address, or not its transport */
		return;
	}
	n = open_data(s, dp, peer, buf, len, a, &ping);
	if (n < 0) {
		if (n == DATA_EREPLAY)
			dp->stats.dropped_replay++;
		else
			dp->stats.dropped_data_auth++;
		return;
	}
	dp->stats.data_in++;
	dp->stats.data_bytes_in += (uint64_t)n;
	if (ping || n == 0 || (n = unframe(dp, peer->dc, &buf, (size_t)n)) < 0)
		return;
	if (over_device_mtu(s, (size_t)n)) {
		dp->stats.dropped_too_big++;
		return;
	}
	if (server_worker_cannot(s, dp, d.peer_id))
		server_hand_to_main(dp, HANDOFF_FROM_CLIENT, d.peer_id, buf, (size_t)n, NULL, NULL,
				    0);
	else
		server_client_packet(s, dp, peer, buf, (size_t)n);
}

/* A client's packet (len bytes at buf + DATA_OVERHEAD), opened: checked, judged, delivered. */
void server_client_packet(struct server *s, struct dataplane *dp, struct dp_peer *peer,
			  uint8_t *buf, size_t len)
{
	uint32_t id = peer->dc->peer_id;

	if (s->params.tap) {
		server_tap_from_client(s, dp, peer, buf, len);
		return;
	}
	if (!dp_peer_owns_source(peer, buf + DATA_OVERHEAD, len) &&
	    !from_own_subnet(s, id, buf + DATA_OVERHEAD, len)) {
		dp->stats.dropped_spoofed++;
		return;
	}
	server_clamp_mss(s, peer, buf + DATA_OVERHEAD, len);
	if (!server_policy_passes(s, dp, peer, buf + DATA_OVERHEAD, len, POLICY_IN, false))
		return;
	if (s->params.client_to_client && forward_to_client(s, dp, peer, buf, len))
		return;
	s->params.hooks.deliver(s->params.hooks.ctx, id, buf + DATA_OVERHEAD, len);
}

/*
 * A client restarted on the same address and port: its new hard reset, or
 * the packet echoing the new cookie under a session id that is not the one
 * of the session we have. The old session never sees either, so without
 * this the client is locked out until ping-restart ends the old one; with
 * it, handle_control checks the cookie and open_session replaces the old
 * session. A replay of the old session's own opening packet keeps its id
 * and still goes to the session.
 */
static bool starts_new_session(const struct session *sess, const struct proto_control *ctl)
{
	if (ctl->opcode == P_CONTROL_HARD_RESET_CLIENT_V2)
		return true;
	return cookie_opens_session(ctl) && !proto_sid_equal(&ctl->sid, session_remote_sid(sess));
}

/*
 * A control packet dropped before it reached a session, with the reason, in
 * one rate-limited place: a client that cannot connect is explained in the
 * log, a flood costs a few lines.
 */
void server_drop_unwrap(struct server *s, const struct arrival *a, const char *why)
{
	char who[UDP_ADDR_TEXT_MAX];

	s->stats.dropped_unwrap++;
	log_ratelimited(s->log, LOG_INFO, "server", "%s: control packet dropped: %s",
			udp_addr_format(a->from, who, sizeof(who)), why);
}

void server_handle_datagram(struct server *s, struct dataplane *dp, const struct arrival *a,
			    uint8_t *buf, size_t len)
{
	dp->stats.packets_in++;
	dp->stats.bytes_in += len;
	if (len == 0)
		return;
	if (!proto_is_control(proto_opcode(buf[0]))) {
		handle_data(s, dp, a, buf, len);
		return;
	}
	if (!server_on_worker()) {
		server_handle_control_packet(s, dp, a, buf, len);
		return;
	}
	/* A worker: UDP's go to the main thread's socket (steer.h), a TCP client's are handed. */
	if (a->via)
		(void)server_hand_control_to_main(dp, a, buf, len); /* counted if dropped */
	else
		dp->stats.dropped_malformed++;
}

void server_handle_control_packet(struct server *s, struct dataplane *dp, const struct arrival *a,
				  uint8_t *buf, size_t len)
{
	uint8_t plain[SERVER_PACKET_MAX];
	const struct wrap *w = &s->wrap;
	struct proto_control ctl;
	struct session *sess;
	uint32_t pid, t;
	uint8_t op;
	int n;

	if (len > SERVER_PACKET_MAX) {
		dp->stats.dropped_malformed++; /* 2.6 drops control packets this large too */
		return;
	}
	sess = find_session(s, a);
	op = proto_opcode(buf[0]);
	if (op == P_CONTROL_HARD_RESET_CLIENT_V3 || op == P_CONTROL_WKC_V1) {
		server_tls_crypt_v2_handle(s, a, sess, buf, len);
		return;
	}
	/* A tls-crypt-v2 client's session has its own key, its renegotiations with dynamic
	 * tls-crypt theirs; a new hard reset never does. */
	if (sess && op != P_CONTROL_HARD_RESET_CLIENT_V2 &&
	    (session_wrap(sess)->client_key ||
	     session_control_wrap(sess, proto_key_id(buf[0]))->dynamic)) {
		w = session_control_wrap(sess, proto_key_id(buf[0]));
	} else if (s->wrap.mode == WRAP_NONE && s->wrap.v2) {
		server_drop_unwrap(
			s, a,
			"not a tls-crypt-v2 client, and with tls_crypt_v2 set the server takes "
			"only those, tls_crypt and tls_auth ones (the other client needs the "
			"server's tls_crypt or tls_auth key, or a tls-crypt-v2 client key)");
		return;
	}
	n = wrap_open(w, buf, len, plain, sizeof(plain), &pid, &t);
	if (n < 0) {
		server_drop_unwrap(s, a, wrap_failure(w));
		return;
	}
	if (proto_decode_control(&ctl, plain, (size_t)n) != 0) {
		dp->stats.dropped_malformed++;
		return;
	}
	/* A known peer's packets go to its session, except the start of a new one. */
	if (sess && !starts_new_session(sess, &ctl)) {
		if (!server_tls_crypt_v2_waits(s, sess))
			server_session_receive(s, sess, &ctl, pid, t);
		return;
	}
	server_handle_control(s, &ctl, a, pid, t, &s->wrap, NULL);
}

/* The dataplane of socket i of the group: 0 the main loop's, then each worker's. */
static struct dataplane *socket_dp(struct server *s, uint32_t i)
{
	if (!s->group)
		return &s->dps[i];
	return i == 0 ? s->main_dp : &s->dps[i - 1];
}

/*
 * The UDP socket group (udp_listen_group): the first socket, the server's
 * loop's, takes the control packets (steer.h).
 */
static int open_udp(struct server *s, char *err, size_t errlen)
{
	uint32_t n = s->n_all_dps;
	int *fds = calloc(n, sizeof(*fds)), rc;

	if (!fds) {
		snprintf(err, errlen, "server: out of memory");
		return -ENOMEM;
	}
	rc = udp_listen_group(&s->params.listen, fds, n, err, errlen);
	/* Socket 0 is the main loop's, sockets 1.. the workers' (steer.h). */
	for (uint32_t i = 0; rc == 0 && i < n; i++)
		socket_dp(s, i)->fd = fds[i]; /* each closed by dataplane_free from now on */
	for (uint32_t i = 0; rc == 0 && i < n; i++)
		if ((rc = dataplane_take_socket(socket_dp(s, i), fds[i], s->params.udp_gso,
						s->params.udp_gro)) < 0)
			snprintf(err, errlen, "out of memory for the UDP batches");
	free(fds);
	return rc;
}

const struct udpio_caps *server_udp_caps(const struct server *s)
{
	return server_main_dp(s)->fd >= 0 ? &server_main_dp(s)->udp_caps : NULL;
}

uint32_t server_workers(const struct server *s)
{
	return s->n_dps;
}

void server_worker_stats(const struct server *s, uint32_t k, struct server_worker_stats *out)
{
	const struct udpio_rx *rx = s->dps[k].udp_rx;

	out->peers = s->ids.classes[k].n_live;
	out->datagrams_in = rx ? udpio_rx_stats(rx)->datagrams_in : 0;
	out->handoffs = s->dps[k].stats.handoffs;
	out->to_main = s->dps[k].stats.to_main;
	out->data_in = s->dps[k].stats.data_in;
}

bool server_udp_rx_stats(const struct server *s, struct udpio_rx_stats *out)
{
	const struct udpio_rx_stats *r;

	if (!server_main_dp(s)->udp_rx)
		return false;
	*out = (struct udpio_rx_stats){ 0 };
	for (uint32_t k = 0; k < s->n_all_dps; k++) {
		r = udpio_rx_stats(s->dps[k].udp_rx);
		out->recvmmsg_calls += r->recvmmsg_calls;
		out->datagrams_in += r->datagrams_in;
		out->gro_buffers += r->gro_buffers;
		out->drop_truncated += r->drop_truncated;
		out->errors += r->errors;
	}
	return true;
}

bool server_udp_tx_stats(const struct server *s, struct udpio_tx_stats *out)
{
	if (!server_main_dp(s)->udp_tx)
		return false;
	*out = (struct udpio_tx_stats){ 0 };
	for (uint32_t k = 0; k < s->n_all_dps; k++) {
		const struct udpio_tx_stats *t = udpio_tx_stats(s->dps[k].udp_tx);

		out->sendmmsg_calls += t->sendmmsg_calls;
		out->datagrams_out += t->datagrams_out;
		out->gso_messages += t->gso_messages;
		out->drop_busy += t->drop_busy;
		out->drop_error += t->drop_error;
		out->drop_bad += t->drop_bad;
		out->gso_too_big += t->gso_too_big;
		out->gso_disabled |= t->gso_disabled; /* a socket whose GSO was turned off */
	}
	return true;
}

/*
 * A filter for each worker's clients (each judges its own, docs/workers.md),
 * with its share of the flow table and of the flows that may wait for on.flow.
 */
static int filters_init(struct server *s, const struct filter_settings *all)
{
	struct filter_settings mine = *all;

	mine.max_flows = (all->max_flows + s->n_dps - 1) / s->n_dps;
	mine.pending_max = (all->pending_max + s->n_dps - 1) / s->n_dps;
	for (uint32_t k = 0; k < s->n_dps; k++)
		if (filter_init(&s->dps[k].filter, &mine, s->max_clients, &s->hash_key) < 0)
			return -ENOMEM;
	return 0;
}

/* A dataplane for each worker, with its scratch (the sockets come with open_udp). */
static int dataplanes_init(struct server *s, uint32_t workers)
{
	uint32_t all = s->group ? workers + 1 : workers;

	if (!(s->dps = calloc(all, sizeof(*s->dps))))
		return -ENOMEM;
	s->n_dps = workers;
	s->main_dp = &s->dps[s->group ? workers : 0];
	for (uint32_t k = 0; k < all; k++) {
		struct ev_loop *loop =
			s->group && k < workers ? loop_group_loop(s->group, k) : s->loop;

		s->n_all_dps++;
		if (dataplane_init(&s->dps[k], s, loop, s->params.tap) < 0)
			return -ENOMEM;
	}
	return 0;
}

static void dataplanes_free(struct server *s)
{
	for (uint32_t k = 0; k < s->n_all_dps; k++) {
		if (k < s->n_dps) /* the main thread's own dataplane judges with the owners' */
			filter_free(&s->dps[k].filter);
		dataplane_peers_free(&s->dps[k]);
		dataplane_free(&s->dps[k]);
	}
	free(s->dps);
	s->dps = NULL;
	s->n_dps = 0;
	s->n_all_dps = 0;
}

/*
 * The tables by peer-id, for max_clients: calloc, so that the pages of
 * slots never used stay untouched (an idle server with room for 65,535
 * clients costs little more than one with room for 1,024).
 */
static int slots_init(struct server *s, uint32_t n, uint32_t workers)
{
	s->max_clients = n;
	s->sessions = calloc(n, sizeof(*s->sessions));
	s->vpn_addrs = calloc(n, sizeof(*s->vpn_addrs));
	s->client_subnets = calloc(n, sizeof(*s->client_subnets));
	s->conns = calloc(n, sizeof(*s->conns));
	s->held = calloc(n, sizeof(*s->held));
	if (!s->sessions || !s->vpn_addrs || !s->client_subnets || !s->conns || !s->held ||
	    halfopen_init(&s->half_open, n) < 0 || peer_ids_init_workers(&s->ids, n, workers) < 0 ||
	    server_addr_index_init(&s->routes.vpn, &s->hash_key, 2 * (size_t)n) < 0 ||
	    server_addr_index_init(&s->peer_index, &s->hash_key, n) < 0 ||
	    route_table_init(&s->routes.subnets, n > ROUTE_MAX ? n : ROUTE_MAX, &s->hash_key) < 0)
		return -ENOMEM;
	for (uint32_t k = 0; k < s->n_dps; k++)
		if (dataplane_peers_init(&s->dps[k], k, workers, n) < 0)
			return -ENOMEM;
	return 0;
}

static void slots_free(struct server *s)
{
	server_addr_index_free(&s->routes.vpn);
	server_addr_index_free(&s->peer_index);
	route_table_free(&s->routes.subnets);
	peer_ids_free(&s->ids);
	free(s->sessions);
	free(s->vpn_addrs);
	free(s->client_subnets);
	free(s->conns);
	free(s->held);
	halfopen_free(&s->half_open);
}

/* Frees what server_open got so far (each part is safe to free unset); returns rc. */
static int open_failed(struct server *s, int rc)
{
	server_tcp_free(s);
	server_threads_free(s);
	dataplanes_free(s);
	server_tap_free(s);
	slots_free(s);
	free(s);
	return rc;
}

int server_open(struct server **out, struct ev_loop *loop, const struct log *lg,
		const struct crypto *c, const struct server_params *params, char *err,
		size_t errlen)
{
	uint32_t max_clients = params->max_clients ? params->max_clients : SERVER_CLIENTS_DEFAULT;
	uint32_t workers = params->group ? loop_group_size(params->group) : 1;
	struct server *s;
	int rc;

	if (max_clients > SERVER_CLIENTS_LIMIT) {
		snprintf(err, errlen, "max_clients: %u is too many: 1 to %d", max_clients,
			 SERVER_CLIENTS_LIMIT);
		return -EINVAL;
	}
	if ((params->workers > 1 && !params->group) || params->workers > workers) {
		snprintf(err, errlen, "workers: %u need as many threads (server_params.group)",
			 params->workers);
		return -EINVAL;
	}
	if (workers + 1 > STEER_SOCKETS_MAX || workers > max_clients) {
		snprintf(err, errlen, "workers: %u is too many: 1 to %u (and at most max_clients)",
			 workers, (unsigned)STEER_SOCKETS_MAX - 1);
		return -EINVAL;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		snprintf(err, errlen, "server: out of memory");
		return -ENOMEM;
	}
	s->loop = loop;
	s->group = params->group;
	server_trim_init(s);
	s->log = lg;
	s->crypto = c;
	s->params = *params;
	s->wrap = *params->wrap;
	s->params.wrap = &s->wrap;
	s->session_ops = (struct session_ops){
		.send = on_session_send,
		.connect = on_session_connect,
		.ended = on_session_ended,
		.cr_response = on_session_cr_response,
		.reauth = on_session_reauth,
		.state = on_session_state,
	};
	s->started = (uint32_t)time(NULL);
	if (dataplanes_init(s, workers) < 0) {
		snprintf(err, errlen, "server: out of memory");
		return open_failed(s, -ENOMEM);
	}
	if (cookie_key_init(&s->cookie, SERVER_HAND_WINDOW_SECONDS) < 0 ||
	    siphash_key_init(&s->hash_key) < 0) {
		snprintf(err, errlen, "server: the random number generator failed");
		return open_failed(s, -EIO);
	}
	srclimit_init(&s->reset_sources, &s->hash_key, SERVER_RESET_SOURCE_RATE,
		      SERVER_RESET_SOURCE_BURST);
	if (slots_init(s, max_clients, workers) < 0) {
		snprintf(err, errlen, "out of memory for the tables of %u clients (max_clients)",
			 max_clients);
		return open_failed(s, -ENOMEM);
	}
	if (filters_init(s, &params->filter) < 0) {
		snprintf(err, errlen, "out of memory for the flow table (%zu flows)",
			 params->filter.max_flows);
		return open_failed(s, -ENOMEM);
	}
	for (int epoch = 0; epoch < 2; epoch++)
		for (int v6 = 0; v6 < 2; v6++)
			mssfix_init(&s->mss[epoch][v6], params->mssfix, v6, params->tap,
				    data_overhead(epoch));
	if (params->tap && server_tap_init(s) < 0) {
		snprintf(err, errlen, "server: out of memory");
		return open_failed(s, -ENOMEM);
	}
	batch_init(&s->asker, loop, ask, s);
	for (uint32_t k = 0; k < s->n_dps; k++) {
		s->dps[k].filter.gateway4 = params->gateway4;
		s->dps[k].filter.gateway6 = params->gateway6;
	}
	if (s->group && server_threads_open(s) < 0) {
		snprintf(err, errlen, "server: out of memory");
		return open_failed(s, -ENOMEM);
	}
	if (params->udp && (rc = open_udp(s, err, errlen)) < 0)
		return open_failed(s, rc);
	if (params->tcp && (rc = server_tcp_open(s, &params->listen_tcp, err, errlen)) < 0)
		return open_failed(s, rc);
	for (uint32_t k = 0; k < s->n_all_dps; k++)
		dataplane_start(&s->dps[k]);
	*out = s;
	return 0;
}

/* Every field of struct server_stats is a uint64_t counter, so two add up as arrays. */
_Static_assert(sizeof(struct server_stats) % sizeof(uint64_t) == 0,
	       "struct server_stats holds uint64_t counters only");

static void add_counters(struct server_stats *into, const struct server_stats *from)
{
	uint64_t *a = (uint64_t *)into;
	const uint64_t *b = (const uint64_t *)from;

	for (size_t i = 0; i < sizeof(*into) / sizeof(uint64_t); i++)
		a[i] += b[i];
}

void server_stats(const struct server *s, struct server_stats *out)
{
	*out = s->stats;
	for (uint32_t k = 0; k < s->n_all_dps; k++)
		add_counters(out, &s->dps[k].stats);
}

void server_set_credentials(struct server *s, const struct wrap *wrap, struct tls_ctx *tls,
			    const char *const *ciphers, size_t n_ciphers)
{
	wrap_clear(&s->wrap);
	s->wrap = *wrap;
	s->params.tls = tls;
	s->params.ciphers = ciphers;
	s->params.n_ciphers = n_ciphers;
	server_tls_crypt_v2_recheck(s);
}

struct session *server_find_by_vpn_addr(const struct server *s, const struct ip_addr *addr)
{
	int32_t id = server_addr_index_get(&s->routes.vpn, addr);

	return id < 0 ? NULL : s->sessions[id];
}

/*
 * The client (*id) a packet read on dp goes to, by its destination dst;
 * NULL when no client has dst (counted).
 */
static const struct dp_peer *route(struct server *s, struct dataplane *dp,
				   const struct ip_addr *dst, uint32_t *id)
{
	int32_t found = server_routes_find(s, dst);
	const struct dp_peer *to = found < 0 ? NULL : server_peer(s, (uint32_t)found);

	if (!to) {
		dp->stats.dropped_no_route++;
		return NULL;
	}
	*id = (uint32_t)found;
	return to;
}

void server_route_from_device(struct server *s, uint32_t queue, uint8_t *pkt, size_t len)
{
	struct dataplane *dp = &s->dps[queue < s->n_dps ? queue : 0];
	const struct dp_peer *to;
	struct ip_addr dst;
	uint32_t id;

	if (s->params.tap && server_on_worker()) {
		server_hand_to_main(dp, HANDOFF_FROM_DEVICE, 0, pkt, len, NULL, NULL, 0);
		return;
	}
	if (s->params.tap) {
		server_tap_from_device(s, dp, pkt, len);
		return;
	}
	if (!ip_packet_addr(pkt + DATA_OVERHEAD, len, false, &dst)) {
		dp->stats.dropped_no_route++;
		return;
	}
	if (!(to = route(s, dp, &dst, &id)))
		return;
	if (server_worker_cannot(s, dp, id)) {
		server_hand_to_main(dp, HANDOFF_FROM_DEVICE, id, pkt, len, NULL, NULL, 0);
		return;
	}
	dp = server_owner_dp(s, dp, id);
	server_clamp_mss(s, to, pkt + DATA_OVERHEAD, len);
	if (server_policy_passes(s, dp, to, pkt + DATA_OVERHEAD, len, POLICY_OUT, false))
		send_to(s, dp, to, pkt, len);
}

/*
 * A TSO/USO superpacket from the device (pkt, len: its IP packet): routed
 * and judged once for all its segments (they share the flow), then cut
 * into segments, each sealed as an ordinary data packet for the client.
 */
void server_route_superpacket(struct server *s, uint32_t queue, const struct vnet_hdr *h,
			      const uint8_t *pkt, size_t len)
{
	struct dataplane *dp = &s->dps[queue < s->n_dps ? queue : 0];
	const struct dp_peer *to;
	struct vnet_split sp;
	struct ip_addr dst;
	uint32_t id;

	if (!ip_packet_addr(pkt, len, false, &dst)) {
		dp->stats.dropped_no_route++;
		return;
	}
	if (!(to = route(s, dp, &dst, &id)))
		return;
	if (server_worker_cannot(s, dp, id)) {
		server_hand_to_main(dp, HANDOFF_SUPERPACKET, id, pkt, len, h, NULL, 0);
		return;
	}
	dp = server_owner_dp(s, dp, id);
	if (!server_policy_passes(s, dp, to, pkt, len, POLICY_OUT, false))
		return;
	if (vnet_split_init(&sp, h, pkt, len) < 0) {
		dp->stats.dropped_device_malformed++;
		return;
	}
	send_segments(s, dp, to, &sp);
}

size_t server_session_count(const struct server *s)
{
	return peer_ids_count(&s->ids);
}

uint32_t server_max_clients(const struct server *s)
{
	return s->max_clients;
}

struct session *server_find(const struct server *s, uint32_t peer_id)
{
	return peer_id < s->max_clients ? s->sessions[peer_id] : NULL;
}

size_t server_client_subnets(const struct server *s, uint32_t peer_id,
			     const struct ip_prefix **prefixes)
{
	const struct client_subnets *cs =
		peer_id < s->max_clients ? s->client_subnets[peer_id] : NULL;

	*prefixes = cs ? cs->prefix : NULL;
	return cs ? cs->n : 0;
}

/* The i-th live slot's session: one lookup (a walk over the slots made every walk over the
 * clients quadratic). */
struct session *server_session(const struct server *s, size_t i)
{
	return i < peer_ids_count(&s->ids) ? s->sessions[peer_ids_at(&s->ids, (uint32_t)i)] : NULL;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	for (uint32_t k = 0; k < s->n_all_dps; k++)
		dataplane_stop(&s->dps[k]);
	server_threads_free(s); /* what workers handed over and was not handled yet */
	batch_stop(&s->asker);
	while (peer_ids_count(&s->ids)) {
		struct session *sess = s->sessions[peer_ids_at(&s->ids, 0)];

		session_notify_exit(sess);
		server_end_session(s, sess, "the server stops");
	}
	server_trim_stop(s); /* after the sessions: each ending armed it */
	server_tcp_free(s);
	dataplanes_free(s); /* the RESTART messages to clients leave first */
	server_tap_free(s);
	wrap_clear(&s->wrap);
	crypto_wipe(&s->cookie, sizeof(s->cookie));
	slots_free(s);
	free(s);
}
