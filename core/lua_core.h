/* SPDX-License-Identifier: MIT */
/*
 * Entry points of the Lua C modules the engine preloads: moonvpn.core
 * (pure helpers, also a standalone .so for busted) and moonvpn.engine
 * (the running engine's status and controls; only inside the binary).
 */
#ifndef MOONVPN_LUA_CORE_H
#define MOONVPN_LUA_CORE_H

#include <lua.h>

int luaopen_moonvpn_core(lua_State *L);

/* Installs the instruction-budget hook on L; threads created from L inherit it. */
void lua_core_install_budget_hook(lua_State *L);
int luaopen_moonvpn_engine(lua_State *L);

#endif
