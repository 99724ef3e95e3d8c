// SPDX-License-Identifier: MIT
/*
 * vpn.exec { "program", "arg", ..., stdin = "...", env = { NAME = "value" },
 * timeout = 10 }: runs a program from a hook without blocking the engine
 * (child.c), suspends only the calling hook, and returns
 * status, stdout, stderr (status 128+N and a fourth value saying why when
 * the program was killed by signal N or timed out), or nil, message, code
 * when it could not be started.
 */
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "lua_hook.h"

extern char **environ;

struct exec_op {
	struct hook_call *call;
	struct child *child;
	double timeout;
};

static void cancel_exec(void *op)
{
	struct exec_op *x = op;

	child_cancel(x->child);
	free(x);
}

static void on_exec_done(void *ctx, const struct child_result *r)
{
	struct exec_op *x = ctx;
	struct hook_call *call = x->call;
	lua_State *co = hook_call_thread(call);
	int n = 3;

	/* An unknown status (-1) is never 0: a verify script must not pass by accident. */
	lua_pushinteger(co, r->signal ? 128 + r->signal : r->exit_code);
	lua_pushlstring(co, r->out, r->out_len);
	lua_pushlstring(co, r->err, r->err_len);
	if (r->timed_out) {
		char why[64];

		snprintf(why, sizeof(why), "timed out after %g s", x->timeout);
		lua_pushstring(co, why);
		n++;
	} else if (r->signal) {
		lua_pushfstring(co, "killed by signal %d", r->signal);
		n++;
	}
	free(x);
	hook_call_resume(call, n);
}

/* argv from the array part of the table at 1, into a userdata kept on the stack. May raise. */
static const char **read_argv(lua_State *L)
{
	lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
	const char **argv;

	luaL_argcheck(L, n >= 1, 1, "expected { \"program\", \"arg\", ... } with a program");
	luaL_argcheck(L, n <= CHILD_ARGS_MAX, 1, "too many arguments");
	argv = lua_newuserdatauv(L, sizeof(*argv) * (size_t)(n + 1), 0);
	for (lua_Integer i = 1; i <= n; i++) {
		if (lua_rawgeti(L, 1, i) != LUA_TSTRING)
			luaL_error(L,
				   "bad argument #1 to 'exec' (argv[%I] must be a string, got %s)",
				   i, luaL_typename(L, -1));
		argv[i - 1] = lua_tostring(L, -1);
		lua_pop(L, 1); /* still referenced by the table */
	}
	argv[n] = NULL;
	return argv;
}

static bool overridden(lua_State *L, int env, const char *entry)
{
	const char *eq = strchr(entry, '=');
	bool found;

	if (!eq)
		return false;
	lua_pushlstring(L, entry, (size_t)(eq - entry));
	found = lua_rawget(L, env) != LUA_TNIL;
	lua_pop(L, 1);
	return found;
}

/* The engine's environment with the table at env laid over it (false removes). May raise. */
static const char **read_env(lua_State *L, int env)
{
	size_t n_inherited = 0, n = 0, i = 0;
	const char **envp;

	for (char **e = environ; *e; e++)
		n_inherited++;
	lua_pushnil(L);
	while (lua_next(L, env)) {
		if (lua_type(L, -2) != LUA_TSTRING || strchr(lua_tostring(L, -2), '=') ||
		    (lua_type(L, -1) != LUA_TSTRING &&
		     !(lua_isboolean(L, -1) && !lua_toboolean(L, -1))))
			luaL_error(L, "bad argument #1 to 'exec' (env: expected NAME = \"value\" "
				      "or NAME = false)");
		n++;
		lua_pop(L, 1);
	}
	luaL_argcheck(L, n <= CHILD_ENV_MAX, 1, "env: too many variables");
	envp = lua_newuserdatauv(L, sizeof(*envp) * (n_inherited + n + 1), 1);
	lua_createtable(L, (int)n, 0); /* keeps the NAME=value strings alive */
	for (char **e = environ; *e; e++)
		if (!overridden(L, env, *e))
			envp[i++] = *e;
	lua_pushnil(L);
	while (lua_next(L, env)) {
		if (lua_type(L, -1) == LUA_TSTRING) {
			envp[i++] = lua_pushfstring(L, "%s=%s", lua_tostring(L, -2),
						    lua_tostring(L, -1));
			lua_rawseti(L, -4, (lua_Integer)i);
		}
		lua_pop(L, 1);
	}
	lua_setiuservalue(L, -2, 1);
	envp[i] = NULL;
	return envp;
}

static double read_timeout(lua_State *L)
{
	lua_Number t;

	if (lua_getfield(L, 1, "timeout") == LUA_TNIL) {
		lua_pop(L, 1);
		return HOOK_EXEC_TIMEOUT_SECONDS;
	}
	t = luaL_checknumber(L, -1);
	luaL_argcheck(L, t > 0 && t <= 86400, 1, "timeout: expected 0 to 86400 seconds");
	lua_pop(L, 1);
	return t;
}

/* vpn.exec{ argv..., stdin=, env=, timeout= }. May raise, yields. */
static int l_hook_exec(lua_State *L)
{
	struct hook_call *call = hook_check_yieldable(L, "vpn.exec");
	struct hook_runtime *rt = hook_runtime_of(L);
	struct child_params p = { 0 };
	struct exec_op *x;
	char err[256];
	int rc;

	luaL_checktype(L, 1, LUA_TTABLE);
	p.argv = read_argv(L);
	p.timeout = read_timeout(L);
	if (lua_getfield(L, 1, "stdin") != LUA_TNIL)
		p.input = luaL_checklstring(L, -1, &p.input_len);
	if (lua_getfield(L, 1, "env") != LUA_TNIL) {
		luaL_checktype(L, -1, LUA_TTABLE);
		p.envp = read_env(L, lua_gettop(L));
	}
	if (child_set_running(hook_runtime_children(rt)) >= HOOK_CHILDREN_MAX) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s: too many programs running (at most %d)", p.argv[0],
				HOOK_CHILDREN_MAX);
		lua_pushliteral(L, "EAGAIN");
		return 3;
	}
	if (!(x = calloc(1, sizeof(*x))))
		return luaL_error(L, "out of memory");
	x->call = call;
	x->timeout = p.timeout;
	rc = child_spawn(hook_runtime_children(rt), &p, on_exec_done, x, &x->child, err,
			 sizeof(err));
	if (rc < 0) {
		free(x);
		lua_pushnil(L);
		lua_pushstring(L, err);
		lua_pushstring(L, rc == -ENOENT ? "ENOENT" : rc == -EACCES ? "EACCES" : "EIO");
		return 3;
	}
	return hook_yield(L, call, cancel_exec, x);
}

void lua_exec_register(lua_State *L)
{
	lua_pushcfunction(L, l_hook_exec);
	lua_setfield(L, -2, "exec");
}
