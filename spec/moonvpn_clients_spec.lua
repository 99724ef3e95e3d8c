-- SPDX-License-Identifier: MIT
-- moonvpn.clients.amend: what a management client's client-auth adds to an
-- admission (ifconfig-push, ifconfig-ipv6-push, iroute, push), all or nothing.
local clients = require "moonvpn.clients"

local CFG = {
	network = "10.8.0.0/24", network6 = "fd00:8::/64",
	keepalive = { interval = 10, timeout = 60 },
	push = { routes = {}, dns = {}, redirect_gateway = false },
	device = { mtu = 1500 }, auth = { password = "optional" }, compression = "refuse",
}

local next_id = 100
local function admit(cn)
	next_id = next_id + 1
	local address, messages, address6 = clients.admit(CFG, {}, {
		peer_id = next_id, cn = cn, subject = "CN=" .. cn, serial = "1", fingerprint = "ab",
		peer = "10.0.0.1:5000", cipher = "AES-256-GCM", iv_proto = 0, ncp = true, password = "",
		peer_info = "", auth_token = "none", compression = "none",
	})
	assert(address, messages)
	return next_id, address, address6
end

describe("moonvpn.clients.amend", function()
	after_each(function()
		for id in pairs(clients.all()) do clients.ended(nil, id, {}) end
	end)

	it("moves the leases, adds routes and push options, and builds the reply again", function()
		local id = admit("alice")
		local address, messages, address6, routes = clients.amend(CFG, id, {
			address = "10.8.0.50", netmask = "255.255.255.0", address6 = "fd00:8::50", len6 = 64,
			push = { "route 10.99.6.0 255.255.255.0" }, routes = { "10.99.5.0/24" },
		})
		assert.are.equal("10.8.0.50", address)
		assert.are.equal("fd00:8::50", address6)
		assert.are.same({ "10.99.5.0/24" }, routes)
		assert.matches("route 10.99.6.0 255.255.255.0,", messages[1], 1, true)
		assert.matches("ifconfig-ipv6 fd00:8::50/64 fd00:8::1,ifconfig 10.8.0.50 255.255.255.0", messages[1], 1, true)
		assert.are.equal("10.8.0.50", clients.get(id).vpn_address)
		-- The old addresses went back to the pools, the new ones are taken.
		local other, address_b, address6_b = admit("bob")
		assert.are_not.equal("10.8.0.50", address_b)
		assert.are_not.equal("fd00:8::50", address6_b)
		assert.is_nil(clients.amend(CFG, other, { address = "10.8.0.50", netmask = "255.255.255.0" }))
	end)

	it("changes nothing when one of the changes fails", function()
		local taken = admit("carol")
		local _, address6_taken = select(2, admit("carol2"))
		local id, address, address6 = admit("dave")
		assert.is_string(address6_taken)
		for _, case in ipairs {
			{ { address = "10.8.0.60", netmask = "255.255.255.0", address6 = address6_taken, len6 = 64 },
				"ifconfig-ipv6-push " .. address6_taken .. ": " .. address6_taken .. " is leased to carol2" },
			{ { address = "10.8.0.60", netmask = "255.255.0.0" }, "the netmask must be the VPN network's" },
			{ { address6 = "fd00:8::60", len6 = 48 }, "the prefix length must be the VPN network's (fd00:8::/64)" },
			{ { address = "10.8.0.60", netmask = "255.255.255.0", routes = { "10.8.0.0/25" } },
				'client:route("10.8.0.0/25") overlaps the VPN network 10.8.0.0/24' },
		} do
			local ok, why = clients.amend(CFG, id, case[1])
			assert.is_nil(ok)
			assert.matches(case[2], why, 1, true)
			assert.are.equal(address, clients.get(id).vpn_address)
			assert.are.equal(address6, clients.get(id).vpn_address6)
			assert.are.same({}, clients.get(id)._grants.routes)
		end
		-- 10.8.0.60 was given back each time: it can be taken now.
		assert.are.equal("10.8.0.60", clients.amend(CFG, taken, { address = "10.8.0.60", netmask = "255.255.255.0" }))
	end)

	it("refuses a push that does not fit the reply, and a client no longer admitted", function()
		local id = admit("erin")
		local many = {}
		for i = 1, 400 do many[i] = "route 10.99." .. (i % 250) .. ".0 255.255.255.0" end
		local ok, why = clients.amend(CFG, id, { push = many })
		assert.is_nil(ok)
		assert.matches("needs %d+ messages; at most 8 fit", why)
		assert.are.same({}, clients.get(id)._grants.push)
		clients.revoke(id)
		assert.are.same({ nil, "the client is no longer waiting for admission" }, { clients.amend(CFG, id, {}) })
	end)
end)
