-- SPDX-License-Identifier: MIT
local schema = require "moonvpn.schema"

describe("moonvpn.schema", function()
	describe(".closest", function()
		local names = { "listen", "network", "network6", "device", "tls" }
		for _, case in ipairs {
			{ "lsiten", "listen" }, { "netwrok", "network" }, { "Network", "network" },
			{ "netwrok6", "network6" }, { "devcie", "device" }, { "tsl", "tls" },
			{ "colour", nil }, { "x", nil },
		} do
			it(string.format("suggests %s for %q", tostring(case[2]), case[1]), function()
				assert.are.equal(case[2], schema.closest(case[1], names))
			end)
		end
	end)

	describe(".record", function()
		local rec = schema.record({
			port = { schema.integer { min = 1, max = 10 }, default = 5 },
			name = { schema.string(), required = true },
		})

		it("fills defaults and keeps given values", function()
			local v = assert(rec.check({ name = "a" }, { "x" }))
			assert.are.same({ name = "a", port = 5 }, v)
		end)

		it("rejects a non-string key", function()
			local _, err = rec.check({ name = "a", [1] = true }, { "x" })
			assert.are.same({ "x" }, err.path)
			assert.are.equal("unexpected key 1 (expected named fields)", err.message)
		end)

		it("reports the path of a nested failure", function()
			local _, err = rec.check({ name = "a", port = 11 }, { "x" })
			assert.are.same({ "x", "port" }, err.path)
		end)
	end)

	describe(".cidr", function()
		local c = schema.cidr()
		it("normalizes to the canonical lower-case form", function()
			assert.are.equal("fd00:8::/64", c.check("FD00:0008:0::/64", {}))
		end)
	end)

	describe(".path_string", function()
		it("joins names with dots and indexes with brackets", function()
			assert.are.equal("server.push.routes[2]", schema.path_string { "server", "push", "routes", 2 })
		end)
	end)
end)
