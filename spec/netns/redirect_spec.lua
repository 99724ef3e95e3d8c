-- SPDX-License-Identifier: MIT
-- redirect-gateway in client mode: everything goes through the server while
-- the client runs, and reaches the world directly again once it is gone.
--
--   [ mvt-cli: client ] --10.88.5.0/24-- [ mvt-rtr: "the internet", 203.0.113.1 ] --10.88.6.0/24-- [ mvt-srv: server ]
--
-- mvt-rtr is also a host on the client's LAN, 10.88.5.3 (for block-local).
-- The client's and the server's default routes go through mvt-rtr, which
-- holds the "public" address 203.0.113.1 and routes the VPN network back to
-- the server. Where a ping to 203.0.113.1 came from tells the two apart: from
-- the client's own address (direct) or from a VPN address (through the
-- server, which forwards it). #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

local PUBLIC = "203.0.113.1"
local LAN = "10.88.5.3"

describe("#netns redirect-gateway", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local cli, rtr, srv, server, client, cli_if

	local function topology()
		cli, rtr, srv = netns.new(), netns.new(), netns.new()
		local r, c = netns.veth(rtr, "10.88.5.1/24", cli, "10.88.5.2/24")
		cli_if = c
		-- A host on the client's LAN besides its gateway: LAN in the counts below.
		assert(rtr:sh("ip addr add " .. LAN .. "/24 dev " .. r))
		netns.veth(rtr, "10.88.6.1/24", srv, "10.88.6.2/24")
		assert(cli:sh("ip route add default via 10.88.5.1"))
		assert(srv:sh("ip route add default via 10.88.6.1 && sysctl -qw net.ipv4.ip_forward=1"))
		assert(rtr:sh("ip addr add " .. PUBLIC .. "/32 dev lo && sysctl -qw net.ipv4.ip_forward=1"
			.. " && ip route add 10.77.0.0/24 via 10.88.6.2"))
		-- The sources of the echo requests PUBLIC receives, counted by nftables.
		assert(rtr:sh("nft add table inet seen && nft add chain inet seen input '{ type filter hook input "
			.. "priority 0; }' && nft add rule inet seen input ip daddr " .. PUBLIC .. " ip saddr 10.88.5.2 "
			.. "icmp type echo-request counter comment direct && nft add rule inet seen input ip daddr "
			.. PUBLIC .. " ip saddr 10.77.0.0/24 icmp type echo-request counter comment tunnel"
			.. " && nft add rule inet seen input ip daddr " .. LAN .. " ip saddr 10.88.5.2 icmp type echo-request "
			.. "counter comment lan_direct && nft add rule inet seen input ip daddr " .. LAN .. " ip saddr "
			.. "10.77.0.0/24 icmp type echo-request counter comment lan_tunnel"))
	end

	-- The echo requests PUBLIC got from "direct" or "tunnel".
	local function seen(which)
		local _, out = rtr:sh("nft list chain inet seen input")
		return tonumber(out:match("packets (%d+) bytes %d+ comment \"" .. which .. "\"")) or -1
	end

	-- Two pings to address: how many came directly, and how many through the tunnel.
	local function ping_counted(address, direct, tunnel)
		local before = { seen(direct), seen(tunnel) }
		local ok, out = cli:sh("ping -c 2 -i 0.2 -W 3 " .. address)
		assert(ok, out)
		return seen(direct) - before[1], seen(tunnel) - before[2]
	end

	local function ping_public() return ping_counted(PUBLIC, "direct", "tunnel") end
	-- LAN, the host on the client's own network.
	local function ping_lan() return ping_counted(LAN, "lan_direct", "lan_tunnel") end

	-- words: redirect-gateway's (false: none); extra: more openvpn server lines.
	local function start_server(kind, words, extra)
		words = words == nil and "def1" or words
		local pki = mv.pki()
		local argv
		if kind == "openvpn" then
			argv = { "openvpn", "--config", openvpn.server(pki, { listen = "10.88.6.2", wrap = "tls-crypt",
				extra = (words and ('push "redirect-gateway ' .. words .. '"\n') or "") .. (extra or "") }) }
		else
			argv = { mv.bin, mv.write_config(mv.server_config(string.format([[
  listen = "udp://10.88.6.2:1194",
  device = { name = "mvs0" },
  tls = { ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key", tls_crypt = "%s/tc.key" },
  push = { redirect_gateway = true },
]], pki, pki, pki, pki), { tls = false }), "server.lua") }
		end
		server = srv:spawn(argv)
		local ready = kind == "openvpn" and "Initialization Sequence Completed" or "engine: moonvpn [%d.]+ started"
		assert(server:wait_log(ready, 10), server:output())
	end

	-- extra: more client fields.
	local function start_client(extra)
		local pki = mv.pki()
		client = cli:spawn({ mv.bin, mv.write_config(mv.client_config("10.88.6.2", string.format([[
  device = { name = "mvc0" },
  tls = { ca = "%s/ca.crt", cert = "%s/client1.crt", key = "%s/client1.key", tls_crypt = "%s/tc.key" },
]], pki, pki, pki, pki) .. (extra or ""), { tls = false }), "client.lua") })
		local ok, out = client:wait_log("configured by the server", 20)
		assert(ok, out .. "\n--- server:\n" .. server:output())
	end

	local function routes()
		local _, out = cli:sh("ip route show")
		return out
	end

	after_each(function()
		if client then client:stop() end
		if server then server:stop() end
		client, server = nil, nil
		if cli then netns.sh("rm -rf /etc/netns/" .. cli.name) end -- a name test's hosts file, failed too
		netns.cleanup()
	end)

	for _, kind in ipairs { "moonvpn", "openvpn" } do
		it("sends everything through a " .. kind .. " server and gives it back at exit", function()
			topology()
			start_server(kind)
			assert.are.same({ 2, 0 }, { ping_public() })
			start_client()
			local r = routes()
			assert.matches("0.0.0.0/1 dev mvc0", r, 1, true)
			assert.matches("128.0.0.0/1 dev mvc0", r, 1, true)
			assert.matches("10.88.6.2 via 10.88.5.1 dev " .. cli_if .. " proto 109", r, 1, true)
			assert.are.same({ 0, 2 }, { ping_public() })
			assert.are.equal(0, client:stop())
			client = nil
			r = routes()
			assert.is_nil(r:find("0.0.0.0/1", 1, true), r)
			assert.is_nil(r:find("proto 109", 1, true), r)
			assert.are.same({ 2, 0 }, { ping_public() })
		end)
	end

	it("block-local: the client's own LAN goes through the tunnel while it runs, and directly again after", function()
		topology()
		start_server("openvpn", "def1 block-local")
		assert.are.same({ 2, 0 }, { ping_lan() })
		start_client()
		local r = routes()
		-- 10.88.5.0/24 in two halves through the tunnel (OpenVPN's add_block_local_item); the gateway pinned.
		assert.matches("10.88.5.0/25 dev mvc0", r, 1, true)
		assert.matches("10.88.5.128/25 dev mvc0", r, 1, true)
		assert.matches("10.88.5.1 dev " .. cli_if .. " proto 109", r, 1, true)
		assert.are.same({ 0, 2 }, { ping_lan() })
		assert.are.same({ 0, 2 }, { ping_public() })
		assert.are.equal(0, client:stop())
		client = nil
		r = routes()
		assert.is_nil(r:find("10.88.5.0/25", 1, true), r)
		assert.is_nil(r:find("proto 109", 1, true), r)
		assert.are.same({ 2, 0 }, { ping_lan() })
	end)

	it("keeps routes_outside (a profile's route ... net_gateway) outside the tunnel until exit", function()
		topology()
		start_server("openvpn")
		start_client('  routes_outside = { "' .. PUBLIC .. '/32" },\n')
		local r = routes()
		assert.matches("0.0.0.0/1 dev mvc0", r, 1, true)
		assert.matches(PUBLIC .. " via 10.88.5.1 dev " .. cli_if .. " proto 109", r, 1, true)
		assert.are.same({ 2, 0 }, { ping_public() })
		assert.are.equal(0, client:stop())
		client = nil
		assert.is_nil(routes():find(PUBLIC, 1, true))
	end)

	it("keeps routes_outside outside across a reload when a pushed route covers them", function()
		topology()
		-- No redirect pins: the pushed route stays on the device across the reload.
		start_server("openvpn", false, 'push "route 203.0.113.0 255.255.255.0"\n')
		start_client('  routes_outside = { "' .. PUBLIC .. '/32" },\n')
		local r = routes()
		assert.matches("203.0.113.0/24 dev mvc0", r, 1, true)
		assert.matches(PUBLIC .. " via 10.88.5.1 dev " .. cli_if .. " proto 109", r, 1, true)
		assert.are.same({ 2, 0 }, { ping_public() })
		client:signal("HUP") -- a reload reconnects; the next push pins routes_outside again
		local ok, out = client:wait_log("configured by the server.*configured by the server", 30)
		assert(ok, out)
		r = routes()
		assert.matches(PUBLIC .. " via 10.88.5.1 dev " .. cli_if .. " proto 109", r, 1, true)
		assert.are.same({ 2, 0 }, { ping_public() })
		assert.is_nil(client:output():find("not kept outside", 1, true), client:output())
	end)

	it("removes a host-name server's pinned route a SIGKILLed run left, from the list it wrote", function()
		topology()
		start_server("moonvpn")
		assert(netns.sh("mkdir -p /etc/netns/" .. cli.name))
		netns.write_file("/etc/netns/" .. cli.name .. "/hosts", "127.0.0.1 localhost\n10.88.6.2 vpn.redirect.test\n")
		local pki, run = mv.pki(), netns.tmpdir()
		local config = mv.write_config(mv.client_config("vpn.redirect.test", string.format([[
  device = { name = "mvc0" },
  tls = { ca = "%s/ca.crt", cert = "%s/client1.crt", key = "%s/client1.key", tls_crypt = "%s/tc.key" },
]], pki, pki, pki, pki), { tls = false }), "client.lua")
		local function start()
			client = cli:spawn({ "env", "RUNTIME_DIRECTORY=" .. run, mv.bin, config })
			local ok, out = client:wait_log("configured by the server", 20)
			assert(ok, out .. "\n--- server:\n" .. server:output())
		end
		start()
		local pinned = "10.88.6.2 via 10.88.5.1 dev " .. cli_if .. " proto 109"
		assert.matches(pinned, routes(), 1, true)
		assert(cli:sh("kill -KILL " .. client.pid))
		client:wait(10)
		client = nil
		assert.matches(pinned, routes(), 1, true)
		start()
		assert.matches("removed 1 route(s) to the server a previous run left", client:output(), 1, true)
		assert.are.same({ 0, 2 }, { ping_public() })
		assert.are.equal(0, client:stop())
		client = nil
		netns.sh("rm -rf /etc/netns/" .. cli.name)
		local r = routes()
		assert.is_nil(r:find("proto 109", 1, true), r)
		local _, files = netns.sh("ls " .. run)
		assert.are.equal("", files)
	end)

	it("leaves only the server's pinned route after SIGKILL, and the next start removes it", function()
		topology()
		start_server("moonvpn")
		start_client()
		assert(cli:sh("kill -KILL " .. client.pid))
		client:wait(10)
		client = nil
		-- The device went with the process, and its routes with it: the world is direct again.
		local r
		for _ = 1, 50 do
			r = routes()
			if not r:find("0.0.0.0/1", 1, true) then break end
			netns.sleep(0.1)
		end
		assert.is_nil(r:find("0.0.0.0/1", 1, true), r)
		assert.matches("10.88.6.2 via 10.88.5.1 dev " .. cli_if .. " proto 109", r, 1, true)
		assert.are.same({ 2, 0 }, { ping_public() })
		start_client()
		assert.matches("removed 1 route(s) to the server a previous run left", client:output(), 1, true)
		assert.are.same({ 0, 2 }, { ping_public() })
		assert.are.equal(0, client:stop())
		client = nil
		assert.is_nil(routes():find("proto 109", 1, true))
	end)
end)
