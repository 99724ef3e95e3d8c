-- SPDX-License-Identifier: MIT
-- moonvpn.policy: rules validated into the form the C core reads.
local policy = require "moonvpn.policy"
local peer = require "moonvpn.peer"

describe("moonvpn.policy", function()
	describe(".schema", function()
		it("normalizes protocols, ports, prefixes and names", function()
			local p = assert(policy.schema.check({ rules = {
				{ verdict = "reject", proto = "udp", dport = "5000-5999", dst = "10.0.0.0/8" },
				{ verdict = "drop", proto = 47, src = { "192.0.2.0/24", "fd00::/8" }, cn = "alice" },
			} }, { "policy" }))
			assert.are.equal("accept", p.default)
			assert.are.same({ 5000, 5999 }, p.rules[1].dport)
			assert.are.same({ "10.0.0.0/8" }, p.rules[1].dst)
			assert.are.equal(17, p.rules[1].proto)
			assert.are.same({ "alice" }, p.rules[2].cn)
		end)

		for _, case in ipairs {
			{ { verdict = "allow" }, "verdict" },
			{ { verdict = "drop", icmp_type = 8 }, 'an ICMP type needs proto = "icmp" or "icmpv6"' },
			{ { verdict = "drop", proto = "sctp" }, 'is not "tcp", "udp", "icmp", "icmpv6" or a protocol number' },
			{ { verdict = "drop", proto = "tcp", sport = 70000 }, "is not a port from 0 to 65535" },
			{ { verdict = "drop", dst = "10.0.0.1/8" }, "has host bits set" },
			{ { verdict = "drop", direction = "up" }, "direction" },
		} do
			it("refuses " .. case[2], function()
				local ok, err = policy.schema.check({ rules = { case[1] } }, { "policy" })
				assert.is_nil(ok)
				assert.matches(case[2], err.message .. " " .. table.concat(err.path, "."), 1, true)
			end)
		end

		it("refuses more than 64 groups and names", function()
			local rules = {}
			for i = 1, 65 do rules[i] = { verdict = "drop", group = "g" .. i } end
			local ok, err = policy.schema.check({ rules = rules }, { "policy" })
			assert.is_nil(ok)
			assert.matches("at most 64", err.message)
		end)
	end)

	describe(".compile", function()
		it("gives each group and common name a bit, and clients their mask", function()
			local p = assert(policy.schema.check({ default = "drop", rules = {
				{ verdict = "accept", group = { "admins", "ops" } },
				{ verdict = "accept", cn = "alice", direction = "in" },
			} }, { "policy" }))
			local c = policy.compile(p)
			assert.are.equal("drop", c.default)
			assert.are.equal(3, c.rules[1].directions)
			assert.are.equal(1, c.rules[2].directions)
			local admins = policy.client_groups(c, "bob", { "admins" })
			local alice = policy.client_groups(c, "alice", {})
			assert.are.equal(c.rules[1].groups & admins, admins)
			assert.are_not.equal(0, c.rules[2].groups & alice)
			assert.are.equal(0, c.rules[1].groups & alice)
			assert.are.equal(0, policy.client_groups(c, "carol", { "nobody" }))
		end)
	end)

	describe("client:rule and client:group", function()
		local function client()
			local c = peer.new { peer_id = 1, cn = "x", peer = "10.0.0.2:1", peer_info = "" }
			c._grants.open = true
			return c
		end

		it("takes valid rules and groups in on.connect", function()
			local c = client()
			c:rule { verdict = "drop", proto = "tcp", dport = 25 }
			c:group "admins"
			assert.are.same({ 25, 25 }, c._grants.rules[1].dport)
			assert.are.same({ "admins" }, c._grants.groups)
		end)

		it("says what is wrong with a rule, and refuses cn and group in it", function()
			local c = client()
			local _, err = pcall(c.rule, c, { verdict = "drop", cn = "y" })
			assert.matches("client:rule.cn: unknown key", err, 1, true)
			_, err = pcall(c.rule, c, { proto = "tcp" })
			assert.matches("client:rule.verdict: is required", err, 1, true)
		end)

		it("is only allowed in on.connect", function()
			local c = client()
			c._grants.open = false
			local _, err = pcall(c.group, c, "x")
			assert.matches("client:group() is only allowed in on.connect", err, 1, true)
		end)
	end)
end)
