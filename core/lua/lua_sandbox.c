// SPDX-License-Identifier: MIT
/*
 * The engine's VM without ways out (see lua_sandbox.h). The replacements go
 * into the library tables luaL_openlibs made, which are the ones _G,
 * require and package.loaded share, so no path reaches the originals. Text
 * chunks only: load, loadfile, dofile and require's searcher are written
 * here on lua_load. Files are opened here too (io.open, io.lines,
 * io.output, loadfile, dofile, require), with O_NONBLOCK and a check of the
 * opened descriptor, so none can block on a FIFO or a device.
 */
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lua_sandbox.h"

#define EXEC_HINT                                                                         \
	"it would block every client while the program runs; run programs with "          \
	"vpn.exec { \"prog\", \"arg\", ... } in a hook or a vpn.after timer (it returns " \
	"status, stdout, stderr)"
#define STDIN_HINT                                                                    \
	"it reads the engine's standard input, which would block every client; read " \
	"files with io.open(path)"

/*
 * What of debug stays: traceback, getinfo (without the functions
 * themselves), gethook: reads of where the call stack is. What goes reads or writes what is not the
 * caller's own: the registry (the real standard input, the file metatable), other functions'
 * upvalues and locals (the engine's modules' state), the metatables of
 * strings and userdata (a __gc put on the file handles' metatable runs at
 * their finalization, where Lua turns the debug hooks, and so every limit,
 * off).
 */
#define DEBUG_HINT                                                                      \
	"it reaches the engine's own state (registry, upvalues, locals, metatables of " \
	"files and strings); debug.traceback and debug.getinfo remain"

static const struct refusal {
	const char *lib, *name, *why;
} refusals[] = {
	{ "os", "exit",
	  "it would end the engine and every tunnel; raise an error to refuse a configuration "
	  "or a reload, and stop moonvpn with SIGTERM" },
	{ "os", "execute", EXEC_HINT },
	{ "io", "popen", EXEC_HINT },
	{ "io", "read", STDIN_HINT },
	{ "io", "input", STDIN_HINT },
	{ "debug", "debug", STDIN_HINT },
	{ "debug", "sethook", "the engine's instruction and time limits of hooks are that hook" },
	{ "debug", "getregistry", DEBUG_HINT },
	{ "debug", "getmetatable", DEBUG_HINT },
	{ "debug", "setmetatable", DEBUG_HINT },
	{ "debug", "getupvalue", DEBUG_HINT },
	{ "debug", "setupvalue", DEBUG_HINT },
	{ "debug", "upvalueid", DEBUG_HINT },
	{ "debug", "upvaluejoin", DEBUG_HINT },
	{ "debug", "getlocal", DEBUG_HINT },
	{ "debug", "setlocal", DEBUG_HINT },
	{ "debug", "getuservalue", DEBUG_HINT },
	{ "debug", "setuservalue", DEBUG_HINT },
	{ "package", "loadlib", "the engine loads no native code (a fresh os library, say)" },
};

/* A refused entry point: raises "<where>lib.name is disabled in moonvpn: why" (upvalue 1). */
static int l_sandbox_refused(lua_State *L) /* may raise */
{
	luaL_where(L, 1);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_concat(L, 2);
	return lua_error(L);
}

static void push_refusal(lua_State *L, const char *name, const char *why)
{
	lua_pushfstring(L, "%s is disabled in moonvpn: %s", name, why);
	lua_pushcclosure(L, l_sandbox_refused, 1);
}

static void refuse_all(lua_State *L)
{
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *r = &refusals[i];
		char name[32];

		snprintf(name, sizeof(name), "%s.%s", r->lib, r->name);
		lua_getglobal(L, r->lib); /* +1 */
		push_refusal(L, name, r->why);
		lua_setfield(L, -2, r->name);
		lua_pop(L, 1);
	}
}

/* /dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom: they never block. */
static bool is_memory_device(dev_t dev)
{
	unsigned minor_number = minor(dev);

	return major(dev) == 1 && (minor_number == 3 || minor_number == 5 || minor_number == 7 ||
				   minor_number == 8 || minor_number == 9);
}

/* What a file is when opening or reading it could block the engine, or NULL. */
static const char *blocking_kind(const struct stat *st)
{
	if (S_ISFIFO(st->st_mode))
		return "a FIFO";
	if (S_ISSOCK(st->st_mode))
		return "a socket";
	if (S_ISCHR(st->st_mode) && !is_memory_device(st->st_rdev))
		return "a character device";
	return NULL;
}

static void push_blocking(lua_State *L, const char *path, const char *kind)
{
	lua_pushfstring(L,
			"%s: is %s: opening or reading it could block every client; moonvpn "
			"opens regular files only (run a program with vpn.exec instead)",
			path, kind);
}

/*
 * Opens path with open(2) flags without ever blocking: returns the
 * descriptor (blocking again, close-on-exec), or -1 with the message pushed
 * and *error set to errno (0: refused, it could block). stat() first so that
 * a device is not even opened (opening some has effects); then the opened
 * descriptor is checked, with O_NONBLOCK, so that a file swapped for a FIFO
 * in between is refused too instead of blocking the open or the reads.
 */
static int open_checked(lua_State *L, const char *path, int flags, int *error)
{
	struct stat st;
	const char *kind = NULL;
	int fd;

	*error = 0;
	if (stat(path, &st) == 0 && (kind = blocking_kind(&st))) {
		push_blocking(L, path, kind);
		return -1;
	}
	fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0666);
	if (fd < 0) {
		*error = errno;
		lua_pushfstring(L, "%s: %s", path, strerror(*error));
		return -1;
	}
	if (fstat(fd, &st) < 0 || (kind = blocking_kind(&st)) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		*error = kind ? 0 : errno;
		close(fd);
		if (kind)
			push_blocking(L, path, kind);
		else
			lua_pushfstring(L, "%s: %s", path, strerror(*error));
		return -1;
	}
	return fd;
}

/* io.open's mode ("r", "w+", "ab", ...) as open(2) flags, or -1 when it is not one. */
static int mode_flags(const char *mode)
{
	static const int base[] = { ['r'] = O_RDONLY,
				    ['w'] = O_WRONLY | O_CREAT | O_TRUNC,
				    ['a'] = O_WRONLY | O_CREAT | O_APPEND };
	int flags;

	if (mode[0] != 'r' && mode[0] != 'w' && mode[0] != 'a')
		return -1;
	flags = base[(unsigned char)mode[0]];
	if (mode[1] == '+')
		flags = (flags & ~(O_RDONLY | O_WRONLY)) | O_RDWR;
	mode += mode[1] == '+' ? 2 : 1;
	return strspn(mode, "b") == strlen(mode) ? flags : -1;
}

/* __close/close of the handles made here, as the io library's own. */
static int stream_close(lua_State *L)
{
	luaL_Stream *p = luaL_checkudata(L, 1, LUA_FILEHANDLE);

	return luaL_fileresult(L, fclose(p->f) == 0, NULL);
}

/*
 * Pushes a file handle of the io library for path, opened without blocking;
 * or fail, message [, errno]: the errno only for an error of the system (a
 * refused FIFO or device has none). Returns the number of values pushed.
 */
static int push_file(lua_State *L, const char *path, const char *mode)
{
	int flags = mode_flags(mode), error, fd;
	luaL_Stream *p;

	luaL_argcheck(L, flags >= 0, 2, "invalid mode");
	fd = open_checked(L, path, flags, &error);
	if (fd < 0) {
		luaL_pushfail(L);
		lua_insert(L, -2);
		if (!error)
			return 2;
		lua_pushinteger(L, error);
		return 3;
	}
	p = lua_newuserdatauv(L, sizeof(*p), 0);
	p->closef = NULL; /* not a handle until fdopen worked */
	luaL_setmetatable(L, LUA_FILEHANDLE);
	p->f = fdopen(fd, mode);
	if (!p->f) {
		error = errno;
		close(fd);
		luaL_pushfail(L);
		lua_pushfstring(L, "%s: %s", path, strerror(error));
		lua_pushinteger(L, error);
		return 3;
	}
	p->closef = stream_close;
	return 1;
}

/*
 * io.open(path [, mode]): as the io library's, never blocking. A FIFO,
 * socket or device that could block returns nil and a message saying so
 * (no third value: there is no errno for it).
 */
static int l_sandbox_open(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);

	return push_file(L, path, luaL_optstring(L, 2, "r"));
}

/* io.lines(path, ...): the file's lines, closed when the loop ends. May raise. */
static int l_sandbox_lines(lua_State *L)
{
	int n = lua_gettop(L);

	if (lua_isnoneornil(L, 1))
		return luaL_error(L, "io.lines() is disabled in moonvpn: %s", STDIN_HINT);
	if (push_file(L, luaL_checkstring(L, 1), "r") != 1)
		return luaL_error(L, "%s", lua_tostring(L, n + 2));
	lua_replace(L, 1);
	luaL_getmetafield(L, 1, "__index"); /* the file methods */
	lua_getfield(L, -1, "lines");
	lua_insert(L, 1);
	lua_pop(L, 1);
	lua_pushvalue(L, 2); /* the file, also the loop's to-be-closed value */
	lua_insert(L, 1);
	lua_call(L, n, 1); /* file:lines(...) */
	lua_insert(L, 1);  /* iterator, file */
	lua_pushnil(L);
	lua_pushnil(L);
	lua_rotate(L, 2, 2); /* iterator, nil, nil, file */
	return 4;
}

/* The original C function a wrapper stands for (upvalue 1). */
static lua_CFunction original(lua_State *L)
{
	return *(lua_CFunction *)lua_touserdata(L, lua_upvalueindex(1));
}

/* io.output([file]): a path opens as io.open(path, "w") does, never blocking. May raise. */
static int l_sandbox_output(lua_State *L)
{
	if (lua_type(L, 1) == LUA_TSTRING) {
		if (push_file(L, lua_tostring(L, 1), "w") != 1)
			return luaL_error(L, "%s", lua_tostring(L, 3));
		lua_replace(L, 1);
	}
	return original(L)(L);
}

/*
 * debug.getinfo([thread,] f [, what]): as Lua's without the 'f' option. The
 * functions running below a hook are the engine's (moonvpn.clients' local
 * functions, say): a hook may read where they are, not call them.
 */
static int l_sandbox_getinfo(lua_State *L)
{
	int what = lua_isthread(L, 1) ? 3 : 2;

	if (lua_type(L, what) == LUA_TSTRING) {
		luaL_gsub(L, lua_tostring(L, what), "f", "");
		lua_replace(L, what);
	}
	return original(L)(L);
}

/*
 * Limits of the C library calls that would otherwise run long in one
 * instruction, where no hook can stop them: string.rep of an empty string
 * loops n times to build "", table.move walks its whole range.
 */
enum {
	SANDBOX_STRING_MAX_BYTES = 512 * 1024 * 1024, /* the engine VM's memory cap */
	SANDBOX_MOVE_MAX_ELEMENTS = 100000000,
};

/* string.rep(s, n [, sep]): "" when the result is empty; no result over the memory cap. May raise.
 */
static int l_sandbox_rep(lua_State *L)
{
	size_t len, seplen;
	lua_Integer n;

	luaL_checklstring(L, 1, &len);
	n = luaL_checkinteger(L, 2);
	luaL_optlstring(L, 3, "", &seplen);
	if (n <= 0 || len + seplen == 0) {
		lua_pushliteral(L, "");
		return 1;
	}
	if ((lua_Unsigned)n > SANDBOX_STRING_MAX_BYTES / (len + seplen) + 1)
		return luaL_error(L,
				  "string.rep: the result would be over %d bytes (%I copies of %I "
				  "bytes), more than the engine's Lua memory",
				  SANDBOX_STRING_MAX_BYTES, n, (lua_Integer)(len + seplen));
	return original(L)(L);
}

/* table.move(a1, f, e, t [, a2]): at most SANDBOX_MOVE_MAX_ELEMENTS elements. May raise. */
static int l_sandbox_move(lua_State *L)
{
	lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);

	if (e >= f && (lua_Unsigned)e - (lua_Unsigned)f >= SANDBOX_MOVE_MAX_ELEMENTS)
		return luaL_error(L,
				  "table.move: %I to %I is over %d elements; move less at a time",
				  f, e, SANDBOX_MOVE_MAX_ELEMENTS);
	return original(L)(L);
}

/*
 * os.setlocale([locale [, category]]): queries only. The C locale is the
 * whole engine's: a decimal comma would reach its logs and number parsing.
 * May raise.
 */
static int l_sandbox_setlocale(lua_State *L)
{
	if (!lua_isnoneornil(L, 1))
		return luaL_error(L,
				  "os.setlocale(%s) is disabled in moonvpn: the locale is the "
				  "whole engine's (its logs and number parsing); only queries, "
				  "os.setlocale() or os.setlocale(nil, category), remain",
				  luaL_tolstring(L, 1, NULL));
	return original(L)(L);
}

/* Reads a chunk file for lua_load: a first line starting with '#' is dropped (its newline kept). */
struct chunk_file {
	FILE *f;
	bool newline; /* the dropped line's newline is still to give */
	char buf[4096];
};

static const char *chunk_reader(lua_State *L, void *ud, size_t *size)
{
	struct chunk_file *c = ud;

	(void)L;
	if (c->newline) {
		c->newline = false;
		*size = 1;
		return "\n";
	}
	*size = fread(c->buf, 1, sizeof(c->buf), c->f);
	return *size ? c->buf : NULL;
}

/* Loads path as a text chunk named chunkname, opened without blocking. Pushes it or a message. */
static int load_checked(lua_State *L, const char *path, const char *chunkname)
{
	struct chunk_file c = { 0 };
	int error, fd = open_checked(L, path, O_RDONLY, &error), ch, status;

	if (fd < 0)
		return LUA_ERRFILE;
	if (!(c.f = fdopen(fd, "r"))) {
		close(fd);
		lua_pushfstring(L, "cannot read %s: out of memory", path);
		return LUA_ERRFILE;
	}
	if ((ch = getc(c.f)) == '#') {
		while ((ch = getc(c.f)) != EOF && ch != '\n')
			;
		c.newline = true;
	} else if (ch != EOF) {
		ungetc(ch, c.f);
	}
	status = lua_load(L, chunk_reader, &c, chunkname, "t");
	if (ferror(c.f) && status == LUA_OK) {
		lua_pop(L, 1);
		lua_pushfstring(L, "cannot read %s", path);
		status = LUA_ERRFILE;
	}
	fclose(c.f);
	return status;
}

/* A loaded chunk on top (status LUA_OK) gets env as its first upvalue; else fail, message. */
static int load_result(lua_State *L, int status, int env)
{
	if (status != LUA_OK) {
		luaL_pushfail(L);
		lua_insert(L, -2);
		return 2;
	}
	if (env) {
		lua_pushvalue(L, env);
		if (!lua_setupvalue(L, -2, 1))
			lua_pop(L, 1);
	}
	return 1;
}

enum { READER_SLOT = 5 }; /* where the reader function's last piece is kept */

/* lua_load reader calling the function at index 1 for each piece. May raise. */
static const char *function_reader(lua_State *L, void *ud, size_t *size)
{
	(void)ud;
	luaL_checkstack(L, 2, "too many nested functions");
	lua_pushvalue(L, 1);
	lua_call(L, 0, 1);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		*size = 0;
		return NULL;
	}
	if (!lua_isstring(L, -1))
		luaL_error(L, "reader function must return a string");
	lua_replace(L, READER_SLOT);
	return lua_tolstring(L, READER_SLOT, size);
}

/* load(chunk [, name [, mode [, env]]]): as Lua's, text chunks only (mode is ignored). */
static int l_sandbox_load(lua_State *L)
{
	size_t len;
	const char *text = lua_tolstring(L, 1, &len);
	int env = lua_isnone(L, 4) ? 0 : 4;
	int status;

	if (text) {
		status = luaL_loadbufferx(L, text, len, luaL_optstring(L, 2, text), "t");
	} else {
		const char *name = luaL_optstring(L, 2, "=(load)");

		luaL_checktype(L, 1, LUA_TFUNCTION);
		lua_settop(L, READER_SLOT);
		status = lua_load(L, function_reader, NULL, name, "t");
	}
	return load_result(L, status, env);
}

/* The file name argument of loadfile and dofile: never standard input. May raise. */
static const char *check_file(lua_State *L, const char *api)
{
	if (lua_isnoneornil(L, 1))
		luaL_error(L, "%s() without a file name is disabled in moonvpn: %s", api,
			   STDIN_HINT);
	return luaL_checkstring(L, 1);
}

/* loadfile(path [, mode [, env]]): text chunks only. */
static int l_sandbox_loadfile(lua_State *L)
{
	const char *path = check_file(L, "loadfile");
	int env = lua_isnone(L, 3) ? 0 : 3;

	return load_result(L, load_checked(L, path, lua_pushfstring(L, "@%s", path)), env);
}

static int dofile_done(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	return lua_gettop(L) - 2;
}

/* dofile(path): text chunks only; the chunk may yield. May raise. */
static int l_sandbox_dofile(lua_State *L)
{
	const char *path = check_file(L, "dofile");

	lua_settop(L, 1);
	if (load_checked(L, path, lua_pushfstring(L, "@%s", path)) != LUA_OK)
		return lua_error(L);
	lua_callk(L, 0, LUA_MULTRET, 0, dofile_done);
	return dofile_done(L, LUA_OK, 0);
}

/*
 * The first file of path (templates separated by ';', '?' replaced by name
 * with sep replaced by rep) that exists: opened (a FIFO or device is refused
 * as by io.open, so a template cannot block the search). Pushes its name
 * and returns the descriptor; or returns -1 having pushed what was tried.
 */
static int search(lua_State *L, const char *name, const char *path, const char *sep,
		  const char *rep)
{
	luaL_Buffer tried;
	int error, fd;

	if (*sep)
		name = luaL_gsub(L, name, sep, rep);
	luaL_buffinit(L, &tried);
	while (*path) {
		const char *end = strchr(path, ';');
		size_t len = end ? (size_t)(end - path) : strlen(path);
		const char *file;

		lua_pushlstring(L, path, len);
		file = luaL_gsub(L, lua_tostring(L, -1), "?", name);
		lua_remove(L, -2);
		path += end ? len + 1 : len;
		if (len == 0) {
			lua_pop(L, 1);
			continue;
		}
		fd = open_checked(L, file, O_RDONLY, &error);
		if (fd >= 0)
			return fd; /* its name is on top */
		if (!error)	   /* refused: say so rather than load another file by that name */
			luaL_error(L, "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
		lua_pushfstring(L, "\n\tno file '%s'", file);
		lua_remove(L, -2);
		luaL_addvalue(&tried);
	}
	luaL_pushresult(&tried);
	return -1;
}

/* package.searchpath(name, path [, sep [, rep]]): as Lua's, never blocking. May raise. */
static int l_sandbox_searchpath(lua_State *L)
{
	int fd = search(L, luaL_checkstring(L, 1), luaL_checkstring(L, 2),
			luaL_optstring(L, 3, "."), luaL_optstring(L, 4, LUA_DIRSEP));

	if (fd >= 0) {
		close(fd);
		return 1;
	}
	luaL_pushfail(L);
	lua_insert(L, -2);
	return 2;
}

/*
 * require's searcher of Lua files along package.path: as Lua's second
 * searcher, with no FIFO or device opened and text chunks only (the
 * standard one loads bytecode, string.dump's output written to a file).
 */
static int l_sandbox_search_lua(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	const char *file;
	int fd;

	lua_getfield(L, lua_upvalueindex(1), "path");
	if (!lua_isstring(L, -1))
		return luaL_error(L, "'package.path' must be a string");
	fd = search(L, name, lua_tostring(L, -1), ".", LUA_DIRSEP);
	if (fd < 0)
		return 1; /* what was tried */
	close(fd);
	file = lua_tostring(L, -1);
	if (load_checked(L, file, lua_pushfstring(L, "@%s", file)) != LUA_OK)
		return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, file,
				  lua_tostring(L, -1));
	lua_pushvalue(L, -3); /* its name, the loader's second argument */
	return 2;
}

/* Raises when the metatable at idx has a __gc field (read raw, as Lua marks objects). */
static void check_no_finalizer(lua_State *L, int idx) /* may raise */
{
	if (!lua_istable(L, idx))
		return;
	lua_pushliteral(L, "__gc");
	if (lua_rawget(L, idx) != LUA_TNIL)
		luaL_error(L,
			   "__gc metamethods are disabled in moonvpn: finalizers run with the "
			   "debug hooks off, where no instruction or time limit can stop them; use "
			   "a to-be-closed variable (local x <close> = ...) instead");
	lua_pop(L, 1);
}

/* setmetatable(t, mt): as Lua's, without finalizers. May raise. */
static int l_sandbox_setmetatable(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_argexpected(L, lua_isnoneornil(L, 2) || lua_istable(L, 2), 2, "nil or table");
	if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
		return luaL_error(L, "cannot change a protected metatable");
	check_no_finalizer(L, 2);
	lua_settop(L, 2);
	lua_setmetatable(L, 1);
	return 1;
}

/* getmetatable(v): as Lua's for tables; other values' metatables are the engine's. */
static int l_sandbox_getmetatable(lua_State *L)
{
	luaL_checkany(L, 1);
	if (!lua_getmetatable(L, 1))
		return 0;
	if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
		return 1;
	if (!lua_istable(L, 1))
		return 0;
	return 1;
}

/*
 * Replaces lib.name (a C function without upvalues, as the standard library's
 * are) with fn, which calls it through original(): debug.getupvalue hands out
 * only a userdata, so the unchecked function stays out of Lua's reach.
 */
static void wrap(lua_State *L, const char *lib, const char *name, lua_CFunction fn)
{
	lua_CFunction *slot;

	lua_getglobal(L, lib);
	lua_getfield(L, -1, name);
	slot = lua_newuserdatauv(L, sizeof(*slot), 0);
	*slot = lua_tocfunction(L, -2);
	lua_pushcclosure(L, fn, 1);
	lua_setfield(L, -3, name);
	lua_pop(L, 2);
}

/* io.stdin: a table whose every field raises, so io.stdin:read() says why. */
static void guard_stdin(lua_State *L)
{
	lua_getglobal(L, "io");
	lua_newtable(L);
	lua_createtable(L, 0, 3);
	push_refusal(L, "io.stdin", STDIN_HINT);
	lua_setfield(L, -2, "__index");
	lua_pushliteral(L, "moonvpn.no_stdin");
	lua_setfield(L, -2, "__name");
	lua_pushliteral(L, "moonvpn.no_stdin");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	lua_setfield(L, -2, "stdin");
	lua_pop(L, 1);
}

/* The file handles' metatable answers getmetatable() with its name, and cannot be changed. */
static void protect_file_metatable(lua_State *L)
{
	luaL_getmetatable(L, LUA_FILEHANDLE);
	lua_pushliteral(L, LUA_FILEHANDLE);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);
}

/*
 * require finds Lua files only, through l_sandbox_search_lua (the package
 * table its upvalue, as Lua's own searchers have): the standard Lua searcher
 * would open a FIFO on package.path and load bytecode, and the C searchers
 * load native code.
 */
static void guard_package(lua_State *L)
{
	lua_getglobal(L, "package");
	lua_pushcfunction(L, l_sandbox_searchpath);
	lua_setfield(L, -2, "searchpath");
	lua_getfield(L, -1, "searchers");
	lua_pushvalue(L, -2);
	lua_pushcclosure(L, l_sandbox_search_lua, 1);
	lua_rawseti(L, -2, 2);
	lua_pushnil(L);
	lua_rawseti(L, -2, 4);
	lua_pushnil(L);
	lua_rawseti(L, -2, 3);
	lua_pop(L, 2);
}

void lua_sandbox_apply(lua_State *L)
{
	refuse_all(L);
	lua_getglobal(L, "io");
	lua_pushcfunction(L, l_sandbox_open);
	lua_setfield(L, -2, "open");
	lua_pushcfunction(L, l_sandbox_lines);
	lua_setfield(L, -2, "lines");
	lua_pop(L, 1);
	wrap(L, "io", "output", l_sandbox_output);
	wrap(L, "debug", "getinfo", l_sandbox_getinfo);
	wrap(L, "string", "rep", l_sandbox_rep);
	wrap(L, "table", "move", l_sandbox_move);
	wrap(L, "os", "setlocale", l_sandbox_setlocale);
	lua_register(L, "load", l_sandbox_load);
	lua_register(L, "loadfile", l_sandbox_loadfile);
	lua_register(L, "dofile", l_sandbox_dofile);
	lua_register(L, "setmetatable", l_sandbox_setmetatable);
	lua_register(L, "getmetatable", l_sandbox_getmetatable);
	protect_file_metatable(L);
	guard_package(L);
	guard_stdin(L);
}
