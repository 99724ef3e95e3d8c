-- SPDX-License-Identifier: MIT
--- The client object the hooks get: who the client is, and (in on.connect)
-- what the operator gives it.
--
-- Identity: `id` (the peer-id), `cn`, `subject`, `serial`, `fingerprint`
-- (SHA-256 of the certificate, "AB:CD:..."), `username`, `ip`, `port`,
-- `address` ("ip:port"), `peer_info` (IV_PLAT, IV_VER, IV_HWADDR, UV_* ...
-- as sent), `software` (what that tells: `platform`, `version`,
-- `gui_version`, `sso` (a list of methods) and `protocol` (the IV_PROTO bits
-- by name, e.g. "data-v2", "dyn-tls-crypt"), each absent when not sent),
-- `cipher`. After admission: `vpn_address`, `vpn_address6`.
-- At disconnect: `bytes_in`, `bytes_out`, `packets_in`, `packets_out`,
-- `duration` (seconds). Other fields are the operator's to set.
--
-- In on.connect only: `client:set_address(a)`, `client:route(prefix)`
-- (a subnet behind the client, as OpenVPN's iroute), `client:push(option)`
-- (a PUSH_REPLY option for this client only), `client:group(name)` (for
-- the policy's `group` rules) and `client:rule { ... }` (a policy rule for
-- this client's packets).
local core = require "moonvpn.core"
local policy = require "moonvpn.policy"

local M = {}

M.ROUTES_MAX = 64
M.PUSH_MAX = 64
M.OPTION_MAX = 256
M.RULES_MAX = 256

local function schema_path(path)
	return require("moonvpn.schema").path_string(path)
end

-- Protected (__metatable): hooks get client objects, and the engine reads and
-- writes them at the client's end; a hook that could set __newindex or
-- __index here would run its code in the engine's own calls. The methods
-- live in a table of their own: were __index the metatable itself,
-- client.__index would hand it out past __metatable.
local methods = {}
local peer_mt = { __name = "moonvpn.peer", __metatable = "moonvpn.peer", __index = methods }

-- The client objects made here (check_stage tells them from look-alikes).
local peers = setmetatable({}, { __mode = "k" })

function peer_mt:__tostring()
	local name = self.cn ~= "" and self.cn or (self.username or "")
	return string.format("moonvpn.peer %d (%s %s)", self.id, name, self.address)
end

--- "IV_VER=2.6.14\nIV_PLAT=linux\n" -> { IV_VER = "2.6.14", IV_PLAT = "linux" }
function M.parse_peer_info(text)
	local vars = {}
	for name, value in text:gmatch("([%w_]+)=([^\n]*)") do vars[name] = value end
	return vars
end

local function split_address(peer)
	local ip, port = peer:match("^%[(.+)%]:(%d+)$")
	if not ip then ip, port = peer:match("^(.+):(%d+)$") end
	return ip or peer, tonumber(port)
end

--- A new client object from what the C session knows (info, see script.c).
function M.new(info)
	local ip, port = split_address(info.peer)
	local client = setmetatable({
		id = info.peer_id, cn = info.cn, subject = info.subject, serial = info.serial,
		fingerprint = info.fingerprint, cipher = info.cipher,
		username = info.username ~= "" and info.username or nil,
		address = info.peer, ip = ip, port = port,
		peer_info = M.parse_peer_info(info.peer_info or ""),
		software = info.software or {},
		_grants = { routes = {}, push = {}, rules = {}, groups = {} },
	}, peer_mt)
	peers[client] = true
	return client
end

local function check_stage(self, what)
	if not peers[self] then
		error(string.format("client:%s: call it as a method, client:%s(...)", what, what), 3)
	end
	if not self._grants.open then
		error(string.format("client:%s() is only allowed in on.connect", what), 3)
	end
end

--- Gives the client this VPN address instead of one from the pool.
function methods:set_address(address)
	check_stage(self, "set_address")
	if type(address) ~= "string" or core.parse_ip(address) ~= 4 then
		error(string.format("client:set_address: %q is not an IPv4 address", tostring(address)), 2)
	end
	self._grants.address = address
end

--- Routes a subnet behind this client: the server sends it packets for it.
function methods:route(prefix)
	check_stage(self, "route")
	local p = type(prefix) == "string" and core.parse_prefix(prefix)
	if not p then
		error(string.format("client:route: %s is not a CIDR prefix like \"192.168.70.0/24\"",
			type(prefix) == "string" and string.format("%q", prefix) or tostring(prefix)), 2)
	end
	local routes = self._grants.routes
	if #routes >= M.ROUTES_MAX then error("client:route: at most " .. M.ROUTES_MAX .. " routes", 2) end
	routes[#routes + 1] = p.network
end

--- Adds an option to this client's PUSH_REPLY ("route 10.1.0.0 255.255.0.0",
-- "dhcp-option DNS 10.8.0.1", "redirect-gateway def1", ...).
function methods:push(option)
	check_stage(self, "push")
	if type(option) ~= "string" or option == "" or #option > M.OPTION_MAX
		or option:find("[,%c]") or option:find("[^%g ]") then
		error(string.format("client:push: %s is not a push option (printable, no commas, at most %d bytes)",
			type(option) == "string" and string.format("%q", option) or tostring(option), M.OPTION_MAX), 2)
	end
	local push = self._grants.push
	if #push >= M.PUSH_MAX then error("client:push: at most " .. M.PUSH_MAX .. " options", 2) end
	push[#push + 1] = option
end

--- Puts the client in a group that the policy's rules can name (group = "admins").
function methods:group(name)
	check_stage(self, "group")
	if type(name) ~= "string" or name == "" then
		error("client:group: expected a group name, got " .. tostring(name), 2)
	end
	local groups = self._grants.groups
	if #groups >= M.PUSH_MAX then error("client:group: at most " .. M.PUSH_MAX .. " groups", 2) end
	groups[#groups + 1] = name
end

--- A policy rule for this client's packets only, checked before the server's
-- rules (as in the policy: verdict, direction, proto, src, dst, sport, dport, icmp_type).
function methods:rule(rule)
	check_stage(self, "rule")
	local r, err = policy.client_rule.check(rule, { "client:rule" })
	if not r then error(string.format("%s: %s", schema_path(err.path), err.message), 2) end
	local rules = self._grants.rules
	if #rules >= M.RULES_MAX then error("client:rule: at most " .. M.RULES_MAX .. " rules", 2) end
	rules[#rules + 1] = r
end

return M
