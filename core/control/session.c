// SPDX-License-Identifier: MIT
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "compframe.h"
#include "keymethod.h"
#include "keystate.h"
#include "ncp.h"
#include "pushopts.h"
#include "replay.h"
#include "session.h"
#include "session_impl.h"
#include "tlscryptv2.h"
#include "udp.h"

enum {
	/* UDP payload of a control packet stays within 1250 bytes, as 2.6's tls-mtu;
	 * 48 bytes are kept for IP/UDP headers as 2.6 does. */
	CONTROL_PACKET_MAX = 1250 - 48,
	CONTROL_HEADER_MAX = PROTO_HEADER_LEN + 1 + 4 * 4 + PROTO_SID_LEN + 4,
	PIGGYBACK_ACKS_MAX = 4,
	AUTH_FAILED_LINGER_SECONDS = 5, /* time for AUTH_FAILED to arrive before we go */
	KICK_LINGER_SECONDS = 2,	/* and for HALT or RESTART */
	PUSH_REQUEST_SECONDS = 5,	/* a client repeats PUSH_REQUEST until answered, as 2.6 */
	NO_KEY = -1,
	/* TLS output waiting for the peer's acks; a peer that never acks cannot grow it. */
	TLS_BACKLOG_MAX = 64 * 1024,
	/* The previous key decrypts for this long after the switch (packets in flight). */
	LAME_DUCK_SECONDS = 60,
	/* The peer still sends with the previous key if it opened a packet this recently
	 * (packets in flight when it switched are not worth a renegotiation's delay). */
	PEER_SWITCH_SECONDS = 1,
};

static const char EKM_LABEL[] = "EXPORTER-OpenVPN-datakeys";

static ev_tstamp now(const struct session *s)
{
	return ev_now(s->p.loop);
}

static bool is_client(const struct session *s)
{
	return s->client != NULL;
}

/*
 * What the session's state lets the data channel do: seal once the client
 * is admitted (ACTIVE), open from the key exchange on except while the
 * hooks decide (AUTH) or the session closes; a refused client gets neither.
 */
static void update_gates(struct session *s)
{
	bool open = s->state != SESSION_CLOSING && s->state != SESSION_AUTH && !s->refused;

	dchan_set_gates(s->dc, open && s->state == SESSION_ACTIVE, open);
}

static void set_state(struct session *s, enum session_state st)
{
	s->state = st;
	update_gates(s);
	if (s->p.ops->state)
		s->p.ops->state(s->p.ctx, s);
}

static struct key_state *current_ks(struct session *s)
{
	return &s->ks[s->current];
}

static struct key_state *find_ks(struct session *s, uint8_t key_id)
{
	for (int i = 0; i < 2; i++)
		if (s->ks[i].phase != KEY_PHASE_EMPTY && s->ks[i].key_id == key_id)
			return &s->ks[i];
	return NULL;
}

/*
 * A key older than the renegotiation interval plus the hand-window opens and
 * seals nothing more: a renegotiation that keeps failing (a certificate
 * revoked or expired since) cannot keep the old key alive for ever. Our own
 * renegotiation starts at the interval, so a healthy peer never meets this.
 */
static bool key_expired(const struct session *s, const struct key_state *ks)
{
	return s->reneg_seconds &&
	       ev_now(s->p.loop) - ks->started >= s->reneg_seconds + SESSION_HAND_WINDOW_SECONDS;
}

/* The session's name in logs, again when its address or certificate changed; false: no memory. */
static bool update_who(struct session *s)
{
	char addr[UDP_ADDR_TEXT_MAX], who[UDP_ADDR_TEXT_MAX + TLS_CN_MAX + 8], *copy;
	const char *cn = tls_session_peer_cn(s->ks[0].tls ? s->ks[0].tls : current_ks(s)->tls);

	udp_addr_format((const struct sockaddr *)&s->peer, addr, sizeof(addr));
	snprintf(who, sizeof(who), cn[0] ? "%s (%s)" : "%s", addr, cn);
	if (s->who && strcmp(s->who, who) == 0)
		return true;
	if (!(copy = strdup(who)))
		return false; /* the old name stays */
	free(s->who);
	s->who = copy;
	return true;
}

/*
 * What a tls-crypt-v2 client sends its message msg_id of ks as: when the
 * server's reset asked for our key again, message 1 of key 0 (the first
 * after that reset) goes as P_CONTROL_WKC_V1, as 2.6 clients send it
 * (ssl.c, control_packet_needs_wkc): the server kept nothing of us, and
 * reads our key from it again. Every other packet as it was queued.
 */
static uint8_t wire_opcode(const struct session *s, const struct key_state *ks, uint8_t opcode,
			   uint32_t msg_id)
{
	if (opcode == P_CONTROL_V1 && msg_id == 1 && ks->key_id == 0 && is_client(s) &&
	    s->client->resend_wkc)
		return P_CONTROL_WKC_V1;
	return opcode;
}

/* A tls-crypt-v2 client's hard reset and P_CONTROL_WKC_V1 end with its wrapped key. */
static bool carries_wkc(const struct session *s, uint8_t opcode)
{
	return is_client(s) && s->client->wkc_len &&
	       (opcode == P_CONTROL_HARD_RESET_CLIENT_V3 || opcode == P_CONTROL_WKC_V1);
}

/* Encodes, wraps and sends one control packet of a key state, with as many acks as fit. */
static void send_packet(struct session *s, struct key_state *ks, uint8_t opcode, uint32_t msg_id,
			const uint8_t *payload, size_t len, size_t max_acks)
{
	uint8_t plain[RELIABLE_PAYLOAD_MAX + CONTROL_HEADER_MAX];
	uint8_t wire[sizeof(plain) + 128 + TLSCRYPTV2_WKC_MAX];
	struct proto_control c = { .opcode = wire_opcode(s, ks, opcode, msg_id),
				   .key_id = ks->key_id,
				   .sid = s->local_sid,
				   .msg_id = msg_id,
				   .payload = payload,
				   .payload_len = len };
	size_t n;
	int w;

	c.n_acks = (uint8_t)reliable_take_acks(&ks->rel, c.acks, max_acks);
	if (c.n_acks)
		c.remote_sid = s->remote_sid;
	n = proto_encode_control(plain, sizeof(plain), &c);
	w = n ? wrap_seal(session_control_wrap(s, ks->key_id), plain, n,
			  session_control_next_id(s, ks->key_id), s->p.replay_time, wire,
			  sizeof(wire))
	      : -1;
	if (w > 0 && carries_wkc(s, c.opcode)) {
		memcpy(wire + w, s->client->wkc, s->client->wkc_len);
		w += (int)s->client->wkc_len;
	}
	if (w > 0)
		s->p.ops->send(s->p.ctx, s, wire, (size_t)w);
}

/* TLS ciphertext into the send window, in fragments that keep packets small. */
static void queue_tls_output(struct session *s, struct key_state *ks)
{
	size_t fragment = CONTROL_PACKET_MAX - CONTROL_HEADER_MAX -
			  wrap_overhead(session_control_wrap(s, ks->key_id));
	uint8_t buf[RELIABLE_PAYLOAD_MAX];

	while (reliable_can_queue(&ks->rel) && tls_session_pending_ciphertext(ks->tls) > 0) {
		/* A packet that carries our wrapped key (at most TLSCRYPTV2_WKC_MAX bytes)
		 * keeps to the same size: fragment is larger than the longest key. */
		size_t room = carries_wkc(s, wire_opcode(s, ks, P_CONTROL_V1, ks->rel.next_send_id))
				      ? fragment - s->client->wkc_len
				      : fragment;
		size_t n = tls_session_get_ciphertext(ks->tls, buf, room);

		if (!n ||
		    reliable_queue(&ks->rel, P_CONTROL_V1, buf, n, (uint64_t)(now(s) * 1000)) < 0)
			break;
	}
}

/* Sends what is due for one key state: (re)transmissions with acks, else a bare ack. */
static void flush_key_state(struct session *s, struct key_state *ks)
{
	const struct reliable_out *o;
	uint64_t ms = (uint64_t)(now(s) * 1000);
	bool sent = false;

	queue_tls_output(s, ks);
	while ((o = reliable_next_transmit(&ks->rel, ms))) {
		send_packet(s, ks, o->opcode, o->msg_id, o->payload, o->len, PIGGYBACK_ACKS_MAX);
		sent = true;
	}
	if (!sent && reliable_has_unsent_acks(&ks->rel))
		send_packet(s, ks, P_ACK_V1, 0, NULL, 0, PROTO_ACKS_MAX);
}

static void schedule(struct session *s);

/* Clears a key state; its data key, if it had one, leaves the data channel. */
static void drop_key_state(struct session *s, struct key_state *ks)
{
	enum dchan_slot slot = dchan_find(s->dc, ks->key_id);

	if (ks->phase == KEY_PHASE_READY && slot != DCHAN_SLOTS)
		dchan_retire(s->dc, slot);
	key_state_clear(ks);
}

/*
 * After a renegotiation, data moves to the new key once our key-method-2
 * message is acked: the client has the new keys by then. The old key stays
 * for decryption (lame duck) until the next renegotiation replaces it.
 */
static void switch_key_if_ready(struct session *s)
{
	struct key_state *next = s->next == NO_KEY ? NULL : &s->ks[s->next];

	if (!next || next->phase != KEY_PHASE_READY || reliable_in_flight(&next->rel) > 0)
		return;
	s->current = s->next;
	s->next = NO_KEY;
	dchan_promote(s->dc);
	s->lame_duck_until = now(s) + LAME_DUCK_SECONDS;
	if (s->p.renegotiations)
		(*s->p.renegotiations)++;
	log_info(s->p.log, "session", "%s: renegotiated: data now on key %u", s->who, next->key_id);
}

/*
 * An established key state whose control channel went quiet gives back
 * what only its handshake needed (the reliability layer already freed its
 * payloads): its TLS ciphertext buffers, and once the session is active
 * and the key in use (nothing more to export from it), OpenSSL's SSL
 * object itself: the TLS 1.3 records that still come and go (pushes,
 * token renewals, RESTART, HALT, EXIT) are sealed and opened by tlsrec.c.
 * What an idle client costs is what stays.
 */
static void slim_if_quiet(struct session *s, struct key_state *ks)
{
	if (ks->phase == KEY_PHASE_EMPTY || ks->phase == KEY_PHASE_TLS ||
	    reliable_held_bytes(&ks->rel) != 0)
		return;
	if (ks->phase == KEY_PHASE_READY && s->state == SESSION_ACTIVE && !s->answer_due &&
	    !tls_session_parked(ks->tls) && tls_session_park(ks->tls))
		log_debug(s->p.log, "session", "%s: key %u quiet: its TLS session parked", s->who,
			  ks->key_id);
	tls_session_trim(ks->tls);
}

static void flush(struct session *s)
{
	for (int i = 0; i < 2; i++)
		if (s->ks[i].phase != KEY_PHASE_EMPTY)
			flush_key_state(s, &s->ks[i]);
	switch_key_if_ready(s);
	for (int i = 0; i < 2; i++)
		slim_if_quiet(s, &s->ks[i]);
	schedule(s);
}

/* Ends the session from the loop, after linger seconds (never from inside a call chain). */
static void close_later(struct session *s, double linger, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void close_later(struct session *s, double linger, const char *fmt, ...)
{
	char reason[SESSION_REASON_MAX];
	va_list ap;

	if (s->state == SESSION_CLOSING)
		return;
	set_state(s, SESSION_CLOSING);
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	s->end_reason = strdup(reason);
	s->deadline = now(s) + linger;
	schedule(s);
}

static void schedule(struct session *s)
{
	double wait = s->deadline - now(s);

	if (s->state == SESSION_AUTH && s->auth_deadline && s->auth_deadline - now(s) < wait)
		wait = s->auth_deadline - now(s);

	/* A closing session sends nothing more, but a refused one resends AUTH_FAILED. */
	for (int i = 0; i < 2 && (s->state != SESSION_CLOSING || s->refused); i++) {
		int64_t due = s->ks[i].phase == KEY_PHASE_EMPTY
				      ? -1
				      : reliable_next_due(&s->ks[i].rel, (uint64_t)(now(s) * 1000));

		if (due >= 0 && (double)due / 1000 < wait)
			wait = (double)due / 1000;
	}
	if (wait < 0)
		wait = 0;
	ev_timer_stop(s->p.loop, &s->timer);
	ev_timer_set(&s->timer, wait, 0);
	ev_timer_start(s->p.loop, &s->timer);
}

/* A renegotiation that does not finish within the hand-window is given up; the old key stays. */
static void check_renegotiation_deadline(struct session *s)
{
	struct key_state *next = s->next == NO_KEY ? NULL : &s->ks[s->next];

	if (!next || now(s) - next->started < SESSION_HAND_WINDOW_SECONDS)
		return;
	log_warnx(s->p.log, "session", "%s: renegotiation of key %u did not finish in %d s", s->who,
		  next->key_id, SESSION_HAND_WINDOW_SECONDS);
	drop_key_state(s, next);
	s->next = NO_KEY;
	s->reauth_held = false;
}

/* The previous key stops decrypting once its window is over. */
/*
 * Whether the peer has not moved its sending to the current key yet: it
 * has sent nothing with it, or still sent with the previous key moments
 * ago. The OpenVPN 3 core sends with the previous key for up to 60 s after
 * a renegotiation (proto.hpp, become_primary: min(hand-window, reneg-sec /
 * 2)), 2.6 for up to min(hand-window, reneg-sec / 2) after its own (ssl.c,
 * tls_select_encryption_key). Retiring the key it still sends with, at the
 * end of the lame-duck time or for the next renegotiation, would cut its
 * traffic until it switched; 2.6 servers avoid that by keeping the lame
 * duck for tran-window, an hour. A peer that never switches loses the
 * previous key at its hard lifetime all the same (dchan_usable).
 */
static bool peer_on_previous_key(const struct session *s)
{
	const struct dchan *dc = s->dc;

	return dc->keys[DCHAN_PREVIOUS].live &&
	       (!dc->keys[DCHAN_CURRENT].last_opened ||
		dchan_opened_within(dc, DCHAN_PREVIOUS, now(s), PEER_SWITCH_SECONDS));
}

static void expire_lame_duck(struct session *s)
{
	struct key_state *old = &s->ks[1 - s->current];

	if (s->next != NO_KEY || old->phase == KEY_PHASE_EMPTY || now(s) < s->lame_duck_until ||
	    peer_on_previous_key(s))
		return;
	log_debug(s->p.log, "session", "%s: key %u retired", s->who, old->key_id);
	drop_key_state(s, old);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = w->data;

	(void)loop;
	(void)revents;
	if (s->state == SESSION_AUTH && s->auth_deadline && now(s) >= s->auth_deadline) {
		session_refuse(s, "authentication timed out");
		return;
	}
	if (now(s) >= s->deadline) {
		if (s->state != SESSION_CLOSING) {
			close_later(s, 0,
				    "TLS key negotiation failed to occur within %d seconds "
				    "(hand-window)",
				    SESSION_HAND_WINDOW_SECONDS);
			return;
		}
		s->p.ops->ended(s->p.ctx, s,
				s->end_reason ? s->end_reason : "closed"); /* frees s */
		return;
	}
	check_renegotiation_deadline(s);
	flush(s);
}

/* A control message on the current key state: text plus its NUL, in one TLS record. */
static void send_message(struct session *s, const char *text)
{
	struct key_state *ks = current_ks(s);

	if (tls_session_pending_ciphertext(ks->tls) > TLS_BACKLOG_MAX) {
		close_later(s, 0, "the peer does not acknowledge control packets (%d KiB waiting)",
			    TLS_BACKLOG_MAX / 1024);
		return;
	}
	if (tls_session_write(ks->tls, (const uint8_t *)text, strlen(text) + 1) < 0)
		close_later(s, 0, "TLS write failed: %s", tls_session_error(ks->tls));
}

/* HALT,<reason>: the client stops instead of reconnecting. */
static void send_halt(struct session *s, const char *reason)
{
	char msg[SESSION_REASON_MAX + 8];

	if (s->state != SESSION_ACTIVE && s->state != SESSION_AUTH)
		return;
	snprintf(msg, sizeof(msg), reason[0] ? "HALT,%s" : "HALT", reason);
	send_message(s, msg);
	flush(s);
}

/*
 * A stock 2.6 client whose handshake the server dropped without a word
 * retransmits into the void and restarts only when its hand-window (60 s)
 * runs out. What makes it restart at once: before TLS is up, a TLS fatal
 * alert as the next record of the control channel (its TLS fails, ssl.c's
 * tls_process reports "TLS handshake failed" and the client restarts with
 * SIGUSR1[soft,tls-error] after a pause of a second; once TLS 1.3 encrypts
 * the handshake the plaintext alert is a record of the wrong type, which
 * fails it the same way); once TLS is up (a client waiting for its
 * authentication), the RESTART message (2.6's server_pushed_signal). The
 * packet goes once: the session ends right after, nothing retransmits.
 */
void session_give_up(struct session *s)
{
	/* A TLS record: alert (21), version 3.3, length 2, fatal (2), handshake_failure (40). */
	static const uint8_t alert[] = { 21, 3, 3, 0, 2, 2, 40 };
	struct key_state *ks = current_ks(s);

	if (s->state == SESSION_AUTH || s->state == SESSION_ACTIVE) {
		send_message(s, "RESTART");
		flush(s);
		return;
	}
	if (ks->phase == KEY_PHASE_EMPTY ||
	    reliable_queue(&ks->rel, P_CONTROL_V1, alert, sizeof(alert),
			   (uint64_t)(now(s) * 1000)) < 0)
		return;
	flush_key_state(s, ks);
}

/* Everything we sent on ks reached the peer: no TLS output waits and nothing is unacked. */
static bool all_acked(const struct key_state *ks)
{
	return tls_session_pending_ciphertext(ks->tls) == 0 && reliable_in_flight(&ks->rel) == 0;
}

/*
 * Sends the answer to the client's key exchange (PUSH_REPLY, or AUTH_FAILED
 * once refused), or marks it due. It goes only once the client acknowledged
 * our key-method-2 message, as 2.6 goes active only then (ssl.c, S_ACTIVE
 * once the send window is empty): the OpenVPN 3 core client, still waiting
 * for that ack (C_WAIT_AUTH_ACK), keeps an earlier message undecoded and
 * glues the next one onto it, so PUSH_REPLY sent with our key-method-2 cost
 * it a 3 s timeout and AUTH_FAILED never reached its user.
 */
static void send_answer(struct session *s)
{
	if (!all_acked(current_ks(s))) {
		s->answer_due = true;
		return;
	}
	s->pending_due = false; /* decided: the client waits no longer */
	s->answer_due = false;
	s->answer_sent = true;
	if (s->refused) {
		send_message(s, s->refusal ? s->refusal : "AUTH_FAILED");
		return;
	}
	for (size_t i = 0; i < s->push.n_messages; i++)
		send_message(s, s->push.messages[i]);
}

/*
 * AUTH_PENDING (with its timeout to clients that announce the keyword,
 * IV_PROTO bit 4, as 2.6's send_auth_pending_messages) and INFO_PRE: sent
 * once our key-method-2 is acked, like the answer.
 */
static void send_pending(struct session *s)
{
	char msg[SESSION_PENDING_MAX + 16];

	if (!all_acked(current_ks(s))) {
		s->pending_due = true;
		return;
	}
	s->pending_due = false;
	if (s->iv_proto & IV_PROTO_AUTH_PENDING_KW)
		snprintf(msg, sizeof(msg), "AUTH_PENDING,timeout %u",
			 (unsigned)(s->auth_deadline - now(s) + 0.5));
	else
		snprintf(msg, sizeof(msg), "AUTH_PENDING");
	send_message(s, msg);
	snprintf(msg, sizeof(msg), "INFO_PRE,%s", s->pending);
	send_message(s, msg);
}

bool session_auth_pending(struct session *s, const char *info, unsigned timeout)
{
	char *copy;

	if (s->state != SESSION_AUTH || strlen(info) >= SESSION_PENDING_MAX ||
	    !(copy = strdup(info)))
		return false;
	free(s->pending);
	s->pending = copy;
	s->auth_deadline = now(s) + timeout;
	send_pending(s);
	flush(s);
	return true;
}

/*
 * A client asks for the push (again): answered unless the answer is due
 * already or still on its way (the reliability layer resends it); a client
 * asking after it arrived did not take it, and gets it again.
 */
static void answer_push_request(struct session *s)
{
	if (s->answer_due || (s->answer_sent && !all_acked(current_ks(s)))) {
		log_debug(s->p.log, "session", "%s: PUSH_REQUEST: the answer is on its way",
			  s->who);
		return;
	}
	send_answer(s);
}

/*
 * AUTH_FAILED goes to the client (once it acknowledged our key-method-2)
 * and is resent until acknowledged; the session ends when it was, or after
 * AUTH_FAILED_LINGER_SECONDS.
 */
static void refuse(struct session *s, const char *reason)
{
	char text[SESSION_REASON_MAX + 16];

	snprintf(text, sizeof(text), reason[0] ? "AUTH_FAILED,%s" : "AUTH_FAILED", reason);
	free(s->refusal);
	s->refusal = strdup(text);
	log_warnx(s->p.log, "session", "%s: refused: %s", s->who, reason[0] ? reason : "by policy");
	s->refused = true;
	update_gates(s);
	send_answer(s);
	close_later(s, AUTH_FAILED_LINGER_SECONDS, "authentication failed: %s", reason);
}

/* A refused session lingers for its AUTH_FAILED: acks are taken, and it ends once acked. */
static bool lingers_for_refusal(const struct session *s)
{
	return s->state == SESSION_CLOSING && s->refused;
}

/* The key state's block: TLS-EKM of its own TLS session when negotiated, else the PRF. */
static int derive_keys(struct session *s, struct key_state *ks)
{
	const struct proto_sid *client_sid = is_client(s) ? &s->local_sid : &s->remote_sid;
	const struct proto_sid *server_sid = is_client(s) ? &s->remote_sid : &s->local_sid;
	char err[256];

	if (s->use_ekm)
		return tls_session_export(ks->tls, EKM_LABEL, ks->key_block, sizeof(ks->key_block));
	if (keys_prf_block(s->p.crypto, &ks->client_km, &ks->server_km, client_sid, server_sid,
			   ks->key_block, err, sizeof(err)) < 0) {
		log_error(s->p.log, "session", "%s: %s", s->who, err);
		return -1;
	}
	return 0;
}

/* Answers the client's key-method-2 message with ours and derives the key block. */
static int exchange_keys(struct session *s, struct key_state *ks)
{
	char options[KM2_OPTIONS_MAX];
	uint8_t buf[KM2_MESSAGE_MAX];
	struct km2 server_km = { 0 };
	size_t len;

	if (!km2_options_reply(ks->client_km.options.text ? ks->client_km.options.text : "V4",
			       options, sizeof(options)) ||
	    crypto_random(server_km.random1, KM2_RANDOM_LEN) < 0 ||
	    crypto_random(server_km.random2, KM2_RANDOM_LEN) < 0)
		return -1;
	server_km.options = (struct km2_string){ options, strlen(options) };
	len = km2_encode(buf, sizeof(buf), &server_km);
	ks->server_km = server_km;
	ks->server_km.options = (struct km2_string){ 0 };
	return len && tls_session_write(ks->tls, buf, len) == 0 && derive_keys(s, ks) == 0 ? 0 : -1;
}

/* Installs the data keys of a key state (before PUSH_REPLY: the client sends at once). */
static int install_data_key(struct session *s, struct key_state *ks)
{
	bool renegotiated = s->next != NO_KEY && ks == &s->ks[s->next];
	struct data_key key;
	char err[160];

	if (data_key_init(&key, s->p.crypto, s->cipher, ks->key_block, !is_client(s), s->epoch_data,
			  ks->key_id, err, sizeof(err)) < 0) {
		log_error(s->p.log, "session", "%s: %s", s->who, err);
		return -1;
	}
	dchan_install(s->dc, renegotiated ? DCHAN_NEXT : DCHAN_CURRENT, &key, ks->started);
	ks->phase = KEY_PHASE_READY;
	return 0;
}

static void admit(struct session *s)
{
	set_state(s, SESSION_AUTH);
	s->p.ops->connect(s->p.ctx, s);
}

/* Wipes a key-method-2 message's password where it lies (in client_km_buf). */
static void wipe_password(struct km2 *km)
{
	if (km->password.text)
		crypto_wipe((char *)km->password.text, km->password.len);
	km->password = (struct km2_string){ 0 };
}

/* The password is not kept past the decision. */
static void forget_password(struct session *s)
{
	wipe_password(&current_ks(s)->client_km);
}

/* One more PUSH_REPLY message after the others (an auth-token that did not fit). */
static bool try_append_push(struct session *s, const char *msg)
{
	char *copy;

	if (s->push.n_messages == SESSION_PUSH_MESSAGES_MAX || !(copy = strdup(msg)))
		return false;
	s->push.messages[s->push.n_messages++] = copy;
	if (s->answer_sent)
		send_message(s, copy);
	return true;
}

/*
 * Dynamic tls-crypt, to a client that announces it (IV_PROTO bit 9): the
 * push says so (push.lua), as OpenVPN's multi.c and push.c do. False when
 * the key cannot be had; the session ends.
 */
static bool dyn_tls_crypt_if_announced(struct session *s)
{
	if (!(s->iv_proto & IV_PROTO_DYN_TLS_CRYPT) || session_dyn_tls_crypt_start(s) == 0)
		return true;
	close_later(s, 0, "%s", "cannot derive the dynamic tls-crypt key");
	return false;
}

void session_admit(struct session *s, struct session_push *push)
{
	char token_extra[SESSION_REASON_MAX * 4];

	if (s->state != SESSION_AUTH || !dyn_tls_crypt_if_announced(s)) {
		for (size_t i = 0; i < push->n_messages; i++)
			free(push->messages[i]);
		push->n_messages = 0;
		return;
	}
	forget_password(s);
	set_state(s, SESSION_ACTIVE);
	/* The server's filter holds the client's rules and routes, not the session. */
	memcpy(s->push.messages, push->messages, sizeof(s->push.messages));
	s->push.n_messages = push->n_messages;
	snprintf(s->address, sizeof(s->address), "%s", push->address);
	if (!ip_addr_parse(&s->vpn_addr, s->address))
		memset(&s->vpn_addr, 0, sizeof(s->vpn_addr));
	if (!push->address6[0] || !ip_addr_parse(&s->vpn_addr6, push->address6))
		memset(&s->vpn_addr6, 0, sizeof(s->vpn_addr6));
	memset(push, 0, sizeof(*push));
	session_token_attach(s, token_extra, sizeof(token_extra));
	log_info(s->p.log, "session", "%s: connected, address %s, cipher %s, keys by %s%s", s->who,
		 s->address, s->cipher, s->iv_proto & IV_PROTO_TLS_KEY_EXPORT ? "TLS-EKM" : "PRF",
		 s->epoch_data ? ", epoch data format" : "");
	/* A client that announces REQUEST_PUSH gets the reply without asking (2.6 does so). */
	if (s->iv_proto & IV_PROTO_REQUEST_PUSH)
		send_answer(s);
	if (token_extra[0] && !try_append_push(s, token_extra))
		log_warnx(s->p.log, "session", "%s: no room for the auth-token", s->who);
	flush(s);
}

void session_refuse(struct session *s, const char *reason)
{
	if (s->state != SESSION_AUTH)
		return;
	forget_password(s);
	set_state(s, SESSION_ACTIVE); /* answers PUSH_REQUEST with AUTH_FAILED until it closes */
	refuse(s, reason);
	flush(s);
}

/*
 * The compression framing the client's packets will carry: any client with
 * a compression context (comp-lzo or compress in its profile) says
 * ",comp-lzo" in its options string (OpenVPN's options_string.c). Clients
 * that announce IV_COMP_STUBv2 are pushed `compress stub-v2`, older ones
 * `comp-lzo no`, as 2.6's compress migrate does (multi.c).
 */
static enum compframe framing_of(const struct km2 *client_km)
{
	const char *options = client_km->options.text ? client_km->options.text : "";
	const char *at = strstr(options, ",comp-lzo");
	char stub_v2[4];

	if (!at || (at[9] != ',' && at[9] != '\0'))
		return COMPFRAME_NONE;
	if (km2_peer_info_get(&client_km->peer_info, "IV_COMP_STUBv2", stub_v2, sizeof(stub_v2)) &&
	    strcmp(stub_v2, "1") == 0)
		return COMPFRAME_V2;
	return COMPFRAME_LZO;
}

/* The first key exchange decides the session: features, cipher, admission. */
static void first_key_exchange(struct session *s, struct key_state *ks)
{
	const struct km2_string *info = &ks->client_km.peer_info;
	char value[8];
	const char *cipher;

	s->iv_proto = km2_peer_info_proto(info);
	s->iv_mtu = km2_peer_info_get(info, "IV_MTU", value, sizeof(value));
	s->ncp = km2_peer_info_get(info, "IV_CIPHERS", NULL, 0) ||
		 (km2_peer_info_get(info, "IV_NCP", value, sizeof(value)) && atoi(value) >= 2);
	s->use_ekm = s->iv_proto & IV_PROTO_TLS_KEY_EXPORT;
	dchan_set_framing(s->dc, framing_of(&ks->client_km));
	set_state(s, SESSION_AUTH);
	s->deadline = now(s) + 1e9; /* from here keepalive decides */
	/* Our key-method-2 goes first in any case: a refusal follows it, never replaces it. */
	if (exchange_keys(s, ks) < 0) {
		close_later(s, 0, "%s", "key exchange failed");
		return;
	}
	cipher = ncp_select(s->p.ciphers, s->p.n_ciphers, info, &ks->client_km.options);
	if (!cipher) {
		session_refuse(s, "Data channel cipher negotiation failed (no shared cipher)");
		return;
	}
	snprintf(s->cipher, sizeof(s->cipher), "%s", cipher);
	/* As 2.7 (multi.c): a client that negotiates its cipher and announces the
	 * format gets it; push.lua then adds "aead-epoch" to its protocol-flags.
	 * Every cipher we offer is an AEAD, and the format needs P_DATA_V2. */
	s->epoch_data =
		s->ncp && (s->iv_proto & IV_PROTO_DATA_EPOCH) && (s->iv_proto & IV_PROTO_DATA_V2);
	if (install_data_key(s, ks) < 0) {
		close_later(s, 0, "%s", "cannot install the data keys");
		return;
	}
	/* A token that is not good is refused without on.auth, as OpenVPN does; the
	 * client drops it and comes back with its password (ssl_clean_auth_token). */
	if (s->token_state == TOKEN_EXPIRED)
		session_refuse(s, "SESSION: token expired");
	else if (s->token_state == TOKEN_INVALID || s->token_state == TOKEN_REVOKED)
		session_refuse(s, "SESSION: token not valid");
	else
		admit(s);
}

/* The MAC of a key-method message's username and password (empty when absent). */
static int credentials_mac(const struct session *s, const struct km2 *km,
			   uint8_t out[CRYPTO_SHA256_LEN])
{
	uint8_t buf[2 * (KM2_MESSAGE_MAX + 1)];
	size_t ulen = km->username.text ? km->username.len : 0;
	size_t plen = km->password.text ? km->password.len : 0, n = 0;
	int rc;

	if (ulen + plen + 1 > sizeof(buf))
		return -1;
	memcpy(buf, ulen ? km->username.text : "", ulen);
	buf[ulen] = '\0'; /* "ab" + "c" differs from "a" + "bc" */
	memcpy(buf + ulen + 1, plen ? km->password.text : "", plen);
	rc = crypto_hmac_oneshot("SHA256", s->cred_key, sizeof(s->cred_key), buf, ulen + 1 + plen,
				 out, CRYPTO_SHA256_LEN, &n);
	crypto_wipe(buf, sizeof(buf));
	return rc == 0 && n == CRYPTO_SHA256_LEN ? 0 : -1;
}

/* A renegotiation of a client without a certificate repeats its username and password. */
static bool same_credentials(struct session *s, struct key_state *ks)
{
	uint8_t mac[CRYPTO_SHA256_LEN];
	bool same = credentials_mac(s, &ks->client_km, mac) == 0 &&
		    crypto_equal(mac, s->cred_mac, sizeof(mac));

	wipe_password(&ks->client_km);
	return same;
}

/*
 * The username on.auth decided on is the session's for its whole life: a
 * renegotiation (which asks no hook) cannot bring another one in.
 */
static bool freeze_username(struct session *s, const struct km2 *km)
{
	s->username = strndup(km->username.text ? km->username.text : "", km->username.len);
	return s->username != NULL;
}

/* A certificate client's renegotiation may carry another username: the admitted one stays. */
static void check_username(struct session *s, const struct key_state *ks)
{
	const struct km2_string *u = &ks->client_km.username;
	size_t len = u->text ? u->len : 0;

	if (len != strlen(s->username) || (len && memcmp(u->text, s->username, len) != 0))
		log_warnx(s->p.log, "session",
			  "%s: key %u came with another username than the admitted one, "
			  "which stays",
			  s->who, ks->key_id);
}

/*
 * A renegotiation refused: AUTH_FAILED, and the session ends. A 2.x client
 * reads control messages on its newest key only: AUTH_FAILED goes there,
 * after our key-method-2 (as at admission), resent until acknowledged. The
 * new key carries no data (the refusal closes the gates).
 */
static void refuse_renegotiation(struct session *s, struct key_state *ks, const char *reason)
{
	wipe_password(&ks->client_km);
	if (exchange_keys(s, ks) < 0) {
		close_later(s, 0, "renegotiation refused: %s", reason);
		return;
	}
	s->current = s->next;
	s->next = NO_KEY;
	refuse(s, reason);
}

/*
 * A renegotiation with a token that is no longer good (past its lifetime,
 * revoked, another session's): refused; the client drops its token and
 * reconnects with its password, as against an OpenVPN server.
 */
static void refuse_token(struct session *s, struct key_state *ks, enum token_state st)
{
	log_warnx(s->p.log, "session", "%s: auth-token %s in renegotiation of key %u", s->who,
		  token_state_name(st), ks->key_id);
	refuse_renegotiation(
		s, ks, st == TOKEN_EXPIRED ? "SESSION: token expired" : "SESSION: token not valid");
}

/* A renegotiation's key exchange is decided: new keys only, no PUSH_REPLY (protocol guide 10.2). */
static void finish_renegotiation(struct session *s, struct key_state *ks)
{
	wipe_password(&ks->client_km);
	if (exchange_keys(s, ks) < 0 || install_data_key(s, ks) < 0) {
		log_warnx(s->p.log, "session", "%s: renegotiation of key %u failed", s->who,
			  ks->key_id);
		drop_key_state(s, ks);
		s->next = NO_KEY;
	}
}

/*
 * Whether the server holds the renegotiation for a decision (the management
 * client's REAUTH); session_reauth_decide ends the hold. password is what
 * the client sent with it (its token, or its password).
 */
static bool held_for_reauth(struct session *s, struct key_state *ks, const char *password)
{
	s->reauth_held = s->p.ops->reauth && s->p.ops->reauth(s->p.ctx, s, ks->key_id, password);
	return s->reauth_held;
}

bool session_reauth_decide(struct session *s, uint8_t key_id, const char *refusal)
{
	struct key_state *ks = s->next == NO_KEY ? NULL : &s->ks[s->next];

	if (!ks || !s->reauth_held || ks->key_id != key_id)
		return false;
	s->reauth_held = false;
	if (refusal) {
		log_warnx(s->p.log, "session", "%s: renegotiation of key %u refused", s->who,
			  key_id);
		refuse_renegotiation(s, ks, refusal);
	} else
		finish_renegotiation(s, ks);
	flush(s);
	return true;
}

/* The password a key-method-2 message carries, as text ("" without one). */
static void copy_password(const struct km2 *km, char *out, size_t cap)
{
	size_t len = km->password.text && km->password.len < cap ? km->password.len : 0;

	memcpy(out, len ? km->password.text : "", len);
	out[len] = '\0';
}

static void handle_client_km(struct session *s, struct key_state *ks, size_t len)
{
	int rc = km2_decode(&ks->client_km, ks->client_km_buf, len, true);
	enum token_state token;
	char password[KM2_CREDENTIAL_MAX];

	if (rc < 0) {
		close_later(s, 0, "%s", km2_error_name(rc));
		return;
	}
	if (ks == &s->ks[0] && s->state == SESSION_KEY_EXCHANGE) {
		if ((s->certless && (crypto_random(s->cred_key, sizeof(s->cred_key)) < 0 ||
				     credentials_mac(s, &ks->client_km, s->cred_mac) < 0)) ||
		    !freeze_username(s, &ks->client_km)) {
			close_later(s, 0, "%s", "cannot keep the credentials' MAC or username");
			return;
		}
		session_token_first(s, &ks->client_km);
		first_key_exchange(s, ks);
		return;
	}
	copy_password(&ks->client_km, password, sizeof(password));
	check_username(s, ks);
	token = session_token_again(s, &ks->client_km);
	if (token != TOKEN_NONE && token != TOKEN_VALID)
		refuse_token(s, ks, token);
	else if (s->certless && token != TOKEN_VALID && !same_credentials(s, ks)) {
		log_warnx(s->p.log, "session",
			  "%s: refused: a renegotiation without a certificate must repeat the "
			  "username and password",
			  s->who);
		close_later(s, 0, "%s", "other credentials in a renegotiation");
	} else if (!held_for_reauth(s, ks, password))
		finish_renegotiation(s, ks);
	else
		wipe_password(&ks->client_km);
	crypto_wipe(password, sizeof(password));
}

/* Client: our key-method-2 message, with the pre-master secret, written into TLS. */
static int send_client_km(struct session *s, struct key_state *ks)
{
	struct km2 *km = &ks->client_km;
	uint8_t buf[KM2_MESSAGE_MAX];
	size_t len;
	int rc;

	memset(km, 0, sizeof(*km));
	km->from_client = true;
	if (crypto_random(km->pre_master, KM2_PRE_MASTER_LEN) < 0 ||
	    crypto_random(km->random1, KM2_RANDOM_LEN) < 0 ||
	    crypto_random(km->random2, KM2_RANDOM_LEN) < 0)
		return -1;
	km->options = (struct km2_string){ s->client->options, strlen(s->client->options) };
	km->peer_info = (struct km2_string){ s->client->peer_info, strlen(s->client->peer_info) };
	if (s->p.username) {
		/* A token the server gave us stands for the password (OpenVPN's auth-token). */
		const char *password = s->client->token[0] ? s->client->token
				       : s->p.password	   ? s->p.password
							   : "";

		km->username = (struct km2_string){ s->p.username, strlen(s->p.username) };
		km->password = (struct km2_string){ password, strlen(password) };
		s->client->sent_token = s->client->token[0] != '\0';
	}
	len = km2_encode(buf, sizeof(buf), km);
	/* Only the secrets are kept: the strings are the caller's (the password is not
	 * ours to wipe). */
	km->options = km->peer_info = km->username = km->password = (struct km2_string){ 0 };
	rc = len && tls_session_write(ks->tls, buf, len) == 0 ? 0 : -1;
	crypto_wipe(buf, sizeof(buf));
	return rc;
}

static void send_push_request(struct session *s)
{
	s->client->next_push_request = now(s) + PUSH_REQUEST_SECONDS;
	send_message(s, "PUSH_REQUEST");
}

/* Client: the server's key-method-2 answer. A first key waits for the push to say how. */
static void handle_server_km(struct session *s, struct key_state *ks, size_t len)
{
	struct km2 km;
	int rc = km2_decode(&km, ks->client_km_buf, len, false);

	if (rc < 0) {
		close_later(s, 0, "%s", km2_error_name(rc));
		return;
	}
	ks->server_km = km;
	ks->server_km.options = ks->server_km.peer_info = (struct km2_string){ 0 };
	if (ks == &s->ks[0] && s->state == SESSION_KEY_EXCHANGE) {
		ks->phase = KEY_PHASE_PUSH;
		send_push_request(s);
		return;
	}
	if (derive_keys(s, ks) < 0 || install_data_key(s, ks) < 0) {
		log_warnx(s->p.log, "session", "%s: renegotiation of key %u failed", s->who,
			  ks->key_id);
		drop_key_state(s, ks);
		s->next = NO_KEY;
	}
}

static bool cipher_allowed(const struct session *s, const char *cipher)
{
	for (size_t i = 0; i < s->p.n_ciphers; i++)
		if (strcmp(s->p.ciphers[i], cipher) == 0)
			return true;
	return false;
}

/* Client: the VPN addresses the server gave us, for status and logs. */
static void note_client_addresses(struct session *s, const struct push_options *o)
{
	if (o->has_ifconfig) {
		s->vpn_addr = o->ifconfig.addr;
		ip_addr_format(&s->vpn_addr, s->address, sizeof(s->address));
	}
	if (o->has_ifconfig6)
		s->vpn_addr6 = o->ifconfig6.addr;
}

/* Client: the complete push decides the cipher, the key derivation and the peer-id. */
static void activate_client(struct session *s, struct key_state *ks)
{
	const struct push_options *o = &s->client->pushed;
	const char *cipher = o->cipher[0] ? o->cipher : s->p.ciphers[0];

	if (!o->has_peer_id) {
		close_later(s, 0, "%s",
			    "the server pushed no peer-id: servers older than OpenVPN 2.4 "
			    "(P_DATA_V1 only) are not supported");
		return;
	}
	if (!cipher_allowed(s, cipher)) {
		close_later(s, 0, "the server chose cipher %s, which is not in our ciphers list",
			    cipher);
		return;
	}
	snprintf(s->cipher, sizeof(s->cipher), "%s", cipher);
	s->peer_id = o->peer_id;
	s->dc->peer_id = o->peer_id; /* what our data packets carry: not the 0 it began with */
	if (o->auth_token[0])
		snprintf(s->client->token, sizeof(s->client->token), "%s", o->auth_token);
	s->use_ekm = o->tls_ekm;
	s->client->cc_exit = o->cc_exit;
	/* As a 2.7 client (options.c, init.c): the format the server pushed, for this key
	 * and every renegotiated one. It needs the peer-id (above) and an AEAD cipher,
	 * which every cipher we have is; epoch_data_init refuses any other. */
	s->epoch_data = o->epoch_data;
	if (derive_keys(s, ks) < 0 || install_data_key(s, ks) < 0) {
		close_later(s, 0, "%s", "cannot install the data keys");
		return;
	}
	if (o->dyn_tls_crypt && session_dyn_tls_crypt_start(s) < 0) {
		close_later(s, 0, "%s", "cannot derive the dynamic tls-crypt key");
		return;
	}
	set_state(s, SESSION_ACTIVE);
	s->deadline = now(s) + 1e9; /* from here keepalive decides */
	s->connected_at = now(s);
	note_client_addresses(s, o);
	session_set_keepalive(s, o->ping, o->ping_restart);
	if (s->p.ops->pushed(s->p.ctx, s, o) < 0) {
		close_later(s, 0, "%s", "cannot apply the pushed options");
		return;
	}
	/* Said once the device has the address and routes: a reader of the log
	 * (a script, a spec) may use the tunnel as soon as it sees this line. */
	log_info(s->p.log, "session",
		 "%s: connected, address %s, cipher %s, keys by %s, peer-id %u%s", s->who,
		 s->address[0] ? s->address : "(none pushed)", s->cipher,
		 s->use_ekm ? "TLS-EKM" : "PRF", s->peer_id,
		 s->epoch_data ? ", epoch data format" : "");
}

static void handle_push_reply(struct session *s, const char *msg)
{
	struct key_state *ks = current_ks(s);
	char err[PUSH_ERR_MAX];

	if (s->state != SESSION_KEY_EXCHANGE || ks->phase != KEY_PHASE_PUSH)
		return; /* the answer to a repeated PUSH_REQUEST: the first one counted */
	if (push_parse_filtered(&s->client->pushed, msg, s->client->pull_filter, err, sizeof(err)) <
	    0) {
		close_later(s, 0, "unusable PUSH_REPLY: %s", err);
		return;
	}
	if (s->client->pushed.warnings) { /* once a message: a continuation has its own */
		log_warnx(s->p.log, "session", "%s: PUSH_REPLY: %s%s", s->who,
			  s->client->pushed.warning,
			  s->client->pushed.warnings > 1 ? " (and more ignored)" : "");
		s->client->pushed.warnings = 0;
	}
	if (!s->client->pushed.more)
		activate_client(s, ks);
}

static bool starts_with(const char *text, const char *prefix)
{
	return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* Client: what the server tells us on the control channel (protocol guide 8.2). */
static void handle_server_message(struct session *s, const char *msg)
{
	if (starts_with(msg, "PUSH_REPLY") && (msg[10] == ',' || msg[10] == '\0')) {
		handle_push_reply(s, msg);
	} else if (starts_with(msg, "AUTH_FAILED") || starts_with(msg, "HALT")) {
		s->client->auth_failed = true;
		free(s->client->refused_with);
		s->client->refused_with = strdup(msg); /* NULL: the caller sees a plain refusal */
		close_later(s, 0, "the server refused us: %.120s", msg);
	} else if (starts_with(msg, "RESTART")) {
		close_later(s, 0, "the server restarts (%.60s)", msg);
	} else if (strcmp(msg, "EXIT") == 0) {
		close_later(s, 0, "%s", "the server sent EXIT");
	} else if (starts_with(msg, "AUTH_TOKEN,") && strlen(msg + 11) < sizeof(s->client->token)) {
		/* A renewed token (2.6's auth-token renewal): the next key exchange carries it. */
		snprintf(s->client->token, sizeof(s->client->token), "%s", msg + 11);
	} else if (starts_with(msg, "INFO")) {
		log_info(s->p.log, "session", "%s: server says: %.200s", s->who, msg);
	} else {
		log_debug(s->p.log, "session", "%s: ignored control message \"%.40s\"", s->who,
			  msg);
	}
}

static void handle_client_message(struct session *s, const char *msg)
{
	if (strcmp(msg, "PUSH_REQUEST") == 0 && s->state == SESSION_AUTH)
		log_debug(s->p.log, "session", "%s: PUSH_REQUEST waits for the auth decision",
			  s->who);
	else if (strcmp(msg, "PUSH_REQUEST") == 0)
		answer_push_request(s);
	else if (starts_with(msg, "CR_RESPONSE,") && s->state == SESSION_AUTH && s->pending &&
		 s->pending[0] && s->p.ops->cr_response)
		s->p.ops->cr_response(s->p.ctx, s, msg + strlen("CR_RESPONSE,"));
	else if (strcmp(msg, "EXIT") == 0)
		close_later(s, 0, "%s", "the client sent EXIT");
	else
		log_debug(s->p.log, "session", "%s: ignored control message \"%.40s\"", s->who,
			  msg);
}

/* Reads a key state's application data: its key-method-2, then NUL-separated messages. */
/* Only printable ASCII: a message with anything else is ignored, as 2.6 does. */
static bool printable(const char *msg)
{
	for (; *msg; msg++)
		if ((unsigned char)*msg < 0x20 || (unsigned char)*msg > 0x7e)
			return false;
	return true;
}

static void handle_message(struct session *s, const char *msg)
{
	if (!printable(msg)) {
		log_ratelimited(s->p.log, LOG_DEBUG, "session",
				"%s: ignored a control message with control bytes", s->who);
		return;
	}
	if (is_client(s))
		handle_server_message(s, msg);
	else
		handle_client_message(s, msg);
}

static void read_tls_data(struct session *s, struct key_state *ks)
{
	uint8_t buf[KM2_MESSAGE_MAX + 1];
	ssize_t n = 0;

	while (s->state != SESSION_CLOSING && ks->phase != KEY_PHASE_EMPTY &&
	       (n = tls_session_read(ks->tls, buf, sizeof(buf))) > 0) {
		if (ks->phase == KEY_PHASE_KEY_EXCHANGE) {
			bool kept = key_state_keep_km(ks, buf, (size_t)n);

			crypto_wipe(buf, (size_t)n); /* a password's only copy is client_km_buf */
			if (!kept)
				close_later(s, 0, "%s", "out of memory");
			else if (is_client(s))
				handle_server_km(s, ks, (size_t)n);
			else
				handle_client_km(s, ks, (size_t)n);
			continue;
		}
		buf[n < (ssize_t)sizeof(buf) ? n : n - 1] = '\0';
		for (char *m = (char *)buf; m < (char *)buf + n; m += strlen(m) + 1)
			if (*m)
				handle_message(s, m);
	}
	if (ks->phase != KEY_PHASE_EMPTY && tls_session_dropped(ks->tls) != ks->tls_dropped) {
		ks->tls_dropped = tls_session_dropped(ks->tls);
		log_ratelimited(
			s->p.log, LOG_DEBUG, "session",
			"%s: key %u: %u TLS records that were not data dropped (an alert, a "
			"late handshake message)",
			s->who, ks->key_id, ks->tls_dropped);
	}
	if (n < 0 && s->state != SESSION_CLOSING && ks == &s->ks[s->current])
		close_later(s, 0, "%s", tls_session_error(ks->tls));
}

/*
 * A failed handshake ends the session. A renegotiation that failed for
 * another reason than the peer's certificate only loses its new key (the
 * old one serves until its hard lifetime); one whose certificate no longer
 * verifies (revoked, expired) ends the session too.
 */
static void tls_failed(struct session *s, struct key_state *ks)
{
	/* As often as anyone can start a handshake: rate-limited. */
	log_ratelimited(s->p.log, LOG_WARN, "session", "%s: refused: %s", s->who,
			tls_session_error(ks->tls));
	if (s->state == SESSION_ACTIVE && ks != current_ks(s) &&
	    !tls_session_cert_refused(ks->tls)) {
		drop_key_state(s, ks);
		s->next = NO_KEY;
		return;
	}
	close_later(s, 1, "TLS refused: %s", tls_session_error(ks->tls));
}

/*
 * The first handshake fixes the peer's certificate; a renegotiation must
 * present the same one (a different identity would inherit the session's
 * address and authorization).
 */
static bool same_identity(struct session *s, const struct key_state *ks)
{
	const uint8_t *fp = tls_session_peer_fingerprint(ks->tls);

	if (s->state == SESSION_TLS) {
		/* Without one only where auth.certificate lets it (TLS refused the rest). */
		s->certless = !fp;
		if (fp)
			memcpy(s->fingerprint, fp, sizeof(s->fingerprint));
		return true;
	}
	if (!fp || s->certless)
		return !fp && s->certless;
	return crypto_equal(fp, s->fingerprint, sizeof(s->fingerprint));
}

/*
 * The peer's certificate of an established key state, verified against the
 * current context; false when it no longer verifies and the session ends.
 */
static bool still_valid(struct session *s, struct key_state *ks)
{
	char why[TLS_ERR_MAX];

	ks->stale = false;
	if (tls_session_reverify(ks->tls, s->p.tls, why, sizeof(why)) == 0)
		return true;
	log_warnx(s->p.log, "session", "%s: ended: %s (with the reloaded CA and CRL)", s->who, why);
	if (!is_client(s))
		send_halt(s, why);
	close_later(s, KICK_LINGER_SECONDS, "%s", why);
	return false;
}

static void identity_changed(struct session *s, struct key_state *ks)
{
	log_warnx(s->p.log, "session",
		  "%s: refused: the certificate changed in renegotiation of key %u", s->who,
		  ks->key_id);
	close_later(s, 0, "%s", "the certificate changed in a renegotiation");
}

static void progress(struct session *s, struct key_state *ks)
{
	if (ks->phase == KEY_PHASE_TLS) {
		int rc = tls_session_handshake(ks->tls);

		update_who(s);
		if (rc < 0) {
			tls_failed(s, ks);
			return;
		}
		if (rc == 0)
			return;
		if (!same_identity(s, ks)) {
			identity_changed(s, ks);
			return;
		}
		if (ks->stale && !still_valid(s, ks))
			return;
		log_info(s->p.log, "session", "%s: %s established on key %u (%s)", s->who,
			 tls_session_version(ks->tls), ks->key_id, tls_session_cipher(ks->tls));
		ks->phase = KEY_PHASE_KEY_EXCHANGE;
		if (s->state == SESSION_TLS)
			set_state(s, SESSION_KEY_EXCHANGE);
		/* The client speaks first in key method 2 (protocol guide section 5). */
		if (is_client(s) && send_client_km(s, ks) < 0) {
			close_later(s, 0, "%s", "cannot send our key-method-2 message");
			return;
		}
	}
	read_tls_data(s, ks);
}

/*
 * Starts key state key_id in the slot that is not current (a lame duck there
 * goes) and queues our SOFT_RESET_V1, message 0 of the new key state.
 */
static struct key_state *start_renegotiation(struct session *s, uint8_t key_id)
{
	int slot = 1 - s->current;
	struct key_state *ks = &s->ks[slot];

	drop_key_state(s, ks);
	s->reauth_held = false;
	if (key_state_start(ks, s->p.tls, key_id, now(s)) < 0 ||
	    reliable_queue(&ks->rel, P_CONTROL_SOFT_RESET_V1, NULL, 0, (uint64_t)(now(s) * 1000)) <
		    0) {
		drop_key_state(s, ks);
		return NULL;
	}
	s->next = slot;
	log_info(s->p.log, "session", "%s: renegotiating: key %u", s->who, key_id);
	if (is_client(s))
		progress(s, ks); /* the client's hello follows its SOFT_RESET */
	return ks;
}

static void on_keepalive(struct ev_loop *loop, ev_timer *w, int revents);

/*
 * Checks a packet belongs to this session; false to drop it. A client
 * learns the server's session id from the server's hard reset.
 */
static bool is_ours(struct session *s, const struct proto_control *ctl, uint32_t replay_id,
		    uint32_t replay_time)
{
	bool first = s->state == SESSION_RESET;

	if (first ? ctl->opcode != P_CONTROL_HARD_RESET_SERVER_V2 || ctl->key_id != 0
		  : !proto_sid_equal(&ctl->sid, &s->remote_sid))
		return false;
	if (ctl->n_acks && !proto_sid_equal(&ctl->remote_sid, &s->local_sid))
		return false;
	if (!session_control_replay_ok(s, ctl->key_id, replay_id, replay_time))
		return false;
	if (first) {
		s->remote_sid = ctl->sid;
		set_state(s, SESSION_TLS);
	}
	return true;
}

/* The key state a control packet is for; a client's SOFT_RESET opens the next one. */
static struct key_state *key_state_for(struct session *s, const struct proto_control *ctl)
{
	struct key_state *ks = find_ks(s, ctl->key_id);

	if (ks || ctl->opcode != P_CONTROL_SOFT_RESET_V1 || s->state != SESSION_ACTIVE ||
	    s->next != NO_KEY || ctl->key_id != key_state_next_id(current_ks(s)->key_id))
		return ks;
	return start_renegotiation(s, ctl->key_id);
}

/*
 * A refused session only takes acks (what the client sends is acked, not
 * read): AUTH_FAILED goes once our key-method-2 is acked, and the session
 * ends as soon as AUTH_FAILED is.
 */
static void receive_while_refused(struct session *s)
{
	if (s->answer_due)
		send_answer(s);
	flush(s);
	if (s->answer_sent && all_acked(current_ks(s))) {
		s->deadline = now(s);
		schedule(s);
	}
}

/*
 * A tls-crypt-v2 client reads the early-negotiation TLVs of the server's
 * reset: whether to send our key again (2.6+ servers keep no state until
 * then). Other clients ignore the reset's payload, as before.
 */
static void read_server_reset(struct session *s, const uint8_t *payload, size_t len)
{
	bool resend;

	if (!is_client(s) || !s->client->wkc_len)
		return;
	if (tlscryptv2_early_neg_parse(payload, len, &resend) < 0) {
		close_later(
			s, 0,
			"the server's reset carries malformed early-negotiation TLVs (%zu bytes)",
			len);
		return;
	}
	s->client->resend_wkc = resend;
	log_debug(s->p.log, "session", "%s: tls-crypt-v2: the server %s", s->who,
		  resend ? "asks for our key again (P_CONTROL_WKC_V1)" : "kept our key");
}

void session_receive(struct session *s, const struct proto_control *ctl, uint32_t replay_id,
		     uint32_t replay_time)
{
	struct key_state *ks;
	uint8_t opcode;
	const uint8_t *payload;
	size_t len;

	if ((s->state == SESSION_CLOSING && !lingers_for_refusal(s)) ||
	    !is_ours(s, ctl, replay_id, replay_time))
		return;
	s->last_received = now(s); /* control traffic shows the peer is alive, as in 2.6 */
	ks = key_state_for(s, ctl);
	if (!ks) {
		log_ratelimited(s->p.log, LOG_DEBUG, "session", "%s: ignored %s for unknown key %u",
				s->who, proto_opcode_name(ctl->opcode), ctl->key_id);
		return;
	}
	for (unsigned i = 0; i < ctl->n_acks; i++)
		reliable_on_ack(&ks->rel, ctl->acks[i]);
	if (proto_has_msg_id(ctl->opcode))
		(void)reliable_on_receive(&ks->rel, ctl->msg_id, ctl->opcode, ctl->payload,
					  ctl->payload_len);
	if (lingers_for_refusal(s)) {
		receive_while_refused(s);
		return;
	}
	while (reliable_deliver(&ks->rel, &opcode, &payload, &len))
		if (opcode == P_CONTROL_V1 && len &&
		    tls_session_put_ciphertext(ks->tls, payload, len) < 0)
			close_later(s, 0, "%s", "out of memory");
		else if (opcode == P_CONTROL_HARD_RESET_SERVER_V2)
			read_server_reset(s, payload, len);
	if (s->state != SESSION_CLOSING && ks->phase != KEY_PHASE_EMPTY)
		progress(s, ks);
	if (s->pending_due && s->state == SESSION_AUTH)
		send_pending(s); /* our key-method-2 may just have been acked */
	if (s->answer_due && s->state != SESSION_CLOSING)
		send_answer(s);
	flush(s);
}

/* Our copy of the server's cipher list (names cut to SESSION_CIPHER_MAX - 1); false: no memory. */
static bool copy_ciphers(struct session *s, const struct session_params *p)
{
	size_t n = p->n_ciphers < SESSION_CIPHERS_MAX ? p->n_ciphers : SESSION_CIPHERS_MAX;
	size_t total = 1;
	char *at;

	for (size_t i = 0; i < n; i++)
		total += strnlen(p->ciphers[i], SESSION_CIPHER_MAX - 1) + 1;
	if (!(s->cipher_names = malloc(total)))
		return false;
	at = s->cipher_names;
	for (size_t i = 0; i < n; i++) {
		size_t len = strnlen(p->ciphers[i], SESSION_CIPHER_MAX - 1);

		memcpy(at, p->ciphers[i], len);
		at[len] = '\0';
		s->cipher_list[i] = at;
		at += len + 1;
	}
	s->p.n_ciphers = n;
	s->p.ciphers = s->cipher_list;
	return true;
}

/* What server and client sessions share: parameters, timers, key state 0. */
static struct session *session_alloc(const struct session_params *p, const struct sockaddr *peer,
				     socklen_t peer_len)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s || peer_len > sizeof(s->peer) || !(s->dc = calloc(1, sizeof(*s->dc))) ||
	    key_state_start(&s->ks[0], p->tls, 0, ev_now(p->loop)) < 0) {
		if (s)
			free(s->dc);
		free(s);
		return NULL;
	}
	s->p = *p;
	/* Our own TLS context reference and cipher list: a reload frees the server's. */
	s->p.tls = tls_ctx_ref(p->tls);
	s->wrap = *p->wrap;
	if (!copy_ciphers(s, p)) {
		session_free(s);
		return NULL;
	}
	s->p.tls_crypt_v2 = NULL;
	if (p->tls_crypt_v2 && (s->tls_crypt_v2 = malloc(sizeof(*s->tls_crypt_v2)))) {
		*s->tls_crypt_v2 = *p->tls_crypt_v2;
		crypto_wipe(&s->tls_crypt_v2->key, sizeof(s->tls_crypt_v2->key));
	}
	memcpy(&s->peer, peer, peer_len);
	s->peer_len = peer_len;
	dchan_init(s->dc, 0, peer, peer_len);
	s->next = NO_KEY;
	replay_init(&s->replay);
	s->connected_at = s->last_sent = s->last_received = now(s);
	s->deadline = now(s) + SESSION_HAND_WINDOW_SECONDS;
	ev_init(&s->timer, on_timer);
	s->timer.data = s;
	ev_init(&s->keepalive, on_keepalive);
	s->keepalive.data = s;
	if (!update_who(s)) {
		session_free(s);
		return NULL;
	}
	return s;
}

struct session *session_new(const struct session_params *p, const struct sockaddr *peer,
			    socklen_t peer_len, const struct proto_sid *cookie,
			    const struct proto_sid *client_sid, uint32_t peer_id)
{
	struct session *s = session_alloc(p, peer, peer_len);

	if (!s)
		return NULL;
	s->local_sid = *cookie;
	s->remote_sid = *client_sid;
	s->peer_id = peer_id;
	s->dc->peer_id = peer_id;
	set_state(s, SESSION_TLS);
	/* The reset exchange happened statelessly: both sides are past message 0, and
	 * the wrapped replay ids were 1 (the client's reset and our reply). */
	s->ks[0].rel.next_send_id = 1;
	s->ks[0].rel.next_recv_id = 1;
	s->next_replay_id = 2;
	replay_record(&s->replay, 1);
	update_who(s);
	return s;
}

struct session *session_new_client(const struct session_params *p, const struct sockaddr *peer,
				   socklen_t peer_len)
{
	struct session *s = session_alloc(p, peer, peer_len);

	if (!s)
		return NULL;
	s->client = calloc(1, sizeof(*s->client));
	if (!s->client || p->wkc_len > TLSCRYPTV2_WKC_MAX ||
	    crypto_random(s->local_sid.bytes, sizeof(s->local_sid.bytes)) < 0 ||
	    reliable_queue(&s->ks[0].rel,
			   p->wkc_len ? P_CONTROL_HARD_RESET_CLIENT_V3
				      : P_CONTROL_HARD_RESET_CLIENT_V2,
			   NULL, 0, (uint64_t)(now(s) * 1000)) < 0) {
		session_free(s);
		return NULL;
	}
	s->client->wkc = p->wkc;
	s->client->wkc_len = p->wkc_len;
	snprintf(s->client->options, sizeof(s->client->options), "%s",
		 p->options ? p->options : "V4");
	snprintf(s->client->peer_info, sizeof(s->client->peer_info), "%s",
		 p->peer_info ? p->peer_info : "");
	push_options_init(&s->client->pushed);
	snprintf(s->client->pull_filter, sizeof(s->client->pull_filter), "%s",
		 p->pull_filter ? p->pull_filter : "");
	set_state(s, SESSION_RESET);
	/* A tls-crypt-v2 client's replay ids say it resends its key when asked. */
	s->next_replay_id = s->client->wkc_len ? TLSCRYPTV2_EARLY_NEG_FIRST_ID : 1;
	update_who(s);
	/* The keepalive timer also repeats PUSH_REQUEST until the server answers. */
	session_set_keepalive(s, 0, 0);
	flush(s);
	return s;
}

void session_free(struct session *s)
{
	if (!s)
		return;
	ev_timer_stop(s->p.loop, &s->timer);
	ev_timer_stop(s->p.loop, &s->keepalive);
	key_state_clear(&s->ks[0]);
	key_state_clear(&s->ks[1]);
	if (s->dc) {
		dchan_clear(s->dc);
		free(s->dc);
	}
	for (size_t i = 0; i < s->push.n_messages; i++)
		free(s->push.messages[i]);
	if (s->client) {
		free(s->client->refused_with);
		crypto_wipe(s->client, sizeof(*s->client));
	}
	crypto_wipe(s->cred_key, sizeof(s->cred_key));
	free(s->username);
	free(s->pending);
	free(s->who);
	free(s->refusal);
	free(s->end_reason);
	free(s->cipher_names);
	free(s->client);
	free(s->tls_crypt_v2);
	wrap_clear(&s->wrap);
	wrap_clear(&s->dyn.wrap);
	tls_ctx_free(s->p.tls);
	free(s);
}

struct dchan *session_dchan(struct session *s)
{
	return s->dc;
}

void session_float(struct session *s, const struct sockaddr *from, socklen_t from_len)
{
	char to[UDP_ADDR_TEXT_MAX];

	if (is_client(s) || from_len > sizeof(s->peer) || session_is_peer(s, from, from_len))
		return; /* a client's socket is connected to its server: it never floats */
	log_info(s->p.log, "session", "%s: moved to %s (float)", s->who,
		 udp_addr_format(from, to, sizeof(to)));
	memcpy(&s->peer, from, from_len);
	s->peer_len = from_len;
	dchan_set_peer(s->dc, from, from_len);
	update_who(s);
}

int session_data_send(struct session *s, uint8_t *pkt, size_t len)
{
	int n = dchan_seal(s->dc, pkt, len, now(s));

	if (n < 0)
		return n;
	s->p.ops->send(s->p.ctx, s, pkt, (size_t)n);
	return 0;
}

static void send_ping(struct session *s)
{
	uint8_t pkt[DATA_OVERHEAD + DCHAN_PING_MAX + DATA_TAILROOM];
	int n = dchan_seal_ping(s->dc, pkt, now(s));

	if (n > 0)
		s->p.ops->send(s->p.ctx, s, pkt, (size_t)n);
}

/*
 * Our own renegotiation: when the current key is older than reneg_seconds,
 * carried reneg_bytes or spent its packet ids or epochs; the first two wait
 * while the peer still sends with the previous key.
 */
static void maybe_renegotiate(struct session *s)
{
	struct key_state *ks = current_ks(s);
	bool old = s->reneg_seconds && now(s) - ks->started >= s->reneg_seconds;
	bool worn = s->reneg_bytes && s->dc->keys[DCHAN_CURRENT].bytes >= s->reneg_bytes;
	bool spent = data_key_worn(&s->dc->keys[DCHAN_CURRENT].key); /* cannot wait */

	if (s->next != NO_KEY || ks->phase != KEY_PHASE_READY || !(old || worn || spent) ||
	    (!spent && peer_on_previous_key(s)))
		return;
	if (start_renegotiation(s, key_state_next_id(ks->key_id)))
		flush(s);
}

/* The last packet from the peer, control or data (control shows it is alive too, as in 2.6). */
static ev_tstamp last_received(const struct session *s)
{
	return fmax(s->last_received, s->dc->last_received);
}

/* A fresh auth-token every renew seconds, as OpenVPN's auth_token_renewal timer. */
static void renew_token(struct session *s)
{
	char msg[SESSION_REASON_MAX * 4];

	if (!is_client(s) && session_token_renewal(s, msg, sizeof(msg))) {
		send_message(s, msg);
		flush(s);
		crypto_wipe(msg, sizeof(msg));
	}
}

/* Every second: ping a quiet client, end a silent one (2.6's ping / ping-restart), rekey. */
static void on_keepalive(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = w->data;

	(void)loop;
	(void)revents;
	if (is_client(s) && s->state == SESSION_KEY_EXCHANGE &&
	    current_ks(s)->phase == KEY_PHASE_PUSH && now(s) >= s->client->next_push_request) {
		send_push_request(s);
		flush(s);
		return;
	}
	if (s->state != SESSION_ACTIVE || current_ks(s)->phase != KEY_PHASE_READY)
		return;
	if (key_expired(s, current_ks(s))) {
		close_later(s, 0, "key %u expired: no renegotiation completed within %u s",
			    current_ks(s)->key_id, s->reneg_seconds + SESSION_HAND_WINDOW_SECONDS);
		return;
	}
	if (s->ping_timeout && now(s) - last_received(s) >= s->ping_timeout) {
		close_later(s, 0, "ping-restart: nothing received for %u seconds", s->ping_timeout);
		return;
	}
	if (s->ping_interval && now(s) - fmax(s->last_sent, s->dc->last_sent) >= s->ping_interval)
		send_ping(s);
	renew_token(s);
	/* A peer that stopped answering a renegotiation produces no timer events. */
	check_renegotiation_deadline(s);
	expire_lame_duck(s);
	maybe_renegotiate(s);
}

void session_set_keepalive(struct session *s, unsigned interval, unsigned timeout)
{
	s->ping_interval = interval;
	s->ping_timeout = timeout;
	ev_timer_stop(s->p.loop, &s->keepalive);
	ev_timer_set(&s->keepalive, 1, 1);
	ev_timer_start(s->p.loop, &s->keepalive);
}

void session_set_tls(struct session *s, struct tls_ctx *tls)
{
	struct tls_ctx *old = s->p.tls;

	s->p.tls = tls_ctx_ref(tls);
	tls_ctx_free(old);
	for (int i = 0; i < 2 && s->state != SESSION_CLOSING; i++) {
		struct key_state *ks = &s->ks[i];

		if (ks->phase == KEY_PHASE_TLS)
			ks->stale = true; /* verified when its handshake is done */
		else if (ks->phase != KEY_PHASE_EMPTY)
			(void)still_valid(s, ks);
	}
}

/*
 * A reload that shortens renegotiate.seconds: keys older than the new
 * interval count as just due, so they are renegotiated now and keep the
 * hand-window of their hard lifetime, instead of being past it at once
 * (which would end every client connected for longer than the new interval).
 */
static void clamp_key_ages(struct session *s, double due)
{
	for (int i = 0; i < 2; i++)
		if (s->ks[i].phase == KEY_PHASE_READY)
			s->ks[i].started = fmax(s->ks[i].started, due);
	for (int slot = 0; slot < DCHAN_SLOTS; slot++)
		if (s->dc->keys[slot].live)
			s->dc->keys[slot].started = fmax(s->dc->keys[slot].started, due);
}

void session_set_renegotiation(struct session *s, unsigned seconds, uint64_t bytes)
{
	s->reneg_seconds = seconds;
	s->reneg_bytes = bytes;
	dchan_set_lifetime(s->dc, seconds ? seconds + SESSION_HAND_WINDOW_SECONDS : 0);
	if (seconds)
		clamp_key_ages(s, now(s) - seconds);
}

void session_notify_exit(struct session *s)
{
	if (s->state != SESSION_ACTIVE || (is_client(s) && !s->client->cc_exit))
		return;
	/* A client with a token keeps it and its cached password ([P]): the OpenVPN 3
	 * core drops its token on a plain RESTART (clihalt.hpp), 2.x its password. */
	send_message(s, is_client(s)   ? "EXIT"
			: s->has_token ? "RESTART,[P]:server restarting"
				       : "RESTART");
	flush(s);
}

void session_kick(struct session *s, const char *reason, bool reconnect)
{
	session_token_revoke(s); /* a kicked client's token must not bring it back */
	if (!reconnect) {
		send_halt(s, reason);
	} else if (s->state == SESSION_ACTIVE || s->state == SESSION_AUTH) {
		send_message(s, "RESTART");
		flush(s);
	}
	/* A moment for the message to arrive; the session is closed (no data) meanwhile. */
	close_later(s, KICK_LINGER_SECONDS, "kicked by the operator%s%s", reason[0] ? ": " : "",
		    reason);
}
