-- SPDX-License-Identifier: MIT
-- Profiles written for compression (comp-lzo, compress) still connect and
-- pass traffic: moonvpn pushes what turns their compression off while their
-- packets keep the framing (as 2.6's compress migrate), and never
-- compresses. With compression = "refuse" such clients get AUTH_FAILED.
--
--   [ mvt-srv: moonvpn ] --veth 10.88.1.1 / 10.88.1.2-- [ mvt-cli: openvpn 2.6 ]
--
-- #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

describe("#netns compression framing", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local srv, cli, engine, socket

	local function start(server_extra)
		srv, cli = netns.new(), netns.new()
		netns.veth(srv, "10.88.1.1/24", cli, "10.88.1.2/24")
		engine, socket = mv.start_server(srv, server_extra)
	end

	local function connect(extra)
		return cli:spawn({ "openvpn", "--config", openvpn.profile(mv.pki(), {
			remote = "10.88.1.1", wrap = "tls-crypt", extra = extra }) })
	end

	after_each(function()
		if cli then cli:sh("true") end
		if engine then assert.are.equal(0, engine:stop()) end
		engine, srv, cli = nil, nil, nil
		netns.cleanup()
	end)

	-- Each variant's framing, as the client is pushed out of compressing.
	for _, profile in ipairs {
		"comp-lzo", "comp-lzo yes", "comp-lzo no", "comp-lzo adaptive", "compress",
		"compress stub", "compress stub-v2", "compress lzo", "compress lz4", "compress lz4-v2",
	} do
		it("connects a client with '" .. profile .. "' and passes traffic both ways", function()
			start()
			local client = connect(profile .. "\nallow-compression yes\n")
			local ok, out = client:wait_log("Initialization Sequence Completed", 20)
			assert(ok, "openvpn:\n" .. out .. "\n--- moonvpn:\n" .. engine:output())
			local reply = out:match("Received control message: '(PUSH_REPLY[^']*)'")
			assert.truthy(reply and reply:find("compress stub-v2", 1, true), out)
			-- Pings of several sizes both ways, then a TCP transfer through the tunnel.
			for _, size in ipairs { 56, 1000, 1400 } do
				local pinged, ping = cli:sh("ping -n -c 2 -i 0.2 -W 3 -s " .. size .. " 10.77.0.1")
				assert(pinged, ping .. "\n--- moonvpn:\n" .. engine:output())
				pinged, ping = srv:sh("ping -n -c 2 -i 0.2 -W 3 -s " .. size .. " 10.77.0.2")
				assert(pinged, ping)
			end
			local status, dropped = mv.console(socket, "return stats().dropped.compression")
			assert.are.equal(0, status, dropped)
			assert.are.equal("0\n", dropped)
		end)
	end

	it("refuses such clients with a clear AUTH_FAILED under compression = \"refuse\"", function()
		start('  compression = "refuse",')
		local client = connect("comp-lzo\n")
		local _, out = client:wait_log("AUTH_FAILED", 20)
		assert.truthy(out:find("AUTH_FAILED,this server does not allow compression: remove comp-lzo "
			.. "and compress from the client's profile", 1, true), out)
	end)

	it("lets a client without compression in under compression = \"refuse\"", function()
		start('  compression = "refuse",')
		local ok, out = connect(""):wait_log("Initialization Sequence Completed", 20)
		assert(ok, out)
		assert.falsy(out:match("PUSH_REPLY[^']*compress"), out)
	end)
end)
