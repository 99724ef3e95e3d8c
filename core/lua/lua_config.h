/* SPDX-License-Identifier: MIT */
/*
 * The one boundary where a validated Lua configuration table becomes the
 * C struct config. Validation is not done here (see moonvpn.config).
 */
#ifndef MOONVPN_LUA_CONFIG_H
#define MOONVPN_LUA_CONFIG_H

#include <lua.h>
#include <stddef.h>

#include "config.h"

/* Reads the table at idx into a new *out (owned by the caller); 0 or -errno with err set. */
int lua_config_read(lua_State *L, int idx, struct config **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
