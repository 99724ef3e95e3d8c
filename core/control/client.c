// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "challenge.h"
#include "client.h"
#include "compframe.h"
#include "keymethod.h"
#include "mssfix.h"
#include "nameres.h"
#include "proto.h"
#include "pushopts.h"
#include "tcp.h"
#include "udpio.h"

enum {
	/* Only the features we implement (protocol guide 5.4). The epoch data format
	 * needs an AEAD cipher, which every cipher we offer is: announced always, as a
	 * 2.7 client does (ssl.c); the server decides (ssl_ncp.c) and says so in its push.
	 * Both dns-option bits: a 2.6 server reads the first, 2.7 and OpenVPN 3 servers
	 * the second; pushopts reads v2's `dns server N address A[:P] [A...]`, and what
	 * it has no use for (resolve-domains, dnssec, transport, sni) it ignores. */
	CLIENT_IV_PROTO = IV_PROTO_DATA_V2 | IV_PROTO_REQUEST_PUSH | IV_PROTO_TLS_KEY_EXPORT |
			  IV_PROTO_CC_EXIT_NOTIFY | IV_PROTO_DYN_TLS_CRYPT | IV_PROTO_DATA_EPOCH |
			  IV_PROTO_DNS_OPTION | IV_PROTO_DNS_OPTION_V2,
	/* The largest tun-mtu a server may push to us. */
	CLIENT_IV_MTU = 9000,
	CLIENT_RECEIVES_PER_WAKEUP = 4, /* receive batches per wake-up, so the loop goes on */
	CLIENT_SEGMENT_BYTES = DATA_OVERHEAD + VNET_PACKET_MAX_BYTES + DATA_TAILROOM,
	CLIENT_DATAGRAM_MAX = 65536, /* bytes: the largest UDP datagram, unbatched */
};

#define CLIENT_VERSION "moonvpn-0.1.0"

struct client {
	struct ev_loop *loop;
	const struct log *log;
	const struct crypto *crypto;
	struct client_params params;
	char token[PUSH_TOKEN_MAX]; /* the server's auth-token: our password while it is good */
	bool began_with_token;	    /* this attempt logged in with it */
	bool token_refused;	    /* the last attempt's token was refused: retry at once */
	/* Credentials of our own, wiped when done with: asked through hooks.ask (in
	 * place of params'), and the password a challenge's answer makes (SCRV1 or
	 * CRV1 text), sent in its place. */
	char *username, *password, *answered;
	struct challenge *crv1; /* the server's dynamic challenge, until answered and sent */
	/* The session that sent crv1's answer got its push: the answer is spent (its
	 * state id and code are single-use) and is forgotten when that session ends,
	 * not before, as the session borrows it for each renegotiation. */
	bool answer_spent;
	bool asking; /* a question is out: no attempt until its answer */
	bool reask;  /* auth_retry interact: the password is asked again */
	enum client_question asked;
	struct wrap wrap;
	uint8_t wkc[TLSCRYPTV2_WKC_MAX]; /* params.wkc points here */
	struct session_ops session_ops;
	struct session *session;
	int fd;
	ev_io watcher;
	struct tcp_server *tcp; /* the connection to a tcp:// remote, else NULL */
	ev_timer tcp_gone;	/* ends the attempt from the top of the loop when it closes */
	char tcp_why[96];
	ev_timer retry; /* the next attempt, or the poll deadline of the current one */
	struct client_remote *remotes; /* params.remotes points here; their hosts are ours */
	size_t remote;		       /* index of the current remote */
	/* addr: the address tried. A named remote's addresses, resolved when its turn
	 * came, are its answers[] entry's first n_addrs; at_addr: the one tried. */
	struct udp_addr addr;
	size_t n_addrs, at_addr;
	struct nameres *resolving; /* a name being resolved: the attempt waits for it */
	/* Each remote's last good answer (n 0: none yet), tried in turn, and again when a
	 * new lookup fails:
	 * with the tunnel's routes and pushed DNS kept across reconnects, the lookup
	 * may go into the dead tunnel, and the server may well be back at the same address. */
	struct client_answer {
		struct udp_addr addrs[NAMERES_ADDRS_MAX];
		size_t n;
	} * answers;
	unsigned backoff;
	bool connected; /* the current attempt got its push */
	uint64_t attempts, connects;
	char remote_text[UDP_ADDR_TEXT_MAX];
	char options[KM2_OPTIONS_MAX];
	char peer_info[512];
	char pull_filter[PUSH_FILTER_MAX];
	struct server_stats stats;
	/* The UDP socket's batches (per attempt, as the socket): received datagrams
	 * are opened in place; what is sent leaves before the loop waits. */
	struct mssfix mss; /* for the current remote's address family */
	struct udpio_rx *udp_rx;
	struct udpio_tx *udp_tx;
	/* A superpacket's, sealed in place: CLIENT_SEGMENT_BYTES, allocated on first use. */
	uint8_t *segment;
	/* Compression framing (compframe.h): the session's, and packets with their header
	 * or decompressed, CLIENT_SEGMENT_BYTES each, allocated on first use. */
	uint8_t framing;
	uint8_t *framed, *inflated;
	double attempt_started; /* ev time */
	struct udpio_caps udp_caps;
	ev_prepare udp_flusher;
};

static void start_attempt(struct client *c);
static void format_options(struct client *c);

static void close_socket(struct client *c)
{
	ev_timer_stop(c->loop, &c->tcp_gone);
	tcp_server_free(c->tcp);
	c->tcp = NULL;
	if (c->fd < 0)
		return;
	ev_io_stop(c->loop, &c->watcher);
	ev_prepare_stop(c->loop, &c->udp_flusher);
	if (c->udp_tx)
		(void)udpio_tx_flush(c->udp_tx); /* an EXIT to the server goes before we close */
	udpio_rx_free(c->udp_rx);
	udpio_tx_free(c->udp_tx);
	c->udp_rx = NULL;
	c->udp_tx = NULL;
	close(c->fd);
	c->fd = -1;
}

static void schedule_retry(struct client *c, double seconds)
{
	ev_timer_stop(c->loop, &c->retry);
	ev_timer_set(&c->retry, seconds, 0);
	ev_timer_start(c->loop, &c->retry);
}

/*
 * The delay before the next attempt: none right after a connected session
 * (the server restarted and wants us back), then doubling; a refusal waits
 * the longest, as retrying at once would only be refused again.
 */
static double next_delay(struct client *c, bool was_connected, bool refused)
{
	unsigned delay;

	if (refused)
		c->backoff = c->params.reconnect_max;
	else if (was_connected)
		c->backoff = 0;
	delay = c->backoff;
	c->backoff = c->backoff ? c->backoff * 2 : c->params.reconnect_initial;
	if (c->backoff > c->params.reconnect_max)
		c->backoff = c->params.reconnect_max;
	return delay;
}

/*
 * The server's auth-token outlives the session: the next one logs in with
 * it. A token refused (expired, or the server restarted) is dropped and the
 * password goes again at once, as a 2.6 client does.
 */
static void keep_token(struct client *c, struct session *s, bool refused)
{
	bool sent = false;
	const char *token = s ? session_client_token(s, &sent) : "";

	c->token_refused = refused && (sent || c->began_with_token);
	if (c->token_refused)
		crypto_wipe(c->token, sizeof(c->token));
	else if (token[0])
		snprintf(c->token, sizeof(c->token), "%s", token);
}

static void wipe_string(char **p)
{
	if (*p)
		crypto_wipe(*p, strlen(*p));
	free(*p);
	*p = NULL;
}

static void forget_challenge(struct client *c)
{
	if (c->crv1)
		crypto_wipe(c->crv1, sizeof(*c->crv1));
	free(c->crv1);
	c->crv1 = NULL;
	c->answer_spent = false;
	wipe_string(&c->answered);
}

/* A dynamic challenge (CRV1) to answer: kept for the next attempt, which asks first. */
static bool take_challenge(struct client *c, const char *message)
{
	struct challenge ch;

	if (!c->params.hooks.ask || !challenge_parse(&ch, message))
		return false;
	c->crv1 = malloc(sizeof(*c->crv1));
	if (c->crv1)
		*c->crv1 = ch;
	crypto_wipe(&ch, sizeof(ch));
	/* The server just refused us: a token it gave before would not log us in either. */
	if (c->crv1)
		crypto_wipe(c->token, sizeof(c->token));
	return c->crv1 != NULL;
}

static bool starts_with(const char *text, const char *prefix)
{
	return strncmp(text, prefix, strlen(prefix)) == 0;
}

/*
 * After the server refused our credentials (message, as it came): the delay
 * before the next attempt, or false to stop (auth_retry "none"), as 2.6's
 * receive_auth_failed in push.c. A challenge's answer is used once: a static
 * challenge's response is asked again too. A dynamic challenge is answered
 * whatever auth_retry says: it asks for more, it does not refuse.
 */
static bool after_refusal(struct client *c, const char *message, double *delay)
{
	bool was_answer = c->crv1 && c->answered; /* a challenge after our answer: back off */

	forget_challenge(c);
	if (take_challenge(c, message)) {
		/* The question is asked first, and logged (hooks.ask). */
		*delay = was_answer ? next_delay(c, false, false) : 0;
		return true;
	}
	if (starts_with(message, "AUTH_FAILED,TEMP")) {
		*delay = next_delay(c, false, false); /* the server is not ready for us yet */
		return true;
	}
	switch (c->params.auth_retry) {
	case CLIENT_AUTH_RETRY_INTERACT:
		if (c->params.hooks.ask) {
			c->reask = true;
			wipe_string(&c->password);
			*delay = next_delay(c, false, false);
			return true;
		}
		break;
	case CLIENT_AUTH_RETRY_NONE:
		if (c->params.hooks.refused)
			return false;
		break;
	case CLIENT_AUTH_RETRY_NOINTERACT:
		break;
	}
	*delay = next_delay(c, false, true);
	return true;
}

/*
 * On to the next address of a named remote, else to the next remote; a
 * name's addresses are forgotten then, so that it is resolved again when
 * its turn comes back (its last good answer stays in answers, for when
 * that lookup fails).
 */
static void next_address(struct client *c)
{
	if (++c->at_addr < c->n_addrs)
		return;
	c->n_addrs = c->at_addr = 0;
	c->remote = (c->remote + 1) % c->params.n_remotes;
}

/* reason may point into the session: it is logged before the session is freed. */
static void end_attempt(struct client *c, const char *reason)
{
	struct session *s = c->session;
	bool was_connected = c->connected;
	bool refused = s && session_auth_failed(s);
	char *message = NULL;
	bool again = true;
	double delay;

	/* A refusal stays on its server, as 2.6's receive_auth_failed (no_advance): a
	 * dynamic challenge's state exists only on the server that issued it. */
	if (!was_connected && !refused)
		next_address(c);
	keep_token(c, s, refused);
	if (c->token_refused)
		forget_challenge(c); /* a static challenge's response was spent: asked again */
	if (refused && !c->token_refused) {
		message = strdup(session_client_refusal(s)[0] ? session_client_refusal(s)
							      : "AUTH_FAILED");
		again = after_refusal(c, message ? message : "AUTH_FAILED", &delay);
	} else {
		delay = next_delay(c, was_connected, false);
	}
	if (again)
		log_info(c->log, "client", "disconnected: %s; reconnecting in %.0f s", reason,
			 delay);
	else
		log_info(c->log, "client", "disconnected: %s", reason);
	if (c->params.hooks.ended)
		c->params.hooks.ended(c->params.hooks.ctx, reason);
	c->session = NULL;
	c->connected = false;
	session_free(s);
	if (c->answer_spent)
		forget_challenge(c); /* no session borrows it now */
	close_socket(c);
	if (again)
		schedule_retry(c, delay);
	else
		c->params.hooks.refused(c->params.hooks.ctx, message ? message : "AUTH_FAILED");
	free(message);
}

/* The question the next login needs answered first, if any: true when one went out. */
static bool ask_first(struct client *c)
{
	struct client_ask q = { 0 };

	if (c->crv1 && !c->answered)
		q = (struct client_ask){ CLIENT_ASK_DYNAMIC, c->crv1->text, c->crv1->echo,
					 c->crv1->username };
	else if (c->token[0] || !c->params.hooks.ask)
		return false;
	else if ((c->params.ask_password || c->reask) && !c->password)
		q = (struct client_ask){ CLIENT_ASK_PASSWORD, NULL, false,
					 c->username ? c->username : c->params.username };
	else if (c->params.static_challenge && !c->answered)
		q = (struct client_ask){ CLIENT_ASK_STATIC, c->params.static_challenge,
					 c->params.static_echo,
					 c->username ? c->username : c->params.username };
	else
		return false;
	c->asking = true;
	c->asked = q.what;
	c->params.hooks.ask(c->params.hooks.ctx, &q);
	return true;
}

/* The password that goes with an answer: the challenge's text, built from it. */
static bool make_answer(struct client *c, const char *response)
{
	char text[CHALLENGE_PASSWORD_MAX];
	const char *password = c->password ? c->password : c->params.password;
	bool ok = c->asked == CLIENT_ASK_DYNAMIC
			  ? challenge_dynamic_password(text, sizeof(text), c->crv1, response)
			  : challenge_static_password(text, sizeof(text), password ? password : "",
						      response);

	wipe_string(&c->answered);
	if (ok)
		c->answered = strdup(text);
	crypto_wipe(text, sizeof(text));
	return c->answered != NULL;
}

static bool take_answer(struct client *c, const char *first, const char *second)
{
	if (c->asked != CLIENT_ASK_PASSWORD)
		return make_answer(c, first ? first : "");
	if (first) {
		wipe_string(&c->username);
		if (!(c->username = strdup(first)))
			return false;
	}
	wipe_string(&c->password);
	c->reask = false;
	return (c->password = strdup(second ? second : "")) != NULL;
}

void client_answer(struct client *c, const char *first, const char *second)
{
	if (!c->asking)
		return;
	c->asking = false;
	if ((!first && !second) || !take_answer(c, first, second)) {
		double delay = next_delay(c, false, false);

		log_warnx(c->log, "client", "%s; asking again in %.0f s",
			  first || second ? "the answer is too long, or out of memory"
					  : "no answer to the login's question",
			  delay);
		schedule_retry(c, delay);
		return;
	}
	schedule_retry(c, 0); /* from the loop: the caller may be inside hooks.ask */
}

static void on_session_send(void *ctx, struct session *s, const uint8_t *wire, size_t len)
{
	struct client *c = ctx;

	(void)s;
	if (c->tcp) {
		struct tcp_conn *conn = tcp_client_conn(c->tcp);

		if (conn)
			(void)tcp_conn_send(conn, wire, len); /* a failure closes it: tcp_gone */
		return;
	}
	if (c->fd < 0)
		return;
	/* Unbatched, or a device MTU near 64 KiB: at once, after what is queued. */
	if (!c->udp_tx || len > UDPIO_SLOT_MAX) {
		if (c->udp_tx)
			(void)udpio_tx_flush(c->udp_tx);
		if (send(c->fd, wire, len, 0) < 0)
			log_debug(c->log, "client", "send to %s failed: %s", c->remote_text,
				  strerror(errno));
		return;
	}
	memcpy(udpio_tx_slot(c->udp_tx), wire, len);
	udpio_tx_commit(c->udp_tx, NULL, 0, len);
	ev_prepare_start(c->loop, &c->udp_flusher);
}

static void on_udp_flush(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct client *c = w->data;

	(void)revents;
	ev_prepare_stop(loop, w);
	(void)udpio_tx_flush(c->udp_tx);
}

static void on_session_ended(void *ctx, struct session *s, const char *reason)
{
	(void)s;
	end_attempt(ctx, reason);
}

/* The MSS limits for the remote's address family and the data format in use. */
static void init_mss(struct client *c, const struct udp_addr *remote, bool epoch_format)
{
	mssfix_init(&c->mss, c->params.mssfix, remote->ss.ss_family == AF_INET6, c->params.tap,
		    data_overhead(epoch_format));
}

/*
 * The framing the server expects: what it pushed (2.6's compress migrate
 * pushes comp-lzo no or compress stub-v2), else the profile's, as an OpenVPN
 * client's compression context (comp.c). Pings are framed too (dchan).
 */
static int set_framing(struct client *c, struct session *s, const struct push_options *o)
{
	switch (o->compress) {
	case PUSH_COMPRESS_LZO:
		c->framing = COMPFRAME_LZO;
		break;
	case PUSH_COMPRESS_V2:
		c->framing = COMPFRAME_V2;
		break;
	case PUSH_COMPRESS_V1:
		log_error(c->log, "client",
			  "the server pushed compress with the older stub framing, which moonvpn's "
			  "client does not speak: the server should use compress stub-v2 (or "
			  "compress migrate)");
		return -1;
	default:
		c->framing = c->params.framing;
	}
	dchan_set_framing(session_dchan(s), c->framing);
	if (c->framing != COMPFRAME_NONE &&
	    ((!c->framed && !(c->framed = malloc(CLIENT_SEGMENT_BYTES))) ||
	     (!c->inflated && !(c->inflated = malloc(CLIENT_SEGMENT_BYTES))))) {
		log_error(c->log, "client", "compression framing: out of memory");
		return -1;
	}
	return 0;
}

static int on_session_pushed(void *ctx, struct session *s, const struct push_options *o)
{
	struct client *c = ctx;

	if (set_framing(c, s, o) < 0)
		return -1;
	/* Epoch-format packets are DATA_TAILROOM bytes longer: full segments must still fit. */
	init_mss(c, &c->addr, session_epoch_data(s));
	c->connects++;
	c->connected = true;
	if (c->crv1 && c->answered)
		c->answer_spent = true;
	c->backoff = 0;
	ev_timer_stop(c->loop, &c->retry); /* no poll deadline once connected */
	return c->params.hooks.pushed(c->params.hooks.ctx, o);
}

static void handle_control(struct client *c, const uint8_t *buf, size_t len)
{
	uint8_t plain[SERVER_PACKET_MAX];
	struct proto_control ctl;
	uint32_t pid, t;
	int n;

	if (len > SERVER_PACKET_MAX) {
		c->stats.dropped_malformed++;
		return;
	}
	/* Renegotiations come with their own key once dynamic tls-crypt is on. */
	n = wrap_open(session_control_wrap(c->session, proto_key_id(buf[0])), buf, len, plain,
		      sizeof(plain), &pid, &t);
	if (n < 0) {
		c->stats.dropped_unwrap++;
		return;
	}
	if (proto_decode_control(&ctl, plain, (size_t)n) != 0) {
		c->stats.dropped_malformed++;
		return;
	}
	session_receive(c->session, &ctl, pid, t);
}

/* Lowers a TCP SYN's MSS so that full segments fit the link sealed (OpenVPN's mssfix). */
static void clamp_mss(const struct client *c, uint8_t *p, size_t len)
{
	if (!c->params.mssfix)
		return;
	if (c->params.tap)
		(void)mssfix_clamp_frame(&c->mss, p, len);
	else
		(void)mssfix_clamp(&c->mss, p, len);
}

static void handle_data(struct client *c, uint8_t *buf, size_t len)
{
	bool ping;
	int n = dchan_open(session_dchan(c->session), buf, len, ev_now(c->loop), &ping);

	if (n < 0) {
		if (n == DATA_EREPLAY)
			c->stats.dropped_replay++;
		else
			c->stats.dropped_data_auth++;
		return;
	}
	c->stats.data_in++;
	c->stats.data_bytes_in += (uint64_t)n;
	if (ping || n == 0)
		return;
	if (c->framing != COMPFRAME_NONE) {
		bool at_out;

		n = compframe_unframe(c->framing, buf + DATA_OVERHEAD, (size_t)n,
				      c->inflated + DATA_OVERHEAD, VNET_PACKET_MAX_BYTES, &at_out);
		if (n <= 0) {
			c->stats.dropped_compression++;
			return;
		}
		if (at_out)
			buf = c->inflated;
	}
	clamp_mss(c, buf + DATA_OVERHEAD, (size_t)n);
	c->params.hooks.deliver(c->params.hooks.ctx, buf + DATA_OVERHEAD, (size_t)n);
}

static void handle_datagram(struct client *c, uint8_t *buf, size_t len)
{
	c->stats.packets_in++;
	c->stats.bytes_in += len;
	if (len == 0 || !c->session)
		return;
	if (proto_is_control(proto_opcode(buf[0])))
		handle_control(c, buf, len);
	else
		handle_data(c, buf, len);
}

/* A few datagrams, one recv each, opened in place on the stack. */
static void receive_unbatched(struct client *c)
{
	uint8_t buf[CLIENT_DATAGRAM_MAX];

	for (int i = 0; i < CLIENT_RECEIVES_PER_WAKEUP && c->fd >= 0; i++) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n < 0)
			return; /* EAGAIN, or ICMP unreachable while the server is away */
		handle_datagram(c, buf, (size_t)n);
	}
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = w->data;

	(void)loop;
	(void)revents;
	struct udpio_datagram d;

	(void)loop;
	(void)revents;
	if (!c->udp_rx) {
		receive_unbatched(c);
		return;
	}
	/* A bounded number of batches per wake-up. The session may end in between, and
	 * the socket close with its batches: nothing of them is touched after that. */
	for (int i = 0; i < CLIENT_RECEIVES_PER_WAKEUP; i++) {
		if (c->fd < 0 || udpio_receive(c->udp_rx, c->fd) <= 0)
			return; /* EAGAIN, or ICMP unreachable while the server is away */
		while (c->fd >= 0 && udpio_rx_next(c->udp_rx, &d))
			handle_datagram(c, d.data, d.len);
		if (c->fd < 0 || udpio_rx_drained(c->udp_rx))
			return; /* the poll says when more comes: no receive that finds nothing */
	}
}

static void on_tcp_packet(void *ctx, struct tcp_conn *conn, uint8_t *buf, size_t len)
{
	(void)conn;
	handle_datagram(ctx, buf, len);
}

/* The connection closed (from tcp.c's reaper): the attempt ends from the loop, not in here. */
static void on_tcp_closed(void *ctx, struct tcp_conn *conn, const char *why)
{
	struct client *c = ctx;

	(void)conn;
	snprintf(c->tcp_why, sizeof(c->tcp_why), "TCP: %s", why[0] ? why : "closed");
	ev_timer_set(&c->tcp_gone, 0, 0);
	ev_timer_start(c->loop, &c->tcp_gone);
}

static void on_tcp_gone(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = w->data;

	(void)loop;
	(void)revents;
	if (c->session)
		end_attempt(c, c->tcp_why);
}

/* The socket's receive and send batches, with the offloads it has. */
static int open_batches(struct client *c)
{
	udpio_probe(c->fd, c->params.udp_gso, c->params.udp_gro, &c->udp_caps);
	c->udp_rx = udpio_rx_new(c->udp_caps.gro);
	c->udp_tx = c->udp_rx ? udpio_tx_new(c->fd, &c->udp_caps) : NULL;
	return c->udp_tx ? 0 : -ENOMEM;
}

/* The attempt's transport: a connected UDP socket, or a TCP connection. */
static int open_transport(struct client *c, const struct udp_addr *remote, bool tcp, char *err,
			  size_t errlen)
{
	struct tcp_handlers h = { .packet = on_tcp_packet, .closed = on_tcp_closed, .ctx = c };

	init_mss(c, remote, false);
	if (tcp)
		return tcp_client_open(&c->tcp, c->loop, remote, &h, err, errlen);
	c->fd = udp_connect_from(&c->params.local, remote, err, errlen);
	if (c->fd < 0)
		return c->fd;
	if (!c->params.unbatched && open_batches(c) < 0) {
		snprintf(err, errlen, "out of memory for the UDP batches");
		close_socket(c);
		return -ENOMEM;
	}
	ev_io_init(&c->watcher, on_readable, c->fd, EV_READ);
	c->watcher.data = c;
	ev_io_start(c->loop, &c->watcher);
	return 0;
}

/* Fires between attempts (start the next) and during one (the server never answered). */
static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = w->data;

	(void)loop;
	(void)revents;
	if (!c->session) {
		if (!c->asking)
			start_attempt(c);
		return;
	}
	if (session_state(c->session) != SESSION_RESET)
		return;
	/* A server drops, unanswered, a client key wrapped with another server key: say so. */
	if (c->params.wkc_len)
		log_warnx(c->log, "client",
			  "no answer from %s to our tls-crypt-v2 reset: either the server is not "
			  "reachable, or tls.tls_crypt_v2 is a client key made for another server "
			  "key (servers drop those without an answer): make one with this server's "
			  "key (moonvpn genkey --tls-crypt-v2-client FILE --server-key SERVER.key)",
			  c->remote_text);
	end_attempt(c, "no answer from the server");
}

static const char *login_username(const struct client *c)
{
	if (c->crv1 && c->answered)
		return c->crv1->username;
	return c->username ? c->username : c->params.username;
}

/*
 * The server's token, else a challenge's answer, else the password. The token
 * goes first: a dynamic challenge's answer is single-use, and is forgotten once
 * a session it logged in has ended (answer_spent).
 */
static const char *login_password(const struct client *c)
{
	if (c->token[0])
		return c->token;
	if (c->answered)
		return c->answered;
	return c->password ? c->password : c->params.password;
}

/* A name's answer: its first address is tried now, or the next remote after the backoff. */
static void on_resolved(void *ctx, const struct udp_addr *addrs, size_t n, const char *err)
{
	struct client *c = ctx;
	const struct client_remote *r = &c->params.remotes[c->remote];

	c->resolving = NULL;
	if (!n && c->answers[c->remote].n) {
		n = c->answers[c->remote].n;
		log_warnx(c->log, "client", "cannot resolve %s: %s; trying its last answer",
			  r->host, err);
	} else if (n) {
		memcpy(c->answers[c->remote].addrs, addrs, n * sizeof(addrs[0]));
		c->answers[c->remote].n = n;
	}
	if (!n) {
		double delay = next_delay(c, false, false);

		log_warnx(c->log, "client", "cannot resolve %s: %s; the next remote in %.0f s",
			  r->host, err, delay);
		next_address(c);
		schedule_retry(c, delay);
		return;
	}
	c->n_addrs = n;
	c->at_addr = 0;
	log_info(c->log, "client", "%s has %zu address(es)", r->host, n);
	start_attempt(c);
}

/*
 * The address this attempt goes to: a literal remote's, or the next of its
 * name's; false when the name is being resolved first (on_resolved goes on).
 */
static bool attempt_address(struct client *c)
{
	const struct client_remote *r = &c->params.remotes[c->remote];
	char err[NAMERES_ERR_MAX];
	uint16_t port;

	if (!r->host) {
		c->addr = r->addr;
		return true;
	}
	if (c->at_addr < c->n_addrs) {
		c->addr = c->answers[c->remote].addrs[c->at_addr];
		return true;
	}
	port = ntohs(((const struct sockaddr_in *)&r->addr.ss)->sin_port);
	c->resolving =
		nameres_start(c->loop, r->host, port, r->tcp, on_resolved, c, err, sizeof(err));
	if (c->resolving)
		return false;
	on_resolved(c, NULL, 0, err);
	return false;
}

static void start_attempt(struct client *c)
{
	const struct udp_addr *remote = &c->addr;
	bool tcp = c->params.remotes[c->remote].tcp;
	struct session_params sp = {
		.loop = c->loop,
		.log = c->log,
		.crypto = c->crypto,
		.tls = c->params.tls,
		.wrap = &c->wrap,
		.wkc = c->params.wkc,
		.wkc_len = c->params.wkc_len,
		.ciphers = c->params.ciphers,
		.n_ciphers = c->params.n_ciphers,
		.replay_time = (uint32_t)ev_now(c->loop),
		.ops = &c->session_ops,
		.ctx = c,
		.role = SESSION_ROLE_CLIENT,
		.options = c->options,
		.peer_info = c->peer_info,
		.pull_filter = c->pull_filter,
		.renegotiations = c->params.renegotiations,
	};
	char err[256];

	if (ask_first(c))
		return; /* the answer starts it */
	if (c->resolving || !attempt_address(c))
		return; /* the name's answer starts it */
	format_options(c);
	sp.username = login_username(c);
	sp.password = login_password(c);
	udp_addr_format((const struct sockaddr *)&remote->ss, c->remote_text,
			sizeof(c->remote_text));
	c->attempts++;
	c->attempt_started = ev_now(c->loop);
	c->began_with_token = sp.password == c->token;
	if (c->params.hooks.connecting)
		c->params.hooks.connecting(c->params.hooks.ctx, remote);
	if (open_transport(c, remote, tcp, err, sizeof(err)) < 0) {
		log_warnx(c->log, "client", "%s", err);
		end_attempt(c, "cannot open a socket");
		return;
	}
	log_info(c->log, "client", "connecting to %s://%s", tcp ? "tcp" : "udp", c->remote_text);
	schedule_retry(c, CLIENT_POLL_SECONDS);
	c->session = session_new_client(&sp, (const struct sockaddr *)&remote->ss, remote->len);
	if (!c->session) {
		end_attempt(c, "out of memory");
		return;
	}
	session_set_renegotiation(c->session, c->params.reneg_seconds, c->params.reneg_bytes);
}

/* The options string (protocol guide 5.3) as a stock 2.6 client sends it, so no warnings. */
static void format_options(struct client *c)
{
	bool tls_auth = c->params.tls_auth;
	bool v6 = c->addr.ss.ss_family == AF_INET6;
	bool tcp = c->params.remotes[c->remote].tcp;
	char keydir[32] = "";

	if (tls_auth && c->params.tls_auth_direction >= 0)
		snprintf(keydir, sizeof(keydir), "keydir %d,", c->params.tls_auth_direction);
	/* Any compression context says comp-lzo, between commas, where options_string
	 * (options.c) puts it: a server with compress migrate looks for ",comp-lzo,". */
	snprintf(c->options, sizeof(c->options),
		 "V4,dev-type tun,link-mtu %u,tun-mtu %u,proto %s,%s%sauth SHA1,keysize 128,%s"
		 "key-method 2,tls-client",
		 c->params.tun_mtu + 41, c->params.tun_mtu,
		 tcp ? (v6 ? "TCPv6_CLIENT" : "TCPv4_CLIENT") : (v6 ? "UDPv6" : "UDPv4"),
		 c->params.framing != COMPFRAME_NONE ? "comp-lzo," : "", keydir,
		 tls_auth ? "tls-auth," : "");
}

static void format_peer_info(struct client *c)
{
	size_t off = (size_t)snprintf(c->peer_info, sizeof(c->peer_info),
				      "IV_VER=%s\nIV_PLAT=linux\nIV_PROTO=%d\nIV_NCP=2\nIV_MTU=%d\n"
				      "IV_CIPHERS=",
				      CLIENT_VERSION, CLIENT_IV_PROTO, CLIENT_IV_MTU);

	for (size_t i = 0; i < c->params.n_ciphers && off < sizeof(c->peer_info); i++)
		off += (size_t)snprintf(c->peer_info + off, sizeof(c->peer_info) - off, "%s%s",
					i ? ":" : "", c->params.ciphers[i]);
	if (off < sizeof(c->peer_info))
		off += (size_t)snprintf(c->peer_info + off, sizeof(c->peer_info) - off, "\n");
	/* Framing only: a server that would compress is asked to stop (stub-v2, migrate). */
	if (c->params.framing != COMPFRAME_NONE && off < sizeof(c->peer_info))
		snprintf(c->peer_info + off, sizeof(c->peer_info) - off, "%s",
			 c->params.framing == COMPFRAME_LZO ? "IV_LZO_STUB=1\nIV_COMP_STUB=1\n"
							      "IV_COMP_STUBv2=1\n"
							    : "IV_COMP_STUB=1\nIV_COMP_STUBv2=1\n");
}

/* A tls-crypt-v2 key's id (its WKc's first bytes), the one the server logs and shows. */
static void log_key_id(const struct client *c)
{
	char id[TLSCRYPTV2_ID_TEXT_LEN + 1];

	if (c->params.wkc_len < TLSCRYPTV2_ID_LEN)
		return;
	tlscryptv2_id_format(c->wkc, id);
	log_info(c->log, "client", "tls-crypt-v2 client key %s", id);
}

static bool is_host_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= NAMERES_HOST_MAX || name[0] == '.' || name[0] == '-')
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") ==
	       n;
}

bool client_remote_parse(struct client_remote *out, const char *text, char *host, size_t cap)
{
	uint16_t port;

	memset(out, 0, sizeof(*out));
	out->tcp = udp_parse_endpoint_of(&out->addr, text, "tcp");
	if (out->tcp || udp_parse_endpoint(&out->addr, text))
		return true;
	out->tcp = udp_split_endpoint(text, "tcp", host, cap, &port);
	if ((!out->tcp && !udp_split_endpoint(text, "udp", host, cap, &port)) ||
	    !is_host_name(host))
		return false;
	/* The port goes where a sockaddr_in and a sockaddr_in6 both keep it. */
	((struct sockaddr_in *)&out->addr.ss)->sin_port = htons(port);
	out->host = host;
	return true;
}

/* The remotes and their host names, the client's own from now on. */
static int copy_remotes(struct client *c, const struct client_params *params)
{
	c->remotes = calloc(params->n_remotes, sizeof(*c->remotes));
	c->answers = calloc(params->n_remotes, sizeof(*c->answers));
	if (!c->remotes || !c->answers)
		return -ENOMEM;
	for (size_t i = 0; i < params->n_remotes; i++) {
		c->remotes[i] = params->remotes[i];
		if (params->remotes[i].host &&
		    !(c->remotes[i].host = strdup(params->remotes[i].host)))
			return -ENOMEM;
	}
	c->params.remotes = c->remotes;
	return 0;
}

static void free_remotes(struct client *c)
{
	for (size_t i = 0; c->remotes && i < c->params.n_remotes; i++)
		free((char *)c->remotes[i].host);
	free(c->remotes);
	free(c->answers);
}

int client_open(struct client **out, struct ev_loop *loop, const struct log *lg,
		const struct crypto *cr, const struct client_params *params, char *err,
		size_t errlen)
{
	struct client *c;

	if (params->n_remotes == 0 || params->n_remotes > CLIENT_REMOTES_MAX) {
		snprintf(err, errlen, "client: between 1 and %d remotes", CLIENT_REMOTES_MAX);
		return -EINVAL;
	}
	if (params->wkc_len > TLSCRYPTV2_WKC_MAX) {
		snprintf(err, errlen,
			 "client: a wrapped tls-crypt-v2 key of %zu bytes (at most %d)",
			 params->wkc_len, TLSCRYPTV2_WKC_MAX);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "client: out of memory");
		return -ENOMEM;
	}
	c->loop = loop;
	c->log = lg;
	c->crypto = cr;
	c->params = *params;
	if (copy_remotes(c, params) < 0) {
		free_remotes(c);
		free(c);
		snprintf(err, errlen, "client: out of memory");
		return -ENOMEM;
	}
	c->params.tls = tls_ctx_ref(params->tls);
	c->wrap = *params->wrap;
	c->params.wrap = &c->wrap;
	if (params->wkc_len)
		memcpy(c->wkc, params->wkc, params->wkc_len);
	c->params.wkc = c->wkc;
	c->fd = -1;
	c->session_ops = (struct session_ops){ .send = on_session_send,
					       .ended = on_session_ended,
					       .pushed = on_session_pushed };
	format_peer_info(c);
	snprintf(c->pull_filter, sizeof(c->pull_filter), "%s",
		 params->pull_filter ? params->pull_filter : "");
	log_key_id(c);
	ev_init(&c->retry, on_retry);
	c->retry.data = c;
	ev_init(&c->tcp_gone, on_tcp_gone);
	c->tcp_gone.data = c;
	ev_prepare_init(&c->udp_flusher, on_udp_flush);
	c->udp_flusher.data = c;
	if (params->hooks.ask)
		schedule_retry(c,
			       0); /* a question waits for the loop: the engine is started then */
	else
		start_attempt(c);
	*out = c;
	return 0;
}

const struct udpio_caps *client_udp_caps(const struct client *c)
{
	return c->fd >= 0 ? &c->udp_caps : NULL;
}

const struct udpio_rx *client_udp_rx(const struct client *c)
{
	return c->udp_rx;
}

const struct udpio_tx *client_udp_tx(const struct client *c)
{
	return c->udp_tx;
}

/* The packet with the header its framing needs in front, in c->framed; pkt when none. */
static uint8_t *add_framing(struct client *c, uint8_t *pkt, size_t *len)
{
	uint8_t head[COMPFRAME_HEAD_MAX];
	size_t h;

	if (!*len || *len > VNET_PACKET_MAX_BYTES - COMPFRAME_HEAD_MAX ||
	    !(h = compframe_head(c->framing, pkt + DATA_OVERHEAD, head)))
		return pkt;
	memcpy(c->framed + DATA_OVERHEAD, head, h);
	memcpy(c->framed + DATA_OVERHEAD + h, pkt + DATA_OVERHEAD, *len);
	*len += h;
	return c->framed;
}

void client_send_from_device(struct client *c, uint8_t *pkt, size_t len)
{
	clamp_mss(c, pkt + DATA_OVERHEAD, len);
	if (c->framing != COMPFRAME_NONE && c->framed)
		pkt = add_framing(c, pkt, &len);
	if (!c->session || session_data_send(c->session, pkt, len) < 0) {
		c->stats.dropped_no_route++;
		return;
	}
	c->stats.data_out++;
	c->stats.data_bytes_out += len;
}

/*
 * The segments of a superpacket over UDP, each cut straight into the send
 * queue's next slot and sealed there: copied once, by the cut.
 */
static void send_segments_in_slots(struct client *c, struct vnet_split *sp)
{
	struct dchan *dc = session_dchan(c->session);
	uint8_t *buf;
	size_t n;
	int sealed;

	while ((n = vnet_split_next(sp, (buf = udpio_tx_slot(c->udp_tx)) + DATA_OVERHEAD,
				    UDPIO_SLOT_MAX - DATA_OVERHEAD - DATA_TAILROOM))) {
		sealed = dchan_seal(dc, buf, n, ev_now(c->loop));
		if (sealed < 0) {
			c->stats.dropped_no_route++;
			continue;
		}
		udpio_tx_commit(c->udp_tx, NULL, 0, (size_t)sealed);
		c->stats.data_out++;
		c->stats.data_bytes_out += n;
	}
	ev_prepare_start(c->loop, &c->udp_flusher);
}

void client_send_superpacket(struct client *c, const struct vnet_hdr *h, const uint8_t *pkt,
			     size_t len)
{
	struct vnet_split sp;
	size_t n;

	if (vnet_split_init(&sp, h, pkt, len) < 0) {
		c->stats.dropped_device_malformed++;
		return;
	}
	if (c->session && !c->tcp && c->fd >= 0 && c->udp_tx && c->framing == COMPFRAME_NONE &&
	    DATA_OVERHEAD + vnet_split_max(&sp) + DATA_TAILROOM <= UDPIO_SLOT_MAX) {
		send_segments_in_slots(c, &sp);
		return;
	}
	if (!c->segment && !(c->segment = malloc(CLIENT_SEGMENT_BYTES))) {
		c->stats.dropped_device_malformed++; /* no room to cut it: lost as a bad one */
		return;
	}
	while ((n = vnet_split_next(&sp, c->segment + DATA_OVERHEAD, VNET_PACKET_MAX_BYTES)))
		client_send_from_device(c, c->segment, n);
}

struct session *client_session(const struct client *c)
{
	return c->session;
}

const char *client_remote(const struct client *c)
{
	return c->remote_text;
}

const struct udp_addr *client_address(const struct client *c)
{
	return &c->addr;
}

const struct server_stats *client_stats(const struct client *c)
{
	return &c->stats;
}

uint64_t client_attempts(const struct client *c)
{
	return c->attempts;
}

uint64_t client_connects(const struct client *c)
{
	return c->connects;
}

double client_attempt_started(const struct client *c)
{
	return c->attempt_started;
}

bool client_connected(const struct client *c)
{
	return c->connected;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	ev_timer_stop(c->loop, &c->retry);
	nameres_cancel(c->resolving);
	if (c->session) {
		session_notify_exit(c->session);
		session_free(c->session);
	}
	close_socket(c);
	free_remotes(c);
	wrap_clear(&c->wrap);
	tls_ctx_free(c->params.tls);
	crypto_wipe(c->token, sizeof(c->token));
	forget_challenge(c);
	wipe_string(&c->username);
	wipe_string(&c->password);
	free(c->segment);
	free(c->framed);
	free(c->inflated);
	free(c);
}
