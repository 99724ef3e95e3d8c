-- SPDX-License-Identifier: MIT
-- TAP mode: stock OpenVPN 2.6 clients with `dev tap` on a moonvpn server
-- whose device is a tap, switched by learned Ethernet addresses (topology
-- in spec/helpers/hooked.lua). #netns: needs root.
local hooked = require "spec.helpers.hooked"
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

describe("#netns TAP mode", function()
	local t = hooked.each()
	if not t then return end

	local function vpn_address(i)
		local _, out = t.clients[i]:sh("ip -4 -o addr show dev tap0")
		return out:match("inet ([%d.]+)/24")
	end

	it("lets stock dev tap clients ping each other and the server, ARP included", function()
		t:start(nil, '  device = { type = "tap", name = "mvt0" },\n  client_to_client = true,\n')
		local out = t:completed(t:connect(1, nil, nil, { dev = "tap" }))
		t:completed(t:connect(2, nil, nil, { dev = "tap" }))
		assert.matches("route%-gateway 10%.77%.0%.1", out)
		assert.is_nil(out:find("topology", 1, true), "no topology is pushed with dev tap")
		local a1, a2 = vpn_address(1), vpn_address(2)
		assert(a1 and a2, "both tap devices have their pushed addresses")
		assert(t.clients[1]:sh("ping -n -c 3 -i 0.2 -W 2 10.77.0.1"), "client 1 reaches the server")
		assert(t.clients[2]:sh("ping -n -c 3 -i 0.2 -W 2 10.77.0.1"), "client 2 reaches the server")
		assert(t.clients[1]:sh("ping -n -c 3 -i 0.2 -W 2 " .. a2), "client 1 reaches client 2")
		assert(t.clients[2]:sh("ping -n -c 3 -i 0.2 -W 2 " .. a1), "and back")
		local _, neigh = t.clients[1]:sh("ip neigh show dev tap0 " .. a2)
		assert.matches("lladdr %x%x:", neigh, nil, false, "client 1 learned client 2's address by ARP")
		local _, srv_neigh = t.srv:sh("ip neigh show dev mvt0")
		assert.matches(a1:gsub("%.", "%%.") .. " lladdr", srv_neigh)
		-- Their ARP, neighbour discovery (DAD, router solicitations) and MLD all pass the checks.
		assert.matches("^0%s*$", t:console("return stats().dropped.spoofed"))
	end)

	local TAP = '  device = { type = "tap", name = "mvt0" },\n  client_to_client = true,\n'

	-- The number of replies in ping's output.
	local function received(out)
		return tonumber(out:match("(%d+) received")) or 0
	end

	it("keeps a live Ethernet address its client's: another client taking it steals nothing", function()
		t:start(nil, TAP)
		t:completed(t:connect(1, nil, nil, { dev = "tap" }))
		t:completed(t:connect(2, nil, nil, { dev = "tap" }))
		assert(t.clients[1]:sh("ping -n -c 3 -i 0.2 -W 2 10.77.0.1"), "client 1 reaches the server")
		local _, mac = t.clients[1]:sh("cat /sys/class/net/tap0/address")
		mac = assert(mac:match("%x%x:[%x:]+"), mac)
		-- Client 2 keeps the server's address (a new one of its own flushes its ARP
		-- cache), so its pings go out without waiting for ARP.
		local _, server_mac = t.clients[1]:sh("ip neigh show dev tap0 10.77.0.1")
		server_mac = assert(server_mac:match("lladdr (%x%x:[%x:]+)"), server_mac)
		assert(t.clients[2]:sh("ip link set dev tap0 address " .. mac), "client 2 takes client 1's address")
		assert(t.clients[2]:sh("ip neigh replace 10.77.0.1 lladdr " .. server_mac .. " dev tap0 nud permanent"))
		-- The thief sends fast, not waiting for answers: each of its frames would take the address.
		local thief = t.clients[2]:spawn({ "ping", "-n", "-q", "-i", "0.002", "-c", "5000", "10.77.0.1" })
		-- The server's pings to client 1: without the owner's check, they would go to
		-- whoever sent from the address last, the thief.
		local _, out = t.srv:sh("ping -n -c 20 -i 0.25 -W 2 " .. vpn_address(1))
		thief:stop()
		local spoofed = tonumber(t:console("return stats().dropped.mac_spoof"):match("%d+"))
		print(string.format("\n  [the server's pings to client 1 while client 2 sent from its address: %d/20; "
			.. "client 2's frames dropped: %d]", received(out), spoofed))
		assert.is_true(received(out) >= 18, "client 1 keeps its traffic: " .. out)
		assert.is_true(spoofed > 0, "the thief's frames are dropped and counted")
		assert(t.clients[1]:sh("ping -n -c 3 -i 0.2 -W 2 10.77.0.1"), "client 1 still works")
	end)

	local function count(expr)
		return tonumber(t:console("return " .. expr):match("%d+"))
	end

	-- Without client_to_client every unicast frame goes to the device only: not a flood.
	it("carries a client's bulk traffic to the server unthrottled: the gateway's address is known", function()
		local BYTES = 8 * 1024 * 1024 -- some 5,800 full frames, whatever the machine's speed
		t:start(nil, '  device = { type = "tap", name = "mvt0" },\n')
		t:completed(t:connect(1, nil, nil, { dev = "tap" }))
		assert(t.clients[1]:sh("ping -n -c 3 -i 0.2 -W 2 10.77.0.1"), "client 1 reaches the server")
		local before = count("stats().packets_in")
		local iperf = t.srv:spawn({ "iperf3", "-s", "-1", "-B", "10.77.0.1", "--forceflush" })
		assert(iperf:wait_log("Server listening", 10))
		local ok, out = t.clients[1]:sh(string.format("timeout 300 iperf3 -c 10.77.0.1 -n %d -f m", BYTES))
		iperf:stop()
		assert(ok, out)
		local frames, flood = count("stats().packets_in") - before, count("stats().dropped.flood")
		print(string.format("\n  [%d bytes by iperf3 from a dev tap client: %d frames in, %d dropped as a flood]",
			BYTES, frames, flood))
		-- Old: frames to the server's address counted as unknown unicast, 200 a second passed
		-- and the rest were dropped as a flood. iperf3 ending well says every byte came in
		-- (TCP); the datagrams are not counted against a floor: how many carry the transfer
		-- depends on how the kernels batched it (3,996 to 5,800 seen for these 8 MiB).
		assert.is_true(frames > 0, "the transfer's frames came in")
		assert.are.equal(0, flood, "none of them was charged as a flood")
	end)

	it("keeps the server's own Ethernet address the server's: a client sending from it is dropped", function()
		t:start(nil, TAP)
		t:completed(t:connect(1, nil, nil, { dev = "tap" }))
		t:completed(t:connect(2, nil, nil, { dev = "tap" }))
		local _, server_mac = t.srv:sh("cat /sys/class/net/mvt0/address")
		server_mac = assert(server_mac:match("%x%x:[%x:]+"), server_mac)
		assert(t.clients[2]:sh("ip link set dev tap0 address " .. server_mac), "client 2 takes the gateway's address")
		-- It sends without waiting for answers; each frame would claim the address.
		local thief = t.clients[2]:spawn({ "ping", "-n", "-q", "-i", "0.002", "-c", "5000", "-b", "10.77.0.255" })
		local _, out = t.clients[1]:sh("ping -n -c 20 -i 0.25 -W 2 10.77.0.1")
		thief:stop()
		local spoofed = count("stats().dropped.mac_spoof")
		print(string.format("\n  [client 1's pings to the server while client 2 sent from its address: %d/20; "
			.. "client 2's frames dropped: %d]", received(out), spoofed))
		-- Old: the address went to client 2, and so did client 1's frames for the server.
		assert.is_true(received(out) >= 18, "client 1 keeps reaching the server: " .. out)
		assert.is_true(spoofed > 0, "the thief's frames are dropped and counted")
	end)

	it("lets a dropped frame claim no address: a client cannot pre-claim another's before it connects", function()
		local VICTIM_MAC = "02:4d:56:54:00:01"
		t:start(nil, TAP)
		t:completed(t:connect(2, nil, nil, { dev = "tap" }))
		local _, server_mac = t.srv:sh("cat /sys/class/net/mvt0/address")
		server_mac = assert(server_mac:match("%x%x:[%x:]+"), server_mac)
		-- Client 2 sends from the victim's address only frames the source check drops:
		-- pings from an address not its own (no IPv6, whose link-local frames would pass).
		assert(t.clients[2]:sh("sysctl -qw net.ipv6.conf.tap0.disable_ipv6=1 && ip link set dev tap0 address "
			.. VICTIM_MAC .. " && ip addr add 10.77.0.200/32 dev tap0 && ip neigh replace 10.77.0.1 lladdr "
			.. server_mac .. " dev tap0 nud permanent"))
		assert.is_false(t.clients[2]:sh("ping -n -c 5 -i 0.2 -W 1 -I 10.77.0.200 10.77.0.1"))
		assert.is_true(count("stats().dropped.spoofed") >= 5, "client 2's frames were dropped")
		-- The victim comes with that address (OpenVPN's lladdr).
		local victim = t.clients[1]:spawn({ "openvpn", "--config", openvpn.profile(mv.pki(),
			{ remote = "10.88.1.1", dev = "tap", extra = "lladdr " .. VICTIM_MAC .. "\n" }) })
		t:completed(victim)
		local _, out = t.clients[1]:sh("ping -n -c 5 -i 0.2 -W 2 10.77.0.1")
		print(string.format("\n  [the victim's pings to the server after another client's dropped frames "
			.. "from its address: %d/5; frames dropped as another's address: %d]",
			received(out), count("stats().dropped.mac_spoof")))
		-- Old: the dropped frames had claimed the address for 300 s; the victim's were refused.
		assert.is_true(received(out) >= 4, "the victim reaches the server: " .. out)
		assert.are.equal(0, count("stats().dropped.mac_spoof"), "none of its frames was refused")
	end)

	it("lets a client send IP and ARP only from its own addresses", function()
		t:start(nil, TAP)
		t:completed(t:connect(1, nil, nil, { dev = "tap" }))
		t:completed(t:connect(2, nil, nil, { dev = "tap" }))
		local a1 = vpn_address(1)
		assert(t.srv:sh("ping -n -c 3 -i 0.2 -W 2 " .. a1), "the server reaches client 1")
		local _, mac = t.clients[1]:sh("cat /sys/class/net/tap0/address")
		mac = assert(mac:match("%x%x:[%x:]+"), mac)
		-- Client 2 claims client 1's address: its ARP (sender a1) and pings from a1.
		assert(t.clients[2]:sh("ip addr add " .. a1 .. "/32 dev tap0 && ip neigh flush dev tap0"))
		local ok = t.clients[2]:sh("ping -n -c 3 -i 0.3 -W 1 -I " .. a1 .. " 10.77.0.1")
		assert.is_false(ok, "client 2's frames from client 1's address are dropped")
		local spoofed = tonumber(t:console("return stats().dropped.spoofed"):match("%d+"))
		assert.is_true(spoofed > 0, "and counted")
		local _, neigh = t.srv:sh("ip neigh show dev mvt0 " .. a1)
		assert.matches(mac, neigh, 1, true, "the server's ARP entry for client 1 is not poisoned")
		local _, out = t.srv:sh("ping -n -c 5 -i 0.2 -W 2 " .. a1)
		assert.is_true(received(out) >= 4, "the server still reaches client 1: " .. out)
	end)

	it("rate-limits one client's broadcast flood, counted, while another client's pings pass", function()
		local SENT = 3000
		t:start(nil, TAP)
		t:completed(t:connect(1, nil, nil, { dev = "tap" }))
		t:completed(t:connect(2, nil, nil, { dev = "tap" }))
		assert(t.clients[2]:sh("ping -n -c 3 -i 0.2 -W 2 10.77.0.1"), "client 2 reaches the server")
		local victim = t.clients[2]:spawn({ "ping", "-n", "-i", "0.2", "-c", "30", "-W", "5", "10.77.0.1" })
		local function now() return tonumber((select(2, netns.sh("date +%s.%N")))) end
		local function packets_in() return t:console("return stats().packets_in") end
		local start = now()
		-- Paced at 1,000 a second, which the stock client carries whole.
		assert(t.clients[1]:sh(string.format("build/tools/flood 10.77.0.255 %d 1000", SENT)))
		-- The server may still be reading the flood: its window ends once it stops counting.
		local seen
		for _ = 1, 60 do
			seen = packets_in()
			netns.sleep(1)
			if packets_in() == seen then break end
		end
		local secs = now() - start
		assert.is_not_nil(victim:wait(60), "the other client's ping ends")
		local limited = tonumber(t:console("return stats().dropped.flood"):match("%d+"))
		-- Whatever the machine's speed: past a burst of 400, at most 200 frames a second pass.
		local bound = SENT - 400 - 200 * math.ceil(secs)
		print(string.format("\n  [a broadcast flood of %d frames in %.1f s: %d dropped (at least %d due); "
			.. "the other client's pings: %d/30]", SENT, secs, limited, bound, received(victim:output())))
		assert.is_true(limited >= bound, "the flood is limited: " .. limited .. " dropped, " .. bound .. " due")
		assert.is_true(received(victim:output()) >= 27, "the other client's pings pass: " .. victim:output())
	end)

	it("gives on.flow the frame's addresses and type, and applies rules to IP inside frames", function()
		t:start([[
office.arp = 0
function office.on.flow(flow)
  if flow.ethertype == 0x0806 then
    office.arp = office.arp + 1
    office.arp_mac = flow.src_mac
  end
  return "accept"
end
]], '  device = { type = "tap", name = "mvt0" },\n'
			.. '  policy = { rules = { { verdict = "drop", proto = "icmp", direction = "in" } } },\n')
		t:completed(t:connect(1, nil, nil, { dev = "tap" }))
		-- A new flow's frames wait for on.flow (dropped): ARP retries meanwhile.
		local ok = t.clients[1]:sh("ping -n -c 4 -W 1 10.77.0.1")
		assert.is_false(ok, "the rule drops ICMP inside the frames")
		local _, neigh = t.clients[1]:sh("ip neigh show dev tap0 10.77.0.1")
		assert.matches("lladdr %x%x:", neigh, nil, false, "ARP passed: " .. neigh)
		assert.is_true(tonumber(t:console("return server.arp"):match("%d+")) >= 1, "on.flow saw ARP")
		assert.matches('"%x%x:%x%x:%x%x:%x%x:%x%x:%x%x"', t:console("return server.arp_mac"))
	end)
end)
