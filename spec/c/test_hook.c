// SPDX-License-Identifier: MIT
/*
 * The hook runtime on a real loop and a real Lua state: results, errors
 * with tracebacks, budgets and deadlines (fail closed), vpn.sleep, vpn.exec
 * (status, output, stdin, env, timeout, a missing program, truncation,
 * cancellation kills the program), timers and their generations.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "lua_core.h"
#include "lua_hook.h"
#include "unit.h"

struct outcome {
	bool done;
	char error[4096];
	char results[8][256];
	int types[8];
	int nres;
};

static struct ev_loop *loop;
static lua_State *L;
static struct hook_runtime *rt;
static struct log lg;

static void on_done(void *ctx, lua_State *co, int nres, const char *error)
{
	struct outcome *o = ctx;

	o->done = true;
	o->nres = nres;
	snprintf(o->error, sizeof(o->error), "%s", error ? error : "");
	for (int i = 0; i < nres && i < 8; i++) {
		int idx = lua_gettop(co) - nres + 1 + i;
		const char *s = luaL_tolstring(co, idx, NULL);

		o->types[i] = lua_type(co, idx);
		snprintf(o->results[i], sizeof(o->results[i]), "%s", s);
		lua_pop(co, 1);
	}
}

/* Starts code (a chunk run as the hook) and returns whether it is pending. */
static bool start(const char *code, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	ev_now_update(loop); /* as the running engine's loop keeps it */
	if (luaL_loadstring(L, code) != LUA_OK) {
		fprintf(stderr, "load: %s\n", lua_tostring(L, -1));
		lua_pop(L, 1);
		return false;
	}
	return hook_call_start(rt, L, 0, "test hook", on_done, o) != NULL;
}

/* Runs the loop until o is done or seconds pass. */
static double run_until(struct outcome *o, double seconds)
{
	double t0 = ev_time();

	while (!o->done && ev_time() - t0 < seconds)
		ev_run(loop, EVRUN_ONCE);
	return ev_time() - t0;
}

static void run_for(double seconds)
{
	double t0 = ev_time();

	while (ev_time() - t0 < seconds) {
		ev_now_update(loop);
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
}

static lua_Integer global_int(const char *name)
{
	lua_Integer v;

	lua_getglobal(L, name);
	v = lua_tointeger(L, -1);
	lua_pop(L, 1);
	return v;
}

static void test_sync_results(void)
{
	struct outcome o;

	CHECK(!start("return 1, 'two', nil", &o), "a hook that does not yield finishes at once");
	CHECK(o.done && o.nres == 3 && !o.error[0], "done with 3 results, got %d", o.nres);
	CHECK(strcmp(o.results[0], "1") == 0 && strcmp(o.results[1], "two") == 0 &&
		      o.types[2] == LUA_TNIL,
	      "results in order");
	CHECK(hook_runtime_calls(rt) == 0, "nothing left pending");
}

static void test_errors(void)
{
	struct outcome o;

	start("local function inner() error('boom') end inner()", &o);
	CHECK(o.done && strstr(o.error, "boom") && strstr(o.error, "stack traceback"),
	      "an error comes with its traceback: %s", o.error);
	start("while true do end", &o);
	CHECK(o.done && strstr(o.error, "instructions") && strstr(o.error, "stack traceback"),
	      "an endless loop spends its budget, with a traceback: %s", o.error);
	start("while true do pcall(function() while true do end end) end", &o);
	CHECK(o.done && strstr(o.error, "instructions"), "pcall cannot swallow the budget: %s",
	      o.error);
	start("coroutine.yield()", &o);
	CHECK(o.done && strstr(o.error, "yielded outside"), "a bare yield fails: %s", o.error);
	start("local t = {} for i = 1, 1000 do t[i] = i end return #t", &o);
	CHECK(o.done && !o.error[0] && strcmp(o.results[0], "1000") == 0,
	      "ordinary work fits the default budget: %s", o.error);
	CHECK(hook_runtime_calls(rt) == 0, "nothing left pending");
}

static void test_sleep(void)
{
	struct outcome a, b;
	double t;

	CHECK(start("vpn.sleep(0.2) return 'a'", &a), "a sleeping hook is pending");
	CHECK(start("vpn.sleep(0.05) return 'b'", &b), "and so is a second one");
	CHECK(hook_runtime_calls(rt) == 2, "two calls pending");
	t = run_until(&b, 2);
	CHECK(b.done && !a.done, "the shorter sleep ends first, the other still sleeps");
	CHECK(t >= 0.04 && t < 0.19, "after about 0.05 s: %.3f", t);
	run_until(&a, 2);
	CHECK(a.done && strcmp(a.results[0], "a") == 0, "then the longer one: %s", a.error);
	CHECK(luaL_dostring(L, "vpn.sleep(1)") != LUA_OK &&
		      strstr(lua_tostring(L, -1), "only allowed in a hook"),
	      "vpn.sleep outside a hook raises: %s", lua_tostring(L, -1));
	lua_pop(L, 1);
	start("local co = coroutine.wrap(function() vpn.sleep(0.01) end) co()", &a);
	CHECK(a.done && strstr(a.error, "only allowed in a hook"),
	      "vpn.sleep in the hook's own coroutine raises: %s", a.error);
	start("vpn.sleep(-1)", &a);
	CHECK(a.done && strstr(a.error, "0 to 86400"), "a negative sleep is refused: %s", a.error);
}

static void test_deadline(void)
{
	struct hook_limits limits = { 0.1, 1000000 };
	struct outcome o;
	double t;

	hook_runtime_set_limits(rt, &limits);
	CHECK(start("local x <close> = setmetatable({}, { __close = function() closed = 1 end })\n"
		    "vpn.sleep(10)",
		    &o),
	      "pending");
	t = run_until(&o, 3);
	CHECK(o.done && strstr(o.error, "timed out after 0.1 s"), "the deadline ends it: %s",
	      o.error);
	CHECK(t < 0.5, "at its deadline: %.3f s", t);
	CHECK(global_int("closed") == 1, "its to-be-closed variables ran");
	CHECK(start("local t0 = os.clock() while true do vpn.sleep(0) end", &o), "pending");
	run_until(&o, 3);
	CHECK(o.done && (strstr(o.error, "timed out") || strstr(o.error, "instructions")),
	      "a loop of sleeps ends too: %s", o.error);
	/* An instruction budget too large to end it soon: the deadline does, while it runs. */
	limits = (struct hook_limits){ 0.2, 20000000000 };
	hook_runtime_set_limits(rt, &limits);
	start("while true do end", &o);
	CHECK(o.done && strstr(o.error, "timed out after 0.2 s, still running") &&
		      strstr(o.error, "stack traceback"),
	      "a busy loop ends at its deadline, not after its instructions: %s", o.error);
	start("while true do pcall(function() while true do end end) end", &o);
	CHECK(o.done && strstr(o.error, "timed out after 0.2 s, still running"),
	      "pcall cannot swallow the deadline: %s", o.error);
	CHECK(start("vpn.sleep(0.1) while true do end", &o), "pending");
	run_until(&o, 30);
	CHECK(o.done && strstr(o.error, "timed out after 0.2 s"),
	      "the deadline counts from the start, across resumes: %s", o.error);
	limits = (struct hook_limits){ 5, 100000 };
	hook_runtime_set_limits(rt, &limits);
	start("for i = 1, 1e9 do end", &o);
	CHECK(o.done && strstr(o.error, "100000 instructions"),
	      "the instruction limit is configurable: %s", o.error);
	limits = (struct hook_limits){ HOOK_TIMEOUT_DEFAULT_SECONDS, HOOK_INSTRUCTIONS_DEFAULT };
	hook_runtime_set_limits(rt, &limits);
}

/* run_budgeted inside a hook gets no more than the hook has left, and cannot swallow its stop. */
static void test_nested_budget(void)
{
	struct hook_limits limits = { 0.3, 20000000000 };
	struct outcome o;

	start("local core = require 'moonvpn.core'\n"
	      "return core.run_budgeted(math.maxinteger, function() while true do end end)",
	      &o);
	CHECK(o.done && strstr(o.error, "instructions"),
	      "a huge inner budget is capped at the hook's own: %s", o.error);
	start("local core = require 'moonvpn.core'\n"
	      "while true do core.run_budgeted(50000, function() for i = 1, 40000 do end end) end",
	      &o);
	CHECK(o.done && strstr(o.error, "instructions"),
	      "what inner budgets use is charged to the hook: %s", o.error);
	hook_runtime_set_limits(rt, &limits);
	start("local core = require 'moonvpn.core'\n"
	      "return core.run_budgeted(math.maxinteger, function() while true do end end)",
	      &o);
	CHECK(o.done && strstr(o.error, "timed out after 0.3 s"),
	      "an inner budget without seconds ends at the hook's deadline: %s", o.error);
	limits = (struct hook_limits){ HOOK_TIMEOUT_DEFAULT_SECONDS, HOOK_INSTRUCTIONS_DEFAULT };
	hook_runtime_set_limits(rt, &limits);
}

static void test_exec(void)
{
	struct outcome o;

	start("return vpn.exec{ '/bin/sh', '-c', 'echo out; echo err >&2; exit 3' }", &o);
	run_until(&o, 5);
	CHECK(o.done && o.nres == 3 && strcmp(o.results[0], "3") == 0 &&
		      strcmp(o.results[1], "out\n") == 0 && strcmp(o.results[2], "err\n") == 0,
	      "status, stdout and stderr: %s %s %s %s", o.results[0], o.results[1], o.results[2],
	      o.error);
	start("return vpn.exec{ 'cat', stdin = 'hello\\n' }", &o);
	run_until(&o, 5);
	CHECK(o.done && strcmp(o.results[0], "0") == 0 && strcmp(o.results[1], "hello\n") == 0,
	      "stdin reaches the program, found on PATH: %s", o.results[1]);
	start("return vpn.exec{ '/bin/sh', '-c', 'echo $FOO-$HOME', env = { FOO = 'bar', "
	      "HOME = false } }",
	      &o);
	run_until(&o, 5);
	CHECK(o.done && strcmp(o.results[1], "bar-\n") == 0, "env adds and removes: %s",
	      o.results[1]);
	start("return vpn.exec{ 'sleep', '10', timeout = 0.2 }", &o);
	run_until(&o, 5);
	CHECK(o.done && strcmp(o.results[0], "137") == 0 && strstr(o.results[3], "timed out"),
	      "a program past its timeout is killed: %s %s", o.results[0], o.results[3]);
	start("return vpn.exec{ '/nonexistent/program' }", &o);
	run_until(&o, 5);
	CHECK(o.done && o.types[0] == LUA_TNIL && strstr(o.results[1], "No such file") &&
		      strcmp(o.results[2], "ENOENT") == 0,
	      "a missing program is nil, message, ENOENT: %s", o.results[1]);
	start("local s, out = vpn.exec{ 'head', '-c', '3000000', '/dev/zero' } return s, #out", &o);
	run_until(&o, 10);
	CHECK(o.done && strcmp(o.results[1], "1048576") == 0, "output is capped at 1 MiB: %s",
	      o.results[1]);
	start("return vpn.exec{ 'x', stdin = {} }", &o);
	CHECK(o.done && strstr(o.error, "string expected"), "bad arguments raise: %s", o.error);
}

static void test_exec_cancel(void)
{
	struct hook_limits limits = { 0.2, 1000000 };
	struct outcome o;
	struct hook_call *c;

	luaL_loadstring(L, "vpn.exec{ 'sleep', '30' }");
	memset(&o, 0, sizeof(o));
	c = hook_call_start(rt, L, 0, "cancelled", on_done, &o);
	CHECK(c && child_set_running(hook_runtime_children(rt)) == 1, "the program runs");
	hook_call_cancel(c);
	run_for(0.3);
	CHECK(!o.done, "a cancelled hook reports nothing");
	CHECK(child_set_running(hook_runtime_children(rt)) == 0,
	      "its program was killed and reaped");
	hook_runtime_set_limits(rt, &limits);
	start("vpn.exec{ 'sleep', '30' }", &o);
	run_until(&o, 3);
	run_for(0.2);
	CHECK(o.done && strstr(o.error, "timed out"), "the hook's deadline: %s", o.error);
	CHECK(child_set_running(hook_runtime_children(rt)) == 0, "also kills its program");
	limits = (struct hook_limits){ HOOK_TIMEOUT_DEFAULT_SECONDS, HOOK_INSTRUCTIONS_DEFAULT };
	hook_runtime_set_limits(rt, &limits);
}

static void test_crypt_verify(void)
{
	static const char sha512[] = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIF"
				     "NjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";
	struct outcome o;
	char code[512];

	snprintf(code, sizeof(code),
		 "return vpn.crypt_verify('Hello world!', '%s'), "
		 "vpn.crypt_verify('wrong', '%s'), vpn.crypt_verify('x', 'garbage')",
		 sha512, sha512);
	CHECK(start(code, &o), "a hash check suspends the hook");
	run_until(&o, 5);
	CHECK(o.done && strcmp(o.results[0], "true") == 0 && strcmp(o.results[1], "false") == 0 &&
		      strcmp(o.results[2], "false") == 0,
	      "right, wrong, malformed: %s %s %s %s", o.results[0], o.results[1], o.results[2],
	      o.error);
	luaL_loadstring(L, "vpn.crypt_verify('x', '$y$j9T$jJB6DxEt42hpNOy420A8i1$D15yqa/x/JaBrmS3DH"
			   "lSZKbq40XNF0NyCsfuLPa9B28')");
	memset(&o, 0, sizeof(o));
	hook_call_cancel(hook_call_start(rt, L, 0, "cancelled", on_done, &o));
	run_for(0.3);
	CHECK(!o.done, "a hook ended during its hash check is not resumed");
}

static void test_timers(void)
{
	unsigned g1, g2;

	CHECK(luaL_dostring(L,
			    "after_ran = 0 every_ran = 0\n"
			    "vpn.after(0.05, function() after_ran = after_ran + 1 end)\n"
			    "ticker = vpn.every(0.02, function() every_ran = every_ran + 1 end)\n"
			    "slow = vpn.every(0.01, function() vpn.sleep(0.1) end)") == LUA_OK,
	      "timers start: %s", lua_tostring(L, -1));
	run_for(0.25);
	CHECK(global_int("after_ran") == 1, "vpn.after runs once: %lld",
	      (long long)global_int("after_ran"));
	CHECK(global_int("every_ran") >= 5, "vpn.every repeats: %lld",
	      (long long)global_int("every_ran"));
	CHECK(luaL_dostring(L, "return slow.skipped > 5 and slow.runs <= 3") == LUA_OK &&
		      lua_toboolean(L, -1),
	      "a run still going makes the next ones skip");
	lua_pop(L, 1);
	CHECK(luaL_dostring(L, "ticker:cancel() slow:cancel() n = every_ran") == LUA_OK, "cancel");
	run_for(0.1);
	CHECK(global_int("every_ran") == global_int("n"), "a cancelled timer runs no more");
	g1 = hook_generation_open(rt);
	CHECK(luaL_dostring(L, "g1 = 0 vpn.every(0.01, function() g1 = g1 + 1 end)") == LUA_OK,
	      "g1");
	hook_generation_commit(rt, g1);
	g2 = hook_generation_open(rt);
	CHECK(luaL_dostring(L, "g2 = 0 vpn.every(0.01, function() g2 = g2 + 1 end)") == LUA_OK,
	      "g2");
	hook_generation_abandon(rt, g2);
	run_for(0.1);
	CHECK(global_int("g2") == 0 && global_int("g1") > 0,
	      "an abandoned load's timers never run; the committed ones do");
	g2 = hook_generation_open(rt);
	hook_generation_commit(rt, g2);
	CHECK(luaL_dostring(L, "n = g1") == LUA_OK, "n");
	run_for(0.1);
	CHECK(global_int("g1") == global_int("n"), "a newer committed load ends the older timers");
	CHECK(luaL_dostring(L, "vpn.every(0, print)") != LUA_OK, "a zero interval is refused");
	lua_pop(L, 1);
}

int main(void)
{
	FILE *devnull = fopen("/dev/null", "w");

	log_init(&lg, LOG_ERROR, devnull);
	loop = ev_loop_new(EVFLAG_AUTO);
	L = luaL_newstate();
	luaL_openlibs(L);
	rt = hook_runtime_new(L, loop, &lg);
	luaL_requiref(L, "vpn", luaopen_moonvpn_hook, 1);
	luaL_requiref(L, "moonvpn.core", luaopen_moonvpn_core, 0);
	lua_pop(L, 2);
	test_sync_results();
	test_errors();
	test_sleep();
	test_deadline();
	test_nested_budget();
	test_exec();
	test_exec_cancel();
	test_crypt_verify();
	test_timers();
	hook_runtime_free(rt);
	lua_close(L);
	ev_loop_destroy(loop);
	fclose(devnull);
	return unit_report("test_hook");
}
