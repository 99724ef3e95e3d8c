-- SPDX-License-Identifier: MIT
-- TAP mode: stock OpenVPN 2.6 clients with `dev tap` on a moonvpn server
-- whose device is a tap, switched by learned Ethernet addresses (topology
-- in spec/helpers/hooked.lua). #netns: needs root.
local hooked = require "spec.helpers.hooked"

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
		local ok = t.clients[1]:sh("ping -n -c 2 -W 1 10.77.0.1")
		assert.is_false(ok, "the rule drops ICMP inside the frames")
		local _, neigh = t.clients[1]:sh("ip neigh show dev tap0 10.77.0.1")
		assert.matches("lladdr %x%x:", neigh, nil, false, "ARP passed: " .. neigh)
		assert.is_true(tonumber(t:console("return server.arp"):match("%d+")) >= 1, "on.flow saw ARP")
		assert.matches('"%x%x:%x%x:%x%x:%x%x:%x%x:%x%x"', t:console("return server.arp_mac"))
	end)
end)
