// SPDX-License-Identifier: MIT
/*
 * moonvpn.hook: the hook runtime (see lua_hook.h), vpn.sleep and the
 * timers of vpn.after and vpn.every. The model is OpenResty's cosocket
 * (ngx_http_lua_sleep.c): a primitive registers one pending operation and
 * yields; a libev callback at the top of the loop resumes the coroutine.
 */
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_authwait.h"
#include "lua_core.h"
#include "lua_hook.h"

#define REG_RUNTIME "moonvpn.hook.runtime"
#define TIMER_MT    "moonvpn.timer"

struct hook_call {
	struct hook_runtime *rt;
	struct hook_call *prev, *next;
	lua_State *co;
	int ref; /* anchors co */
	char name[HOOK_NAME_MAX];
	lua_Integer remaining;
	double deadline_at; /* lua_core_monotonic(): a call running Lua is stopped there too */
	ev_timer deadline;
	ev_timer sleep;
	hook_done_fn done;
	void *ctx;
	void (*op_cancel)(void *op); /* the pending primitive, while suspended */
	void *op;
	bool *finished; /* set by finish() while hook_call_start waits for the first yield */
	double started; /* lua_core_monotonic(), for the observer */
};

struct hook_timer;

struct hook_runtime {
	lua_State *L;
	struct ev_loop *loop;
	const struct log *log;
	struct hook_limits limits;
	struct hook_call *calls;
	size_t n_calls;
	struct hook_call *current; /* being resumed */
	struct child_set *children;
	struct worker *worker;	   /* started on first use */
	struct hook_timer *timers; /* anchored: scheduled or running */
	hook_observe_fn observe;   /* told of each call that finished (metrics) */
	void *observe_ctx;
	size_t n_timers;
	unsigned generation, committed, next_generation;
};

struct hook_timer {
	struct hook_runtime *rt; /* NULL once the runtime is gone */
	struct hook_timer *prev, *next;
	ev_timer w;
	int ref; /* anchors the userdata while scheduled or running */
	unsigned generation;
	bool repeat, scheduled;
	bool starting; /* its run is being started: not released meanwhile */
	struct hook_call *running;
	lua_Integer runs, skipped;
};

/* --- the runtime ---------------------------------------------------------------- */

struct hook_runtime *hook_runtime_new(lua_State *L, struct ev_loop *loop, const struct log *lg)
{
	struct hook_runtime *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return NULL;
	if (!(rt->children = child_set_new(loop))) {
		free(rt);
		return NULL;
	}
	rt->L = L;
	rt->loop = loop;
	rt->log = lg;
	rt->limits =
		(struct hook_limits){ HOOK_TIMEOUT_DEFAULT_SECONDS, HOOK_INSTRUCTIONS_DEFAULT };
	lua_pushlightuserdata(L, rt);
	lua_setfield(L, LUA_REGISTRYINDEX, REG_RUNTIME);
	lua_core_install_budget_hook(L);
	return rt;
}

static void timer_release(struct hook_timer *t);

void hook_runtime_free(struct hook_runtime *rt)
{
	if (!rt)
		return;
	while (rt->calls)
		hook_call_cancel(rt->calls);
	while (rt->timers) {
		struct hook_timer *t = rt->timers;

		ev_timer_stop(rt->loop, &t->w);
		t->scheduled = false;
		t->running = NULL;
		timer_release(t);
		t->rt = NULL;
	}
	child_set_free(rt->children);
	worker_free(rt->worker); /* after the calls: their jobs are cancelled */
	lua_pushnil(rt->L);
	lua_setfield(rt->L, LUA_REGISTRYINDEX, REG_RUNTIME);
	free(rt);
}

void hook_runtime_set_limits(struct hook_runtime *rt, const struct hook_limits *limits)
{
	rt->limits = *limits;
}

void hook_runtime_set_observer(struct hook_runtime *rt, hook_observe_fn fn, void *ctx)
{
	rt->observe = fn;
	rt->observe_ctx = ctx;
}

size_t hook_runtime_calls(const struct hook_runtime *rt)
{
	return rt->n_calls;
}

bool hook_runtime_in_hook(const struct hook_runtime *rt)
{
	return rt->current != NULL;
}

struct hook_runtime *hook_runtime_of(lua_State *L)
{
	struct hook_runtime *rt;

	lua_getfield(L, LUA_REGISTRYINDEX, REG_RUNTIME);
	rt = lua_touserdata(L, -1);
	lua_pop(L, 1);
	if (!rt)
		luaL_error(L, "moonvpn.hook is only available inside a running engine");
	return rt;
}

struct child_set *hook_runtime_children(struct hook_runtime *rt)
{
	return rt->children;
}

struct worker *hook_runtime_worker(struct hook_runtime *rt)
{
	if (!rt->worker)
		rt->worker = worker_new(rt->loop);
	return rt->worker;
}

/* --- calls ---------------------------------------------------------------------- */

/* A traceback on one log line: its lines joined with " | ". */
static void log_failure(struct hook_call *c, const char *error)
{
	char line[2048];
	size_t j = 0;

	for (const char *p = error; *p && j + 4 < sizeof(line); p++) {
		if (*p == '\n') {
			memcpy(line + j, " | ", 3);
			j += 3;
			while (p[1] == '\t' || p[1] == ' ')
				p++;
		} else {
			line[j++] = *p == '\t' ? ' ' : *p;
		}
	}
	line[j] = '\0';
	log_warnx(c->rt->log, "hook", "%s failed: %s", c->name, line);
}

static void close_thread(struct hook_runtime *rt, lua_State *co)
{
#if LUA_VERSION_RELEASE_NUM >= 50406
	lua_closethread(co, rt->L);
#else
	(void)rt;
	lua_resetthread(co);
#endif
}

/* Unlinks and frees the call; runs done first when report is set. */
static void finish(struct hook_call *c, int nres, const char *error, bool report)
{
	struct hook_runtime *rt = c->rt;

	ev_timer_stop(rt->loop, &c->deadline);
	ev_timer_stop(rt->loop, &c->sleep);
	if (c->op_cancel)
		c->op_cancel(c->op);
	c->op_cancel = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		rt->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	rt->n_calls--;
	if (c->finished)
		*c->finished = true;
	if (error && report)
		log_failure(c, error);
	if (report && rt->observe)
		rt->observe(rt->observe_ctx, c->name, lua_core_monotonic() - c->started,
			    error != NULL);
	if (report && c->done)
		c->done(c->ctx, c->co, nres, error);
	{
		/* Its to-be-closed variables run now: under a budget of their own. */
		struct lua_core_budget saved;
		lua_Integer left;

		lua_core_budget_enter(rt->L, rt->limits.instructions, rt->limits.instructions,
				      lua_core_monotonic() + rt->limits.timeout, &saved);
		close_thread(rt, c->co);
		(void)lua_core_budget_leave(rt->L, &saved, &left);
	}
	luaL_unref(rt->L, LUA_REGISTRYINDEX, c->ref);
	free(c);
}

static void fail(struct hook_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct hook_call *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	finish(c, 0, msg, true);
}

static void fail_traced(struct hook_call *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Fails with a traceback of the coroutine: where it looped, or where it waited. */
static void fail_traced(struct hook_call *c, const char *fmt, ...)
{
	lua_State *L = c->rt->L;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	luaL_traceback(L, c->co, msg, 0);
	finish(c, 0, lua_tostring(L, -1), true);
	lua_pop(L, 1);
}

/* Runs the coroutine until it yields in a primitive or ends. */
static void resume(struct hook_call *c, int nargs)
{
	struct hook_runtime *rt = c->rt;
	struct hook_call *outer = rt->current;
	struct lua_core_budget saved;
	enum lua_core_stop stop;
	int nres = 0, status;

	c->op = NULL;
	c->op_cancel = NULL;
	lua_core_budget_enter(rt->L, rt->limits.instructions, c->remaining, c->deadline_at, &saved);
	rt->current = c;
	status = lua_resume(c->co, rt->L, nargs, &nres);
	rt->current = outer;
	stop = lua_core_budget_leave(rt->L, &saved, &c->remaining);
	if (stop == LUA_CORE_SPENT) {
		fail_traced(c,
			    "stopped after %lld instructions (endless loop?); raise "
			    "hooks.instructions if it needs more",
			    (long long)rt->limits.instructions);
	} else if (stop == LUA_CORE_LATE) {
		/* Its deadline passed while it ran: the timer could not fire meanwhile. */
		fail_traced(c,
			    "timed out after %g s, still running (endless loop?); raise "
			    "hooks.timeout if it needs longer",
			    rt->limits.timeout);
	} else if (status == LUA_YIELD && c->op_cancel) {
		lua_pop(c->co, nres); /* waiting in a primitive */
	} else if (status == LUA_YIELD) {
		fail(c, "yielded outside the engine's primitives (coroutine.yield in a hook? use "
			"vpn.sleep or vpn.exec)");
	} else if (status == LUA_OK) {
		finish(c, nres, NULL, true);
	} else {
		const char *msg = lua_tostring(c->co, -1);

		luaL_traceback(rt->L, c->co, msg ? msg : "(error object is not a string)", 0);
		finish(c, 0, lua_tostring(rt->L, -1), true);
		lua_pop(rt->L, 1);
	}
}

/* The deadline passed while the call waited in a primitive: where it waited is the traceback. */
static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct hook_call *c = w->data;

	(void)loop;
	(void)revents;
	fail_traced(c, "timed out after %g s; raise hooks.timeout if it needs longer",
		    c->rt->limits.timeout);
}

static struct hook_call *call_new(struct hook_runtime *rt, const char *name)
{
	struct hook_call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->rt = rt;
	c->ref = LUA_NOREF;
	c->remaining = rt->limits.instructions;
	c->started = lua_core_monotonic();
	c->deadline_at = c->started + rt->limits.timeout;
	snprintf(c->name, sizeof(c->name), "%s", name);
	ev_timer_init(&c->deadline, on_deadline, rt->limits.timeout, 0);
	c->deadline.data = c;
	ev_init(&c->sleep, NULL);
	c->next = rt->calls;
	if (rt->calls)
		rt->calls->prev = c;
	rt->calls = c;
	rt->n_calls++;
	return c;
}

struct hook_call *hook_call_start(struct hook_runtime *rt, lua_State *L, int nargs,
				  const char *name, hook_done_fn done, void *ctx)
{
	struct hook_call *c;
	bool finished = false;

	if (rt->n_calls >= HOOK_CALLS_MAX || !(c = call_new(rt, name))) {
		log_warnx(rt->log, "hook", "%s not run: %s", name,
			  rt->n_calls >= HOOK_CALLS_MAX ? "too many hooks pending"
							: "out of memory");
		lua_pop(L, nargs + 1);
		if (done)
			done(ctx, NULL, 0, "too many hooks pending");
		return NULL;
	}
	c->done = done;
	c->ctx = ctx;
	c->co = lua_newthread(L); /* +1 */
	c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_xmove(L, c->co, nargs + 1);
	ev_timer_start(rt->loop, &c->deadline);
	c->finished = &finished;
	resume(c, nargs);
	if (finished)
		return NULL; /* c is freed */
	c->finished = NULL;
	return c;
}

void hook_call_cancel(struct hook_call *call)
{
	finish(call, 0, NULL, false);
}

struct hook_call *hook_check_yieldable(lua_State *L, const char *api)
{
	struct hook_runtime *rt = hook_runtime_of(L);

	if (!rt->current || rt->current->co != L || !lua_isyieldable(L))
		luaL_error(L,
			   "%s is only allowed in a hook (not in the configuration, the console "
			   "or a coroutine of the hook's own)",
			   api);
	return rt->current;
}

int hook_yield(lua_State *L, struct hook_call *call, void (*cancel)(void *op), void *op)
{
	call->op_cancel = cancel;
	call->op = op;
	return lua_yield(L, 0);
}

void hook_call_wait_longer(struct hook_call *call, double seconds)
{
	struct hook_runtime *rt = call->rt;
	double until = lua_core_monotonic() + seconds + rt->limits.timeout;

	if (until <= call->deadline_at)
		return;
	call->deadline_at = until;
	ev_timer_stop(rt->loop, &call->deadline);
	ev_timer_set(&call->deadline, until - lua_core_monotonic(), 0);
	ev_timer_start(rt->loop, &call->deadline);
}

lua_State *hook_runtime_state(struct hook_runtime *rt)
{
	return rt->L;
}

struct ev_loop *hook_runtime_loop(struct hook_runtime *rt)
{
	return rt->loop;
}

lua_State *hook_call_thread(struct hook_call *call)
{
	return call->co;
}

void hook_call_resume(struct hook_call *call, int nvalues)
{
	call->op_cancel = NULL;
	resume(call, nvalues);
}

/* --- vpn.sleep -------------------------------------------------------------------- */

static void on_sleep(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	hook_call_resume(w->data, 0);
}

static void cancel_sleep(void *op)
{
	struct hook_call *c = op;

	ev_timer_stop(c->rt->loop, &c->sleep);
}

/* vpn.sleep(seconds): suspends this hook only. May raise, yields. */
static int l_hook_sleep(lua_State *L)
{
	lua_Number seconds = luaL_checknumber(L, 1);
	struct hook_call *c = hook_check_yieldable(L, "vpn.sleep");

	luaL_argcheck(L, seconds >= 0 && seconds <= 86400, 1, "expected 0 to 86400 seconds");
	ev_timer_init(&c->sleep, on_sleep, seconds, 0);
	c->sleep.data = c;
	ev_timer_start(c->rt->loop, &c->sleep);
	return hook_yield(L, c, cancel_sleep, c);
}

/* --- timers: vpn.after, vpn.every --------------------------------------------------- */

static void timer_anchor(lua_State *L, struct hook_timer *t, int idx)
{
	struct hook_runtime *rt = t->rt;

	if (t->ref != LUA_NOREF)
		return;
	lua_pushvalue(L, idx);
	t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	t->prev = NULL;
	t->next = rt->timers;
	if (rt->timers)
		rt->timers->prev = t;
	rt->timers = t;
	rt->n_timers++;
}

/* Lets the timer be collected once it is neither scheduled nor running. */
static void timer_release(struct hook_timer *t)
{
	struct hook_runtime *rt = t->rt;

	if (t->scheduled || t->running || t->starting || t->ref == LUA_NOREF || !rt)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		rt->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	rt->n_timers--;
	luaL_unref(rt->L, LUA_REGISTRYINDEX, t->ref);
	t->ref = LUA_NOREF;
}

static void timer_done(void *ctx, lua_State *co, int nres, const char *error)
{
	struct hook_timer *t = ctx;

	(void)co;
	(void)nres;
	(void)error;
	t->running = NULL;
	timer_release(t);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct hook_timer *t = w->data;
	struct hook_runtime *rt = t->rt;
	lua_State *L = rt->L;
	struct hook_call *c;

	(void)loop;
	(void)revents;
	if (!t->repeat)
		t->scheduled = false;
	if (t->running) {
		t->skipped++; /* the previous run is still going: one at a time */
		return;
	}
	t->runs++;
	lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref); /* the timer, anchored */
	lua_getiuservalue(L, -1, 1);		   /* its function */
	lua_remove(L, -2);
	t->starting = true; /* timer_done may run before start returns */
	c = hook_call_start(rt, L, 0, t->repeat ? "vpn.every timer" : "vpn.after timer", timer_done,
			    t);
	t->starting = false;
	t->running = c;
	timer_release(t);
}

static int timer_new(lua_State *L, bool repeat)
{
	struct hook_runtime *rt = hook_runtime_of(L);
	lua_Number seconds = luaL_checknumber(L, 1);
	struct hook_timer *t;

	luaL_checktype(L, 2, LUA_TFUNCTION);
	luaL_argcheck(L, seconds >= (repeat ? 0.01 : 0) && seconds <= 31536000, 1,
		      repeat ? "expected 0.01 to 31536000 seconds"
			     : "expected 0 to 31536000 seconds");
	if (rt->n_timers >= HOOK_TIMERS_MAX)
		return luaL_error(L, "too many timers (at most %d); cancel some first",
				  HOOK_TIMERS_MAX);
	t = lua_newuserdatauv(L, sizeof(*t), 1); /* +1 */
	memset(t, 0, sizeof(*t));
	t->rt = rt;
	t->ref = LUA_NOREF;
	t->repeat = repeat;
	t->generation = rt->generation;
	luaL_setmetatable(L, TIMER_MT);
	lua_pushvalue(L, 2);
	lua_setiuservalue(L, -2, 1);
	ev_timer_init(&t->w, on_timer, seconds, repeat ? seconds : 0);
	t->w.data = t;
	ev_timer_start(rt->loop, &t->w);
	t->scheduled = true;
	timer_anchor(L, t, -1);
	return 1;
}

/* vpn.after(seconds, fn): runs fn once, as a hook. Returns a timer. May raise. */
static int l_hook_after(lua_State *L)
{
	return timer_new(L, false);
}

/* vpn.every(seconds, fn): runs fn every seconds, one run at a time. May raise. */
static int l_hook_every(lua_State *L)
{
	return timer_new(L, true);
}

static struct hook_timer *check_timer(lua_State *L)
{
	return luaL_checkudata(L, 1, TIMER_MT);
}

static void timer_stop(struct hook_timer *t)
{
	if (t->scheduled && t->rt)
		ev_timer_stop(t->rt->loop, &t->w);
	t->scheduled = false;
	timer_release(t);
}

/* timer:cancel(): no more runs; a run in progress finishes. */
static int l_timer_cancel(lua_State *L)
{
	timer_stop(check_timer(L));
	return 0;
}

static int l_timer_index(lua_State *L)
{
	struct hook_timer *t = check_timer(L);
	const char *key = luaL_checkstring(L, 2);

	if (strcmp(key, "runs") == 0)
		lua_pushinteger(L, t->runs);
	else if (strcmp(key, "skipped") == 0)
		lua_pushinteger(L, t->skipped);
	else if (strcmp(key, "active") == 0)
		lua_pushboolean(L, t->scheduled);
	else if (strcmp(key, "cancel") == 0)
		lua_pushcfunction(L, l_timer_cancel);
	else
		lua_pushnil(L);
	return 1;
}

static int l_timer_tostring(lua_State *L)
{
	struct hook_timer *t = check_timer(L);

	lua_pushfstring(L, "moonvpn.timer (%s, %s, %I runs)", t->repeat ? "every" : "after",
			t->scheduled ? "active" : "cancelled", t->runs);
	return 1;
}

static int l_timer_gc(lua_State *L)
{
	struct hook_timer *t = check_timer(L);

	if (t->scheduled && t->rt)
		ev_timer_stop(t->rt->loop, &t->w);
	t->scheduled = false;
	return 0;
}

static void end_timers(struct hook_runtime *rt, bool (*which)(unsigned gen, unsigned g), unsigned g)
{
	struct hook_timer *t = rt->timers;

	while (t) {
		struct hook_timer *next = t->next;

		if (which(t->generation, g))
			timer_stop(t);
		t = next;
	}
}

static bool is_older(unsigned gen, unsigned g)
{
	return gen < g;
}

static bool is_same(unsigned gen, unsigned g)
{
	return gen == g;
}

unsigned hook_generation_open(struct hook_runtime *rt)
{
	rt->generation = ++rt->next_generation;
	return rt->generation;
}

void hook_generation_commit(struct hook_runtime *rt, unsigned generation)
{
	end_timers(rt, is_older, generation);
	rt->committed = rt->generation = generation;
}

void hook_generation_abandon(struct hook_runtime *rt, unsigned generation)
{
	end_timers(rt, is_same, generation);
	rt->generation = rt->committed;
}

static const luaL_Reg hook_funcs[] = {
	{ "sleep", l_hook_sleep },
	{ "after", l_hook_after },
	{ "every", l_hook_every },
	{ NULL, NULL },
};

int luaopen_moonvpn_hook(lua_State *L)
{
	static const luaL_Reg meta[] = {
		{ "__index", l_timer_index },
		{ "__tostring", l_timer_tostring },
		{ "__gc", l_timer_gc },
		{ "__close", l_timer_cancel },
		{ NULL, NULL },
	};

	luaL_checkversion(L);
	luaL_newmetatable(L, TIMER_MT);
	luaL_setfuncs(L, meta, 0);
	lua_pop(L, 1);
	luaL_newlib(L, hook_funcs);
	lua_exec_register(L);
	lua_passwd_register(L);
	lua_authwait_register(L);
	return 1;
}
