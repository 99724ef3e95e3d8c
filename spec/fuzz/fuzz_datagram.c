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
 * opens sessions without reading the server's replies.
 *
 * After every step: no counter of server_stats falls, the sessions fit
 * their table and each is in a valid state. ASan reports leaks at the end
 * of every input (each builds and frees its own server).
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
};

/* The steps; an input byte modulo STEP_COUNT chooses one. */
enum step {
	STEP_DATAGRAM, /* + source, flags, 2-byte length, bytes */
	STEP_CONNECT,  /* + slot: a TCP connection from 127.0.0.1 */
	STEP_WRITE,    /* + slot, 2-byte length, bytes: a chunk of its stream */
	STEP_CLOSE,    /* + slot */
	STEP_TIME,     /* + byte: advance the clock, run the timers */
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
static const char *const ciphers[] = { "AES-256-GCM" };

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

	(void)ctx;
	snprintf(push.address, sizeof(push.address), "10.8.%u.%u", (id >> 8) & 0xff,
		 (id & 0xff) + 2);
	push.messages[0] = strdup("PUSH_REPLY,topology subnet,cipher AES-256-GCM");
	if (!server_admit(srv, sess, &push))
		free(push.messages[0]);
}

static void on_ended(void *ctx, struct session *sess, const char *reason)
{
	(void)ctx;
	(void)sess;
	(void)reason;
}

static void on_deliver(void *ctx, struct session *sess, uint8_t *packet, size_t len)
{
	(void)ctx;
	(void)sess;
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

/* Source i: 10.0.0.1-8 or fd00::1-8, port 40000 or 40001. */
static socklen_t source(uint8_t i, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	i %= DGRAM_SOURCES;
	if (i < DGRAM_SOURCES / 2) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(40000 + (i & 1));
		a->sin_addr.s_addr = htonl(0x0a000001 + (i >> 1));
		return sizeof(*a);
	}
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(40000 + (i & 1));
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
	server_handle_datagram(srv, &srv->lane, &a, buf, len);
}

static void turns(void)
{
	for (int i = 0; i < DGRAM_TURNS; i++)
		ev_run(loop, EVRUN_NOWAIT);
}

static void tcp_connect(uint8_t slot)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(DGRAM_PORT) };
	int *fd = &conns[slot % DGRAM_CONNS];

	if (*fd >= 0)
		return;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
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

static void advance(uint8_t b)
{
	unsigned ms = b < 128 ? b * 10u : (b - 128u) * 2000u;

	while (ms) {
		unsigned step = ms < 1000 ? ms : 1000;

		fake_advance_ms(step);
		ms -= step;
		ev_run(loop, EVRUN_NOWAIT);
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
	}
}

/* server_stats is all counters: none may fall. */
static void check(struct server_stats *before)
{
	const uint64_t *now = (const uint64_t *)server_stats(srv), *was = (uint64_t *)before;
	size_t n = server_session_count(srv);

	for (size_t i = 0; i < sizeof(*before) / sizeof(uint64_t); i++)
		if (now[i] < was[i]) {
			fprintf(stderr, "server_stats counter %zu fell: %llu after %llu\n", i,
				(unsigned long long)now[i], (unsigned long long)was[i]);
			abort();
		}
	*before = *server_stats(srv);
	if (n > SERVER_SESSIONS_MAX)
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
	log_init(&lg, LOG_ERROR, quiet);
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
	for (int i = 0; i < DGRAM_CONNS; i++)
		conns[i] = -1;
	for (int i = 0; i < DGRAM_STEPS_MAX && in.n; i++) {
		step(&in);
		check(&before);
	}
	if (getenv("FUZZ_TRACE"))
		fprintf(stderr,
			"packets %llu, resets answered %llu, cookies accepted %llu, sessions %zu, "
			"malformed %llu, no session %llu\n",
			(unsigned long long)before.packets_in,
			(unsigned long long)before.resets_answered,
			(unsigned long long)before.cookies_accepted, server_session_count(srv),
			(unsigned long long)before.dropped_malformed,
			(unsigned long long)before.dropped_no_session);
	for (int i = 0; i < DGRAM_CONNS; i++)
		if (conns[i] >= 0)
			close(conns[i]);
	turns();
	server_free(srv);
	ev_loop_destroy(loop);
	fake_end();
	return 0;
}
