// SPDX-License-Identifier: MIT
/*
 * Deferred authentication in the hooks: client:wait() suspends an on.auth
 * hook until the client answers a challenge (CR_RESPONSE), someone decides
 * (the console's auth(), another hook's vpn.auth_answer), or the time is
 * up. One waiter per client. An answer never resumes the hook from inside
 * the call that gave it: it is kept and the hook resumes at the top of the
 * loop, as every primitive does (lua_hook.c).
 */
#include <lauxlib.h>
#include <stdlib.h>

#include "lua_authwait.h"
#include "lua_hook.h"

#define REG_WAITERS "moonvpn.authwait.waiters" /* peer-id -> waiter userdata */
#define WAITER_MT   "moonvpn.authwait"

enum { AUTHWAIT_VALUES_MAX = 4 };

struct waiter {
	struct hook_call *call;
	lua_State *L; /* the main state: the registry */
	struct ev_loop *loop;
	ev_timer timer;
	lua_Integer peer_id;
	int values; /* a table of the answer's values in the registry, LUA_NOREF: none yet */
	bool answered;
};

/* The waiters table, pushed. */
static void push_waiters(lua_State *L)
{
	if (lua_getfield(L, LUA_REGISTRYINDEX, REG_WAITERS) == LUA_TTABLE)
		return;
	lua_pop(L, 1);
	lua_newtable(L);
	lua_pushvalue(L, -1);
	lua_setfield(L, LUA_REGISTRYINDEX, REG_WAITERS);
}

/* Forgets w: no longer found by its peer-id, its timer stopped, its values released. */
static void forget(struct waiter *w)
{
	ev_timer_stop(w->loop, &w->timer);
	push_waiters(w->L);
	lua_pushnil(w->L);
	lua_rawseti(w->L, -2, w->peer_id);
	lua_pop(w->L, 1);
	luaL_unref(w->L, LUA_REGISTRYINDEX, w->values);
	w->values = LUA_NOREF;
}

/* The answer (or nil, "timeout") goes to the suspended hook. */
static void on_wake(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct waiter *w = t->data;
	struct hook_call *call = w->call;
	lua_State *co = hook_call_thread(call);
	int n = 0;

	(void)loop;
	(void)revents;
	if (w->values != LUA_NOREF) {
		lua_rawgeti(w->L, LUA_REGISTRYINDEX, w->values);
		n = (int)lua_rawlen(w->L, -1);
		for (int i = 1; i <= n; i++)
			lua_rawgeti(w->L, -i, i);
		lua_xmove(w->L, co, n);
		lua_pop(w->L, 1);
	} else {
		lua_pushnil(co);
		lua_pushliteral(co, "timeout");
		n = 2;
	}
	forget(w); /* the userdata may be collected from here: w is not used again */
	hook_call_resume(call, n);
}

/* The hook ended while it waited (its deadline, or its client left). */
static void cancel(void *op)
{
	forget(op);
}

/* hook.auth_wait(peer_id, seconds): suspends this hook until an answer; returns its values. */
static int l_auth_wait(lua_State *L)
{
	lua_Integer id = luaL_checkinteger(L, 1);
	lua_Number seconds = luaL_checknumber(L, 2);
	struct hook_call *call = hook_check_yieldable(L, "client:wait");
	struct hook_runtime *rt = hook_runtime_of(L);
	lua_State *main = hook_runtime_state(rt);
	struct waiter *w;

	luaL_argcheck(L, seconds > 0 && seconds <= 86400, 2, "expected 0 to 86400 seconds");
	push_waiters(main);
	if (lua_rawgeti(main, -1, id) != LUA_TNIL) {
		lua_pop(main, 2);
		return luaL_error(L, "client:wait: another hook already waits for client %d",
				  (int)id);
	}
	lua_pop(main, 1);
	w = lua_newuserdatauv(main, sizeof(*w), 0);
	*w = (struct waiter){ call, main, hook_runtime_loop(rt), { 0 }, id, LUA_NOREF, false };
	luaL_setmetatable(main, WAITER_MT);
	lua_rawseti(main, -2, id); /* anchors w while it waits */
	lua_pop(main, 1);
	ev_timer_init(&w->timer, on_wake, seconds, 0);
	w->timer.data = w;
	ev_timer_start(w->loop, &w->timer);
	hook_call_wait_longer(call, seconds);
	return hook_yield(L, call, cancel, w);
}

/* hook.auth_answer(peer_id, ...): the waiting hook gets the values; false when none waits. */
static int l_auth_answer(lua_State *L)
{
	lua_Integer id = luaL_checkinteger(L, 1);
	int n = lua_gettop(L) - 1;
	struct waiter *w;

	luaL_argcheck(L, n <= AUTHWAIT_VALUES_MAX, AUTHWAIT_VALUES_MAX + 2, "too many values");
	push_waiters(L);
	w = lua_rawgeti(L, -1, id) == LUA_TUSERDATA ? luaL_checkudata(L, -1, WAITER_MT) : NULL;
	lua_pop(L, 2);
	if (!w || w->answered) {
		lua_pushboolean(L, false);
		return 1;
	}
	lua_createtable(L, n, 0);
	for (int i = 1; i <= n; i++) {
		lua_pushvalue(L, i + 1);
		lua_rawseti(L, -2, i);
	}
	lua_xmove(L, w->L, 1);
	w->values = luaL_ref(w->L, LUA_REGISTRYINDEX);
	w->answered = true;
	ev_timer_stop(w->loop, &w->timer);
	ev_timer_set(&w->timer, 0, 0); /* resumed at the top of the loop */
	ev_timer_start(w->loop, &w->timer);
	lua_pushboolean(L, true);
	return 1;
}

bool lua_authwait_answer(lua_State *L, lua_Integer peer_id, const char *kind, const char *text)
{
	bool answered;
	int top = lua_gettop(L);

	lua_pushcfunction(L, l_auth_answer);
	lua_pushinteger(L, peer_id);
	lua_pushstring(L, kind);
	lua_pushstring(L, text);
	answered = lua_pcall(L, 3, 1, 0) == LUA_OK && lua_toboolean(L, -1);
	lua_settop(L, top);
	return answered;
}

void lua_authwait_register(lua_State *L)
{
	luaL_newmetatable(L, WAITER_MT);
	lua_pop(L, 1);
	lua_pushcfunction(L, l_auth_wait);
	lua_setfield(L, -2, "auth_wait");
	lua_pushcfunction(L, l_auth_answer);
	lua_setfield(L, -2, "auth_answer");
}
