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
-- `cipher`, `tls_crypt_v2` (a tls-crypt-v2 client's key: `id`, and from its
-- metadata `type` ("user", "timestamp"), `metadata`, `created`).
-- After admission: `vpn_address`, `vpn_address6`.
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
		tls_crypt_v2 = info.tls_crypt_v2,
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

-- Deferred authentication ----------------------------------------------------

M.PENDING_TIMEOUT = 120 -- seconds a client is told to wait, by default
M.PENDING_TEXT_MAX = 1000 -- bytes of a URL or challenge (a control message)

local function sso_has(client, method)
	for _, m in ipairs(client.software.sso or {}) do
		if m == method then return true end
	end
	return false
end

local function check_text(what, text)
	if type(text) ~= "string" or text == "" or #text > M.PENDING_TEXT_MAX
		or text:find("[^\32-\126]") then
		error(string.format("client:pending: %s must be printable ASCII text of 1 to %d bytes, "
			.. "got %s", what, M.PENDING_TEXT_MAX, require("moonvpn.schema").show(text)), 3)
	end
end

--- In on.auth: tells the client to wait for the decision and what to do
-- meanwhile. info = { url = "https://..." } (a web login, opened as the
-- client announces in IV_SSO: webauth, else openurl) or { challenge =
-- "Enter your code", echo = false } (the client asks its user; client:wait()
-- returns "response", answer), with timeout = seconds (default 120; then the
-- client is refused). Returns true, or false and why (the client cannot do
-- it, or is no longer waiting).
function methods:pending(info)
	if not peers[self] then error("client:pending: call it as a method, client:pending{...}", 2) end
	if type(info) ~= "table" or (info.url == nil) == (info.challenge == nil) then
		error("client:pending: expected { url = \"https://...\" } or { challenge = \"text\" }", 2)
	end
	local timeout = info.timeout or M.PENDING_TIMEOUT
	if math.type(timeout) ~= "integer" or timeout < 1 or timeout > 86400 then
		error("client:pending: timeout must be an integer of 1 to 86400 seconds", 2)
	end
	local text
	if info.url then
		check_text("url", info.url)
		if sso_has(self, "webauth") then
			text = "WEB_AUTH::" .. info.url
		elseif sso_has(self, "openurl") then
			text = "OPEN_URL:" .. info.url
		else
			return false, "the client cannot open a login page (its IV_SSO has neither webauth nor openurl)"
		end
	else
		check_text("challenge", info.challenge)
		if not sso_has(self, "crtext") then
			return false, "the client cannot answer a challenge (its IV_SSO has no crtext)"
		end
		text = "CR_TEXT:" .. (info.echo and "R,E" or "R") .. ":" .. info.challenge
	end
	local ok, engine = pcall(require, "moonvpn.engine")
	if not ok then error("client:pending needs a running engine", 2) end
	if not engine.auth_pending(self.id, text, timeout) then
		return false, "the client is no longer waiting for a decision"
	end
	return true
end

--- Suspends the hook until the client answers a challenge ("response",
-- text), a decision comes from the console's auth() or vpn.auth_answer()
-- ("decided", ok, reason), or `seconds` pass (nil, "timeout"). May yield;
-- the hook's deadline (hooks.timeout) starts again after the wait.
function methods:wait(seconds)
	if not peers[self] then error("client:wait: call it as a method, client:wait(seconds)", 2) end
	local ok, hook = pcall(require, "moonvpn.hook")
	if not ok then error("client:wait needs a running engine", 2) end
	return hook.auth_wait(self.id, seconds or M.PENDING_TIMEOUT)
end

return M
