/* SPDX-License-Identifier: MIT */
/*
 * client:wait() for deferred authentication: hook.auth_wait(peer_id,
 * seconds) suspends an on.auth hook until hook.auth_answer(peer_id, ...)
 * gives it values (or nil, "timeout"). See lua_authwait.c.
 */
#ifndef MOONVPN_LUA_AUTHWAIT_H
#define MOONVPN_LUA_AUTHWAIT_H

#include <lua.h>
#include <stdbool.h>

/* Adds auth_wait and auth_answer to the table at the top of L (moonvpn.hook). */
void lua_authwait_register(lua_State *L);

/* Answers the hook waiting for peer_id with (kind, text); false when none waits. */
bool lua_authwait_answer(lua_State *L, lua_Integer peer_id, const char *kind, const char *text);

#endif
