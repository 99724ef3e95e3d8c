// SPDX-License-Identifier: MIT
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "httpd.h"
#include "metrics.h"
#include "promtext.h"

/* Why a handshake failed: a bounded set, so a label and never the free text. */
#define METRICS_FAILURE_MAP(X)                                                         \
	X(FAIL_REFUSED, "refused")	     /* a hook refused it, or failed */        \
	X(FAIL_TIMEOUT, "timeout")	     /* the hand-window, or auth's deadline */ \
	X(FAIL_TLS, "tls")		     /* TLS refused the peer or broke */       \
	X(FAIL_EVICTED, "evicted")	     /* too many handshakes */                 \
	X(FAIL_TLS_CRYPT_V2, "tls_crypt_v2") /* its client key was refused */          \
	X(FAIL_REPLACED, "replaced")	     /* the client started a new session */    \
	X(FAIL_OTHER, "other")

enum metrics_failure {
#define FAILURE_ENUM(e, s) e,
	METRICS_FAILURE_MAP(FAILURE_ENUM)
#undef FAILURE_ENUM
		FAIL_N,
};

static const char *const failure_names[] = {
#define FAILURE_NAME(e, s) s,
	METRICS_FAILURE_MAP(FAILURE_NAME)
#undef FAILURE_NAME
};

static const char *const auth_names[METRICS_AUTH_N] = { "accepted", "refused", "pending" };

/* Hook durations: from a plain Lua function to a person typing a one-time code. */
static const double hook_bounds[METRICS_HOOK_BUCKETS] = {
	0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

struct hook_histogram {
	char name[48];
	uint64_t buckets[METRICS_HOOK_BUCKETS + 1]; /* not cumulative; the last is +Inf */
	uint64_t count, failures;
	double sum;
};

struct metrics {
	struct engine *e;
	struct httpd *httpd;
	char listen[UDP_ADDR_TEXT_MAX];
	bool per_client;
	unsigned per_client_max;
	uint64_t completed;
	uint64_t failed[FAIL_N];
	uint64_t auth[METRICS_AUTH_N];
	bool *refused; /* by peer-id: counted as refused already, not again at its end */
	uint32_t max_clients;
	struct hook_histogram hooks[METRICS_HOOKS_MAX];
	size_t n_hooks;
	double started; /* Unix time */
};

static char *respond(void *ctx, size_t *len);

struct metrics *metrics_new(struct engine *e)
{
	struct metrics *m = calloc(1, sizeof(*m));
	struct timespec ts;

	if (!m)
		return NULL;
	m->e = e;
	clock_gettime(CLOCK_REALTIME, &ts);
	m->started = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	httpd_free(m->httpd);
	free(m->refused);
	free(m);
}

int metrics_set_max_clients(struct metrics *m, uint32_t max_clients)
{
	bool *refused = calloc(max_clients ? max_clients : 1, sizeof(*refused));

	if (!refused)
		return -ENOMEM;
	free(m->refused);
	m->refused = refused;
	m->max_clients = max_clients;
	return 0;
}

static const struct httpd_params http_params = {
	.path = "/metrics",
	.content_type = PROMTEXT_CONTENT_TYPE,
	.respond = respond,
};

int metrics_configure(struct metrics *m, const struct config *cfg, char *err, size_t errlen)
{
	struct httpd_params p = http_params;
	struct httpd *fresh = NULL;
	struct udp_addr addr;
	char url[UDP_ADDR_TEXT_MAX + 8];
	int rc;

	if (!cfg || !cfg->metrics_listen) {
		httpd_free(m->httpd);
		m->httpd = NULL;
		m->listen[0] = '\0';
		return 0;
	}
	m->per_client = cfg->metrics_per_client;
	m->per_client_max = cfg->metrics_per_client_max;
	if (m->httpd && strcmp(m->listen, cfg->metrics_listen) == 0)
		return 0;
	snprintf(url, sizeof(url), "tcp://%s", cfg->metrics_listen);
	if (!udp_parse_endpoint_of(&addr, url, "tcp")) {
		snprintf(err, errlen, "metrics: %s is not an ADDRESS:PORT", cfg->metrics_listen);
		return -EINVAL;
	}
	p.ctx = m;
	rc = httpd_open(&fresh, m->e->loop, &m->e->log, &addr, &p, err, errlen);
	if (rc < 0)
		return rc;
	httpd_free(m->httpd);
	m->httpd = fresh;
	snprintf(m->listen, sizeof(m->listen), "%s", cfg->metrics_listen);
	return 0;
}

const char *metrics_listen_address(const struct metrics *m)
{
	return m->listen;
}

void metrics_auth(struct metrics *m, enum metrics_auth result)
{
	m->auth[result]++;
}

void metrics_admitted(struct metrics *m, const struct session *s)
{
	(void)s;
	m->completed++;
	m->auth[METRICS_AUTH_ACCEPTED]++;
}

void metrics_refused(struct metrics *m, const struct session *s)
{
	uint32_t id = session_peer_id(s);

	m->auth[METRICS_AUTH_REFUSED]++;
	m->failed[FAIL_REFUSED]++;
	if (id < m->max_clients)
		m->refused[id] = true;
}

const char *metrics_failure_reason(const char *reason)
{
	static const struct {
		const char *prefix;
		enum metrics_failure f;
	} map[] = {
		{ "TLS key negotiation failed", FAIL_TIMEOUT },
		{ "authentication timed out", FAIL_TIMEOUT },
		{ "TLS ", FAIL_TLS },
		{ "evicted", FAIL_EVICTED },
		{ "tls-crypt-v2", FAIL_TLS_CRYPT_V2 },
		{ "the client started a new session", FAIL_REPLACED },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strncmp(reason, map[i].prefix, strlen(map[i].prefix)) == 0)
			return failure_names[map[i].f];
	return failure_names[FAIL_OTHER];
}

void metrics_session_ended(struct metrics *m, const struct session *s, const char *reason)
{
	uint32_t id = session_peer_id(s);
	bool refused = id < m->max_clients && m->refused[id];

	if (id < m->max_clients)
		m->refused[id] = false;
	if (session_address(s)[0] || refused)
		return; /* admitted (a handshake that completed), or counted when refused */
	for (size_t f = 0; f < FAIL_N; f++)
		if (strcmp(metrics_failure_reason(reason), failure_names[f]) == 0)
			m->failed[f]++;
}

void metrics_hook_observe(struct metrics *m, const char *name, double seconds, bool failed)
{
	struct hook_histogram *h = NULL;
	size_t b = 0;

	for (size_t i = 0; i < m->n_hooks && !h; i++)
		if (strcmp(m->hooks[i].name, name) == 0)
			h = &m->hooks[i];
	if (!h && m->n_hooks == METRICS_HOOKS_MAX)
		return; /* the engine's own names: never more than these */
	if (!h) {
		h = &m->hooks[m->n_hooks++];
		snprintf(h->name, sizeof(h->name), "%s", name);
	}
	while (b < METRICS_HOOK_BUCKETS && seconds > hook_bounds[b])
		b++;
	h->buckets[b]++;
	h->count++;
	h->sum += seconds > 0 ? seconds : 0;
	h->failures += failed;
}

/* --- rendering ------------------------------------------------------------------ */

struct counter_field {
	const char *name, *help;
	size_t offset;
};

#define FIELD(f, n, h)                                 \
	{                                              \
		n, h, offsetof(struct server_stats, f) \
	}

static const struct counter_field totals[] = {
	FIELD(packets_in, "moonvpn_received_packets_total",
	      "Datagrams (and TCP frames) received from the network, control and data"),
	FIELD(bytes_in, "moonvpn_received_bytes_total",
	      "Bytes of datagrams (and TCP frames) received from the network"),
	FIELD(data_in, "moonvpn_data_received_packets_total",
	      "Data packets from clients opened (keepalive pings included)"),
	FIELD(data_bytes_in, "moonvpn_data_received_bytes_total",
	      "Bytes of data packets from clients opened"),
	FIELD(data_out, "moonvpn_data_sent_packets_total",
	      "Data packets sealed and sent to clients"),
	FIELD(data_bytes_out, "moonvpn_data_sent_bytes_total",
	      "Bytes of data packets sealed and sent to clients"),
	FIELD(resets_answered, "moonvpn_resets_answered_total",
	      "Hard resets answered with the stateless cookie"),
	FIELD(cookies_accepted, "moonvpn_handshakes_started_total",
	      "Handshakes started: packets that echoed a valid cookie and made a session"),
	FIELD(refused_half_open_source, "moonvpn_handshakes_refused_source_total",
	      "Handshakes refused, and told so: their source had 64 in progress, none stalled"),
	FIELD(deferred_half_open, "moonvpn_handshakes_deferred_total",
	      "Handshakes not started for now: the half-open table was full; the client resends"),
	FIELD(renegotiations, "moonvpn_renegotiations_total",
	      "Renegotiations completed: data moved to a new key"),
	FIELD(tcp_refused, "moonvpn_tcp_refused_total",
	      "TCP connections refused: every slot had a session"),
	FIELD(tcp_accept_paused, "moonvpn_tcp_accept_paused_total",
	      "Times accepting TCP connections paused: out of descriptors"),
};

/* Every counter of stats().dropped, by the same name. */
static const struct counter_field drops[] = {
	FIELD(dropped_unwrap, "unwrap", ""),
	FIELD(refused_tls_crypt_v2, "tls_crypt_v2_refused", ""),
	FIELD(dropped_malformed, "malformed", ""),
	FIELD(dropped_no_session, "no_session", ""),
	FIELD(dropped_full, "full", ""),
	FIELD(dropped_reset_rate, "reset_rate", ""),
	FIELD(dropped_data_auth, "authentication", ""),
	FIELD(dropped_replay, "replay", ""),
	FIELD(dropped_spoofed, "spoofed", ""),
	FIELD(dropped_float, "float", ""),
	FIELD(dropped_no_route, "no_route", ""),
	FIELD(dropped_subnets, "subnets", ""),
	FIELD(dropped_policy, "policy", ""),
	FIELD(rejected_policy, "rejected", ""),
	FIELD(dropped_unparsed, "unparsed", ""),
	FIELD(dropped_pending, "pending", ""),
	FIELD(dropped_mac_spoof, "mac_spoof", ""),
	FIELD(dropped_flood, "flood", ""),
	FIELD(dropped_too_big, "too_big", ""),
	FIELD(dropped_compression, "compression", ""),
	FIELD(dropped_tcp_queue, "tcp_queue", ""),
	FIELD(dropped_device_malformed, "device_malformed", ""),
	FIELD(dropped_to_main, "to_main", ""),
};

static uint64_t field_of(const struct server_stats *st, const struct counter_field *f)
{
	return *(const uint64_t *)((const char *)st + f->offset);
}

/* One family of a single sample. */
static void one(struct promtext *t, const char *name, const char *type, const char *help,
		uint64_t v)
{
	promtext_family(t, name, type, help);
	promtext_u64(t, name, NULL, NULL, v);
}

static void render_stats(struct promtext *t, const struct server_stats *st)
{
	for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++)
		one(t, totals[i].name, "counter", totals[i].help, field_of(st, &totals[i]));
	promtext_family(t, "moonvpn_dropped_packets_total", "counter",
			"Packets dropped, by reason (the counters of stats().dropped)");
	for (size_t i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
		promtext_u64(t, "moonvpn_dropped_packets_total", "reason", drops[i].name,
			     field_of(st, &drops[i]));
	promtext_family(t, "moonvpn_tcp_evicted_total", "counter",
			"TCP connections without a session closed to make room, by reason");
	promtext_u64(t, "moonvpn_tcp_evicted_total", "reason", "source", st->tcp_evicted_source);
	promtext_u64(t, "moonvpn_tcp_evicted_total", "reason", "full", st->tcp_evicted);
}

static void render_handshakes(struct promtext *t, const struct metrics *m)
{
	one(t, "moonvpn_handshakes_completed_total", "counter",
	    "Handshakes completed: clients let in", m->completed);
	promtext_family(t, "moonvpn_handshakes_failed_total", "counter",
			"Sessions that ended before their client was let in, by reason");
	for (size_t f = 0; f < FAIL_N; f++)
		promtext_u64(t, "moonvpn_handshakes_failed_total", "reason", failure_names[f],
			     m->failed[f]);
	promtext_family(t, "moonvpn_auth_results_total", "counter",
			"Admission decisions (on.auth and on.connect), by result");
	for (size_t a = 0; a < METRICS_AUTH_N; a++)
		promtext_u64(t, "moonvpn_auth_results_total", "result", auth_names[a], m->auth[a]);
}

static void render_hooks(struct promtext *t, const struct metrics *m)
{
	char le[32], count[24], sum[32];

	promtext_family(t, "moonvpn_hook_duration_seconds", "histogram",
			"Hook calls by hook, from start to result (waits included)");
	for (size_t i = 0; i < m->n_hooks; i++) {
		const struct hook_histogram *h = &m->hooks[i];
		uint64_t cumulative = 0;

		for (size_t b = 0; b <= METRICS_HOOK_BUCKETS; b++) {
			const char *labels[4] = { "hook", h->name, "le", le };

			cumulative += h->buckets[b];
			promtext_format_double(le, sizeof(le),
					       b < METRICS_HOOK_BUCKETS ? hook_bounds[b]
									: INFINITY);
			snprintf(count, sizeof(count), "%llu", (unsigned long long)cumulative);
			promtext_sample(t, "moonvpn_hook_duration_seconds_bucket", labels, 2,
					count);
		}
		promtext_format_double(sum, sizeof(sum), h->sum);
		promtext_sample(t, "moonvpn_hook_duration_seconds_sum",
				(const char *const[]){ "hook", h->name }, 1, sum);
		promtext_u64(t, "moonvpn_hook_duration_seconds_count", "hook", h->name, h->count);
	}
	promtext_family(t, "moonvpn_hook_failures_total", "counter",
			"Hook calls that failed (an error, a timeout, a spent budget), by hook");
	for (size_t i = 0; i < m->n_hooks; i++)
		promtext_u64(t, "moonvpn_hook_failures_total", "hook", m->hooks[i].name,
			     m->hooks[i].failures);
}

static void render_flows(struct promtext *t, const struct server_flow_totals *f, unsigned capacity)
{
	one(t, "moonvpn_flow_entries", "gauge", "Flows in the verdict cache", f->cached);
	one(t, "moonvpn_flow_capacity", "gauge", "Flows the verdict cache holds (policy.flows)",
	    capacity);
	one(t, "moonvpn_flow_inserted_total", "counter", "Flows cached", f->inserted);
	one(t, "moonvpn_flow_evicted_total", "counter", "Flows evicted to make room", f->evicted);
	one(t, "moonvpn_flow_expired_total", "counter", "Flows forgotten after flow_idle",
	    f->expired);
	one(t, "moonvpn_flow_full_total", "counter", "Flows not cached: no room", f->full);
	one(t, "moonvpn_flow_questions_total", "counter", "Flows handed to on.flow", f->asked);
	one(t, "moonvpn_flow_overflow_total", "counter",
	    "New flows given the fallback: no room to wait for on.flow", f->overflow);
	one(t, "moonvpn_flow_over_share_total", "counter",
	    "New flows given the fallback: their client was past its share of on.flow",
	    f->over_share);
}

/* The device's counters, summed over its queues. */
static void render_device(struct promtext *t, const struct engine *e)
{
	struct devpath_stats st;
	struct vnet_gro_stats g;

	engine_queues_stats(&e->queues, &e->devpath, &st, &g);
	one(t, "moonvpn_device_offload", "gauge",
	    "1 when the device carries a virtio-net header (superpackets)",
	    engine_queues_first(&e->queues, &e->devpath)->vnet);
	one(t, "moonvpn_device_reads_total", "counter", "Reads from the device", st.reads);
	one(t, "moonvpn_device_superpackets_total", "counter",
	    "Reads from the device that carried a superpacket", st.superpackets);
	one(t, "moonvpn_device_writes_total", "counter", "Writes to the device", st.writes);
	one(t, "moonvpn_device_write_errors_total", "counter", "Writes to the device that failed",
	    st.write_errors);
	one(t, "moonvpn_device_malformed_total", "counter",
	    "Reads whose virtio-net header is not one", st.dropped_malformed);
	one(t, "moonvpn_device_coalesced_writes_total", "counter",
	    "Superpackets written to the device from coalesced segments", g.groups);
	one(t, "moonvpn_device_coalesced_segments_total", "counter",
	    "Segments coalesced into superpackets", g.coalesced);
}

static void render_udp(struct promtext *t, const struct udpio_caps *caps,
		       const struct udpio_rx_stats *r, const struct udpio_tx_stats *s)
{
	if (!caps || !r || !s)
		return;
	one(t, "moonvpn_udp_gso", "gauge", "1 when UDP segmentation offload is in force",
	    caps->gso && !s->gso_disabled);
	one(t, "moonvpn_udp_gro", "gauge", "1 when UDP receive offload is in force", caps->gro);
	one(t, "moonvpn_udp_receive_calls_total", "counter", "recvmmsg calls", r->recvmmsg_calls);
	one(t, "moonvpn_udp_datagrams_received_total", "counter", "Datagrams received",
	    r->datagrams_in);
	one(t, "moonvpn_udp_gro_buffers_total", "counter",
	    "Received buffers that held more than one datagram", r->gro_buffers);
	one(t, "moonvpn_udp_send_calls_total", "counter", "sendmmsg calls", s->sendmmsg_calls);
	one(t, "moonvpn_udp_datagrams_sent_total", "counter", "Datagrams sent", s->datagrams_out);
	one(t, "moonvpn_udp_gso_messages_total", "counter",
	    "Messages sent that carried more than one datagram", s->gso_messages);
	promtext_family(t, "moonvpn_udp_send_dropped_total", "counter",
			"Datagrams not sent, by reason (busy: EAGAIN or ENOBUFS)");
	promtext_u64(t, "moonvpn_udp_send_dropped_total", "reason", "busy", s->drop_busy);
	promtext_u64(t, "moonvpn_udp_send_dropped_total", "reason", "error", s->drop_error);
	one(t, "moonvpn_udp_gso_too_big_total", "counter",
	    "GSO sends refused with EMSGSIZE (a segment over the path MTU)", s->gso_too_big);
}

struct client_row {
	const char *name;
	const struct dchan_counters *c;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct client_row *)a)->name, ((const struct client_row *)b)->name);
}

static const char *const client_families[4][2] = {
	{ "moonvpn_client_received_bytes_total", "Bytes of data packets from the client" },
	{ "moonvpn_client_sent_bytes_total", "Bytes of data packets sent to the client" },
	{ "moonvpn_client_received_packets_total", "Data packets from the client" },
	{ "moonvpn_client_sent_packets_total", "Data packets sent to the client" },
};

/* Sums of the rows [i, j) (one common name's sessions) into the four figures. */
static void sum_rows(const struct client_row *rows, size_t i, size_t j, uint64_t out[4])
{
	memset(out, 0, 4 * sizeof(out[0]));
	for (; i < j; i++) {
		out[0] += rows[i].c->bytes_in;
		out[1] += rows[i].c->bytes_out;
		out[2] += rows[i].c->packets_in;
		out[3] += rows[i].c->packets_out;
	}
}

/* At most per_client_max common names' series; the rest counted as unlisted. */
static void render_client_rows(struct promtext *t, const struct metrics *m, struct client_row *rows,
			       size_t n)
{
	size_t names = 0, unlisted = 0;

	qsort(rows, n, sizeof(rows[0]), by_name);
	for (size_t f = 0; f < 4; f++) {
		promtext_family(t, client_families[f][0], "counter", client_families[f][1]);
		names = unlisted = 0;
		for (size_t i = 0, j; i < n; i = j) {
			uint64_t v[4];

			for (j = i + 1; j < n && strcmp(rows[j].name, rows[i].name) == 0; j++)
				;
			if (names == m->per_client_max) {
				unlisted++;
				continue;
			}
			names++;
			sum_rows(rows, i, j, v);
			promtext_u64(t, client_families[f][0], "common_name", rows[i].name, v[f]);
		}
	}
	one(t, "moonvpn_clients_unlisted", "gauge",
	    "Common names connected but not listed: past metrics.per_client_max", unlisted);
}

/*
 * Connected clients' figures by common name (a client without a certificate:
 * its username), sessions of one name summed; at most per_client_max names,
 * the rest counted in moonvpn_clients_unlisted.
 */
static void render_clients(struct promtext *t, const struct metrics *m, struct server *s)
{
	size_t total = server_session_count(s), n = 0;
	struct client_row *rows = calloc(total ? total : 1, sizeof(*rows));

	if (!rows) {
		t->failed = true; /* out of memory: a 500, not a text without its clients */
		return;
	}
	for (size_t i = 0; i < total; i++) {
		const struct session *sess = server_session(s, i);

		if (session_state(sess) != SESSION_ACTIVE)
			continue;
		rows[n].name = session_cn(sess)[0]	? session_cn(sess)
			       : session_username(sess) ? session_username(sess)
							: "";
		rows[n].c = session_counters(sess);
		n++;
	}
	one(t, "moonvpn_clients_connected", "gauge", "Clients let in and connected", n);
	if (m->per_client)
		render_client_rows(t, m, rows, n);
	free(rows);
}

static void render_process(struct promtext *t, const struct metrics *m)
{
	promtext_family(t, "moonvpn_build_info", "gauge", "The moonvpn version running");
	promtext_u64(t, "moonvpn_build_info", "version", MOONVPN_VERSION, 1);
	promtext_family(t, "moonvpn_process_start_time_seconds", "gauge",
			"When moonvpn started, in seconds since the Unix epoch");
	promtext_double(t, "moonvpn_process_start_time_seconds", NULL, NULL, m->started);
	one(t, "moonvpn_sessions", "gauge", "Sessions, handshakes in progress included",
	    m->e->server ? server_session_count(m->e->server) : 0);
}

static void render_http(struct promtext *t, const struct httpd *h)
{
	const struct httpd_stats *st = httpd_stats(h);

	promtext_family(t, "moonvpn_metrics_http_closed_total", "counter",
			"Connections to this endpoint closed early, by reason");
	promtext_u64(t, "moonvpn_metrics_http_closed_total", "reason", "timeout", st->timeouts);
	promtext_u64(t, "moonvpn_metrics_http_closed_total", "reason", "evicted", st->evicted);
	one(t, "moonvpn_metrics_http_errors_total", "counter",
	    "Requests answered with an error status", st->errors);
}

char *metrics_render(struct metrics *m, size_t *len)
{
	struct engine *e = m->e;
	struct udpio_rx_stats rx;
	struct udpio_tx_stats tx;
	struct server_flow_totals flows;
	struct server_stats st;
	struct promtext t;

	promtext_init(&t, 0);
	render_process(&t, m);
	if (e->server) {
		render_clients(&t, m, e->server);
		server_stats(e->server, &st);
		render_stats(&t, &st);
		render_handshakes(&t, m);
		server_flow_totals(e->server, &flows);
		render_flows(&t, &flows, e->cfg ? e->cfg->flow_max : 0);
		render_udp(&t, server_udp_caps(e->server),
			   server_udp_rx_stats(e->server, &rx) ? &rx : NULL,
			   server_udp_tx_stats(e->server, &tx) ? &tx : NULL);
	}
	render_hooks(&t, m);
	render_device(&t, e);
	if (m->httpd)
		render_http(&t, m->httpd);
	return promtext_take(&t, len);
}

static char *respond(void *ctx, size_t *len)
{
	struct metrics *m = ctx;
	char *body = metrics_render(m, len);

	if (!body)
		log_ratelimited(&m->e->log, LOG_WARN, "metrics",
				"cannot render the metrics (out of memory, or over %d bytes)",
				PROMTEXT_MAX_BYTES);
	return body;
}
