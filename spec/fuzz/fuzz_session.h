/* SPDX-License-Identifier: MIT */
/*
 * The session fuzzers' harness (fuzz_session_server.c, fuzz_session_client.c
 * define FUZZ_TARGET_ROLE and include this): a server session and a client
 * session in one process, with real TLS, and the fuzzer in the middle. The
 * input is a script of steps: carry, drop, duplicate, corrupt or reorder
 * the honest packets, inject packets built from input bytes into the target
 * session (with its session ids and message ids filled in on request, so
 * they pass the first checks), and move the clock so retransmits, the
 * hand-window and keepalive fire. Time and randomness are fake
 * (fuzz_fake.h): the same input replays the same handshake.
 *
 * After every step: the target's state is a valid one and never goes back,
 * its data-channel counters never fall, its key id fits 3 bits, and every
 * packet either session sends decodes as a control packet of its own
 * session id. ASan reports leaks at the end of every input.
 */
#ifndef MOONVPN_FUZZ_SESSION_H
#define MOONVPN_FUZZ_SESSION_H

#include <arpa/inet.h>
#include <ev.h>
#include <libgen.h>
#include <stdio.h>

#include "cookie.h"
#include "crypto.h"
#include "fuzz_fake.h"
#include "log.h"
#include "proto.h"
#include "session.h"
#include "tls.h"
#include "wrap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	WIRE_MAX = 2048,
	QUEUE_MAX = 64,
	STEPS_MAX = 512,	  /* steps of one input */
	PUMP_ROUNDS = 8,	  /* carry-everything rounds of one PUMP step */
	INJECT_PAYLOAD_MAX = 255, /* payload bytes of an injected packet */
};

/* The steps; an input byte modulo STEP_COUNT chooses one. */
enum step {
	STEP_TO_SERVER,	  /* carry the client's oldest packet */
	STEP_TO_CLIENT,	  /* carry the server's oldest packet */
	STEP_DROP_SERVER, /* lose the client's oldest packet */
	STEP_DROP_CLIENT, /* lose the server's oldest packet */
	STEP_DUPLICATE,	  /* carry the oldest packet for the target, keep it queued */
	STEP_TIME,	  /* + byte: advance the clock, run the timers */
	STEP_INJECT,	  /* + header, flags, acks, length, payload: a packet for the target */
	STEP_CORRUPT,	  /* + offset, xor: carry the oldest packet for the target, altered */
	STEP_SWAP,	  /* reorder the two oldest packets for the target */
	STEP_PUMP,	  /* carry everything both ways until quiet */
	STEP_RENEGOTIATE, /* + byte: the target renegotiates after that many seconds */
	STEP_KEEPALIVE,	  /* + byte: the target's keepalive interval (timeout: 4x) */
	STEP_KICK,	  /* + byte: the operator kicks the target (odd: it may reconnect) */
	STEP_EXIT,	  /* the target says it exits (RESTART or EXIT) */
	STEP_RELOAD,	  /* + byte: a reload gives the target its TLS context (odd: another CA) */
	STEP_COUNT,
};

/* Flags of STEP_INJECT: which fields the harness fills with the right values. */
enum {
	FILL_SID = 1,	     /* the honest peer's session id as the sender's */
	FILL_REMOTE_SID = 2, /* the target's own session id as the echoed one */
	FILL_MSG_ID = 4,     /* the message id the target expects next (+ flags >> 5) */
	FILL_ACKS = 8,	     /* acknowledge the target's latest message ids */
	FILL_REPLAY = 16,    /* a fresh replay id rather than one from the input */
};

struct packet {
	uint8_t wire[WIRE_MAX];
	size_t len;
};

/* One side: its session, what it sent and nobody carried yet, what we learned of it. */
struct side {
	struct session *s;
	struct packet q[QUEUE_MAX];
	size_t n;
	struct proto_sid sid;
	bool have_sid;
	uint32_t last_msg_id; /* the latest message id it sent */
	uint32_t replay_id;   /* of the packets the harness builds for it */
	enum session_state state;
	struct dchan_counters counters;
};

/* The input, read from the front; past its end every read is 0. */
struct input {
	const uint8_t *p;
	size_t n;
};

static struct ev_loop *loop;
static struct log lg;
static struct crypto *crypto;
static struct wrap no_wrap;
static struct tls_ctx *server_tls, *client_tls;
static struct tls_ctx *other_tls[2]; /* the server's, the client's: trusting another CA */
static struct cookie_key cookie_key;
static struct side server, client;
static struct side *const target = FUZZ_TARGET_ROLE == SESSION_ROLE_SERVER ? &server : &client;
static struct side *const honest = FUZZ_TARGET_ROLE == SESSION_ROLE_SERVER ? &client : &server;
static uint8_t decision;   /* the server's connect hook: admit, refuse or defer */
static bool trace;	   /* FUZZ_TRACE set: each step's states on stderr, for reading an input */
static uint64_t sent_hash; /* of every packet sent: the same input gives the same one */
static const char *const ciphers[] = { "AES-256-GCM", "CHACHA20-POLY1305" };

static uint8_t take(struct input *in)
{
	uint8_t b = in->n ? in->p[0] : 0;

	if (in->n) {
		in->p++;
		in->n--;
	}
	return b;
}

static struct side *peer_of(struct side *side)
{
	return side == &server ? &client : &server;
}

/*
 * What side opens a control packet of key_id with: its session's wrapping
 * (dynamic tls-crypt for renegotiations), none before it has a session;
 * NULL when the key is dynamic and side has no session to open it with.
 */
static const struct wrap *rx_wrap(const struct side *side, uint8_t key_id)
{
	if (side->s)
		return session_control_wrap(side->s, key_id);
	return key_id && peer_of((struct side *)side)->s &&
			       session_dyn_tls_crypt(peer_of((struct side *)side)->s)
		       ? NULL
		       : &no_wrap;
}

/* Every packet a session sends is a well-formed control packet of its own id. */
static void check_sent(struct side *side, bool from_session, const uint8_t *wire, size_t len)
{
	struct proto_control ctl;
	uint8_t plain[WIRE_MAX];
	const struct wrap *w;
	uint32_t pid, t;
	int n, e = 0;

	if (!proto_is_control(proto_opcode(wire[0])))
		return; /* a data-channel ping or exit notice: not the control state machine */
	w = rx_wrap(peer_of(side), proto_key_id(wire[0]));
	/* Dynamic tls-crypt opens only with the peer's matching key: none, when the peer
	 * has no session or has not had the push that turns it on yet. */
	if (!w || (side->s && session_control_wrap(side->s, proto_key_id(wire[0]))->dynamic &&
		   !w->dynamic))
		return;
	n = wrap_open(w, wire, len, plain, sizeof(plain), &pid, &t);
	if (n <= 0 || (e = proto_decode_control(&ctl, plain, (size_t)n)) != 0) {
		fprintf(stderr, "a session sent a %s of %zu bytes that does not decode: %s\n",
			proto_opcode_name(proto_opcode(wire[0])), len,
			n <= 0 ? "unwrap" : proto_error_name(e));
		abort();
	}
	if (!from_session)
		return; /* the front door's stateless reply: each names its own cookie */
	if (side->have_sid && !proto_sid_equal(&side->sid, &ctl.sid)) {
		fprintf(stderr, "a session changed its session id\n");
		abort();
	}
	side->sid = ctl.sid;
	side->have_sid = true;
	if (proto_has_msg_id(ctl.opcode) && ctl.msg_id > side->last_msg_id)
		side->last_msg_id = ctl.msg_id;
}

static void on_send(void *ctx, struct session *s, const uint8_t *wire, size_t len)
{
	struct side *side = ctx;

	if (len == 0 || len > WIRE_MAX) {
		fprintf(stderr, "a session sent %zu bytes\n", len);
		abort();
	}
	check_sent(side, s != NULL, wire, len);
	for (size_t i = 0; i < len; i++)
		sent_hash = (sent_hash ^ wire[i]) * 0x100000001b3ull;
	if (side->n == QUEUE_MAX)
		return; /* a full link drops */
	memcpy(side->q[side->n].wire, wire, len);
	side->q[side->n++].len = len;
}

static void on_connect(void *ctx, struct session *s)
{
	struct session_push push = { .n_messages = 1 };

	(void)ctx;
	switch (decision % 4) {
	case 1:
		session_refuse(s, "refused by the fuzzer");
		return;
	case 2:
		(void)session_auth_pending(s, "WEB_AUTH::https://login.example/", 5);
		return;
	default:
		break;
	}
	snprintf(push.address, sizeof(push.address), "10.8.0.2");
	push.messages[0] =
		strdup("PUSH_REPLY,ifconfig 10.8.0.2 255.255.255.0,peer-id 0,"
		       "cipher AES-256-GCM,topology subnet,key-derivation tls-ekm,"
		       "protocol-flags cc-exit tls-ekm dyn-tls-crypt,ping 10,ping-restart 60");
	session_admit(s, &push);
}

static void on_ended(void *ctx, struct session *s, const char *reason)
{
	struct side *side = ctx;

	(void)reason;
	session_free(s);
	side->s = NULL;
	side->state = SESSION_RESET; /* a new session may take its place */
	memset(&side->counters, 0, sizeof(side->counters));
}

static int on_pushed(void *ctx, struct session *s, const struct push_options *o)
{
	(void)ctx;
	(void)s;
	(void)o;
	return decision & 4 ? -1 : 0;
}

static const struct session_ops ops = {
	.send = on_send, .connect = on_connect, .ended = on_ended, .pushed = on_pushed
};

static struct session_params params(enum session_role role)
{
	return (struct session_params){
		.loop = loop,
		.log = &lg,
		.crypto = crypto,
		.tls = role == SESSION_ROLE_SERVER ? server_tls : client_tls,
		.wrap = &no_wrap,
		.ciphers = ciphers,
		.n_ciphers = 2,
		.ops = &ops,
		.ctx = role == SESSION_ROLE_SERVER ? &server : &client,
		.role = role,
		.options = "V4,dev-type tun,link-mtu 1541,tun-mtu 1500,proto UDPv4,auth SHA1,"
			   "keysize 128,key-method 2,tls-client",
		.peer_info = "IV_VER=2.6.14\nIV_PLAT=linux\nIV_PROTO=990\nIV_NCP=2\n"
			     "IV_CIPHERS=AES-256-GCM\nIV_MTU=1600\n",
	};
}

static struct sockaddr_in addr_of(uint32_t ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(ip);
	return a;
}

/*
 * The server's front door for a packet before its session: the stateless
 * cookie exchange (as server.c's handle_control), then a session.
 */
static void front_door(const struct proto_control *ctl, uint32_t pid, uint32_t t)
{
	struct sockaddr_in from = addr_of(0x0a000002, 40000);
	struct session_params sp = params(SESSION_ROLE_SERVER);
	uint64_t now = (uint64_t)time(NULL);
	struct proto_control reply;
	struct proto_sid cookie;
	uint8_t plain[128];
	size_t len;

	if (ctl->opcode == P_CONTROL_HARD_RESET_CLIENT_V2) {
		if (cookie_make(crypto, &cookie_key, now, (struct sockaddr *)&from, &ctl->sid,
				&cookie) < 0)
			return;
		cookie_reply(&reply, ctl, &cookie);
		len = proto_encode_control(plain, sizeof(plain), &reply);
		if (len)
			on_send(&server, NULL, plain, len);
		return;
	}
	if (!cookie_opens_session(ctl) ||
	    !cookie_check(crypto, &cookie_key, now, (struct sockaddr *)&from, &ctl->sid,
			  &ctl->remote_sid))
		return;
	/* The front door's reply named no session: learn the session's own id afresh. */
	server.have_sid = false;
	server.last_msg_id = 0;
	server.s = session_new(&sp, (struct sockaddr *)&from, sizeof(from), &ctl->remote_sid,
			       &ctl->sid, 0);
	if (server.s)
		session_receive(server.s, ctl, pid, t);
}

/* Hands a decoded packet to the session of to (the front door for the server without one). */
static void receive(struct side *to, const struct proto_control *ctl, uint32_t pid, uint32_t t)
{
	if (to->s)
		session_receive(to->s, ctl, pid, t);
	else if (to == &server)
		front_door(ctl, pid, t);
}

/* Opens and hands over one wire packet; undecodable ones are dropped as the server would. */
static void deliver(struct side *to, const uint8_t *wire, size_t len)
{
	const struct wrap *w;
	struct proto_control ctl;
	uint8_t plain[WIRE_MAX];
	uint32_t pid, t;
	int n;

	if (len == 0 || !proto_is_control(proto_opcode(wire[0])) ||
	    !(w = rx_wrap(to, proto_key_id(wire[0]))))
		return;
	n = wrap_open(w, wire, len, plain, sizeof(plain), &pid, &t);
	if (n > 0 && proto_decode_control(&ctl, plain, (size_t)n) == 0)
		receive(to, &ctl, pid, t);
}

/* Takes the oldest packet from's queue into p; false when it is empty. */
static bool pop(struct side *from, struct packet *p)
{
	if (!from->n)
		return false;
	*p = from->q[0];
	memmove(&from->q[0], &from->q[1], (from->n - 1) * sizeof(from->q[0]));
	from->n--;
	return true;
}

static void carry_one(struct side *from)
{
	struct packet p;

	if (pop(from, &p))
		deliver(peer_of(from), p.wire, p.len);
}

static void run_timers(void)
{
	ev_run(loop, EVRUN_NOWAIT);
}

static void pump(void)
{
	for (int round = 0; round < PUMP_ROUNDS && (server.n || client.n); round++) {
		while (client.n)
			carry_one(&client);
		while (server.n)
			carry_one(&server);
		run_timers();
	}
}

static void corrupt(struct input *in)
{
	struct packet p;
	uint8_t at = take(in), x = take(in);

	if (!pop(honest, &p))
		return;
	p.wire[at % p.len] ^= x ? x : 0x80;
	deliver(target, p.wire, p.len);
}

/*
 * A packet built from the input for the target: opcode and key id, the
 * fields the flags ask the harness to fill, then up to n_acks acks and a
 * payload from the input. It is encoded and decoded again, so only what
 * the wire can carry reaches the session.
 */
static void inject(struct input *in)
{
	uint8_t head = take(in), flags = take(in), n_acks = take(in) % (PROTO_ACKS_MAX + 1);
	uint8_t payload[INJECT_PAYLOAD_MAX], wire[WIRE_MAX];
	struct proto_control ctl = { .opcode = head >> 3, .key_id = head & 7, .n_acks = n_acks };
	size_t len;
	uint32_t pid;

	for (size_t i = 0; i < sizeof(ctl.sid.bytes); i++)
		ctl.sid.bytes[i] =
			flags & FILL_SID && honest->have_sid ? honest->sid.bytes[i] : take(in);
	for (size_t i = 0; i < sizeof(ctl.remote_sid.bytes); i++)
		ctl.remote_sid.bytes[i] = flags & FILL_REMOTE_SID && target->have_sid
						  ? target->sid.bytes[i]
						  : take(in);
	for (uint8_t i = 0; i < n_acks; i++)
		ctl.acks[i] = flags & FILL_ACKS ? target->last_msg_id - i : take(in);
	ctl.msg_id = flags & FILL_MSG_ID ? honest->last_msg_id + 1 + (flags >> 5) : take(in);
	ctl.payload_len = take(in);
	for (size_t i = 0; i < ctl.payload_len; i++)
		payload[i] = take(in);
	ctl.payload = ctl.payload_len ? payload : NULL;
	pid = flags & FILL_REPLAY ? ++honest->replay_id + 1000 : take(in);
	len = proto_encode_control(wire, sizeof(wire), &ctl);
	if (len && proto_decode_control(&ctl, wire, len) == 0)
		receive(target, &ctl, pid, (uint32_t)time(NULL));
}

/* Advances the clock: up to 1.27 s in 10 ms steps, or up to 254 s in 2 s steps. */
static void advance(uint8_t b)
{
	unsigned ms = b < 128 ? b * 10u : (b - 128u) * 2000u;

	/* Timers fire at their due times, not all at the end of a long jump. */
	while (ms) {
		unsigned step = ms < 1000 ? ms : 1000;

		fake_advance_ms(step);
		ms -= step;
		run_timers();
	}
}

static void step(struct input *in)
{
	struct packet p;

	switch (take(in) % STEP_COUNT) {
	case STEP_TO_SERVER:
		carry_one(&client);
		break;
	case STEP_TO_CLIENT:
		carry_one(&server);
		break;
	case STEP_DROP_SERVER:
		(void)pop(&client, &p);
		break;
	case STEP_DROP_CLIENT:
		(void)pop(&server, &p);
		break;
	case STEP_DUPLICATE:
		if (honest->n)
			deliver(target, honest->q[0].wire, honest->q[0].len);
		break;
	case STEP_TIME:
		advance(take(in));
		break;
	case STEP_INJECT:
		inject(in);
		break;
	case STEP_CORRUPT:
		corrupt(in);
		break;
	case STEP_SWAP:
		if (honest->n >= 2) {
			p = honest->q[0];
			honest->q[0] = honest->q[1];
			honest->q[1] = p;
		}
		break;
	case STEP_PUMP:
		pump();
		break;
	case STEP_RENEGOTIATE:
		if (target->s)
			session_set_renegotiation(target->s, 1 + take(in) % 64, 0);
		break;
	case STEP_KICK:
		if (target->s)
			session_kick(target->s, "by the fuzzer", take(in) & 1);
		break;
	case STEP_EXIT:
		if (target->s)
			session_notify_exit(target->s);
		break;
	case STEP_RELOAD:
		if (target->s)
			session_set_tls(target->s, take(in) & 1 ? other_tls[target == &client]
						   : target == &client ? client_tls
								       : server_tls);
		break;
	case STEP_KEEPALIVE:
		if (target->s) {
			unsigned interval = 1 + take(in) % 16;

			session_set_keepalive(target->s, interval, 4 * interval);
		}
		break;
	}
}

/* The target's invariants after a step. */
static void check(struct side *side)
{
	const struct dchan_counters *c;
	enum session_state st;

	if (!side->s)
		return;
	st = session_state(side->s);
	if (st > SESSION_CLOSING || st < side->state) {
		fprintf(stderr, "state %d after %d\n", (int)st, (int)side->state);
		abort();
	}
	side->state = st;
	if (session_key_id(side->s) > 7)
		abort();
	c = session_counters(side->s);
	if (c->packets_in < side->counters.packets_in ||
	    c->packets_out < side->counters.packets_out || c->bytes_in < side->counters.bytes_in ||
	    c->bytes_out < side->counters.bytes_out) {
		fprintf(stderr, "a counter fell\n");
		abort();
	}
	side->counters = *c;
}

/* The binary is build/fuzz/NAME: the fixed certificates are in spec/fuzz/pki of its tree. */
static void pki_path(char *out, size_t cap, const char *file)
{
	char self[256];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		abort();
	self[n] = '\0';
	snprintf(out, cap, "%s/../../spec/fuzz/pki/%s", dirname(self), file);
}

/*
 * The TLS contexts, from fixed certificates (a fresh PKI would change every
 * handshake's bytes from one run to the next), with the fake generator on:
 * their ticket keys are the same in every run.
 */
static void setup(void)
{
	char crt[320], key[320], ca[320], err[256];
	struct tls_config cfg = { .peer_cert = TLS_PEER_CERT_REQUIRED, .ca = ca };
	FILE *quiet = fopen("/dev/null", "w");

	if (!quiet)
		abort();
	log_init(&lg, LOG_ERROR, quiet);
	fake_setup();
	fake_begin();
	wrap_init_none(&no_wrap);
	crypto = crypto_new(err, sizeof(err));
	if (!crypto)
		abort();
	pki_path(ca, sizeof(ca), "ca.crt");
	cfg.cert = crt;
	cfg.key = key;
	for (int i = 0; i < 2; i++) {
		cfg.role = i ? TLS_CLIENT : TLS_SERVER;
		pki_path(crt, sizeof(crt), i ? "client1.crt" : "server.crt");
		pki_path(key, sizeof(key), i ? "client1.key" : "server.key");
		if (tls_ctx_new(i ? &client_tls : &server_tls, &cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "TLS context: %s\n", err);
			abort();
		}
		pki_path(ca, sizeof(ca), "other-ca.crt");
		if (tls_ctx_new(&other_tls[i], &cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "TLS context: %s\n", err);
			abort();
		}
		pki_path(ca, sizeof(ca), "ca.crt");
	}
	trace = getenv("FUZZ_TRACE") != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct sockaddr_in to = addr_of(0x0a000001, 1194);
	struct session_params csp;

	if (!crypto)
		setup();
	fake_begin();
	loop = ev_loop_new(EVFLAG_NOENV);
	memset(&server, 0, sizeof(server));
	memset(&client, 0, sizeof(client));
	if (!loop || cookie_key_init(&cookie_key, 60) < 0)
		abort();
	decision = take(&in);
	sent_hash = 0xcbf29ce484222325ull;
	csp = params(SESSION_ROLE_CLIENT);
	client.s = session_new_client(&csp, (struct sockaddr *)&to, sizeof(to));
	if (!client.s)
		abort();
	for (int i = 0; i < STEPS_MAX && in.n; i++) {
		uint8_t op = in.p[0] % STEP_COUNT;

		step(&in);
		check(target);
		check(honest);
		if (trace)
			fprintf(stderr,
				"step %d (%u): server %s (%zu queued), client %s (%zu queued)\n", i,
				op, server.s ? session_state_name(server.state) : "none", server.n,
				client.s ? session_state_name(client.state) : "none", client.n);
	}
	session_free(server.s);
	session_free(client.s);
	ev_loop_destroy(loop);
	fake_end();
	if (trace)
		fprintf(stderr, "sent: %016llx\n", (unsigned long long)sent_hash);
	return 0;
}

#endif
