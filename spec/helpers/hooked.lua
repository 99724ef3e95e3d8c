-- SPDX-License-Identifier: MIT
--- A moonvpn server with the operator's hooks, and stock OpenVPN 2.6
-- clients with auth-user-pass, for the hook and plugin specs:
--
--   [ mvt-srv: moonvpn, tun 10.77.0.1/24 ] --veth 10.88.N.1 / 10.88.N.2-- [ mvt-cliN: openvpn ]
--
-- A describe block gets one with each() (or new(), ended with :stop()).
local busted = require "busted"
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

local M = {}
local setup_mt = {}
setup_mt.__index = setup_mt

function M.new()
	return setmetatable({ clients = {} }, setup_mt)
end

--- In a describe block: the setup its tests share, stopped after each test
-- (which leaves it fresh for the next); nil, and the block pending, without root.
function M.each()
	if not netns.is_root() then
		busted.pending("needs root for network namespaces")
		return nil
	end
	local t = M.new()
	busted.after_each(function() t:stop() end)
	return t
end

--- Starts the server: `hooks` is Lua appended to the configuration, where the
-- server is `office`; `server_extra` are more fields of vpn.server { }; opts.tls = false
-- leaves the tls field to server_extra (as spec.helpers.moonvpn's server_config).
function setup_mt:start(hooks, server_extra, n, opts)
	self.srv = netns.new()
	for i = 1, n or 2 do
		self.clients[i] = netns.new()
		netns.veth(self.srv, "10.88." .. i .. ".1/24", self.clients[i], "10.88." .. i .. ".2/24")
	end
	self.socket = netns.tmpdir() .. "/console.sock"
	local text = mv.server_config(string.format('  device = { name = "mvt0" },\n  console = "%s",\n%s',
		self.socket, server_extra or ""), opts):gsub("vpn%.server {", "local office = vpn.server {", 1)
	self.config = mv.write_config(text .. (hooks or ""))
	self.engine = self.srv:spawn({ mv.bin, self.config })
	local ok, out = self.engine:wait_log("engine: moonvpn [%d.]+ started", 10)
	assert(ok, out)
end

--- Starts stock client i with auth-user-pass user/password (nil: none sent).
-- opts.no_cert: a profile without a client certificate; opts.proto, opts.port: the transport.
function setup_mt:connect(i, user, password, opts)
	local lines = ""
	if user then
		lines = string.format("<auth-user-pass>\n%s\n%s\n</auth-user-pass>\n", user, password)
	end
	opts = opts or {}
	return self.clients[i]:spawn({ "openvpn", "--config", openvpn.profile(mv.pki(),
		{ remote = "10.88." .. i .. ".1", extra = lines, no_cert = opts.no_cert,
		  proto = opts.proto, port = opts.port, dev = opts.dev }) })
end

--- Waits for the client's tunnel; its log.
function setup_mt:completed(client)
	local ok, out = client:wait_log("Initialization Sequence Completed", 20)
	assert(ok, "openvpn:\n" .. out .. "\n--- moonvpn:\n" .. self.engine:output())
	return out
end

--- Waits for the client to be refused; its log.
function setup_mt:refused(client, timeout)
	local ok, out = client:wait_log("AUTH_FAILED", timeout or 20)
	assert(ok, "openvpn:\n" .. out .. "\n--- moonvpn:\n" .. self.engine:output())
	return out
end

--- Runs chunk in the server's console; its output.
function setup_mt:console(chunk)
	local status, out, err = mv.console(self.socket, chunk)
	assert(status == 0, "console: " .. chunk .. ": " .. tostring(err))
	return out
end

--- Stops the server (asserting a clean exit) and removes everything.
function setup_mt:stop()
	for _, c in ipairs(self.clients) do c:sh("true") end
	local engine = self.engine
	local status = engine and engine:stop()
	self.engine, self.clients = nil, {}
	local log = engine and engine:output() or ""
	netns.cleanup()
	assert(not engine or status == 0, "moonvpn exited with " .. tostring(status) .. ":\n" .. log)
end

return M
