// SPDX-License-Identifier: MIT
/*
 * A server session and a client session in one process, their packets
 * carried by hand so that the test decides what arrives when: the timing of
 * the answer to a client's key exchange. The server's PUSH_REPLY and its
 * AUTH_FAILED go only once the client acknowledged the server's
 * key-method-2 message (the OpenVPN 3 core client drops an application
 * message that comes earlier); a lost AUTH_FAILED is resent; a refused
 * session ends as soon as its AUTH_FAILED is acknowledged. Deferred
 * authentication: AUTH_PENDING waits for the same ack, and a decision that
 * does not come within its timeout refuses the client. Dynamic tls-crypt:
 * with tls-crypt negotiated by the push (protocol-flags dyn-tls-crypt), a
 * renegotiation's control packets, the client's SOFT_RESET first, are
 * wrapped with the sessions' derived key, with replay ids of their own,
 * and never with the static key, which key_id 0 keeps. A reload that
 * shortens renegotiate.seconds renegotiates older keys instead of ending
 * their clients. Memory: what a server session holds during its handshake
 * and once connected and quiet, measured by the allocator (printed), and
 * that a quiet one holds no control-channel buffers. A handshake the
 * server gives up on is told to its client (an alert, or RESTART). The
 * epoch data format (2.7): a client that announces it and is pushed
 * aead-epoch seals and opens epoch packets with the server, each side
 * following the other to a new epoch, also after a renegotiation; one that
 * does not announce it stays with the 2.6 format.
 */
#include <arpa/inet.h>
#include <ev.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cookie.h"
#include "crypto.h"
#include "datakey.h"
#include "dchan.h"
#include "epochdata.h"
#include "log.h"
#include "proto.h"
#include "session.h"
#include "session_impl.h"
#include "tls.h"
#include "unit.h"
#include "wrap.h"

#if defined(__SANITIZE_ADDRESS__)
/* The sanitizer's runtime (its header is not always installed). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

enum { WIRE_MAX = 2048, OUTBOX_MAX = 64 };

struct packet {
	uint8_t wire[WIRE_MAX];
	size_t len;
};

/* One side: its session and what it sent that was not carried yet. */
struct side {
	struct session *s;
	struct packet out[OUTBOX_MAX];
	size_t n_out;
	bool connected, pushed, ended;
	char end_reason[SESSION_REASON_MAX];
};

static struct ev_loop *loop;
static struct log lg;
static struct crypto *crypto;
static struct wrap no_wrap;
/* The static wrapping each side's packets are opened with (key_id 0, or all without dyn). */
static const struct wrap *server_rx = &no_wrap, *client_rx = &no_wrap;
static const char *push_text = "PUSH_REPLY,ifconfig 10.8.0.2 255.255.255.0,peer-id 0,"
			       "cipher AES-256-GCM,topology subnet,key-derivation tls-ekm";

/* What carry saw: control packets of key_id > 0 each way, and how they opened. */
struct reneg_seen {
	unsigned to_server, to_client;	   /* key_id > 0 packets carried */
	unsigned static_opens;		   /* of those: opened with the static key */
	unsigned soft_resets;		   /* the client's P_CONTROL_SOFT_RESET_V1 among them */
	unsigned key0_static, key0_others; /* key_id 0 packets: opened with the static key, not */
	uint32_t first_pid_to_server, first_pid_to_client;
};
static struct reneg_seen seen;
static struct cookie_key cookie_key;
static struct side server, client;
static const char *decision; /* what the server's connect hook answers: NULL admits */
static char pki[64];

static void on_send(void *ctx, struct session *s, const uint8_t *wire, size_t len)
{
	struct side *side = ctx;

	(void)s;
	if (side->n_out < OUTBOX_MAX && len <= WIRE_MAX) {
		memcpy(side->out[side->n_out].wire, wire, len);
		side->out[side->n_out++].len = len;
	}
}

static void on_connect(void *ctx, struct session *s)
{
	struct session_push push = { .n_messages = 1 };

	((struct side *)ctx)->connected = true;
	if (decision && strcmp(decision, "pending") == 0) {
		CHECK(session_auth_pending(s, "WEB_AUTH::https://login.example/", 1), "pending");
		return;
	}
	if (decision) {
		session_refuse(s, decision);
		return;
	}
	snprintf(push.address, sizeof(push.address), "10.8.0.2");
	push.messages[0] = strdup(push_text);
	session_admit(s, &push);
}

static void on_ended(void *ctx, struct session *s, const char *reason)
{
	struct side *side = ctx;

	side->ended = true;
	snprintf(side->end_reason, sizeof(side->end_reason), "%s", reason);
	session_free(s);
	side->s = NULL;
}

static int on_pushed(void *ctx, struct session *s, const struct push_options *o)
{
	(void)s;
	(void)o;
	((struct side *)ctx)->pushed = true;
	return 0;
}

static const struct session_ops ops = {
	.send = on_send, .connect = on_connect, .ended = on_ended, .pushed = on_pushed
};

/* Notes how a packet opened, for the dynamic tls-crypt test. */
static void note(const struct packet *p, bool to_server, const struct proto_control *ctl,
		 uint32_t pid)
{
	const struct wrap *st = to_server ? server_rx : client_rx;
	uint8_t plain[WIRE_MAX];
	uint32_t spid, t;
	bool opens_static = st->mode != WRAP_NONE &&
			    wrap_open(st, p->wire, p->len, plain, sizeof(plain), &spid, &t) > 0;

	if (ctl->key_id == 0) {
		seen.key0_static += opens_static;
		seen.key0_others += !opens_static;
		return;
	}
	if (to_server && !seen.to_server++)
		seen.first_pid_to_server = pid;
	if (!to_server && !seen.to_client++)
		seen.first_pid_to_client = pid;
	seen.static_opens += opens_static;
	seen.soft_resets += to_server && ctl->opcode == P_CONTROL_SOFT_RESET_V1;
}

/*
 * Opens one packet as its receiver's front door does: with the session's
 * wrapping for its key_id (the static one before there is a session).
 * False for data packets (the test carries control only).
 */
static bool open_control(const struct packet *p, bool to_server, struct proto_control *ctl,
			 uint8_t *plain, size_t cap, uint32_t *pid, uint32_t *t)
{
	struct session *rx = to_server ? server.s : client.s;
	uint8_t key_id = proto_key_id(p->wire[0]);
	const struct wrap *w =
		rx ? session_control_wrap(rx, key_id) : (to_server ? server_rx : client_rx);
	int n;

	if (!proto_is_control(proto_opcode(p->wire[0])))
		return false;
	n = wrap_open(w, p->wire, p->len, plain, cap, pid, t);
	if (n <= 0 || proto_decode_control(ctl, plain, (size_t)n) != 0)
		return false;
	note(p, to_server, ctl, *pid);
	return true;
}

static struct sockaddr_in client_addr(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(40000) };

	a.sin_addr.s_addr = htonl(0x0a000002);
	return a;
}

/* The server's front door for a packet without a session: the stateless cookie exchange. */
static void front_door(const struct proto_control *ctl, uint32_t pid, uint32_t t,
		       struct session_params *sp)
{
	struct sockaddr_in from = client_addr();
	uint64_t now = (uint64_t)time(NULL);
	struct proto_control reply;
	struct proto_sid cookie;
	uint8_t plain[128];
	size_t len;
	int n;

	if (ctl->opcode == P_CONTROL_HARD_RESET_CLIENT_V2) {
		CHECK(cookie_make(crypto, &cookie_key, now, (struct sockaddr *)&from, &ctl->sid,
				  &cookie) == 0,
		      "cookie");
		cookie_reply(&reply, ctl, &cookie);
		len = proto_encode_control(plain, sizeof(plain), &reply);
		n = wrap_seal(sp->wrap, plain, len, 1, 0, server.out[server.n_out].wire, WIRE_MAX);
		if (n > 0)
			server.out[server.n_out++].len = (size_t)n;
		return;
	}
	if (cookie_opens_session(ctl) &&
	    cookie_check(crypto, &cookie_key, now, (struct sockaddr *)&from, &ctl->sid,
			 &ctl->remote_sid)) {
		server.s = session_new(sp, (struct sockaddr *)&from, sizeof(from), &ctl->remote_sid,
				       &ctl->sid, 0);
		CHECK(server.s != NULL, "server session");
		if (server.s)
			session_receive(server.s, ctl, pid, t);
	}
}

/* Carries what from sent to its peer, dropping packet number drop (-1: none). */
static size_t carry(struct side *from, int drop, struct session_params *sp)
{
	struct packet batch[OUTBOX_MAX];
	size_t n = from->n_out, carried = 0;

	memcpy(batch, from->out, n * sizeof(batch[0]));
	from->n_out = 0;
	for (size_t i = 0; i < n; i++) {
		struct proto_control ctl;
		uint8_t plain[WIRE_MAX];
		uint32_t pid, t;

		if ((int)i == drop ||
		    !open_control(&batch[i], from == &client, &ctl, plain, sizeof(plain), &pid, &t))
			continue;
		carried++;
		if (from == &server && client.s)
			session_receive(client.s, &ctl, pid, t);
		else if (from == &client && server.s)
			session_receive(server.s, &ctl, pid, t);
		else if (from == &client)
			front_door(&ctl, pid, t, sp);
	}
	return carried;
}

static struct tls_ctx *make_tls(enum tls_role role)
{
	char ca[128], crt[128], key[128], err[256];
	struct tls_ctx *ctx = NULL;
	struct tls_config cfg = { .role = role, .peer_cert = TLS_PEER_CERT_REQUIRED };

	snprintf(ca, sizeof(ca), "%s/ca.crt", pki);
	snprintf(crt, sizeof(crt), "%s/%s.crt", pki, role == TLS_SERVER ? "server" : "client1");
	snprintf(key, sizeof(key), "%s/%s.key", pki, role == TLS_SERVER ? "server" : "client1");
	cfg.ca = ca;
	cfg.cert = crt;
	cfg.key = key;
	CHECK(tls_ctx_new(&ctx, &cfg, err, sizeof(err)) == 0, "TLS context: %s", err);
	return ctx;
}

static const char *const ciphers[] = { "AES-256-GCM" };

static struct session_params params(enum session_role role, struct tls_ctx *tls, struct side *side)
{
	return (struct session_params){
		.loop = loop,
		.log = &lg,
		.crypto = crypto,
		.tls = tls,
		.wrap = &no_wrap,
		.ciphers = ciphers,
		.n_ciphers = 1,
		.ops = &ops,
		.ctx = side,
		.role = role,
		.options = "V4,dev-type tun,link-mtu 1541,tun-mtu 1500,proto UDPv4,auth SHA1,"
			   "keysize 128,key-method 2,tls-client",
		.peer_info = "IV_VER=2.6.14\nIV_PLAT=linux\nIV_PROTO=990\nIV_NCP=2\n"
			     "IV_CIPHERS=AES-256-GCM\n",
	};
}

/*
 * Runs the exchange until the client's key-method-2 message is at the
 * server (which answers it, and decides at once in its connect hook), then
 * carries the server's answer to the client: the server's key-method-2 and
 * whatever it sent along. Returns false when the handshake stalled.
 */
static bool to_server_key_method(struct session_params *ssp)
{
	for (int round = 0; round < 40 && !server.connected; round++) {
		ev_now_update(loop);
		carry(&client, -1, ssp);
		if (server.connected)
			break;
		carry(&server, -1, ssp);
	}
	if (!server.connected)
		return false;
	carry(&server, -1, ssp);
	return true;
}

static void reset_sides(void)
{
	session_free(server.s);
	session_free(client.s);
	memset(&server, 0, sizeof(server));
	memset(&client, 0, sizeof(client));
}

static void start(struct session_params *csp)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(1194) };

	reset_sides();
	to.sin_addr.s_addr = htonl(0x0a000001);
	client.s = session_new_client(csp, (struct sockaddr *)&to, sizeof(to));
	CHECK(client.s != NULL, "client session");
}

static void test_push_waits_for_the_ack(struct session_params *ssp, struct session_params *csp)
{
	decision = NULL;
	start(csp);
	CHECK(to_server_key_method(ssp), "the handshake reached the key exchange");
	CHECK(!client.pushed,
	      "no PUSH_REPLY with the server's key-method-2: it waits for the client's ack");
	CHECK(client.n_out > 0, "the client acknowledges (and asks for the push)");
	carry(&client, -1, ssp);
	carry(&server, -1, ssp);
	CHECK(client.pushed, "PUSH_REPLY once the client acknowledged");
	CHECK(session_state(server.s) == SESSION_ACTIVE, "the server's session is active");
}

static void test_auth_failed(struct session_params *ssp, struct session_params *csp)
{
	double t0;

	decision = "wrong username or password";
	start(csp);
	CHECK(to_server_key_method(ssp), "the handshake reached the key exchange");
	CHECK(session_state(client.s) != SESSION_CLOSING,
	      "no AUTH_FAILED with the server's key-method-2");
	carry(&client, -1, ssp); /* the ack: AUTH_FAILED goes now */
	CHECK(server.n_out > 0, "AUTH_FAILED leaves once acknowledged");
	carry(&server, 0, ssp); /* and is lost */
	CHECK(session_state(client.s) != SESSION_CLOSING, "lost");
	/* The reliability layer resends it. */
	t0 = ev_time();
	while (server.n_out == 0 && ev_time() - t0 < 10) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(20000);
	}
	CHECK(server.n_out > 0, "AUTH_FAILED resent after %.1f s", ev_time() - t0);
	carry(&server, -1, ssp);
	CHECK(client.s && session_state(client.s) == SESSION_CLOSING, "the client got AUTH_FAILED");
	CHECK(!server.ended, "the server's session lingers until its AUTH_FAILED is acknowledged");
	ev_run(loop, EVRUN_NOWAIT); /* the client's ack */
	carry(&client, -1, ssp);
	/* A few loop turns, not seconds: its linger would take AUTH_FAILED_LINGER_SECONDS. */
	for (int turn = 0; turn < 5 && !server.ended; turn++)
		ev_run(loop, EVRUN_NOWAIT);
	CHECK(server.ended, "then it ends at once, not after its linger: %s", server.end_reason);
	CHECK(strstr(server.end_reason, "wrong username or password") != NULL, "with the reason");
}

/* A deferred decision that never comes: the client is refused when its time is up. */
static void test_pending_times_out(struct session_params *ssp, struct session_params *csp)
{
	size_t before;
	double t0;

	decision = "pending";
	start(csp);
	CHECK(to_server_key_method(ssp), "the handshake reached the key exchange");
	before = server.n_out;
	CHECK(session_state(server.s) == SESSION_AUTH, "deciding");
	carry(&client, -1, ssp); /* the ack: AUTH_PENDING and INFO_PRE go now */
	CHECK(server.n_out > before, "AUTH_PENDING leaves once our key-method-2 is acknowledged");
	carry(&server, -1, ssp);
	t0 = ev_time();
	while (session_state(server.s) == SESSION_AUTH && ev_time() - t0 < 10) {
		ev_run(loop, EVRUN_NOWAIT);
		carry(&client, -1, ssp); /* its acks */
		usleep(20000);
	}
	CHECK(session_state(server.s) == SESSION_CLOSING, "refused once the timeout passed");
	carry(&client, -1, ssp);
	carry(&server, -1, ssp);
	CHECK(client.s && session_state(client.s) == SESSION_CLOSING, "the client got AUTH_FAILED");
	decision = NULL;
}

/*
 * A handshake the server gives up on (evicted, or refused for a limit): its
 * client is told, rather than left to retransmit for its hand-window. In
 * the middle of TLS a TLS alert, after the server's flight, fails the
 * client's TLS; waiting for its authentication, RESTART restarts it.
 */
static void test_give_up(struct session_params *ssp, struct session_params *csp)
{
	decision = NULL;
	start(csp);
	carry(&client, -1, ssp); /* the reset: the cookie comes back */
	carry(&server, -1, ssp);
	carry(&client, -1, ssp); /* the echo, with the ClientHello: a session */
	CHECK(server.s && session_state(server.s) == SESSION_TLS, "half-way through TLS");
	session_give_up(server.s);
	carry(&server, -1, ssp);
	CHECK(client.s && session_state(client.s) == SESSION_CLOSING,
	      "the client's TLS failed at the alert");

	decision = "pending";
	start(csp);
	CHECK(to_server_key_method(ssp), "the handshake reached the key exchange");
	carry(&client, -1, ssp);
	carry(&server, -1, ssp);
	CHECK(session_state(client.s) != SESSION_CLOSING, "waiting for its authentication");
	session_give_up(server.s);
	carry(&server, -1, ssp);
	CHECK(client.s && session_state(client.s) == SESSION_CLOSING, "the client got RESTART");
	decision = NULL;
}

/*
 * Dynamic tls-crypt over tls-crypt: the client renegotiates (after 1 s), and
 * every packet of key 1 opens with the sessions' derived key only.
 */
/* A client session and a server session, connected (the server admits it). */
static void connect_sides(struct session_params *csp, struct session_params *ssp)
{
	start(csp);
	CHECK(to_server_key_method(ssp), "the handshake reached the key exchange");
	carry(&client, -1, ssp);
	carry(&server, -1, ssp);
	CHECK(client.pushed && session_state(server.s) == SESSION_ACTIVE, "connected");
}

/* The client renegotiates after a second; both sides end up on key 1. */
static void renegotiate_to_key_1(struct session_params *ssp)
{
	double t0 = ev_time();

	session_set_renegotiation(client.s, 1, 0);
	while ((session_key_id(server.s) != 1 || session_key_id(client.s) != 1) &&
	       ev_time() - t0 < 20) {
		ev_run(loop, EVRUN_NOWAIT);
		carry(&client, -1, ssp);
		carry(&server, -1, ssp);
		usleep(20000);
	}
	CHECK(session_key_id(server.s) == 1 && session_key_id(client.s) == 1,
	      "renegotiated to key 1 in %.1f s", ev_time() - t0);
}

static void test_dyn_tls_crypt(struct tls_ctx *stls, struct tls_ctx *ctls)
{
	struct static_key k;
	struct wrap sw, cw;
	struct session_params ssp = params(SESSION_ROLE_SERVER, stls, &server);
	struct session_params csp = params(SESSION_ROLE_CLIENT, ctls, &client);

	for (int i = 0; i < STATIC_KEY_LEN; i++)
		k.bytes[i] = (uint8_t)(i * 7 + 3);
	wrap_init_tls_crypt(&sw, crypto, &k, true);
	wrap_init_tls_crypt(&cw, crypto, &k, false);
	ssp.wrap = server_rx = &sw;
	csp.wrap = client_rx = &cw;
	push_text = "PUSH_REPLY,ifconfig 10.8.0.2 255.255.255.0,peer-id 0,cipher AES-256-GCM,"
		    "topology subnet,protocol-flags cc-exit tls-ekm dyn-tls-crypt";
	decision = NULL;
	memset(&seen, 0, sizeof(seen));
	connect_sides(&csp, &ssp);
	CHECK(session_dyn_tls_crypt(server.s) && session_dyn_tls_crypt(client.s),
	      "dynamic tls-crypt on, both sides");
	CHECK(session_control_wrap(server.s, 0) == session_wrap(server.s) &&
		      session_control_wrap(server.s, 1)->dynamic,
	      "key 0 keeps the static wrap, key 1 has the dynamic one");
	renegotiate_to_key_1(&ssp);
	CHECK(seen.to_server > 0 && seen.to_client > 0, "key 1 packets both ways: %u, %u",
	      seen.to_server, seen.to_client);
	CHECK(seen.soft_resets > 0, "the client's SOFT_RESET among them: %u", seen.soft_resets);
	CHECK(seen.static_opens == 0, "none of them opens with the static key: %u",
	      seen.static_opens);
	CHECK(seen.first_pid_to_server == 1 && seen.first_pid_to_client == 1,
	      "their replay ids start again at 1: %u, %u", seen.first_pid_to_server,
	      seen.first_pid_to_client);
	CHECK(seen.key0_static > 0 && seen.key0_others == 0,
	      "key 0 packets: %u with the static key, %u without", seen.key0_static,
	      seen.key0_others);
	reset_sides();
	server_rx = client_rx = &no_wrap;
	wrap_clear(&sw);
	wrap_clear(&cw);
}

static const char payload[] = "E an IPv4 packet, as far as the sessions care";

/*
 * A data packet from one session to the other: sealed by from's data
 * channel, opened by to's, its payload intact. The sealed length, or -1.
 */

static int data_round_trip(struct session *from, struct session *to)
{
	uint8_t pkt[DATA_OVERHEAD + sizeof(payload) + DATA_TAILROOM];
	bool ping = true;
	int sealed, opened;

	memcpy(pkt + DATA_OVERHEAD, payload, sizeof(payload));
	sealed = dchan_seal(session_dchan(from), pkt, sizeof(payload), ev_time());
	if (sealed < 0)
		return -1;
	opened = dchan_open(session_dchan(to), pkt, (size_t)sealed, ev_time(), &ping);
	return opened == (int)sizeof(payload) && !ping &&
			       memcmp(pkt + DATA_OVERHEAD, payload, sizeof(payload)) == 0
		       ? sealed
		       : -1;
}

/* Both ways, each packet as long as the format makes it. */
static void check_data_both_ways(bool epoch_format, const char *when)
{
	int want = (int)(data_overhead(epoch_format) + sizeof(payload));
	int up = data_round_trip(client.s, server.s), down = data_round_trip(server.s, client.s);

	CHECK(up == want && down == want, "%s: data both ways, %d and %d bytes (want %d)", when, up,
	      down, want);
}

static struct epoch_data *epoch_keys(struct session *s)
{
	return s->dc->keys[DCHAN_CURRENT].key.epoch;
}

/*
 * One side's send key at its AES-GCM usage limit: its next packet is of
 * the next epoch, which the other side's future window opens, and the
 * other side's answer follows on that epoch.
 */
static void check_epoch_update(struct session *first, struct session *other, uint16_t to)
{
	epoch_keys(first)->send_usage.blocks = EPOCH_AES_GCM_LIMIT_BLOCKS;
	CHECK(data_round_trip(first, other) > 0 && data_round_trip(other, first) > 0,
	      "data both ways across the update to epoch %u", to);
	CHECK(epoch_keys(first)->send_chain.epoch == to && epoch_keys(other)->current.epoch == to &&
		      epoch_keys(other)->send_chain.epoch == to &&
		      epoch_keys(first)->current.epoch == to,
	      "both sides send and open epoch %u", to);
}

/*
 * The client announces the epoch format (IV_PROTO bit 10), the server
 * chooses it and pushes aead-epoch: both sides use it, for the first key
 * and for the one a renegotiation brings, and follow each other's moves to
 * a new epoch. Without the bit, the 2.6 format.
 */
static void test_epoch_format(struct tls_ctx *stls, struct tls_ctx *ctls)
{
	struct session_params ssp = params(SESSION_ROLE_SERVER, stls, &server);
	struct session_params csp = params(SESSION_ROLE_CLIENT, ctls, &client);
	const char *old_push = push_text;

	csp.peer_info = "IV_VER=2.7.6\nIV_PLAT=linux\nIV_PROTO=2014\nIV_NCP=2\n"
			"IV_CIPHERS=AES-256-GCM\n";
	push_text = "PUSH_REPLY,ifconfig 10.8.0.2 255.255.255.0,peer-id 0,cipher AES-256-GCM,"
		    "topology subnet,protocol-flags cc-exit tls-ekm dyn-tls-crypt aead-epoch";
	decision = NULL;
	connect_sides(&csp, &ssp);
	CHECK(session_epoch_data(server.s) && session_epoch_data(client.s),
	      "epoch data format on, both sides");
	check_data_both_ways(true, "key 0");
	check_epoch_update(client.s, server.s, 2);
	check_epoch_update(server.s, client.s, 3);
	renegotiate_to_key_1(&ssp);
	check_data_both_ways(true, "key 1");
	push_text = old_push;
	csp = params(SESSION_ROLE_CLIENT, ctls, &client);
	connect_sides(&csp, &ssp);
	CHECK(!session_epoch_data(server.s) && !session_epoch_data(client.s),
	      "no IV_PROTO bit 10: the 2.6 format, both sides");
	check_data_both_ways(false, "2.6 format");
	reset_sides();
}

/* Makes s's keys `seconds` older, as if it had been connected that much longer. */
static void age_keys(struct session *s, double seconds)
{
	for (int i = 0; i < 2; i++)
		if (s->ks[i].phase != KEY_PHASE_EMPTY)
			s->ks[i].started -= seconds;
	for (int slot = 0; slot < DCHAN_SLOTS; slot++)
		s->dc->keys[slot].started -= seconds;
}

/*
 * A reload that shortens renegotiate.seconds below the age of a connected
 * client's key: the key is renegotiated, and the client stays, instead of
 * being ended at once for a key past its new hard lifetime.
 */
static void test_shorter_renegotiation(struct session_params *ssp, struct session_params *csp)
{
	double t0;

	decision = NULL;
	start(csp);
	CHECK(to_server_key_method(ssp), "the handshake reached the key exchange");
	carry(&client, -1, ssp);
	carry(&server, -1, ssp);
	CHECK(session_state(server.s) == SESSION_ACTIVE, "connected");
	session_set_keepalive(server.s, 0, 0); /* the server's once-a-second tick */
	session_set_renegotiation(server.s, 3600, 0);
	age_keys(server.s, 1000); /* connected for 1000 s under the old interval */
	session_set_renegotiation(server.s, 10, 0); /* the reload */
	t0 = ev_time();
	while (server.s && session_key_id(server.s) != 1 && ev_time() - t0 < 20) {
		ev_run(loop, EVRUN_NOWAIT);
		carry(&client, -1, ssp);
		carry(&server, -1, ssp);
		usleep(20000);
	}
	CHECK(!server.ended, "the client stays: %s", server.end_reason);
	CHECK(server.s && session_key_id(server.s) == 1 &&
		      session_state(server.s) == SESSION_ACTIVE,
	      "its key is renegotiated at the next tick (%.1f s)", ev_time() - t0);
	reset_sides();
}

/* Bytes the heap holds now: ASan's count under the sanitizer, glibc's otherwise. */
static size_t heap_in_use(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return __sanitizer_get_current_allocated_bytes();
#else
	return mallinfo2().uordblks;
#endif
}

/*
 * Bytes per connected idle client (issue 15): 150 KB before the
 * reliability layer's payloads, the TLS buffers and the SSL object were
 * freed once a session is quiet.
 */
enum { IDLE_SESSION_MAX = 16 * 1024 };

/*
 * The server session's memory at a stage of the handshake: the heap it
 * holds once the client's session (the only other allocator) is freed.
 */
static size_t server_heap(size_t before)
{
	session_free(client.s);
	client.s = NULL;
	return heap_in_use() - before;
}

/* A client connected, and every control packet acknowledged both ways. */
static void connect_quietly(struct session_params *ssp, struct session_params *csp)
{
	start(csp);
	CHECK(to_server_key_method(ssp), "the handshake reached the key exchange");
	carry(&client, -1, ssp);
	carry(&server, -1, ssp);
	carry(&client, -1, ssp); /* the ack of PUSH_REPLY */
	CHECK(client.pushed && session_state(server.s) == SESSION_ACTIVE, "connected");
}

/*
 * What a server session costs in the middle of its TLS handshake and once
 * connected and quiet (everything acknowledged): the whole session, key
 * states, TLS objects and data channel, measured by the allocator.
 */
static void test_memory(struct session_params *ssp, struct session_params *csp)
{
	size_t before, during, idle;

	decision = NULL;
	connect_quietly(ssp, csp); /* one-time allocations (OpenSSL's caches) before we count */
	reset_sides();
	before = heap_in_use();
	start(csp);
	carry(&client, -1, ssp); /* the hard reset: the cookie */
	carry(&server, -1, ssp);
	carry(&client, -1, ssp); /* the client hello: a session */
	CHECK(server.s && session_state(server.s) == SESSION_TLS, "in the TLS handshake");
	CHECK(server.s && session_control_bytes(server.s) > 0, "its control channel holds buffers");
	during = server_heap(before);
	reset_sides();

	before = heap_in_use();
	connect_quietly(ssp, csp);
	CHECK(session_control_bytes(server.s) == 0,
	      "quiet: it holds no control buffers (%zu bytes)", session_control_bytes(server.s));
	idle = server_heap(before);
	printf("test_session: a server session holds %zu bytes in its handshake, %zu connected "
	       "and idle\n",
	       during, idle);
	CHECK(idle <= IDLE_SESSION_MAX, "an idle session holds %zu bytes, at most %d", idle,
	      IDLE_SESSION_MAX);
	reset_sides();
}

int main(void)
{
	char cmd[160];
	struct tls_ctx *stls, *ctls;
	char err[256];

	log_init(&lg, LOG_ERROR, stderr);
	loop = ev_loop_new(0);
	crypto = crypto_new(err, sizeof(err));
	wrap_init_none(&no_wrap);
	snprintf(pki, sizeof(pki), "/tmp/mvtest-session-XXXXXX");
	if (!crypto || !mkdtemp(pki) || cookie_key_init(&cookie_key, 60) < 0) {
		CHECK(0, "setup");
		return unit_report("test_session");
	}
	snprintf(cmd, sizeof(cmd), "scripts/make-pki %s 1 > /dev/null", pki);
	CHECK(system(cmd) == 0, "scripts/make-pki (needs openssl)");
	stls = make_tls(TLS_SERVER);
	ctls = make_tls(TLS_CLIENT);
	struct session_params ssp = params(SESSION_ROLE_SERVER, stls, &server);
	struct session_params csp = params(SESSION_ROLE_CLIENT, ctls, &client);

	test_push_waits_for_the_ack(&ssp, &csp);
	test_auth_failed(&ssp, &csp);
	test_pending_times_out(&ssp, &csp);
	test_give_up(&ssp, &csp);
	test_dyn_tls_crypt(stls, ctls);
	test_epoch_format(stls, ctls);
	test_shorter_renegotiation(&ssp, &csp);
	test_memory(&ssp, &csp);
	reset_sides();
	tls_ctx_free(stls);
	tls_ctx_free(ctls);
	crypto_free(crypto);
	ev_loop_destroy(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
	CHECK(system(cmd) == 0, "cleanup");
	return unit_report("test_session");
}
