/* SPDX-License-Identifier: MIT */
/*
 * The standard library of the engine's VM without its ways out: every Lua
 * function reachable from a configuration, a hook or the console runs on
 * the engine's only thread, so a call that ends the process (os.exit) or
 * blocks it (os.execute, io.popen, reading standard input or a FIFO) would
 * end or freeze every tunnel. Those entry points are replaced in the
 * library tables themselves, so _G.os, require "os" and package.loaded.os
 * are all the same guarded table. Each raises an error that names the
 * alternative (vpn.exec, raising an error to refuse a reload). Also gone:
 * debug.sethook (the instruction and deadline limits are that hook), the
 * parts of debug that reach other code's state (registry, upvalues, locals,
 * metatables), package.loadlib and the C searchers (native code), binary
 * chunks, also through require (bytecode can crash the VM), and __gc
 * metamethods: on tables (setmetatable refuses them) and on the engine's
 * userdata (getmetatable hands out the metatables of tables only, or a
 * __metatable field), because Lua runs finalizers with debug hooks off, so
 * a loop in one would escape every limit. Every file is opened without
 * blocking and refused when it is a FIFO, a socket or a device that could
 * block.
 *
 * Does not bound time spent inside one C function (a huge string.rep or
 * pattern match): the count hook runs between Lua instructions only.
 */
#ifndef MOONVPN_LUA_SANDBOX_H
#define MOONVPN_LUA_SANDBOX_H

#include <lua.h>

/* Guards the standard libraries luaL_openlibs opened in L. May raise (out of memory). */
void lua_sandbox_apply(lua_State *L);

#endif
