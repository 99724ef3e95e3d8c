// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the server's front door: whole UDP datagrams into
 * server_handle_datagram from many source addresses (an input byte picks
 * one of DGRAM_SOURCES), and byte streams over TCP connections, written in
 * chunks the input cuts, so tcp.c's 2-byte framing sees frames split and
 * joined anywhere. A real server (server_open) listens on 127.0.0.1 in a
 * network namespace of the fuzzer's own; time and randomness are fake
 * (fuzz_fake.h). A datagram may ask the harness to echo the cookie the
 * server would give its source (the flag DGRAM_FILL_COOKIE), so the fuzzer
 * opens sessions without reading the server's replies. Source 0 is also
 * an honest client session on a socket of its own: the PUMP step carries
 * its handshake both ways through the server's socket, so the fuzzer's
 * datagrams from that address meet a live session, and the DATA step has
 * it seal an IP packet from the input, for the server's data path
 * (decryption, decompression framing, the source check, the policy).
 *
 * After every step: no counter of server_stats falls, the sessions fit
 * their table and each is in a valid state. ASan reports leaks at the end
 * of every input (each builds and frees its own server). With FUZZ_TRACE
 * set, the log goes to stderr and the counters are printed at the end: for
 * reading what an input does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>

#include "fuzz_fake.h"
#include "proto.h"
#include "server_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	DGRAM_SOURCES = 32,	/* source addresses: 8 IPv4 hosts x 2 ports, 8 IPv6 x 2 */
	DGRAM_CONNS = 4,	/* TCP connections open at once */
	DGRAM_STEPS_MAX = 256,	/* steps of one input */
	DGRAM_PORT = 1194,	/* where the server listens, on 127.0.0.1 */
	DGRAM_FILL_COOKIE = 1,	/* datagram flag: echo the cookie the server gives its source */
	DGRAM_TURNS = 4,	/* loop turns after a TCP step: accept, read, reap */
	DGRAM_WIRE_MAX = 65535, /* a datagram's bytes at most (2-byte length in the input) */
	DGRAM_PUMP_ROUNDS = 8,	/* loop turns of one PUMP step */
	DGRAM_CLIENT_PORT = 40000,
};

/* The steps; an input byte modulo STEP_COUNT chooses one. */
enum step {
	STEP_DATAGRAM, /* + source, flags, 2-byte length, bytes */
	STEP_CONNECT,  /* + slot: a TCP connection from 127.0.0.1 */
	STEP_WRITE,    /* + slot, 2-byte length, bytes: a chunk of its stream */
	STEP_CLOSE,    /* + slot */
	STEP_TIME,     /* + byte: advance the clock, run the timers */
	STEP_PUMP,     /* the honest client's packets to the server and back until quiet */
	STEP_DATA,     /* + 2-byte length, bytes: the honest client sends them as a data packet */
	STEP_COUNT,
};

struct input {
	const uint8_t *p;
	size_t n;
};

static struct log lg;
static struct crypto *crypto;
static struct tls_ctx *tls;
static struct wrap no_wrap;
static struct ev_loop *loop;
static struct server *srv;
static int conns[DGRAM_CONNS];
static struct tls_ctx *client_tls;
static struct session *client; /* the honest client at source 0, or NULL once it ended */
static int client_fd = -1;     /* its socket, bound to source 0's address */
static const char *const ciphers[] = { "AES-256-GCM" };

static struct sockaddr_in server_addr(void);

static uint8_t take(struct input *in)
{
	uint8_t b = in->n ? in->p[0] : 0;

	if (in->n) {
		in->p++;
		in->n--;
	}
	return b;
}

static void on_connect(void *ctx, struct session *sess)
{
	struct session_push push = { .n_messages = 1 };
	uint32_t id = session_peer_id(sess);
	char text[256];

	(void)ctx;
	snprintf(push.address, sizeof(push.address), "10.8.%u.%u", (id >> 8) & 0xff,
		 (id & 0xff) + 2);
	snprintf(text, sizeof(text),
		 "PUSH_REPLY,ifconfig %s 255.255.0.0,peer-id %u,cipher AES-256-GCM,"
		 "topology subnet,key-derivation tls-ekm,"
		 "protocol-flags cc-exit tls-ekm dyn-tls-crypt,ping 10,ping-restart 60",
		 push.address, id);
	push.messages[0] = strdup(text);
	if (!server_admit(srv, sess, &push))
		free(push.messages[0]);
}

static void on_ended(void *ctx, struct session *sess, const char *reason)
{
	(void)ctx;
	(void)sess;
	(void)reason;
}

static void on_deliver(void *ctx, uint32_t peer_id, uint8_t *packet, size_t len)
{
	(void)ctx;
	(void)peer_id;
	(void)packet;
	(void)len;
}

static bool on_subnet(void *ctx, const struct ip_prefix *prefix, bool add)
{
	(void)ctx;
	(void)prefix;
	(void)add;
	return false;
}

/* Source i: 127.0.0.2-9 or fd00::1-8, port 40000 or 40001; 0 is the honest client's. */
static socklen_t source(uint8_t i, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	i %= DGRAM_SOURCES;
	if (i < DGRAM_SOURCES / 2) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(DGRAM_CLIENT_PORT + (i & 1));
		a->sin_addr.s_addr = htonl(0x7f000002 + (i >> 1));
		return sizeof(*a);
	}
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(DGRAM_CLIENT_PORT + (i & 1));
	a6->sin6_addr.s6_addr[0] = 0xfd;
	a6->sin6_addr.s6_addr[15] = (uint8_t)(1 + ((i - DGRAM_SOURCES / 2) >> 1));
	return sizeof(*a6);
}

/*
 * A control packet (no tls-auth) that echoes the cookie the server's front
 * door gives its sender at this time: what a client does after the
 * stateless reply.
 */
static void fill_cookie(uint8_t *buf, size_t len, const struct sockaddr *from)
{
	static uint8_t copy[SERVER_PACKET_MAX];
	struct proto_control ctl;
	struct proto_sid cookie;

	if (len > sizeof(copy))
		return;
	memcpy(copy, buf, len); /* the decoded payload points into it, not into buf */
	if (proto_decode_control(&ctl, copy, len) != 0 || !ctl.n_acks ||
	    cookie_make(crypto, &srv->cookie, (uint64_t)time(NULL), from, &ctl.sid, &cookie) < 0)
		return;
	ctl.remote_sid = cookie;
	(void)proto_encode_control(buf, len, &ctl); /* the same length: in place */
}

static void datagram(struct input *in)
{
	static uint8_t buf[DGRAM_WIRE_MAX];
	struct sockaddr_storage ss;
	uint8_t src = take(in), flags = take(in);
	size_t len = (size_t)take(in) << 8;
	struct arrival a;

	len |= take(in);
	len = len < in->n ? len : in->n;
	memcpy(buf, in->p, len);
	in->p += len;
	in->n -= len;
	a = (struct arrival){ .from = (struct sockaddr *)&ss, .from_len = source(src, &ss) };
	if (flags & DGRAM_FILL_COOKIE)
		fill_cookie(buf, len, a.from);
	server_handle_datagram(srv, server_main_dp(srv), &a, buf, len);
}

static void turns(void)
{
	for (int i = 0; i < DGRAM_TURNS; i++)
		ev_run(loop, EVRUN_NOWAIT);
}

static void tcp_connect(uint8_t slot)
{
	struct sockaddr_in to = server_addr();
	int *fd = &conns[slot % DGRAM_CONNS];

	if (*fd >= 0)
		return;
	/* Non-blocking: a connect to a full backlog must not stall the fuzzer. */
	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (*fd < 0 ||
	    (connect(*fd, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != EINPROGRESS)) {
		fprintf(stderr, "fuzz_datagram: connect to 127.0.0.1:%d: %s\n", DGRAM_PORT,
			strerror(errno));
		abort();
	}
	turns();
}

static void tcp_write(struct input *in)
{
	int fd = conns[take(in) % DGRAM_CONNS];
	size_t len = (size_t)take(in) << 8;

	len |= take(in);
	len = len < in->n ? len : in->n;
	/* A connection the server closed fails the write: the chunk is gone, as on a wire. */
	if (fd >= 0 && len)
		(void)!send(fd, in->p, len, MSG_NOSIGNAL);
	in->p += len;
	in->n -= len;
	turns();
}

static void tcp_close(uint8_t slot)
{
	int *fd = &conns[slot % DGRAM_CONNS];

	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	turns();
}

static struct sockaddr_in server_addr(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(DGRAM_PORT) };

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return to;
}

static void client_send(void *ctx, struct session *s, const uint8_t *wire, size_t len)
{
	struct sockaddr_in to = server_addr();

	(void)ctx;
	(void)s;
	(void)!sendto(client_fd, wire, len, 0, (struct sockaddr *)&to, sizeof(to));
}

static void client_ended(void *ctx, struct session *s, const char *reason)
{
	(void)ctx;
	(void)reason;
	session_free(s);
	client = NULL;
}

static int client_pushed(void *ctx, struct session *s, const struct push_options *o)
{
	(void)ctx;
	(void)s;
	(void)o;
	return 0;
}

static const struct session_ops client_ops = { .send = client_send,
					       .ended = client_ended,
					       .pushed = client_pushed };

/* What the server sent the honest client: its control packets go to its session. */
static void client_read(void)
{
	static uint8_t buf[DGRAM_WIRE_MAX], plain[DGRAM_WIRE_MAX];
	struct proto_control ctl;
	uint32_t pid, t;
	ssize_t n;
	int m;

	while ((n = recv(client_fd, buf, sizeof(buf), 0)) > 0) {
		if (!client || !proto_is_control(proto_opcode(buf[0])))
			continue; /* its data (pings) stays with the server's side of the test */
		m = wrap_open(session_control_wrap(client, proto_key_id(buf[0])), buf, (size_t)n,
			      plain, sizeof(plain), &pid, &t);
		if (m > 0 && proto_decode_control(&ctl, plain, (size_t)m) == 0)
			session_receive(client, &ctl, pid, t);
	}
}

static void pump(void)
{
	for (int i = 0; i < DGRAM_PUMP_ROUNDS; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		client_read();
	}
}

/* The honest client seals a packet from the input: the server's data path opens it. */
static void client_data(struct input *in)
{
	static uint8_t pkt[DATA_OVERHEAD + DGRAM_WIRE_MAX + DATA_TAILROOM];
	size_t len = (size_t)take(in) << 8;

	len |= take(in);
	len = len < in->n ? len : in->n;
	memcpy(pkt + DATA_OVERHEAD, in->p, len);
	in->p += len;
	in->n -= len;
	if (client && session_state(client) == SESSION_ACTIVE &&
	    session_data_send(client, pkt, len) == 0)
		pump();
}

static void advance(uint8_t b)
{
	unsigned ms = b < 128 ? b * 10u : (b - 128u) * 2000u;

	while (ms) {
		unsigned step = ms < 1000 ? ms : 1000;

		fake_advance_ms(step);
		ms -= step;
		ev_run(loop, EVRUN_NOWAIT);
		client_read();
	}
}

static void step(struct input *in)
{
	switch (take(in) % STEP_COUNT) {
	case STEP_DATAGRAM:
		datagram(in);
		break;
	case STEP_CONNECT:
		tcp_connect(take(in));
		break;
	case STEP_WRITE:
		tcp_write(in);
		break;
	case STEP_CLOSE:
		tcp_close(take(in));
		break;
	case STEP_TIME:
		advance(take(in));
		break;
	case STEP_PUMP:
		pump();
		break;
	case STEP_DATA:
		client_data(in);
		break;
	}
}

/* server_stats is all counters: none may fall. */
static void check(struct server_stats *before)
{
	struct server_stats current;
	const uint64_t *now = (const uint64_t *)&current, *was = (uint64_t *)before;
	size_t n = server_session_count(srv);

	server_stats(srv, &current);
	for (size_t i = 0; i < sizeof(*before) / sizeof(uint64_t); i++)
		if (now[i] < was[i]) {
			fprintf(stderr, "server_stats counter %zu fell: %llu after %llu\n", i,
				(unsigned long long)now[i], (unsigned long long)was[i]);
			abort();
		}
	*before = current;
	if (n > server_max_clients(srv))
		abort();
	for (size_t i = 0; i < n; i++)
		if (session_state(server_session(srv, i)) > SESSION_CLOSING)
			abort();
}

static void pki_path(char *out, size_t cap, const char *file)
{
	char self[256];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		abort();
	self[n] = '\0';
	snprintf(out, cap, "%s/../../spec/fuzz/pki/%s", dirname(self), file);
}

/* The honest client's socket, at source 0's address. */
static void client_socket(void)
{
	struct sockaddr_storage ss;
	socklen_t len = source(0, &ss);

	client_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (client_fd < 0 || bind(client_fd, (struct sockaddr *)&ss, len) < 0) {
		fprintf(stderr, "fuzz_datagram: the client's socket: %s\n", strerror(errno));
		abort();
	}
}

static void client_start(void)
{
	struct sockaddr_in to = server_addr();
	struct session_params p = {
		.loop = loop,
		.log = &lg,
		.crypto = crypto,
		.tls = client_tls,
		.wrap = &no_wrap,
		.ciphers = ciphers,
		.n_ciphers = 1,
		.ops = &client_ops,
		.role = SESSION_ROLE_CLIENT,
		.options = "V4,dev-type tun,link-mtu 1541,tun-mtu 1500,proto UDPv4,auth SHA1,"
			   "keysize 128,key-method 2,tls-client",
		.peer_info = "IV_VER=2.6.14\nIV_PLAT=linux\nIV_PROTO=990\nIV_NCP=2\n"
			     "IV_CIPHERS=AES-256-GCM\n",
	};

	client_read(); /* what the last input's server sent late */
	client = session_new_client(&p, (struct sockaddr *)&to, sizeof(to));
	if (!client)
		abort();
}

/* Once: a network namespace of our own (its loopback up), the TLS context, the fakes. */
static void setup(void)
{
	char crt[320], key[320], ca[320], err[256];
	struct tls_config cfg = { .role = TLS_SERVER,
				  .peer_cert = TLS_PEER_CERT_REQUIRED,
				  .ca = ca,
				  .cert = crt,
				  .key = key };
	FILE *quiet = fopen("/dev/null", "w");

	if (unshare(CLONE_NEWNET) < 0 || system("ip link set lo up") != 0) {
		fprintf(stderr, "fuzz_datagram: a network namespace of its own needs root: %s\n",
			strerror(errno));
		abort();
	}
	if (!quiet)
		abort();
	log_init(&lg, getenv("FUZZ_TRACE") ? LOG_DEBUG : LOG_ERROR,
		 getenv("FUZZ_TRACE") ? stderr : quiet);
	fake_setup();
	fake_begin();
	wrap_init_none(&no_wrap);
	crypto = crypto_new(err, sizeof(err));
	pki_path(ca, sizeof(ca), "ca.crt");
	pki_path(crt, sizeof(crt), "server.crt");
	pki_path(key, sizeof(key), "server.key");
	if (!crypto || tls_ctx_new(&tls, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_datagram: %s\n", err);
		abort();
	}
	cfg.role = TLS_CLIENT;
	pki_path(crt, sizeof(crt), "client1.crt");
	pki_path(key, sizeof(key), "client1.key");
	if (tls_ctx_new(&client_tls, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_datagram: %s\n", err);
		abort();
	}
	client_socket();
	fake_end();
}

static int open_server(void)
{
	struct server_params p = {
		.udp = true,
		.tcp = true,
		.wrap = &no_wrap,
		.tls = tls,
		.ciphers = ciphers,
		.n_ciphers = 1,
		.ping_interval = 10,
		.ping_timeout = 60,
		.filter = { .max_flows = 256, .idle_timeout = 60, .pending_max = 16 },
		.hooks = { .connect = on_connect,
			   .ended = on_ended,
			   .deliver = on_deliver,
			   .subnet = on_subnet },
	};
	char err[256];

	if (!udp_parse_endpoint(&p.listen, "udp://127.0.0.1:1194") ||
	    !udp_parse_endpoint(&p.listen_tcp, "udp://127.0.0.1:1194") ||
	    server_open(&srv, loop, &lg, crypto, &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_datagram: server_open: %s\n", err);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct server_stats before = { 0 };

	if (!crypto)
		setup();
	fake_begin();
	loop = ev_loop_new(EVFLAG_NOENV);
	if (!loop)
		abort();
	open_server();
	client_start();
	for (int i = 0; i < DGRAM_CONNS; i++)
		conns[i] = -1;
	for (int i = 0; i < DGRAM_STEPS_MAX && in.n; i++) {
		step(&in);
		check(&before);
	}
	if (getenv("FUZZ_TRACE") && client)
		fprintf(stderr, "client %s\n", session_state_name(session_state(client)));
	if (getenv("FUZZ_TRACE"))
		fprintf(stderr,
			"packets %llu, resets answered %llu, cookies accepted %llu, sessions %zu, "
			"malformed %llu, no session %llu, data in %llu, spoofed %llu\n",
			(unsigned long long)before.packets_in,
			(unsigned long long)before.resets_answered,
			(unsigned long long)before.cookies_accepted, server_session_count(srv),
			(unsigned long long)before.dropped_malformed,
			(unsigned long long)before.dropped_no_session,
			(unsigned long long)before.data_in,
			(unsigned long long)before.dropped_spoofed);
	for (int i = 0; i < DGRAM_CONNS; i++)
		if (conns[i] >= 0)
			close(conns[i]);
	turns();
	session_free(client);
	client = NULL;
	server_free(srv);
	ev_loop_destroy(loop);
	fake_end();
	return 0;
}
