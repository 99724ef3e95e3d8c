-- SPDX-License-Identifier: MIT
local source = require "moonvpn.source"

local TEXT = [==[
local vpn = require "moonvpn"
-- device = { mtu = 1 }
vpn.server {
  device = {
    --[[ mtu = 2 ]]
    mtu = 3, -- mtu = 4
  },
  name = "--[[ not a comment",
  push = { dns = { "10.0.0.1",
    "10.0.0.999" } },
}
]==]

describe("moonvpn.source", function()
	describe(".locate", function()
		for _, case in ipairs {
			{ { "device", "mtu" }, nil, 6 },
			{ { "device" }, nil, 4 },
			{ { "name" }, nil, 8 },
			{ { "push", "dns", 2 }, "10.0.0.999", 10 },
			{ { "push", "dns", 1 }, "10.0.0.1", 9 },
			{ { "missing" }, nil, 3 },
			{ { "device", "missing" }, nil, 4 },
		} do
			it("places " .. table.concat(case[1], ".") .. " on line " .. case[3], function()
				assert.are.equal(case[3], source.locate(TEXT, 3, case[1], case[2]))
			end)
		end
	end)

	it("blanks comments but keeps strings and line breaks", function()
		local blanked = source._blank_comments(TEXT)
		assert.are.equal(#TEXT, #blanked)
		assert.falsy(blanked:find("mtu = 1", 1, true))
		assert.falsy(blanked:find("mtu = 2", 1, true))
		assert.truthy(blanked:find('"--[[ not a comment"', 1, true))
		local _, lines = blanked:gsub("\n", "")
		local _, expected = TEXT:gsub("\n", "")
		assert.are.equal(expected, lines)
	end)
end)
