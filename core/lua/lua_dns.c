// SPDX-License-Identifier: MIT
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "lua_core.h"
#include "lua_dns.h"
#include "pushopts.h"

void lua_dns_push(lua_State *L, const struct resolver_dns *dns, const char *device,
		  bool all_traffic)
{
	char text[IP_PREFIX_TEXT_MAX], domains[RESOLVER_DOMAINS_MAX], *save = NULL;
	int k = 0;

	lua_createtable(L, 0, 4);
	lua_pushstring(L, device);
	lua_setfield(L, -2, "device");
	lua_pushboolean(L, all_traffic);
	lua_setfield(L, -2, "redirect");
	lua_createtable(L, (int)dns->n, 0);
	for (size_t i = 0; i < dns->n; i++) {
		lua_createtable(L, 0, 2);
		lua_pushstring(L, ip_addr_format(&dns->servers[i], text, sizeof(text)));
		lua_setfield(L, -2, "address");
		lua_pushinteger(L, dns->ports[i] ? dns->ports[i] : 53);
		lua_setfield(L, -2, "port");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "servers");
	lua_newtable(L);
	snprintf(domains, sizeof(domains), "%s", dns->domains);
	for (char *d = strtok_r(domains, " ", &save); d; d = strtok_r(NULL, " ", &save)) {
		lua_pushstring(L, d);
		lua_rawseti(L, -2, ++k);
	}
	lua_setfield(L, -2, "search_domains");
}

/* servers[i], the table or string on top, into out's next server. */
static int read_server(lua_State *L, size_t i, struct resolver_dns *out, char *err, size_t errlen)
{
	lua_Integer port = 53;
	const char *addr = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;

	if (lua_istable(L, -1)) {
		if (lua_core_raw_field(L, -1, "address") == LUA_TSTRING)
			addr = lua_tostring(L, -1);
		lua_core_raw_field(L, -2, "port");
		if (!lua_isnil(L, -1))
			port = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
		lua_pop(L, 1); /* the address stays below, anchoring addr */
	}
	if (!addr || !ip_addr_parse(&out->servers[out->n], addr)) {
		snprintf(err, errlen,
			 "servers[%zu]: expected an IP address or { address = \"IP\", "
			 "port = 53 }",
			 i);
		return -1;
	}
	if (port < 1 || port > 65535) {
		snprintf(err, errlen, "servers[%zu].port: expected an integer 1 to 65535", i);
		return -1;
	}
	out->ports[out->n++] = (uint16_t)(port == 53 ? 0 : port);
	return 0;
}

static int read_domains(lua_State *L, struct resolver_dns *out, char *err, size_t errlen)
{
	size_t len = 0, n = lua_rawlen(L, -1);

	for (size_t i = 1; i <= n; i++) {
		const char *d = lua_rawgeti(L, -1, (lua_Integer)i) == LUA_TSTRING
					? lua_tostring(L, -1)
					: NULL;

		if (!d || !push_domain_valid(d)) {
			lua_pop(L, 1);
			snprintf(err, errlen, "search_domains[%zu]: expected a domain name", i);
			return -1;
		}
		len += (size_t)snprintf(out->domains + len,
					len < sizeof(out->domains) ? sizeof(out->domains) - len : 0,
					"%s%s", len ? " " : "", d);
		lua_pop(L, 1);
	}
	if (len >= sizeof(out->domains)) {
		snprintf(err, errlen, "search_domains: more than %d bytes",
			 RESOLVER_DOMAINS_MAX - 1);
		return -1;
	}
	return 0;
}

int lua_dns_read(lua_State *L, int idx, struct resolver_dns *out, char *err, size_t errlen)
{
	int top = lua_gettop(L), rc = 0;
	size_t n;

	idx = lua_absindex(L, idx);
	memset(out, 0, sizeof(*out));
	if (lua_core_raw_field(L, idx, "servers") != LUA_TNIL) {
		n = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
		if (!lua_istable(L, -1) || n > RESOLVER_SERVERS_MAX) {
			snprintf(err, errlen, "servers: expected a list of at most %d servers",
				 RESOLVER_SERVERS_MAX);
			rc = -1;
		}
		for (size_t i = 1; rc == 0 && i <= n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i);
			rc = read_server(L, i, out, err, errlen);
			lua_settop(L, top + 1);
		}
	}
	lua_settop(L, top);
	if (rc == 0 && lua_core_raw_field(L, idx, "search_domains") != LUA_TNIL) {
		if (lua_istable(L, -1)) {
			rc = read_domains(L, out, err, errlen);
		} else {
			snprintf(err, errlen, "search_domains: expected a list of domain names");
			rc = -1;
		}
	}
	lua_settop(L, top);
	return rc;
}
