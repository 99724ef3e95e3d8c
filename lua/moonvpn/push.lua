-- SPDX-License-Identifier: MIT
--- PUSH_REPLY: the options a server sends a client (protocol guide 8.3).
--
-- Global options from the configuration first, then the client's own
-- (addresses, peer-id, cipher, protocol flags, MTU), as 2.6 orders them.
-- Only what the engine implements is advertised: dyn-tls-crypt never,
-- tls-ekm only to clients that can do it.
local core = require "moonvpn.core"

local M = {}

-- IV_PROTO bits (protocol guide 5.4).
M.IV_PROTO = { DATA_V2 = 2, REQUEST_PUSH = 4, TLS_KEY_EXPORT = 8, CC_EXIT_NOTIFY = 128 }
M.MESSAGE_MAX = 1024 -- bytes of one control message, NUL included

local function netmask(len)
	local mask = len == 0 and 0 or (0xffffffff << (32 - len)) & 0xffffffff
	return string.format("%d.%d.%d.%d", mask >> 24, (mask >> 16) & 255, (mask >> 8) & 255, mask & 255)
end

local function split(prefix)
	local addr, len = prefix:match("^(.+)/(%d+)$")
	return addr, tonumber(len)
end

local function global_options(cfg)
	-- A TAP client takes its address and netmask on its Ethernet device; topology is a
	-- tun matter, and 2.6 pushes none with dev tap.
	local tap = cfg.device and cfg.device.type == "tap"
	local opts = { "route-gateway " .. core.prefix_host(cfg.network, 1) }
	if not tap then opts[#opts + 1] = "topology subnet" end
	opts[#opts + 1] = "ping " .. cfg.keepalive.interval
	opts[#opts + 1] = "ping-restart " .. cfg.keepalive.timeout
	for _, route in ipairs(cfg.push.routes) do
		local addr, len = split(route)
		if core.parse_ip(addr) == 4 then
			opts[#opts + 1] = string.format("route %s %s", addr, netmask(len))
		else
			opts[#opts + 1] = "route-ipv6 " .. route
		end
	end
	if cfg.push.redirect_gateway then opts[#opts + 1] = "redirect-gateway def1" end
	for _, dns in ipairs(cfg.push.dns) do opts[#opts + 1] = "dhcp-option DNS " .. dns end
	if cfg.push.domain then opts[#opts + 1] = "dhcp-option DOMAIN " .. cfg.push.domain end
	return opts
end

--- The options for one client. client = { address, address6, peer_id, cipher,
-- iv_proto, iv_mtu, ncp (the client negotiates ciphers) }. `extra` lists the
-- client's own options from on.connect; they follow the global ones.
function M.options(cfg, client, extra)
	local opts = global_options(cfg)
	table.move(extra or {}, 1, #(extra or {}), #opts + 1, opts)
	local _, len = split(cfg.network)
	if client.address6 and cfg.network6 then
		local _, len6 = split(cfg.network6)
		opts[#opts + 1] = string.format("ifconfig-ipv6 %s/%d %s", client.address6, len6,
			core.prefix_host(cfg.network6, 1))
	end
	opts[#opts + 1] = string.format("ifconfig %s %s", client.address, netmask(len))
	if client.peer_id then opts[#opts + 1] = "peer-id " .. client.peer_id end
	if client.ncp and client.cipher then opts[#opts + 1] = "cipher " .. client.cipher end
	local proto = client.iv_proto or 0
	if proto & M.IV_PROTO.CC_EXIT_NOTIFY ~= 0 then
		local flags = "protocol-flags cc-exit"
		if proto & M.IV_PROTO.TLS_KEY_EXPORT ~= 0 then flags = flags .. " tls-ekm" end
		opts[#opts + 1] = flags
	elseif proto & M.IV_PROTO.TLS_KEY_EXPORT ~= 0 then
		opts[#opts + 1] = "key-derivation tls-ekm"
	end
	if client.iv_mtu then opts[#opts + 1] = "tun-mtu " .. cfg.device.mtu end
	return opts
end

--- The PUSH_REPLY messages carrying `opts`: one, or several joined by
-- push-continuation (2 = more follow, 1 = last) when they exceed a message.
function M.messages(opts)
	local messages, current = {}, {}
	local function flush(last)
		local body = table.concat(current, ",")
		if not last or #messages > 0 then
			body = body .. (body ~= "" and "," or "") .. "push-continuation " .. (last and 1 or 2)
		end
		messages[#messages + 1] = "PUSH_REPLY" .. (body ~= "" and ("," .. body) or "")
		current = {}
	end
	local size = #"PUSH_REPLY" + #",push-continuation 2" + 1
	for _, opt in ipairs(opts) do
		if size + #opt + 1 > M.MESSAGE_MAX and #current > 0 then
			flush(false)
			size = #"PUSH_REPLY" + #",push-continuation 2" + 1
		end
		current[#current + 1] = opt
		size = size + #opt + 1
	end
	flush(true)
	return messages
end

return M
