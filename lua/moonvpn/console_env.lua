-- SPDX-License-Identifier: MIT
--- The global environment of console sessions: the operator's built-ins.
--
-- Every console client shares one environment, so a variable set in one
-- session is visible in the others, as in a single running program. Globals
-- of the engine's Lua state are readable through it.
local engine = require "moonvpn.engine"
local console = require "moonvpn.console"

local M = {}

local HELP = [[
moonvpn console: Lua 5.4 inside the running engine.
  status()             uptime, device, addresses, routes, log level
  stats()              packet counters: received, answered, dropped by reason
  clients()            connected clients: name, addresses, cipher, state, since
  config()             the active configuration, as validated
  reload()             re-read the configuration file (as SIGHUP does)
  log_level()          the current log level
  log_level("debug")   set it: error, warn, info, debug, trace
  help()               this text
An expression prints its value; a statement runs; an unfinished
statement continues on the next line. print() writes here.]]

local function builtins(env)
	return {
		help = function() env.print(HELP) end,
		status = engine.status,
		stats = engine.stats,
		clients = engine.clients,
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
	}
end

--- A new console environment.
function M.new()
	local env = setmetatable({}, { __index = _G })
	for name, fn in pairs(builtins(env)) do env[name] = fn end
	-- os.exit would skip the engine's cleanup (device, socket file).
	env.os = setmetatable({
		exit = function() error("os.exit is disabled in the console: stop moonvpn with SIGTERM", 2) end,
	}, { __index = os })
	return env
end

return M
