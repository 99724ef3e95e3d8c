-- SPDX-License-Identifier: MIT
--- The on.flow hook: asked once about each new flow no rule decided.
--
--   function office.on.flow(flow, client)
--     if flow.proto == "tcp" and flow.dport == 25 then return "reject" end
--     return "accept", 60          -- a verdict, and optionally how long it holds (s)
--   end
--
-- flow = { direction = "in" | "out", proto = "tcp" | "udp" | "icmp" | "icmpv6"
-- | number, src, dst (addresses), sport, dport (TCP, UDP), icmp_type,
-- fragment }; client is the client object of on.connect. The verdict is
-- cached in C: later packets of the flow never reach Lua.
local clients = require "moonvpn.clients"

local M = {}

local VERDICTS = { accept = true, drop = true, reject = true }

--- Runs on.flow for a flow of client peer_id (a hook: may yield); its verdict and lifetime.
function M.decide(on, flow, peer_id)
	if not on or not on.flow then error("on.flow is not set", 0) end
	local verdict, lifetime = on.flow(flow, clients.get(peer_id))
	if not VERDICTS[verdict] then
		error(string.format('on.flow returned %s: return "accept", "drop" or "reject" (and '
			.. "optionally a lifetime in seconds)", type(verdict) == "string" and
			string.format("%q", verdict) or tostring(verdict)), 0)
	end
	if lifetime ~= nil and (type(lifetime) ~= "number" or lifetime <= 0) then
		error("on.flow returned the lifetime " .. tostring(lifetime) .. ": a number of seconds above 0", 0)
	end
	return verdict, lifetime
end

return M
