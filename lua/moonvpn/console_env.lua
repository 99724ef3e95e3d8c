-- SPDX-License-Identifier: MIT
--- The global environment of console sessions: the operator's built-ins.
--
-- Every console client shares one environment, so a variable set in one
-- session is visible in the others, as in a single running program. Globals
-- of the engine's Lua state are readable through it.
local engine = require "moonvpn.engine"
local console = require "moonvpn.console"
local clients = require "moonvpn.clients"
local vpn = require "moonvpn"

local M = {}

local HELP = [[
moonvpn console: Lua 5.4 inside the running engine.
  status()             uptime, device, addresses, routes, log level
  stats()              packet counters: received, answered, dropped by reason
  clients()            connected clients: name, addresses, cipher, state, since,
                       software (platform, version, protocol features)
  policy()             the packet policy's rules with their hit counters
  flows([n])           the n flows with the most packets: verdict, packets, bytes
  server               the server object: server.on.flow = fn changes on.flow at once
  auth(who, ok, reason)  decide for a client whose on.auth waits (a web login)
  kick(who, reason)    disconnect clients by peer-id, common name or username;
                       they are told HALT (kick(who, reason, { reconnect = true }): RESTART)
  config()             the active configuration, as validated
  reload()             re-read the configuration file (as SIGHUP does)
  log_level()          the current log level
  log_level("debug")   set it: error, warn, info, debug, trace
  json(v)              v as JSON text (moonvpn console --json -e EXPR prints it)
  help()               this text
An expression prints its value; a statement runs; an unfinished
statement continues on the next line. print() writes here.]]

-- The peer-ids of the clients `who` names: a peer-id, a common name or a username.
local function matching(who)
	local ids = {}
	for _, c in ipairs(engine.clients()) do
		local obj = clients.get(c.peer_id)
		if c.peer_id == who or c.cn == who or (obj and obj.username == who) then
			ids[#ids + 1] = c.peer_id
		end
	end
	return ids
end

-- A decision for clients whose on.auth waits in client:wait().
local function auth(who, ok, reason)
	if type(who) ~= "number" and type(who) ~= "string" then
		error("auth(who, ok, reason): who is a peer-id, a common name or a username", 2)
	end
	local answered = 0
	for _, id in ipairs(matching(who)) do
		if vpn.auth_answer(id, ok, reason) then answered = answered + 1 end
	end
	if answered == 0 then error(string.format("auth: no client %s waits for a decision", console.pretty(who)), 2) end
	return answered
end

local function kick(who, reason, opts)
	if type(who) ~= "number" and type(who) ~= "string" then
		error("kick(who, reason): who is a peer-id, a common name or a username", 2)
	end
	local ids = matching(who)
	if #ids == 0 then error(string.format("kick: no client %s", console.pretty(who)), 2) end
	for _, id in ipairs(ids) do
		engine.kick(id, reason and tostring(reason) or "", opts and opts.reconnect)
	end
	return #ids
end

-- The rules in force as written, each with its hit counters.
local function policy()
	local counts = engine.policy_counters()
	local active = require("moonvpn.policy").active
	local out = { default = counts.default, rules = {} }
	for i, c in ipairs(counts.rules) do
		local rule = {}
		for k, v in pairs(active.rules[i] and active.rules[i].source or {}) do rule[k] = v end
		rule.packets, rule.bytes = c.packets, c.bytes
		out.rules[i] = rule
	end
	return out
end

local function builtins(env)
	return {
		help = function() env.print(HELP) end,
		status = engine.status,
		stats = engine.stats,
		clients = engine.clients,
		kick = kick,
		auth = auth,
		policy = policy,
		flows = engine.flows,
		config = engine.config,
		reload = function()
			local ok, err = engine.reload()
			if not ok then error(err, 2) end
			return "reloaded " .. engine.config().source
		end,
		log_level = function(level)
			if level == nil then return engine.log_level() end
			local ok, err = engine.set_log_level(level)
			if not ok then error(err, 2) end
			return level
		end,
		pretty = console.pretty,
		json = require("moonvpn.json").encode,
	}
end

--- A new console environment.
function M.new()
	-- `server` (`client`) is the object vpn.server (vpn.client) returned in the
	-- configuration in force.
	local env = setmetatable({}, { __index = function(_, k)
		if k == "server" or k == "client" then
			local o = engine.server_object()
			local mt = o and getmetatable(o)
			return type(mt) == "table" and mt.__name == "moonvpn." .. k and o or nil
		end
		return _G[k]
	end })
	for name, fn in pairs(builtins(env)) do env[name] = fn end
	-- os.exit would skip the engine's cleanup (device, socket file).
	env.os = setmetatable({
		exit = function() error("os.exit is disabled in the console: stop moonvpn with SIGTERM", 2) end,
	}, { __index = os })
	return env
end

return M
