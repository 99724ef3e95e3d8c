-- SPDX-License-Identifier: MIT
local pool = require "moonvpn.pool"

describe("moonvpn.pool", function()
	it("leases the hosts of a /29 in order, skipping the reserved server address", function()
		local p = pool.new("10.8.0.0/29", { reserved = { "10.8.0.1" } })
		local got = {}
		for i = 1, 5 do got[i] = assert(p:lease("c" .. i)) end
		assert.are.same({ "10.8.0.2", "10.8.0.3", "10.8.0.4", "10.8.0.5", "10.8.0.6" }, got)
		local addr, err = p:lease("c6")
		assert.is_nil(addr)
		assert.are.equal("address pool 10.8.0.0/29 is exhausted (5 addresses leased)", err)
	end)

	it("never hands one address to two owners, and reuses released ones last", function()
		local p = pool.new("10.8.0.0/29", { reserved = { "10.8.0.1" } })
		local a, b = p:lease("a"), p:lease("b")
		assert.are_not.equal(a, b)
		assert.is_true(p:release(a))
		assert.is_false(p:release(a))
		assert.are.equal("10.8.0.4", p:lease("c"))
		assert.are.equal("10.8.0.5", p:lease("d"))
		assert.are.equal("10.8.0.6", p:lease("e"))
		assert.are.equal(a, p:lease("f"))
		assert.are.equal(5, p:used())
	end)

	it("leases a given address once", function()
		local p = pool.new("10.8.0.0/24", { reserved = { "10.8.0.1" } })
		assert.is_true(p:lease_address("10.8.0.50", "alice"))
		assert.are.equal("alice", p:owner("10.8.0.50"))
		assert.are.same({ nil, "10.8.0.50 is leased to alice" }, { p:lease_address("10.8.0.50", "bob") })
		assert.are.same({ nil, "10.8.0.1 is reserved" }, { p:lease_address("10.8.0.1", "bob") })
		assert.are.same({ nil, "10.9.0.1 is not in the pool 10.8.0.0/24" }, { p:lease_address("10.9.0.1", "bob") })
		assert.are.same({ nil, "10.8.0.0 is not in the pool 10.8.0.0/24" }, { p:lease_address("10.8.0.0", "bob") })
		for _ = 1, 300 do
			local addr = p:lease("x")
			if not addr then break end
			assert.are_not.equal("10.8.0.50", addr)
		end
	end)

	it("leases IPv6 addresses", function()
		local p = pool.new("fd00:8::/64", { reserved = { "fd00:8::1" } })
		assert.are.equal("fd00:8::2", p:lease("a"))
		assert.are.equal("fd00:8::3", p:lease("b"))
	end)

	it("refuses a prefix with host bits", function()
		assert.has_error(function() pool.new("10.8.0.1/24") end,
			'moonvpn.pool: "10.8.0.1/24" is not a network prefix')
	end)
end)
