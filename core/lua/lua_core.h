/* SPDX-License-Identifier: MIT */
/*
 * Entry points of the Lua C modules the engine preloads: moonvpn.core
 * (pure helpers, also a standalone .so for busted) and moonvpn.engine
 * (the running engine's status and controls; only inside the binary).
 */
#ifndef MOONVPN_LUA_CORE_H
#define MOONVPN_LUA_CORE_H

#include <lua.h>
#include <stdbool.h>

int luaopen_moonvpn_core(lua_State *L);

/*
 * Pushes t[name] / t[i] (t at idx) without metamethods: nil when t is not a
 * table. How the engine's C reads tables Lua made, outside any budget: a
 * metamethod there would run with no limit.
 */
static inline int lua_core_raw_field(lua_State *L, int idx, const char *name)
{
	if (!lua_istable(L, idx)) {
		lua_pushnil(L);
		return LUA_TNIL;
	}
	idx = lua_absindex(L, idx);
	lua_pushstring(L, name);
	return lua_rawget(L, idx);
}

static inline int lua_core_raw_index(lua_State *L, int idx, lua_Integer i)
{
	if (!lua_istable(L, idx)) {
		lua_pushnil(L);
		return LUA_TNIL;
	}
	return lua_rawgeti(L, idx, i);
}

/* #t without __len: 0 when t is not a table. */
static inline lua_Integer lua_core_raw_len(lua_State *L, int idx)
{
	return lua_istable(L, idx) ? (lua_Integer)lua_rawlen(L, idx) : 0;
}

/* Installs the instruction-budget hook on L; threads created from L inherit it. */
void lua_core_install_budget_hook(lua_State *L);

/* The instruction budget and deadline the hook charges (one per VM, in its registry). */
struct lua_core_budget {
	lua_Integer limit;
	lua_Integer remaining;
	lua_Integer entered; /* remaining at lua_core_budget_enter */
	double deadline;     /* lua_core_monotonic() seconds; 0: none */
	bool active;
	bool exhausted;
	bool late;
};

/* How an evaluation under a budget ended. */
enum lua_core_stop {
	LUA_CORE_RAN,	/* within its limits (finished, failed or yielded) */
	LUA_CORE_SPENT, /* stopped: its instructions were spent */
	LUA_CORE_LATE,	/* stopped: still running at its deadline */
};

/* CLOCK_MONOTONIC in seconds: what deadlines are measured in. */
double lua_core_monotonic(void);

/*
 * Charges what runs from here to lua_core_budget_leave (on any thread of the
 * VM) to a budget of remaining instructions out of limit, and stops it once
 * the monotonic clock passes deadline (0: no deadline); the budget that was
 * running is kept in saved. Nests: a hook resumed by another hook. Inside
 * a running budget the new one gets no more than the outer has left and no
 * later deadline, and what it uses is charged to the outer on leave.
 */
void lua_core_budget_enter(lua_State *L, lua_Integer limit, lua_Integer remaining, double deadline,
			   struct lua_core_budget *saved);
/*
 * Restores saved, charged with what ran; *remaining is what is left. Says
 * whether a limit stopped it. lua_core_budget_spent then tells whether the
 * restored outer budget is itself spent (the caller must not go on).
 */
enum lua_core_stop lua_core_budget_leave(lua_State *L, const struct lua_core_budget *saved,
					 lua_Integer *remaining);
/* The VM's budget state, in its registry (stable for the VM's life). */
const struct lua_core_budget *lua_core_budget_state(lua_State *L);
/* The running budget is spent or past its deadline: 0 if not, else its stop. */
enum lua_core_stop lua_core_budget_spent(lua_State *L);
int luaopen_moonvpn_engine(lua_State *L);

/* A registry key: set (true) in the running engine's states, whose core has no resolve. */
#define LUA_CORE_ENGINE_RUNS "moonvpn.engine_runs"

#endif
