-- SPDX-License-Identifier: MIT
-- moonvpn.core: the C helpers, loaded by busted from build/lua/moonvpn/core.so.
local core = require "moonvpn.core"

describe("moonvpn.core", function()
	describe(".parse_ip", function()
		for _, case in ipairs {
			{ "10.0.0.1", 4 }, { "::1", 6 }, { "fd00::1", 6 }, { "10.0.0.256", nil },
			{ "10.0.0", nil }, { "", nil }, { " 10.0.0.1", nil }, { "fe80::1%eth0", nil },
		} do
			it(string.format("%q -> %s", case[1], tostring(case[2])), function()
				assert.are.equal(case[2] or false, core.parse_ip(case[1]) or false)
			end)
		end
	end)

	describe(".parse_prefix", function()
		it("returns family, length, text and network", function()
			assert.are.same({ family = 4, len = 24, text = "10.8.0.5/24", network = "10.8.0.0/24" },
				core.parse_prefix("10.8.0.5/24"))
		end)
		it("returns nil for a bad prefix", function()
			assert.is_nil(core.parse_prefix("10.8.0.0/33"))
		end)
	end)

	describe(".prefix_host", function()
		it("gives the n-th address", function()
			assert.are.equal("10.8.0.1", core.prefix_host("10.8.0.0/24", 1))
			assert.is_nil(core.prefix_host("10.8.0.0/24", 255))
		end)
		it("raises on a bad prefix", function()
			assert.has_error(function() core.prefix_host("x", 1) end)
		end)
	end)
end)
