-- SPDX-License-Identifier: MIT
-- The operator's Lua hooks decide who gets in and what they get, without
-- stalling anyone else, against stock OpenVPN 2.6 clients with
-- auth-user-pass (topology in spec/helpers/hooked.lua). #netns: needs root.
local hooked = require "spec.helpers.hooked"
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"

describe("#netns hooks", function()
	local t = hooked.each()
	if not t then return end
	local engine, clients

	local function start(hooks, server_extra, n)
		t:start(hooks, server_extra, n)
		engine, clients = t.engine, t.clients
	end
	local function connect(...) return t:connect(...) end
	local function completed(client) return t:completed(client) end
	local function refused(client) return t:refused(client) end
	local function console(chunk) return t:console(chunk) end

	local USERS = [[
local users = { alice = "correct horse", bob = "battery staple" }
function office.on.auth(client, username, password)
  print(string.format("auth: cn=%s user=%s plat=%s fp=%s serial=%s subject=%s", client.cn,
    tostring(username), tostring(client.peer_info.IV_PLAT), client.fingerprint:sub(1, 8),
    client.serial, client.subject))
  print(string.format("software: %s %s %s", tostring(client.software.platform),
    tostring(client.software.version), table.concat(client.software.protocol, "+")))
  if username and users[username] == password then return true end
  return nil, "wrong username or password"
end
]]

	it("lets a good password in and refuses a bad one with AUTH_FAILED and the message", function()
		start(USERS)
		completed(connect(1, "alice", "correct horse"))
		local out = refused(connect(2, "bob", "wrong"))
		assert.matches("AUTH_FAILED,wrong username or password", out, 1, true)
		local log = engine:output()
		assert.matches("auth: cn=client1 user=alice plat=linux fp=%x%x:%x%x:%x%x serial=%x+ subject=CN=client1", log)
		assert.matches("refused: wrong username or password", log, 1, true)
		assert.matches("10.77.0.2", console("return clients()[1].vpn_address"), 1, true)
		assert.matches("alice", console("return clients()[1].username"), 1, true)
		-- What the client runs, from its peer info: IV_PLAT, IV_VER, IV_PROTO by name.
		assert.matches("software: linux 2%.6%.%d+ data%-v2%+request%-push%+tls%-key%-export", log)
		assert.matches('"linux"\t"2%.6%.%d+"\ttrue', console("do local s = clients()[1].software; "
			.. "return s.platform, s.version, s.protocol[1] == 'data-v2' end"))
	end)

	it("refuses a client that sends no password while on.auth wants one", function()
		start(USERS)
		local out = refused(connect(1, nil))
		assert.matches("AUTH_FAILED,username and password required", out, 1, true)
	end)

	it("lets certificate-only clients reach on.auth with auth.password = \"optional\"", function()
		start(USERS:gsub('if username and', 'if username == nil then return true end\n  if username and'),
			'  auth = { password = "optional" },\n')
		completed(connect(1, nil))
		assert.matches("auth: cn=client1 user=nil", engine:output(), 1, true)
	end)

	it("lets clients without a certificate in on their password with auth.certificate = \"none\"", function()
		start(USERS, '  auth = { certificate = "none" },\n')
		completed(connect(1, "alice", "correct horse", { no_cert = true }))
		assert.matches("auth: cn= user=alice", engine:output(), 1, true)
		assert.matches("AUTH_FAILED", refused(connect(2, "alice", "guess", { no_cert = true })), 1, true)
		assert.is_true((clients[1]:sh("ping -n -c 1 -W 2 10.77.0.1")))
	end)

	it("lets a client without a certificate renegotiate with the same credentials", function()
		start(USERS, '  auth = { certificate = "none" },\n  renegotiate = { seconds = 3 },\n')
		completed(connect(1, "alice", "correct horse", { no_cert = true }))
		local ok, log = engine:wait_log("renegotiated: data now on key 1", 10)
		assert(ok, log)
		netns.sleep(1)
		assert.is_true((clients[1]:sh("ping -n -c 2 -i 0.2 -W 2 10.77.0.1")), "traffic on the new key")
		assert.is_nil(engine:output():find("must repeat the username", 1, true))
	end)

	it("keeps other clients' traffic flowing while one client's auth hook sleeps 3 s", function()
		start([[
function office.on.auth(client, username, password)
  if username == "slow" then vpn.sleep(3) end
  return true
end
]])
		completed(connect(1, "fast", "x"))
		local ping = clients[1]:spawn({ "ping", "-n", "-i", "0.1", "-c", "50", "10.77.0.1" })
		netns.sleep(0.3)
		local slow = connect(2, "slow", "x")
		local t0 = os.time()
		completed(slow)
		assert.is_true(os.time() - t0 >= 2, "the slow client waited for its hook")
		assert.are.equal(0, ping:wait(15))
		local out = ping:output()
		local received = tonumber(out:match("(%d+) received"))
		local max = tonumber(out:match("rtt min/avg/max/mdev = [%d.]+/[%d.]+/([%d.]+)"))
		assert.are.equal(50, received, out)
		print(string.format("\n  [max ping RTT through another client during a 3 s auth hook: %.3f ms]", max))
		assert.is_true(max < 500, "a ping waited for the hook: " .. max .. " ms")
	end)

	for _, case in ipairs {
		{ "loops forever", "while true do end", "instructions" },
		{ "raises", 'error("the LDAP server is down")', "the LDAP server is down" },
		{ "sleeps past its deadline", "vpn.sleep(60)", "timed out after 2 s" },
		{ "returns nonsense", 'return "yes"', 'on.auth returned "yes"' },
		-- Blocking calls are not there to freeze everyone: the error names vpn.exec.
		{ "calls os.execute", 'os.execute("sleep 3")',
			"os.execute is disabled in moonvpn: it would block every client while the program runs; run programs with vpn.exec" },
		{ "calls io.popen", 'io.popen("sleep 3"):read("a")', "io.popen is disabled in moonvpn: it would block every client" },
		{ "reads its standard input", "io.read()", "io.read is disabled in moonvpn" },
		{ "tries to end the engine", 'require("os").exit(0)', "os.exit is disabled in moonvpn" },
		{ "removes its own limits", "debug.sethook() while true do end", "debug.sethook is disabled in moonvpn" },
	} do
		it("refuses the client whose auth hook " .. case[1] .. ", and serves the others", function()
			start(string.format([[
function office.on.auth(client, username, password)
  if username == "bad" then %s end
  return true
end
]], case[2]), "  hooks = { timeout = 2, instructions = 1000000 },\n")
			completed(connect(1, "good", "x"))
			local t0 = os.time()
			local out = refused(connect(2, "bad", "x"))
			assert.is_true(os.time() - t0 <= 10, "refused within the hook's budget")
			assert.matches("AUTH_FAILED,authentication failed", out, 1, true)
			local log = engine:output()
			assert.matches("hook: on.auth/on.connect failed: [^\n]*" .. case[3]:gsub("%p", "%%%0"), log)
			assert.matches("stack traceback", log:match("hook: on%.auth/on%.connect failed: [^\n]*"), 1, true)
			assert.is_true((clients[1]:sh("ping -n -c 2 -W 2 10.77.0.1")), "the other client still works")
		end)
	end

	it("ends an auth hook that loops at its deadline, however many instructions it may run", function()
		-- 2e9 instructions took the old engine about 18 s, all the while answering nobody.
		start([[
function office.on.auth(client, username, password)
  if username == "bad" then while true do end end
  return true
end
]], "  hooks = { timeout = 2, instructions = 2000000000 },\n")
		completed(connect(1, "good", "x"))
		local ping = clients[1]:spawn({ "ping", "-n", "-i", "0.2", "-c", "50", "10.77.0.1" })
		netns.sleep(0.5)
		local out = refused(connect(2, "bad", "x"))
		assert.matches("AUTH_FAILED,authentication failed", out, 1, true)
		ping:wait(30)
		local received = tonumber(ping:output():match("(%d+) received"))
		print(string.format("\n  [pings answered through another client while an auth hook looped to its 2 s deadline: %d of 50]", received))
		-- At most the 2 s deadline's worth are late (answered after it); none wait 18 s.
		assert.is_true(received >= 40, "the other client's pings went unanswered:\n" .. ping:output())
		assert.matches("hook: on.auth/on.connect failed: timed out after 2 s, still running (endless loop?)",
			engine:output(), 1, true)
	end)

	it("refuses a reload whose configuration calls os.exit by any path, and keeps serving", function()
		local flag = netns.tmpdir() .. "/exit-now"
		start(string.format([[
local f = io.open(%q)
if f then
  local how = f:read("l")
  f:close()
  if how == "G" then _G.os.exit(0) elseif how == "require" then require("os").exit(0)
  else package.loaded.os.exit(0) end
end
function office.on.auth() return true end
]], flag))
		completed(connect(1, "alice", "x"))
		local function failed_reloads()
			local _, n = engine:output():gsub("reload failed, keeping the running configuration", "")
			return n
		end
		for i, how in ipairs { "G", "require", "loaded" } do
			netns.write_file(flag, how .. "\n")
			engine:signal("HUP")
			for _ = 1, 300 do
				if failed_reloads() >= i or engine:status() then break end
				netns.sleep(0.05)
			end
			assert.is_nil(engine:status(), "the engine exited on a reload:\n" .. engine:output())
			assert.are.equal(i, failed_reloads(), engine:output())
		end
		assert.matches("reload failed, keeping the running configuration: [^\n]*vpn.lua:%d+: os.exit is disabled in moonvpn: "
			.. "it would end the engine and every tunnel; raise an error to refuse a configuration or a reload", engine:output())
		assert.is_true((clients[1]:sh("ping -n -c 2 -i 0.2 -W 2 10.77.0.1")), "the client is still connected")
		assert.matches("alice", console("return clients()[1].username"), 1, true)
	end)

	it("bounds every call of the engine into Lua, whatever a hook or a reload changed there", function()
		-- The client object's metatable is protected: a __newindex put there ran at the
		-- client's end, in the engine's own call, with no limit. And an engine module a
		-- reload replaced (moonvpn.clients.groups, asked for each client after a reload)
		-- froze the engine for good; now it is stopped and fails closed (no groups).
		local flag = netns.tmpdir() .. "/plant"
		start(string.format([[
if io.open(%q) then
  require("moonvpn.clients").groups = function() while true do end end
end
function office.on.auth() return true end
function office.on.connect(client)
  if client.username == "mt" then
    getmetatable(client).__newindex = function() while true do end end
  end
end
]], flag))
		completed(connect(1, "alice", "x"))
		refused(connect(2, "mt", "x"))
		assert.matches("hook: on.auth/on.connect failed: [^\n]*attempt to index a string value", engine:output())
		netns.write_file(flag, "")
		engine:signal("HUP")
		local ok, log = engine:wait_log("moonvpn%.clients%.groups stopped after [^\n]* %(a hook or the "
			.. "configuration changed what it runs%?%)", 60)
		assert(ok, "--- moonvpn:\n" .. log)
		assert.is_nil(engine:status(), "the engine exited:\n" .. engine:output())
		assert.is_true((clients[1]:sh("ping -n -c 2 -i 0.2 -W 5 10.77.0.1")), "the client is still served")
		assert.matches("alice", console("return clients()[1].username"), 1, true)
	end)

	it("on.connect gives a static address and pushes options, and can refuse", function()
		start([[
function office.on.auth() return true end
function office.on.connect(client)
  if client.username == "mallory" then return false, "not today" end
  print("connect: pool address " .. client.vpn_address)
  client:set_address("10.77.0.50")
  client:push("dhcp-option DNS 10.77.0.1")
  client:push("route 10.99.0.0 255.255.0.0")
end
]])
		local out = completed(connect(1, "alice", "x"))
		assert.matches("dhcp-option DNS 10.77.0.1,route 10.99.0.0 255.255.0.0", out, 1, true)
		assert.matches("ifconfig 10.77.0.50 255.255.255.0", out, 1, true)
		local _, addr = clients[1]:sh("ip -4 addr show tun0")
		assert.matches("10.77.0.50/24", addr, 1, true)
		assert.is_true((clients[1]:sh("ping -n -c 1 -W 2 10.77.0.1")))
		assert.matches("connect: pool address 10.77.0.2", engine:output(), 1, true)
		assert.matches("AUTH_FAILED,not today", refused(connect(2, "mallory", "x")), 1, true)
	end)

	it("routes a subnet behind a client from on.connect while it is connected, and no longer", function()
		start([[
function office.on.auth() return true end
function office.on.connect(client)
  if client.username == "branch" then client:route("192.168.70.0/24") end
end
]])
		-- The branch office's network, behind the client.
		assert(clients[1]:sh("ip link set lo up && ip addr add 192.168.70.1/32 dev lo"))
		local branch = connect(1, "branch", "x")
		completed(branch)
		local _, routes = t.srv:sh("ip route show 192.168.70.0/24")
		assert.matches("192.168.70.0/24 dev mvt0", routes, 1, true)
		local ok, out = t.srv:sh("ping -n -c 3 -i 0.2 -W 2 192.168.70.1")
		assert(ok, "the subnet is reachable from the server's side:\n" .. out .. engine:output())
		assert.matches("added the route to 192.168.70.0/24", engine:output(), 1, true)
		console('kick("branch", "closing the branch")')
		assert.is_truthy(engine:wait_log("removed the route to 192.168.70.0/24", 10))
		_, routes = t.srv:sh("ip route show 192.168.70.0/24")
		assert.are.equal("", routes)
		assert.is_false((t.srv:sh("ping -n -c 1 -W 1 192.168.70.1")))
	end)

	it("refuses a client whose on.connect routes a subnet inside the VPN network", function()
		start([[
function office.on.auth() return true end
function office.on.connect(client) client:route("10.77.0.128/25") end
]])
		refused(connect(1, "a", "x"))
		assert.matches('client:route%("10.77.0.128/25"%) overlaps the VPN network 10.77.0.0/24', engine:output())
	end)

	it("on.disconnect gets the reason, byte counts and duration; kick() ends a client", function()
		start([[
function office.on.auth() return true end
function office.on.disconnect(client, reason)
  print(string.format("disconnect: %s %s in=%d out=%d duration=%.1f", client.username, reason,
    client.bytes_in, client.bytes_out, client.duration))
end
]])
		local alice = connect(1, "alice", "x")
		completed(alice)
		assert.is_true((clients[1]:sh("ping -n -c 3 -i 0.2 10.77.0.1")))
		assert.matches("^1", console('return kick("alice", "time is up")'))
		assert.is_truthy(alice:wait_log("Halt command was pushed by server %('time is up'%)", 10))
		local ok, log = engine:wait_log("disconnect: alice kicked by the operator: time is up in=%d+ out=%d+ duration=%d", 10)
		assert(ok, "--- moonvpn:\n" .. log)
		local bytes_in = tonumber(log:match("disconnect: alice [^\n]* in=(%d+)"))
		assert.is_true(bytes_in >= 3 * 84, "the pings were counted: " .. bytes_in)
		assert.are.equal("{}", (console("return clients()"):gsub("%s", "")))
		local status = mv.console(t.socket, 'kick("nobody")')
		assert.are_not.equal(0, status)
	end)

	it("runs vpn.exec in a hook and the after/every timers", function()
		start([[
function office.on.auth(client, username, password)
  local status, out = vpn.exec { "/bin/sh", "-c", 'test "$U" = alice && echo ok', env = { U = username } }
  return status == 0 and out == "ok\n", "exec said " .. status
end
local ticks = 0
vpn.every(0.2, function() ticks = ticks + 1 if ticks == 3 then print("three ticks") end end)
vpn.after(0.1, function() print("after ran") end)
]])
		completed(connect(1, "alice", "x"))
		assert.matches("AUTH_FAILED,exec said 1", refused(connect(2, "eve", "x")), 1, true)
		assert.is_truthy(engine:wait_log("three ticks", 5))
		assert.matches("after ran", engine:output(), 1, true)
	end)
end)
