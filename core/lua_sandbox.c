// SPDX-License-Identifier: MIT
/*
 * The engine's VM without ways out (see lua_sandbox.h). The replacements go
 * into the library tables luaL_openlibs made, which are the ones _G,
 * require and package.loaded share, so no path reaches the originals. Text
 * chunks only: load, loadfile and dofile are written here on lua_load
 * rather than wrapping the originals, which debug.getupvalue would hand out.
 */
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "lua_sandbox.h"

#define EXEC_HINT                                                                         \
	"it would block every client while the program runs; run programs with "          \
	"vpn.exec { \"prog\", \"arg\", ... } in a hook or a vpn.after timer (it returns " \
	"status, stdout, stderr)"
#define STDIN_HINT                                                                    \
	"it reads the engine's standard input, which would block every client; read " \
	"files with io.open(path)"

static const struct refusal {
	const char *lib, *name, *why;
} refusals[] = {
	{ "os", "exit",
	  "it would end the engine and every tunnel; raise an error to refuse a configuration "
	  "or a reload, and stop moonvpn with SIGTERM" },
	{ "os", "execute", EXEC_HINT },
	{ "io", "popen", EXEC_HINT },
	{ "io", "read", STDIN_HINT },
	{ "io", "input", STDIN_HINT },
	{ "debug", "debug", STDIN_HINT },
	{ "debug", "sethook", "the engine's instruction and time limits of hooks are that hook" },
	{ "package", "loadlib", "the engine loads no native code (a fresh os library, say)" },
};

/* A refused entry point: raises "<where>lib.name is disabled in moonvpn: why" (upvalue 1). */
static int l_sandbox_refused(lua_State *L) /* may raise */
{
	luaL_where(L, 1);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_concat(L, 2);
	return lua_error(L);
}

static void push_refusal(lua_State *L, const char *name, const char *why)
{
	lua_pushfstring(L, "%s is disabled in moonvpn: %s", name, why);
	lua_pushcclosure(L, l_sandbox_refused, 1);
}

static void refuse_all(lua_State *L)
{
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *r = &refusals[i];
		char name[32];

		snprintf(name, sizeof(name), "%s.%s", r->lib, r->name);
		lua_getglobal(L, r->lib); /* +1 */
		push_refusal(L, name, r->why);
		lua_setfield(L, -2, r->name);
		lua_pop(L, 1);
	}
}

/* /dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom: they never block. */
static bool is_memory_device(dev_t dev)
{
	unsigned minor_number = minor(dev);

	return major(dev) == 1 && (minor_number == 3 || minor_number == 5 || minor_number == 7 ||
				   minor_number == 8 || minor_number == 9);
}

/* What path is when opening or reading it could block the engine, or NULL. */
static const char *blocking_kind(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return NULL; /* the open reports it */
	if (S_ISFIFO(st.st_mode))
		return "a FIFO";
	if (S_ISSOCK(st.st_mode))
		return "a socket";
	if (S_ISCHR(st.st_mode) && !is_memory_device(st.st_rdev))
		return "a character device";
	return NULL;
}

/* Pushes why path may not be opened and returns true, or returns false. */
static bool push_blocking(lua_State *L, const char *path)
{
	const char *kind = blocking_kind(path);

	if (!kind)
		return false;
	lua_pushfstring(L,
			"%s: is %s: opening or reading it could block every client; moonvpn "
			"opens regular files only (run a program with vpn.exec instead)",
			path, kind);
	return true;
}

/* The original C function a wrapper stands for (upvalue 1): in a userdata, which Lua cannot call.
 */
static lua_CFunction original(lua_State *L)
{
	return *(lua_CFunction *)lua_touserdata(L, lua_upvalueindex(1));
}

/* io.open(path, ...): the original, unless path would block. */
static int l_sandbox_open(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);

	if (push_blocking(L, path)) {
		luaL_pushfail(L);
		lua_insert(L, -2);
		lua_pushinteger(L, EAGAIN);
		return 3;
	}
	return original(L)(L);
}

/* io.lines(path, ...): the original on a file; standard input is refused. May raise. */
static int l_sandbox_lines(lua_State *L)
{
	if (lua_isnoneornil(L, 1))
		return luaL_error(L, "io.lines() is disabled in moonvpn: %s", STDIN_HINT);
	if (push_blocking(L, luaL_checkstring(L, 1)))
		return lua_error(L);
	return original(L)(L);
}

/* A loaded chunk on top (status LUA_OK) gets env as its first upvalue; else fail, message. */
static int load_result(lua_State *L, int status, int env)
{
	if (status != LUA_OK) {
		luaL_pushfail(L);
		lua_insert(L, -2);
		return 2;
	}
	if (env) {
		lua_pushvalue(L, env);
		if (!lua_setupvalue(L, -2, 1))
			lua_pop(L, 1);
	}
	return 1;
}

enum { READER_SLOT = 5 }; /* where the reader function's last piece is kept */

/* lua_load reader calling the function at index 1 for each piece. May raise. */
static const char *function_reader(lua_State *L, void *ud, size_t *size)
{
	(void)ud;
	luaL_checkstack(L, 2, "too many nested functions");
	lua_pushvalue(L, 1);
	lua_call(L, 0, 1);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		*size = 0;
		return NULL;
	}
	if (!lua_isstring(L, -1))
		luaL_error(L, "reader function must return a string");
	lua_replace(L, READER_SLOT);
	return lua_tolstring(L, READER_SLOT, size);
}

/* load(chunk [, name [, mode [, env]]]): as Lua's, text chunks only (mode is ignored). */
static int l_sandbox_load(lua_State *L)
{
	size_t len;
	const char *text = lua_tolstring(L, 1, &len);
	int env = lua_isnone(L, 4) ? 0 : 4;
	int status;

	if (text) {
		status = luaL_loadbufferx(L, text, len, luaL_optstring(L, 2, text), "t");
	} else {
		const char *name = luaL_optstring(L, 2, "=(load)");

		luaL_checktype(L, 1, LUA_TFUNCTION);
		lua_settop(L, READER_SLOT);
		status = lua_load(L, function_reader, NULL, name, "t");
	}
	return load_result(L, status, env);
}

/* The file name argument of loadfile and dofile: never standard input. May raise. */
static const char *check_file(lua_State *L, const char *api)
{
	const char *path;

	if (lua_isnoneornil(L, 1))
		luaL_error(L, "%s() without a file name is disabled in moonvpn: %s", api,
			   STDIN_HINT);
	path = luaL_checkstring(L, 1);
	if (push_blocking(L, path))
		lua_error(L);
	return path;
}

/* loadfile(path [, mode [, env]]): text chunks only. May raise. */
static int l_sandbox_loadfile(lua_State *L)
{
	const char *path = check_file(L, "loadfile");
	int env = lua_isnone(L, 3) ? 0 : 3;

	return load_result(L, luaL_loadfilex(L, path, "t"), env);
}

static int dofile_done(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	return lua_gettop(L) - 1;
}

/* dofile(path): text chunks only; the chunk may yield. May raise. */
static int l_sandbox_dofile(lua_State *L)
{
	const char *path = check_file(L, "dofile");

	lua_settop(L, 1);
	if (luaL_loadfilex(L, path, "t") != LUA_OK)
		return lua_error(L);
	lua_callk(L, 0, LUA_MULTRET, 0, dofile_done);
	return dofile_done(L, LUA_OK, 0);
}

/* Raises when the metatable at idx has a __gc field (read raw, as Lua marks objects). */
static void check_no_finalizer(lua_State *L, int idx) /* may raise */
{
	if (!lua_istable(L, idx))
		return;
	lua_pushliteral(L, "__gc");
	if (lua_rawget(L, idx) != LUA_TNIL)
		luaL_error(L,
			   "__gc metamethods are disabled in moonvpn: finalizers run with the "
			   "debug hooks off, where no instruction or time limit can stop them; use "
			   "a to-be-closed variable (local x <close> = ...) instead");
	lua_pop(L, 1);
}

/* setmetatable(t, mt): as Lua's, without finalizers. May raise. */
static int l_sandbox_setmetatable(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_argexpected(L, lua_isnoneornil(L, 2) || lua_istable(L, 2), 2, "nil or table");
	if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
		return luaL_error(L, "cannot change a protected metatable");
	check_no_finalizer(L, 2);
	lua_settop(L, 2);
	lua_setmetatable(L, 1);
	return 1;
}

/* debug.setmetatable(value, mt): as Lua's, without finalizers. May raise. */
static int l_sandbox_debug_setmetatable(lua_State *L)
{
	luaL_argexpected(L, lua_isnoneornil(L, 2) || lua_istable(L, 2), 2, "nil or table");
	check_no_finalizer(L, 2);
	lua_settop(L, 2);
	lua_setmetatable(L, 1);
	return 1;
}

/*
 * Replaces lib.name (a C function without upvalues, as the standard library's
 * are) with fn, which calls it through original(): debug.getupvalue hands out
 * only a userdata, so the unchecked function stays out of Lua's reach.
 */
static void wrap(lua_State *L, const char *lib, const char *name, lua_CFunction fn)
{
	lua_CFunction *slot;

	lua_getglobal(L, lib);
	lua_getfield(L, -1, name);
	slot = lua_newuserdatauv(L, sizeof(*slot), 0);
	*slot = lua_tocfunction(L, -2);
	lua_pushcclosure(L, fn, 1);
	lua_setfield(L, -3, name);
	lua_pop(L, 2);
}

/* io.stdin: a table whose every field raises, so io.stdin:read() says why. */
static void guard_stdin(lua_State *L)
{
	lua_getglobal(L, "io");
	lua_newtable(L);
	lua_createtable(L, 0, 2);
	push_refusal(L, "io.stdin", STDIN_HINT);
	lua_setfield(L, -2, "__index");
	lua_pushliteral(L, "moonvpn.no_stdin");
	lua_setfield(L, -2, "__name");
	lua_setmetatable(L, -2);
	lua_setfield(L, -2, "stdin");
	lua_pop(L, 1);
}

void lua_sandbox_apply(lua_State *L)
{
	refuse_all(L);
	wrap(L, "io", "open", l_sandbox_open);
	wrap(L, "io", "lines", l_sandbox_lines);
	lua_register(L, "load", l_sandbox_load);
	lua_register(L, "loadfile", l_sandbox_loadfile);
	lua_register(L, "dofile", l_sandbox_dofile);
	lua_register(L, "setmetatable", l_sandbox_setmetatable);
	lua_getglobal(L, "debug");
	lua_pushcfunction(L, l_sandbox_debug_setmetatable);
	lua_setfield(L, -2, "setmetatable");
	lua_pop(L, 1);
	guard_stdin(L);
}
