/* SPDX-License-Identifier: MIT */
/*
 * The bridge from a policy compiled in Lua (moonvpn.policy.compile) to the
 * C policy the data path matches. Only script.c uses it.
 */
#ifndef MOONVPN_LUA_POLICY_H
#define MOONVPN_LUA_POLICY_H

#include <lua.h>
#include <stddef.h>

#include "policy.h"

/* The compiled policy table at idx as a new policy, or NULL with err set. */
struct policy *lua_policy_read(lua_State *L, int idx, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
