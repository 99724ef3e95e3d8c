// SPDX-License-Identifier: MIT
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compframe.h"
#include "engine.h"
#include "lua_authwait.h"
#include "lua_config.h"
#include "lua_core.h"
#include "lua_dns.h"
#include "lua_hook.h"
#include "lua_peer.h"
#include "lua_policy.h"
#include "lua_sandbox.h"
#include "metrics.h"
#include "script.h"
#include "tlscryptv2.h"
#include "udp.h"

enum {
	/* The VM as a whole may not grow past this: a console client hoarding data or a
	 * runaway configuration gets "not enough memory" instead of the host's memory. */
	SCRIPT_MEMORY_MAX_BYTES = 512 * 1024 * 1024,
	/* On top of the cap while no budget runs, i.e. while the engine, not Lua
	 * code, allocates: its unprotected pushes (a client's info, a call's
	 * function, an error message) cannot fail, however full Lua code left the VM. */
	SCRIPT_MEMORY_RESERVE_BYTES = 4 * 1024 * 1024,
};

/*
 * Every call from the engine into Lua outside a hook (the engine's modules:
 * moonvpn.clients.ended/groups/revoke, the policy, the console) runs under
 * an instruction budget and a deadline, as hooks do. Those modules are
 * plain Lua in the VM a configuration and its hooks share: a hook can reach
 * what they call (a client object's fields, _G.pairs, string.format,
 * require "moonvpn.clients" itself), so instead of freezing every module
 * against every change, what the engine runs is bounded, wherever it
 * leads. A call stopped by a limit is logged and fails closed as any
 * failed call does (no groups, no reply, a refused reload). Lua the engine
 * reaches from C reads tables raw (no metamethod runs outside these calls).
 */
struct call_limits {
	lua_Integer instructions;
	double seconds;
};

/* The engine's own bookkeeping: a few thousand instructions; a large policy far less than this. */
static const struct call_limits ENGINE_CALL = { 100 * 1000 * 1000, 2.0 };
/* A configuration load or a console line: each has a budget of its own inside (5 s, 50,000,000
 * instructions); this bounds what runs around it. */
static const struct call_limits OUTER_CALL = { 1000 * 1000 * 1000, 30.0 };

#define REG_REQUIRE	   "moonvpn.require"
#define REG_PENDING_OBJECT "moonvpn.config.pending_object"
#define REG_ACTIVE_OBJECT  SCRIPT_REG_ACTIVE_OBJECT

/* A call being started: running now, so it cannot be cancelled, only disowned. */
#define HOOK_STARTING ((struct hook_call *)1)

/* A client's auth/connect hooks in flight. */
struct admission {
	struct script *script;
	struct session *sess;
	struct hook_call *call; /* NULL once decided */
	script_decided_fn decided;
	void *ctx;
};

/* A new flow's on.flow in flight. */
struct flow_question {
	struct script *script;
	struct flow_question *prev, *next;
	/* The same peer-id's others (script.questions_by_peer): a session's are withdrawn
	 * without walking everyone's. */
	struct flow_question *peer_prev, *peer_next;
	uint32_t peer_id;
	struct session *sess;
	struct hook_call *call; /* NULL once answered */
	struct flow_key key;
	script_flow_fn done;
	void *ctx;
};

/* A tls-crypt-v2 client's on.tls_crypt_v2 in flight. */
struct key_check {
	struct session *sess;	/* NULL once answered or withdrawn */
	struct hook_call *call; /* NULL once answered */
	script_key_fn done;
	void *ctx;
};

struct script {
	lua_State *L;
	struct engine *engine;
	size_t memory_used;
	const struct lua_core_budget *budget;	  /* active: Lua code runs, the reserve is closed */
	struct hook_runtime *hooks;		  /* NULL without an engine (--check) */
	unsigned generation;			  /* of the configuration being loaded */
	uint32_t max_clients;			  /* the server's; 0 until script_set_max_clients */
	struct admission *admissions;		  /* by peer-id */
	struct flow_question *questions;	  /* on.flow calls in flight */
	struct flow_question **questions_by_peer; /* the same, by peer-id */
	struct key_check *key_checks;		  /* by peer-id */
	struct auth_question *auth_question;	  /* the client's auth.ask call in flight */
	struct dns_call *dns_call;		  /* the client's on.dns call in flight */
};

/* lua_Alloc with a cap (style guide section 1.7). */
static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct script *s = ud;
	size_t old = ptr ? osize : 0;
	size_t cap = SCRIPT_MEMORY_MAX_BYTES;
	void *p;

	if (nsize == 0) {
		free(ptr);
		s->memory_used -= old;
		return NULL;
	}
	if (!s->budget || !s->budget->active)
		cap += SCRIPT_MEMORY_RESERVE_BYTES;
	if (nsize > old && s->memory_used - old + nsize > cap)
		return NULL;
	p = realloc(ptr, nsize);
	if (p)
		s->memory_used = s->memory_used - old + nsize;
	return p;
}

/*
 * An error outside any protected call: Lua aborts the process when this
 * returns. Says why first (the reserve above should leave none to say).
 */
static int panic(lua_State *L)
{
	struct engine *engine = *(struct engine **)lua_getextraspace(L);
	const char *msg = lua_tostring(L, -1);

	if (engine)
		log_error(&engine->log, "script",
			  "Lua error outside a protected call, aborting: %s",
			  msg ? msg : "(not a string)");
	else
		fprintf(stderr, "moonvpn: Lua error outside a protected call, aborting: %s\n",
			msg ? msg : "(not a string)");
	return 0;
}

/* Message handler for every pcall into Lua: the message plus a traceback. */
static int msghandler(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	if (!msg)
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	luaL_traceback(L, L, msg, 1);
	return 1;
}

static void preload(lua_State *L, const char *name, lua_CFunction open)
{
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE); /* +1 */
	lua_pushcfunction(L, open);
	lua_setfield(L, -2, name);
	lua_pop(L, 1);
}

static void set_paths(lua_State *L, const char *root)
{
	lua_getglobal(L, "package");
	lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s/plugins/?.lua", root, root, root);
	lua_setfield(L, -2, "path");
	/* The engine's C modules are preloaded; no other native code is loaded (the
	 * sandbox removed the C searchers). */
	lua_pushliteral(L, "");
	lua_setfield(L, -2, "cpath");
	lua_pop(L, 1);
}

/* Each hook call's time goes to the metrics (the engine makes them after its VM). */
static void on_hook_finished(void *ctx, const char *name, double seconds, bool failed)
{
	struct engine *e = ctx;

	if (e->metrics)
		metrics_hook_observe(e->metrics, name, seconds, failed);
}

struct script *script_new(struct engine *engine, const char *root, char *err, size_t errlen)
{
	struct script *s = calloc(1, sizeof(*s));

	if (!s || !(s->L = lua_newstate(capped_alloc, s))) {
		snprintf(err, errlen, "out of memory creating the Lua state");
		free(s);
		return NULL;
	}
	s->engine = engine;
	*(struct engine **)lua_getextraspace(s->L) = engine;
	lua_atpanic(s->L, panic);
	luaL_openlibs(s->L);
	lua_sandbox_apply(s->L); /* no os.exit, os.execute, io.popen, ... */
	if (engine) {
		lua_pushboolean(s->L, 1);
		lua_setfield(s->L, LUA_REGISTRYINDEX, LUA_CORE_ENGINE_RUNS);
	}
	preload(s->L, "moonvpn.core", luaopen_moonvpn_core);
	preload(s->L, "moonvpn.engine", luaopen_moonvpn_engine);
	preload(s->L, "moonvpn.hook", luaopen_moonvpn_hook);
	set_paths(s->L, root);
	/* The engine's own calls use this require, whatever a console user does to _G. */
	lua_getglobal(s->L, "require");
	lua_setfield(s->L, LUA_REGISTRYINDEX, REG_REQUIRE);
	lua_core_install_budget_hook(s->L);
	s->budget = lua_core_budget_state(s->L);
	if (engine && !(s->hooks = hook_runtime_new(s->L, engine->loop, &engine->log))) {
		snprintf(err, errlen, "out of memory creating the hook runtime");
		script_free(s);
		return NULL;
	}
	if (s->hooks)
		hook_runtime_set_observer(s->hooks, on_hook_finished, engine);
	return s;
}

void script_free(struct script *s)
{
	if (!s)
		return;
	hook_runtime_free(s->hooks); /* cancels every call: no question is answered after */
	free(s->auth_question);
	free(s->dns_call);
	while (s->questions) {
		struct flow_question *q = s->questions;

		s->questions = q->next;
		free(q);
	}
	lua_close(s->L);
	free(s->admissions);
	free(s->key_checks);
	free(s->questions_by_peer);
	free(s);
}

int script_set_max_clients(struct script *s, uint32_t max_clients)
{
	if (s->max_clients)
		return s->max_clients == max_clients ? 0 : -EBUSY; /* hooks point into them */
	s->admissions = calloc(max_clients, sizeof(*s->admissions));
	s->key_checks = calloc(max_clients, sizeof(*s->key_checks));
	s->questions_by_peer =
		s->questions ? NULL : calloc(max_clients, sizeof(*s->questions_by_peer));
	if (!s->admissions || !s->key_checks || !s->questions_by_peer) {
		free(s->admissions);
		free(s->key_checks);
		free(s->questions_by_peer);
		s->admissions = NULL;
		s->key_checks = NULL;
		s->questions_by_peer = NULL;
		return -ENOMEM;
	}
	s->max_clients = max_clients;
	return 0;
}

static void set_int(lua_State *L, const char *name, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, name);
}

static void set_str(lua_State *L, const char *name, const char *v)
{
	lua_pushstring(L, v);
	lua_setfield(L, -2, name);
}

/* Something to build on the stack (one value) in protected mode: out of memory raises. */
struct build {
	void (*fn)(lua_State *L, const void *a, const void *b);
	const void *a, *b;
};

static int build_protected(lua_State *L)
{
	const struct build *b = lua_touserdata(L, 1);

	b->fn(L, b->a, b->b);
	return 1;
}

/* Pushes what fn builds, or returns false with the error message on the stack instead. */
static bool push_built(lua_State *L, void (*fn)(lua_State *L, const void *a, const void *b),
		       const void *a, const void *b)
{
	struct build bd = { fn, a, b };

	lua_pushcfunction(L, build_protected);
	lua_pushlightuserdata(L, &bd);
	return lua_pcall(L, 1, 1, 0) == LUA_OK;
}

/*
 * lua_pcall under lim: a call a limit stopped fails (its message names the
 * limit, and what was called) and is logged. Returns lua_pcall's status.
 */
static int call_budgeted(struct script *s, int nargs, int nres, int base, const char *what,
			 const struct call_limits *lim)
{
	lua_State *L = s->L;
	struct lua_core_budget saved;
	lua_Integer left;
	enum lua_core_stop stop;
	int status;

	lua_core_budget_enter(L, lim->instructions, lim->instructions,
			      lua_core_monotonic() + lim->seconds, &saved);
	status = lua_pcall(L, nargs, nres, base);
	stop = lua_core_budget_leave(L, &saved, &left);
	lua_core_install_budget_hook(L); /* a stop made the hook fire on every instruction */
	if (stop == LUA_CORE_RAN)
		return status;
	if (status == LUA_OK)
		lua_pop(L, nres == LUA_MULTRET ? 0 : nres);
	else
		lua_pop(L, 1);
	lua_pushfstring(
		L, "%s stopped after %s (a hook or the configuration changed what it runs?)", what,
		stop == LUA_CORE_LATE ? lua_pushfstring(L, "%f s", lim->seconds)
				      : lua_pushfstring(L, "%I instructions", lim->instructions));
	lua_remove(L, -2);
	if (s->engine)
		log_error(&s->engine->log, "script", "%s", lua_tostring(L, -1));
	return status == LUA_OK ? LUA_ERRRUN : status;
}

/*
 * Pushes require(module)[fn] under a message handler; returns the handler's
 * index, or its negation with the error message on top.
 */
static int push_call(struct script *s, const char *module, const char *fn)
{
	lua_State *L = s->L;
	int base;

	lua_pushcfunction(L, msghandler);
	base = lua_gettop(L);
	lua_getfield(L, LUA_REGISTRYINDEX, REG_REQUIRE);
	lua_pushstring(L, module);
	if (call_budgeted(s, 1, 1, base, module, &ENGINE_CALL) != LUA_OK)
		return -base; /* the message is on top */
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		lua_pushfstring(L, "require \"%s\" is not the engine's module (a table)", module);
		return -base;
	}
	lua_pushstring(L, fn);
	lua_rawget(L, -2);
	lua_remove(L, -2);
	return base;
}

/*
 * Pushes on[name], a hook, without running Lua: raw, else raw from a table
 * __index (the hooks table of moonvpn/init.lua keeps them there); an
 * __index function is not called.
 */
static int hook_field(lua_State *L, int idx, const char *name)
{
	int t;

	idx = lua_absindex(L, idx);
	t = lua_core_raw_field(L, idx, name);
	if (t != LUA_TNIL || !lua_istable(L, idx) || !lua_getmetatable(L, idx))
		return t;
	lua_core_raw_field(L, -1, "__index");
	t = lua_core_raw_field(L, -1, name);
	lua_replace(L, -4);
	lua_pop(L, 2);
	return t;
}

static void copy_error(lua_State *L, char *err, size_t errlen)
{
	const char *msg = lua_tostring(L, -1);

	snprintf(err, errlen, "%s", msg ? msg : "unknown error");
}

struct config_read {
	struct config *cfg;
	char *err;
	size_t errlen;
	int rc;
};

/* Reads the table at index 1 under pcall: out of memory raises instead of aborting. */
static int read_config_protected(lua_State *L)
{
	struct config_read *r = lua_touserdata(L, 2);

	r->rc = lua_config_read(L, 1, &r->cfg, r->err, r->errlen);
	return 0;
}

static int read_config(lua_State *L, int idx, struct config **out, char *err, size_t errlen)
{
	struct config_read r = { NULL, err, errlen, -EINVAL };

	lua_pushcfunction(L, read_config_protected);
	lua_pushvalue(L, idx < 0 ? idx - 1 : idx);
	lua_pushlightuserdata(L, &r);
	if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
		copy_error(L, err, errlen);
		lua_pop(L, 1);
		config_free(r.cfg);
		return -ENOMEM;
	}
	*out = r.cfg;
	return r.rc;
}

int script_load_config(struct script *s, const char *path, struct config **out, char *err,
		       size_t errlen)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	int base = push_call(s, "moonvpn.config", "load");
	int rc = -EINVAL;

	if (s->hooks)
		s->generation = hook_generation_open(s->hooks);
	if (base < 0) {
		copy_error(L, err, errlen);
		goto out;
	}
	lua_pushstring(L, path);
	if (call_budgeted(s, 1, 2, base, "moonvpn.config.load", &OUTER_CALL) != LUA_OK) {
		copy_error(L, err, errlen);
		goto out;
	}
	if (lua_isnil(L, -2)) {
		copy_error(L, err, errlen);
		goto out;
	}
	rc = read_config(L, -2, out, err, errlen);
	if (rc == 0) {
		lua_pushvalue(L, -2);
		lua_setfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_PENDING_CONFIG);
		lua_core_raw_field(L, -1, "object"); /* the object vpn.server returned */
		lua_setfield(L, LUA_REGISTRYINDEX, REG_PENDING_OBJECT);
	}
out:
	lua_settop(L, top);
	if (rc < 0 && s->hooks)
		hook_generation_abandon(s->hooks, s->generation);
	return rc;
}

int script_check_reload(struct script *s, char *err, size_t errlen)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	int base = push_call(s, "moonvpn.config", "reload_refusal");
	int rc = -EINVAL;

	if (base < 0) {
		copy_error(L, err, errlen);
		goto out;
	}
	lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ACTIVE_CONFIG);
	lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_PENDING_CONFIG);
	if (!lua_istable(L, -1) || !lua_istable(L, -2)) {
		snprintf(err, errlen, "internal error: no configuration to compare on reload");
		goto out;
	}
	if (call_budgeted(s, 2, 1, base, "moonvpn.config.reload_refusal", &ENGINE_CALL) != LUA_OK) {
		copy_error(L, err, errlen);
		goto out;
	}
	rc = 0;
	if (lua_isstring(L, -1)) {
		copy_error(L, err, errlen);
		rc = -EPERM;
	}
out:
	lua_settop(L, top);
	return rc;
}

static void move_field(lua_State *L, const char *from, const char *to)
{
	lua_getfield(L, LUA_REGISTRYINDEX, from);
	lua_setfield(L, LUA_REGISTRYINDEX, to);
	lua_pushnil(L);
	lua_setfield(L, LUA_REGISTRYINDEX, from);
}

/* Reads cfg.hooks into the runtime's limits. */
static void apply_hook_limits(struct script *s)
{
	lua_State *L = s->L;
	struct hook_limits limits = { HOOK_TIMEOUT_DEFAULT_SECONDS, HOOK_INSTRUCTIONS_DEFAULT };

	lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ACTIVE_CONFIG);
	if (lua_core_raw_field(L, -1, "hooks") == LUA_TTABLE) {
		lua_core_raw_field(L, -1, "timeout");
		lua_core_raw_field(L, -2, "instructions");
		if (lua_isnumber(L, -2))
			limits.timeout = lua_tonumber(L, -2);
		if (lua_isinteger(L, -1))
			limits.instructions = lua_tointeger(L, -1);
		lua_pop(L, 2);
	}
	lua_pop(L, 2);
	hook_runtime_set_limits(s->hooks, &limits);
}

void script_commit_config(struct script *s)
{
	move_field(s->L, SCRIPT_REG_PENDING_CONFIG, SCRIPT_REG_ACTIVE_CONFIG);
	move_field(s->L, REG_PENDING_OBJECT, REG_ACTIVE_OBJECT);
	if (s->hooks) {
		hook_generation_commit(s->hooks, s->generation);
		apply_hook_limits(s);
	}
}

struct policy *script_policy(struct script *s, char *err, size_t errlen)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	int base = push_call(s, "moonvpn.policy", "prepare");
	struct policy *p = NULL;

	if (base < 0) {
		copy_error(L, err, errlen);
		goto out;
	}
	lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ACTIVE_CONFIG);
	lua_core_raw_field(L, -1, "policy");
	lua_remove(L, -2);
	if (call_budgeted(s, 1, 1, base, "moonvpn.policy.prepare", &ENGINE_CALL) != LUA_OK) {
		copy_error(L, err, errlen);
		goto out;
	}
	p = lua_policy_read(L, -1, err, errlen);
	if (p) { /* in force now: new clients' groups follow it */
		int activate = push_call(s, "moonvpn.policy", "activate");

		if (activate > 0) {
			lua_pushvalue(L, activate - 1); /* the prepared policy */
			activate = call_budgeted(s, 1, 0, activate, "moonvpn.policy.activate",
						 &ENGINE_CALL) == LUA_OK
					   ? activate
					   : -activate;
		}
		if (activate < 0) {
			copy_error(L, err, errlen);
			policy_put(p);
			p = NULL;
		}
	}
out:
	lua_settop(L, top);
	return p;
}

uint64_t script_client_groups(struct script *s, uint32_t peer_id)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	int base = push_call(s, "moonvpn.clients", "groups");
	uint64_t groups = 0;

	if (base > 0) {
		lua_pushinteger(L, peer_id);
		if (call_budgeted(s, 1, 1, base, "moonvpn.clients.groups", &ENGINE_CALL) == LUA_OK)
			groups = (uint64_t)lua_tointeger(L, -1);
	}
	lua_settop(L, top);
	return groups;
}

static void set_bool(lua_State *L, const char *name, bool v)
{
	lua_pushboolean(L, v);
	lua_setfield(L, -2, name);
}

/* "02:00:5e:10:00:01" */
static void set_mac(lua_State *L, const char *name, const uint8_t *mac)
{
	char text[18];

	snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	lua_pushstring(L, text); /* lua_pushfstring knows no %02x */
	lua_setfield(L, -2, name);
}

/*
 * The flow table on.flow gets: direction, and for IP proto, src, dst, sport,
 * dport, icmp_type; in TAP mode also ethertype, src_mac and dst_mac.
 */
static void push_flow(lua_State *L, const struct flow_key *key, const struct packet_flow *f)
{
	const char *proto = packet_proto_name(f->proto);
	char text[IP_PREFIX_TEXT_MAX];

	lua_createtable(L, 0, 11);
	set_str(L, "direction", key->direction == POLICY_IN ? "in" : "out");
	if (key->ethertype) {
		set_int(L, "ethertype", key->ethertype);
		set_mac(L, "src_mac", key->src_mac);
		set_mac(L, "dst_mac", key->dst_mac);
	}
	if (!key->family)
		return; /* not IP */
	if (proto)
		set_str(L, "proto", proto);
	else
		set_int(L, "proto", f->proto);
	set_str(L, "src", ip_addr_format(&f->src, text, sizeof(text)));
	set_str(L, "dst", ip_addr_format(&f->dst, text, sizeof(text)));
	if (f->proto == 6 || f->proto == 17) {
		set_int(L, "sport", f->sport);
		set_int(L, "dport", f->dport);
	}
	if (f->icmp_type >= 0)
		set_int(L, "icmp_type", f->icmp_type);
	set_bool(L, "fragment", !f->has_ports);
}

static void build_flow(lua_State *L, const void *key, const void *flow)
{
	push_flow(L, key, flow);
}

/* The head of q's peer's list, or NULL before script_set_max_clients. */
static struct flow_question **peer_questions(struct script *s, uint32_t peer_id)
{
	return s->questions_by_peer && peer_id < s->max_clients ? &s->questions_by_peer[peer_id]
								: NULL;
}

static void link_question(struct script *s, struct flow_question *q)
{
	struct flow_question **first = peer_questions(s, q->peer_id);

	q->next = s->questions;
	if (s->questions)
		s->questions->prev = q;
	s->questions = q;
	if (!first)
		return;
	q->peer_next = *first;
	if (*first)
		(*first)->peer_prev = q;
	*first = q;
}

static void unlink_question(struct script *s, struct flow_question *q)
{
	struct flow_question **first = peer_questions(s, q->peer_id);

	if (q->prev)
		q->prev->next = q->next;
	else
		s->questions = q->next;
	if (q->next)
		q->next->prev = q->prev;
	if (!first)
		return;
	if (q->peer_prev)
		q->peer_prev->peer_next = q->peer_next;
	else
		*first = q->peer_next;
	if (q->peer_next)
		q->peer_next->peer_prev = q->peer_prev;
}

/* decide()'s results (verdict, lifetime) were checked in Lua; anything else fails. */
static void flow_answered(void *ctx, lua_State *co, int nres, const char *error)
{
	struct flow_question *q = ctx;
	enum policy_verdict v = POLICY_DROP;
	double lifetime = 0;
	bool ok = false;

	q->call = NULL;
	if (!error && nres >= 1) {
		int base = lua_gettop(co) - nres;

		ok = policy_verdict_parse(lua_tostring(co, base + 1), &v);
		if (nres >= 2 && lua_isnumber(co, base + 2))
			lifetime = lua_tonumber(co, base + 2);
	}
	unlink_question(q->script, q);
	if (q->sess)
		q->done(q->ctx, &q->key, ok, v, lifetime);
	free(q);
}

void script_flow(struct script *s, struct session *sess, const struct flow_key *key,
		 const struct packet_flow *flow, script_flow_fn done, void *ctx)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	struct flow_question *q = calloc(1, sizeof(*q));
	int base = push_call(s, "moonvpn.flows", "decide");

	if (!q || base < 0 || !s->hooks) {
		lua_settop(L, top);
		free(q);
		done(ctx, key, false, POLICY_DROP, 0);
		return;
	}
	*q = (struct flow_question){ .script = s,
				     .peer_id = session_peer_id(sess),
				     .sess = sess,
				     .key = *key,
				     .done = done,
				     .ctx = ctx };
	link_question(s, q);
	lua_getfield(L, LUA_REGISTRYINDEX, REG_ACTIVE_OBJECT);
	lua_core_raw_field(L, -1, "on");
	lua_remove(L, -2);
	if (!push_built(L, build_flow, key, flow)) {
		log_error(&s->engine->log, "script", "on.flow: %s", lua_tostring(L, -1));
		unlink_question(s, q);
		free(q);
		lua_settop(L, top);
		done(ctx, key, false, POLICY_DROP, 0);
		return;
	}
	lua_pushinteger(L, session_peer_id(sess));
	q->call = HOOK_STARTING; /* flow_answered may run, and free q, before this returns */
	struct hook_call *call = hook_call_start(s->hooks, L, 3, "on.flow", flow_answered, q);
	if (call)
		q->call = call;
	lua_settop(L, top);
}

void script_collect(struct script *s)
{
	lua_gc(s->L, LUA_GCCOLLECT);
}

bool script_in_hook(struct script *s)
{
	return s->hooks && hook_runtime_in_hook(s->hooks);
}

/* Pushes the active object's on[name] (see hook_field); whether it is a function. */
static bool push_active_hook(lua_State *L, const char *name)
{
	return lua_getfield(L, LUA_REGISTRYINDEX, REG_ACTIVE_OBJECT) == LUA_TTABLE &&
	       lua_core_raw_field(L, -1, "on") == LUA_TTABLE &&
	       hook_field(L, -1, name) == LUA_TFUNCTION;
}

/* Whether the active object has the hook on[name]. */
static bool has_active_hook(struct script *s, const char *name)
{
	int top = lua_gettop(s->L);
	bool has = push_active_hook(s->L, name);

	lua_settop(s->L, top);
	return has;
}

bool script_has_flow_hook(struct script *s)
{
	return has_active_hook(s, "flow");
}

bool script_asks_password(struct script *s)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	bool hook = lua_getfield(L, LUA_REGISTRYINDEX, REG_PENDING_OBJECT) == LUA_TTABLE &&
		    lua_core_raw_field(L, -1, "on") == LUA_TTABLE &&
		    hook_field(L, -1, "auth") == LUA_TFUNCTION;
	bool asks = false;

	lua_settop(L, top);
	if (hook && lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_PENDING_CONFIG) == LUA_TTABLE &&
	    lua_core_raw_field(L, -1, "auth") == LUA_TTABLE) {
		lua_core_raw_field(L, -1, "password");	  /* cfg, auth, password */
		lua_core_raw_field(L, -2, "certificate"); /* cfg, auth, password, certificate */
		asks = (lua_type(L, -2) == LUA_TSTRING &&
			strcmp(lua_tostring(L, -2), "required") == 0) ||
		       (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "none") == 0);
	}
	lua_settop(L, top);
	return asks;
}

/*
 * The session ended: its flows' questions are withdrawn (their entries go
 * with it). Its peer-id's list holds them (walking every question in flight
 * made each disconnect O(questions)); before script_set_max_clients, all.
 */
static void withdraw_questions(struct script *s, struct session *sess)
{
	struct flow_question **first = peer_questions(s, session_peer_id(sess));
	struct flow_question *q = first ? *first : s->questions;

	while (q) {
		struct flow_question *next = first ? q->peer_next : q->next;

		if (q->sess == sess && q->call == HOOK_STARTING) {
			q->sess = NULL; /* running now: flow_answered will find nobody to tell */
		} else if (q->sess == sess) {
			unlink_question(s, q);
			if (q->call)
				hook_call_cancel(q->call);
			free(q);
		}
		q = next;
	}
}

void script_discard_config(struct script *s)
{
	lua_pushnil(s->L);
	lua_setfield(s->L, LUA_REGISTRYINDEX, SCRIPT_REG_PENDING_CONFIG);
	lua_pushnil(s->L);
	lua_setfield(s->L, LUA_REGISTRYINDEX, REG_PENDING_OBJECT);
	if (s->hooks)
		hook_generation_abandon(s->hooks, s->generation);
}

/* "AB:CD:..." as OpenVPN prints certificate digests. */
static void push_fingerprint(lua_State *L, const uint8_t *fp)
{
	char hex[TLS_FINGERPRINT_LEN * 3];

	if (!fp) {
		lua_pushliteral(L, "");
		return;
	}
	for (size_t i = 0; i < TLS_FINGERPRINT_LEN; i++)
		snprintf(hex + 3 * i, 4, "%02X%s", fp[i], i + 1 < TLS_FINGERPRINT_LEN ? ":" : "");
	lua_pushstring(L, hex);
}

/*
 * A tls-crypt-v2 client's key: { id = hex, type = "user" | "timestamp" |
 * number, metadata = the bytes after the type, created = unix time (a
 * timestamp's) }.
 */
static void push_tls_crypt_v2(lua_State *L, const struct tlscryptv2_client *k)
{
	char id[TLSCRYPTV2_ID_TEXT_LEN + 1];
	int64_t created;

	lua_createtable(L, 0, 4);
	tlscryptv2_id_format(k->id, id);
	set_str(L, "id", id);
	if (!k->metadata_len)
		return;
	if (k->metadata[0] == TLSCRYPTV2_METADATA_USER)
		lua_pushliteral(L, "user");
	else if (k->metadata[0] == TLSCRYPTV2_METADATA_TIMESTAMP)
		lua_pushliteral(L, "timestamp");
	else
		lua_pushinteger(L, k->metadata[0]);
	lua_setfield(L, -2, "type");
	lua_pushlstring(L, (const char *)k->metadata + 1, k->metadata_len - 1);
	lua_setfield(L, -2, "metadata");
	if (tlscryptv2_created(k, &created)) {
		lua_pushinteger(L, (lua_Integer)created);
		lua_setfield(L, -2, "created");
	}
}

/* verify_key()'s results: true, or false and the reason; a failed hook refuses. */
static void key_checked(void *ctx, lua_State *co, int nres, const char *error)
{
	struct key_check *k = ctx;
	struct session *sess = k->sess;
	char reason[SESSION_REASON_MAX];
	bool ok = false;
	int base = lua_gettop(co) - nres;

	k->call = NULL;
	k->sess = NULL;
	if (!sess) /* the session ended while the hook ran */
		return;
	snprintf(reason, sizeof(reason), "%s",
		 error ? "on.tls_crypt_v2 failed" : "refused by on.tls_crypt_v2");
	if (!error && nres >= 1) {
		ok = lua_toboolean(co, base + 1);
		if (nres >= 2 && lua_type(co, base + 2) == LUA_TSTRING)
			snprintf(reason, sizeof(reason), "%s", lua_tostring(co, base + 2));
	}
	k->done(k->ctx, sess, ok, ok ? NULL : reason);
}

bool script_has_key_hook(struct script *s)
{
	return has_active_hook(s, "tls_crypt_v2");
}

void script_tls_crypt_v2(struct script *s, struct session *sess, script_key_fn done, void *ctx)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	struct key_check *k = &s->key_checks[session_peer_id(sess)];
	int base = push_call(s, "moonvpn.clients", "verify_key");
	char peer[UDP_ADDR_TEXT_MAX];

	*k = (struct key_check){ sess, NULL, done, ctx };
	if (base < 0 || !s->hooks || !session_tls_crypt_v2(sess)) {
		log_error(&s->engine->log, "script", "moonvpn.clients.verify_key: %s",
			  base < 0 ? lua_tostring(L, -1) : "no hook runtime or no key");
		lua_settop(L, top);
		k->sess = NULL;
		done(ctx, sess, false, "internal server error");
		return;
	}
	lua_getfield(L, LUA_REGISTRYINDEX, REG_ACTIVE_OBJECT);
	lua_core_raw_field(L, -1, "on");
	lua_remove(L, -2);
	push_tls_crypt_v2(L, session_tls_crypt_v2(sess));
	lua_pushstring(L, udp_addr_format(session_peer(sess), peer, sizeof(peer)));
	k->call = HOOK_STARTING; /* pending until key_checked says otherwise */
	struct hook_call *call = hook_call_start(s->hooks, L, 3, "on.tls_crypt_v2", key_checked, k);
	if (k->call)
		k->call = call;
	lua_settop(L, top);
}

/* The info table moonvpn.clients.admit() receives. */
static void push_client_info(lua_State *L, struct session *sess)
{
	char peer[UDP_ADDR_TEXT_MAX];

	lua_createtable(L, 0, 16);
	set_int(L, "peer_id", session_peer_id(sess));
	set_str(L, "cn", session_cn(sess));
	set_str(L, "subject", session_peer_subject(sess));
	set_str(L, "serial", session_peer_serial(sess));
	push_fingerprint(L, session_peer_fingerprint(sess));
	lua_setfield(L, -2, "fingerprint");
	set_str(L, "peer", udp_addr_format(session_peer(sess), peer, sizeof(peer)));
	set_str(L, "cipher", session_cipher(sess));
	set_int(L, "iv_proto", session_iv_proto(sess));
	lua_pushboolean(L, session_iv_mtu(sess));
	lua_setfield(L, -2, "iv_mtu");
	lua_pushboolean(L, session_ncp(sess));
	lua_setfield(L, -2, "ncp");
	lua_pushboolean(L, session_epoch_data(sess));
	lua_setfield(L, -2, "epoch_data");
	set_str(L, "username", session_username(sess));
	set_str(L, "password", session_password(sess));
	set_str(L, "peer_info", session_peer_info(sess));
	if (session_tls_crypt_v2(sess)) {
		push_tls_crypt_v2(L, session_tls_crypt_v2(sess));
		lua_setfield(L, -2, "tls_crypt_v2");
	}
	lua_peer_push_software(L, sess);
	lua_setfield(L, -2, "software");
	set_str(L, "compression", compframe_name(session_framing(sess)));
	set_str(L, "auth_token", session_token_state(sess));
}

static void build_client_info(lua_State *L, const void *sess, const void *unused)
{
	(void)unused;
	push_client_info(L, (struct session *)sess);
}

static void copy_string(lua_State *L, int idx, char *out, size_t cap)
{
	snprintf(out, cap, "%s", lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : "");
}

/*
 * admit()'s results at base+1..base+6 (address, messages, address6, routes,
 * own rules, groups) into push: 0, or -1 with the reason (base+2) when refused.
 */
static int read_admission(lua_State *L, int base, struct session_push *push)
{
	if (lua_type(L, base + 1) != LUA_TSTRING) {
		copy_string(L, base + 2, push->reason, sizeof(push->reason));
		return -1;
	}
	copy_string(L, base + 1, push->address, sizeof(push->address));
	copy_string(L, base + 3, push->address6, sizeof(push->address6));
	/* The subnets behind it, validated by moonvpn.clients; anything else is skipped. */
	for (lua_Integer i = 1; lua_istable(L, base + 4) && i <= SESSION_ROUTES_MAX; i++) {
		int t = lua_rawgeti(L, base + 4, i);

		if (t == LUA_TSTRING &&
		    ip_prefix_parse(&push->routes[push->n_routes], lua_tostring(L, -1)))
			push->n_routes++;
		lua_pop(L, 1);
		if (t == LUA_TNIL)
			break;
	}
	push->groups = (uint64_t)lua_tointeger(L, base + 6);
	if (lua_istable(L, base + 5) &&
	    !(push->policy = lua_policy_read(L, base + 5, push->reason, sizeof(push->reason))))
		return -1;
	for (lua_Integer i = 1; lua_istable(L, base + 2) && i <= SESSION_PUSH_MESSAGES_MAX; i++) {
		if (lua_rawgeti(L, base + 2, i) != LUA_TSTRING) {
			lua_pop(L, 1);
			break;
		}
		push->messages[push->n_messages] = strdup(lua_tostring(L, -1));
		lua_pop(L, 1);
		if (push->messages[push->n_messages])
			push->n_messages++;
	}
	return 0;
}

/* moonvpn.clients.revoke: admitted in Lua, but the session had ended meanwhile. */
static void revoke_admission(struct script *s, uint32_t peer_id)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	int base = push_call(s, "moonvpn.clients", "revoke");

	if (base > 0) {
		lua_pushinteger(L, peer_id);
		call_budgeted(s, 1, 0, base, "moonvpn.clients.revoke", &ENGINE_CALL);
	}
	lua_settop(L, top);
}

void script_client_revoke(struct script *s, uint32_t peer_id)
{
	revoke_admission(s, peer_id);
}

static void admission_done(void *ctx, lua_State *co, int nres, const char *error)
{
	struct admission *a = ctx;
	struct session_push push = { 0 };
	struct session *sess = a->sess;
	struct policy *own;
	int base;

	a->call = NULL;
	a->sess = NULL;
	if (!sess) /* the session ended while the hook ran: nobody to decide for */
		return;
	if (error) {
		/* The operator's bug is logged (by the runtime), not told to the client. */
		a->decided(a->ctx, sess, NULL, "authentication failed");
		return;
	}
	base = lua_gettop(co) - nres;
	lua_settop(co, base + 6);
	if (read_admission(co, base, &push) < 0) {
		a->decided(a->ctx, sess, NULL, push.reason);
		goto out;
	}
	own = push.policy; /* session_admit empties push: keep our reference to put */
	if (!a->decided(a->ctx, sess, &push, NULL))
		revoke_admission(a->script, session_peer_id(sess));
	push.policy = own;
out:
	for (size_t i = 0; i < push.n_messages; i++)
		free(push.messages[i]); /* whatever the decision did not take */
	policy_put(push.policy);	/* the server took its own reference */
}

static void set_list(lua_State *L, const char *name, const char *const *items, size_t n)
{
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushstring(L, items[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, name);
}

static void build_amend(lua_State *L, const void *amend, const void *unused)
{
	const struct script_amend *a = amend;

	(void)unused;
	lua_createtable(L, 0, 6);
	set_str(L, "address", a->address);
	set_str(L, "netmask", a->netmask);
	set_str(L, "address6", a->address6);
	if (a->address6)
		set_int(L, "len6", a->len6);
	set_list(L, "push", a->push, a->n_push);
	set_list(L, "routes", a->routes, a->n_routes);
}

int script_client_amend(struct script *s, uint32_t peer_id, const struct script_amend *a,
			struct session_push *push)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	int base = push_call(s, "moonvpn.clients", "amend");
	int rc = -1;

	*push = (struct session_push){ 0 };
	snprintf(push->reason, sizeof(push->reason), "internal server error");
	if (base > 0) {
		lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ACTIVE_CONFIG);
		lua_pushinteger(L, peer_id);
	}
	if (base < 0 || !push_built(L, build_amend, a, NULL) ||
	    call_budgeted(s, 3, 6, base, "moonvpn.clients.amend", &ENGINE_CALL) != LUA_OK)
		log_error(&s->engine->log, "script", "moonvpn.clients.amend: %s",
			  lua_tostring(L, -1));
	else
		rc = read_admission(L, base, push);
	lua_settop(L, top);
	return rc;
}

void script_client_cr_response(struct script *s, struct session *sess, const char *response)
{
	uint8_t text[SESSION_PENDING_MAX];
	size_t len = strlen(response);
	int n;

	/* EVP_DecodeBlock counts the padding as data: what '=' stands for comes off. */
	n = len < sizeof(text) * 3 / 4 ? EVP_DecodeBlock(text, (const uint8_t *)response, (int)len)
				       : -1;
	for (size_t i = len; n > 0 && i > 0 && response[i - 1] == '='; i--)
		n--;
	if (n < 0 || memchr(text, '\0', (size_t)n)) {
		log_ratelimited(&s->engine->log, LOG_DEBUG, "script",
				"%s: a challenge response that is not base64 text: ignored",
				session_cn(sess));
		return;
	}
	text[n] = '\0';
	if (!lua_authwait_answer(s->L, session_peer_id(sess), "response", (const char *)text))
		log_debug(&s->engine->log, "script",
			  "%s: a challenge response no hook waits for: ignored", session_cn(sess));
}

void script_client_connect(struct script *s, struct session *sess, script_decided_fn decided,
			   void *ctx)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	struct admission *a = &s->admissions[session_peer_id(sess)];
	int base = push_call(s, "moonvpn.clients", "admit");

	*a = (struct admission){ s, sess, NULL, decided, ctx };
	if (base < 0 || !s->hooks) {
		log_error(&s->engine->log, "script", "moonvpn.clients.admit: %s",
			  base < 0 ? lua_tostring(L, -1) : "no hook runtime");
		lua_settop(L, top);
		a->sess = NULL;
		decided(ctx, sess, NULL, "internal server error");
		return;
	}
	lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ACTIVE_CONFIG);
	lua_getfield(L, LUA_REGISTRYINDEX, REG_ACTIVE_OBJECT);
	lua_core_raw_field(L, -1, "on");
	lua_remove(L, -2);
	if (!push_built(L, build_client_info, sess, NULL)) {
		log_error(&s->engine->log, "script", "on.auth: %s", lua_tostring(L, -1));
		lua_settop(L, top);
		a->sess = NULL;
		decided(ctx, sess, NULL, "internal server error");
		return;
	}
	a->call = HOOK_STARTING; /* pending until admission_done says otherwise */
	struct hook_call *call =
		hook_call_start(s->hooks, L, 3, "on.auth/on.connect", admission_done, a);
	if (a->call)
		a->call = call;
	lua_settop(L, top);
}

static void set_num(lua_State *L, const char *name, lua_Number v)
{
	lua_pushnumber(L, v);
	lua_setfield(L, -2, name);
}

static void push_end_stats(lua_State *L, struct session *sess, double now)
{
	const struct dchan_counters *c = session_counters(sess);

	lua_createtable(L, 0, 5);
	set_int(L, "bytes_in", (lua_Integer)c->bytes_in);
	set_int(L, "bytes_out", (lua_Integer)c->bytes_out);
	set_int(L, "packets_in", (lua_Integer)c->packets_in);
	set_int(L, "packets_out", (lua_Integer)c->packets_out);
	set_num(L, "duration", now - session_connected_at(sess));
}

/* The session ended: its on.tls_crypt_v2 question, if any, ends with it. */
static void withdraw_key_check(struct script *s, struct session *sess)
{
	struct key_check *k = &s->key_checks[session_peer_id(sess)];

	if (k->sess != sess)
		return;
	if (k->call && k->call != HOOK_STARTING)
		hook_call_cancel(k->call);
	k->sess = NULL;
}

void script_client_disconnect(struct script *s, struct session *sess, const char *reason)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	struct admission *a = &s->admissions[session_peer_id(sess)];
	int base;

	if (a->sess == sess && a->call && a->call != HOOK_STARTING)
		hook_call_cancel(a->call); /* it left while its hooks ran: they end here */
	withdraw_questions(s, sess);
	if (a->sess == sess)
		a->sess = NULL;
	withdraw_key_check(s, sess);
	base = push_call(s, "moonvpn.clients", "ended");
	if (base < 0)
		goto fail;
	lua_getfield(L, LUA_REGISTRYINDEX, REG_ACTIVE_OBJECT);
	lua_core_raw_field(L, -1, "on");
	lua_remove(L, -2);
	lua_pushinteger(L, session_peer_id(sess));
	push_end_stats(L, sess, s->hooks ? ev_now(s->engine->loop) : 0);
	if (call_budgeted(s, 3, 2, base, "moonvpn.clients.ended", &ENGINE_CALL) != LUA_OK)
		goto fail;
	/* on.disconnect(client, reason), when the client had been admitted and it is set. */
	if (lua_isfunction(L, -2) && s->hooks) {
		lua_pushstring(L, reason);
		hook_call_start(s->hooks, L, 2, "on.disconnect", NULL, NULL);
	}
	lua_settop(L, top);
	return;
fail:
	log_error(&s->engine->log, "script", "moonvpn.clients.ended failed: %s",
		  lua_tostring(L, -1));
	lua_settop(L, top);
}

/* Pushes the shared console environment (created on first use), or its error message. */
static int push_console_env(struct script *s)
{
	lua_State *L = s->L;
	bool ok;
	int base;

	if (lua_getfield(L, LUA_REGISTRYINDEX, "moonvpn.console.env") == LUA_TTABLE)
		return 0;
	lua_pop(L, 1);
	base = push_call(s, "moonvpn.console_env", "new");
	ok = base > 0 &&
	     call_budgeted(s, 0, 1, base, "moonvpn.console_env.new", &ENGINE_CALL) == LUA_OK;
	lua_remove(L, base > 0 ? base : -base); /* the message handler */
	if (!ok)
		return -1;
	lua_pushvalue(L, -1);
	lua_setfield(L, LUA_REGISTRYINDEX, "moonvpn.console.env");
	return 0;
}

static void console_call(struct script *s, const char *fn, unsigned id)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	int base = push_call(s, "moonvpn.console", fn);

	if (base > 0) {
		lua_pushinteger(L, id);
		call_budgeted(s, 1, 0, base, "moonvpn.console", &ENGINE_CALL);
	}
	lua_settop(L, top);
}

void script_console_open(struct script *s, unsigned id)
{
	console_call(s, "open", id);
}

void script_console_close(struct script *s, unsigned id)
{
	console_call(s, "close", id);
}

static enum console_reply reply_from(lua_State *L, char **text, size_t *text_len)
{
	size_t len;
	const char *kind = lua_tostring(L, -2);
	const char *msg = lua_tolstring(L, -1, &len);

	*text = malloc(len + 1);
	if (*text) {
		memcpy(*text, msg ? msg : "", msg ? len + 1 : 1);
		*text_len = msg ? len : 0;
	}
	if (kind && strcmp(kind, "ok") == 0)
		return CONSOLE_REPLY_OK;
	if (kind && strcmp(kind, "more") == 0)
		return CONSOLE_REPLY_MORE;
	return CONSOLE_REPLY_ERROR;
}

enum console_reply script_console_feed(struct script *s, unsigned id, const char *line, size_t len,
				       char **text, size_t *text_len)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	int base = push_call(s, "moonvpn.console", "feed");
	enum console_reply r;

	if (base < 0 || push_console_env(s) < 0) {
		lua_pushliteral(L, "error");
		lua_insert(L, -2);
	} else {
		lua_pushinteger(L, id);
		lua_pushlstring(L, line, len);
		if (call_budgeted(s, 3, 2, base, "moonvpn.console.feed", &OUTER_CALL) != LUA_OK) {
			lua_pushliteral(L, "error");
			lua_insert(L, -2);
		}
	}
	r = reply_from(L, text, text_len);
	lua_settop(L, top);
	return r;
}

/* t[key] of the table on top of L replaces it (nil when it is no table). */
static void push_raw_path(lua_State *L, const char *key)
{
	if (lua_istable(L, -1))
		lua_core_raw_field(L, -1, key);
	else
		lua_pushnil(L);
	lua_remove(L, -2);
}

/* A client's question to its auth.ask function, in flight. */
struct auth_question {
	struct script *s;
	struct hook_call *call; /* NULL while it starts */
	script_answer_fn done;
	void *ctx;
	bool password; /* it asks username and password, not a response */
};

static const char *result_string(lua_State *co, int nres, int i)
{
	int at = lua_gettop(co) - nres + i;

	return i <= nres && lua_type(co, at) == LUA_TSTRING ? lua_tostring(co, at) : NULL;
}

static void auth_answered(void *ctx, lua_State *co, int nres, const char *error)
{
	struct auth_question *q = ctx;
	const char *first = error ? NULL : result_string(co, nres, 1);
	const char *second = error || !q->password ? NULL : result_string(co, nres, 2);

	q->s->auth_question = NULL;
	if (!error && (!first || (q->password && !second))) {
		log_error(&q->s->engine->log, "script", "auth.ask returned %s: it must return %s",
			  nres ? luaL_typename(co, lua_gettop(co) - nres + 1) : "nothing",
			  q->password ? "the username and password (two strings)"
				      : "the challenge's response (a string)");
		first = second = NULL;
	}
	q->done(q->ctx, first, second);
	free(q);
}

void script_client_ask(struct script *s, const char *text, const char *kind, script_answer_fn done,
		       void *ctx)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	struct auth_question *q = s->hooks ? calloc(1, sizeof(*q)) : NULL;
	struct hook_call *call;

	if (s->auth_question) { /* a reload's new client asks anew */
		if (s->auth_question->call)
			hook_call_cancel(s->auth_question->call);
		free(s->auth_question);
		s->auth_question = NULL;
	}
	lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ACTIVE_CONFIG);
	push_raw_path(L, "auth");
	push_raw_path(L, "ask");
	if (!q || !lua_isfunction(L, -1)) {
		log_error(&s->engine->log, "script", "auth.ask: %s",
			  q ? "not a function in the active configuration" : "out of memory");
		free(q);
		lua_settop(L, top);
		done(ctx, NULL, NULL);
		return;
	}
	*q = (struct auth_question){ s, NULL, done, ctx, text == NULL };
	s->auth_question = q;
	if (text)
		lua_pushstring(L, text);
	else
		lua_pushnil(L);
	lua_pushstring(L, kind);
	call = hook_call_start(s->hooks, L, 2, "auth.ask", auth_answered, q);
	if (s->auth_question == q)
		q->call = call;
	lua_settop(L, top);
}

bool script_has_dns_hook(struct script *s)
{
	return has_active_hook(s, "dns");
}

/* A client's on.dns call in flight. */
struct dns_call {
	struct script *s;
	struct hook_call *call; /* NULL while it starts */
	script_dns_fn done;
	void *ctx;
};

/* What on.dns returned, into a verdict (and out for a table); a wrong answer is logged. */
static enum script_dns_verdict dns_verdict(struct script *s, lua_State *co, int nres,
					   struct resolver_dns *out)
{
	int at = lua_gettop(co) - nres + 1;
	char err[160];

	if (nres == 0 || lua_isnil(co, at) || (lua_isboolean(co, at) && lua_toboolean(co, at)))
		return SCRIPT_DNS_AS_GIVEN;
	if (lua_isboolean(co, at))
		return SCRIPT_DNS_REFUSED;
	if (lua_type(co, at) == LUA_TSTRING && strcmp(lua_tostring(co, at), "handled") == 0)
		return SCRIPT_DNS_HANDLED;
	if (lua_istable(co, at) && lua_dns_read(co, at, out, err, sizeof(err)) == 0)
		return SCRIPT_DNS_CHANGED;
	if (!lua_istable(co, at))
		snprintf(err, sizeof(err),
			 "got %s, expected nothing, true, a table like its argument, "
			 "false or \"handled\"",
			 luaL_typename(co, at));
	log_error(&s->engine->log, "script", "on.dns returned what it may not: %s", err);
	return SCRIPT_DNS_FAILED;
}

static void dns_answered(void *ctx, lua_State *co, int nres, const char *error)
{
	struct dns_call *c = ctx;
	struct resolver_dns changed;
	enum script_dns_verdict v =
		error ? SCRIPT_DNS_FAILED : dns_verdict(c->s, co, nres, &changed);

	c->s->dns_call = NULL;
	c->done(c->ctx, v, v == SCRIPT_DNS_CHANGED ? &changed : NULL);
	free(c);
}

void script_client_dns(struct script *s, const char *event, const struct resolver_dns *dns,
		       const char *device, bool all_traffic, script_dns_fn done, void *ctx)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	struct dns_call *c = s->hooks ? calloc(1, sizeof(*c)) : NULL;
	struct hook_call *call;

	if (s->dns_call) { /* a newer push, or the end: the earlier call's answer is moot */
		if (s->dns_call->call)
			hook_call_cancel(s->dns_call->call);
		free(s->dns_call);
		s->dns_call = NULL;
	}
	if (!c || !push_active_hook(L, "dns")) {
		free(c);
		lua_settop(L, top);
		done(ctx, SCRIPT_DNS_AS_GIVEN, NULL);
		return;
	}
	*c = (struct dns_call){ s, NULL, done, ctx };
	s->dns_call = c;
	lua_dns_push(L, dns, device, all_traffic);
	lua_pushstring(L, event);
	call = hook_call_start(s->hooks, L, 2, "on.dns", dns_answered, c);
	if (s->dns_call == c)
		c->call = call;
	lua_settop(L, top);
}

bool script_dns_pending(struct script *s)
{
	return s->dns_call != NULL;
}
