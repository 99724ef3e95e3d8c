// SPDX-License-Identifier: MIT
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "engine_auth.h"
#include "engine_dns.h"
#include "engine_mgmt.h"
#include "engine_redirect.h"
#include "fdlimit.h"
#include "loopgroup.h"
#include "metrics.h"
#include "script.h"
#include "tcp.h"

enum {
	ENGINE_ERR_MAX = 1024,
};

static const struct devpath_handlers devpath_handlers; /* packets from the device, below */

static void console_open_cb(void *ctx, unsigned id)
{
	script_console_open(((struct engine *)ctx)->script, id);
}

static void console_close_cb(void *ctx, unsigned id)
{
	script_console_close(((struct engine *)ctx)->script, id);
}

static enum console_reply console_feed_cb(void *ctx, unsigned id, const char *line, size_t len,
					  char **text, size_t *text_len)
{
	return script_console_feed(((struct engine *)ctx)->script, id, line, len, text, text_len);
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct engine *e = w->data;

	(void)revents;
	log_info(&e->log, "engine", "received SIG%s, shutting down", sigabbrev_np(w->signum));
	notify_stopping(&e->notify);
	e->exit_signal = w->signum;
	ev_break(loop, EVBREAK_ALL);
}

static void on_sighup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct engine *e = w->data;
	char err[ENGINE_ERR_MAX];

	(void)loop;
	(void)revents;
	if (!e->cfg || e->stopping) {
		log_warnx(&e->log, "engine", "received SIGHUP during %s: ignored",
			  e->stopping ? "shutdown" : "start-up");
		return;
	}
	log_info(&e->log, "engine", "received SIGHUP, reloading %s", e->config_path);
	if (engine_reload(e, err, sizeof(err)) < 0)
		log_error(&e->log, "config", "reload failed, keeping the running configuration: %s",
			  err);
}

/* STATUS= for the service manager: the clients connected now. */
static void notify_status_text(void *ctx, char *buf, size_t len)
{
	struct engine *e = ctx;
	size_t n = 0;

	if (!e->server) {
		struct session *s = e->client ? client_session(e->client) : NULL;

		snprintf(buf, len, "%s %s",
			 s && session_state(s) == SESSION_ACTIVE ? "connected to" : "connecting to",
			 e->client ? client_remote(e->client) : "nothing");
		return;
	}
	for (size_t i = 0; i < server_session_count(e->server); i++) {
		struct session *s = server_session(e->server, i);

		/* A refused client is "active" only to be told AUTH_FAILED: it has no address. */
		n += session_state(s) == SESSION_ACTIVE && session_address(s)[0];
	}
	snprintf(buf, len, "%zu client%s connected", n, n == 1 ? "" : "s");
}

static void signal_init(struct engine *e, ev_signal *w,
			void (*cb)(struct ev_loop *, ev_signal *, int), int signum)
{
	ev_signal_init(w, cb, signum);
	w->data = e;
}

struct engine *engine_new(const struct engine_options *opts, char *err, size_t errlen)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (!e || !(e->config_path = strdup(opts->config_path)))
		goto nomem;
	log_init(&e->log, opts->log_level_set ? opts->log_level : LOG_INFO, stderr);
	fdlimit_raise(&e->log, TCP_CONNS_MAX); /* before anything opens: the bounds need them */
	e->log_level_set = opts->log_level_set;
	e->cli_log_level = opts->log_level;
	e->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (!e->loop) {
		snprintf(err, errlen, "cannot create the event loop");
		goto fail;
	}
	ev_set_userdata(e->loop, e);
	notify_init(&e->notify, e->loop, &e->log, notify_status_text, e);
	e->script = script_new(e, opts->lua_root, err, errlen);
	if (!e->script)
		goto fail;
	e->crypto = crypto_new(err, errlen);
	if (!e->crypto)
		goto fail;
	if (devpath_init(&e->devpath, e->loop, &e->log, &devpath_handlers) < 0)
		goto nomem;
	e->devpath.h.ctx = e;
	e->console_handlers = (struct console_handlers){
		.open = console_open_cb,
		.feed = console_feed_cb,
		.close = console_close_cb,
		.banner = "moonvpn " MOONVPN_VERSION " console: help() lists the built-ins\n",
	};
	e->console = console_new(e->loop, &e->log, &e->console_handlers, e);
	if (!e->console)
		goto nomem;
	e->mgmt = engine_mgmt_new(e);
	if (!e->mgmt)
		goto nomem;
	e->metrics = metrics_new(e);
	if (!e->metrics)
		goto nomem;
	/* Caught from the start: a signal during start-up is handled once the loop runs
	 * (a SIGTERM then exits cleanly) instead of killing a half-started engine. */
	signal_init(e, &e->sig_int, on_stop_signal, SIGINT);
	signal_init(e, &e->sig_term, on_stop_signal, SIGTERM);
	signal_init(e, &e->sig_hup, on_sighup, SIGHUP);
	ev_signal_start(e->loop, &e->sig_int);
	ev_signal_start(e->loop, &e->sig_term);
	ev_signal_start(e->loop, &e->sig_hup);
	return e;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	engine_free(e);
	return NULL;
}

static void apply_log_level(struct engine *e, const struct config *cfg)
{
	e->log.level = e->log_level_set ? e->cli_log_level : cfg->log_level;
}

static void log_device(struct engine *e, const char *verb)
{
	const struct device_config *dc = device_config(e->device);
	char buf[IP_PREFIX_TEXT_MAX];

	log_info(&e->log, "device", "%s %s device %s, mtu %u", verb,
		 dc->type == DEVICE_TAP ? "tap" : "tun", device_name(e->device), dc->mtu);
	for (size_t i = 0; i < dc->n_addrs; i++)
		log_info(&e->log, "device", "address %s",
			 ip_prefix_format(&dc->addrs[i], buf, sizeof(buf)));
	for (size_t i = 0; i < dc->n_routes; i++)
		log_info(&e->log, "device", "route %s via %s",
			 ip_prefix_format(&dc->routes[i], buf, sizeof(buf)),
			 device_name(e->device));
}

/*
 * A client's packet is written on its worker's queue of the device: the
 * kernel sends the replies of a flow out of the queue its last packet was
 * written on (docs/workers.md), so they come back to that worker.
 */
static void on_client_packet(void *ctx, uint32_t peer_id, uint8_t *packet, size_t len)
{
	struct engine *e = ctx;
	uint32_t k = e->server ? server_worker_of(e->server, peer_id) : 0;

	devpath_deliver(engine_queues_path(&e->queues, &e->devpath, k), packet, len);
}

/* A packet from the device's queue goes to the client that owns its destination. */
static void from_device(struct engine *e, uint32_t queue, uint8_t *buf, size_t len)
{
	if (e->server)
		server_route_from_device(e->server, queue, buf, len);
	else if (e->client)
		client_send_from_device(e->client, buf, len);
}

static void superpacket_from_device(struct engine *e, uint32_t queue, const struct vnet_hdr *h,
				    const uint8_t *pkt, size_t len)
{
	if (e->server)
		server_route_superpacket(e->server, queue, h, pkt, len);
	else if (e->client)
		client_send_superpacket(e->client, h, pkt, len);
}

static void on_device_packet(void *ctx, uint8_t *buf, size_t len)
{
	from_device(ctx, 0, buf, len);
}

static void on_device_superpacket(void *ctx, const struct vnet_hdr *h, const uint8_t *pkt,
				  size_t len)
{
	superpacket_from_device(ctx, 0, h, pkt, len);
}

static const struct devpath_handlers devpath_handlers = {
	.packet = on_device_packet,
	.superpacket = on_device_superpacket,
};

/* The same for the device's other queues (engine_queues.h). */
static void on_queue_packet(void *ctx, uint8_t *buf, size_t len)
{
	const struct engine_queue_ctx *q = ctx;

	from_device(q->owner, q->queue, buf, len);
}

static void on_queue_superpacket(void *ctx, const struct vnet_hdr *h, const uint8_t *pkt,
				 size_t len)
{
	const struct engine_queue_ctx *q = ctx;

	superpacket_from_device(q->owner, q->queue, h, pkt, len);
}

static const struct devpath_handlers queue_handlers = {
	.packet = on_queue_packet,
	.superpacket = on_queue_superpacket,
};

/* The device leaves the data path (what it holds is written first), then closes. */
static void release_device(struct engine *e)
{
	engine_queues_close(&e->queues);
	if (devpath_attach(&e->devpath, NULL, false) < 0)
		log_error(&e->log, "device", "out of memory"); /* detaching never allocates */
	device_free(e->device);
	e->device = NULL;
}

/*
 * With workers, the device's queues (docs/workers.md), for the current
 * device, queue k on worker k's loop: opened once for it. 0, or -errno with
 * err set.
 */
static int open_queues(struct engine *e, const struct config *cfg, char *err, size_t errlen)
{
	struct devpath_handlers h = queue_handlers;
	struct ev_loop *loops[LOOP_GROUP_MAX];
	unsigned n = e->group && e->device && device_config(e->device)->multi_queue
			     ? loop_group_size(e->group)
			     : 0;

	for (unsigned k = 0; k < n; k++)
		loops[k] = loop_group_loop(e->group, k);
	h.ctx = e;
	return engine_queues_open(&e->queues, e->device, n, loops, &e->log, &h,
				  cfg->offload.coalesce, err, errlen);
}

/*
 * With workers the device's own queue is detached: its packets go to the
 * workers' queues, and the engine's devpath (on the main loop) reads
 * nothing. 0, or -errno with err set.
 */
static int detach_first_queue(struct engine *e, char *err, size_t errlen)
{
	int rc = device_detach_first_queue(e->device);

	if (rc == -EINVAL)
		return 0; /* detached already: the device was watched before a reload */
	if (rc < 0)
		snprintf(err, errlen, "cannot detach the device's first queue: %s", strerror(-rc));
	return rc;
}

/* Reads and writes the current device (after it was opened or recreated). */
static void watch_device(struct engine *e, const struct config *cfg)
{
	char err[ENGINE_ERR_MAX];

	if (!e->group && devpath_attach(&e->devpath, e->device, cfg->offload.coalesce) < 0)
		log_error(&e->log, "device",
			  "out of memory for the coalescing buffers: "
			  "the device is not read");
	if (!e->device)
		return;
	if (open_queues(e, cfg, err, sizeof(err)) < 0 ||
	    (e->group && detach_first_queue(e, err, sizeof(err)) < 0))
		log_error(&e->log, "device",
			  "%s: the device's packets are not read; restart moonvpn", err);
	if (e->server && device_config(e->device)->type == DEVICE_TAP) {
		uint8_t mac[6];
		int rc = device_mac(e->device, mac);

		if (rc == 0)
			server_set_device_mac(e->server, mac);
		else
			log_error(&e->log, "device", "cannot read %s's Ethernet address: %s",
				  device_name(e->device), strerror(-rc));
	}
}

static bool on_client_decided(void *ctx, struct session *s, struct session_push *push,
			      const char *reason)
{
	struct engine *e = ctx;

	if (push && engine_mgmt_hold(e->mgmt, s, push))
		return true; /* management_client_auth: the management client decides */
	if (push) {
		bool admitted = server_admit(e->server, s, push);

		if (admitted) {
			notify_status_changed(&e->notify);
			metrics_admitted(e->metrics, s);
		}
		return admitted;
	}
	metrics_refused(e->metrics, s);
	session_refuse(s, reason);
	return false;
}

/* A subnet behind a client: routed into the device while the client is connected. */
static bool on_client_subnet(void *ctx, const struct ip_prefix *prefix, bool add)
{
	struct engine *e = ctx;
	char err[ENGINE_ERR_MAX], text[IP_PREFIX_TEXT_MAX];
	int rc;

	if (!e->device)
		return false;
	rc = device_route_change(e->device, prefix, add, err, sizeof(err));
	if (rc < 0)
		log_warnx(&e->log, "device", "%s", err);
	else if (rc == 1)
		log_debug(&e->log, "device", "%s is routed through %s already (configured routes)",
			  ip_prefix_format(prefix, text, sizeof(text)), device_name(e->device));
	else
		log_info(&e->log, "device", "%s route to %s (a subnet behind a client)",
			 add ? "added the" : "removed the",
			 ip_prefix_format(prefix, text, sizeof(text)));
	return rc == 0;
}

static void on_flow_decided(void *ctx, const struct flow_key *key, bool ok,
			    enum policy_verdict verdict, double lifetime)
{
	struct engine *e = ctx;

	if (e->server)
		server_flow_decided(e->server, key, ok, verdict, lifetime);
}

/* A new flow no rule decided: on.flow is asked, in a hook of its own. */
static void on_client_flow(void *ctx, struct session *s, const struct flow_key *key,
			   const struct packet_flow *flow)
{
	struct engine *e = ctx;

	script_flow(e->script, s, key, flow, on_flow_decided, e);
}

static void on_client_connect(void *ctx, struct session *s)
{
	engine_mgmt_connect(((struct engine *)ctx)->mgmt, s);
	script_client_connect(((struct engine *)ctx)->script, s, on_client_decided, ctx);
}

/* A renegotiation: the management client decides on it when it does client auth. */
static bool on_client_reauth(void *ctx, struct session *s, uint8_t key_id, const char *password)
{
	return engine_mgmt_reauth(((struct engine *)ctx)->mgmt, s, key_id, password);
}

/* A storm of handshakes is over: the admissions' Lua garbage goes before the heap is trimmed. */
static void on_server_quiet(void *ctx)
{
	script_collect(((struct engine *)ctx)->script);
}

static void on_client_cr_response(void *ctx, struct session *s, const char *response)
{
	if (engine_mgmt_cr_response(((struct engine *)ctx)->mgmt, s, response))
		return;
	script_client_cr_response(((struct engine *)ctx)->script, s, response);
}

static void on_key_decided(void *ctx, struct session *s, bool ok, const char *reason)
{
	struct engine *e = ctx;

	if (e->server)
		server_tls_crypt_v2_decided(e->server, s, ok, reason);
}

/* A tls-crypt-v2 client's key, before its TLS handshake: on.tls_crypt_v2 is asked, if set. */
static bool on_client_tls_crypt_v2(void *ctx, struct session *s)
{
	struct engine *e = ctx;

	if (!script_has_key_hook(e->script))
		return false;
	script_tls_crypt_v2(e->script, s, on_key_decided, e);
	return true;
}

static void on_client_ended(void *ctx, struct session *s, const char *reason)
{
	struct engine *e = ctx;
	char who[UDP_ADDR_TEXT_MAX];
	const char *cn = session_cn(s);

	udp_addr_format(session_peer(s), who, sizeof(who));
	/* One never admitted may be anyone on the network, ending sessions as often as it
	 * likes (a refusal has its own line, never rate-limited, for tools like fail2ban). */
	if (session_address(s)[0])
		log_info(&e->log, "session", "%s%s%s%s: session ended: %s", who, cn[0] ? " (" : "",
			 cn, cn[0] ? ")" : "", reason);
	else
		log_ratelimited(&e->log, LOG_INFO, "session", "%s: session ended: %s", who, reason);
	engine_mgmt_ended(e->mgmt, s, reason);
	metrics_session_ended(e->metrics, s, reason);
	script_client_disconnect(e->script, s, reason);
	notify_status_changed(&e->notify);
}

/* "udp://A:P tcp://B:Q" (as config.lua normalizes `listen`): a UDP and a TCP endpoint. */
static int parse_listen(const char *text, struct server_params *sp, char *err, size_t errlen)
{
	char copy[512], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", text);
	for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		struct udp_addr a;

		if (udp_parse_endpoint_of(&a, t, "udp")) {
			sp->listen = a;
			sp->udp = true;
		} else if (udp_parse_endpoint_of(&a, t, "tcp")) {
			sp->listen_tcp = a;
			sp->tcp = true;
		} else {
			snprintf(err, errlen, "listen: %s is not an endpoint", t);
			return -1;
		}
	}
	return 0;
}

/* auth.token into the engine's tokens: the secret file's key, or a random one. */
static int apply_tokens(struct engine *e, const struct config *cfg, const struct credentials *cr)
{
	struct authtoken_limits lim = { cfg->token_renew, cfg->token_lifetime };

	if (tokens_configure(&e->tokens, cr->has_token_key ? &cr->token_key : NULL,
			     cfg->token ? &lim : NULL) < 0) {
		log_error(&e->log, "config", "auth.token: cannot make a random key");
		return -EIO;
	}
	return 0;
}

/* The server's settings from cfg, for a new server or a reload (server_reconfigure). */
static int server_params_of(struct engine *e, const struct config *cfg, struct credentials *cr,
			    struct server_params *sp, char *err, size_t errlen)
{
	*sp = (struct server_params){
		.max_clients = cfg->max_clients,
		.workers = cfg->workers,
		.group = e->group,
		.wrap = &cr->wrap,
		.tls = cr->tls,
		.ciphers = (const char *const *)cfg->ciphers,
		.n_ciphers = cfg->n_ciphers,
		.ping_interval = cfg->keepalive_interval,
		/* As 2.6's server: ping-restart twice what the clients are told. */
		.ping_timeout = 2 * cfg->keepalive_timeout,
		.client_to_client = cfg->client_to_client,
		.tap = cfg->device.type == DEVICE_TAP,
		.device_mtu = cfg->device.mtu,
		.udp_gso = cfg->offload.gso,
		.udp_gro = cfg->offload.gro,
		.mssfix = cfg->mssfix,
		.reneg_seconds = cfg->reneg_seconds,
		.reneg_bytes = cfg->reneg_bytes,
		.tokens = &e->tokens,
		.hooks = { .connect = on_client_connect,
			   .ended = on_client_ended,
			   .deliver = on_client_packet,
			   .subnet = on_client_subnet,
			   .flow = on_client_flow,
			   .cr_response = on_client_cr_response,
			   .tls_crypt_v2 = on_client_tls_crypt_v2,
			   .reauth = on_client_reauth,
			   .quiet = on_server_quiet,
			   .ctx = e },
		.filter = { cfg->flow_max, cfg->flow_idle, cfg->flow_pending, cfg->flow_fallback },
	};
	if (parse_listen(cfg->listen, sp, err, errlen) < 0)
		return -EINVAL;
	/* Our own VPN addresses, the source of the policy's ICMP answers. */
	if (!ip_prefix_host(&sp->gateway4, &cfg->network, 1) ||
	    (cfg->has_network6 && !ip_prefix_host(&sp->gateway6, &cfg->network6, 1)))
		memset(&sp->gateway4, 0, sizeof(sp->gateway4));
	return 0;
}

static int open_server(struct engine *e, const struct config *cfg, struct credentials *cr,
		       struct server **out, char *err, size_t errlen)
{
	struct server_params sp;

	if (server_params_of(e, cfg, cr, &sp, err, errlen) < 0)
		return -EINVAL;
	return server_open(out, e->loop, &e->log, e->crypto, &sp, err, errlen);
}

static void on_server_packet(void *ctx, uint8_t *packet, size_t len)
{
	on_client_packet(ctx, 0, packet, len); /* client mode: one queue */
}

/*
 * What the client's own configuration makes of a push: route-nopull drops the
 * pushed routes, redirect-gateway and DNS (the options OpenVPN's route-nopull
 * keeps out: OPT_P_ROUTE and OPT_P_DHCPDNS in options.c), and a
 * redirect-gateway of its own (a .ovpn profile's) applies when the server
 * pushes none.
 */
static void own_push(const struct config *cfg, const struct push_options *o,
		     struct push_options *out)
{
	*out = *o;
	if (cfg->route_nopull) {
		out->n_routes = 0;
		out->redirect = 0;
		out->n_dns = 0;
		out->domain[0] = '\0';
	}
	if (!out->redirect && cfg->redirect_gateway)
		out->redirect = cfg->redirect_gateway;
}

/* Client mode: an attempt is about to reach addr; with redirect-gateway on, it stays outside. */
static void on_connecting(void *ctx, const struct udp_addr *addr)
{
	engine_redirect_keep(ctx, addr);
}

/* Client mode: the server's push becomes the device's addresses, routes and MTU. */
static int on_pushed(void *ctx, const struct push_options *pushed)
{
	struct engine *e = ctx;
	char err[ENGINE_ERR_MAX];
	struct push_options own, *o = &own;

	own_push(e->cfg, pushed, &own);
	engine_outside_begin(e);
	bool redirect = engine_redirect_begin(e, o);
	struct ip_prefix routes[PUSHDEV_OWN_ROUTES_MAX];
	size_t n_routes = e->cfg->n_routes < PUSHDEV_CLIENT_ROUTES_MAX ? e->cfg->n_routes
								       : PUSHDEV_CLIENT_ROUTES_MAX;

	memcpy(routes, e->cfg->routes, n_routes * sizeof(routes[0]));
	if (redirect)
		n_routes += engine_redirect_block_local(e, o, routes + n_routes,
							PUSHDEV_OWN_ROUTES_MAX - n_routes);
	pushed_device_config(&e->pushed, &e->cfg->device, o, redirect, routes, n_routes);
	if (device_reconfigure(e->device, &e->pushed.cfg, err, sizeof(err)) < 0) {
		log_error(&e->log, "device", "cannot apply what the server pushed: %s", err);
		return -1;
	}
	if (!redirect)
		engine_redirect_end(e); /* an earlier push's, if any: its routes went above */
	log_device(e, "configured by the server:");
	engine_dns_up(e, o, redirect);
	notify_ready(&e->notify); /* a client serves once its tunnel is up */
	return 0;
}

/* What a client opens with: its parameters, and the pull-filter text they point into. */
struct client_setup {
	struct client_params cp;
	struct client_remote remotes[CLIENT_REMOTES_MAX];
	char hosts[CLIENT_REMOTES_MAX][NAMERES_HOST_MAX]; /* the client copies them */
	char filter[PUSH_FILTER_MAX];
};

/*
 * The client parameters of cfg, and every refusal of a configuration that
 * passed validation (auth.ask without a terminal, a remote): checked before
 * anything changes, so that a reload refused here keeps the running client.
 */
static int client_setup(struct engine *e, const struct config *cfg, struct credentials *cr,
			struct client_setup *cs, char *err, size_t errlen)
{
	struct client_params *cp = &cs->cp;
	size_t off = 0;

	*cp = (struct client_params){
		.wrap = &cr->wrap,
		.wkc = cr->wkc,
		.wkc_len = cr->wkc_len,
		.tls = cr->tls,
		.ciphers = (const char *const *)cfg->ciphers,
		.n_ciphers = cfg->n_ciphers,
		.reneg_seconds = cfg->reneg_seconds,
		.reneg_bytes = cfg->reneg_bytes,
		.reconnect_initial = cfg->reconnect_initial,
		.reconnect_max = cfg->reconnect_max,
		.tun_mtu = cfg->device.mtu,
		.udp_gso = cfg->offload.gso,
		.udp_gro = cfg->offload.gro,
		.mssfix = cfg->mssfix,
		.tap = cfg->device.type == DEVICE_TAP,
		.tls_auth = cfg->tls_auth_key != NULL,
		.tls_auth_direction = cfg->tls_auth_direction,
		.username = cr->username,
		.password = cr->password,
		.hooks = { on_pushed, on_server_packet, e, .connecting = on_connecting },
		.pull_filter = cs->filter,
		.framing = cfg->client_framing,
	};
	cs->filter[0] = '\0';
	for (size_t i = 0; i < cfg->n_pull_filter && off < sizeof(cs->filter); i++)
		off += (size_t)snprintf(cs->filter + off, sizeof(cs->filter) - off, "%s\n",
					cfg->pull_filter[i]);
	if (off >= sizeof(cs->filter)) {
		snprintf(err, errlen, "pull_filter: its rules take more than %d bytes",
			 PUSH_FILTER_MAX - 1);
		return -EINVAL;
	}
	if (engine_auth_params(e, cfg, cp, err, errlen) < 0)
		return -EINVAL;
	cp->remotes = cs->remotes;
	for (size_t i = 0; i < cfg->n_remotes && i < CLIENT_REMOTES_MAX; i++) {
		if (!client_remote_parse(&cs->remotes[i], cfg->remotes[i], cs->hosts[i],
					 sizeof(cs->hosts[i]))) {
			snprintf(err, errlen, "remote: %s is not a udp:// or tcp:// endpoint",
				 cfg->remotes[i]);
			return -EINVAL;
		}
		cp->n_remotes++;
	}
	return 0;
}

static int open_client(struct engine *e, const struct config *cfg, struct credentials *cr,
		       struct client **out, char *err, size_t errlen)
{
	struct client_setup cs;

	if (client_setup(e, cfg, cr, &cs, err, errlen) < 0)
		return -EINVAL;
	return client_open(out, e->loop, &e->log, e->crypto, &cs.cp, err, errlen);
}

/* One line at start: which rungs of the fast data path are on (docs/datapath.md). */
static void log_data_path(struct engine *e, const struct config *cfg, const struct udpio_caps *udp)
{
	unsigned tun = e->device ? device_offload(e->device) : 0;
	char segs[32] = "";

	if (udp && udp->gso)
		snprintf(segs, sizeof(segs), " (up to %u segments)", udp->gso_max_segs);
	log_info(&e->log, "datapath", "device: %s%s%s%s; UDP: GSO %s%s, GRO %s",
		 tun ? "checksum offload" : "no offloads", tun & DEVICE_OFFLOAD_TSO4 ? ", TSO" : "",
		 tun & DEVICE_OFFLOAD_USO4 ? ", USO" : "",
		 tun && cfg->offload.coalesce ? ", coalescing" : "", udp && udp->gso ? "on" : "off",
		 segs, udp && udp->gro ? "on" : "off");
}

/* The server socket, or the client's link, of cfg. */
static int open_role(struct engine *e, const struct config *cfg, struct credentials *cr, char *err,
		     size_t errlen)
{
	int rc;

	if (cfg->role == CONFIG_CLIENT) {
		engine_redirect_clear_stale(e, cfg);
		if (cfg->device.name[0] && resolver_recover(cfg->device.name))
			log_info(&e->log, "dns",
				 "put /etc/resolv.conf back as it was before a previous run that "
				 "did not exit cleanly");
		rc = open_client(e, cfg, cr, &e->client, err, errlen);
		if (rc == 0)
			log_data_path(e, cfg, client_udp_caps(e->client));
		return rc;
	}
	/* A TCP connection for each client of max_clients: more than engine_new made room for. */
	if (strstr(cfg->listen, "tcp://") && cfg->max_clients + TCP_CONNS_SPARE > TCP_CONNS_MAX)
		fdlimit_raise(&e->log, cfg->max_clients + TCP_CONNS_SPARE);
	rc = open_server(e, cfg, cr, &e->server, err, errlen);
	if (rc < 0)
		return rc;
	/* What keeps state by peer-id besides the server: room for max_clients, once. */
	if (script_set_max_clients(e->script, cfg->max_clients) < 0 ||
	    engine_mgmt_set_max_clients(e->mgmt, cfg->max_clients) < 0 ||
	    metrics_set_max_clients(e->metrics, cfg->max_clients) < 0) {
		snprintf(err, errlen, "out of memory for the hooks of %u clients (max_clients)",
			 cfg->max_clients);
		return -ENOMEM;
	}
	log_info(&e->log, "server", "listening on %s%s%s", cfg->listen,
		 cfg->tls_crypt_key  ? " with tls-crypt"
		 : cfg->tls_auth_key ? " with tls-auth"
				     : "",
		 !cfg->tls_crypt_v2_key			   ? ""
		 : cfg->tls_crypt_key || cfg->tls_auth_key ? " and tls-crypt-v2"
							   : " with tls-crypt-v2");
	log_data_path(e, cfg, server_udp_caps(e->server));
	return 0;
}

/* Serves cfg's metrics (a new address: listened on first); says so when it changes. */
static int configure_metrics(struct engine *e, const struct config *cfg, char *err, size_t errlen)
{
	bool was = metrics_listen_address(e->metrics)[0] != '\0';
	int rc = metrics_configure(e->metrics, cfg, err, errlen);

	if (rc == 0 && cfg && cfg->metrics_listen &&
	    (!e->cfg || !e->cfg->metrics_listen ||
	     strcmp(e->cfg->metrics_listen, cfg->metrics_listen)))
		log_info(&e->log, "metrics", "serving http://%s/metrics", cfg->metrics_listen);
	else if (rc == 0 && was && !metrics_listen_address(e->metrics)[0])
		log_info(&e->log, "metrics", "no longer served");
	return rc;
}

/* Opens the device, console and server of cfg; on failure nothing stays open. */
static int open_resources(struct engine *e, const struct config *cfg)
{
	char err[ENGINE_ERR_MAX];
	int rc = device_open(&e->device, &cfg->device, err, sizeof(err));

	if (rc == 0 && (rc = open_queues(e, cfg, err, sizeof(err))) < 0)
		release_device(e);
	if (rc < 0) {
		log_error(&e->log, "engine", "%s", err); /* err names the device */
		return rc;
	}
	log_device(e, "created");
	if (cfg->console_path) {
		rc = console_listen(e->console, cfg->console_path, err, sizeof(err));
		if (rc < 0) {
			log_error(&e->log, "console", "%s", err);
			goto close_device;
		}
		log_info(&e->log, "console", "listening on %s", cfg->console_path);
	}
	rc = configure_metrics(e, cfg, err, sizeof(err));
	if (rc < 0) {
		log_error(&e->log, "engine", "%s", err);
		goto close_console;
	}
	rc = open_role(e, cfg, &e->credentials, err, sizeof(err));
	if (rc < 0) {
		log_error(&e->log, "engine", "%s", err);
		goto close_metrics;
	}
	return 0;
close_metrics:
	(void)!metrics_configure(e->metrics, NULL, err, sizeof(err));
close_console:
	if (console_listen(e->console, NULL, err, sizeof(err)) < 0)
		log_error(&e->log, "console", "%s", err);
close_device:
	release_device(e);
	return rc;
}

/*
 * The active configuration's policy goes to the server, and connected
 * clients' groups with it. -1 when it cannot be built (out of memory: the
 * configuration validated): the caller fails closed.
 */
static int apply_policy(struct engine *e)
{
	char err[ENGINE_ERR_MAX];
	struct policy *p;

	if (!e->server)
		return 0;
	p = script_policy(e->script, err, sizeof(err));
	if (!p) {
		log_error(&e->log, "policy", "cannot build the policy: %s", err);
		return -1;
	}
	server_set_policy(e->server, p, script_has_flow_hook(e->script));
	for (size_t i = 0; i < server_session_count(e->server); i++) {
		uint32_t id = session_peer_id(server_session(e->server, i));

		server_set_client_groups(e->server, id, script_client_groups(e->script, id));
	}
	log_info(&e->log, "policy", "%zu rules, default %s", policy_rule_count(p),
		 policy_verdict_name(policy_default(p)));
	policy_put(p);
	return 0;
}

/* The main loop parks the workers while it runs, and lets them run while it waits. */
static void on_loop_release(struct ev_loop *loop)
{
	struct engine *e = ev_userdata(loop);

	if (e->group)
		loop_group_unpark(e->group);
}

static void on_loop_acquire(struct ev_loop *loop)
{
	struct engine *e = ev_userdata(loop);

	if (e->group)
		loop_group_park(e->group);
}

/* A server with workers >= 2: their loops (docs/workers.md); the threads start last. */
static int start_workers(struct engine *e, const struct config *cfg)
{
	if (cfg->role != CONFIG_SERVER || cfg->workers < 2)
		return 0;
	e->group = loop_group_new(cfg->workers);
	if (!e->group) {
		log_error(&e->log, "engine", "cannot start %u workers: %s", cfg->workers,
			  strerror(errno));
		return -errno;
	}
	ev_set_loop_release_cb(e->loop, on_loop_release, on_loop_acquire);
	return 0;
}

int engine_start(struct engine *e)
{
	char err[ENGINE_ERR_MAX];
	struct config *cfg = NULL;
	int rc = script_load_config(e->script, e->config_path, &cfg, err, sizeof(err));

	if (rc < 0) {
		log_error(&e->log, "config", "%s", err);
		return rc;
	}
	apply_log_level(e, cfg);
	/* Certificates and keys are read and checked before anything is opened. */
	rc = credentials_load(&e->credentials, e->crypto, cfg, err, sizeof(err));
	if (rc < 0) {
		log_error(&e->log, "config", "%s", err);
		config_free(cfg);
		return rc;
	}
	rc = apply_tokens(e, cfg, &e->credentials);
	if (rc == 0)
		rc = start_workers(e, cfg);
	if (rc == 0)
		rc = open_resources(e, cfg);
	if (rc < 0) {
		credentials_clear(&e->credentials);
		config_free(cfg);
		return rc;
	}
	script_commit_config(e->script);
	e->cfg = cfg;
	if (apply_policy(e) < 0)
		return -ENOMEM; /* no policy is not "accept everything" */
	rc = engine_mgmt_apply(e->mgmt, cfg, err, sizeof(err));
	if (rc < 0) {
		log_error(&e->log, "mgmt", "%s", err);
		return rc;
	}
	watch_device(e, cfg);
	/* Last: everything that needs root is open, and no hook has run yet. */
	rc = privdrop_apply(&e->priv, cfg, &e->log, err, sizeof(err));
	if (rc < 0) {
		log_error(&e->log, "engine", "%s", err);
		return rc;
	}
	/* After the privileges went: a thread keeps the capabilities it started with. */
	if (e->group && (rc = loop_group_start(e->group)) < 0) {
		log_error(&e->log, "engine", "cannot start the workers' threads: %s",
			  strerror(-rc));
		return rc;
	}
	e->started_at = ev_now(e->loop);
	log_info(&e->log, "engine", "moonvpn %s started with %s (pid %ld)", MOONVPN_VERSION,
		 e->config_path, (long)getpid());
	if (e->server)
		notify_ready(&e->notify);
	return 0;
}

int engine_run(struct engine *e)
{
	ev_run(e->loop, 0);
	return e->exit_status;
}

/* True when the device for cfg cannot have the running device's name. */
static bool can_coexist(const struct device *dev, const struct device_config *cfg)
{
	return !cfg->name[0] || strcmp(cfg->name, device_name(dev)) != 0;
}

/* Reopens the running configuration's device after a failed replacement. */
static void restore_device(struct engine *e)
{
	char again[ENGINE_ERR_MAX];

	release_device(e);
	if (device_open(&e->device, &e->cfg->device, again, sizeof(again)) < 0) {
		e->device = NULL;
		log_error(&e->log, "engine", "cannot restore the previous device either: %s",
			  again);
		return;
	}
	log_device(e, "restored");
}

/*
 * Replaces the device by one for cfg. When both can exist at once the new
 * one is opened first (without routes, which the old one still holds), so
 * that most failures leave the running device untouched; then the old one
 * goes and the routes move over. With the same name (a new type) the old
 * one must go first. A failure after the old device is gone reopens it.
 */
static int recreate_device(struct engine *e, const struct config *cfg, char *err, size_t errlen)
{
	struct device_config no_routes = cfg->device;
	struct device *fresh = NULL;
	int rc;

	no_routes.n_routes = 0;
	if (e->device && can_coexist(e->device, &cfg->device)) {
		rc = device_open(&fresh, &no_routes, err, errlen);
		if (rc < 0)
			return rc;
	}
	release_device(e);
	e->device = fresh;
	rc = fresh ? device_reconfigure(fresh, &cfg->device, err, errlen)
		   : device_open(&e->device, &cfg->device, err, errlen);
	if (rc < 0) {
		restore_device(e);
		return rc;
	}
	log_device(e, "recreated");
	return 0;
}

static int apply_device(struct engine *e, const struct config *cfg, char *err, size_t errlen)
{
	char undo[ENGINE_ERR_MAX];
	int rc;

	if (!e->device || device_needs_recreate(e->device, &cfg->device))
		return recreate_device(e, cfg, err, errlen);
	rc = device_reconfigure(e->device, &cfg->device, err, errlen);
	if (rc == 0) {
		log_device(e, "reconfigured");
		return 0;
	}
	if (device_reconfigure(e->device, &e->cfg->device, undo, sizeof(undo)) < 0)
		log_error(&e->log, "device", "cannot restore the previous settings: %s", undo);
	return rc;
}

/*
 * Client mode: a reload starts a new connection with the new settings.
 * reload's check_client has already refused what client_setup can refuse;
 * past it only memory can fail, and then the running configuration's client
 * is opened again, so the engine never goes on without one.
 */
static int reconnect_client(struct engine *e, const struct config *cfg, struct credentials *cr,
			    char *err, size_t errlen)
{
	struct client_setup cs;
	char again[ENGINE_ERR_MAX];
	int rc = client_setup(e, cfg, cr, &cs, err, errlen);

	if (rc < 0)
		return rc;
	client_free(e->client);
	e->client = NULL;
	/* The remotes may change: no redirect until the new connection's push pins them. */
	if (e->pins.n) {
		struct push_options none;

		push_options_init(&none);
		pushed_device_config(&e->pushed, &e->cfg->device, &none, false, NULL, 0);
		if (device_reconfigure(e->device, &e->pushed.cfg, again, sizeof(again)) < 0)
			log_warnx(&e->log, "device", "%s", again);
		engine_redirect_end(e);
	}
	engine_outside_end(e); /* routes_outside may change too: the next push pins them */
	rc = client_open(&e->client, e->loop, &e->log, e->crypto, &cs.cp, err, errlen);
	if (rc < 0 && open_client(e, e->cfg, &e->credentials, &e->client, again, sizeof(again)) < 0)
		log_error(&e->log, "client",
			  "cannot reconnect with the previous configuration either: %s", again);
	return rc;
}

/*
 * Moves the server to cfg's listen address (new socket first, old one freed
 * after), or gives the running one the new keys and settings.
 */
static int apply_server(struct engine *e, const struct config *cfg, struct credentials *cr,
			char *err, size_t errlen)
{
	struct server *fresh = NULL;
	int rc;

	if (cfg->role != e->cfg->role) {
		snprintf(err, errlen,
			 "a reload cannot switch between vpn.server and vpn.client: "
			 "restart moonvpn instead");
		return -EINVAL;
	}
	if (cfg->role == CONFIG_CLIENT)
		return reconnect_client(e, cfg, cr, err, errlen);
	if (strcmp(cfg->listen, e->cfg->listen) == 0) {
		struct server_params sp;

		if (server_params_of(e, cfg, cr, &sp, err, errlen) < 0)
			return -EINVAL;
		rc = server_reconfigure(e->server, &sp, err, errlen);
		if (rc < 0)
			return rc;
		server_set_credentials(e->server, &cr->wrap, cr->tls,
				       (const char *const *)cfg->ciphers, cfg->n_ciphers);
		return 0;
	}
	rc = open_server(e, cfg, cr, &fresh, err, errlen);
	if (rc < 0)
		return rc;
	server_free(e->server);
	e->server = fresh;
	log_info(&e->log, "server", "listening on %s", cfg->listen);
	return 0;
}

/*
 * Connected clients renegotiate with the reloaded credentials from now on,
 * and their certificates are verified against its CA and CRL at once: a
 * client revoked by the new CRL is ended (issue 11 item 3).
 */
static void recheck_clients(struct engine *e)
{
	/* By peer-id, not by server_session: a client the new CRL revokes may end in the call. */
	for (uint32_t id = 0; e->server && id < server_max_clients(e->server); id++) {
		struct session *s = server_find(e->server, id);

		if (s)
			session_set_tls(s, e->credentials.tls);
	}
}

static void restore_console(struct engine *e)
{
	char undo[ENGINE_ERR_MAX];

	if (console_listen(e->console, e->cfg->console_path, undo, sizeof(undo)) < 0)
		log_error(&e->log, "console", "cannot restore the previous console: %s", undo);
	if (metrics_configure(e->metrics, e->cfg, undo, sizeof(undo)) < 0)
		log_error(&e->log, "metrics", "cannot restore the previous listener: %s", undo);
}

/*
 * A client reload whose settings opening the client would refuse (review s3
 * M5): refused before the device, console or client change, so the running
 * client keeps its tunnel and the device its pushed addresses.
 */
static int check_client(struct engine *e, const struct config *cfg, struct credentials *cr,
			char *err, size_t errlen)
{
	struct client_setup cs;

	if (cfg->role != CONFIG_CLIENT || e->cfg->role != CONFIG_CLIENT)
		return 0; /* a switch of roles: apply_server refuses it */
	return client_setup(e, cfg, cr, &cs, err, errlen);
}

static int reload(struct engine *e, char *err, size_t errlen)
{
	struct config *cfg = NULL;
	struct credentials fresh;
	int rc = script_load_config(e->script, e->config_path, &cfg, err, errlen);

	if (rc < 0) {
		/* An unreadable file after the drop: say so, and how to fix it. */
		(void)!privdrop_check_readable(&e->priv, "the configuration file", e->config_path,
					       err, errlen);
		return rc;
	}
	rc = privdrop_check_reload(&e->priv, e->cfg, cfg,
				   !e->device || device_needs_recreate(e->device, &cfg->device),
				   err, errlen);
	if (rc == 0) /* a field the RELOAD table marks "restart": refused as a whole */
		rc = script_check_reload(e->script, err, errlen);
	if (rc < 0)
		goto fail;
	rc = credentials_reload(&fresh, e->crypto, cfg, err, errlen);
	if (rc < 0)
		goto fail;
	rc = check_client(e, cfg, &fresh, err, errlen);
	if (rc < 0)
		goto fail_credentials;
	rc = console_listen(e->console, cfg->console_path, err, errlen);
	if (rc < 0)
		goto fail_credentials;
	rc = configure_metrics(e, cfg, err, errlen);
	if (rc < 0) {
		restore_console(e);
		goto fail_credentials;
	}
	rc = apply_device(e, cfg, err, errlen);
	if (rc < 0) {
		watch_device(e, e->cfg); /* a device it restored is read again */
		restore_console(e);
		goto fail_credentials;
	}
	rc = apply_server(e, cfg, &fresh, err, errlen);
	if (rc < 0) {
		char undo[ENGINE_ERR_MAX];

		if (apply_device(e, e->cfg, undo, sizeof(undo)) < 0)
			log_error(&e->log, "engine", "cannot restore the previous device: %s",
				  undo);
		watch_device(e, e->cfg);
		restore_console(e);
		goto fail_credentials;
	}
	if (apply_tokens(e, cfg, &fresh) < 0)
		log_error(&e->log, "config", "the previous auth.token settings stay in force");
	credentials_clear(&e->credentials);
	e->credentials = fresh;
	recheck_clients(e);
	watch_device(e, cfg);
	script_commit_config(e->script);
	config_free(e->cfg);
	e->cfg = cfg;
	if (apply_policy(e) < 0)
		log_error(&e->log, "policy", "the previous policy stays in force");
	apply_log_level(e, cfg);
	if (engine_mgmt_apply(e->mgmt, cfg, err, errlen) < 0)
		log_error(&e->log, "mgmt", "the management interface stays as it was: %s", err);
	log_info(&e->log, "config", "reloaded %s", e->config_path);
	return 0;
fail_credentials:
	credentials_clear(&fresh);
fail:
	script_discard_config(e->script);
	config_free(cfg);
	return rc;
}

/* The service manager hears of every reload, from SIGHUP or the console, and its end. */
int engine_reload(struct engine *e, char *err, size_t errlen)
{
	char note[NOTIFY_NOTE_MAX];
	int rc;

	if (e->stopping) { /* the console or the management interface, during on.dns "down" */
		snprintf(err, errlen, "shutting down: nothing to reload");
		return -1;
	}
	notify_reloading(&e->notify);
	rc = reload(e, err, errlen);
	/* systemctl reload only sent the signal: systemctl status says how it went. */
	if (rc < 0)
		snprintf(note, sizeof(note),
			 "reload failed, running the previous configuration: %s", err);
	notify_note(&e->notify, rc < 0 ? note : NULL);
	notify_ready(&e->notify);
	return rc;
}

void engine_set_log_level(struct engine *e, enum log_level level)
{
	e->log.level = level;
	log_info(&e->log, "engine", "log level set to %s", log_level_name(level));
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	/*
	 * on.dns's "down" call below may wait (vpn.exec) and run the loop: the
	 * signals, the console, the management interface and the device stay
	 * live. So nothing reloads from now on, the pointers to what is freed
	 * are NULL (the callbacks test them), and the device is no longer read.
	 * The client goes first all the same: its EXIT reaches the server at
	 * once, past the tunnel's routes, not after a hook that may take seconds.
	 */
	e->stopping = true;
	server_free(e->server);
	e->server = NULL;
	client_free(e->client);
	e->client = NULL;
	engine_queues_close(&e->queues);
	if (e->device && devpath_attach(&e->devpath, NULL, false) < 0)
		log_error(&e->log, "device", "out of memory"); /* detaching never allocates */
	loop_group_free(e->group); /* nothing of theirs is on the workers' loops any more */
	e->group = NULL;
	engine_redirect_end(e);
	engine_dns_down(e); /* on.dns told while the device is there */
	engine_outside_end(e);
	engine_mgmt_free(e->mgmt);
	console_free(e->console);
	metrics_free(e->metrics);
	if (e->device) {
		log_info(&e->log, "device", "removing %s", device_name(e->device));
		release_device(e);
	}
	if (e->loop)
		devpath_free(&e->devpath);
	config_free(e->cfg);
	credentials_clear(&e->credentials);
	tokens_clear(&e->tokens);
	crypto_free(e->crypto);
	script_free(e->script);
	notify_deinit(&e->notify);
	if (e->loop)
		ev_loop_destroy(e->loop);
	free(e->config_path);
	free(e);
}
