-- SPDX-License-Identifier: MIT
-- The DNS servers and search domain a server pushes, given to the client's
-- resolver (dns = "file", "resolvconf", "resolved") and taken back at exit:
--
--   [ mvt-srv: moonvpn server, pushes dns 10.77.0.1, domain vpn.example ] --veth-- [ mvt-cli: moonvpn client ]
--
-- The client's /etc/resolv.conf is /etc/netns/<its namespace>/resolv.conf,
-- which ip netns exec mounts over it: the host's own stays untouched.
-- resolvconf and resolvectl are stand-ins on the client's PATH that write
-- down how they were called. The on.dns hook's cases run against a stock
-- OpenVPN 2.6 server in mvt-srv instead, which pushes dhcp-option DNS and
-- 2.6's dns server/search-domains. #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

local ORIGINAL = "nameserver 192.0.2.53\noptions edns0\n"
-- The server prints the IV_PROTO bits each client announced: a moonvpn client that
-- announces dns-option (2.6) or dns-option-v2 (2.7) is pushed `dns server` options, not dhcp-option.
local PROTOCOL_HOOK = [[
function office.on.connect(client)
  print("protocol: " .. table.concat(client.software.protocol, "+"))
end
]]

describe("#netns client DNS", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local srv, cli, server, client, conf, dir

	-- The two namespaces, the client's own resolv.conf and a directory for the run.
	local function namespaces()
		srv, cli = netns.new(), netns.new()
		netns.veth(srv, "10.88.7.1/24", cli, "10.88.7.2/24")
		assert(netns.sh("mkdir -p /etc/netns/" .. cli.name))
		conf = "/etc/netns/" .. cli.name .. "/resolv.conf"
		netns.write_file(conf, ORIGINAL)
		dir = netns.tmpdir()
		-- Stand-ins that write down their arguments and what came on stdin.
		for _, name in ipairs { "resolvconf", "resolvectl" } do
			netns.write_file(dir .. "/" .. name, string.format(
				"#!/bin/sh\necho \"$*\" >> %s/calls\n[ \"$1\" = -a ] && cat >> %s/calls\nexit 0\n", dir, dir))
			assert(netns.sh("chmod +x " .. dir .. "/" .. name))
		end
	end

	local function start_server(extra)
		namespaces()
		local pki = mv.pki()
		server = srv:spawn({ mv.bin, mv.write_config(mv.server_config(string.format([[
  listen = "udp://10.88.7.1:1194",
  device = { name = "mvs0" },
  tls = { ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key" },
  push = { dns = { "10.77.0.1", "10.77.0.2" }, domain = "vpn.example"%s },
]], pki, pki, pki, extra or ""), { tls = false }):gsub("vpn.server {", "local office = vpn.server {", 1)
			.. PROTOCOL_HOOK, "server.lua") })
		assert(server:wait_log("engine: moonvpn [%d.]+ started", 10), server:output())
	end

	local function start_client(method)
		local pki = mv.pki()
		local config = mv.write_config(mv.client_config("10.88.7.1", string.format([[
  device = { name = "mvc0" },
  dns = "%s",
  tls = { ca = "%s/ca.crt", cert = "%s/client1.crt", key = "%s/client1.key" },
]], method, pki, pki, pki), { tls = false }), "client.lua")
		client = cli:spawn({ "env", "RUNTIME_DIRECTORY=" .. dir, "PATH=" .. dir .. ":/usr/sbin:/usr/bin:/sbin:/bin",
			mv.bin, config })
		local ok, out = client:wait_log("dns: 2 server%(s%)", 20)
		assert(ok, out .. "\n--- server:\n" .. server:output())
		return out
	end

	local function calls()
		return netns.read_file(dir .. "/calls") or ""
	end

	after_each(function()
		if client then client:stop() end
		if server then server:stop() end
		client, server = nil, nil
		if cli then netns.sh("rm -rf /etc/netns/" .. cli.name) end
		netns.cleanup()
	end)

	it("writes /etc/resolv.conf and puts the previous one back at exit", function()
		start_server()
		local out = start_client("file")
		assert.matches("written to /etc/resolv.conf", out, 1, true)
		assert.matches("protocol: [%w%-+]*%+dns%-option%+", server:output())
		assert.matches("protocol: [%w%-+]*%+dns%-option%-v2[+\n]", server:output()) -- as 2.7
		assert.are.equal("# moonvpn: DNS of the VPN on mvc0; the previous file comes back when moonvpn stops\n"
			.. "nameserver 10.77.0.1\nnameserver 10.77.0.2\nsearch vpn.example\n", netns.read_file(conf))
		assert.are.equal(ORIGINAL, netns.read_file(dir .. "/resolv.conf.mvc0"))
		assert.are.equal(0, client:stop())
		client = nil
		assert.are.equal(ORIGINAL, netns.read_file(conf))
		assert.is_nil(netns.read_file(dir .. "/resolv.conf.mvc0"))
	end)

	it("after kill -9, the next start puts the previous resolv.conf back first", function()
		start_server()
		start_client("file")
		assert(cli:sh("kill -KILL " .. client.pid))
		client:wait(10)
		client = nil
		assert.matches("^# moonvpn: ", netns.read_file(conf))
		local out = start_client("file")
		assert.matches("put /etc/resolv.conf back as it was before a previous run", out, 1, true)
		assert.are.equal(0, client:stop())
		client = nil
		assert.are.equal(ORIGINAL, netns.read_file(conf))
	end)

	it("leaves a resolv.conf someone else rewrote meanwhile", function()
		start_server()
		start_client("file")
		netns.write_file(conf, "nameserver 198.51.100.1\n")
		assert.are.equal(0, client:stop())
		client = nil
		assert.are.equal("nameserver 198.51.100.1\n", netns.read_file(conf))
	end)

	it("gives the servers to resolvconf and takes them back", function()
		start_server()
		assert.matches("given to resolvconf", start_client("resolvconf"), 1, true)
		assert.are.equal("-a mvc0.moonvpn\nnameserver 10.77.0.1\nnameserver 10.77.0.2\nsearch vpn.example\n", calls())
		assert.are.equal(0, client:stop())
		client = nil
		assert.matches("\n%-d mvc0%.moonvpn\n$", calls())
		assert.are.equal(ORIGINAL, netns.read_file(conf))
	end)

	it("gives the servers to systemd-resolved, every name when all traffic is redirected", function()
		start_server(", redirect_gateway = true")
		assert.matches("given to systemd%-resolved", start_client("resolved"))
		assert.are.equal("dns mvc0 10.77.0.1 10.77.0.2\ndomain mvc0 vpn.example ~.\n", calls())
		assert.are.equal(0, client:stop())
		client = nil
		assert.matches("\nrevert mvc0\n$", calls())
	end)

	it("only shows them with dns = \"show\"", function()
		start_server()
		assert.matches('not given to the resolver %(dns = "show"%)', start_client("show"))
		assert.are.equal(ORIGINAL, netns.read_file(conf))
		assert.are.equal("", calls())
	end)

	-- on.dns against a stock OpenVPN 2.6 server that pushes both dhcp-option's DNS and
	-- 2.6's dns options (these win, as in OpenVPN), with dns = "file".
	local function start_stock(hook, method)
		namespaces()
		local pki = mv.pki()
		server = srv:spawn({ "openvpn", "--config", openvpn.server(pki, { listen = "10.88.7.1", extra = table.concat({
			'push "dhcp-option DNS 10.77.0.1"', 'push "dhcp-option DOMAIN old.example"',
			'push "dns server 1 address 10.77.0.53 10.77.0.54:5353"',
			'push "dns search-domains corp.example lab.example"' }, "\n") }) })
		assert(server:wait_log("Initialization Sequence Completed", 10), server:output())
		local text = mv.client_config("10.88.7.1", string.format('  device = { name = "mvc0" },\n  dns = %q,',
			method or "file"))
		text = text:gsub("vpn%.client {", "local c = vpn.client {") .. hook
		client = cli:spawn({ "env", "RUNTIME_DIRECTORY=" .. dir, "PATH=" .. dir .. ":/usr/sbin:/usr/bin:/sbin:/bin",
			mv.bin, mv.write_config(text, "client.lua") })
		local ok, out = client:wait_log("connected, address", 30)
		assert(ok, out .. "\n--- server:\n" .. server:output())
	end

	-- The hook prints what it was given: one line a call.
	local SHOW = [[
local function show(d, event)
  local s = {}
  for _, v in ipairs(d.servers) do s[#s + 1] = v.address .. "#" .. v.port end
  print(string.format("on.dns %s %s servers=%s search=%s", event, d.device, table.concat(s, ","),
    table.concat(d.search_domains, ",")))
end
]]

	it("sees the pushed settings, and what it returns is applied; down at exit", function()
		start_stock(SHOW .. [[
function c.on.dns(d, event)
  show(d, event)
  if event == "down" then return end
  table.insert(d.servers, 1, { address = "10.77.0.99" })
  d.search_domains = { "changed.example" }
  return d
end
]])
		local ok, out = client:wait_log("dns: 3 server%(s%)", 20)
		assert(ok, out)
		assert.matches("on.dns up mvc0 servers=10.77.0.53#53,10.77.0.54#5353 search=corp.example,lab.example",
			out, 1, true)
		assert.matches("1 server(s) on a port other than 53 left out", out, 1, true)
		assert.are.equal("# moonvpn: DNS of the VPN on mvc0; the previous file comes back when moonvpn stops\n"
			.. "nameserver 10.77.0.99\nnameserver 10.77.0.53\nsearch changed.example\n", netns.read_file(conf))
		assert.are.equal(0, client:stop())
		out = client:output()
		client = nil
		assert.matches("on.dns down mvc0 servers=10.77.0.53#53,10.77.0.54#5353 search=corp.example,lab.example",
			out, 1, true)
		assert.are.equal(ORIGINAL, netns.read_file(conf))
	end)

	it("a hook that refuses leaves resolv.conf untouched, and is told down at exit", function()
		start_stock(SHOW .. "function c.on.dns(d, event) show(d, event) return false end\n")
		local ok, out = client:wait_log("on.dns refused the pushed DNS settings: none applied", 20)
		assert(ok, out)
		assert.are.equal(ORIGINAL, netns.read_file(conf))
		assert.is_nil(netns.read_file(dir .. "/resolv.conf.mvc0"))
		assert.are.equal(0, client:stop())
		out = client:output()
		client = nil
		assert.matches("on.dns down mvc0", out, 1, true)
		assert.are.equal(ORIGINAL, netns.read_file(conf))
	end)

	it("a hook that fails is logged, the pushed settings are applied and the client goes on", function()
		start_stock('function c.on.dns(d, event) if event == "up" then error("no resolver here") end end\n')
		local ok, out = client:wait_log("dns: 2 server%(s%)", 20)
		assert(ok, out)
		assert.matches("hook: on.dns failed: .*no resolver here", out)
		assert.matches("on.dns failed (see above): the pushed DNS settings are applied", out, 1, true)
		assert.matches("^# moonvpn: .*nameserver 10.77.0.53\nsearch corp.example lab.example\n$", netns.read_file(conf))
		assert(cli:sh("ping -c 1 -W 5 10.77.0.1"))
		assert.are.equal(0, client:stop())
		client = nil
		assert.are.equal(ORIGINAL, netns.read_file(conf))
	end)

	-- What on.dns returns reaches resolv.conf or resolvectl's arguments: its domains are
	-- checked as pushed ones (review M1); an option there is the hook's error.
	it("a hook that returns a domain with an option in it fails, the pushed settings are applied", function()
		start_stock([[
function c.on.dns(d, event)
  if event == "up" then d.search_domains = { "ok.example", "--interface=lo" } return d end
end
]], "resolved")
		local ok, out = client:wait_log("dns: 2 server%(s%)", 20)
		assert(ok, out)
		assert.matches("search_domains[2]: expected a domain name", out, 1, true)
		assert.are.equal("dns mvc0 10.77.0.53 10.77.0.54:5353\ndomain mvc0 corp.example lab.example\n", calls())
	end)

	-- The down call runs the loop while the engine ends (review H1): the client is gone by
	-- then (its EXIT went first), the device is still there and the signals are still caught.
	-- Packets from the device and a SIGHUP then must reach neither the freed client nor a
	-- reload (a double free, or a new client during exit).
	it("exits cleanly while a waiting down call runs, under traffic and a SIGHUP", function()
		start_stock([[
function c.on.dns(d, event)
  if event ~= "down" then return end
  print("on.dns down waits")
  vpn.exec { "sleep", "2" }
  print("on.dns down done")
end
]])
		local flood = cli:spawn({ "ping", "-f", "-s", "1200", "10.77.0.1" })
		assert(flood:wait_log("%.", 10), flood:output())
		client:signal("TERM")
		local ok, out = client:wait_log("on.dns down waits", 20)
		assert(ok, out)
		client:signal("HUP")
		assert.are.equal(0, client:wait(30), client:output())
		flood:stop("KILL")
		out = client:output()
		client = nil
		assert.matches("on.dns down done", out, 1, true)
		assert.matches("received SIGHUP during shutdown: ignored", out, 1, true)
		assert.not_matches("reloading", out, 1, true)
		assert.not_matches("ERROR: AddressSanitizer", out, 1, true)
		assert.not_matches("runtime error", out, 1, true)
		assert.are.equal(ORIGINAL, netns.read_file(conf))
	end)

	it("gives 2.6's servers with their ports, and every search domain, to systemd-resolved", function()
		start_stock("", "resolved")
		local ok, out = client:wait_log("dns: 2 server%(s%)", 20)
		assert(ok, out)
		assert.are.equal("dns mvc0 10.77.0.53 10.77.0.54:5353\ndomain mvc0 corp.example lab.example\n", calls())
	end)
end)
