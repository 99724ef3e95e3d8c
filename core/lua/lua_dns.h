/* SPDX-License-Identifier: MIT */
/*
 * The client's on.dns hook's argument and answer (README, "Client mode"):
 * the DNS settings a server pushed as a Lua table, and a table the hook
 * returns read back into what goes to the resolver.
 *
 *   { device = "work0", redirect = false,
 *     servers = { { address = "10.8.0.1", port = 53 }, ... },
 *     search_domains = { "corp.example" } }
 */
#ifndef MOONVPN_LUA_DNS_H
#define MOONVPN_LUA_DNS_H

#include <lua.h>
#include <stdbool.h>

#include "resolver.h"

/* Pushes dns, for device, as the table above. */
void lua_dns_push(lua_State *L, const struct resolver_dns *dns, const char *device,
		  bool all_traffic);

/*
 * The table at idx (shaped as above; a server may be a string, its port
 * then 53) into out; 0, or -1 with err naming what is wrong.
 */
int lua_dns_read(lua_State *L, int idx, struct resolver_dns *out, char *err, size_t errlen);

#endif
