/* SPDX-License-Identifier: MIT */
/*
 * What software a client runs, as its key-method-2 peer info tells: for
 * clients() and the client object the hooks get.
 */
#ifndef MOONVPN_LUA_PEER_H
#define MOONVPN_LUA_PEER_H

#include <lua.h>

struct session;

/*
 * Pushes { platform = IV_PLAT, version = IV_VER, gui_version = IV_GUI_VER,
 * sso = { "webauth", ... } (IV_SSO), protocol = { "data-v2", ... } (the
 * IV_PROTO bits by name) }; a field the client did not send is absent.
 */
void lua_peer_push_software(lua_State *L, const struct session *sess);

#endif
