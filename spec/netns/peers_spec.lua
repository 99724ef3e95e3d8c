-- SPDX-License-Identifier: MIT
-- The interop matrix: every reference OpenVPN client against a moonvpn server
-- (topology in spec/helpers/hooked.lua, the clients in spec/helpers/peers.lua):
--
--   [ mvt-srv: moonvpn, tun 10.77.0.1/24 ] --veth 10.88.1.1 / 10.88.1.2-- [ mvt-cli1: the client ]
--
-- Each cell connects, pings through the tunnel both ways and runs iperf3 for
-- a second each way (the bytes counted, never the rate), and prints how long the
-- client took to connect. Dynamic tls-crypt: each client renegotiates twice (or
-- is renegotiated) with each control-channel wrapping, and its renegotiations
-- use the key the session derived. OpenVPN 2.7 and ovpncli come from `make peers`; without them
-- their cells are pending, with the way to get them. Under the sanitizers the matrix is
-- OpenVPN 2.7.6's row (every cell, each a different part of the server) and the cells of
-- the other clients that reach server code no 2.7 cell does; the rest, the same server
-- code with another peer, is pending there (netns.release_repeat). #netns: needs root.
local hooked = require "spec.helpers.hooked"
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local peers = require "spec.helpers.peers"

-- Each iperf3 run lasts IPERF_SECONDS, and its receiver must count at least this many bytes:
-- far more than TCP sends before it needs acks back through the tunnel, far less
-- than the slowest build moves (a floor on bytes, never a rate). iperf3 -n would
-- not do: its receiver reports what it had read when the sender finished writing.
local IPERF_MIN_BYTES = 256 * 1024
-- A second is enough to fill the tunnel both ways; the rate is never the point.
local IPERF_SECONDS = 1

local USERS = [[
function office.on.auth(client, username, password)
  print("auth: user=" .. tostring(username) .. " plat=" .. tostring(client.peer_info.IV_PLAT))
  if username == "alice" and password == "correct horse" then return true end
  return nil, "wrong username or password"
end
]]

-- The cells that work with today's engine: the client's profile options and
-- the server's fields for each.
local CELLS = {
	{ name = "UDP" },
	{ name = "TCP", proto = "tcp", port = 443, server = '  listen = "tcp://0.0.0.0:443",\n' },
	{ name = "tls-auth", wrap = "tls-auth", tls = ', tls_auth = { key = "PKI/ta.key", direction = 0 }' },
	{ name = "tls-crypt", wrap = "tls-crypt", tls = ', tls_crypt = "PKI/tc.key"' },
	-- The client's own key, wrapped with the server's (both made for the test).
	{ name = "tls-crypt-v2", tls_crypt_v2 = true },
	{ name = "password", user = "alice", password = "correct horse", hooks = USERS },
	-- A profile written for compression: moonvpn pushes it off, the framing stays.
	{ name = "comp-lzo", extra = "comp-lzo\n", args = { "-c", "yes" } },
	-- DNS servers and domain as the structured dns option (each client announces it),
	-- which each client shows it took.
	{ name = "dns", server = '  push = { dns = { "10.77.0.53", "fd00:77::53" }, domain = "corp.example" },\n',
		shows = {
			["2.6"] = "dns server 0 address 10.77.0.53 fd00:77::53,dns search-domains corp.example",
			["2.7"] = "dns server 0 address 10.77.0.53 fd00:77::53,dns search-domains corp.example",
			ovpncli = "DNS Servers:\n  Priority: 0\n  Addresses:\n    10.77.0.53\n    fd00:77::53\n"
				.. "DNS Search Domains:\n  corp.example\nValues from dhcp-options: false",
		} },
	-- OpenVPN 2.7's epoch data format, which 2.7 and the 3 core announce and 2.6
	-- does not: each side shows what it chose, and the server renegotiates every
	-- 2 s so the traffic crosses new key states, each with its own epoch keys.
	-- The 3 core goes on sending with the previous key for 60 s after a
	-- renegotiation (its become_primary): the server waits for that before the
	-- next one, which would retire that key, so it sees one renegotiation here.
	-- Pings each second show the server when a client has switched.
	{ name = "epoch keys", epoch = { ["2.7"] = true, ovpncli = true, ["2.6"] = false },
		renegotiations = { ["2.6"] = 2, ["2.7"] = 2, ovpncli = 1 },
		server = '  renegotiate = { seconds = 2 },\n  keepalive = { interval = 1, timeout = 10 },\n' },
	-- A password client gets an auth-token, which its renegotiations present
	-- instead of the password: on.auth is asked once.
	{ name = "token reneg", user = "alice", password = "correct horse", hooks = USERS, auth_once = true,
		renegotiations = { ["2.6"] = 2, ["2.7"] = 2, ovpncli = 1 },
		server = '  auth = { token = { renew = 60 } },\n  renegotiate = { seconds = 2 },\n  keepalive = { interval = 1, timeout = 10 },\n' },
}

describe("#netns interop: OpenVPN clients against a moonvpn server", function()
	local t = hooked.each()
	if not t then return end
	-- Connect times per client and cell, printed as a matrix at the end.
	local times = {}

	--- A tls-crypt-v2 server key and a client key wrapped with it, made by moonvpn
	-- genkey: the server's tls field, and the profile's inline key.
	local function tls_crypt_v2_keys()
		local dir = netns.tmpdir()
		local ok, out = netns.sh(string.format("%s genkey --tls-crypt-v2-server %s/v2s.key && " ..
			"%s genkey --tls-crypt-v2-client %s/c.key --server-key %s/v2s.key", netns.quote(mv.bin), dir,
			netns.quote(mv.bin), dir, dir))
		assert(ok, out)
		return string.format(', tls_crypt_v2 = "%s/v2s.key"', dir),
			string.format("<tls-crypt-v2>\n%s</tls-crypt-v2>\n", netns.read_file(dir .. "/c.key"))
	end

	--- Starts the server for cell; the client's extra profile lines.
	local function start(cell)
		local pki = mv.pki()
		local tls, extra = (cell.tls or ""):gsub("PKI", pki), cell.extra
		if cell.tls_crypt_v2 then
			local field, key = tls_crypt_v2_keys()
			tls, extra = tls .. field, (extra or "") .. key
		end
		tls = string.format('  tls = { ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key"%s },\n',
			pki, pki, pki, tls)
		t:start(cell.hooks, tls .. (cell.server or ""), 1, { tls = false })
		return extra
	end

	-- The bytes the receiving end of `iperf3 -J` output counted.
	local function received(json)
		local bytes = json:match('"sum_received"%s*:%s*{.-"bytes"%s*:%s*(%d+)')
		return tonumber(bytes)
	end

	local function carries(client)
		local cli, srv = t.clients[1], t.srv
		local _, address = client:tunnel()
		local ok, out = cli:sh("ping -n -c 3 -i 0.2 -W 2 10.77.0.1")
		assert(ok, "client to server: " .. out)
		ok, out = srv:sh("ping -n -c 3 -i 0.2 -W 2 " .. address)
		assert(ok, "server to client " .. address .. ": " .. out)
		local moved = {}
		for _, reverse in ipairs { "", " -R" } do
			-- A server per run: one that has just ended a test may reset the next one's connection.
			local iperf = srv:spawn({ "iperf3", "-s", "-1", "-B", "10.77.0.1", "--forceflush" })
			assert(iperf:wait_log("Server listening", 10), iperf:output())
			ok, out = cli:sh("timeout 60 iperf3 -c 10.77.0.1 -t " .. IPERF_SECONDS .. " -J" .. reverse)
			assert(ok and not out:find('"error"', 1, true), "iperf3" .. reverse .. ": " .. out)
			iperf:wait(10)
			local bytes = received(out)
			assert(bytes ~= nil and bytes >= IPERF_MIN_BYTES, string.format("iperf3%s: %s bytes received, "
				.. "fewer than %d:\n%s", reverse, tostring(bytes), IPERF_MIN_BYTES, out))
			moved[#moved + 1] = bytes // (1024 * 1024)
		end
		return moved
	end

	-- The data format each side chose.
	local function shows_epoch(kind, cell, client)
		local epoch, out, log = cell.epoch[kind], client.proc:output(), t.engine:output()
		assert(epoch == (out:find("aead-epoch", 1, true) ~= nil),
			string.format("%s %s show aead-epoch:\n%s", peers.LABEL[kind], epoch and "must" or "must not", out))
		assert(epoch == (log:find("epoch data format", 1, true) ~= nil), log)
	end

	-- Traffic again once the server has renegotiated (every 2 s, so some of the
	-- first traffic crossed new key states), and again some seconds later, when
	-- the next renegotiation is due.
	local function renegotiates(kind, cell, client)
		local renegotiated, want = 0, cell.renegotiations[kind]
		for _ = 1, 300 do
			_, renegotiated = t.engine:output():gsub("renegotiated: data now on key", "")
			if renegotiated >= want then break end
			netns.sleep(0.1)
		end
		assert(renegotiated >= want, string.format("%d renegotiations:\n%s\n--- client:\n%s", want,
			t.engine:output(), client.proc:output()))
		carries(client)
		netns.sleep(3)
		carries(client)
	end

	teardown(function()
		local lines = { "", "  [connect time, client start to tunnel up, seconds]" }
		for _, kind in ipairs(peers.KINDS) do
			local row = {}
			for _, cell in ipairs(CELLS) do
				local s = times[kind] and times[kind][cell.name]
				row[#row + 1] = string.format("%s %s", cell.name, s and string.format("%.2f", s) or "-")
			end
			lines[#lines + 1] = string.format("  %-34s %s", peers.LABEL[kind], table.concat(row, "  "))
		end
		print(table.concat(lines, "\n"))
	end)

	-- Under the sanitizers: 2.7.6's row, and the 3 core's epoch keys, the one cell where
	-- another client drives other server code (it keeps sending on the old key for 60 s
	-- after a renegotiation, so the server holds two keys' epoch state that long).
	local function matrix_repeat(kind, cell)
		if kind == "2.7" or (kind == "ovpncli" and cell.epoch) then return nil end
		return netns.release_repeat("OpenVPN 2.7.6's " .. cell.name .. " cell drives the same server code")
	end

	for _, kind in ipairs(peers.KINDS) do
		for _, cell in ipairs(CELLS) do
			local name = string.format("%s connects (%s), pings both ways and carries iperf3 both ways",
				peers.LABEL[kind], cell.name)
			local missing = peers.missing(kind) or matrix_repeat(kind, cell)
			if missing then
				pending(name .. ": " .. missing)
			else
				it(name, function()
					local extra = start(cell)
					local client = peers.start(t.clients[1], kind, { remote = "10.88.1.1", proto = cell.proto,
						port = cell.port, wrap = cell.wrap, user = cell.user, password = cell.password,
						extra = extra, args = cell.args })
					local seconds = client:connected(30, t.engine)
					times[kind] = times[kind] or {}
					times[kind][cell.name] = seconds
					if cell.user then
						assert.matches("auth: user=" .. cell.user, t.engine:output(), 1, true)
					end
					if cell.shows then
						local out = client.proc:output()
						assert(out:find(cell.shows[kind], 1, true), out)
					end
					local moved = carries(client)
					if cell.epoch then shows_epoch(kind, cell, client) end
					if cell.renegotiations then renegotiates(kind, cell, client) end
					if cell.auth_once then
						local _, asked = t.engine:output():gsub("auth: user=", "")
						assert(asked == 1, "on.auth asked once, the renegotiations carry the token:\n"
							.. t.engine:output())
					end
					print(string.format("\n  [%s, %s: connected in %.2f s; iperf3 %d s: %d MiB up, %d MiB down]",
						peers.LABEL[kind], cell.name, seconds, IPERF_SECONDS, moved[1], moved[2]))
				end)
			end
		end
	end

	-- Dynamic tls-crypt (protocol-flags dyn-tls-crypt): every client announces it, and
	-- after its renegotiations it still carries traffic. The 2.x clients start two
	-- (reneg-sec 3) and show at verb 4 that they wrap them with the dynamic key.
	-- ovpncli takes no reneg-sec under 10 s, so the server starts one (after 4 s);
	-- it shows the key only without another wrapping ("control channel: dynamic
	-- tls-crypt enabled"). It keeps sending on key 0 for 60 s after a renegotiation,
	-- and the server's next one waits for that: one is what a test can afford. A
	-- peer that derived another key could not renegotiate at all.
	local DYN_SHOWS = { ["2.6"] = "Outgoing dynamic tls-crypt: Cipher 'AES-256-CTR' initialized",
		["2.7"] = "Outgoing dynamic tls-crypt: Cipher 'AES-256-CTR' initialized",
		ovpncli = "control channel: dynamic tls-crypt enabled" }
	-- Under the sanitizers: 2.7.6's renegotiations with each wrapping, and one the server
	-- starts (the 3 core's, UDP): 2.6 starts them as 2.7 does, and the server's own wraps
	-- each kind of key as a client's does.
	local function dyn_repeat(kind, cell)
		if kind == "2.7" or (kind == "ovpncli" and cell == CELLS[1]) then return nil end
		if kind == "ovpncli" then
			return netns.release_repeat("the 3 core's UDP cell drives the renegotiation the server starts; "
				.. "OpenVPN 2.7.6's " .. cell.name .. " cell the wrapping")
		end
		return netns.release_repeat("OpenVPN 2.7.6's " .. cell.name .. " cell drives the same server code")
	end
	for _, kind in ipairs(peers.KINDS) do
		for _, cell in ipairs { CELLS[1], CELLS[2], CELLS[3], CELLS[4], CELLS[5] } do
			local by_server = kind == "ovpncli"
			local name = string.format("%s renegotiates %s with dynamic tls-crypt (%s) and carries traffic",
				peers.LABEL[kind], by_server and "once" or "twice", cell.wrap or cell.tls_crypt_v2 and cell.name
				or cell.name .. ", no other wrapping")
			local missing = peers.missing(kind) or dyn_repeat(kind, cell)
			if missing then
				pending(name .. ": " .. missing)
			else
				it(name, function()
					local extra = start({ tls = cell.tls, tls_crypt_v2 = cell.tls_crypt_v2, server = (cell.server or "")
						.. (by_server and "  renegotiate = { seconds = 4 },\n" or "") })
					local client = peers.start(t.clients[1], kind, { remote = "10.88.1.1", wrap = cell.wrap,
						proto = cell.proto, port = cell.port, extra = (extra or "") .. (by_server and "" or "reneg-sec 3\nverb 4\n") })
					client:connected(30, t.engine)
					local _, address = client:tunnel()
					local ok, log = t.engine:wait_log("renegotiated: data now on key " .. (by_server and 1 or 2), 60)
					assert(ok, log .. "\n--- client:\n" .. client:output())
					assert.matches("dynamic tls-crypt: renegotiations use their own key", log, 1, true)
					assert.falsy(log:find("does not authenticate", 1, true), log)
					if kind ~= "ovpncli" or not (cell.wrap or cell.tls_crypt_v2) then
						assert(client:output():find(DYN_SHOWS[kind], 1, true), client:output())
					end
					ok, log = t.clients[1]:sh("ping -n -c 3 -i 0.2 -W 2 10.77.0.1")
					assert(ok, "client to server after the renegotiations: " .. log)
					ok, log = t.srv:sh("ping -n -c 3 -i 0.2 -W 2 " .. address)
					assert(ok, "server to client after the renegotiations: " .. log)
				end)
			end
		end
	end

	-- The 3 core waits for the ack of its key-method-2 message before it reads
	-- any reply: AUTH_FAILED must come after it (and be resent if lost), or the
	-- client never shows it and retries for ever (issue 13 item 1).
	for _, cell in ipairs { CELLS[1], CELLS[2] } do
		local wrong = "ovpncli sees AUTH_FAILED for a wrong password (" .. cell.name .. ")"
		if peers.missing("ovpncli") then
			pending(wrong .. ": " .. peers.missing("ovpncli"))
		else
			it(wrong, function()
				start({ hooks = USERS, server = cell.server })
				local client = peers.start(t.clients[1], "ovpncli", { remote = "10.88.1.1", proto = cell.proto,
					port = cell.port, user = "alice", password = "wrong" })
				local ok, out = client:wait_for("AUTH_FAILED", 20)
				assert(ok, out .. "\n--- moonvpn:\n" .. t.engine:output())
				assert.matches("AUTH_FAILED wrong username or password", out, 1, true)
				assert.matches("refused: wrong username or password", t.engine:output(), 1, true)
			end)
		end
	end
end)
