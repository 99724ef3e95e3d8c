-- SPDX-License-Identifier: MIT
--- PUSH_REPLY: the options a server sends a client (protocol guide 8.3).
--
-- Global options from the configuration first, then the client's own
-- (addresses, peer-id, cipher, protocol flags, MTU), as 2.6 orders them.
-- Only what the engine implements is advertised, and only to clients that
-- announce it: tls-ekm, cc-exit, dyn-tls-crypt (the session derives the
-- renegotiations' key for the same IV_PROTO bit, core/control/session_dyntls.c).
local core = require "moonvpn.core"

local M = {}

-- IV_PROTO bits (protocol guide 5.4).
M.IV_PROTO = { DATA_V2 = 2, REQUEST_PUSH = 4, TLS_KEY_EXPORT = 8, DNS_OPTION = 64,
	CC_EXIT_NOTIFY = 128, DYN_TLS_CRYPT = 512, DNS_OPTION_V2 = 2048 }
M.DNS_SERVER_ADDRESSES_MAX = 8 -- addresses in one `dns server N address` (OpenVPN's dns.h)
M.MESSAGE_MAX = 1024 -- bytes of one control message, NUL included

local function netmask(len)
	local mask = len == 0 and 0 or (0xffffffff << (32 - len)) & 0xffffffff
	return string.format("%d.%d.%d.%d", mask >> 24, (mask >> 16) & 255, (mask >> 8) & 255, mask & 255)
end

local function split(prefix)
	local addr, len = prefix:match("^(.+)/(%d+)$")
	return addr, tonumber(len)
end

--- The netmask of an IPv4 prefix: "255.255.255.0" for "10.8.0.0/24".
function M.netmask_of(prefix)
	return netmask(select(2, split(prefix)))
end

--- The length of a prefix: 24 for "10.8.0.0/24".
function M.prefix_len(prefix)
	return select(2, split(prefix))
end

-- DNS servers and the search domain: 2.6's structured `dns` option to clients
-- that announce it in IV_PROTO (dns-option from 2.6, dns-option-v2 from 2.7
-- and the OpenVPN 3 core), `dhcp-option` to the rest, which know only that.
local function dns_options(cfg, iv_proto, opts)
	local dns, domain = cfg.push.dns, cfg.push.domain
	if iv_proto & (M.IV_PROTO.DNS_OPTION | M.IV_PROTO.DNS_OPTION_V2) == 0 then
		for _, addr in ipairs(dns) do opts[#opts + 1] = "dhcp-option DNS " .. addr end
		if domain then opts[#opts + 1] = "dhcp-option DOMAIN " .. domain end
		return
	end
	-- A server takes at most DNS_SERVER_ADDRESSES_MAX addresses: more make more
	-- servers, in the configured order of priority.
	for first = 1, #dns, M.DNS_SERVER_ADDRESSES_MAX do
		local group = table.move(dns, first, math.min(#dns, first + M.DNS_SERVER_ADDRESSES_MAX - 1), 1, {})
		opts[#opts + 1] = string.format("dns server %d address %s",
			(first - 1) // M.DNS_SERVER_ADDRESSES_MAX, table.concat(group, " "))
	end
	if domain then opts[#opts + 1] = "dns search-domains " .. domain end
end

local function global_options(cfg, iv_proto)
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
	dns_options(cfg, iv_proto, opts)
	return opts
end

-- What turns a client's compression off while it keeps its framing, as 2.6's
-- `compress migrate` pushes it (core/data/compframe.h).
local COMPRESSION_OFF = { ["stub-v2"] = "compress stub-v2", ["comp-lzo"] = "comp-lzo no" }

--- The options for one client. client = { address, address6, peer_id, cipher,
-- iv_proto, iv_mtu, ncp (the client negotiates ciphers), epoch_data (the
-- session chose 2.7's epoch data format), compression (its
-- framing: "none", "stub-v2" or "comp-lzo") }. `extra` lists the
-- client's own options from on.connect; they follow the global ones.
function M.options(cfg, client, extra)
	local proto = client.iv_proto or 0
	local opts = global_options(cfg, proto)
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
	-- As 2.7's push.c orders them; tls-ekm goes there only beside cc-exit.
	local flags = ""
	if proto & M.IV_PROTO.CC_EXIT_NOTIFY ~= 0 then
		flags = " cc-exit"
		if proto & M.IV_PROTO.TLS_KEY_EXPORT ~= 0 then flags = flags .. " tls-ekm" end
	elseif proto & M.IV_PROTO.TLS_KEY_EXPORT ~= 0 then
		opts[#opts + 1] = "key-derivation tls-ekm"
	end
	if proto & M.IV_PROTO.DYN_TLS_CRYPT ~= 0 then flags = flags .. " dyn-tls-crypt" end
	if client.epoch_data then flags = flags .. " aead-epoch" end
	if flags ~= "" then opts[#opts + 1] = "protocol-flags" .. flags end
	if client.iv_mtu then opts[#opts + 1] = "tun-mtu " .. cfg.device.mtu end
	local off = COMPRESSION_OFF[client.compression or "none"]
	if off then opts[#opts + 1] = off end
	return opts
end

M.AUTH_TOKEN_LEN = 91 -- AUTHTOKEN_TEXT_LEN in core/wire/authtoken.h

--- The room the session needs in the last PUSH_REPLY message for
-- ",auth-token TOKEN,auth-token-user BASE64(username)" (core/control/session_token.c).
function M.token_room(username)
	local name = username or ""
	return #",auth-token " + M.AUTH_TOKEN_LEN + #",auth-token-user " + (#name + 2) // 3 * 4
end

--- The PUSH_REPLY messages carrying `opts`: one, or several joined by
-- push-continuation (2 = more follow, 1 = last) when they exceed a message.
-- reserve: bytes every message leaves free (for the session's auth-token).
function M.messages(opts, reserve)
	local messages, current = {}, {}
	local function flush(last)
		local body = table.concat(current, ",")
		if not last or #messages > 0 then
			body = body .. (body ~= "" and "," or "") .. "push-continuation " .. (last and 1 or 2)
		end
		messages[#messages + 1] = "PUSH_REPLY" .. (body ~= "" and ("," .. body) or "")
		current = {}
	end
	local base = #"PUSH_REPLY" + #",push-continuation 2" + 1 + (reserve or 0)
	local size = base
	for _, opt in ipairs(opts) do
		if size + #opt + 1 > M.MESSAGE_MAX and #current > 0 then
			flush(false)
			size = base
		end
		current[#current + 1] = opt
		size = size + #opt + 1
	end
	flush(true)
	return messages
end

return M
