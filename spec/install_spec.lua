-- SPDX-License-Identifier: MIT
-- `make install` honours PREFIX and DESTDIR, and the installed binary finds
-- its Lua library and plugins without help.
local netns = require "spec.helpers.netns"

describe("make install", function()
	after_each(netns.cleanup)

	it("installs under DESTDIR/PREFIX a binary that finds its library and plugins", function()
		local dest = netns.tmpdir()
		local ok, out = netns.sh("env -u MAKEFLAGS -u MAKELEVEL make -s install DESTDIR=" .. dest ..
			" PREFIX=/opt/mv")
		assert(ok, out)
		local bin = dest .. "/opt/mv/bin/moonvpn"
		local share = dest .. "/opt/mv/share/moonvpn"
		assert.truthy(netns.read_file(share .. "/lua/moonvpn/init.lua"))
		assert.truthy(netns.read_file(share .. "/plugins/README.md"))
		-- Run from elsewhere, with a config that looks at its own package.path.
		local config = netns.tmpdir() .. "/vpn.lua"
		netns.write_file(config, table.concat({
			'assert(package.path:find("' .. share .. '/plugins/?.lua", 1, true), package.path)',
			'local vpn = require "moonvpn"',
			'vpn.server { network = "10.8.0.0/24", tls = { ca = "a", cert = "b", key = "c" } }',
		}, "\n"))
		ok, out = netns.sh("cd / && env -u MOONVPN_ROOT " .. bin .. " --check " .. config)
		assert(ok, out)
		assert.are.equal(config .. ": configuration is valid\n", out)
		ok, out = netns.sh("cd / && " .. bin .. " --check " .. share .. "/vpn.lua.example")
		assert(ok, out)
		-- The systemd unit, naming the installed binary.
		local unit = netns.read_file(dest .. "/lib/systemd/system/moonvpn@.service")
		assert.truthy(unit, "no unit installed")
		assert.truthy(unit:find("\nExecStart=/opt/mv/bin/moonvpn /etc/moonvpn/%i.lua\n", 1, true), unit)
		assert.falsy(unit:find("@BINDIR@", 1, true), unit)
		-- The manual pages.
		assert.truthy(netns.read_file(dest .. "/opt/mv/share/man/man8/moonvpn.8"))
		assert.truthy(netns.read_file(dest .. "/opt/mv/share/man/man5/moonvpn.lua.5"))
	end)
end)
