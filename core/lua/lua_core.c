// SPDX-License-Identifier: MIT
/*
 * moonvpn.core: the pure helpers the Lua library needs from C (address and
 * prefix parsing with inet_pton, so Lua and C agree on what is valid).
 * Nothing here touches the engine, so this module is also built as
 * build/lua/moonvpn/core.so for busted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <lauxlib.h>
#include <lua.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "ip.h"
#include "lua_core.h"

static int family_number(int family)
{
	return family == AF_INET6 ? 6 : 4;
}

/* A string argument without embedded NUL bytes (C would see a shorter value), or NULL. */
static const char *check_text(lua_State *L, int arg)
{
	size_t len;
	const char *s = luaL_checklstring(L, arg, &len);

	return strlen(s) == len ? s : NULL;
}

/* parse_ip(text) -> 4 | 6 | nil */
static int l_core_parse_ip(lua_State *L)
{
	const char *text = check_text(L, 1);
	struct ip_addr a;

	if (!text || !ip_addr_parse(&a, text))
		return 0;
	lua_pushinteger(L, family_number(a.family));
	return 1;
}

enum { RESOLVE_ADDRESSES_MAX = 16 };

/*
 * resolve(host) -> { "192.0.2.1", "2001:db8::1", ... } | nil, why: a .ovpn
 * profile's `remote` names, through getaddrinfo (so /etc/hosts and the
 * system's resolver, as OpenVPN's), for `moonvpn --check` to say which has
 * no address. Blocks while it asks, so the running engine's states have no
 * resolve at all (luaopen_moonvpn_core): there, hooks and reloads never
 * wait for it, and the client resolves each name at each attempt
 * (nameres.h). Each address once, in the resolver's order.
 */
static int l_core_resolve(lua_State *L)
{
	const char *host = luaL_checkstring(L, 1);
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_ADDRCONFIG },
			*list = NULL, *ai;
	char seen[RESOLVE_ADDRESSES_MAX][INET6_ADDRSTRLEN];
	int rc = getaddrinfo(host, NULL, &hints, &list), n = 0;

	if (rc != 0) {
		lua_pushnil(L);
		lua_pushstring(L, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return 2;
	}
	lua_newtable(L);
	for (ai = list; ai && n < RESOLVE_ADDRESSES_MAX; ai = ai->ai_next) {
		const void *addr =
			ai->ai_family == AF_INET6
				? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
				: (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		bool dup = false;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    !inet_ntop(ai->ai_family, addr, seen[n], sizeof(seen[n])))
			continue;
		for (int i = 0; i < n && !dup; i++)
			dup = strcmp(seen[i], seen[n]) == 0;
		if (dup)
			continue;
		lua_pushstring(L, seen[n]);
		lua_rawseti(L, -2, ++n);
	}
	freeaddrinfo(list);
	return 1;
}

/* parse_prefix(text) -> { family, len, text, network } | nil */
static int l_core_parse_prefix(lua_State *L)
{
	const char *text = check_text(L, 1);
	struct ip_prefix p;
	char buf[IP_PREFIX_TEXT_MAX];

	if (!text || !ip_prefix_parse(&p, text))
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

/*
 * Instruction budgets and deadlines. A count hook on the main thread,
 * inherited by every coroutine created from it, charges BUDGET_STEP
 * instructions at a time to the budget of the running evaluation, and at
 * the same moments reads the monotonic clock against its deadline: a loop
 * is stopped by whichever comes first, so a large instruction budget cannot
 * hold the loop past the wall-clock limit (one clock read per BUDGET_STEP
 * instructions, a vDSO call, costs well under 1%). Once either is spent the
 * hook fires on every instruction, so an error caught by pcall is raised
 * again at once and the evaluation cannot go on. Budgets nest (a reload
 * from the console, run_budgeted in a hook), the inner one within what the
 * outer has left, instructions and time; the state lives in the registry so
 * that a standalone moonvpn.core (busted) works the same as the engine.
 */
#define BUDGET_KEY "moonvpn.core.budget"

enum { BUDGET_STEP = 1000 };

#define budget lua_core_budget

double lua_core_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct budget *get_budget(lua_State *L)
{
	struct budget *b;

	if (lua_getfield(L, LUA_REGISTRYINDEX, BUDGET_KEY) == LUA_TUSERDATA) {
		b = lua_touserdata(L, -1);
		lua_pop(L, 1);
		return b;
	}
	lua_pop(L, 1);
	b = lua_newuserdatauv(L, sizeof(*b), 0);
	memset(b, 0, sizeof(*b));
	lua_setfield(L, LUA_REGISTRYINDEX, BUDGET_KEY);
	return b;
}

/* Charges one step; true when the budget or the deadline is spent now. */
static bool charge(struct budget *b)
{
	b->remaining -= BUDGET_STEP;
	if (b->remaining <= 0)
		b->exhausted = true;
	else if (b->deadline > 0 && lua_core_monotonic() >= b->deadline)
		b->late = true;
	return b->exhausted || b->late;
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
	struct budget *b;

	(void)ar;
	lua_getfield(L, LUA_REGISTRYINDEX, BUDGET_KEY);
	b = lua_touserdata(L, -1);
	lua_pop(L, 1);
	if (!b || !b->active)
		return;
	if (!b->exhausted && !b->late && !charge(b))
		return;
	lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
	if (b->late)
		luaL_error(L, "evaluation stopped at its deadline, still running (endless loop?)");
	luaL_error(L, "evaluation stopped after %I instructions (endless loop?)", b->limit);
}

void lua_core_install_budget_hook(lua_State *L)
{
	get_budget(L);
	lua_sethook(L, budget_hook, LUA_MASKCOUNT, BUDGET_STEP);
}

void lua_core_budget_enter(lua_State *L, lua_Integer limit, lua_Integer remaining, double deadline,
			   struct lua_core_budget *saved)
{
	struct budget *b = get_budget(L);

	*saved = *b;
	if (saved->active) {
		/* An inner budget cannot outlast the one it runs in. */
		if (remaining > saved->remaining)
			remaining = saved->remaining;
		if (saved->deadline > 0 && (deadline <= 0 || deadline > saved->deadline))
			deadline = saved->deadline;
	}
	*b = (struct budget){ .limit = limit,
			      .remaining = remaining,
			      .entered = remaining,
			      .deadline = deadline,
			      .active = true };
}

enum lua_core_stop lua_core_budget_leave(lua_State *L, const struct lua_core_budget *saved,
					 lua_Integer *remaining)
{
	struct budget *b = get_budget(L);
	enum lua_core_stop stop = b->exhausted ? LUA_CORE_SPENT
				  : b->late    ? LUA_CORE_LATE
					       : LUA_CORE_RAN;

	lua_Integer used = b->entered - b->remaining;

	*remaining = b->remaining;
	*b = *saved;
	if (b->active) {
		b->remaining -= used > 0 ? used : 0;
		if (b->remaining <= 0)
			b->exhausted = true;
		else if (b->deadline > 0 && lua_core_monotonic() >= b->deadline)
			b->late = true;
	}
	return stop;
}

const struct lua_core_budget *lua_core_budget_state(lua_State *L)
{
	return get_budget(L);
}

enum lua_core_stop lua_core_budget_spent(lua_State *L)
{
	struct budget *b = get_budget(L);

	if (!b->active)
		return LUA_CORE_RAN;
	return b->exhausted ? LUA_CORE_SPENT : b->late ? LUA_CORE_LATE : LUA_CORE_RAN;
}

/* The limits argument of run_budgeted: instructions, or { instructions = n, seconds = s }. */
static void check_limits(lua_State *L, lua_Integer *limit, lua_Number *seconds)
{
	*seconds = 0;
	if (!lua_istable(L, 1)) {
		*limit = luaL_checkinteger(L, 1);
	} else {
		lua_getfield(L, 1, "instructions");
		lua_getfield(L, 1, "seconds");
		*limit = luaL_checkinteger(L, -2);
		*seconds = luaL_optnumber(L, -1, 0);
		lua_pop(L, 2);
		luaL_argcheck(L, *seconds >= 0, 1, "seconds must not be negative");
	}
	luaL_argcheck(L, *limit > 0, 1, "the budget must be positive");
}

/*
 * run_budgeted(limits, fn, ...) -> true, results... | false, message (like pcall).
 * limits: instructions, or { instructions = n, seconds = s } for a deadline too.
 */
static int l_core_run_budgeted(lua_State *L)
{
	struct budget outer;
	lua_Integer limit, left;
	lua_Number seconds;
	enum lua_core_stop stop;
	int status;

	check_limits(L, &limit, &seconds);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_core_install_budget_hook(L);
	lua_core_budget_enter(L, limit, limit, seconds > 0 ? lua_core_monotonic() + seconds : 0,
			      &outer);
	status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
	stop = lua_core_budget_leave(L, &outer, &left);
	lua_sethook(L, budget_hook, LUA_MASKCOUNT, BUDGET_STEP);
	/* The evaluation this runs in is spent too: stop it, not just fn. */
	if (lua_core_budget_spent(L) != LUA_CORE_RAN) {
		lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
		return luaL_error(
			L,
			lua_core_budget_spent(L) == LUA_CORE_LATE
				? "evaluation stopped at its deadline, still running "
				  "(endless loop?)"
				: "evaluation stopped after %I instructions (endless loop?)",
			outer.limit);
	}
	if (stop != LUA_CORE_RAN) {
		lua_settop(L, 1);
		lua_pushboolean(L, 0);
		if (stop == LUA_CORE_LATE)
			lua_pushfstring(L,
					"evaluation stopped at its %f s deadline (endless loop?)",
					seconds);
		else
			lua_pushfstring(L,
					"evaluation stopped after %I instructions (endless loop?)",
					limit);
		return 2;
	}
	lua_pushboolean(L, status == LUA_OK);
	lua_insert(L, 2);
	return lua_gettop(L) - 1;
}

/* hmac(digest, key, data) -> raw bytes; raises for an unknown digest */
static int l_core_hmac(lua_State *L)
{
	const char *digest = luaL_checkstring(L, 1);
	size_t key_len, data_len, out_len = 0;
	const char *key = luaL_checklstring(L, 2, &key_len);
	const char *data = luaL_checklstring(L, 3, &data_len);
	uint8_t out[CRYPTO_HMAC_MAX];

	if (crypto_hmac_oneshot(digest, key, key_len, data, data_len, out, sizeof(out), &out_len) <
	    0)
		return luaL_argerror(L, 1,
				     "not a digest OpenSSL knows (SHA1, SHA256, SHA512, ...)");
	lua_pushlstring(L, (const char *)out, out_len);
	return 1;
}

/* equal(a, b) -> boolean, in time independent of where they differ (secrets, codes) */
static int l_core_equal(lua_State *L)
{
	size_t la, lb;
	const char *a = luaL_checklstring(L, 1, &la);
	const char *b = luaL_checklstring(L, 2, &lb);

	lua_pushboolean(L, la == lb && crypto_equal(a, b, la));
	return 1;
}

/* file_stamp(path) -> "inode:size:mtime" | nil, message: tells a file that changed */
static int l_core_file_stamp(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct stat st;

	if (stat(path, &st) < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, strerror(errno));
		return 2;
	}
	lua_pushfstring(L, "%I:%I:%I.%I", (lua_Integer)st.st_ino, (lua_Integer)st.st_size,
			(lua_Integer)st.st_mtim.tv_sec, (lua_Integer)st.st_mtim.tv_nsec);
	return 1;
}

/* online_cpus() -> the CPUs online now (at least 1): the default count of data-path workers */
static int l_core_online_cpus(lua_State *L)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	lua_pushinteger(L, n > 0 ? n : 1);
	return 1;
}

/* user(name) -> uid, gid (its primary group) | nil: an account in the system's user database */
static int l_core_user(lua_State *L)
{
	const char *name = check_text(L, 1);
	struct passwd *pw;

	if (!name || !(pw = getpwnam(name)))
		return 0;
	lua_pushinteger(L, (lua_Integer)pw->pw_uid);
	lua_pushinteger(L, (lua_Integer)pw->pw_gid);
	return 2;
}

/* group(name) -> gid | nil */
static int l_core_group(lua_State *L)
{
	const char *name = check_text(L, 1);
	struct group *gr;

	if (!name || !(gr = getgrnam(name)))
		return 0;
	lua_pushinteger(L, (lua_Integer)gr->gr_gid);
	return 1;
}

static const luaL_Reg core_funcs[] = {
	{ "hmac", l_core_hmac },
	{ "equal", l_core_equal },
	{ "file_stamp", l_core_file_stamp },
	{ "run_budgeted", l_core_run_budgeted },
	{ "parse_ip", l_core_parse_ip },
	{ "resolve", l_core_resolve },
	{ "parse_prefix", l_core_parse_prefix },
	{ "prefix_host", l_core_prefix_host },
	{ "user", l_core_user },
	{ "online_cpus", l_core_online_cpus },
	{ "group", l_core_group },
	{ NULL, NULL },
};

int luaopen_moonvpn_core(lua_State *L)
{
	luaL_checkversion(L);
	luaL_newlib(L, core_funcs);
	if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_CORE_ENGINE_RUNS) == LUA_TBOOLEAN) {
		lua_pushnil(L); /* a blocking resolve would stall the loop: see l_core_resolve */
		lua_setfield(L, -3, "resolve");
	}
	lua_pop(L, 1);
	return 1;
}
