-- SPDX-License-Identifier: MIT
-- vpn.lua.example is the real shape of a server configuration: it validates.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"

describe("vpn.lua.example", function()
	after_each(netns.cleanup)

	it("validates with moonvpn --check", function()
		local status, out, err = mv.run("--check vpn.lua.example")
		assert.are.equal("", err)
		assert.are.equal(0, status)
		assert.are.equal("vpn.lua.example: configuration is valid\n", out)
	end)

	it("declares every top-level server field of the schema", function()
		local config = require "moonvpn.config"
		local text = netns.read_file("vpn.lua.example")
		assert.is_true(#config.server_schema.fields >= 15)
		for _, field in ipairs(config.server_schema.fields) do
			assert.truthy(text:find("\n%s*" .. field .. " = "), field .. " missing from the example")
		end
	end)

	it("shows every hook a server has", function()
		local text = netns.read_file("vpn.lua.example")
		for _, hook in ipairs(require("moonvpn").HOOKS) do
			assert.truthy(text:find("server%.on%." .. hook .. "%("), "on." .. hook .. " missing from the example")
		end
	end)
end)
