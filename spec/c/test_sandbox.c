// SPDX-License-Identifier: MIT
/*
 * The engine VM's standard library without ways out: every path to
 * os.exit, os.execute and io.popen raises an error naming the alternative,
 * standard input and FIFOs are never read, debug.sethook cannot remove the
 * limits' hook, and only text chunks load; ordinary file reading and load
 * still work.
 */
#include <fcntl.h>
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
	{ "debug.setmetatable({}, { __gc = print })", "debug.setmetatable is disabled in moonvpn" },
	{ "debug.getmetatable(io.stdout).__gc = print", "debug.getmetatable is disabled" },
	{ "debug.getregistry()._IO_input:read('l')", "debug.getregistry is disabled" },
	{ "debug.getupvalue(print, 1)", "debug.getupvalue is disabled" },
	{ "debug.setupvalue(print, 1, 1)", "debug.setupvalue is disabled" },
	{ "debug.upvaluejoin(print, 1, print, 1)", "debug.upvaluejoin is disabled" },
	{ "debug.upvalueid(print, 1)", "debug.upvalueid is disabled" },
	{ "debug.getlocal(1, 1)", "debug.getlocal is disabled" },
	{ "debug.setlocal(1, 1, 1)", "debug.setlocal is disabled" },
	{ "debug.getuservalue(io.stdout)", "debug.getuservalue is disabled" },
	{ "debug.setuservalue(io.stdout, 1)", "debug.setuservalue is disabled" },
	/* A file handle's finalizer reads __gc from this table when it runs (hooks off). */
	{ "getmetatable(io.stdout).__gc = function() while true do end end",
	  "attempt to index a string value" },
	{ "getmetatable('').__index.x = 1", "attempt to index a nil value" },
	{ "package.searchers[3]('x')", "attempt to call a nil value" },
	{ "package.searchers[4]('x')", "attempt to call a nil value" },
	{ "setmetatable({}, setmetatable({}, { __metatable = 1 })) "
	  "setmetatable(setmetatable({}, { __metatable = 1 }), {})",
	  "cannot change a protected metatable" },
	{ "setmetatable(1, {})", "bad argument #1 to 'setmetatable' (table expected, got number)" },
	{ "setmetatable({}, 1)", "bad argument #2 to 'setmetatable' (nil or table expected" },
	/* One C call each, looping without end where no hook can stop it. */
	{ "string.rep('', math.maxinteger, 'x')", "string.rep: the result would be over" },
	{ "('x'):rep(1 << 40)", "more than the engine's Lua memory" },
	{ "table.move({}, 1, math.maxinteger - 1, 1)", "table.move: 1 to " },
	{ "table.move({}, math.mininteger, -1, 1)", "move less at a time" },
	{ "os.setlocale('C.UTF-8')", "os.setlocale(C.UTF-8) is disabled in moonvpn: the locale" },
	{ "os.setlocale('', 'numeric')", "only queries, os.setlocale() or" },
};

static void test_refused(void)
{
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		const char *msg = run(refused[i].code);

		CHECK(strstr(msg, refused[i].error), "%s: wanted \"%s\", got \"%s\"",
		      refused[i].code, refused[i].error, msg);
	}
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
	"assert(getmetatable(io.stdout) == 'FILE*' and io.type(io.stdout) == 'file')",
	"assert(getmetatable('') == nil and ('x'):rep(2) == 'xx')",
	"assert(debug.traceback('x'):find('stack traceback') and debug.getinfo(1, "
	"'l').currentline)",
	"local i = debug.getinfo(1, 'fSl') assert(i.func == nil and i.source and i.currentline)\n"
	"i = debug.getinfo(coroutine.running(), 1, 'f') assert(i and i.func == nil)",
	"local t = setmetatable({}, { __metatable = 'no' }) assert(getmetatable(t) == 'no')",
	"local mt = {} setmetatable({}, mt) mt.__gc = print", /* too late to mark: no finalizer */
	"assert(string.rep('', math.maxinteger) == '' and (''):rep(math.maxinteger, '') == '')",
	"assert(('ab'):rep(3, ',') == 'ab,ab,ab' and ('x'):rep(0) == '' and ('x'):rep(-1) == '')",
	"local t = table.move({ 1, 2, 3 }, 1, 3, 2) assert(t[1] == 1 and t[4] == 3)",
	"assert(#table.move({}, 1, 0, 1) == 0 and table.move({}, 5, 1, 1))",
	"assert(os.setlocale() == 'C' and os.setlocale(nil, 'numeric') == 'C')",
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
	snprintf(code, sizeof(code),
		 "local f = assert(io.open('%s/mod.lua', 'w')) f:write('#!shebang\\nreturn ...') "
		 "f:close()\n"
		 "package.path = '%s/nothing/?.lua;%s/?.lua'\n"
		 "local name, file = require('mod') assert(name == 'mod' and "
		 "file:find('mod.lua$'))\n"
		 "assert(package.searchpath('mod', package.path) == file)\n"
		 "local n, tried = package.searchpath('absent', package.path)\n"
		 "assert(n == nil and tried:find(\"no file '%s/nothing/absent.lua'\", 1, true))\n"
		 "local ok, e = pcall(require, 'absent') assert(not ok and e:find('no file'))",
		 dir, dir, dir, dir);
	CHECK(!run(code)[0], "require of a Lua file: %s", run(code));
	snprintf(
		code, sizeof(code),
		"local f = assert(io.open('%s/bin.lua', 'w')) f:write(string.dump(function() end)) "
		"f:close()\n"
		"package.path = '%s/?.lua' require('bin')",
		dir, dir);
	CHECK(strstr(run(code), "attempt to load a binary chunk"), "require of bytecode: %s",
	      run(code));
}

static void test_fifo(void)
{
	char path[64], code[512];
	const char *msg;
	int reader;

	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK(mkfifo(path, 0600) == 0, "mkfifo");
	snprintf(code, sizeof(code),
		 "local f, err, code = io.open('%s', 'r') assert(f == nil and code == nil) "
		 "error(err)",
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
	snprintf(code, sizeof(code), "error(select(2, loadfile('%s')))", path);
	CHECK(strstr(run(code), "is a FIFO"), "loadfile of a FIFO fails");
	/* A reader is there, so opening for writing would not block: it is refused all the same. */
	reader = open(path, O_RDONLY | O_NONBLOCK);
	snprintf(code, sizeof(code), "io.output('%s')", path);
	msg = run(code);
	CHECK(strstr(msg, "is a FIFO: opening or reading it could block"),
	      "io.output of a FIFO: %s", msg);
	CHECK(!run("assert(io.output() == io.stdout)")[0], "the output stays");
	close(reader);
	snprintf(code, sizeof(code), "package.path = '%s/?' require('fifo')", dir);
	msg = run(code);
	CHECK(strstr(msg, "fifo: is a FIFO"), "require of a FIFO raises: %s", msg);
	snprintf(code, sizeof(code), "error(package.searchpath('x', '%s'))", path);
	CHECK(strstr(run(code), "fifo: is a FIFO"), "package.searchpath of a FIFO raises");
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
	for (const char *const *f =
		     (const char *const[]){ "chunk.lua", "mod.lua", "bin.lua", NULL };
	     *f; f++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *f);
		unlink(path);
	}
	rmdir(dir);
	return unit_report("test_sandbox");
}
