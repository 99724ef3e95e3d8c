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

/* Installs the instruction-budget hook on L; threads created from L inherit it. */
void lua_core_install_budget_hook(lua_State *L);

/* The instruction budget the hook charges (one per VM, in its registry). */
struct lua_core_budget {
	lua_Integer limit;
	lua_Integer remaining;
	bool active;
	bool exhausted;
};

/*
 * Charges what runs from here to lua_core_budget_leave (on any thread of the
 * VM) to a budget of remaining instructions out of limit; the budget that
 * was running is kept in saved. Nests: a hook resumed by another hook.
 */
void lua_core_budget_enter(lua_State *L, lua_Integer limit, lua_Integer remaining,
			   struct lua_core_budget *saved);
/* Restores saved; *remaining is what is left. True when the budget was spent. */
bool lua_core_budget_leave(lua_State *L, const struct lua_core_budget *saved,
			   lua_Integer *remaining);
int luaopen_moonvpn_engine(lua_State *L);

#endif
