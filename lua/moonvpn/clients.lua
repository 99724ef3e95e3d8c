-- SPDX-License-Identifier: MIT
--- The engine's view of connected clients: admission (the operator's
-- on.auth and on.connect hooks), address leases, PUSH_REPLY, and the end of
-- a client (on.disconnect).
--
-- The C session calls admit() in a hook coroutine of its own when a client
-- has finished TLS and the key exchange (so on.auth and on.connect may
-- yield through vpn.sleep and vpn.exec), and ended() when the session ends.
-- Pools live as long as the engine, one per network, so a reload keeps
-- existing leases.
local config = require "moonvpn.config"
local core = require "moonvpn.core"
local pool = require "moonvpn.pool"
local push = require "moonvpn.push"
local peer = require "moonvpn.peer"
local policy = require "moonvpn.policy"

-- The standard functions this module calls when the engine asks it something
-- (ended, groups), taken before any configuration runs: a configuration or a
-- hook may reassign the globals. (Calls are bounded anyway, core/lua/script.c.)
local next, rawset = next, rawset

local M = {}

local pools = {} -- network prefix -> pool
local leases = {} -- peer_id -> { pool, address, pool6, address6 }
local admitted = {} -- peer_id -> client object, from admission to the session's end
local settings_of = {} -- peer_id -> what its PUSH_REPLY was built from (session_settings)

M.REASON_MAX = 120
M.PUSH_MESSAGES_MAX = 8 -- SESSION_PUSH_MESSAGES_MAX in session.h

local function pool_for(network)
	local p = pools[network]
	if not p then
		p = pool.new(network, { reserved = { core.prefix_host(network, 1) } })
		pools[network] = p
	end
	return p
end

local function show(v)
	return type(v) == "string" and string.format("%q", v) or tostring(v)
end

-- What a refused client is told (AUTH_FAILED,<reason>): printable, one line.
local function reason_text(msg)
	if msg == nil then return "" end
	return (tostring(msg):gsub("[%c,]", " "):sub(1, M.REASON_MAX))
end

local function release(peer_id)
	local lease = leases[peer_id]
	if not lease then return end
	lease.pool:release(lease.address)
	if lease.address6 then lease.pool6:release(lease.address6) end
	leases[peer_id] = nil
end

-- The metrics time on.auth and on.connect apart (they run in one hook call):
-- a to-be-closed stopwatch reports when the function returns, raises, or its
-- call ends at the deadline (the runtime closes the coroutine then).
-- Taken when the module loads: nil outside an engine (busted), and no hook can swap them.
local has_engine, engine = pcall(require, "moonvpn.engine")
local setmetatable = setmetatable
local function stopwatch(name)
	if not has_engine then return nil end
	local started = engine.clock()
	return setmetatable({}, { __close = function(_, err)
		engine.hook_observe(name, engine.clock() - started, err ~= nil)
	end })
end

local function owner_of(client)
	if client.cn ~= "" then return client.cn end
	return client.username or client.address
end

-- Leases the client its addresses from the pools; true, or nil and why.
local function lease(cfg, client)
	local owner = owner_of(client)
	local p = pool_for(cfg.network)
	local address, err = p:lease(owner)
	if not address then return nil, err end
	local l = { pool = p, address = address }
	if cfg.network6 then
		l.pool6 = pool_for(cfg.network6)
		l.address6 = l.pool6:lease(owner)
	end
	leases[client.id] = l
	client.vpn_address, client.vpn_address6 = l.address, l.address6
	return true
end

-- Moves lease l's `key` ("address" or "address6") to `address`: a function that
-- undoes the move, or nil and why.
local function move_lease(l, key, address, owner)
	local p, old = l[key == "address" and "pool" or "pool6"], l[key]
	if address == old then return function() end end
	if not p then return nil, "the server has no IPv6 network (network6)" end
	local ok, err = p:lease_address(address, owner)
	if not ok then return nil, err end
	if old then p:release(old) end
	l[key] = address
	return function()
		p:release(address)
		if old then p:lease_address(old, owner) end
		l[key] = old
	end
end

-- client:set_address() in on.connect: the pool's address goes back, the given one is taken.
local function lease_static(client, address)
	local undo, err = move_lease(leases[client.id], "address", address, owner_of(client))
	if not undo then
		error(string.format("client:set_address(%q): %s", address, err), 0)
	end
	client.vpn_address = address
end

-- on.auth: true lets the client in; false, nil or nil, "message" refuse it. A client
-- that presents a valid auth-token (auth.token) was let in by on.auth when the token
-- was issued: it is admitted without asking again (client.auth_token = "valid" tells
-- on.connect so), unless auth.token.external asks on.auth anyway, with no password.
-- Tokens that are not valid never get here (the session refuses them).
local function authenticate(cfg, on, client, password)
	local token = client.auth_token == "valid"
	if token and not (on.auth and cfg.auth.token and cfg.auth.token.external) then return true end
	local sent = client.username ~= nil or password ~= ""
	if not on.auth then
		if client.cn == "" then
			error("a client without a certificate, and no on.auth to check its password: refused", 0)
		end
		return true
	end
	if not token and not sent and cfg.auth.password == "required" then
		return false, "username and password required"
	end
	local ok, msg
	do
		local _ <close> = stopwatch("on.auth")
		ok, msg = on.auth(client, client.username, (sent and not token) and password or nil)
	end
	if ok == true then return true end
	if ok == false or ok == nil then return false, msg end
	error(string.format("on.auth returned %s: return true to let the client in, or false (or nil) "
		.. "and a message to refuse it", show(ok)), 0)
end

-- on.connect: nothing or true lets the client in; false or nil, "message" refuse it.
local function run_connect(on, client)
	if not on.connect then return true end
	client._grants.open = true
	local ok, msg
	do
		local _ <close> = stopwatch("on.connect")
		ok, msg = on.connect(client)
	end
	client._grants.open = false
	if ok == true or (ok == nil and msg == nil) then return true end
	if ok == false or ok == nil then return false, msg end
	error(string.format("on.connect returned %s: return nothing to let the client in, or false "
		.. "and a message to refuse it", show(ok)), 0)
end

-- client:route() subnets may not overlap the VPN networks (they are routed already).
local function check_routes(cfg, client)
	for _, route in ipairs(client._grants.routes) do
		for _, net in ipairs { cfg.network, cfg.network6 } do
			if config.prefix_contains(route, net) or config.prefix_contains(net, route) then
				error(string.format("client:route(%q) overlaps the VPN network %s", route, net), 0)
			end
		end
	end
end

-- What the client's PUSH_REPLY depends on besides its grants, from its admission info.
local function session_settings(info)
	return { cipher = info.cipher, ncp = info.ncp, iv_proto = info.iv_proto,
		epoch_data = info.epoch_data, iv_mtu = info.iv_mtu or nil, compression = info.compression }
end

-- The PUSH_REPLY messages for an admitted client; raises when they do not fit.
local function reply_for(cfg, client, settings)
	local s = settings
	local messages = push.messages(push.options(cfg, {
		address = client.vpn_address, address6 = client.vpn_address6, peer_id = client.id,
		cipher = s.cipher, ncp = s.ncp, iv_proto = s.iv_proto, epoch_data = s.epoch_data,
		iv_mtu = s.iv_mtu, compression = s.compression,
	}, client._grants.push), cfg.auth.token and push.token_room(client.username) or 0)
	if #messages > M.PUSH_MESSAGES_MAX then
		error(string.format("the PUSH_REPLY for %s needs %d messages; at most %d fit (push fewer "
			.. "options)", tostring(client), #messages, M.PUSH_MESSAGES_MAX), 0)
	end
	return messages
end

-- admit()'s results for an admitted client (see there).
local function decision(client, messages)
	local own = #client._grants.rules > 0 and policy.compile { rules = client._grants.rules } or nil
	return client.vpn_address, messages, client.vpn_address6, client._grants.routes, own,
		policy.client_groups(policy.active, client.cn, client._grants.groups)
end

--- Asks on.tls_crypt_v2(key, address) about a tls-crypt-v2 client's key, before
-- its TLS handshake (may yield): true lets it go on (so does nothing), false and
-- a reason refuse it. Errors fail closed (the caller).
function M.verify_key(on, key, address)
	local ok, why = on.tls_crypt_v2(key, address)
	if ok == true or (ok == nil and why == nil) then return true end
	if ok == false or ok == nil then return false, type(why) == "string" and why or nil end
	error(string.format("on.tls_crypt_v2 returned %s: return nothing to let the key in, or false "
		.. "and a reason to refuse it", show(ok)), 0)
end

--- Decides on a client, as a hook (may yield): returns its address, the
-- PUSH_REPLY messages, its IPv6 address (or nil), the subnets routed to
-- it, its own policy rules (compiled, or nil) and its group bits under the
-- policy in force; or nil and the reason it is told. Errors fail closed
-- (the caller).
-- info = { peer_id, cn, subject, serial, fingerprint, peer, cipher,
--          iv_proto, iv_mtu, ncp, username, password, peer_info, software,
--          auth_token ("none" or "valid": the password was a token of ours),
--          compression ("none", "stub-v2" or "comp-lzo": the client's framing) }
function M.admit(cfg, on, info)
	local client = peer.new(info)
	if info.auth_token == "valid" then client.auth_token = "valid" end
	if info.compression ~= "none" and cfg.compression == "refuse" then
		return nil, "this server does not allow compression: remove comp-lzo and compress "
			.. "from the client's profile"
	end
	local ok, msg = authenticate(cfg, on, client, info.password)
	if not ok then return nil, reason_text(msg) end
	local leased, err = lease(cfg, client)
	if not leased then return nil, reason_text(err) end
	ok, msg = run_connect(on, client)
	if not ok then
		release(client.id)
		return nil, reason_text(msg)
	end
	check_routes(cfg, client)
	if client._grants.address then lease_static(client, client._grants.address) end
	local settings = session_settings(info)
	local messages = reply_for(cfg, client, settings)
	admitted[client.id], settings_of[client.id] = client, settings
	return decision(client, messages)
end

-- ifconfig-push's netmask, or ifconfig-ipv6-push's prefix length, must be the network's:
-- clients share the server's subnet (topology subnet).
local function check_mask(cfg, changes)
	if changes.netmask and changes.netmask ~= push.netmask_of(cfg.network) then
		return nil, string.format("ifconfig-push %s %s: the netmask must be the VPN network's (%s): "
			.. "clients share the server's subnet", changes.address, changes.netmask, cfg.network)
	end
	if changes.address6 and not cfg.network6 then
		return nil, "ifconfig-ipv6-push: the server has no IPv6 network (network6)"
	end
	if changes.len6 and changes.len6 ~= push.prefix_len(cfg.network6) then
		return nil, string.format("ifconfig-ipv6-push %s/%d: the prefix length must be the VPN "
			.. "network's (%s)", changes.address6, changes.len6, cfg.network6)
	end
	return true
end

-- Moves the client's leases to changes.address/address6: a function undoing both, or nil and why.
local function move_leases(client, changes)
	local l, owner = leases[client.id], owner_of(client)
	local undo4, undo6, err = function() end, function() end
	if changes.address then
		undo4, err = move_lease(l, "address", changes.address, owner)
		if not undo4 then return nil, "ifconfig-push " .. changes.address .. ": " .. err end
	end
	if changes.address6 then
		undo6, err = move_lease(l, "address6", changes.address6, owner)
		if not undo6 then
			undo4()
			return nil, "ifconfig-ipv6-push " .. changes.address6 .. ": " .. err
		end
	end
	return function() undo6() undo4() end
end

local function appended(list, more)
	local all = table.move(list, 1, #list, 1, {})
	return table.move(more or {}, 1, #(more or {}), #all + 1, all)
end

--- What a management client's client-auth adds to an admitted client before
-- the session takes it (core/engine_mgmt.c): changes = { address, netmask
-- (ifconfig-push), address6, len6 (ifconfig-ipv6-push), push = { options },
-- routes = { prefixes (iroute) } }. Returns what admit() returned, with the
-- changes in; or nil and why, and then nothing changed.
function M.amend(cfg, peer_id, changes)
	local client, settings = admitted[peer_id], settings_of[peer_id]
	if not client then return nil, "the client is no longer waiting for admission" end
	local ok, err = check_mask(cfg, changes)
	if not ok then return nil, err end
	local grants = client._grants
	local routes, options = appended(grants.routes, changes.routes), appended(grants.push, changes.push)
	ok, err = pcall(check_routes, cfg, { _grants = { routes = routes } })
	if not ok then return nil, "iroute: " .. tostring(err) end
	local undo
	undo, err = move_leases(client, changes)
	if not undo then return nil, err end
	local l, before = leases[peer_id], { grants.routes, grants.push, client.vpn_address, client.vpn_address6 }
	grants.routes, grants.push, client.vpn_address, client.vpn_address6 = routes, options, l.address, l.address6
	local built, messages = pcall(reply_for, cfg, client, settings)
	if not built then
		undo()
		grants.routes, grants.push, client.vpn_address, client.vpn_address6 = table.unpack(before, 1, 4)
		return nil, tostring(messages)
	end
	return decision(client, messages)
end

--- The session of peer_id ended: its addresses go back to the pool, and an
-- admitted client's on.disconnect hook is returned (with the client object)
-- for the caller to run. stats = { bytes_in, bytes_out, packets_in,
-- packets_out, duration }.
function M.ended(on, peer_id, stats)
	release(peer_id)
	local client = admitted[peer_id]
	admitted[peer_id], settings_of[peer_id] = nil, nil
	if not client then return nil end
	-- rawset, next: neither the object's metatable nor _G.pairs are the hooks' to change.
	for k, v in next, stats do rawset(client, k, v) end
	return on and on.disconnect, client
end

--- The session of peer_id was not let in after all (it ended while being
-- decided): it never connected, so no on.disconnect for it.
function M.revoke(peer_id)
	admitted[peer_id], settings_of[peer_id] = nil, nil
end

--- The group bits of an admitted client under the policy in force (after a reload).
function M.groups(peer_id)
	local client = admitted[peer_id]
	return client and policy.client_groups(policy.active, client.cn, client._grants.groups) or 0
end

--- The client object of an admitted client, or nil.
function M.get(peer_id)
	return admitted[peer_id]
end

--- The admitted client objects, by peer-id.
function M.all()
	local list = {}
	for id, client in pairs(admitted) do list[id] = client end
	return list
end

return M
