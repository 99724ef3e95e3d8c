// SPDX-License-Identifier: MIT
/*
 * moonvpn.core: the pure helpers the Lua library needs from C (address and
 * prefix parsing with inet_pton, so Lua and C agree on what is valid).
 * Nothing here touches the engine, so this module is also built as
 * build/lua/moonvpn/core.so for busted.
 */
#include <lauxlib.h>
#include <lua.h>
#include <sys/socket.h>

#include "ip.h"
#include "lua_core.h"

static int family_number(int family)
{
	return family == AF_INET6 ? 6 : 4;
}

/* parse_ip(text) -> 4 | 6 | nil */
static int l_core_parse_ip(lua_State *L)
{
	struct ip_addr a;

	if (!ip_addr_parse(&a, luaL_checkstring(L, 1)))
		return 0;
	lua_pushinteger(L, family_number(a.family));
	return 1;
}

/* parse_prefix(text) -> { family, len, text, network } | nil */
static int l_core_parse_prefix(lua_State *L)
{
	struct ip_prefix p;
	char buf[IP_PREFIX_TEXT_MAX];

	if (!ip_prefix_parse(&p, luaL_checkstring(L, 1)))
		return 0;
	lua_createtable(L, 0, 4);
	lua_pushinteger(L, family_number(p.addr.family));
	lua_setfield(L, -2, "family");
	lua_pushinteger(L, p.len);
	lua_setfield(L, -2, "len");
	lua_pushstring(L, ip_prefix_format(&p, buf, sizeof(buf)));
	lua_setfield(L, -2, "text");
	ip_prefix_mask(&p);
	lua_pushstring(L, ip_prefix_format(&p, buf, sizeof(buf)));
	lua_setfield(L, -2, "network");
	return 1;
}

/* prefix_host(prefix, n) -> "address" | nil: the n-th address of a prefix */
static int l_core_prefix_host(lua_State *L)
{
	struct ip_prefix p;
	struct ip_addr a;
	char buf[IP_PREFIX_TEXT_MAX];
	lua_Integer n = luaL_checkinteger(L, 2);

	if (!ip_prefix_parse(&p, luaL_checkstring(L, 1)))
		return luaL_argerror(L, 1, "not a CIDR prefix");
	if (n < 0 || !ip_prefix_host(&a, &p, (uint64_t)n))
		return 0;
	lua_pushstring(L, ip_addr_format(&a, buf, sizeof(buf)));
	return 1;
}

static const luaL_Reg core_funcs[] = {
	{ "parse_ip", l_core_parse_ip },
	{ "parse_prefix", l_core_parse_prefix },
	{ "prefix_host", l_core_prefix_host },
	{ NULL, NULL },
};

int luaopen_moonvpn_core(lua_State *L)
{
	luaL_checkversion(L);
	luaL_newlib(L, core_funcs);
	return 1;
}
