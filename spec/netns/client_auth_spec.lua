-- SPDX-License-Identifier: MIT
-- A moonvpn client's logins beyond a given password (issue 16 item 2), against a
-- stock OpenVPN 2.6 server that takes passwords alone through
-- auth-user-pass-verify SCRIPT via-file:
--
--   [ mvt-srv: openvpn, tun 10.77.0.1 ] --veth 10.88.2.1 / .2-- [ mvt-cli: moonvpn client ]
--
-- auth_retry "none" stops the client with the server's reason (set by the script
-- through 2.6's auth_failed_reason_file), "nointeract" tries again, "interact"
-- asks again; a static challenge's SCRV1 password and a dynamic challenge (CRV1)
-- answered by an auth.ask function; a function that fails is logged and asked
-- again; the terminal is asked through a pseudo-terminal (python3's pty).
--
-- #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

describe("#netns client logins", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local srv, cli, server, client, dir

	-- The verify script writes each call's username and password to calls, and
	-- runs `decide` (sh, with $user, $pass and $n, the call's number) for its verdict.
	local function start_server(decide, extra)
		srv, cli = netns.new(), netns.new()
		netns.veth(srv, "10.88.2.1/24", cli, "10.88.2.2/24")
		dir = netns.tmpdir()
		netns.write_file(dir .. "/check.sh", table.concat({
			"#!/bin/sh",
			'user="$(sed -n 1p "$1")"; pass="$(sed -n 2p "$1")"',
			'printf "%s %s\\n" "$user" "$pass" >> ' .. dir .. "/calls",
			"n=$(wc -l < " .. dir .. "/calls)",
			decide, "" }, "\n"))
		assert(netns.sh("chmod +x " .. dir .. "/check.sh"))
		local pki = mv.pki()
		server = srv:spawn({ "openvpn", "--config", openvpn.server(pki, { listen = "10.88.2.1",
			wrap = "tls-crypt", extra = "verify-client-cert none\nusername-as-common-name\n"
				.. "script-security 2\nauth-user-pass-verify " .. dir .. "/check.sh via-file\n" .. (extra or "") }) })
		assert(server:wait_log("Initialization Sequence Completed", 10), server:output())
	end

	-- remotes: a Lua list in place of the one remote, the server.
	local function client_config(auth, remotes)
		local pki = mv.pki()
		local text = mv.client_config("10.88.2.1", string.format([[
  device = { name = "mvc0" },
  tls = { ca = "%s/ca.crt", tls_crypt = "%s/tc.key" },
  reconnect = { initial = 1, max = 1 },
  %s
]], pki, pki, auth), { tls = false })
		if remotes then
			local n
			text, n = text:gsub('remote = "udp://10%.88%.2%.1:1194",', "remote = " .. remotes .. ",")
			assert(n == 1, text)
		end
		return mv.write_config(text, "client.lua")
	end

	local function start_client(auth, remotes)
		client = cli:spawn({ mv.bin, client_config(auth, remotes) })
	end

	local function connected()
		local ok, out = client:wait_log("connected, address", 30)
		assert(ok, out .. "\n--- server:\n" .. server:output())
		ok, out = cli:sh("ping -c 2 -i 0.2 -W 2 10.77.0.1")
		assert(ok, out)
	end

	local function calls()
		return netns.read_file(dir .. "/calls") or ""
	end

	-- A verify script that answers the password s3cret with a CRV1 challenge of this
	-- state id (for alice: base64("alice") = YWxpY2U=), and lets in whoever passes
	-- `accept` (sh).
	local function challenge_script(state, accept)
		return table.concat({
			'if [ "$pass" = "s3cret" ]; then',
			'  printf "CRV1:R,E:' .. state .. ':YWxpY2U=:Enter the code we sent" > "$auth_failed_reason_file"; exit 1',
			"fi",
			accept }, "\n")
	end

	-- The password, then 424242 to a dynamic challenge.
	local ANSWERS_CRV1 = [[auth = function(challenge, kind)
    if challenge == nil then return "alice", "s3cret" end
    if kind == "dynamic" then return "424242" end
  end,]]

	-- Drops the server's packets until the client's ping-restart (4 s, pushed) ends the
	-- session, then waits for the client's second connect: what wait_log returns.
	local function reconnect_after_ping_restart()
		assert(cli:sh("nft add table inet mvt && nft add chain inet mvt in '{ type filter hook input priority 0; }' "
			.. "&& nft add rule inet mvt in udp sport 1194 drop"))
		local ok, out = client:wait_log("ping%-restart", 30)
		assert(ok, out)
		assert(cli:sh("nft delete table inet mvt"))
		return client:wait_log("connected, address.*connected, address", 60)
	end

	-- Everything is cleaned up before the client's exit status is checked: a failed check
	-- left the stock server running and the namespaces behind.
	after_each(function()
		local status = client and client:stop()
		if server then server:stop() end
		client, server = nil, nil
		netns.cleanup()
		if status then assert.are.equal(0, status) end
	end)

	it("stops with the server's reason when auth_retry is none (the default)", function()
		start_server('printf "wrong username or password" > "$auth_failed_reason_file"; exit 1')
		start_client('auth = { username = "alice", password = "guess" },')
		local status = client:wait(60)
		local out = client:output()
		assert.are.equal(1, status, out)
		assert.truthy(out:find('the server refused our credentials (AUTH_FAILED,wrong username or password): '
			.. 'stopping, as auth_retry = "none" says', 1, true), out)
		assert.are.equal("alice guess\n", calls())
		client = nil
	end)

	it("tries again with the same credentials when auth_retry is nointeract", function()
		-- Refused once (the server's back end was down), then let in.
		start_server('[ "$n" -ge 2 ] && [ "$pass" = "s3cret pass" ]')
		start_client('auth = { username = "alice", password = "s3cret pass" }, auth_retry = "nointeract",')
		connected()
		assert.are.equal("alice s3cret pass\nalice s3cret pass\n", calls())
		assert.truthy(client:output():find("AUTH_FAILED", 1, true), client:output())
	end)

	it("asks the password again after a refusal when auth_retry is interact", function()
		start_server('[ "$user" = alice ] && [ "$pass" = "right" ]')
		start_client([[auth = { username = "alice", ask = (function()
      local n = 0
      return function() n = n + 1 return "alice", n == 1 and "wrong" or "right" end
    end)() }, auth_retry = "interact",]])
		connected()
		assert.are.equal("alice wrong\nalice right\n", calls())
	end)

	it("sends a static challenge's response as SCRV1 with the password", function()
		-- base64("s3cret") = czNjcmV0, base64("123456") = MTIzNDU2
		start_server('[ "$user" = alice ] && [ "$pass" = "SCRV1:czNjcmV0:MTIzNDU2" ]')
		start_client([[auth = { username = "alice", password = "s3cret",
    static_challenge = { text = "Enter OTP", echo = true },
    ask = function(challenge, kind)
      if kind == "static" and challenge == "Enter OTP" then return "123456" end
    end },]])
		connected()
		assert.are.equal("alice SCRV1:czNjcmV0:MTIzNDU2\n", calls())
	end)

	it("answers a dynamic challenge (CRV1) with a function that also gives the password", function()
		-- The first login is answered with the challenge.
		start_server(challenge_script("st8-0001",
			'[ "$user" = alice ] && [ "$pass" = "CRV1::st8-0001::424242" ]'))
		-- The function tells the questions apart by kind alone, as the README invites.
		start_client([[auth = function(challenge, kind)
    if kind == "password" and challenge == nil then return "alice", "s3cret" end
    if kind == "dynamic" and challenge == "Enter the code we sent" then return "424242" end
    error("asked " .. tostring(kind) .. " with " .. tostring(challenge))
  end,]])
		connected()
		assert.are.equal("alice s3cret\nalice CRV1::st8-0001::424242\n", calls())
		assert.falsy(client:output():find("asked ", 1, true), client:output())
		assert.truthy(client:output():find("the server's challenge: Enter the code we sent", 1, true),
			client:output())
	end)

	-- A CRV1 answer is single-use: a reconnect logs in with the auth-token pushed after
	-- it, not with the spent answer (which the script refuses: it takes it once).
	it("answers a long dynamic challenge, logging in as the user the challenge names", function()
		-- 700 bytes of text (past the 512 once refused), for bob (Ym9i) while alice is configured:
		-- the answer goes as bob, as OpenVPN's get_user_pass_cr does (misc.c).
		local text = string.rep("Enter the code. ", 43) .. "Code"
		start_server(table.concat({
			'if [ "$pass" = "s3cret" ]; then',
			'  printf "CRV1:R:st8-bob:Ym9i:' .. text .. '" > "$auth_failed_reason_file"; exit 1',
			"fi",
			'[ "$user" = bob ] && [ "$pass" = "CRV1::st8-bob::424242" ]' }, "\n"))
		start_client(string.format([[auth = function(challenge, kind)
    if challenge == nil then return "alice", "s3cret" end
    if kind == "dynamic" and challenge == %q then return "424242" end
    error("asked " .. tostring(kind) .. " with " .. #tostring(challenge) .. " bytes")
  end,]], text))
		connected()
		assert.are.equal("alice s3cret\nbob CRV1::st8-bob::424242\n", calls())
	end)

	it("reconnects with the auth-token a challenge's login got, not with the spent answer", function()
		start_server(challenge_script("st8-0001",
			'[ "$n" -eq 2 ] && [ "$user" = alice ] && [ "$pass" = "CRV1::st8-0001::424242" ]'),
			"auth-gen-token 3600\nkeepalive 1 4\n")
		start_client(ANSWERS_CRV1)
		connected()
		assert.are.equal("alice s3cret\nalice CRV1::st8-0001::424242\n", calls())
		local ok, out = reconnect_after_ping_restart()
		assert(ok, out .. "\n--- calls:\n" .. calls() .. "\n--- server:\n" .. server:output())
		assert.are.equal("alice s3cret\nalice CRV1::st8-0001::424242\n", calls())
		local _, asked = out:gsub("the server's challenge: ", "")
		assert.are.equal(1, asked, out)
	end)

	-- Without a token, the spent answer is not sent again either (refused, it stopped the
	-- client under auth_retry "none"): the password goes, and the new challenge is answered.
	it("answers a new challenge after a reconnect without a token, not with the spent answer", function()
		start_server(challenge_script("st8-$n",
			'[ "$user" = alice ] && [ "$pass" = "CRV1::st8-$((n - 1))::424242" ]'),
			"keepalive 1 4\n")
		start_client(ANSWERS_CRV1)
		connected()
		local ok, out = reconnect_after_ping_restart()
		assert(ok, out .. "\n--- calls:\n" .. calls() .. "\n--- server:\n" .. server:output())
		assert.are.equal("alice s3cret\nalice CRV1::st8-1::424242\nalice s3cret\nalice CRV1::st8-3::424242\n", calls())
	end)

	-- The challenge's state exists on the server that sent it: the answer goes there, not
	-- to the next remote (10.88.2.3 is nobody: an answer sent there is never answered).
	it("sends a challenge's answer to the server that sent it, not to the next remote", function()
		start_server(challenge_script("st8-0001",
			'[ "$user" = alice ] && [ "$pass" = "CRV1::st8-0001::424242" ]'))
		start_client(ANSWERS_CRV1, '{ "udp://10.88.2.1:1194", "udp://10.88.2.3:1194" }')
		connected()
		assert.are.equal("alice s3cret\nalice CRV1::st8-0001::424242\n", calls())
		local out = client:output()
		assert.truthy(out:find("the server's challenge: Enter the code we sent\n[^\n]*connecting to "
			.. "udp://10.88.2.1:1194\n", 1), out)
		assert.falsy(out:find("10.88.2.3", 1, true), out)
	end)

	it("answers a first challenge at once, and backs off when its answer is challenged again", function()
		start_server('printf "CRV1:R:st8:YWxpY2U=:Code" > "$auth_failed_reason_file"; exit 1')
		start_client([[auth = function(challenge)
    if challenge == nil then return "alice", "s3cret" end
    return "000000"
  end,]])
		local ok, out = client:wait_log("refused us: AUTH_FAILED,CRV1:R:st8:YWxpY2U=:Code; reconnecting in 0 s.*"
			.. "refused us: AUTH_FAILED,CRV1:R:st8:YWxpY2U=:Code; reconnecting in 1 s", 30)
		assert(ok, out)
		assert.truthy(calls():find("alice s3cret\nalice CRV1::st8::000000\n", 1, true), calls())
	end)

	it("logs a failing auth.ask function and asks it again, without stopping", function()
		start_server('[ "$user" = alice ] && [ "$pass" = "s3cret" ]')
		local flag = netns.tmpdir() .. "/vault-up"
		start_client(string.format([[auth = function()
    local f = io.open("%s")
    if not f then error("the vault is not reachable") end
    f:close()
    return "alice", "s3cret"
  end,]], flag))
		local ok, out = client:wait_log("the vault is not reachable", 20)
		assert(ok, out)
		ok, out = client:wait_log("asking again in", 20)
		assert(ok, out)
		netns.write_file(flag, "")
		connected()
		assert.are.equal("alice s3cret\n", calls())
	end)

	-- python3's pty gives the client a terminal; the password is typed once its prompt shows.
	-- Runs the client on a pseudo-terminal (python3's pty), typing each { prompt, bytes }
	-- of typing, in turn, once its prompt shows. client is the python process, whose exit
	-- status is moonvpn's; returns the file that gets everything the terminal showed.
	local function on_terminal(config, typing)
		assert(netns.sh("python3 -c 'import pty'"), "python3 with pty")
		local log = netns.tmpdir() .. "/tty.log"
		local steps = {}
		local function py(text) return '"' .. text:gsub(".", function(c) return string.format("\\x%02x", c:byte()) end) .. '"' end
		for _, t in ipairs(typing) do steps[#steps + 1] = "(" .. py(t[1]) .. ", " .. py(t[2]) .. ")" end
		netns.write_file(log .. ".py", string.format([[
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp("ip", ["ip", "netns", "exec", %q, %q, %q])
open(%q, "w").write(str(pid))
steps = [%s]
seen = b""
out = open(%q, "wb", buffering=0)
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out.write(data)
    seen += data
    if steps and steps[0][0].encode() in seen:
        seen = seen.split(steps[0][0].encode(), 1)[1]
        os.write(fd, steps.pop(0)[1].encode())
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
]], cli.name, mv.bin, config, log .. ".pid", table.concat(steps, ", "), log))
		client = netns.spawn(nil, { "python3", log .. ".py" })
		return log
	end

	-- Waits until the terminal showed want; returns all it showed.
	local function terminal_shows(log, want)
		for _ = 1, 600 do
			local text = netns.read_file(log) or ""
			if text:find(want, 1, true) then return text end
			netns.sleep(0.05)
		end
		error((netns.read_file(log) or "") .. "\n--- server:\n" .. server:output())
	end

	it("asks the password on the terminal, with echo off", function()
		start_server('[ "$user" = alice ] && [ "$pass" = "typed secret" ]')
		local log = on_terminal(client_config('auth = { username = "alice", ask = true },'),
			{ { "Enter Auth Password: ", "typed secret\n" } })
		local text = terminal_shows(log, "connected, address")
		assert.are.equal("alice typed secret\n", calls())
		-- Typed with echo off: the password never showed on the terminal.
		assert.falsy(text:find("typed secret", 1, true), text)
		netns.sh("kill -TERM " .. assert(tonumber(netns.read_file(log .. ".pid"))))
		assert.are.equal(0, client:wait(30), netns.read_file(log)) -- moonvpn's own exit status
		client = nil
	end)

	it("asks the password on the terminal when auth.file holds only the username", function()
		start_server('[ "$user" = alice ] && [ "$pass" = "typed secret" ]')
		local file = netns.tmpdir() .. "/user-only.txt"
		netns.write_file(file, "alice\n")
		local config = client_config(string.format("auth = { file = %q },", file))
		local log = on_terminal(config, { { "Enter Auth Password: ", "typed secret\n" } })
		terminal_shows(log, "connected, address")
		assert.are.equal("alice typed secret\n", calls())
		netns.sh("kill -TERM " .. assert(tonumber(netns.read_file(log .. ".pid"))))
		assert.are.equal(0, client:wait(30), netns.read_file(log))
		client = nil
		-- Without a terminal it cannot be asked: the start fails saying so (OpenVPN stops too).
		local status, _, err = mv.run(config, { prefix = "ip netns exec " .. cli.name .. " " })
		assert.are_not.equal(0, status)
		assert.truthy(err:find("auth.file has a username but no password (its second line), and standard "
			.. "input is not a terminal to ask it on", 1, true), err)
	end)

	-- Types key at the password prompt: moonvpn's exit status and what the terminal showed.
	local function key_at_prompt(key)
		start_server("true")
		local log = on_terminal(client_config('auth = { username = "alice", ask = true },'),
			{ { "Enter Auth Password: ", key } })
		local status = client:wait(30)
		client = nil
		assert.are.equal("", calls())
		return status, netns.read_file(log)
	end

	it("stops at once on Ctrl-C while it asks, without waiting for Enter", function()
		local status, text = key_at_prompt("\3")
		assert.are.equal(0, status, text)
		assert.truthy(text:find('asking "Enter Auth Password: " was interrupted: stopping', 1, true), text)
	end)

	it("stops once, saying so, when the terminal's input ends (Ctrl-D) instead of asking again", function()
		local status, text = key_at_prompt("\4")
		assert.are.equal(1, status, text)
		assert.truthy(text:find("standard input was closed, so there is no terminal to ask on: stopping", 1, true),
			text)
		local _, asked = text:gsub("Enter Auth Password: ", "")
		assert.are.equal(2, asked, text) -- the prompt, and the line that says it could not be asked
	end)

	-- A reload never stops at the key's password prompt: the loop and the tunnel would
	-- stand still while it waited. Started with a plain key, reloaded onto an encrypted
	-- one with no password, on a terminal: the reload is refused saying so, nothing is
	-- asked, and the tunnel carries on.
	it("refuses a reload that would ask the key's password, keeping its tunnel", function()
		start_server("true")
		local pki = mv.pki()
		local path = client_config('auth = { username = "alice", password = "pw" },')
		local original = netns.read_file(path)
		local function use_key(key)
			local text, n = original:gsub('tls = { ca = "[^"]*/ca%.crt",', function(head)
				return string.format('%s cert = "%s/client1.crt", key = "%s",', head, pki, key)
			end)
			assert(n == 1, text)
			netns.write_file(path .. ".new", text)
		end
		local key = dir .. "/client1.enc.key"
		assert(netns.sh(string.format("openssl pkey -in %s/client1.key -aes256 -passout pass:secret -out %s",
			pki, key)))
		use_key(pki .. "/client1.key")
		assert(netns.sh(string.format("mv %s.new %s", path, path)))
		local log = on_terminal(path, {})
		terminal_shows(log, "connected, address")
		use_key(key)
		assert(netns.sh(string.format("mv %s.new %s", path, path)))
		local pid = assert(tonumber(netns.read_file(log .. ".pid")))
		netns.sh("kill -HUP " .. pid)
		local text = terminal_shows(log, "it cannot be asked during a reload")
		assert.falsy(text:find("Enter Private Key Password", 1, true), text)
		local ok, out = cli:sh("ping -c 2 -i 0.2 -W 2 10.77.0.1")
		assert(ok, out .. "\n" .. netns.read_file(log))
		netns.sh("kill -TERM " .. pid)
		assert.are.equal(0, client:wait(30), netns.read_file(log))
		client = nil
	end)

	it("refuses to ask without a terminal, saying what to give instead", function()
		local status, _, err = mv.run(client_config('auth = { username = "alice", ask = true },'),
			{ prefix = "ip netns exec " .. netns.new().name .. " " })
		assert.are_not.equal(0, status)
		assert.truthy(err:find("auth.ask = true asks on the terminal, but standard input is not one: give "
			.. "auth.password or auth.file, or auth.ask = function(challenge) ... end", 1, true), err)
	end)

	-- Nothing to ask (the password given, no static challenge, no interact): a client run
	-- as a service starts, saying that a dynamic challenge would be a refusal.
	it("starts without a terminal when auth.ask = true has nothing certain to ask", function()
		start_server('[ "$user" = alice ] && [ "$pass" = "s3cret" ]')
		start_client('auth = { username = "alice", password = "s3cret", ask = true },')
		connected()
		assert.truthy(client:output():find("standard input is not a terminal, so a dynamic challenge from "
			.. "the server will be taken as a refusal", 1, true), client:output())
	end)

	it("says what is wrong with auth and auth_retry in the configuration", function()
		local pki = mv.pki()
		for _, case in ipairs {
			{ 'auth = { username = "alice", password = "p", static_challenge = { text = "OTP" } },',
				"client.auth.static_challenge: needs ask: true to ask the response on the terminal, "
					.. "or a function(challenge) that returns it" },
			{ 'auth = { username = "alice", ask = "yes" },',
				'client.auth.ask: "yes" is not true (ask on the terminal) or a function' },
			{ 'auth = { username = "alice", ask = true, static_challenge = { echo = true } },',
				"client.auth.static_challenge.text: is required" },
			{ 'auth = { username = "alice", password = "p" }, auth_retry = "interact",',
				'client.auth_retry: "interact" asks the password again: it needs auth.ask' },
			{ 'auth = { username = "alice", password = "p" }, auth_retry = "never",',
				"client.auth_retry:" },
			{ 'auth = { username = "alice" },', "client.auth: needs username and password (or file, with them "
				.. "on its first two lines); or ask = true to ask on the terminal, or a function that returns them" },
		} do
			local path = mv.write_config(mv.client_config("192.0.2.1", string.format(
				'  tls = { ca = "%s/ca.crt" },\n  %s', pki, case[1]), { tls = false }), "auth.lua")
			local status, _, err = mv.run("--check " .. path)
			assert.are_not.equal(0, status)
			assert.truthy(err:find(case[2], 1, true), err)
		end
		local path = mv.write_config(mv.client_config("192.0.2.1", string.format(
			'  tls = { ca = "%s/ca.crt" },\n  auth = function(challenge) return "a", "b" end, auth_retry = "interact",',
			pki), { tls = false }), "auth.lua")
		local status, out, err = mv.run("--check " .. path)
		assert.are.equal(0, status, out .. err)
	end)
end)
