-- SPDX-License-Identifier: MIT
-- Traffic through the tunnel between a stock OpenVPN 2.6 client and moonvpn:
--
--   [ mvt-srv: moonvpn, tun 10.77.0.1 ] --veth 10.88.1.1 / .2-- [ mvt-cli: openvpn, tun 10.77.0.2 ]
--
-- #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

local INJECT = "build/tools/inject"

describe("#netns data channel, stock client to moonvpn server", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local srv, cli, cli_if, engine, socket, client

	local function start(server_extra, client_extra)
		local pki = mv.pki()
		srv, cli = netns.new(), netns.new()
		local _, b = netns.veth(srv, "10.88.1.1/24", cli, "10.88.1.2/24")
		cli_if = b
		engine, socket = mv.start_server(srv, server_extra)
		client = cli:spawn({ "openvpn", "--config", openvpn.profile(pki, { remote = "10.88.1.1",
			wrap = "tls-crypt", extra = client_extra }) })
		local ok, out = client:wait_log("Initialization Sequence Completed", 20)
		assert(ok, out .. "\n--- moonvpn:\n" .. engine:output())
	end

	-- Pings the server in batches of 10, 0.2 s apart, each answered in full, until
	-- done() (at most `timeout` seconds): as long as the renegotiations take.
	local function ping_until(done, timeout)
		local deadline = os.time() + timeout
		repeat
			local ok, out = cli:sh("ping -c 10 -i 0.2 -W 1 10.77.0.1")
			assert(ok, out)
			assert.truthy(out:find("10 received", 1, true), out)
		until done() or os.time() > deadline
		assert.is_true(done(), engine:output())
	end

	local function stat(expr)
		local status, out, err = mv.console(socket, expr)
		assert(status == 0, err)
		return tonumber(out) or out
	end

	after_each(function()
		if client then client:stop() end
		if engine then assert.are.equal(0, engine:stop()) end
		engine, client = nil, nil
		netns.cleanup()
	end)

	for _, cipher in ipairs { "AES-256-GCM", "CHACHA20-POLY1305" } do
		it("carries ping and a 2 s iperf3 TCP flow with " .. cipher, function()
			start(string.format('  ciphers = { "%s" },', cipher))
			assert.truthy(client:output():find("cipher " .. cipher, 1, true))
			local ok, out = cli:sh("ping -c 5 -i 0.2 -W 2 10.77.0.1")
			assert(ok, out)
			assert.truthy(out:find("5 received", 1, true), out)
			local server = srv:spawn({ "iperf3", "-s", "-1", "-B", "10.77.0.1", "--forceflush" })
			assert(server:wait_log("Server listening", 5))
			ok, out = cli:sh("iperf3 -c 10.77.0.1 -t 2 -f m")
			assert(ok, out)
			local mbits = tonumber(out:match("([%d.]+) Mbits/sec%s+receiver"))
			assert.truthy(mbits and mbits > 1, out)
			io.stderr:write(string.format("\n  [%s: %.0f Mbit/s through a stock client]\n", cipher, mbits))
			assert.is_true(stat("stats().data_in") > 1000)
			assert.is_true(stat("clients()[1].bytes_in") > 1000000)
			assert.is_true(stat("clients()[1].packets_out") > 100)
		end)
	end

	it("tells its clients when it stops, so that they reconnect at once", function()
		start()
		assert.are.equal(0, engine:stop())
		engine = nil
		local ok, out = client:wait_log("Connection reset command was pushed by server", 5)
		assert(ok, out)
	end)

	it("drops and counts replayed and bit-flipped packets while the tunnel keeps working", function()
		start()
		local pinger = cli:spawn({ "ping", "-i", "0.2", "-c", "40", "10.77.0.1" })
		local ok, out = cli:sh(INJECT .. " " .. cli_if .. " 10.88.1.1 1194 5")
		assert(ok, out)
		assert.truthy(out:find("captured %d+ bytes"), out)
		netns.sleep(0.5)
		assert.is_true(stat("stats().dropped.replay") >= 5)
		assert.is_true(stat("stats().dropped.authentication") >= 1)
		ok, out = cli:sh("ping -c 3 -i 0.2 -W 2 10.77.0.1")
		assert(ok, out)
		pinger:stop("INT")
	end)

	for _, case in ipairs {
		{ "the client", nil, "reneg-sec 3\n" },
		{ "the server", "  renegotiate = { seconds = 3 },", "reneg-sec 0\n" },
	} do
		it("loses no ping across three renegotiations started by " .. case[1], function()
			start(case[2], case[3])
			ping_until(function() return engine:output():find("data now on key 3", 1, true) ~= nil end, 60)
		end)
	end

	it("renegotiates after renegotiate.bytes of traffic on one key, losing no TCP data", function()
		start("  renegotiate = { seconds = 0, bytes = 3000000 },", "reneg-sec 0\n")
		local iperf = srv:spawn({ "iperf3", "-s", "-1", "-B", "10.77.0.1", "--forceflush" })
		assert(iperf:wait_log("Server listening", 5))
		local ok, out = cli:sh("iperf3 -c 10.77.0.1 -t 3 -f m")
		assert(ok, out)
		assert.truthy(engine:output():find("renegotiating: key 1", 1, true), engine:output())
		assert.truthy(engine:output():find("data now on key 1", 1, true), engine:output())
	end)

	it("renegotiates after a reload replaced the certificates it started with", function()
		-- The sessions hold their own reference to the TLS context and cipher list:
		-- under ASan, a use of the freed ones would kill the engine here.
		start("  renegotiate = { seconds = 3 },", "reneg-sec 0\n")
		local status, out, err = mv.console(socket, "reload()")
		assert(status == 0, out .. err)
		ping_until(function()
			local after = engine:output():match("reloaded.*")
			return after ~= nil and after:find("data now on key 2", 1, true) ~= nil
		end, 60)
	end)

	it("keeps an idle client alive with pings and ends a silent one by ping-restart", function()
		-- Pushed ping 1 / ping-restart 3; the server's own ping-restart is twice that.
		start("  keepalive = { interval = 1, timeout = 3 },")
		assert.truthy(client:output():find("ping 1,ping-restart 3", 1, true))
		netns.sleep(5)
		assert.falsy(client:output():find("Inactivity timeout", 1, true), client:output())
		assert.are.equal(1, stat("#clients()"))
		client:signal("STOP")
		local ok, out = engine:wait_log("ping%-restart: nothing received for 6 seconds", 15)
		assert(ok, out)
		assert.are.equal(0, stat("#clients()"))
		client:signal("CONT")
	end)
end)
