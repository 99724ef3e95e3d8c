-- SPDX-License-Identifier: MIT
--- The public API of moonvpn: `local vpn = require "moonvpn"`.
--
-- A configuration file calls `vpn.server { ... }` to declare a server (or
-- `vpn.client { ... }` for a client); the
-- engine validates the declaration once the file has run (see
-- moonvpn.config) and only then opens devices and sockets.
local config = require "moonvpn.config"

local M = {
	version = "0.1.0",
}

local server_mt = { __name = "moonvpn.server" }
server_mt.__index = server_mt

function server_mt:__tostring()
	return string.format("moonvpn.server (%s:%d)", self._decl.short_src, self._decl.line)
end

--- Declares a VPN server. Fields: see README.md, "Configuration reference".
-- Returns the server object; its `on` table will hold the Lua hooks.
function M.server(def)
	local decl = config.declare("server", def, 2)
	return setmetatable({ on = {}, _decl = decl }, server_mt)
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
	return setmetatable({ on = {}, _decl = decl }, client_mt)
end

return M
