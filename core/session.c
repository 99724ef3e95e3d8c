// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "keymethod.h"
#include "ncp.h"
#include "reliable.h"
#include "replay.h"
#include "session.h"
#include "udp.h"

enum {
	/* UDP payload of a control packet stays within 1250 bytes, as 2.6's tls-mtu;
	 * 48 bytes are kept for IP/UDP headers as 2.6 does. */
	CONTROL_PACKET_MAX = 1250 - 48,
	CONTROL_HEADER_MAX = PROTO_HEADER_LEN + 1 + 4 * 4 + PROTO_SID_LEN + 4,
	PIGGYBACK_ACKS_MAX = 4,
	AUTH_FAILED_LINGER_SECONDS = 5, /* time for AUTH_FAILED to arrive before we go */
	IV_PROTO_REQUEST_PUSH = 4,
	IV_PROTO_TLS_KEY_EXPORT = 8,
};

static const char EKM_LABEL[] = "EXPORTER-OpenVPN-datakeys";

/* The keepalive payload (protocol guide 7.6): consumed, never written to the device. */
static const uint8_t PING_MAGIC[16] = { 0x2a, 0x18, 0x7b, 0xf3, 0x64, 0x1e, 0xb4, 0xcb,
					0x07, 0xed, 0x2d, 0x0a, 0x98, 0x1f, 0xc7, 0x48 };

struct session {
	struct session_params p;
	struct wrap wrap;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	struct proto_sid local_sid, remote_sid;
	uint32_t peer_id;
	enum session_state state;
	struct reliable rel;
	struct tls_session *tls;
	uint32_t next_replay_id;
	struct replay replay;
	uint8_t client_km_buf[KM2_MESSAGE_MAX + 1];
	struct km2 client_km;
	uint8_t key_block[KEYS_BLOCK_LEN];
	char cipher[SESSION_CIPHER_MAX];
	char address[SESSION_ADDR_MAX];
	char who[UDP_ADDR_TEXT_MAX + TLS_CN_MAX + 8]; /* "1.2.3.4:5 (cn)" for logs */
	uint32_t iv_proto;
	bool iv_mtu, ncp, refused;
	struct session_push push;
	ev_timer timer;
	ev_tstamp deadline;   /* hand-window, or the end of a closing session */
	struct data_key data; /* key state 0's data keys, once active */
	bool has_data_key;
	struct ip_addr vpn_addr, vpn_addr6;
	ev_timer keepalive;
	unsigned ping_interval, ping_timeout;
	ev_tstamp last_sent, last_received;
	struct session_counters counters;
	ev_tstamp connected_at;
	char end_reason[SESSION_REASON_MAX];
};

static ev_tstamp now(const struct session *s)
{
	return ev_now(s->p.loop);
}

static void update_who(struct session *s)
{
	char addr[UDP_ADDR_TEXT_MAX];
	const char *cn = tls_session_peer_cn(s->tls);

	udp_addr_format((const struct sockaddr *)&s->peer, addr, sizeof(addr));
	snprintf(s->who, sizeof(s->who), cn[0] ? "%s (%s)" : "%s", addr, cn);
}

/* Encodes, wraps and sends one control packet, with as many acks as fit. */
static void send_packet(struct session *s, uint8_t opcode, uint32_t msg_id, const uint8_t *payload,
			size_t len, size_t max_acks)
{
	uint8_t plain[RELIABLE_PAYLOAD_MAX + CONTROL_HEADER_MAX];
	uint8_t wire[sizeof(plain) + 128];
	struct proto_control c = { .opcode = opcode,
				   .sid = s->local_sid,
				   .msg_id = msg_id,
				   .payload = payload,
				   .payload_len = len };
	size_t n;
	int w;

	c.n_acks = (uint8_t)reliable_take_acks(&s->rel, c.acks, max_acks);
	if (c.n_acks)
		c.remote_sid = s->remote_sid;
	n = proto_encode_control(plain, sizeof(plain), &c);
	w = n ? wrap_seal(&s->wrap, plain, n, s->next_replay_id++, s->p.replay_time, wire,
			  sizeof(wire))
	      : -1;
	if (w > 0)
		s->p.ops->send(s->p.ctx, s, wire, (size_t)w);
}

/* TLS ciphertext into the send window, in fragments that keep packets small. */
static void queue_tls_output(struct session *s)
{
	size_t fragment = CONTROL_PACKET_MAX - CONTROL_HEADER_MAX - wrap_overhead(&s->wrap);
	uint8_t buf[RELIABLE_PAYLOAD_MAX];

	while (reliable_can_queue(&s->rel) && tls_session_pending_ciphertext(s->tls) > 0) {
		size_t n = tls_session_get_ciphertext(s->tls, buf, fragment);

		if (!n ||
		    reliable_queue(&s->rel, P_CONTROL_V1, buf, n, (uint64_t)(now(s) * 1000)) < 0)
			break;
	}
}

static void schedule(struct session *s);

/* Sends what is due: (re)transmissions with piggy-backed acks, else a bare ack. */
static void flush(struct session *s)
{
	const struct reliable_out *o;
	uint64_t ms = (uint64_t)(now(s) * 1000);
	bool sent = false;

	queue_tls_output(s);
	while ((o = reliable_next_transmit(&s->rel, ms))) {
		send_packet(s, o->opcode, o->msg_id, o->payload, o->len, PIGGYBACK_ACKS_MAX);
		sent = true;
	}
	if (!sent && reliable_has_unsent_acks(&s->rel))
		send_packet(s, P_ACK_V1, 0, NULL, 0, PROTO_ACKS_MAX);
	schedule(s);
}

/* Ends the session from the loop, after linger seconds (never from inside a call chain). */
static void close_later(struct session *s, double linger, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void close_later(struct session *s, double linger, const char *fmt, ...)
{
	va_list ap;

	if (s->state == SESSION_CLOSING)
		return;
	s->state = SESSION_CLOSING;
	va_start(ap, fmt);
	vsnprintf(s->end_reason, sizeof(s->end_reason), fmt, ap);
	va_end(ap);
	s->deadline = now(s) + linger;
	schedule(s);
}

static void schedule(struct session *s)
{
	int64_t due = reliable_next_due(&s->rel, (uint64_t)(now(s) * 1000));
	double wait = s->deadline - now(s);

	if (s->state != SESSION_CLOSING && due >= 0 && (double)due / 1000 < wait)
		wait = (double)due / 1000;
	if (wait < 0)
		wait = 0;
	ev_timer_stop(s->p.loop, &s->timer);
	ev_timer_set(&s->timer, wait, 0);
	ev_timer_start(s->p.loop, &s->timer);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = w->data;

	(void)loop;
	(void)revents;
	if (now(s) >= s->deadline) {
		if (s->state != SESSION_CLOSING) {
			close_later(s, 0,
				    "TLS key negotiation failed to occur within %d seconds "
				    "(hand-window)",
				    SESSION_HAND_WINDOW_SECONDS);
			return;
		}
		s->p.ops->ended(s->p.ctx, s, s->end_reason); /* frees s */
		return;
	}
	flush(s);
}

/* A control message: text plus its NUL, in one TLS record. */
static void send_message(struct session *s, const char *text)
{
	if (tls_session_write(s->tls, (const uint8_t *)text, strlen(text) + 1) < 0)
		close_later(s, 0, "TLS write failed: %s", tls_session_error(s->tls));
}

static void refuse(struct session *s, const char *reason)
{
	char msg[SESSION_REASON_MAX + 16];

	snprintf(msg, sizeof(msg), reason[0] ? "AUTH_FAILED,%s" : "AUTH_FAILED", reason);
	log_warnx(s->p.log, "session", "%s: refused: %s", s->who, reason[0] ? reason : "by policy");
	s->refused = true;
	send_message(s, msg);
	close_later(s, AUTH_FAILED_LINGER_SECONDS, "authentication failed: %s", reason);
}

static void send_push(struct session *s)
{
	if (s->refused) {
		send_message(s, "AUTH_FAILED");
		return;
	}
	for (size_t i = 0; i < s->push.n_messages; i++)
		send_message(s, s->push.messages[i]);
}

/* Derives the data-channel keys: TLS-EKM when the client can, else the legacy PRF. */
static int derive_keys(struct session *s, const struct km2 *server_km)
{
	char err[256];

	if (s->iv_proto & IV_PROTO_TLS_KEY_EXPORT)
		return tls_session_export(s->tls, EKM_LABEL, s->key_block, sizeof(s->key_block));
	if (keys_prf_block(s->p.crypto, &s->client_km, server_km, &s->remote_sid, &s->local_sid,
			   s->key_block, err, sizeof(err)) < 0) {
		log_error(s->p.log, "session", "%s: %s", s->who, err);
		return -1;
	}
	return 0;
}

/* Answers the client's key-method-2 message with ours. */
static int send_server_km(struct session *s, struct km2 *server_km)
{
	char options[KM2_OPTIONS_MAX];
	uint8_t buf[KM2_MESSAGE_MAX];
	size_t len;

	memset(server_km, 0, sizeof(*server_km));
	if (!km2_options_reply(s->client_km.options.text ? s->client_km.options.text : "V4",
			       options, sizeof(options)) ||
	    crypto_random(server_km->random1, KM2_RANDOM_LEN) < 0 ||
	    crypto_random(server_km->random2, KM2_RANDOM_LEN) < 0)
		return -1;
	server_km->options = (struct km2_string){ options, strlen(options) };
	len = km2_encode(buf, sizeof(buf), server_km);
	return len && tls_session_write(s->tls, buf, len) == 0 ? 0 : -1;
}

static void admit(struct session *s)
{
	memset(&s->push, 0, sizeof(s->push));
	if (s->p.ops->connect(s->p.ctx, s, &s->push) < 0) {
		refuse(s, s->push.reason);
		return;
	}
	snprintf(s->address, sizeof(s->address), "%s", s->push.address);
	if (!ip_addr_parse(&s->vpn_addr, s->address))
		memset(&s->vpn_addr, 0, sizeof(s->vpn_addr));
	if (!s->push.address6[0] || !ip_addr_parse(&s->vpn_addr6, s->push.address6))
		memset(&s->vpn_addr6, 0, sizeof(s->vpn_addr6));
	log_info(s->p.log, "session", "%s: connected, address %s, cipher %s, keys by %s", s->who,
		 s->address, s->cipher, s->iv_proto & IV_PROTO_TLS_KEY_EXPORT ? "TLS-EKM" : "PRF");
	/* A client that announces REQUEST_PUSH gets the reply without asking (2.6 does so). */
	if (s->iv_proto & IV_PROTO_REQUEST_PUSH)
		send_push(s);
}

static void handle_client_km(struct session *s, size_t len)
{
	struct km2 server_km;
	char value[8];
	const char *cipher;
	int rc = km2_decode(&s->client_km, s->client_km_buf, len, true);

	if (rc < 0) {
		close_later(s, 0, "%s", km2_error_name(rc));
		return;
	}
	s->iv_proto = km2_peer_info_proto(&s->client_km.peer_info);
	s->iv_mtu = km2_peer_info_get(&s->client_km.peer_info, "IV_MTU", value, sizeof(value));
	s->ncp = km2_peer_info_get(&s->client_km.peer_info, "IV_CIPHERS", NULL, 0) ||
		 (km2_peer_info_get(&s->client_km.peer_info, "IV_NCP", value, sizeof(value)) &&
		  atoi(value) >= 2);
	if (send_server_km(s, &server_km) < 0 || derive_keys(s, &server_km) < 0) {
		close_later(s, 0, "%s", "key exchange failed");
		return;
	}
	s->state = SESSION_ACTIVE;
	s->deadline = now(s) + 1e9; /* from here keepalive decides (data channel) */
	cipher = ncp_select(s->p.ciphers, s->p.n_ciphers, &s->client_km.peer_info,
			    &s->client_km.options);
	if (!cipher) {
		refuse(s, "Data channel cipher negotiation failed (no shared cipher)");
		return;
	}
	snprintf(s->cipher, sizeof(s->cipher), "%s", cipher);
	/* Installed before PUSH_REPLY: the client sends data as soon as it has the reply. */
	char err[160];
	if (data_key_init(&s->data, s->p.crypto, cipher, s->key_block, true, 0, err, sizeof(err)) <
	    0) {
		close_later(s, 0, "%s", err);
		return;
	}
	s->has_data_key = true;
	admit(s);
}

static void handle_message(struct session *s, const char *msg)
{
	if (strcmp(msg, "PUSH_REQUEST") == 0)
		send_push(s);
	else if (strcmp(msg, "EXIT") == 0)
		close_later(s, 0, "%s", "the client sent EXIT");
	else
		log_debug(s->p.log, "session", "%s: ignored control message \"%.40s\"", s->who,
			  msg);
}

/* Reads application data: first the key-method-2 message, then NUL-separated messages. */
static void read_tls_data(struct session *s)
{
	uint8_t buf[KM2_MESSAGE_MAX + 1];
	ssize_t n = 0;

	while (s->state != SESSION_CLOSING &&
	       (n = tls_session_read(s->tls, buf, sizeof(buf))) > 0) {
		if (s->state == SESSION_KEY_EXCHANGE) {
			memcpy(s->client_km_buf, buf, (size_t)n);
			handle_client_km(s, (size_t)n);
			continue;
		}
		buf[n < (ssize_t)sizeof(buf) ? n : n - 1] = '\0';
		for (char *m = (char *)buf; m < (char *)buf + n; m += strlen(m) + 1)
			if (*m)
				handle_message(s, m);
	}
	if (n < 0 && s->state != SESSION_CLOSING)
		close_later(s, 0, "%s", tls_session_error(s->tls));
}

static void progress(struct session *s)
{
	if (s->state == SESSION_TLS) {
		int rc = tls_session_handshake(s->tls);

		update_who(s);
		if (rc < 0) {
			log_warnx(s->p.log, "session", "%s: refused: %s", s->who,
				  tls_session_error(s->tls));
			close_later(s, 1, "TLS refused: %s", tls_session_error(s->tls));
			return;
		}
		if (rc == 0)
			return;
		log_info(s->p.log, "session", "%s: %s established (%s)", s->who,
			 tls_session_version(s->tls), tls_session_cipher(s->tls));
		s->state = SESSION_KEY_EXCHANGE;
	}
	read_tls_data(s);
}

static void on_keepalive(struct ev_loop *loop, ev_timer *w, int revents);

/* Checks a packet belongs to this session; false to drop it. */
static bool is_ours(struct session *s, const struct proto_control *ctl, uint32_t replay_id)
{
	if (!proto_sid_equal(&ctl->sid, &s->remote_sid))
		return false;
	if (ctl->n_acks && !proto_sid_equal(&ctl->remote_sid, &s->local_sid))
		return false;
	if (s->wrap.mode != WRAP_NONE) {
		if (replay_check(&s->replay, replay_id) != REPLAY_OK)
			return false;
		replay_record(&s->replay, replay_id);
	}
	return true;
}

void session_receive(struct session *s, const struct proto_control *ctl, uint32_t replay_id)
{
	uint8_t opcode;
	const uint8_t *payload;
	size_t len;

	if (s->state == SESSION_CLOSING || !is_ours(s, ctl, replay_id))
		return;
	if (ctl->key_id != 0) {
		/* Renegotiation (soft reset) arrives with the data channel work. */
		log_debug(s->p.log, "session", "%s: ignored %s for key %u", s->who,
			  proto_opcode_name(ctl->opcode), ctl->key_id);
		return;
	}
	for (unsigned i = 0; i < ctl->n_acks; i++)
		reliable_on_ack(&s->rel, ctl->acks[i]);
	if (proto_has_msg_id(ctl->opcode))
		(void)reliable_on_receive(&s->rel, ctl->msg_id, ctl->opcode, ctl->payload,
					  ctl->payload_len);
	while (reliable_deliver(&s->rel, &opcode, &payload, &len))
		if (opcode == P_CONTROL_V1 && len &&
		    tls_session_put_ciphertext(s->tls, payload, len) < 0)
			close_later(s, 0, "%s", "out of memory");
	if (s->state != SESSION_CLOSING)
		progress(s);
	flush(s);
}

struct session *session_new(const struct session_params *p, const struct sockaddr *peer,
			    socklen_t peer_len, const struct proto_sid *cookie,
			    const struct proto_sid *client_sid, uint32_t peer_id)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s || peer_len > sizeof(s->peer) || !(s->tls = tls_session_new(p->tls))) {
		free(s);
		return NULL;
	}
	s->p = *p;
	s->wrap = *p->wrap;
	memcpy(&s->peer, peer, peer_len);
	s->peer_len = peer_len;
	s->local_sid = *cookie;
	s->remote_sid = *client_sid;
	s->peer_id = peer_id;
	s->state = SESSION_TLS;
	reliable_init(&s->rel);
	/* The reset exchange happened statelessly: both sides are past message 0, and
	 * the wrapped replay ids were 1 (the client's reset and our reply). */
	s->rel.next_send_id = 1;
	s->rel.next_recv_id = 1;
	s->next_replay_id = 2;
	replay_init(&s->replay);
	replay_record(&s->replay, 1);
	s->connected_at = now(s);
	s->deadline = now(s) + SESSION_HAND_WINDOW_SECONDS;
	ev_init(&s->timer, on_timer);
	s->timer.data = s;
	ev_init(&s->keepalive, on_keepalive);
	s->keepalive.data = s;
	s->last_sent = s->last_received = now(s);
	update_who(s);
	return s;
}

void session_free(struct session *s)
{
	if (!s)
		return;
	ev_timer_stop(s->p.loop, &s->timer);
	ev_timer_stop(s->p.loop, &s->keepalive);
	if (s->has_data_key)
		data_key_clear(&s->data);
	tls_session_free(s->tls);
	for (size_t i = 0; i < s->push.n_messages; i++)
		free(s->push.messages[i]);
	wrap_clear(&s->wrap);
	crypto_wipe(s->key_block, sizeof(s->key_block));
	crypto_wipe(s->client_km_buf, sizeof(s->client_km_buf));
	free(s);
}

bool session_is_peer(const struct session *s, const struct sockaddr *addr, socklen_t len)
{
	return len == s->peer_len && memcmp(&s->peer, addr, len) == 0;
}

enum session_state session_state(const struct session *s)
{
	return s->state;
}

const char *session_state_name(enum session_state st)
{
	static const char *const names[] = {
#define SESSION_STATE_NAME(e, name) [e] = name,
		SESSION_STATE_MAP(SESSION_STATE_NAME)
#undef SESSION_STATE_NAME
	};

	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

const char *session_cn(const struct session *s)
{
	return tls_session_peer_cn(s->tls);
}

const char *session_cipher(const struct session *s)
{
	return s->cipher;
}

const char *session_address(const struct session *s)
{
	return s->address;
}

const struct sockaddr *session_peer(const struct session *s)
{
	return (const struct sockaddr *)&s->peer;
}

uint32_t session_peer_id(const struct session *s)
{
	return s->peer_id;
}

uint32_t session_iv_proto(const struct session *s)
{
	return s->iv_proto;
}

bool session_iv_mtu(const struct session *s)
{
	return s->iv_mtu;
}

bool session_ncp(const struct session *s)
{
	return s->ncp;
}

double session_connected_at(const struct session *s)
{
	return s->connected_at;
}

const uint8_t *session_key_block(const struct session *s)
{
	return s->key_block;
}

const struct ip_addr *session_vpn_addr(const struct session *s)
{
	return &s->vpn_addr;
}

const struct ip_addr *session_vpn_addr6(const struct session *s)
{
	return &s->vpn_addr6;
}

bool session_owns_source(const struct session *s, const uint8_t *ip, size_t len)
{
	if (len >= 20 && ip[0] >> 4 == 4)
		return s->vpn_addr.family == AF_INET && memcmp(ip + 12, s->vpn_addr.bytes, 4) == 0;
	if (len >= 40 && ip[0] >> 4 == 6)
		return s->vpn_addr6.family == AF_INET6 &&
		       memcmp(ip + 8, s->vpn_addr6.bytes, 16) == 0;
	return false;
}

int session_data_open(struct session *s, uint8_t *pkt, size_t len, const struct sockaddr *from,
		      socklen_t from_len)
{
	int n;

	if (!s->has_data_key || s->state == SESSION_CLOSING)
		return DATA_EAUTH;
	if (proto_key_id(pkt[0]) != s->data.key_id)
		return DATA_EAUTH; /* a key state we do not have (yet) */
	n = data_open(&s->data, pkt, len);
	if (n < 0)
		return n;
	s->last_received = now(s);
	if (!session_is_peer(s, from, from_len) && from_len <= sizeof(s->peer)) {
		char to[UDP_ADDR_TEXT_MAX];

		memcpy(&s->peer, from, from_len);
		s->peer_len = from_len;
		log_info(s->p.log, "session", "%s: moved to %s (float)", s->who,
			 udp_addr_format(from, to, sizeof(to)));
		update_who(s);
	}
	if (n == sizeof(PING_MAGIC) && memcmp(pkt + DATA_OVERHEAD, PING_MAGIC, 16) == 0)
		return 0;
	s->counters.packets_in++;
	s->counters.bytes_in += (uint64_t)n;
	return n;
}

int session_data_send(struct session *s, uint8_t *pkt, size_t len)
{
	int n;

	if (!s->has_data_key || s->state != SESSION_ACTIVE)
		return DATA_EAUTH;
	n = data_seal(&s->data, s->peer_id, pkt, len);
	if (n < 0)
		return n;
	s->p.ops->send(s->p.ctx, s, pkt, (size_t)n);
	s->last_sent = now(s);
	s->counters.packets_out++;
	s->counters.bytes_out += len;
	return 0;
}

const struct session_counters *session_counters(const struct session *s)
{
	return &s->counters;
}

void session_notify_exit(struct session *s)
{
	if (s->state != SESSION_ACTIVE)
		return;
	send_message(s, "RESTART");
	flush(s);
}

static void send_ping(struct session *s)
{
	uint8_t pkt[DATA_OVERHEAD + sizeof(PING_MAGIC)];

	memcpy(pkt + DATA_OVERHEAD, PING_MAGIC, sizeof(PING_MAGIC));
	(void)session_data_send(s, pkt, sizeof(PING_MAGIC));
}

/* Every second: ping a quiet client, end a silent one (2.6's ping / ping-restart). */
static void on_keepalive(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = w->data;

	(void)loop;
	(void)revents;
	if (s->state != SESSION_ACTIVE || !s->has_data_key)
		return;
	if (now(s) - s->last_received >= s->ping_timeout) {
		close_later(s, 0, "ping-restart: nothing received for %u seconds", s->ping_timeout);
		return;
	}
	if (now(s) - s->last_sent >= s->ping_interval)
		send_ping(s);
}

void session_set_keepalive(struct session *s, unsigned interval, unsigned timeout)
{
	s->ping_interval = interval;
	s->ping_timeout = timeout;
	ev_timer_stop(s->p.loop, &s->keepalive);
	ev_timer_set(&s->keepalive, 1, 1);
	ev_timer_start(s->p.loop, &s->keepalive);
}
