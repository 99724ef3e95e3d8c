// SPDX-License-Identifier: MIT
/*
 * moonvpn.engine: the running engine as the console and scripts see it:
 * status(), config(), reload(), log_level(), set_log_level(). Values cross
 * as plain Lua tables; Lua never holds a pointer into the engine.
 */
#include <lauxlib.h>
#include <lua.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"
#include "lua_core.h"
#include "lua_peer.h"
#include "metrics.h"
#include "pushopts.h"
#include "script.h"
#include "slab.h"
#include "tlscryptv2.h"
#include "udp.h"

enum { LUA_ENGINE_ERR_MAX = 1024 };

/* The engine this VM belongs to; raises outside a running engine. May raise. */
static struct engine *check_engine(lua_State *L)
{
	struct engine *e = *(struct engine **)lua_getextraspace(L);

	if (!e || !e->cfg)
		luaL_error(L, "moonvpn.engine is only available inside a running engine");
	return e;
}

static void push_prefixes(lua_State *L, const struct ip_prefix *p, size_t n)
{
	char buf[IP_PREFIX_TEXT_MAX];

	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushstring(L, ip_prefix_format(&p[i], buf, sizeof(buf)));
		lua_rawseti(L, -2, (lua_Integer)(i + 1));
	}
}

static void push_device(lua_State *L, const struct device *dev)
{
	const struct device_config *dc = device_config(dev);

	lua_createtable(L, 0, 6);
	lua_pushstring(L, device_name(dev));
	lua_setfield(L, -2, "name");
	lua_pushstring(L, dc->type == DEVICE_TAP ? "tap" : "tun");
	lua_setfield(L, -2, "type");
	lua_pushinteger(L, dc->mtu);
	lua_setfield(L, -2, "mtu");
	lua_pushinteger(L, device_ifindex(dev));
	lua_setfield(L, -2, "ifindex");
	push_prefixes(L, dc->addrs, dc->n_addrs);
	lua_setfield(L, -2, "addresses");
	push_prefixes(L, dc->routes, dc->n_routes);
	lua_setfield(L, -2, "routes");
}

static void push_client(lua_State *L, const struct session *sess);
static void set_counter(lua_State *L, const char *name, uint64_t value);

/* Client mode: the link to the server, with the session's fields while there is one. */
static void push_link(lua_State *L, const struct client *c)
{
	const struct session *sess = client_session(c);
	const struct push_options *o = sess ? session_pushed(sess) : NULL;
	char buf[IP_PREFIX_TEXT_MAX];

	if (sess)
		push_client(L, sess);
	else
		lua_createtable(L, 0, 4);
	lua_pushstring(L, client_remote(c));
	lua_setfield(L, -2, "remote");
	if (!sess) {
		lua_pushliteral(L, "waiting to reconnect");
		lua_setfield(L, -2, "state");
	}
	set_counter(L, "attempts", client_attempts(c));
	set_counter(L, "connects", client_connects(c));
	lua_createtable(L, o ? (int)o->n_dns : 0, 0);
	for (size_t i = 0; o && i < o->n_dns; i++) {
		lua_pushstring(L, ip_addr_format(&o->dns[i], buf, sizeof(buf)));
		lua_rawseti(L, -2, (lua_Integer)(i + 1));
	}
	lua_setfield(L, -2, "dns");
}

/* status() -> { version, pid, uptime, config, log_level, device, console, console_clients } */
static int l_engine_status(lua_State *L)
{
	struct engine *e = check_engine(L);

	lua_createtable(L, 0, 8);
	lua_pushliteral(L, MOONVPN_VERSION);
	lua_setfield(L, -2, "version");
	lua_pushinteger(L, (lua_Integer)getpid());
	lua_setfield(L, -2, "pid");
	ev_now_update(e->loop);
	lua_pushinteger(L, (lua_Integer)(ev_now(e->loop) - e->started_at));
	lua_setfield(L, -2, "uptime");
	lua_pushstring(L, e->config_path);
	lua_setfield(L, -2, "config");
	lua_pushstring(L, log_level_name(e->log.level));
	lua_setfield(L, -2, "log_level");
	if (e->device) {
		push_device(L, e->device);
		lua_setfield(L, -2, "device");
	}
	if (console_path(e->console)) {
		lua_pushstring(L, console_path(e->console));
		lua_setfield(L, -2, "console");
	}
	lua_pushinteger(L, console_client_count(e->console));
	lua_setfield(L, -2, "console_clients");
	lua_pushstring(L, e->client ? "client" : "server");
	lua_setfield(L, -2, "role");
	if (e->client) {
		push_link(L, e->client);
		lua_setfield(L, -2, "link");
	}
	return 1;
}

static void set_counter(lua_State *L, const char *name, uint64_t value)
{
	lua_pushinteger(L, (lua_Integer)value);
	lua_setfield(L, -2, name);
}

#define STAT(field, name)                                  \
	{                                                  \
		name, offsetof(struct server_stats, field) \
	}

static const struct stat_field {
	const char *name;
	size_t offset;
} totals[] = {
	STAT(packets_in, "packets_in"),
	STAT(bytes_in, "bytes_in"),
	STAT(resets_answered, "resets_answered"),
	STAT(cookies_accepted, "cookies_accepted"),
	STAT(evicted_half_open, "evicted_half_open"),
	STAT(evicted_half_open_source, "evicted_half_open_source"),
	STAT(refused_half_open_source, "refused_half_open_source"),
	STAT(deferred_half_open, "deferred_half_open"),
	STAT(data_in, "data_in"),
	STAT(data_bytes_in, "data_bytes_in"),
	STAT(data_out, "data_out"),
	STAT(data_bytes_out, "data_bytes_out"),
	STAT(tcp_evicted_source, "tcp_evicted_source"),
	STAT(tcp_evicted, "tcp_evicted"),
	STAT(tcp_refused, "tcp_refused"),
	STAT(tcp_accept_paused, "tcp_accept_paused"),
	STAT(renegotiations, "renegotiations"),
	STAT(heap_trims, "heap_trims"),
}, drops[] = {
	STAT(dropped_unwrap, "unwrap"),
	STAT(refused_tls_crypt_v2, "tls_crypt_v2_refused"),
	STAT(dropped_malformed, "malformed"),
	STAT(dropped_no_session, "no_session"),
	STAT(dropped_full, "full"),
	STAT(dropped_reset_rate, "reset_rate"),
	STAT(dropped_data_auth, "authentication"),
	STAT(dropped_replay, "replay"),
	STAT(dropped_spoofed, "spoofed"),
	STAT(dropped_float, "float"),
	STAT(dropped_no_route, "no_route"),
	STAT(dropped_subnets, "subnets"),
	STAT(dropped_policy, "policy"),
	STAT(rejected_policy, "rejected"),
	STAT(dropped_unparsed, "unparsed"),
	STAT(dropped_pending, "pending"),
	STAT(dropped_mac_spoof, "mac_spoof"),
	STAT(dropped_flood, "flood"),
	STAT(dropped_too_big, "too_big"),
	STAT(dropped_compression, "compression"),
	STAT(dropped_tcp_queue, "tcp_queue"),
	STAT(dropped_device_malformed, "device_malformed"),
	STAT(dropped_to_main, "to_main"),
};

static void set_counters(lua_State *L, const struct server_stats *st,
			 const struct stat_field *fields, size_t n)
{
	lua_createtable(L, 0, (int)n);
	for (size_t i = 0; i < n; i++)
		set_counter(L, fields[i].name,
			    *(const uint64_t *)((const char *)st + fields[i].offset));
}

/* stats().flows: the flow tables and on.flow's questions, over the workers. */
static void push_flow_stats(lua_State *L, const struct server_flow_totals *f)
{
	lua_createtable(L, 0, 9);
	set_counter(L, "capacity", f->capacity); /* policy.flows, rounded up */
	set_counter(L, "cached", f->cached);
	set_counter(L, "inserted", f->inserted);
	set_counter(L, "evicted", f->evicted);
	set_counter(L, "expired", f->expired);
	set_counter(L, "full", f->full);
	set_counter(L, "asked", f->asked);
	set_counter(L, "overflow", f->overflow);
	set_counter(L, "over_share", f->over_share);
	lua_setfield(L, -2, "flows");
}

/* stats().datapath.device: reads, superpackets, writes, coalescing (devpath.h, vnet.h). */
static void push_device_stats(lua_State *L, const struct engine *e)
{
	const struct devpath *dp = engine_queues_first(&e->queues, &e->devpath);
	struct devpath_stats st;
	struct vnet_gro_stats g;

	engine_queues_stats(&e->queues, &e->devpath, &st, &g);
	lua_createtable(L, 0, 11);
	lua_pushboolean(L, dp->vnet);
	lua_setfield(L, -2, "offload");
	set_counter(L, "flags", dp->dev ? device_offload(dp->dev) : 0);
	set_counter(L, "queues", engine_queues_count(&e->queues, &e->devpath));
	set_counter(L, "reads", st.reads);
	set_counter(L, "superpackets", st.superpackets);
	set_counter(L, "writes", st.writes);
	set_counter(L, "write_errors", st.write_errors);
	set_counter(L, "malformed", st.dropped_malformed);
	set_counter(L, "coalesced_writes", g.groups);
	set_counter(L, "coalesced_segments", g.coalesced);
	lua_setfield(L, -2, "device");
}

/* stats().datapath.udp: system calls and what they carried (udpio.h); absent without UDP. */
static void push_udp_stats(lua_State *L, const struct udpio_caps *caps,
			   const struct udpio_rx_stats *r, const struct udpio_tx_stats *t)
{
	if (!caps || !r || !t)
		return;
	lua_createtable(L, 0, 12);
	lua_pushboolean(L, caps->gso && !t->gso_disabled);
	lua_setfield(L, -2, "gso");
	lua_pushboolean(L, caps->gro);
	lua_setfield(L, -2, "gro");
	set_counter(L, "receive_calls", r->recvmmsg_calls);
	set_counter(L, "datagrams_in", r->datagrams_in);
	set_counter(L, "gro_buffers", r->gro_buffers);
	set_counter(L, "send_calls", t->sendmmsg_calls);
	set_counter(L, "datagrams_out", t->datagrams_out);
	set_counter(L, "gso_messages", t->gso_messages);
	set_counter(L, "dropped_busy", t->drop_busy);
	set_counter(L, "dropped_error", t->drop_error);
	set_counter(L, "gso_too_big", t->gso_too_big);
	lua_setfield(L, -2, "udp");
}

/* stats().datapath: what the fast path does (docs/datapath.md), to see at once whether it is on. */
static void push_datapath_stats(lua_State *L, struct engine *e)
{
	struct udpio_rx_stats rx;
	struct udpio_tx_stats tx;

	lua_createtable(L, 0, 2);
	push_device_stats(L, e);
	if (e->server)
		push_udp_stats(L, server_udp_caps(e->server),
			       server_udp_rx_stats(e->server, &rx) ? &rx : NULL,
			       server_udp_tx_stats(e->server, &tx) ? &tx : NULL);
	else if (e->client && client_udp_rx(e->client) && client_udp_tx(e->client))
		push_udp_stats(L, client_udp_caps(e->client),
			       udpio_rx_stats(client_udp_rx(e->client)),
			       udpio_tx_stats(client_udp_tx(e->client)));
	lua_setfield(L, -2, "datapath");
}

/*
 * stats().heap: the allocator's own count (glibc), in bytes: what is
 * allocated (in_use), free inside the heap (free: fragmentation once a
 * storm is over and the heap trimmed) and mapped apart (mapped, large
 * blocks). Resident memory minus in_use is what fragmentation and the
 * allocator cost; absent without glibc.
 */
static void push_heap_stats(lua_State *L)
{
#ifdef __GLIBC__
	struct mallinfo2 m = mallinfo2();

	struct slab_stats sl;

	slab_stats(&sl);
	lua_createtable(L, 0, 5);
	set_counter(L, "in_use", m.uordblks + m.hblkhd);
	set_counter(L, "free", m.fordblks);
	set_counter(L, "mapped", m.hblkhd);
	set_counter(L, "handshakes_in_use", sl.in_use);
	set_counter(L, "handshakes_resident", sl.resident);
	lua_setfield(L, -2, "heap");
#else
	(void)L;
#endif
}

/* stats().workers: each data-path worker's peers, what its UDP socket received, what it handed on.
 */
static void push_worker_stats(lua_State *L, const struct server *s)
{
	struct server_worker_stats w;
	uint32_t n = server_workers(s);

	lua_createtable(L, (int)n, 0);
	for (uint32_t k = 0; k < n; k++) {
		server_worker_stats(s, k, &w);
		lua_createtable(L, 0, 5);
		set_counter(L, "peers", w.peers);
		set_counter(L, "datagrams_in", w.datagrams_in);
		set_counter(L, "data_in", w.data_in);
		set_counter(L, "handoffs", w.handoffs);
		set_counter(L, "to_main", w.to_main);
		lua_rawseti(L, -2, (lua_Integer)k + 1);
	}
	lua_setfield(L, -2, "workers");
}

/* stats() -> { packets_in, bytes_in, ..., dropped = { unwrap, malformed, ... } } */
static int l_engine_stats(lua_State *L)
{
	struct engine *e = check_engine(L);
	struct server_stats sum = { 0 }; /* neither: on.dns's "down" call at exit */
	const struct server_stats *st = e->client ? client_stats(e->client) : &sum;

	if (e->server)
		server_stats(e->server, &sum);

	set_counters(L, st, totals, sizeof(totals) / sizeof(totals[0]));
	set_counters(L, st, drops, sizeof(drops) / sizeof(drops[0]));
	lua_setfield(L, -2, "dropped");
	if (e->server) {
		struct server_flow_totals flows;

		server_flow_totals(e->server, &flows);
		push_flow_stats(L, &flows);
		push_worker_stats(L, e->server);
	}
	push_datapath_stats(L, e);
	push_heap_stats(L);
	return 1;
}

static void push_client(lua_State *L, const struct session *sess)
{
	char peer[UDP_ADDR_TEXT_MAX];

	lua_createtable(L, 0, 15);
	lua_pushstring(L, session_cn(sess));
	lua_setfield(L, -2, "cn");
	lua_pushstring(L, session_username(sess));
	lua_setfield(L, -2, "username");
	lua_pushstring(L, udp_addr_format(session_peer(sess), peer, sizeof(peer)));
	lua_setfield(L, -2, "real_address");
	lua_pushstring(L, session_address(sess));
	lua_setfield(L, -2, "vpn_address");
	lua_pushstring(L, session_cipher(sess));
	lua_setfield(L, -2, "cipher");
	lua_pushstring(L, session_epoch_data(sess) ? "epoch" : "2.6");
	lua_setfield(L, -2, "data_format");
	lua_pushstring(L, session_state_name(session_state(sess)));
	lua_setfield(L, -2, "state");
	lua_pushinteger(L, (lua_Integer)session_connected_at(sess));
	lua_setfield(L, -2, "connected_since");
	lua_pushinteger(L, session_peer_id(sess));
	lua_setfield(L, -2, "peer_id");
	if (session_tls_crypt_v2(sess)) {
		char id[TLSCRYPTV2_ID_TEXT_LEN + 1];

		tlscryptv2_id_format(session_tls_crypt_v2(sess)->id, id);
		lua_pushstring(L, id);
		lua_setfield(L, -2, "tls_crypt_v2_id");
	}
	lua_peer_push_software(L, sess);
	lua_setfield(L, -2, "software");
	const struct dchan_counters *c = session_counters(sess);
	set_counter(L, "packets_in", c->packets_in);
	set_counter(L, "bytes_in", c->bytes_in);
	set_counter(L, "packets_out", c->packets_out);
	set_counter(L, "bytes_out", c->bytes_out);
}

/*
 * clients() -> list of { cn, username, real_address, vpn_address, cipher, data_format, state,
 * connected_since, peer_id, software, counters }
 */
static int l_engine_clients(lua_State *L)
{
	struct engine *e = check_engine(L);
	size_t n = e->server ? server_session_count(e->server) : 0;

	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		push_client(L, server_session(e->server, i));
		set_counter(L, "flows_over_share",
			    server_client_over_share(
				    e->server, session_peer_id(server_session(e->server, i))));
		lua_rawseti(L, -2, (lua_Integer)(i + 1));
	}
	return 1;
}

/* log(level, message): one log line from the operator's Lua ("lua" subsystem). */
static int l_engine_log(lua_State *L)
{
	struct engine *e = *(struct engine **)lua_getextraspace(L);
	const char *name = luaL_checkstring(L, 1);
	const char *msg = luaL_checkstring(L, 2);
	enum log_level level;

	if (!log_level_parse(name, &level))
		return luaL_argerror(L, 1, "expected error, warn, info, debug or trace");
	if (e)
		log_write(&e->log, level, "lua", "%s", msg);
	else
		fprintf(stderr, "%s\n", msg);
	return 0;
}

/* kick(peer_id, reason, reconnect) -> true | false (no such client) */
static int l_engine_kick(lua_State *L)
{
	struct engine *e = check_engine(L);
	lua_Integer id = luaL_checkinteger(L, 1);
	const char *reason = luaL_optstring(L, 2, "");
	struct session *sess = e->server && id >= 0 && id < server_max_clients(e->server)
				       ? server_find(e->server, (uint32_t)id)
				       : NULL;

	if (sess) {
		char clean[SESSION_REASON_MAX];
		size_t j = 0;

		/* The reason travels in a control message: printable, no commas. */
		for (const char *p = reason; *p && j + 1 < sizeof(clean); p++)
			clean[j++] = (*p < 0x20 || *p > 0x7e || *p == ',') ? ' ' : *p;
		clean[j] = '\0';
		session_kick(sess, clean, lua_toboolean(L, 3));
	}
	lua_pushboolean(L, sess != NULL);
	return 1;
}

/*
 * auth_pending(peer_id, info, timeout) -> true | false: tells a client whose
 * admission waits to wait up to timeout seconds, and what to do meanwhile
 * (info: OpenVPN's INFO_PRE payload, e.g. "WEB_AUTH::https://..."). False
 * when no such client is being decided, or info is too long.
 */
static int l_engine_auth_pending(lua_State *L)
{
	struct engine *e = check_engine(L);
	lua_Integer id = luaL_checkinteger(L, 1);
	const char *info = luaL_checkstring(L, 2);
	lua_Integer timeout = luaL_checkinteger(L, 3);
	struct session *sess = e->server && id >= 0 && id < server_max_clients(e->server)
				       ? server_find(e->server, (uint32_t)id)
				       : NULL;

	bool pending;

	luaL_argcheck(L, timeout > 0 && timeout <= 86400, 3, "expected 1 to 86400 seconds");
	pending = sess && session_auth_pending(sess, info, (unsigned)timeout);
	if (pending)
		metrics_auth(e->metrics, METRICS_AUTH_PENDING);
	lua_pushboolean(L, pending);
	return 1;
}

/* clock() -> seconds on the monotonic clock hooks are timed with */
static int l_engine_clock(lua_State *L)
{
	lua_pushnumber(L, lua_core_monotonic());
	return 1;
}

/*
 * hook_observe(name, seconds, failed): one hook function's call, timed by
 * moonvpn.clients (on.auth and on.connect run in one hook call), for the
 * metrics. The names are bounded there (METRICS_HOOKS_MAX).
 */
static int l_engine_hook_observe(lua_State *L)
{
	struct engine *e = check_engine(L);
	const char *name = luaL_checkstring(L, 1);
	lua_Number seconds = luaL_checknumber(L, 2);

	metrics_hook_observe(e->metrics, name, seconds, lua_toboolean(L, 3));
	return 0;
}

/* policy_counters() -> { default = "accept", rules = { { packets =, bytes = }, ... } } */
static int l_engine_policy_counters(lua_State *L)
{
	struct engine *e = check_engine(L);
	const struct policy *p = e->server ? server_policy(e->server) : NULL;
	size_t n = p ? policy_rule_count(p) : 0;

	lua_createtable(L, 0, 2);
	lua_pushstring(L, p ? policy_verdict_name(policy_default(p)) : "accept");
	lua_setfield(L, -2, "default");
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_createtable(L, 0, 2);
		set_counter(L, "packets", policy_counter(p, i)->packets);
		set_counter(L, "bytes", policy_counter(p, i)->bytes);
		lua_rawseti(L, -2, (lua_Integer)(i + 1));
	}
	lua_setfield(L, -2, "rules");
	return 1;
}

enum { FLOWS_SHOWN_MAX = 1000 };

static void push_flow_entry(lua_State *L, const struct flow_entry *fe, double now)
{
	const char *proto = packet_proto_name(fe->key.proto);
	struct ip_addr a = { fe->key.family == 4 ? AF_INET : AF_INET6, { 0 } };
	char text[IP_PREFIX_TEXT_MAX];

	lua_createtable(L, 0, 12);
	lua_pushinteger(L, fe->key.peer_id);
	lua_setfield(L, -2, "peer_id");
	lua_pushstring(L, fe->key.direction == POLICY_IN ? "in" : "out");
	lua_setfield(L, -2, "direction");
	if (fe->key.ethertype) {
		lua_pushinteger(L, fe->key.ethertype);
		lua_setfield(L, -2, "ethertype");
	}
	if (fe->key.family) {
		if (proto)
			lua_pushstring(L, proto);
		else
			lua_pushinteger(L, fe->key.proto);
		lua_setfield(L, -2, "proto");
		memcpy(a.bytes, fe->key.src, sizeof(a.bytes));
		lua_pushstring(L, ip_addr_format(&a, text, sizeof(text)));
		lua_setfield(L, -2, "src");
		memcpy(a.bytes, fe->key.dst, sizeof(a.bytes));
		lua_pushstring(L, ip_addr_format(&a, text, sizeof(text)));
		lua_setfield(L, -2, "dst");
	}
	if (fe->key.proto == 6 || fe->key.proto == 17) {
		lua_pushinteger(L, fe->key.sport);
		lua_setfield(L, -2, "sport");
		lua_pushinteger(L, fe->key.dport);
		lua_setfield(L, -2, "dport");
	}
	lua_pushstring(L, fe->state == FLOW_PENDING ? "pending" : policy_verdict_name(fe->verdict));
	lua_setfield(L, -2, "verdict");
	set_counter(L, "packets", fe->packets);
	set_counter(L, "bytes", fe->bytes);
	lua_pushnumber(L, now - fe->last_seen);
	lua_setfield(L, -2, "idle");
}

/* Adds table t's flows to top (n of max so far, most packets first); how many it holds now. */
static size_t top_flows(const struct flow_table *t, double now, const struct flow_entry **top,
			size_t n, size_t max)
{
	for (size_t i = 0; i < t->cap; i++) {
		const struct flow_entry *fe = flow_table_at(t, i, now);
		size_t j;

		if (!fe || (n == max && fe->packets <= top[n - 1]->packets))
			continue;
		j = n < max ? n++ : n - 1; /* insertion into the sorted top list */
		while (j > 0 && top[j - 1]->packets < fe->packets) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = fe;
	}
	return n;
}

/* flows([n]) -> the n (default 20) flows with the most packets, most first (every worker's) */
static int l_engine_flows(lua_State *L)
{
	struct engine *e = check_engine(L);
	lua_Integer want = luaL_optinteger(L, 1, 20);
	uint32_t tables = e->server ? server_flow_tables(e->server) : 0;
	const struct flow_entry *top[FLOWS_SHOWN_MAX];
	double now = ev_now(e->loop);
	size_t n = 0, max = want < 1 ? 1 : want > FLOWS_SHOWN_MAX ? FLOWS_SHOWN_MAX : (size_t)want;

	for (uint32_t k = 0; k < tables; k++)
		n = top_flows(server_flows(e->server, k), now, top, n, max);
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		push_flow_entry(L, top[i], now);
		lua_rawseti(L, -2, (lua_Integer)(i + 1));
	}
	return 1;
}

/* flow_hook_changed(on): the active server's on.flow changed (ignored for any other table). */
static int l_engine_flow_hook_changed(lua_State *L)
{
	struct engine *e = *(struct engine **)lua_getextraspace(L);
	bool active;

	if (!e || !e->server)
		return 0;
	lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ACTIVE_OBJECT);
	active = lua_istable(L, -1) && lua_getfield(L, -1, "on") == LUA_TTABLE &&
		 lua_rawequal(L, -1, 1);
	if (active) {
		server_set_flow_hook(e->server, script_has_flow_hook(e->script));
		log_info(&e->log, "policy", "on.flow %s: cached verdicts flushed",
			 script_has_flow_hook(e->script) ? "replaced" : "removed");
	}
	return 0;
}

/* server_object() -> the object vpn.server returned in the active configuration, or nil */
static int l_engine_server_object(lua_State *L)
{
	check_engine(L);
	lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ACTIVE_OBJECT);
	return 1;
}

/* config() -> the active configuration table (a copy is not needed: it is data) */
static int l_engine_config(lua_State *L)
{
	check_engine(L);
	lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ACTIVE_CONFIG);
	return 1;
}

/* reload() -> true | nil, message */
static int l_engine_reload(lua_State *L)
{
	struct engine *e = check_engine(L);
	char err[LUA_ENGINE_ERR_MAX];

	if (e->script && script_in_hook(e->script))
		return luaL_error(
			L, "reload() cannot run inside a hook (it would end the sessions the "
			   "hook runs for); call it from the console, or send SIGHUP");
	log_info(&e->log, "engine", "reload requested from the console");
	if (engine_reload(e, err, sizeof(err)) < 0) {
		log_error(&e->log, "config", "reload failed, keeping the running configuration: %s",
			  err);
		luaL_pushfail(L);
		lua_pushstring(L, err);
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* log_level() -> "info" */
static int l_engine_log_level(lua_State *L)
{
	struct engine *e = check_engine(L);

	lua_pushstring(L, log_level_name(e->log.level));
	return 1;
}

/* set_log_level(name) -> true | nil, message */
static int l_engine_set_log_level(lua_State *L)
{
	struct engine *e = check_engine(L);
	const char *name = luaL_checkstring(L, 1);
	enum log_level level;

	if (!log_level_parse(name, &level)) {
		luaL_pushfail(L);
		lua_pushfstring(
			L, "unknown log level \"%s\" (expected error, warn, info, debug or trace)",
			name);
		return 2;
	}
	engine_set_log_level(e, level);
	lua_pushboolean(L, 1);
	return 1;
}

static const luaL_Reg engine_funcs[] = {
	{ "status", l_engine_status },
	{ "stats", l_engine_stats },
	{ "clients", l_engine_clients },
	{ "kick", l_engine_kick },
	{ "auth_pending", l_engine_auth_pending },
	{ "policy_counters", l_engine_policy_counters },
	{ "clock", l_engine_clock },
	{ "hook_observe", l_engine_hook_observe },
	{ "flow_hook_changed", l_engine_flow_hook_changed },
	{ "flows", l_engine_flows },
	{ "server_object", l_engine_server_object },
	{ "log", l_engine_log },
	{ "config", l_engine_config },
	{ "reload", l_engine_reload },
	{ "log_level", l_engine_log_level },
	{ "set_log_level", l_engine_set_log_level },
	{ NULL, NULL },
};

int luaopen_moonvpn_engine(lua_State *L)
{
	luaL_checkversion(L);
	luaL_newlib(L, engine_funcs);
	return 1;
}
