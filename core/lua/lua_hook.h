/* SPDX-License-Identifier: MIT */
/*
 * The hook runtime: every call of an operator's Lua function on behalf of
 * the engine (auth, connect, disconnect, timers) runs in a coroutine of its
 * own, with a wall-clock deadline (a libev timer) and an instruction budget
 * (the count hook of lua_core.c). A hook may yield only through the
 * engine's primitives (vpn.sleep here, vpn.exec in lua_exec.c), which
 * register one pending operation and are resumed from a libev callback at
 * the top of the loop; meanwhile every other peer goes on. An error, a
 * timeout or a spent budget ends the call with one log line (the traceback
 * folded onto it) and the caller fails closed.
 *
 * Owns the live calls, the child processes of vpn.exec and the timers of
 * vpn.after/vpn.every. What a hook decides, and what its results mean,
 * belongs to the caller (script.c).
 */
#ifndef MOONVPN_LUA_HOOK_H
#define MOONVPN_LUA_HOOK_H

#include <ev.h>
#include <lua.h>
#include <stdbool.h>

#include "child.h"
#include "log.h"
#include "worker.h"

enum {
	HOOK_CALLS_MAX = 4096,	/* hook calls in flight at once */
	HOOK_TIMERS_MAX = 1024, /* vpn.after/vpn.every timers at once */
	HOOK_CHILDREN_MAX = 64, /* vpn.exec programs running at once */
	HOOK_NAME_MAX = 48,
	HOOK_EXEC_TIMEOUT_SECONDS = 10, /* vpn.exec's default */
};

#define HOOK_TIMEOUT_DEFAULT_SECONDS 30.0
#define HOOK_INSTRUCTIONS_DEFAULT    10000000

struct hook_limits {
	double timeout;		  /* seconds from start to result, sleeps included */
	lua_Integer instructions; /* run by the call in all its resumes */
};

struct hook_runtime;
struct hook_call;

/*
 * The end of a call: error is NULL and the function's nres results are on
 * co's stack (valid during the callback only), or error says why it failed
 * (already logged).
 */
typedef void (*hook_done_fn)(void *ctx, lua_State *co, int nres, const char *error);

/* A runtime for the VM L on loop. The log must outlive it. */
struct hook_runtime *hook_runtime_new(lua_State *L, struct ev_loop *loop, const struct log *lg)
	__attribute__((warn_unused_result));
/* Ends every call (their done is not called), timer and program. NULL is a no-op. */
void hook_runtime_free(struct hook_runtime *rt);
void hook_runtime_set_limits(struct hook_runtime *rt, const struct hook_limits *limits);
/* A call that finished (not one cancelled): its name, seconds from start to result, failed. */
typedef void (*hook_observe_fn)(void *ctx, const char *name, double seconds, bool failed);
/* fn (NULL: none) is told of every call that finishes. */
void hook_runtime_set_observer(struct hook_runtime *rt, hook_observe_fn fn, void *ctx);
size_t hook_runtime_calls(const struct hook_runtime *rt);
/* True while a hook runs (not merely waits): things that would pull the ground from under it,
 * such as a reload, are refused then. */
bool hook_runtime_in_hook(const struct hook_runtime *rt);

/*
 * Calls the function below the nargs arguments at the top of L (both are
 * popped) in a new coroutine, as hook `name` (for the log). done (may be
 * NULL) is called when it finishes, possibly before this returns. Returns
 * the call while it is pending, NULL once finished.
 */
struct hook_call *hook_call_start(struct hook_runtime *rt, lua_State *L, int nargs,
				  const char *name, hook_done_fn done, void *ctx);
/* Ends a pending call: its operation is cancelled, done is not called. */
void hook_call_cancel(struct hook_call *call);

/*
 * Timers belong to a generation: a configuration load opens one, and a
 * committed configuration ends the timers of the ones before it (a reload
 * does not double them); a load that fails ends its own.
 */
unsigned hook_generation_open(struct hook_runtime *rt);
void hook_generation_commit(struct hook_runtime *rt, unsigned generation);
void hook_generation_abandon(struct hook_runtime *rt, unsigned generation);

/* --- for the primitives (lua_exec.c, timers) --------------------------------- */

/* The runtime of L's VM. May raise when there is none. */
struct hook_runtime *hook_runtime_of(lua_State *L);
struct child_set *hook_runtime_children(struct hook_runtime *rt);
/* The worker threads (started on first use); NULL when they cannot start. */
struct worker *hook_runtime_worker(struct hook_runtime *rt);

/* The call whose own coroutine is L, or raise "<api> is only allowed in a hook". May raise. */
struct hook_call *hook_check_yieldable(lua_State *L, const char *api);

/*
 * Suspends the call until hook_call_resume; cancel(op) is run instead if the
 * call ends first (deadline). Use as `return hook_yield(L, call, cancel, op);`.
 */
int hook_yield(lua_State *L, struct hook_call *call, void (*cancel)(void *op), void *op);
/* The coroutine, to push the n values the primitive returns before resuming. */
lua_State *hook_call_thread(struct hook_call *call);
/*
 * A primitive that waits for a person (a login, a one-time code) lets its
 * call wait seconds more: the call's deadline becomes at least now +
 * seconds + hooks.timeout (for what it does once the answer is in).
 */
void hook_call_wait_longer(struct hook_call *call, double seconds);
/* The runtime's main Lua state (its registry) and its event loop. */
lua_State *hook_runtime_state(struct hook_runtime *rt);
struct ev_loop *hook_runtime_loop(struct hook_runtime *rt);
void hook_call_resume(struct hook_call *call, int nvalues);

/* moonvpn.hook: sleep, after, every and exec. */
int luaopen_moonvpn_hook(lua_State *L);
/* Add exec (lua_exec.c) and crypt_verify (lua_passwd.c) to the module table on top of L. */
void lua_exec_register(lua_State *L);
void lua_passwd_register(lua_State *L);

#endif
