-- SPDX-License-Identifier: MIT
-- One moonvpn server on UDP and TCP at once, stock OpenVPN 2.6 clients on
-- either (topology in spec/helpers/hooked.lua). #netns: needs root.
local hooked = require "spec.helpers.hooked"
local netns = require "spec.helpers.netns"

describe("#netns TCP transport", function()
	local t = hooked.each()
	if not t then return end

	local BOTH = '  listen = { "udp://0.0.0.0:1194", "tcp://0.0.0.0:443" },\n  client_to_client = true,\n'

	it("serves a client over TCP and one over UDP from one server, and they ping each other", function()
		t:start(nil, BOTH)
		local udp = t:connect(1)
		local tcp = t:connect(2, nil, nil, { proto = "tcp-client", port = 443 })
		t:completed(udp)
		local out = t:completed(tcp)
		assert.matches("TCP connection established with %[AF_INET%]10%.88%.2%.1:443", out)
		local addr1 = t:console('for _, c in ipairs(clients()) do if c.real_address:find("10.88.1.2") then return c.vpn_address end end')
		local addr2 = t:console('for _, c in ipairs(clients()) do if c.real_address:find("10.88.2.2") then return c.vpn_address end end')
		addr1, addr2 = addr1:match("[%d.]+"), addr2:match("[%d.]+")
		assert(t.clients[1]:sh("ping -n -c 3 -i 0.2 -W 2 " .. addr2), "UDP client reaches the TCP client")
		assert(t.clients[2]:sh("ping -n -c 3 -i 0.2 -W 2 " .. addr1), "and back")
		assert(t.clients[2]:sh("ping -n -c 2 -W 2 10.77.0.1"), "the TCP client reaches the server")
		assert.matches("listening on udp://0.0.0.0:1194 tcp://0.0.0.0:443", t.engine:output(), 1, true)
	end)

	it("carries a 5 s iperf3 TCP flow over the TCP transport", function()
		t:start(nil, BOTH)
		t:completed(t:connect(1, nil, nil, { proto = "tcp-client", port = 443 }))
		local server = t.srv:spawn({ "iperf3", "-s", "-1", "-B", "10.77.0.1" })
		netns.sleep(0.5)
		local ok, out = t.clients[1]:sh("iperf3 -c 10.77.0.1 -t 5 -f m")
		assert(ok, out)
		local mbit = tonumber(out:match("([%d.]+) Mbits/sec%s+receiver"))
		print(string.format("\n  [iperf3 over the TCP transport (stock client): %.0f Mbit/s]", mbit))
		assert.is_true(mbit > 1)
		server:wait(5)
	end)

	it("drops a connection that sends garbage, a zero length or too much, and serves the others", function()
		t:start(nil, BOTH)
		local good = t:connect(1, nil, nil, { proto = "tcp-client", port = 443 })
		t:completed(good)
		-- A zero-length frame, a 60000-byte one, and a connection that says nothing.
		t.clients[2]:sh("printf '\\000\\000' | nc -N -w 2 10.88.2.1 443")
		t.clients[2]:sh("printf '\\352\\140hello' | nc -N -w 2 10.88.2.1 443")
		local idle = t.clients[2]:spawn({ "nc", "10.88.2.1", "443" })
		netns.sleep(1)
		assert(t.clients[1]:sh("ping -n -c 3 -i 0.2 -W 2 10.77.0.1"), "the good client goes on")
		assert.is_truthy(idle:wait(15), "a connection that starts no session is closed")
		assert.matches("active", t:console("return clients()[1].state"))
	end)
end)
