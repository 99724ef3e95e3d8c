-- SPDX-License-Identifier: MIT
-- A connected idle client's key state gives back what only its handshake
-- needed (issue 15 item 2): once quiet, the server parks its TLS 1.3 session
-- (OpenSSL's SSL object freed, records sealed and opened by tlsrec.c), and
-- what still goes over the control channel after that reaches a stock
-- OpenVPN 2.6 client and comes back from it:
--
--   [ mvt-srv: moonvpn, 10.88.1.1 ] <--veth--> [ mvt-cli: openvpn, 10.88.1.2 ]
--
-- #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

describe("#netns parked TLS sessions", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local engine, socket, cli

	local function start()
		local pki = mv.pki()
		local srv = netns.new()
		cli = netns.new()
		netns.veth(srv, "10.88.1.1/24", cli, "10.88.1.2/24")
		socket = netns.tmpdir() .. "/console.sock"
		engine = srv:spawn({ mv.bin, mv.write_config(mv.server_config(string.format([[
  device = { name = "mvt0" },
  console = "%s",
  tls = { ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key" },
]], socket, pki, pki, pki), { tls = false })) })
		assert(engine:wait_log("engine: moonvpn [%d.]+ started", 10))
		-- The parking is a debug line.
		local status, out = mv.console(socket, 'log_level("debug")')
		assert.are.equal(0, status, out)
	end

	--- A stock client, connected, with its server-side key state parked.
	local function connect_parked(extra)
		local client = cli:spawn({ "openvpn", "--config", openvpn.profile(mv.pki(),
			{ remote = "10.88.1.1", extra = extra }) })
		local ok, out = client:wait_log("Initialization Sequence Completed", 20)
		assert(ok, "openvpn:\n" .. out .. "\n--- moonvpn:\n" .. engine:output())
		ok, out = engine:wait_log("key 0 quiet: its TLS session parked", 20)
		assert(ok, "the server did not park the idle client's TLS session:\n" .. out)
		return client
	end

	after_each(function()
		if engine then assert.are.equal(0, engine:stop()) end
		engine = nil
		netns.cleanup()
	end)

	it("parks an idle client's TLS session and still tells it HALT", function()
		start()
		local client = connect_parked()
		local status, out = mv.console(socket, 'return kick("client1", "parked and told")')
		assert.are.equal(0, status, out)
		local ok, log = client:wait_log("server%-pushed%-halt", 20)
		assert(ok, "the client did not get HALT:\n" .. log)
		client:wait(10)
	end)

	it("reads the EXIT a parked session's client sends", function()
		start()
		local client = connect_parked("explicit-exit-notify 1\n")
		client:signal("TERM")
		local ok, out = engine:wait_log("session ended: the client sent EXIT", 15)
		assert(ok, out)
		client:wait(10)
	end)

	it("keeps a parked client through its own renegotiation, with traffic after it", function()
		start()
		local client = connect_parked("reneg-sec 5\n")
		local ok, out = engine:wait_log("renegotiated: data now on key 1", 40)
		assert(ok, out)
		ok, out = engine:wait_log("key 1 quiet: its TLS session parked", 20)
		assert(ok, out)
		assert(cli:sh("ping -c 2 -W 5 10.77.0.1"), "no traffic through the tunnel after the renegotiation")
		client:stop()
	end)
end)
