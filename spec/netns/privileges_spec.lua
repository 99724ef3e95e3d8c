-- SPDX-License-Identifier: MIT
-- A server with user = "nobody", group = "nogroup" drops root once it has
-- opened its device, socket, keys and console: it keeps CAP_NET_ADMIN only,
-- sets no_new_privs, and the programs its hooks run have no capabilities.
-- Stock OpenVPN 2.6 clients still connect, routes behind clients still
-- change, kick and reload still work, and a reload that would need root
-- again is refused with a message saying what to do. Topology as in
-- spec/helpers/hooked.lua. #netns: needs root.
local hooked = require "spec.helpers.hooked"
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"

local NOBODY, NOGROUP = 65534, 65534
local CAP_NET_ADMIN = 1 << 12
local CAP_NET_BIND_SERVICE = 1 << 10

-- Uid, Gid, Groups, Cap*, NoNewPrivs of a /proc/PID/status text.
local function credentials(text)
	local c = { uid = {}, gid = {} }
	for word in text:match("\nUid:([^\n]*)"):gmatch("%d+") do c.uid[#c.uid + 1] = tonumber(word) end
	for word in text:match("\nGid:([^\n]*)"):gmatch("%d+") do c.gid[#c.gid + 1] = tonumber(word) end
	c.groups = (text:match("\nGroups:([^\n]*)") or ""):match("^%s*(.-)%s*$")
	for _, k in ipairs { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" } do
		c[k] = tonumber(text:match("\n" .. k .. ":%s*(%x+)"), 16)
	end
	c.no_new_privs = tonumber(text:match("\nNoNewPrivs:%s*(%d)"))
	return c
end

describe("#netns privileges", function()
	local t = hooked.each()
	if not t then return end
	local engine, clients, config_path, run, key

	local function replace(text, old, new)
		local i, j = text:find(old, 1, true)
		return text:sub(1, i - 1) .. new .. text:sub(j + 1)
	end

	-- The server's configuration: `hooks` appended, `extra` fields added; its
	-- key is a copy the user can read, as a reload must read it again.
	local function config(hooks, extra, device)
		local text = mv.server_config(string.format(
			'  device = { %s },\n  console = "%s",\n  user = "nobody",\n  group = "nogroup",\n%s',
			device or 'name = "mvt0"', t.socket, extra or ""))
		text = replace(text, mv.pki() .. "/server.key", key)
		return text:gsub("vpn%.server {", "local office = vpn.server {", 1) .. (hooks or "")
	end

	-- As hooked's start, with the console in a directory the user owns (so it
	-- can remove the socket at exit) and the configuration kept for reloads.
	local function start(hooks, extra)
		t.srv = netns.new()
		for i = 1, 2 do
			t.clients[i] = netns.new()
			netns.veth(t.srv, "10.88." .. i .. ".1/24", t.clients[i], "10.88." .. i .. ".2/24")
		end
		run = netns.tmpdir() .. "/run"
		assert(netns.sh("install -d -o nobody -g nogroup -m 0700 " .. run))
		t.socket = run .. "/console.sock"
		key = netns.tmpdir() .. "/server.key"
		assert(netns.sh(string.format("install -o root -g nogroup -m 0640 %s/server.key %s", mv.pki(), key)))
		config_path = mv.write_config(config(hooks, extra))
		t.engine = t.srv:spawn({ mv.bin, config_path })
		local ok, out = t.engine:wait_log("engine: moonvpn [%d.]+ started", 10)
		assert(ok, out)
		engine, clients = t.engine, t.clients
	end

	local function reload_config(hooks, extra, device)
		netns.write_file(config_path, config(hooks, extra, device))
	end

	local function status_of(pid)
		return credentials(assert(netns.read_file("/proc/" .. pid .. "/status")))
	end

	it("runs as the user with CAP_NET_ADMIN only, no_new_privs, and hook programs without capabilities", function()
		start([[
function office.on.auth() return true end
function office.on.connect(client)
  if client.username == "branch" then client:route("192.168.70.0/24") end
  local status, out = vpn.exec { "cat", "/proc/self/status" }
  local lines = {}
  for line in out:gmatch("[^\n]+") do
    if line:match("^[UG]id:") or line:match("^Cap") or line:match("^NoNewPrivs:") then
      lines[#lines + 1] = line:gsub("%s+", " ")
    end
  end
  print("child status " .. status .. ": " .. table.concat(lines, " | "))
end
]])
		assert.matches("dropped root: running as user nobody (uid 65534), group nogroup (gid 65534), keeping cap_net_admin; no_new_privs set",
			engine:output(), 1, true)
		local c = status_of(engine.pid)
		assert.are.same({ NOBODY, NOBODY, NOBODY, NOBODY }, c.uid)
		assert.are.same({ NOGROUP, NOGROUP, NOGROUP, NOGROUP }, c.gid)
		assert.are.equal(tostring(NOGROUP), c.groups)
		assert.are.equal(CAP_NET_ADMIN, c.CapEff)
		assert.are.equal(CAP_NET_ADMIN, c.CapPrm)
		assert.are.equal(0, c.CapInh)
		assert.are.equal(0, c.CapAmb)
		assert.are.equal(CAP_NET_ADMIN, c.CapBnd)
		assert.are.equal(1, c.no_new_privs)

		-- A client connects and pings; the route behind it is added by the dropped engine.
		assert(clients[1]:sh("ip addr add 192.168.70.1/32 dev lo"))
		t:completed(t:connect(1, "branch", "x"))
		assert.is_true((clients[1]:sh("ping -n -c 2 -i 0.2 -W 2 10.77.0.1")))
		local ok, out = t.srv:sh("ping -n -c 2 -i 0.2 -W 2 192.168.70.1")
		assert(ok, "the subnet behind the client is reachable:\n" .. out .. engine:output())

		-- What vpn.exec ran: the user's ids, and no capability at all.
		local log = engine:output()
		local child = log:match("child status 0: ([^\n]*)")
		assert(child, log)
		c = credentials("\n" .. child:gsub(" | ", "\n"))
		assert.are.same({ NOBODY, NOBODY, NOBODY, NOBODY }, c.uid)
		assert.are.equal(0, c.CapEff)
		assert.are.equal(0, c.CapPrm)
		assert.are.equal(0, c.CapAmb)
		assert.are.equal(1, c.no_new_privs)

		-- kick from the console, and the route goes with the client.
		t:console('kick("branch", "closing")')
		assert.is_truthy(engine:wait_log("removed the route to 192.168.70.0/24", 10))
		local _, routes = t.srv:sh("ip route show 192.168.70.0/24")
		assert.are.equal("", routes)

		-- It exits cleanly and, owning the console's directory, removes the socket.
		assert.are.equal(0, engine:stop())
		assert.is_nil(netns.read_file(t.socket))
		assert.are.equal("", (select(2, netns.sh("ls -A " .. run))))
		assert.is_falsy(engine:output():find("cannot remove", 1, true))
	end)

	it("reloads a changed hook on SIGHUP, and a new device and routes from the console", function()
		local function hooks(version)
			return "function office.on.auth() return true end\n" ..
				'function office.on.connect(client) print("hook ' .. version .. ' for " .. client.username) end\n'
		end
		start(hooks("v1"))
		reload_config(hooks("v2"))
		engine:signal("HUP")
		assert.is_truthy(engine:wait_log("config: reloaded", 10))
		t:completed(t:connect(1, "one", "x"))
		assert.is_truthy(engine:wait_log("hook v2 for one", 10))
		-- CAP_NET_ADMIN is enough for the device's MTU and routes.
		reload_config(hooks("v3"), '  keepalive = { interval = 5, timeout = 30 },\n  routes = { "10.55.0.0/16" },\n',
			'name = "mvt0", mtu = 1400')
		assert.matches("reloaded", t:console("reload()"), 1, true)
		local _, link = t.srv:sh("ip link show mvt0")
		assert.matches("mtu 1400", link, 1, true)
		local _, routes = t.srv:sh("ip route show 10.55.0.0/16")
		assert.matches("10.55.0.0/16 dev mvt0", routes, 1, true)
		-- A renamed device opens /dev/net/tun again: done where the user may open it, else refused.
		reload_config(hooks("v3"), "", 'name = "mvt1", mtu = 1400')
		local _, mode = netns.sh("stat -c %a /dev/net/tun")
		local status, out, err = mv.console(t.socket, "reload()")
		if mode:match("6%s*$") then
			assert.are.equal(0, status, err)
			assert.is_true((t.srv:sh("ip link show mvt1")))
			reload_config(hooks("v3"), "", 'name = "mvt0", mtu = 1400')
			assert.matches("reloaded", t:console("reload()"), 1, true)
		else
			assert.are.equal(1, status, out)
			assert.matches("device: a reload cannot change the device's name or type here after moonvpn dropped "
				.. "root: user nobody cannot open /dev/net/tun (Permission denied); its addresses, routes and "
				.. "MTU can change. Restart moonvpn for the new device", err, 1, true)
		end
		assert.is_true((t.srv:sh("ip link show mvt0")))
		t:completed(t:connect(2, "two", "x"))
		assert.is_truthy(engine:wait_log("hook v3 for two", 10))
		assert.is_true((clients[2]:sh("ping -n -c 2 -i 0.2 -W 2 10.77.0.1")))
		assert.is_falsy(engine:output():find("hook v1", 1, true))
		assert.are.equal(CAP_NET_ADMIN, status_of(engine.pid).CapEff)
	end)

	it("refuses a reload that needs what it gave up, saying what to do, and keeps running", function()
		local HOOKS = "function office.on.auth() return true end\n"
		start(HOOKS)
		local dir = config_path:match("^(.*)/")
		-- A key only root can read.
		assert(netns.sh(string.format("cp %s/server.key %s/root-only.key && chmod 0600 %s/root-only.key",
			mv.pki(), dir, dir)))
		local cases = {
			{ '  user = "daemon",\n', "user/group: moonvpn dropped root to user nobody (gid 65534) at start, "
				.. "and a reload cannot change that or regain root: restart moonvpn" },
			{ '  listen = "udp://0.0.0.0:443",\n', "listen: udp://0.0.0.0:443 has a port below 1024, and moonvpn "
				.. "kept no CAP_NET_BIND_SERVICE when it dropped root (it listened on udp://0.0.0.0:1194): restart moonvpn" },
		}
		for _, case in ipairs(cases) do
			local text = config(HOOKS, case[1])
			if case[1]:find("user") then text = text:gsub('  user = "nobody",\n', "", 1) end
			netns.write_file(config_path, text)
			local status, _, err = mv.console(t.socket, "reload()")
			assert.are.equal(1, status)
			assert.matches(case[2], err, 1, true)
		end
		-- The console cannot move: its new socket would be the user's.
		netns.write_file(config_path, (config(HOOKS):gsub("console.sock", "other.sock")))
		local status, _, err = mv.console(t.socket, "reload()")
		assert.are.equal(1, status)
		assert.matches("console: a reload cannot move the console after moonvpn dropped root", err, 1, true)
		-- A key the user cannot read: named, with the fix.
		netns.write_file(config_path, replace(config(HOOKS), key, dir .. "/root-only.key"))
		status, _, err = mv.console(t.socket, "reload()")
		assert.are.equal(1, status)
		assert.matches("tls.key: [^ ]*root%-only%.key is not readable by user nobody, which moonvpn runs as "
			.. "since it started: make it readable by that user %(chgrp GROUP FILE; chmod g%+r FILE%) or restart moonvpn", err)
		-- The configuration file itself, on SIGHUP.
		netns.write_file(config_path, config(HOOKS))
		assert(netns.sh("chmod 0600 " .. config_path))
		engine:signal("HUP")
		local ok, log = engine:wait_log("reload failed, keeping the running configuration: the configuration "
			.. "file: [^ ]+ is not readable by user nobody", 10)
		assert(ok, log)
		-- Still serving, as it was.
		t:completed(t:connect(1, "one", "x"))
		assert.is_true((clients[1]:sh("ping -n -c 1 -W 2 10.77.0.1")))
		assert.matches('"udp://0.0.0.0:1194"', t:console("return config().listen"), 1, true)
	end)

	it("warns when the user cannot remove the console socket at exit, and the next start replaces it", function()
		local HOOKS = "function office.on.auth() return true end\n"
		start(HOOKS)
		assert.are.equal(0, engine:stop())
		-- The same configuration with its console in a directory only root may change.
		t.socket = netns.tmpdir() .. "/console.sock"
		netns.write_file(config_path, config(HOOKS))
		for round = 1, 2 do
			t.engine = t.srv:spawn({ mv.bin, config_path })
			engine = t.engine
			local ok, out = engine:wait_log("engine: moonvpn [%d.]+ started", 10)
			assert(ok, out)
			assert.matches("user nobody cannot remove " .. t.socket .. " at exit", out, 1, true)
			assert.matches("^1", t:console("return 1"))
			assert.are.equal(0, engine:stop())
			assert.is_true((netns.sh("test -S " .. t.socket)), "the stale socket stays, round " .. round)
		end
	end)

	it("drops root in client mode too: the server's push still configures the device, and a reload reconnects", function()
		local srv, cli = netns.new(), netns.new()
		netns.veth(srv, "10.88.2.1/24", cli, "10.88.2.2/24")
		local server = srv:spawn({ mv.bin, mv.write_config(mv.server_config(
			'  listen = "udp://10.88.2.1:1194",\n  device = { name = "mvs0" },'), "server.lua") })
		assert(server:wait_log("engine: moonvpn [%d.]+ started", 10), server:output())
		local pki, dir = mv.pki(), netns.tmpdir()
		assert(netns.sh(string.format("install -o root -g nogroup -m 0640 %s/client1.key %s/client1.key", pki, dir)))
		local client = cli:spawn({ mv.bin, mv.write_config(mv.client_config("10.88.2.1", string.format([[
  device = { name = "mvc0" },
  tls = { ca = "%s/ca.crt", cert = "%s/client1.crt", key = "%s/client1.key" },
  user = "nobody",
  group = "nogroup",
]], pki, pki, dir), { tls = false }), "client.lua") })
		local ok, out = client:wait_log("connected, address", 20)
		assert(ok, out .. "\n--- server:\n" .. server:output())
		local c = status_of(client.pid)
		assert.are.same({ NOBODY, NOBODY, NOBODY, NOBODY }, c.uid)
		assert.are.equal(CAP_NET_ADMIN, c.CapEff)
		assert.are.equal(1, c.no_new_privs)
		local _, addr = cli:sh("ip addr show dev mvc0")
		assert.matches("inet 10.77.0.%d+/24", addr)
		assert.is_true((cli:sh("ping -n -c 2 -i 0.2 -W 2 10.77.0.1")))
		client:signal("HUP")
		assert.is_truthy(client:wait_log("config: reloaded", 10))
		assert.is_truthy(client:wait_log("connected, address.*connected, address", 20))
		assert.is_true((cli:sh("ping -n -c 2 -i 0.2 -W 2 10.77.0.1")))
		assert.are.equal(0, client:stop())
		assert.are.equal(0, server:stop())
	end)

	it("keeps CAP_NET_BIND_SERVICE when it listens below 1024, so a reload can move between low ports", function()
		start("function office.on.auth() return true end\n", '  listen = "udp://0.0.0.0:443",\n')
		local c = status_of(engine.pid)
		assert.are.equal(CAP_NET_ADMIN | CAP_NET_BIND_SERVICE, c.CapEff)
		assert.are.equal(CAP_NET_ADMIN | CAP_NET_BIND_SERVICE, c.CapBnd)
		reload_config("function office.on.auth() return true end\n", '  listen = "udp://0.0.0.0:444",\n')
		assert.matches("reloaded", t:console("reload()"), 1, true)
		assert.is_truthy(engine:wait_log("listening on udp://0.0.0.0:444", 10))
	end)
end)
