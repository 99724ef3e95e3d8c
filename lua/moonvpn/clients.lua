-- SPDX-License-Identifier: MIT
--- The engine's view of connected clients: address leases and PUSH_REPLY.
--
-- The C session calls connect() when a client has finished TLS and the key
-- exchange, and disconnect() when its session ends. Pools live as long as
-- the engine, one per network, so a reload keeps existing leases.
local core = require "moonvpn.core"
local pool = require "moonvpn.pool"
local push = require "moonvpn.push"

local M = {}

local pools = {} -- network prefix -> pool
local leases = {} -- peer_id -> { pool, address, pool6, address6 }

local function pool_for(network)
	local p = pools[network]
	if not p then
		p = pool.new(network, { reserved = { core.prefix_host(network, 1) } })
		pools[network] = p
	end
	return p
end

--- Admits a client: returns its address, the PUSH_REPLY messages and its IPv6
-- address (or nil), or nil and why.
-- info = { peer_id, cn, peer, cipher, iv_proto, iv_mtu, ncp }
function M.connect(cfg, info)
	local owner = info.cn ~= "" and info.cn or info.peer
	local p = pool_for(cfg.network)
	local address, err = p:lease(owner)
	if not address then return nil, err end
	local lease = { pool = p, address = address }
	if cfg.network6 then
		lease.pool6 = pool_for(cfg.network6)
		lease.address6 = lease.pool6:lease(owner)
	end
	leases[info.peer_id] = lease
	local client = {
		address = address, address6 = lease.address6, peer_id = info.peer_id,
		cipher = info.cipher, ncp = info.ncp, iv_proto = info.iv_proto,
		iv_mtu = info.iv_mtu or nil,
	}
	return address, push.messages(push.options(cfg, client)), lease.address6
end

--- Releases the addresses of the client with this peer-id.
function M.disconnect(peer_id)
	local lease = leases[peer_id]
	if not lease then return end
	lease.pool:release(lease.address)
	if lease.address6 then lease.pool6:release(lease.address6) end
	leases[peer_id] = nil
end

return M
