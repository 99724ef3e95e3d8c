// SPDX-License-Identifier: MIT
/*
 * A load generator: N OpenVPN client sessions in one process on one libev
 * loop, each the engine's own client (core/control/client.c: session.c,
 * the key states, the wire codecs), so what it measures is what a moonvpn
 * client does. Each does the TLS handshake, key-method 2 and
 * PUSH_REQUEST/PUSH_REPLY, then keeps alive as the server's push says,
 * optionally sends a ping through the tunnel now and then (--data) and
 * renegotiates (--reneg). A session that ends reconnects as a moonvpn
 * client does (after a backoff). Clients start at --rate per second from
 * the --bind addresses in turn, each socket on a fresh source port.
 *
 *   loadgen --remote 10.0.0.1:1194 --clients 1000 --rate 100 --ca ca.crt
 *           [--cert c.crt --key c.key] [--tls-crypt tc.key | --tls-auth ta.key[:DIR]]
 *           [--auth-user-pass USER:PASS] [--bind A[,B...]] [--duration S]
 *           [--timeout S] [--reneg S] [--data [--data-interval S]] [--report S]
 *
 * Every --report seconds a line: clients started and connected,
 * handshakes per second and their latency (attempt start to PUSH_REPLY
 * applied) p50/p99 over that interval. At the end the failures by reason,
 * and one line to parse:
 *
 *   loadgen: started=N connected=N failed=N dropped=N hs_per_s=X p50_ms=X p99_ms=X ...
 *
 * failed: attempts that ended before their push; dropped: connected
 * sessions that ended. Without --duration it stops once all are connected
 * (or --timeout passed). Exit status 0 when every client is connected at
 * the end and none failed or dropped, 1 otherwise, 2 for a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "client.h"
#include "packet.h"
#include "pushopts.h"
#include "statickey.h"

enum {
	LG_BIND_MAX = 256,		  /* --bind addresses */
	LG_REASONS_MAX = 32,		  /* distinct failure reasons counted; more share one */
	LG_REASON_TEXT_MAX = 96,	  /* bytes of a reason kept */
	LG_TICKS_PER_SECOND = 20,	  /* the ramp's and the data's steps */
	LG_FDS_SPARE = 64,		  /* descriptors beyond one per client */
	LG_PING_PAYLOAD_BYTES = 32,	  /* the ICMP echo's data */
	LG_KEY_FILE_MAX = 8192,		  /* bytes of a static key file */
	LG_DEFAULT_RATE = 50,		  /* clients started per second */
	LG_DEFAULT_TIMEOUT_SECONDS = 300, /* without --duration: give up waiting after this */
	LG_DEFAULT_DATA_INTERVAL_SECONDS = 5,
	LG_TUN_MTU = 1500,
	LG_RECONNECT_INITIAL_SECONDS = 2,
	LG_RECONNECT_MAX_SECONDS = 16,
};

struct lg_options {
	struct udp_addr remote;
	struct udp_addr bind[LG_BIND_MAX];
	size_t n_bind;
	size_t clients;
	double rate, duration, timeout, report, data_interval;
	unsigned reneg;
	bool data, verbose;
	const char *ca, *cert, *key, *tls_crypt, *tls_auth;
	int tls_auth_direction;
	char *username, *password;
};

struct lg_reason {
	char text[LG_REASON_TEXT_MAX];
	uint64_t failed, dropped;
};

/* Handshake latencies in ms, all of them, in the order they completed. */
struct lg_latencies {
	double *v;
	size_t n, cap;
};

struct loadgen;

struct lg_client {
	struct loadgen *lg;
	struct client *c;
	uint32_t index;
	uint16_t ping_seq;
};

struct loadgen {
	struct ev_loop *loop;
	struct log log;
	struct crypto *crypto;
	struct tls_ctx *tls;
	struct wrap wrap;
	struct lg_options o;
	struct lg_client *clients;
	size_t started, connected, data_cursor;
	double data_credit; /* pings due but not yet sent (a fraction of one between ticks) */
	double t0, first_connect, last_connect, last_report;
	uint64_t connects, failed, dropped, renegotiations, data_out, data_in;
	struct lg_latencies lat;
	size_t report_from; /* lat.v index where the current report interval starts */
	struct lg_reason reasons[LG_REASONS_MAX];
	size_t n_reasons;
	ev_timer tick, report;
	ev_signal sigint, sigterm;
	bool done;
};

static const char *const lg_ciphers[] = { "AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305" };

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen --remote HOST:PORT --ca FILE [--cert FILE --key FILE]\n"
		"         [--proto udp] [--clients N] [--rate R] [--bind ADDR[,ADDR...]]\n"
		"         [--tls-crypt FILE | --tls-auth FILE[:DIRECTION]] [--auth-user-pass "
		"USER:PASS]\n"
		"         [--duration S] [--timeout S] [--reneg S] [--data] [--data-interval S]\n"
		"         [--report S] [--verbose]\n");
}

static struct lg_reason *reason_slot(struct loadgen *lg, const char *reason)
{
	char text[LG_REASON_TEXT_MAX];

	snprintf(text, sizeof(text), "%s", reason);
	for (size_t i = 0; i < lg->n_reasons; i++)
		if (!strcmp(lg->reasons[i].text, text))
			return &lg->reasons[i];
	if (lg->n_reasons == LG_REASONS_MAX) /* the last slot takes all the others */
		return &lg->reasons[LG_REASONS_MAX - 1];
	snprintf(lg->reasons[lg->n_reasons].text, LG_REASON_TEXT_MAX, "%s",
		 lg->n_reasons == LG_REASONS_MAX - 1 ? "(other reasons)" : text);
	return &lg->reasons[lg->n_reasons++];
}

static void record_latency(struct loadgen *lg, double ms)
{
	if (lg->lat.n == lg->lat.cap) {
		size_t cap = lg->lat.cap ? 2 * lg->lat.cap : 1024;
		double *v = realloc(lg->lat.v, cap * sizeof(*v));

		if (!v)
			return; /* the figure loses one sample, the run goes on */
		lg->lat.v = v;
		lg->lat.cap = cap;
	}
	lg->lat.v[lg->lat.n++] = ms;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The p-th percentile (nearest rank) of v[0..n), sorted in a copy; NAN when empty. */
static double percentile(const double *v, size_t n, double p)
{
	double *copy, r;
	size_t rank;

	if (n == 0 || !(copy = malloc(n * sizeof(*copy))))
		return NAN;
	memcpy(copy, v, n * sizeof(*copy));
	qsort(copy, n, sizeof(*copy), compare_double);
	rank = (size_t)ceil(p / 100.0 * (double)n);
	r = copy[rank ? rank - 1 : 0];
	free(copy);
	return r;
}

static int on_pushed(void *ctx, const struct push_options *o)
{
	struct lg_client *lc = ctx;
	struct loadgen *lg = lc->lg;
	double now = ev_now(lg->loop);

	(void)o;
	if (!lg->connects)
		lg->first_connect = now;
	lg->connects++;
	lg->connected++;
	lg->last_connect = now;
	record_latency(lg, 1000.0 * (now - client_attempt_started(lc->c)));
	return 0;
}

static void on_deliver(void *ctx, uint8_t *packet, size_t len)
{
	struct lg_client *lc = ctx;

	(void)packet;
	(void)len;
	lc->lg->data_in++;
}

/* client.c calls this before it clears its connected flag: that says failed or dropped. */
static void on_ended(void *ctx, const char *reason)
{
	struct lg_client *lc = ctx;
	struct loadgen *lg = lc->lg;
	struct lg_reason *r = reason_slot(lg, reason);

	if (lc->c && client_connected(lc->c)) {
		lg->connected--;
		lg->dropped++;
		r->dropped++;
	} else {
		lg->failed++;
		r->failed++;
	}
	if (lg->o.verbose)
		fprintf(stderr, "loadgen: client %u: %s\n", lc->index, reason);
}

static void start_client(struct loadgen *lg)
{
	struct lg_client *lc = &lg->clients[lg->started];
	struct client_params p = {
		.n_remotes = 1,
		.wrap = &lg->wrap,
		.tls = lg->tls,
		.ciphers = lg_ciphers,
		.n_ciphers = sizeof(lg_ciphers) / sizeof(lg_ciphers[0]),
		.reneg_seconds = lg->o.reneg,
		.reconnect_initial = LG_RECONNECT_INITIAL_SECONDS,
		.reconnect_max = LG_RECONNECT_MAX_SECONDS,
		.tun_mtu = LG_TUN_MTU,
		.tls_auth = lg->o.tls_auth != NULL,
		.tls_auth_direction = lg->o.tls_auth ? lg->o.tls_auth_direction : -1,
		.hooks = { on_pushed, on_deliver, lc, on_ended },
		.unbatched = true,
		.username = lg->o.username,
		.password = lg->o.password,
		.renegotiations = &lg->renegotiations,
	};
	char err[256];

	struct client_remote remote = { .addr = lg->o.remote };

	p.remotes = &remote;
	if (lg->o.n_bind)
		p.local = lg->o.bind[lg->started % lg->o.n_bind];
	lc->lg = lg;
	lc->index = (uint32_t)lg->started;
	lg->started++;
	if (client_open(&lc->c, lg->loop, &lg->log, lg->crypto, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "loadgen: client %u: %s\n", lc->index, err);
		lc->c = NULL;
		lg->failed++;
		reason_slot(lg, "cannot open a client")->failed++;
	}
}

/* An IPv4 ICMP echo request from our tunnel address to the server's, at pkt + DATA_OVERHEAD. */
static size_t craft_ping(uint8_t *ip, const struct push_options *o, uint32_t id, uint16_t seq)
{
	size_t len = 20 + 8 + LG_PING_PAYLOAD_BYTES;
	uint8_t *icmp = ip + 20;
	uint8_t dst[4];
	uint16_t sum;

	if (o->has_route_gateway && o->route_gateway.family == AF_INET)
		memcpy(dst, o->route_gateway.bytes, 4);
	else if (o->has_ifconfig_peer && o->ifconfig_peer.family == AF_INET)
		memcpy(dst, o->ifconfig_peer.bytes, 4);
	else
		return 0;
	memset(ip, 0, len);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(len >> 8);
	ip[3] = (uint8_t)len;
	ip[8] = 64;
	ip[9] = 1; /* ICMP */
	memcpy(ip + 12, o->ifconfig.addr.bytes, 4);
	memcpy(ip + 16, dst, 4);
	sum = packet_checksum(ip, 20, 0);
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
	icmp[0] = 8; /* echo request */
	icmp[4] = (uint8_t)(id >> 8);
	icmp[5] = (uint8_t)id;
	icmp[6] = (uint8_t)(seq >> 8);
	icmp[7] = (uint8_t)seq;
	memset(icmp + 8, 0xa5, LG_PING_PAYLOAD_BYTES);
	sum = packet_checksum(icmp, 8 + LG_PING_PAYLOAD_BYTES, 0);
	icmp[2] = (uint8_t)(sum >> 8);
	icmp[3] = (uint8_t)sum;
	return len;
}

static void send_ping(struct loadgen *lg, struct lg_client *lc)
{
	uint8_t pkt[DATA_OVERHEAD + 20 + 8 + LG_PING_PAYLOAD_BYTES + DATA_TAILROOM];
	struct session *s = lc->c ? client_session(lc->c) : NULL;
	const struct push_options *o;
	size_t len;

	if (!s || !client_connected(lc->c) || !(o = session_pushed(s)) || !o->has_ifconfig ||
	    o->ifconfig.addr.family != AF_INET)
		return;
	len = craft_ping(pkt + DATA_OVERHEAD, o, lc->index, lc->ping_seq++);
	if (!len)
		return;
	client_send_from_device(lc->c, pkt, len);
	lg->data_out++;
}

/* Each tick: the clients the ramp is due, and a slice of them pings (every one per interval). */
static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct loadgen *lg = w->data;
	double elapsed = ev_now(loop) - lg->t0;
	size_t due = (size_t)fmin((double)lg->o.clients, floor(lg->o.rate * elapsed) + 1);
	size_t slice;

	(void)revents;
	while (lg->started < due)
		start_client(lg);
	if (!lg->o.data || !lg->started)
		return;
	/* Fractions carry over, so each client pings once per interval however few there are. */
	lg->data_credit += (double)lg->started / (lg->o.data_interval * LG_TICKS_PER_SECOND);
	slice = (size_t)lg->data_credit;
	lg->data_credit -= (double)slice;
	for (size_t i = 0; i < slice; i++) {
		if (lg->data_cursor >= lg->started)
			lg->data_cursor = 0;
		send_ping(lg, &lg->clients[lg->data_cursor++]);
	}
}

static void print_progress(struct loadgen *lg, double now)
{
	size_t n = lg->lat.n - lg->report_from;
	double span = now - lg->last_report;
	const double *v = lg->lat.v + lg->report_from;

	printf("loadgen: t=%.1f started=%zu connected=%zu failed=%" PRIu64 " dropped=%" PRIu64
	       " hs_per_s=%.1f p50_ms=%.1f p99_ms=%.1f reneg=%" PRIu64 " data_out=%" PRIu64
	       " data_in=%" PRIu64 "\n",
	       now - lg->t0, lg->started, lg->connected, lg->failed, lg->dropped,
	       span > 0 ? (double)n / span : 0.0, percentile(v, n, 50), percentile(v, n, 99),
	       lg->renegotiations, lg->data_out, lg->data_in);
	fflush(stdout);
	lg->report_from = lg->lat.n;
	lg->last_report = now;
}

static bool finished(const struct loadgen *lg, double elapsed)
{
	if (lg->o.duration > 0)
		return elapsed >= lg->o.duration;
	return (lg->started == lg->o.clients && lg->connected == lg->o.clients) ||
	       elapsed >= lg->o.timeout;
}

static void on_report(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct loadgen *lg = w->data;
	double now = ev_now(loop);

	(void)revents;
	print_progress(lg, now);
	if (finished(lg, now - lg->t0)) {
		lg->done = true;
		ev_break(loop, EVBREAK_ALL);
	}
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* VmRSS of this process in KiB, 0 when /proc does not say. */
static unsigned long rss_kib(void)
{
	char line[256];
	unsigned long kib = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void print_summary(struct loadgen *lg, unsigned long rss_before)
{
	double now = ev_now(lg->loop);
	double span = lg->connects > 1 ? lg->last_connect - lg->t0 : 0;
	unsigned long rss = rss_kib();

	for (size_t i = 0; i < lg->n_reasons; i++)
		printf("loadgen: reason \"%s\": failed=%" PRIu64 " dropped=%" PRIu64 "\n",
		       lg->reasons[i].text, lg->reasons[i].failed, lg->reasons[i].dropped);
	printf("loadgen: rss_kib=%lu (%lu before any client): %.1f KiB per client\n", rss,
	       rss_before, lg->started ? (double)(rss - rss_before) / (double)lg->started : 0.0);
	printf("loadgen: started=%zu connected=%zu failed=%" PRIu64 " dropped=%" PRIu64
	       " connects=%" PRIu64 " hs_per_s=%.1f p50_ms=%.1f p99_ms=%.1f reneg=%" PRIu64
	       " data_out=%" PRIu64 " data_in=%" PRIu64 " elapsed_s=%.1f rss_kib=%lu\n",
	       lg->started, lg->connected, lg->failed, lg->dropped, lg->connects,
	       span > 0 ? (double)lg->connects / span : 0.0, percentile(lg->lat.v, lg->lat.n, 50),
	       percentile(lg->lat.v, lg->lat.n, 99), lg->renegotiations, lg->data_out, lg->data_in,
	       now - lg->t0, rss);
	fflush(stdout);
}

static bool parse_endpoint(struct udp_addr *out, const char *text, const char *port)
{
	char url[128];
	bool v6 = strchr(text, ':') && (!port || text[0] != '[');

	if (port)
		snprintf(url, sizeof(url), v6 ? "udp://[%s]:%s" : "udp://%s:%s", text, port);
	else
		snprintf(url, sizeof(url), "udp://%s", text);
	return udp_parse_endpoint(out, url);
}

/* A source address, port 0 (the kernel picks a fresh port for each socket). */
static bool parse_address(struct udp_addr *out, const char *text)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		out->len = sizeof(*v4);
		return true;
	}
	if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		out->len = sizeof(*v6);
		return true;
	}
	return false;
}

static int parse_bind(struct lg_options *o, const char *list)
{
	char copy[4096], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", list);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (o->n_bind == LG_BIND_MAX) {
			fprintf(stderr, "loadgen: --bind: at most %d addresses\n", LG_BIND_MAX);
			return -1;
		}
		if (!parse_address(&o->bind[o->n_bind], t)) {
			fprintf(stderr, "loadgen: --bind: %s is not an IPv4 or IPv6 address\n", t);
			return -1;
		}
		o->n_bind++;
	}
	return 0;
}

static int parse_number(const char *opt, const char *text, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(text, &end);
	if (errno || end == text || *end || !(*out >= min && *out <= max)) {
		fprintf(stderr, "loadgen: %s: \"%s\" is not a number from %g to %g\n", opt, text,
			min, max);
		return -1;
	}
	return 0;
}

static int parse_tls_auth(struct lg_options *o, char *arg)
{
	char *colon = strrchr(arg, ':');

	o->tls_auth = arg;
	o->tls_auth_direction = 1; /* a client's usual key-direction */
	if (!colon)
		return 0;
	*colon = '\0';
	if (strcmp(colon + 1, "0") && strcmp(colon + 1, "1")) {
		fprintf(stderr, "loadgen: --tls-auth: the direction after ':' is 0 or 1, not %s\n",
			colon + 1);
		return -1;
	}
	o->tls_auth_direction = colon[1] - '0';
	return 0;
}

static int parse_user_pass(struct lg_options *o, const char *arg)
{
	const char *colon = strchr(arg, ':');

	if (!colon || colon == arg) {
		fprintf(stderr, "loadgen: --auth-user-pass: USER:PASS, with a non-empty USER\n");
		return -1;
	}
	o->username = strndup(arg, (size_t)(colon - arg));
	o->password = strdup(colon + 1);
	return o->username && o->password ? 0 : -1;
}

static const struct option long_options[] = {
	{ "remote", required_argument, NULL, 'r' },
	{ "proto", required_argument, NULL, 'P' },
	{ "clients", required_argument, NULL, 'n' },
	{ "rate", required_argument, NULL, 'R' },
	{ "bind", required_argument, NULL, 'b' },
	{ "ca", required_argument, NULL, 'C' },
	{ "cert", required_argument, NULL, 'c' },
	{ "key", required_argument, NULL, 'k' },
	{ "tls-crypt", required_argument, NULL, 't' },
	{ "tls-auth", required_argument, NULL, 'a' },
	{ "auth-user-pass", required_argument, NULL, 'u' },
	{ "duration", required_argument, NULL, 'd' },
	{ "timeout", required_argument, NULL, 'T' },
	{ "reneg", required_argument, NULL, 'g' },
	{ "data", no_argument, NULL, 'D' },
	{ "data-interval", required_argument, NULL, 'i' },
	{ "report", required_argument, NULL, 'p' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static int parse_remote(struct lg_options *o, const char *arg)
{
	char copy[128];
	char *colon;

	snprintf(copy, sizeof(copy), "%s", arg);
	colon = strrchr(copy, ':');
	if (colon)
		*colon = '\0';
	if (!colon || !parse_endpoint(&o->remote, copy, colon + 1)) {
		fprintf(stderr, "loadgen: --remote: %s is not HOST:PORT (an address, [v6]:PORT)\n",
			arg);
		return -1;
	}
	return 0;
}

static int parse_option(struct lg_options *o, int opt, char *arg)
{
	double v;

	switch (opt) {
	case 'r':
		return parse_remote(o, arg);
	case 'P':
		if (strcmp(arg, "udp")) {
			fprintf(stderr, "loadgen: --proto: only udp (the load of a UDP server)\n");
			return -1;
		}
		return 0;
	case 'n':
		if (parse_number("--clients", arg, 1, 1e6, &v) < 0)
			return -1;
		o->clients = (size_t)v;
		return 0;
	case 'R':
		return parse_number("--rate", arg, 0.01, 1e6, &o->rate);
	case 'b':
		return parse_bind(o, arg);
	case 'C':
		o->ca = arg;
		return 0;
	case 'c':
		o->cert = arg;
		return 0;
	case 'k':
		o->key = arg;
		return 0;
	case 't':
		o->tls_crypt = arg;
		return 0;
	case 'a':
		return parse_tls_auth(o, arg);
	case 'u':
		return parse_user_pass(o, arg);
	case 'd':
		return parse_number("--duration", arg, 0, 1e7, &o->duration);
	case 'T':
		return parse_number("--timeout", arg, 1, 1e7, &o->timeout);
	case 'g':
		if (parse_number("--reneg", arg, 0, 1e7, &v) < 0)
			return -1;
		o->reneg = (unsigned)v;
		return 0;
	case 'D':
		o->data = true;
		return 0;
	case 'i':
		return parse_number("--data-interval", arg, 0.05, 1e6, &o->data_interval);
	case 'p':
		return parse_number("--report", arg, 0.1, 1e6, &o->report);
	case 'v':
		o->verbose = true;
		return 0;
	}
	usage();
	return -1;
}

static int parse_args(struct lg_options *o, int argc, char **argv)
{
	int opt;

	*o = (struct lg_options){ .clients = 1,
				  .rate = LG_DEFAULT_RATE,
				  .timeout = LG_DEFAULT_TIMEOUT_SECONDS,
				  .report = 1,
				  .data_interval = LG_DEFAULT_DATA_INTERVAL_SECONDS };
	while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1)
		if (parse_option(o, opt, optarg) < 0)
			return -1;
	if (optind < argc || !o->remote.len || !o->ca) {
		fprintf(stderr, "loadgen: %s\n",
			optind < argc ? "unexpected arguments" : "--remote and --ca are needed");
		usage();
		return -1;
	}
	if (!o->cert != !o->key || (!o->cert && !o->username)) {
		fprintf(stderr, "loadgen: give --cert and --key together, or --auth-user-pass "
				"alone (a client needs one to authenticate)\n");
		return -1;
	}
	if (o->tls_crypt && o->tls_auth) {
		fprintf(stderr, "loadgen: --tls-crypt and --tls-auth exclude each other\n");
		return -1;
	}
	for (size_t i = 0; i < o->n_bind; i++)
		if (o->bind[i].ss.ss_family != o->remote.ss.ss_family) {
			fprintf(stderr,
				"loadgen: --bind: address %zu is not of --remote's family\n",
				i + 1);
			return -1;
		}
	return 0;
}

static int load_key(struct static_key *key, const char *opt, const char *path)
{
	char text[LG_KEY_FILE_MAX], why[160];
	FILE *f = fopen(path, "r");
	size_t n;
	int rc;

	if (!f) {
		fprintf(stderr, "loadgen: %s: cannot read %s: %s\n", opt, path, strerror(errno));
		return -1;
	}
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	rc = static_key_parse(key, text, n, why, sizeof(why));
	if (rc < 0)
		fprintf(stderr, "loadgen: %s: %s: %s\n", opt, path, why);
	crypto_wipe(text, sizeof(text));
	return rc < 0 ? -1 : 0;
}

static int load_credentials(struct loadgen *lg)
{
	struct tls_config tc = { .role = TLS_CLIENT,
				 .ca = lg->o.ca,
				 .cert = lg->o.cert,
				 .key = lg->o.key,
				 .peer_cert = TLS_PEER_CERT_REQUIRED };
	struct static_key key;
	char err[256];
	int rc = 0;

	lg->crypto = crypto_new(err, sizeof(err));
	if (!lg->crypto || tls_ctx_new(&lg->tls, &tc, err, sizeof(err)) < 0) {
		fprintf(stderr, "loadgen: %s\n", err);
		return -1;
	}
	wrap_init_none(&lg->wrap);
	if (lg->o.tls_crypt) {
		rc = load_key(&key, "--tls-crypt", lg->o.tls_crypt);
		if (rc == 0)
			wrap_init_tls_crypt(&lg->wrap, lg->crypto, &key, false);
	} else if (lg->o.tls_auth) {
		rc = load_key(&key, "--tls-auth", lg->o.tls_auth);
		if (rc == 0 &&
		    wrap_init_tls_auth(&lg->wrap, lg->crypto, &key, lg->o.tls_auth_direction,
				       "SHA1", err, sizeof(err)) < 0) {
			fprintf(stderr, "loadgen: --tls-auth: %s\n", err);
			rc = -1;
		}
	}
	crypto_wipe(&key, sizeof(key));
	return rc;
}

/* One descriptor per client: the soft limit goes up to the hard one if it must. */
static int raise_fd_limit(size_t clients)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)clients + LG_FDS_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max < need) {
		fprintf(stderr,
			"loadgen: %zu clients need %llu descriptors, the hard limit is %llu "
			"(raise it: ulimit -Hn %llu, as root)\n",
			clients, (unsigned long long)need, (unsigned long long)rl.rlim_max,
			(unsigned long long)need);
		return -1;
	}
	rl.rlim_cur = need;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

static void run(struct loadgen *lg)
{
	lg->t0 = lg->last_report = ev_now(lg->loop);
	ev_timer_init(&lg->tick, on_tick, 0, 1.0 / LG_TICKS_PER_SECOND);
	lg->tick.data = lg;
	ev_timer_start(lg->loop, &lg->tick);
	ev_timer_init(&lg->report, on_report, lg->o.report, lg->o.report);
	lg->report.data = lg;
	ev_timer_start(lg->loop, &lg->report);
	ev_signal_init(&lg->sigint, on_signal, SIGINT);
	ev_signal_init(&lg->sigterm, on_signal, SIGTERM);
	ev_signal_start(lg->loop, &lg->sigint);
	ev_signal_start(lg->loop, &lg->sigterm);
	ev_run(lg->loop, 0);
	ev_timer_stop(lg->loop, &lg->tick);
	ev_timer_stop(lg->loop, &lg->report);
}

int main(int argc, char **argv)
{
	static struct loadgen lg;
	unsigned long rss_before;
	bool ok;

	if (parse_args(&lg.o, argc, argv) < 0)
		return 2;
	if (raise_fd_limit(lg.o.clients) < 0)
		return 2;
	log_init(&lg.log, lg.o.verbose ? LOG_INFO : LOG_ERROR, stderr);
	lg.loop = ev_default_loop(EVFLAG_AUTO);
	lg.clients = calloc(lg.o.clients, sizeof(*lg.clients));
	if (!lg.loop || !lg.clients) {
		fprintf(stderr, "loadgen: out of memory for %zu clients\n", lg.o.clients);
		return 1;
	}
	if (load_credentials(&lg) < 0)
		return 2;
	rss_before = rss_kib();
	run(&lg);
	print_summary(&lg, rss_before);
	ok = lg.connected == lg.o.clients && lg.failed == 0 && lg.dropped == 0;
	for (size_t i = 0; i < lg.started; i++)
		client_free(lg.clients[i].c);
	tls_ctx_free(lg.tls);
	wrap_clear(&lg.wrap);
	crypto_free(lg.crypto);
	free(lg.clients);
	free(lg.lat.v);
	free(lg.o.username);
	free(lg.o.password);
	return ok ? 0 : 1;
}
