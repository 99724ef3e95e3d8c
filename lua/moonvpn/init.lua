-- SPDX-License-Identifier: MIT
--- The public API of moonvpn: `local vpn = require "moonvpn"`.
--
-- A configuration file calls `vpn.server { ... }` to declare a server (or
-- `vpn.client { ... }` for a client); the
-- engine validates the declaration once the file has run (see
-- moonvpn.config) and only then opens devices and sockets.
local config = require "moonvpn.config"
local schema = require "moonvpn.schema"

local M = {
	version = "0.1.0",
}

-- The hooks a server calls, by name (README, "Hooks").
M.HOOKS = { "auth", "connect", "disconnect", "flow", "tls_crypt_v2" }
-- The hooks a client calls (README, "Client mode").
M.CLIENT_HOOKS = { "dns" }

local function hooks_table(kind, names)
	local known = {}
	for _, name in ipairs(names) do known[name] = true end
	-- The functions live in `store`, so that every assignment, a replacement too,
	-- passes through __newindex.
	local store = {}
	return setmetatable({}, {
		-- Protected: the engine looks hooks up here (core/lua/script.c reads __index's table raw).
		__metatable = "moonvpn.hooks",
		__index = store,
		__pairs = function() return next, store, nil end,
		__newindex = function(t, name, fn)
			if not known[name] then
				local hint = type(name) == "string" and schema.closest(name, names)
				error(string.format("%s.on.%s: no such hook%s (the hooks are %s)", kind,
					tostring(name), hint and string.format(" (did you mean %q?)", hint) or "",
					table.concat(names, ", ")), 2)
			end
			if fn ~= nil and type(fn) ~= "function" then
				error(string.format("%s.on.%s: expected a function, got %s", kind, name,
					schema.show(fn)), 2)
			end
			store[name] = fn
			-- A new on.flow, from the console, takes effect at once: cached verdicts go.
			if name == "flow" then
				local ok, engine = pcall(require, "moonvpn.engine")
				if ok then pcall(engine.flow_hook_changed, t) end
			end
		end,
	})
end

-- The engine's primitives for hooks (moonvpn.hook exists only inside the engine).
local has_hook, hook = pcall(require, "moonvpn.hook")
local function engine_only(name)
	return function() error("vpn." .. name .. " needs a running engine", 2) end
end

--- Suspends the calling hook for `seconds`; other clients go on. May yield.
M.sleep = has_hook and hook.sleep or engine_only("sleep")
--- Runs a program without blocking: vpn.exec { "prog", "arg", stdin = "...",
-- env = { NAME = "value" }, timeout = 10 } -> status, stdout, stderr. May yield.
M.exec = has_hook and hook.exec or engine_only("exec")
--- Checks a password against a crypt(3) hash (yescrypt, sha512-crypt) on a
-- worker thread: true or false. May yield.
M.crypt_verify = has_hook and hook.crypt_verify or engine_only("crypt_verify")
--- Decides for a client whose on.auth waits in client:wait() (a web login
-- finished elsewhere): it gets "decided", ok, reason. `client` is the client
-- object or its peer-id. Returns whether a hook was waiting.
function M.auth_answer(client, ok, reason)
	if not has_hook then error("vpn.auth_answer needs a running engine", 2) end
	local id = type(client) == "table" and client.id or client
	if math.type(id) ~= "integer" then error("vpn.auth_answer: expected a client or a peer-id", 2) end
	return hook.auth_answer(id, "decided", ok and true or false, reason and tostring(reason) or nil)
end

--- Runs fn once after `seconds`, as a hook. Returns a timer (timer:cancel()).
M.after = has_hook and hook.after or engine_only("after")
--- Runs fn every `seconds`, as a hook, one run at a time. Returns a timer.
M.every = has_hook and hook.every or engine_only("every")

--- Writes one log line ("lua" subsystem) at level error, warn, info, debug or trace.
function M.log(level, message)
	local ok, engine = pcall(require, "moonvpn.engine")
	if ok then
		engine.log(level, tostring(message))
	else
		io.stderr:write(tostring(message), "\n")
	end
end

local server_mt = { __name = "moonvpn.server" }
server_mt.__index = server_mt

function server_mt:__tostring()
	return string.format("moonvpn.server (%s:%d)", self._decl.short_src, self._decl.line)
end

--- Declares a VPN server. Fields: see README.md, "Configuration reference".
-- Returns the server object; its `on` table will hold the Lua hooks.
function M.server(def)
	local decl = config.declare("server", def, 2)
	decl.on = hooks_table("server", M.HOOKS)
	local server = setmetatable({ on = decl.on, _decl = decl }, server_mt)
	decl.object = server
	return server
end

local client_mt = { __name = "moonvpn.client" }
client_mt.__index = client_mt

function client_mt:__tostring()
	return string.format("moonvpn.client (%s:%d)", self._decl.short_src, self._decl.line)
end

--- Declares a VPN client: it connects to `remote`, takes its address,
-- routes and keepalive from the server's push, and reconnects by itself.
-- Fields: see README.md, "Client mode".
function M.client(def)
	local decl = config.declare("client", def, 2)
	decl.on = hooks_table("client", M.CLIENT_HOOKS)
	local client = setmetatable({ on = decl.on, _decl = decl }, client_mt)
	decl.object = client
	return client
end

return M
