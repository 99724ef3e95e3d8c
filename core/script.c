// SPDX-License-Identifier: MIT
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "lua_config.h"
#include "lua_core.h"
#include "script.h"
#include "udp.h"

enum {
	/* The VM as a whole may not grow past this: a console client hoarding data or a
	 * runaway configuration gets "not enough memory" instead of the host's memory. */
	SCRIPT_MEMORY_MAX_BYTES = 512 * 1024 * 1024,
};

#define REG_REQUIRE "moonvpn.require"

struct script {
	lua_State *L;
	struct engine *engine;
	size_t memory_used;
};

/* lua_Alloc with a cap (style guide section 1.7). */
static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct script *s = ud;
	size_t old = ptr ? osize : 0;
	void *p;

	if (nsize == 0) {
		free(ptr);
		s->memory_used -= old;
		return NULL;
	}
	if (nsize > old && s->memory_used - old + nsize > SCRIPT_MEMORY_MAX_BYTES)
		return NULL;
	p = realloc(ptr, nsize);
	if (p)
		s->memory_used = s->memory_used - old + nsize;
	return p;
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
	/* The engine's C modules are preloaded; no other native code is loaded, so the
	 * C searchers go (their "no file" lines would also clutter a require error). */
	lua_pushliteral(L, "");
	lua_setfield(L, -2, "cpath");
	lua_getfield(L, -1, "searchers");
	lua_pushnil(L);
	lua_rawseti(L, -2, 4);
	lua_pushnil(L);
	lua_rawseti(L, -2, 3);
	lua_pop(L, 2);
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
	luaL_openlibs(s->L);
	preload(s->L, "moonvpn.core", luaopen_moonvpn_core);
	preload(s->L, "moonvpn.engine", luaopen_moonvpn_engine);
	set_paths(s->L, root);
	/* The engine's own calls use this require, whatever a console user does to _G. */
	lua_getglobal(s->L, "require");
	lua_setfield(s->L, LUA_REGISTRYINDEX, REG_REQUIRE);
	lua_core_install_budget_hook(s->L);
	return s;
}

void script_free(struct script *s)
{
	if (!s)
		return;
	lua_close(s->L);
	free(s);
}

/* Pushes require(module)[fn] under a message handler; returns the handler's index. */
static int push_call(lua_State *L, const char *module, const char *fn)
{
	int base;

	lua_pushcfunction(L, msghandler);
	base = lua_gettop(L);
	lua_getfield(L, LUA_REGISTRYINDEX, REG_REQUIRE);
	lua_pushstring(L, module);
	if (lua_pcall(L, 1, 1, base) != LUA_OK)
		return -base; /* the message is on top */
	lua_getfield(L, -1, fn);
	lua_remove(L, -2);
	return base;
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
	int base = push_call(L, "moonvpn.config", "load");
	int rc = -EINVAL;

	if (base < 0) {
		copy_error(L, err, errlen);
		goto out;
	}
	lua_pushstring(L, path);
	if (lua_pcall(L, 1, 2, base) != LUA_OK) {
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
	}
out:
	lua_settop(L, top);
	return rc;
}

void script_commit_config(struct script *s)
{
	lua_getfield(s->L, LUA_REGISTRYINDEX, SCRIPT_REG_PENDING_CONFIG);
	lua_setfield(s->L, LUA_REGISTRYINDEX, SCRIPT_REG_ACTIVE_CONFIG);
	lua_pushnil(s->L);
	lua_setfield(s->L, LUA_REGISTRYINDEX, SCRIPT_REG_PENDING_CONFIG);
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

/* The client table moonvpn.clients.connect() receives. */
static void push_client_info(lua_State *L, struct session *sess)
{
	char peer[UDP_ADDR_TEXT_MAX];

	lua_createtable(L, 0, 7);
	set_int(L, "peer_id", session_peer_id(sess));
	set_str(L, "cn", session_cn(sess));
	set_str(L, "peer", udp_addr_format(session_peer(sess), peer, sizeof(peer)));
	set_str(L, "cipher", session_cipher(sess));
	set_int(L, "iv_proto", session_iv_proto(sess));
	lua_pushboolean(L, session_iv_mtu(sess));
	lua_setfield(L, -2, "iv_mtu");
	lua_pushboolean(L, session_ncp(sess));
	lua_setfield(L, -2, "ncp");
}

/* Copies connect()'s results (address, messages, address6) into push; -1 and a reason when refused.
 */
static int read_admission(lua_State *L, struct session_push *push)
{
	if (lua_isstring(L, -1))
		snprintf(push->address6, sizeof(push->address6), "%s", lua_tostring(L, -1));
	lua_pop(L, 1);
	if (!lua_isstring(L, -2)) {
		const char *why = lua_tostring(L, -1);

		snprintf(push->reason, sizeof(push->reason), "%s", why ? why : "");
		return -1;
	}
	snprintf(push->address, sizeof(push->address), "%s", lua_tostring(L, -2));
	for (lua_Integer i = 1; i <= SESSION_PUSH_MESSAGES_MAX; i++) {
		if (lua_geti(L, -1, i) != LUA_TSTRING) {
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

int script_client_connect(struct script *s, struct session *sess, struct session_push *push)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	int base = push_call(L, "moonvpn.clients", "connect");
	int rc = -1;

	if (base > 0) {
		lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_ACTIVE_CONFIG);
		push_client_info(L, sess);
		if (lua_pcall(L, 2, 3, base) == LUA_OK) {
			rc = read_admission(L, push);
			goto out;
		}
	}
	/* A failure in our own Lua is logged, never sent to the client. */
	if (s->engine)
		log_error(&s->engine->log, "script", "moonvpn.clients.connect failed: %s",
			  lua_tostring(L, -1));
	snprintf(push->reason, sizeof(push->reason), "internal server error");
out:
	lua_settop(L, top);
	return rc;
}

void script_client_disconnect(struct script *s, struct session *sess)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	int base = push_call(L, "moonvpn.clients", "disconnect");

	if (base > 0) {
		lua_pushinteger(L, session_peer_id(sess));
		if (lua_pcall(L, 1, 0, base) != LUA_OK && s->engine)
			log_error(&s->engine->log, "script",
				  "moonvpn.clients.disconnect failed: %s", lua_tostring(L, -1));
	}
	lua_settop(L, top);
}

/* Pushes the shared console environment, creating it on first use. */
static int push_console_env(lua_State *L, int base)
{
	if (lua_getfield(L, LUA_REGISTRYINDEX, "moonvpn.console.env") == LUA_TTABLE)
		return 0;
	lua_pop(L, 1);
	lua_getfield(L, LUA_REGISTRYINDEX, REG_REQUIRE);
	lua_pushliteral(L, "moonvpn.console_env");
	if (lua_pcall(L, 1, 1, base) != LUA_OK)
		return -1;
	lua_getfield(L, -1, "new");
	lua_remove(L, -2);
	if (lua_pcall(L, 0, 1, base) != LUA_OK)
		return -1;
	lua_pushvalue(L, -1);
	lua_setfield(L, LUA_REGISTRYINDEX, "moonvpn.console.env");
	return 0;
}

static void console_call(struct script *s, const char *fn, unsigned id)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	int base = push_call(L, "moonvpn.console", fn);

	if (base > 0) {
		lua_pushinteger(L, id);
		lua_pcall(L, 1, 0, base);
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
	int base = push_call(L, "moonvpn.console", "feed");
	enum console_reply r;

	if (base < 0 || push_console_env(L, base) < 0) {
		lua_pushliteral(L, "error");
		lua_insert(L, -2);
	} else {
		lua_pushinteger(L, id);
		lua_pushlstring(L, line, len);
		if (lua_pcall(L, 3, 2, base) != LUA_OK) {
			lua_pushliteral(L, "error");
			lua_insert(L, -2);
		}
	}
	r = reply_from(L, text, text_len);
	lua_settop(L, top);
	return r;
}
