-- SPDX-License-Identifier: MIT
--- An address pool: leases the host addresses of a prefix to owners.
--
-- Never hands one address to two owners; released addresses come back
-- after the rest have been used (a cursor moves on), so that a client that
-- reconnects at once does not inherit the address another just left.
--
--   local pool = require "moonvpn.pool"
--   local p = pool.new("10.8.0.0/24", { reserved = { "10.8.0.1" } })
--   local addr = assert(p:lease("alice"))   -- "10.8.0.2"
--   p:release(addr)
local core = require "moonvpn.core"

local M = {}
local pool_mt = { __name = "moonvpn.pool" }
pool_mt.__index = pool_mt

--- A pool over the hosts of `prefix`. opts.reserved lists addresses never leased.
function M.new(prefix, opts)
	local p = core.parse_prefix(prefix)
	if not p or p.network ~= p.text then
		error(string.format("moonvpn.pool: %q is not a network prefix", tostring(prefix)), 2)
	end
	local host_bits = (p.family == 4 and 32 or 128) - p.len
	-- IPv4 loses the network and broadcast addresses; IPv6 only the subnet-router anycast (0).
	local last = host_bits >= 62 and (1 << 62) or (1 << host_bits) - (p.family == 4 and 2 or 1)
	local self = setmetatable({ prefix = p.network, family = p.family, len = p.len, last = last,
		cursor = 0, leased = {}, reserved = {}, count = 0 }, pool_mt)
	for _, addr in ipairs(opts and opts.reserved or {}) do
		self.reserved[addr] = true
	end
	local reserved_inside = 0
	for addr in pairs(self.reserved) do
		if self:contains(addr) then reserved_inside = reserved_inside + 1 end
	end
	self.capacity = last - reserved_inside
	return self
end

--- True when addr is one of the pool's host addresses.
function pool_mt:contains(addr)
	local p = type(addr) == "string" and core.parse_prefix(addr .. "/" .. self.len)
	return p and p.network == self.prefix and p.text ~= self.prefix or false
end

--- Leases a free address to owner; the address, or nil and why.
function pool_mt:lease(owner)
	if self.count >= self.capacity then
		return nil, string.format("address pool %s is exhausted (%d addresses leased)",
			self.prefix, self.count)
	end
	for _ = 1, self.last do
		self.cursor = self.cursor % self.last + 1
		local addr = core.prefix_host(self.prefix, self.cursor)
		if addr and not self.leased[addr] and not self.reserved[addr] then
			self.leased[addr] = owner
			self.count = self.count + 1
			return addr
		end
	end
	return nil, "address pool " .. self.prefix .. " has no free address"
end

--- Leases a given address (a static assignment); true, or nil and why.
function pool_mt:lease_address(addr, owner)
	if not self:contains(addr) then
		return nil, string.format("%s is not in the pool %s", addr, self.prefix)
	end
	if self.reserved[addr] then return nil, addr .. " is reserved" end
	if self.leased[addr] then
		return nil, string.format("%s is leased to %s", addr, tostring(self.leased[addr]))
	end
	self.leased[addr] = owner
	self.count = self.count + 1
	return true
end

--- Returns addr to the pool; true when it was leased.
function pool_mt:release(addr)
	if not self.leased[addr] then return false end
	self.leased[addr] = nil
	self.count = self.count - 1
	return true
end

function pool_mt:owner(addr)
	return self.leased[addr]
end

function pool_mt:used()
	return self.count
end

return M
