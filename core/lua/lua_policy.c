// SPDX-License-Identifier: MIT
/*
 * Reads a policy compiled by moonvpn.policy.compile into the C form the
 * data path matches (policy.c). The table was validated in Lua; anything
 * that still does not fit is an error here, never a guess.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_core.h"
#include "lua_policy.h"

struct reading {
	struct policy_rule *rules;
	struct ip_prefix *prefixes;
	size_t n_rules, n_prefixes, cap_prefixes;
	enum policy_verdict dflt;
	char *err;
	size_t errlen;
	struct policy *out;
};

static lua_Integer int_field(lua_State *L, int t, const char *name)
{
	lua_Integer v;

	lua_core_raw_field(L, t, name);
	v = lua_tointeger(L, -1);
	lua_pop(L, 1);
	return v;
}

/* { lo, hi } at field name of the table at t. */
static void range_field(lua_State *L, int t, const char *name, uint16_t *lo, uint16_t *hi)
{
	lua_core_raw_field(L, t, name);
	lua_core_raw_index(L, -1, 1);
	lua_core_raw_index(L, -2, 2);
	*lo = (uint16_t)lua_tointeger(L, -2);
	*hi = (uint16_t)lua_tointeger(L, -1);
	lua_pop(L, 3);
}

/* Appends the CIDR strings at field name; their place in the prefixes. */
static bool prefixes_field(lua_State *L, int t, const char *name, struct reading *r,
			   uint32_t *first, uint32_t *n)
{
	lua_core_raw_field(L, t, name);
	*first = (uint32_t)r->n_prefixes;
	*n = 0;
	for (lua_Integer i = 1; lua_core_raw_index(L, -1, i) == LUA_TSTRING; i++, (*n)++) {
		if (r->n_prefixes == r->cap_prefixes) {
			size_t cap = r->cap_prefixes ? 2 * r->cap_prefixes : 64;
			struct ip_prefix *p;

			if (cap > POLICY_PREFIXES_MAX ||
			    !(p = realloc(r->prefixes, cap * sizeof(*p))))
				return false;
			r->prefixes = p;
			r->cap_prefixes = cap;
		}
		if (!ip_prefix_parse(&r->prefixes[r->n_prefixes], lua_tostring(L, -1)))
			return false;
		r->n_prefixes++;
		lua_pop(L, 1);
	}
	lua_pop(L, 2);
	return true;
}

static bool read_rule(lua_State *L, int t, struct reading *r, struct policy_rule *rule)
{
	lua_core_raw_field(L, t, "verdict");
	if (!policy_verdict_parse(lua_tostring(L, -1), &rule->verdict))
		return false;
	lua_pop(L, 1);
	rule->directions = (uint8_t)int_field(L, t, "directions");
	rule->proto = (int)int_field(L, t, "proto");
	rule->icmp_type = (int)int_field(L, t, "icmp_type");
	rule->groups = (uint64_t)int_field(L, t, "groups");
	range_field(L, t, "sport", &rule->sport_lo, &rule->sport_hi);
	range_field(L, t, "dport", &rule->dport_lo, &rule->dport_hi);
	return prefixes_field(L, t, "src", r, &rule->src, &rule->n_src) &&
	       prefixes_field(L, t, "dst", r, &rule->dst, &rule->n_dst);
}

/* Under pcall: the compiled table at 1, the reading at 2 (a light userdata). */
static int read_protected(lua_State *L)
{
	struct reading *r = lua_touserdata(L, 2);
	size_t n;

	lua_core_raw_field(L, 1, "default");
	if (!policy_verdict_parse(lua_tostring(L, -1), &r->dflt))
		return luaL_error(L, "policy: the default is not a verdict");
	lua_core_raw_field(L, 1, "rules");
	n = (size_t)lua_rawlen(L, -1);
	if (n > POLICY_RULES_MAX || !(r->rules = calloc(n ? n : 1, sizeof(*r->rules))))
		return luaL_error(L, "policy: %d rules is too many", (int)n);
	for (size_t i = 0; i < n; i++, r->n_rules++) {
		lua_core_raw_index(L, -1, (lua_Integer)(i + 1));
		if (!lua_istable(L, -1) || !read_rule(L, lua_gettop(L), r, &r->rules[i]))
			return luaL_error(L, "policy: rule %d cannot be read", (int)(i + 1));
		lua_pop(L, 1);
	}
	r->out = policy_new(r->rules, r->n_rules, r->prefixes, r->n_prefixes, r->dflt);
	if (!r->out)
		return luaL_error(L, "policy: out of memory");
	return 0;
}

struct policy *lua_policy_read(lua_State *L, int idx, char *err, size_t errlen)
{
	struct reading r = { 0 };

	lua_pushcfunction(L, read_protected);
	lua_pushvalue(L, idx < 0 ? idx - 1 : idx);
	lua_pushlightuserdata(L, &r);
	if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
		snprintf(err, errlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "policy");
		lua_pop(L, 1);
		policy_put(r.out);
		r.out = NULL;
	}
	free(r.rules);
	free(r.prefixes);
	return r.out;
}
