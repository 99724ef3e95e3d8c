// SPDX-License-Identifier: MIT
/*
 * The engine VM's standard library without ways out: every path to
 * os.exit, os.execute and io.popen raises an error naming the alternative,
 * standard input and FIFOs are never read, debug.sethook cannot remove the
 * limits' hook, and only text chunks load; ordinary file reading and load
 * still work.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lua_sandbox.h"
#include "unit.h"

static lua_State *L;
static char dir[] = "/tmp/test_sandbox.XXXXXX";

/* Runs code; returns its error message ("" when it ran), in a static buffer. */
static const char *run(const char *code)
{
	static char msg[1024];

	msg[0] = '\0';
	if (luaL_dostring(L, code) != LUA_OK)
		snprintf(msg, sizeof(msg), "%s", lua_tostring(L, -1));
	lua_settop(L, 0);
	return msg;
}

static const struct {
	const char *code, *error;
} refused[] = {
	{ "os.exit(0)", "os.exit is disabled in moonvpn: it would end the engine" },
	{ "_G.os.exit(0)", "raise an error to refuse a configuration or a reload" },
	{ "require('os').exit(0)", "os.exit is disabled" },
	{ "package.loaded.os.exit(true)", "os.exit is disabled" },
	{ "local exit = os.exit; pcall(print); exit()", "os.exit is disabled" },
	{ "os.execute('sleep 3')",
	  "os.execute is disabled in moonvpn: it would block every client" },
	{ "os.execute()", "vpn.exec {" },
	{ "require('io').popen('sleep 3')", "io.popen is disabled in moonvpn: it would block" },
	{ "io.popen('ls'):read('a')", "vpn.exec {" },
	{ "io.read()", "io.read is disabled in moonvpn: it reads the engine's standard input" },
	{ "for l in io.lines() do end", "io.lines() is disabled in moonvpn" },
	{ "io.input():read()", "io.input is disabled" },
	{ "io.stdin:read('l')", "io.stdin is disabled" },
	{ "dofile()", "dofile() without a file name is disabled" },
	{ "loadfile()", "loadfile() without a file name is disabled" },
	{ "debug.debug()", "debug.debug is disabled" },
	{ "debug.sethook()", "debug.sethook is disabled in moonvpn" },
	{ "debug.sethook(coroutine.create(print), print, 'c')", "debug.sethook is disabled" },
	{ "package.loadlib('liblua5.4.so', 'luaopen_os')", "package.loadlib is disabled" },
	{ "assert(load(string.dump(function() end)))", "attempt to load a binary chunk" },
	{ "assert(load(string.dump(function() end), 'x', 'b'))", "attempt to load a binary chunk" },
	{ "os.exit()", "[string \"os.exit()\"]:1: os.exit" }, /* says where */
	{ "setmetatable({}, { __gc = function() while true do end end })",
	  "__gc metamethods are disabled in moonvpn: finalizers run with the debug hooks off" },
	{ "debug.setmetatable({}, { __gc = print })", "__gc metamethods are disabled" },
	{ "setmetatable({}, setmetatable({}, { __metatable = 1 })) "
	  "setmetatable(setmetatable({}, { __metatable = 1 }), {})",
	  "cannot change a protected metatable" },
	{ "setmetatable(1, {})", "bad argument #1 to 'setmetatable' (table expected, got number)" },
	{ "setmetatable({}, 1)", "bad argument #2 to 'setmetatable' (nil or table expected" },
};

static void test_refused(void)
{
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		const char *msg = run(refused[i].code);

		CHECK(strstr(msg, refused[i].error), "%s: wanted \"%s\", got \"%s\"",
		      refused[i].code, refused[i].error, msg);
	}
	CHECK(strcmp(run("assert(debug.getupvalue(load, 1) == nil)"), "") == 0,
	      "load holds no original to hand out");
	CHECK(strcmp(run("for _, f in ipairs { io.open, io.lines } do\n"
			 "  local _, v = debug.getupvalue(f, 1) assert(type(v) == 'userdata')\n"
			 "  assert(not pcall(v, '/dev/null'))\n"
			 "end"),
		     "") == 0,
	      "nor do io.open and io.lines: %s", run("return"));
}

static const char *ran[] = {
	"assert(load('return 1 + 1')() == 2)",
	"local e = {} assert(load('x = 5', 'chunk', 't', e)) () assert(e.x == 5)",
	"local parts = { 'return ', '42' } local i = 0\n"
	"assert(load(function() i = i + 1 return parts[i] end)() == 42)",
	"assert(select(2, load('return +')):find('unexpected symbol'))",
	"local f = assert(io.open('/dev/null')) assert(f:read('a') == '') f:close()",
	"assert(#assert(io.open('/dev/urandom')):read(4) == 4)",
	"io.stdout:write('')",
	"assert(pcall(error, 'x') == false)",
	"assert(io.open('/nonexistent/file') == nil)",
	"local mt = { __index = { x = 1 } } local t = setmetatable({}, mt)\n"
	"assert(t.x == 1 and getmetatable(t) == mt and setmetatable(t, nil) == t)",
	"debug.setmetatable(nil, { __index = function() return 2 end }) assert((nil).x == 2)\n"
	"debug.setmetatable(nil, nil)",
	"local mt = {} setmetatable({}, mt) mt.__gc = print", /* too late to mark: no finalizer */
};

static void test_still_works(void)
{
	char code[1024];

	for (size_t i = 0; i < sizeof(ran) / sizeof(ran[0]); i++) {
		const char *msg = run(ran[i]);

		CHECK(!msg[0], "%s: %s", ran[i], msg);
	}
	snprintf(code, sizeof(code),
		 "local f = assert(io.open('%s/chunk.lua', 'w')) f:write('return ...') f:close()\n"
		 "assert(loadfile('%s/chunk.lua')(7) == 7)\n"
		 "f = assert(io.open('%s/chunk.lua', 'w')) f:write('return 1, 2') f:close()\n"
		 "assert(select('#', dofile('%s/chunk.lua')) == 2)\n"
		 "local n = 0 for _ in io.lines('%s/chunk.lua') do n = n + 1 end assert(n == 1)",
		 dir, dir, dir, dir, dir);
	CHECK(!run(code)[0], "regular files: %s", run(code));
}

static void test_fifo(void)
{
	char path[64], code[512];
	const char *msg;

	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK(mkfifo(path, 0600) == 0, "mkfifo");
	snprintf(code, sizeof(code),
		 "local f, err, code = io.open('%s', 'r') assert(f == nil) error(err .. ' ' .. "
		 "code)",
		 path);
	msg = run(code);
	CHECK(strstr(msg, "fifo: is a FIFO: opening or reading it could block every client") &&
		      strstr(msg, "vpn.exec"),
	      "io.open of a FIFO fails at once: %s", msg);
	snprintf(code, sizeof(code), "assert(io.open('%s', 'w') == nil)", path);
	CHECK(!run(code)[0], "also for writing");
	snprintf(code, sizeof(code), "for l in io.lines('%s') do end", path);
	CHECK(strstr(run(code), "is a FIFO"), "io.lines of a FIFO raises");
	snprintf(code, sizeof(code), "dofile('%s')", path);
	CHECK(strstr(run(code), "is a FIFO"), "dofile of a FIFO raises");
	snprintf(code, sizeof(code), "loadfile('%s')", path);
	CHECK(strstr(run(code), "is a FIFO"), "loadfile of a FIFO raises");
	unlink(path);
}

int main(void)
{
	char path[64];

	if (!mkdtemp(dir))
		return 1;
	L = luaL_newstate();
	luaL_openlibs(L);
	lua_sandbox_apply(L);
	test_refused();
	test_still_works();
	test_fifo();
	lua_close(L);
	snprintf(path, sizeof(path), "%s/chunk.lua", dir);
	unlink(path);
	rmdir(dir);
	return unit_report("test_sandbox");
}
