-- SPDX-License-Identifier: MIT
-- One moonvpn server on UDP and TCP at once, stock OpenVPN 2.6 clients on
-- either (topology in spec/helpers/hooked.lua). #netns: needs root.
local hooked = require "spec.helpers.hooked"
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

local CONNFLOOD = "build/tools/connflood"

--- Adds n addresses 10.88.1.(base..base+n-1) to client namespace ns; their list.
local function add_sources(ns, base, n)
	local list = {}
	for i = base, base + n - 1 do
		list[#list + 1] = "10.88.1." .. i
		assert(ns:sh("ip addr add 10.88.1." .. i .. "/24 dev $(ip -o -4 addr show to 10.88.1.0/24 | awk 'NR == 1 { print $2 }')"))
	end
	return list
end

--- CPU seconds (user + system) the process has used so far.
local function cpu_seconds(pid)
	local stat = netns.read_file("/proc/" .. pid .. "/stat")
	local rest = stat:match("%) (.*)")
	local fields = {}
	for f in rest:gmatch("%S+") do fields[#fields + 1] = f end
	local _, hz = netns.sh("getconf CLK_TCK")
	-- utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
	return (tonumber(fields[12]) + tonumber(fields[13])) / tonumber(hz)
end

--- A console call that gives up after 20 s (a wedged server never answers).
local function console_within(t, chunk)
	return mv.run("console " .. netns.quote(t.socket) .. " -e " .. netns.quote(chunk),
		{ prefix = "timeout 20 " })
end

--- Polls the server's console until chunk returns true (at most about timeout seconds).
local function until_true(t, chunk, timeout)
	local deadline, status, out, err = os.time() + (timeout or 20)
	repeat
		status, out, err = console_within(t, chunk)
		if status == 0 and out:match("^true") then return true end
		netns.sleep(0.25)
	until os.time() > deadline
	return false, tostring(status) .. ": " .. out .. err
end

local function line_count(text)
	local _, n = text:gsub("\n", "")
	return n
end

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

	it("carries a 2 s iperf3 TCP flow over the TCP transport", function()
		t:start(nil, BOTH)
		t:completed(t:connect(1, nil, nil, { proto = "tcp-client", port = 443 }))
		local server = t.srv:spawn({ "iperf3", "-s", "-1", "-B", "10.77.0.1", "--forceflush" })
		assert(server:wait_log("Server listening", 10), server:output())
		local ok, out = t.clients[1]:sh("iperf3 -c 10.77.0.1 -t 2 -f m")
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

	it("stays serving through a flood of idle connections that exhausts its descriptors", function()
		t:start(nil, BOTH)
		-- A low open-files limit, so that a modest flood reaches it.
		assert(netns.sh("prlimit --pid " .. t.engine.pid .. " --nofile=256:256"))
		local sources = add_sources(t.clients[1], 10, 24)
		local cpu0, wall0 = cpu_seconds(t.engine.pid), os.time()
		local flood = t.clients[1]:spawn({ CONNFLOOD, "10.88.1.1", "443", "600", "6",
			table.unpack(sources) })
		assert(flood:wait_log("connected %d+ of 600", 30), flood:output())
		-- While it holds them the console answers (descriptors are kept for it).
		local status, out, err = console_within(t, "return 6 * 7")
		assert.are.equal(0, status, err)
		assert.are.equal("42\n", out)
		assert(flood:wait_log("closed", 30), flood:output())
		local cpu, wall = cpu_seconds(t.engine.pid) - cpu0, os.time() - wall0
		print(string.format("\n  [flood of 600 idle connections: %.2f s of CPU in %d s]", cpu, wall))
		-- A server spinning on its listener burns the whole window; an idle one next to nothing.
		assert.is_true(cpu < 0.5 * wall + 1, "CPU " .. cpu .. " s in " .. wall .. " s")
		-- The flood left: every connection it held is closed and freed.
		local ok, left
		for _ = 1, 60 do
			ok, left = netns.sh("ip netns exec " .. t.srv.name .. " ss -Htn state close-wait")
			if ok and left == "" then break end
			netns.sleep(0.25)
		end
		assert.are.equal("", left, "sockets left in CLOSE-WAIT")
		local stats = t:console("local s = stats() return s.tcp_evicted + s.tcp_evicted_source")
		assert.is_true(tonumber(stats) > 0, "the flood made room by closing its own: " .. stats)
		-- And it serves: a stock TCP client connects and pings.
		t:completed(t:connect(2, nil, nil, { proto = "tcp-client", port = 443 }))
		assert(t.clients[2]:sh("ping -n -c 2 -W 2 10.77.0.1"), "the TCP client reaches the server")
		local log = t.engine:output()
		assert.is_true(line_count(log) < 200, "log of " .. line_count(log) .. " lines:\n" .. log:sub(1, 3000))
	end)

	it("lets no source hold every connection: another source still gets in", function()
		t:start(nil, BOTH)
		assert(netns.sh("prlimit --pid " .. t.engine.pid .. " --nofile=256:256"))
		local one = add_sources(t.clients[1], 50, 1)
		local flood = t.clients[1]:spawn({ CONNFLOOD, "10.88.1.1", "443", "400", "600", one[1] })
		local ok, out = flood:wait_log("connected %d+ of 400", 30)
		assert(ok, out)
		local connected = tonumber(out:match("connected (%d+)"))
		assert.is_true(connected > 100, out)
		-- All but the newest 16 are closed to make room in their source. Counted on
		-- the server: what the flood counts as connected may still wait in the
		-- listen queue, and on a slow machine the oldest end by the first-packet
		-- timeout before their source is full, so evictions need not reach
		-- connected - 16; what holds is that the source never keeps more than 16.
		local held
		for _ = 1, 120 do
			local _, n = netns.sh("ip netns exec " .. t.srv.name ..
				" ss -Htn state established src 10.88.1.1:443 dst 10.88.1.50 | wc -l")
			held = tonumber(n)
			if held and held <= 16 then break end
			netns.sleep(0.25)
		end
		assert.is_true(held <= 16, held .. " connections held from one source")
		assert(until_true(t, "return stats().tcp_evicted_source > 0"))
		assert.matches("^0\n", t:console("return stats().tcp_evicted"))
		-- A stock client from another address of the same namespace connects.
		local client = t:connect(1, nil, nil, { proto = "tcp-client", port = 443 })
		t:completed(client)
		assert(t.clients[1]:sh("ping -n -c 2 -W 2 10.77.0.1"))
		flood:stop()
	end)

	it("drops a packet too large for a TCP frame, either way, and keeps the client", function()
		t:start(nil, '  listen = { "tcp://0.0.0.0:443" },\n  device = { name = "mvt0", mtu = 9000 },\n')
		local client = t.clients[1]:spawn({ "openvpn", "--config", openvpn.profile(mv.pki(),
			{ remote = "10.88.1.1", proto = "tcp-client", port = 443, extra = "tun-mtu-max 9000\n" }) })
		t:completed(client)
		local addr = t:console("return clients()[1].vpn_address"):match("[%d.]+")
		local since = t:console("return clients()[1].connected_since")
		-- Server to client: 5,028 bytes, sealed over the 4,096-byte frame limit.
		assert.is_false(t.srv:sh("ping -n -c 2 -W 2 -s 5000 " .. addr), "the large ping is dropped")
		-- Client to server: the client's device takes the pushed MTU of 9000.
		assert.is_false(t.clients[1]:sh("ping -n -c 2 -W 2 -s 5000 -M dont 10.77.0.1"))
		assert(t.clients[1]:sh("ping -n -c 3 -i 0.2 -W 2 10.77.0.1"), "small packets go on")
		assert.are.equal(since, t:console("return clients()[1].connected_since"), "the same connection")
		assert.is_nil(client:output():find("Connection reset"), client:output())
		assert.is_nil(t.engine:output():find("TCP: "), t.engine:output())
		assert.matches("^true", t:console("return stats().dropped.too_big >= 4"))
	end)

	it("drops a packet over the device's MTU from a client, over UDP and TCP, and keeps it", function()
		t:start(nil, BOTH .. '  device = { name = "mvt0", mtu = 1300 },\n')
		-- Clients that keep an MTU of 1500 whatever the server pushes.
		local extra = 'tun-mtu 1500\npull-filter ignore "tun-mtu"\n'
		for i, proto in ipairs({ "udp", "tcp-client" }) do
			t:completed(t.clients[i]:spawn({ "openvpn", "--config", openvpn.profile(mv.pki(),
				{ remote = "10.88." .. i .. ".1", proto = proto, port = proto == "udp" and 1194 or 443,
				  extra = extra }) }))
		end
		for i = 1, 2 do
			local before = tonumber(t:console("return stats().dropped.too_big"))
			-- 1,428 bytes, within the client's MTU and over the server's.
			assert.is_false(t.clients[i]:sh("ping -n -c 2 -W 2 -s 1400 -M dont 10.77.0.1"))
			local after = tonumber(t:console("return stats().dropped.too_big"))
			assert.is_true(after >= before + 2, "client " .. i .. ": " .. before .. " -> " .. after)
			assert(t.clients[i]:sh("ping -n -c 2 -i 0.2 -W 2 10.77.0.1"), "small packets go on")
		end
		assert.matches("^2\n", t:console("return #clients()"))
	end)
end)
