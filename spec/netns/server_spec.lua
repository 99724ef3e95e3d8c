-- SPDX-License-Identifier: MIT
-- The server's front door against stock OpenVPN 2.6 clients:
--
--   [ mvt-srv: moonvpn, veth 10.88.0.1/24 ] <--veth--> [ mvt-cli: openvpn, 10.88.0.2/24 ]
--
--   (and, for some specs, more client namespaces mvt-cliN at 10.88.N.2/24)
--
-- Stateless cookie replies are accepted by the stock client (tls-crypt,
-- tls-auth, plain), spoofed resets cost no memory, and packets with the
-- wrong key are dropped and counted, never answered. Half-open handshakes,
-- restarted clients, address theft and reset floods are handled without
-- locking real clients out. #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local CRAFT = "build/tools/craft"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

local function ovpn(pki, wrap)
	if wrap == "tls-crypt-wrong" then
		return openvpn.profile(pki, { remote = "10.88.0.1", wrap = "tls-crypt", wrap_key = "ta.key" })
	end
	return openvpn.profile(pki, { remote = "10.88.0.1", wrap = wrap ~= "plain" and wrap or nil })
end

local function rss_kib(pid)
	local status = netns.read_file("/proc/" .. pid .. "/status") or ""
	return tonumber(status:match("VmRSS:%s*(%d+)"))
end

-- Memory must not grow with resets. Under AddressSanitizer RSS says nothing:
-- its quarantine keeps every freed block (OpenSSL's HMAC allocates and frees
-- per call), so there the leak check at exit (exit status 0) is the test.
local function assert_flat(before, after)
	if (os.getenv("SANITIZE") or "") ~= "" then return end
	assert.is_true(after - before < 512, string.format("RSS grew from %d to %d KiB", before, after))
end

-- Sends 2000 client resets from the client namespace; each /dev/udp
-- redirection is a new socket, so each reset comes from a new source port.
local function flood_resets(cli)
	local flood = [[for i in $(seq 2000); do
		printf '\070\001\002\003\004\005\006\007\010\000\000\000\000\000' > /dev/udp/10.88.0.1/1194
	done]]
	assert(cli:sh("bash -c " .. netns.quote(flood)))
	netns.sleep(0.5)
end

describe("#netns moonvpn server front door", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local srv, cli, socket, engine
	local others, links = {}, {}

	-- n_others more client namespaces: others[i] at 10.88.i.2, the server at 10.88.i.1;
	-- links[i] = { server side, client side } interface names (links[0] for cli).
	-- opts.server: more fields of vpn.server { }; opts.hooks: Lua after it, where it is `office`.
	local function start(tls_extra, n_others, opts)
		opts = opts or {}
		local pki = mv.pki()
		srv, cli = netns.new(), netns.new()
		links[0] = { netns.veth(srv, "10.88.0.1/24", cli, "10.88.0.2/24") }
		others = {}
		for i = 1, n_others or 0 do
			others[i] = netns.new()
			links[i] = { netns.veth(srv, "10.88." .. i .. ".1/24", others[i], "10.88." .. i .. ".2/24") }
		end
		socket = netns.tmpdir() .. "/console.sock"
		local text = mv.server_config(string.format([[
  listen = "udp://0.0.0.0:1194",
  device = { name = "mvt0" },
  console = "%s",
  tls = { ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key"%s },
%s]], socket, pki, pki, pki, tls_extra or "", opts.server or ""), { tls = false })
		if opts.hooks then
			text = text:gsub("vpn%.server {", "local office = vpn.server {", 1) .. opts.hooks
		end
		local config = mv.write_config(text)
		engine = srv:spawn({ mv.bin, config })
		local ok, out = engine:wait_log("engine: moonvpn [%d.]+ started", 10)
		assert(ok, out)
	end

	local function stats(expr)
		local status, out, err = mv.console(socket, expr)
		assert(status == 0, err)
		return out
	end

	-- A stock client in ns towards 10.88.<net>.1, from local port lport when given.
	local function stock_client(ns, net, lport, opts)
		opts = opts or {}
		opts.remote = "10.88." .. net .. ".1"
		local profile = openvpn.profile(mv.pki(), opts)
		if lport then
			-- The helper's profiles say nobind; this client keeps one port across restarts.
			local text = netns.read_file(profile):gsub("\nnobind\n", "\nlport " .. lport .. "\n")
			netns.write_file(profile, text)
		end
		return ns:spawn({ "openvpn", "--config", profile })
	end

	local function completed(client)
		local ok, out = client:wait_log("Initialization Sequence Completed", 20)
		assert(ok, "openvpn:\n" .. out .. "\n--- moonvpn:\n" .. engine:output())
	end

	-- Everything is cleaned up before the engine's exit status is checked, so that a
	-- failed check (a leak under ASan: 23) leaves no namespace or process behind.
	after_each(function()
		local status = engine and engine:stop()
		engine = nil
		netns.cleanup()
		if status then assert.are.equal(0, status) end
	end)

	for _, case in ipairs {
		{ "tls-crypt", string.format(', tls_crypt = "%s/tc.key"', "PKI") },
		{ "tls-auth", string.format(', tls_auth = { key = "%s/ta.key", direction = 0 }', "PKI") },
		{ "plain", "" },
	} do
		it("answers a stock client's reset statelessly, and the client echoes the cookie (" ..
			case[1] .. ")", function()
			start((case[2]:gsub("PKI", mv.pki())))
			local client = cli:spawn({ "openvpn", "--config", ovpn(mv.pki(), case[1]) })
			local ok, out = engine:wait_log("connected, address 10%.77%.0%.2", 15)
			assert(ok, out .. "\n--- openvpn:\n" .. client:output())
			assert.are.equal("1\n", stats("stats().resets_answered >= 1 and 1 or 0"))
			client:stop()
		end)
	end

	it("keeps its memory flat under 2000 spoofed resets, then still serves a real client", function()
		start(string.format(', tls_crypt = "%s/tc.key"', mv.pki()))
		local before = rss_kib(engine.pid)
		flood_resets(cli)
		local after = rss_kib(engine.pid)
		-- Unwrapped with the wrong (no) key: all dropped before any state.
		assert.are.equal("2000\n", stats("stats().dropped.unwrap"))
		assert_flat(before, after)
		local client = cli:spawn({ "openvpn", "--config", ovpn(mv.pki(), "tls-crypt") })
		local ok, out = engine:wait_log("connected, address 10%.77%.0%.2", 15)
		assert(ok, out .. "\n--- openvpn:\n" .. client:output())
		client:stop()
	end)

	it("keeps its memory flat under 2000 valid resets from as many ports (no tls-crypt)", function()
		start()
		local before = rss_kib(engine.pid)
		flood_resets(cli)
		local after = rss_kib(engine.pid)
		assert.are.equal("2000\n", stats("stats().packets_in"))
		assert_flat(before, after)
	end)

	it("answers a flood of resets from one address only at a bounded rate, then a stock client", function()
		start()
		local began = os.time()
		flood_resets(cli)
		-- Each reply is larger than the reset: unthrottled, a reflection amplifier. The bound
		-- is server.h's: SERVER_RESET_SOURCE_BURST (64) saved up, SERVER_RESET_SOURCE_RATE (16)
		-- a second, over however long the flood took (counted in whole seconds, and one more).
		local answered = tonumber(stats("stats().resets_answered"))
		local bound = 64 + 16 * (os.time() - began + 1)
		assert.is_true(answered >= 1 and answered <= bound, "answered " .. answered .. " of 2000, bound " .. bound)
		-- From the same address at once: its reset may be refused; its retry is answered.
		local client = cli:spawn({ "openvpn", "--config", ovpn(mv.pki(), "plain") })
		local ok, out = engine:wait_log("connected, address 10%.77%.0%.2", 15)
		assert(ok, out .. "\n--- openvpn:\n" .. client:output())
		client:stop()
	end)

	local function monotonic()
		local _, out = netns.sh("cat /proc/uptime")
		return tonumber(out:match("^([%d.]+)"))
	end

	-- Without tls-auth/tls-crypt anyone may make us answer; forged resets from many sources
	-- used to take the one global allowance (50 a second) and a stock client, retrying every
	-- few seconds, waited about half a minute or for ever. The flood (20,000 a second from
	-- 10.99.0.0/16, all inside the test's namespaces: the server routes them back to mvt-cli,
	-- which drops them) lasts longer than the client is given, so it is in for the whole wait.
	it("lets a stock client in while forged resets from many sources flood it (no tls-auth)", function()
		start(nil, 1)
		assert(srv:sh("ip route add 10.99.0.0/16 via 10.88.0.2"))
		-- Under the sanitizers a reply costs several times as much, and the share of the
		-- loop's time answers fewer of them: half the flood there.
		local rate = (os.getenv("SANITIZE") or "") ~= "" and 10000 or 20000
		local flood = cli:spawn({ CRAFT, "resets", "10.88.0.1", "1194", tostring(rate * 40), tostring(rate), "10.99" })
		local received
		for _ = 1, 100 do
			received = tonumber(stats("stats().packets_in"))
			if received >= 5000 then break end
			netns.sleep(0.1)
		end
		assert.is_true(received >= 5000, "the flood has not started: " .. received .. " received")
		local began = monotonic()
		local client = stock_client(others[1], 1)
		local ok, out = client:wait_log("Initialization Sequence Completed", 20)
		local took = monotonic() - began
		local sent = flood:status() == nil
		flood:stop("KILL")
		assert(ok, "openvpn:\n" .. out .. "\n--- moonvpn:\n" .. engine:output())
		assert.is_true(sent, "the flood ended before the client was in")
		print(string.format("\n  client in after %.1f s under the flood; %s resets answered, %s over the limits",
			took, stats("stats().resets_answered"):gsub("%s", ""), stats("stats().dropped.reset_rate"):gsub("%s", "")))
		client:stop()
	end)

	it("never answers a client with the wrong tls-crypt key, and counts its packets", function()
		start(string.format(', tls_crypt = "%s/tc.key"', mv.pki()))
		local client = cli:spawn({ "openvpn", "--config", ovpn(mv.pki(), "tls-crypt-wrong") })
		local dropped
		for _ = 1, 100 do
			dropped = tonumber(stats("stats().dropped.unwrap"))
			if dropped >= 1 then break end
			netns.sleep(0.1)
		end
		assert.is_true(dropped >= 1)
		assert.are.equal("0\n", stats("stats().resets_answered"))
		client:stop()
	end)

	it("lets a client that restarts on the same address and port in again at once", function()
		start()
		local first = stock_client(cli, 0, 40001)
		completed(first)
		first:stop("KILL")
		-- The old session lives on until ping-restart (60 s); the new one must not wait for it.
		local second = stock_client(cli, 0, 40001)
		completed(second)
		assert.truthy(engine:output():find("the client started a new session", 1, true))
		assert.are.equal("1\n", stats("#clients()"))
		second:stop()
	end)

	-- cn=real_address of every client, sorted, on one line.
	local function real_addresses()
		return stats([[
do
local t = {}
for _, c in ipairs(clients()) do t[#t + 1] = c.cn .. "=" .. c.real_address end
table.sort(t)
return table.concat(t, " ")
end]])
	end

	-- Client 1's next data packet, captured on its side and kept from the server by a
	-- blackhole rule (pref 100, after the local table's rule moved behind it; the caller
	-- deletes it), so that it is fresh, not a replay, when it is sent again; its hex.
	local function hold_next_data_packet()
		local srv_if, cli_if = links[0][1], links[0][2]
		assert(srv:sh("ip rule add pref 200 lookup local && ip rule del pref 0 && " ..
			"ip rule add pref 100 from 10.88.0.2 iif " .. srv_if .. " blackhole"))
		local ok, out = cli:sh("(sleep 0.5; ping -c 3 -i 0.2 -W 1 10.77.0.1 >/dev/null 2>&1) & " ..
			CRAFT .. " capture " .. cli_if .. " 1194")
		assert(ok, out)
		return out:match("(%x+)%s*$")
	end

	it("does not let one client's authenticated packet take another client's address", function()
		start(nil, 1)
		local a, b = stock_client(cli, 0, 40001), stock_client(others[1], 1, 40002, { cert = "client2" })
		completed(a)
		completed(b)
		local before = '"client1=10.88.0.2:40001 client2=10.88.1.2:40002"\n'
		assert.are.equal(before, real_addresses())
		-- Client 1's next data packet, kept from the server, is fresh (not a replay) when
		-- it comes back from client 2's address and port.
		local packet = hold_next_data_packet()
		local ok, out = cli:sh(CRAFT .. " spoof 10.88.0.1 1194 10.88.1.2 40002 " .. packet)
		assert(ok, out)
		-- Checked while client 1 is still cut off: its own next packet would float it back.
		netns.sleep(0.3)
		assert.are.equal(before, real_addresses())
		assert.falsy(engine:output():find("(float)", 1, true))
		assert(srv:sh("ip rule del pref 100"))
		ok, out = cli:sh("ping -c 2 -i 0.2 -W 2 10.77.0.1")
		assert(ok, out)
		ok, out = others[1]:sh("ping -c 2 -i 0.2 -W 2 10.77.0.1")
		assert(ok, out)
		a:stop()
		b:stop()
	end)

	-- A client whose port changed (a NAT that rebinds) floats with its next authenticated
	-- packet; control packets from there must find its session (in the peer index), as a
	-- client restarting on the new port shows: it replaces the session rather than adding one.
	it("finds a client's session where it floated to", function()
		start()
		local first = stock_client(cli, 0, 40001)
		completed(first)
		-- Its next data packet, kept from the server (as above), comes back from port 40002.
		local packet = hold_next_data_packet()
		first:stop("KILL")
		assert(srv:sh("ip rule del pref 100"))
		local ok, out = cli:sh(CRAFT .. " spoof 10.88.0.1 1194 10.88.0.2 40002 " .. packet)
		assert(ok, out)
		local moved = '"client1=10.88.0.2:40002"\n'
		for _ = 1, 50 do
			if real_addresses() == moved then break end
			netns.sleep(0.1)
		end
		assert.are.equal(moved, real_addresses())
		local second = stock_client(cli, 0, 40002)
		completed(second)
		assert.truthy(engine:output():find("the client started a new session", 1, true))
		assert.are.equal("1\n", stats("#clients()"))
		second:stop()
	end)

	-- How many clients() each source address has, and the total, e.g. { ["10.88.0.10"] = 8 }, 64.
	local function sessions_by_source()
		local out = stats([[
do
local t = {}
for _, c in ipairs(clients()) do t[#t + 1] = c.real_address:match("^(.*):%d+$") end
return table.concat(t, " ")
end]])
		local by, total = {}, 0
		for ip in out:gmatch("[%d.]+") do
			by[ip] = (by[ip] or 0) + 1
			total = total + 1
		end
		return by, total
	end

	-- server.h: server_half_open_max(max_clients), 256 for the default 1024 (a quarter, at
	-- least 256), never every free slot, and SERVER_HALF_OPEN_PER_SOURCE_MAX.
	local HALF_OPEN_MAX, PER_SOURCE_MAX = 256, 64

	-- Polls sessions_by_source() until it counts n sessions (each echoed cookie is one once
	-- the server read it), for up to 10 s; returns the last count and the table by source.
	local function wait_sessions(n)
		local by, total
		for _ = 1, 100 do
			by, total = sessions_by_source()
			if total >= n then break end
			netns.sleep(0.1)
		end
		return total, by
	end

	it("bounds half-open handshakes per source and in all, and a real client still gets in", function()
		start(nil, 1)
		-- 1100 handshakes from 20 addresses (55 each, under PER_SOURCE_MAX) that echo the
		-- cookie in a bare P_ACK_V1 and stop there: before the bounds they held the whole
		-- table (1024) for the hand-window.
		local sources = {}
		for i = 10, 29 do
			sources[#sources + 1] = "10.88.0." .. i
			assert(cli:sh("ip addr add 10.88.0." .. i .. "/24 dev " .. links[0][2]))
		end
		local ok, out = cli:sh(CRAFT .. " halfopen 10.88.0.1 1194 1100 " .. table.concat(sources, " "))
		assert(ok, out)
		local replies = tonumber(out:match("replies (%d+)"))
		assert.is_true(replies > HALF_OPEN_MAX, out)
		local by, total = sessions_by_source()
		assert.is_true(total <= HALF_OPEN_MAX, "half-open sessions: " .. total .. " " .. out)
		for ip, n in pairs(by) do assert.is_true(n <= PER_SOURCE_MAX, ip .. " holds " .. n) end
		-- Past the bound in all, a newcomer from the flood's own network evicts nobody that is
		-- progressing (that network holds them all): it waits (deferred) until one stalls, and
		-- then evicts it. Anyone can cause either, so their lines are rate-limited.
		local turned = tonumber(stats("local s = stats() return s.evicted_half_open + " ..
			"s.evicted_half_open_source + s.deferred_half_open"))
		local _, lines = engine:output():gsub("session ended", "")
		local _, waits = engine:output():gsub("refused for now", "")
		assert.is_true(turned > 200, "evicted or deferred " .. turned)
		assert.is_true(lines < 100, lines .. " 'session ended' lines for " .. turned)
		assert.is_true(waits < 100, waits .. " 'refused for now' lines for " .. turned)
		-- The client makes room (the flood's network holds the most).
		local client = stock_client(others[1], 1)
		completed(client)
		client:stop()
	end)

	-- A reconnect storm: the server restarted and every client comes back at once. With at
	-- least 64 half-open handshakes, each newcomer past them evicted a handshake in progress:
	-- 200 clients from 10 addresses took 72 s to be back, against 19 s with a stock server.
	-- Now up to HALF_OPEN_MAX, and as many as there are free slots; none is evicted, and
	-- once every slot holds one, a newcomer still gets in when they stall (else: refused
	-- as max_clients for the hand-window).
	it("takes a reconnect storm of max_clients at once, none evicted, and then one more", function()
		local MAX_CLIENTS = 200
		start(nil, 1, { server = "  max_clients = " .. MAX_CLIENTS .. ",\n" })
		local sources = {}
		for i = 10, 13 do
			sources[#sources + 1] = "10.88.0." .. i
			assert(cli:sh("ip addr add 10.88.0." .. i .. "/24 dev " .. links[0][2]))
		end
		-- 50 from each address, under PER_SOURCE_MAX: only the bound in all could turn any away.
		local ok, out = cli:sh(CRAFT .. " halfopen 10.88.0.1 1194 " .. MAX_CLIENTS .. " " ..
			table.concat(sources, " "))
		assert(ok, out)
		local replies = tonumber(out:match("replies (%d+)"))
		assert.is_true(replies > MAX_CLIENTS / 2, out)
		local total = wait_sessions(replies)
		assert.are.equal("0\n", stats("stats().evicted_half_open"))
		assert.are.equal(replies, total, out)
		-- The slots are full; a newcomer from the storm's network (one from elsewhere would
		-- make room at once: that network holds them all) still gets in, in place of one of
		-- the storm's once they stalled (sent nothing for 5 s: these never send again).
		local client = stock_client(cli, 0)
		completed(client)
		assert.is_true(tonumber(stats("stats().evicted_half_open")) >= 1)
		client:stop()
	end)

	-- A flood that keeps talking never stalls: below 256 clients the bound in all (at least
	-- 256) is never reached, and with every slot held by handshakes that re-send their ACK
	-- each second, a newcomer was refused for the whole hand-window. Now one of them goes
	-- when its network holds more than the newcomer's.
	it("lets a client from elsewhere in while chatty half-open handshakes hold every slot", function()
		local MAX_CLIENTS = 100
		start(nil, 1, { server = "  max_clients = " .. MAX_CLIENTS .. ",\n" })
		local sources = { "10.88.0.10", "10.88.0.11" }
		for _, ip in ipairs(sources) do
			assert(cli:sh("ip addr add " .. ip .. "/24 dev " .. links[0][2]))
		end
		-- PER_SOURCE_MAX from each: more than the slots, each source under its own bound.
		local chatter = cli:spawn({ CRAFT, "chatty", "10.88.0.1", "1194", tostring(2 * PER_SOURCE_MAX), "120",
			table.unpack(sources) })
		local ok, out = chatter:wait_log("replies %d+", 30)
		assert(ok, out)
		assert.are.equal(MAX_CLIENTS, wait_sessions(MAX_CLIENTS), out)
		local client = stock_client(others[1], 1)
		ok, out = client:wait_log("Initialization Sequence Completed", 30)
		local chatting = chatter:status() == nil
		local evicted = tonumber(stats("stats().evicted_half_open"))
		chatter:stop("KILL")
		assert(ok, "openvpn:\n" .. out .. "\n--- moonvpn:\n" .. engine:output())
		assert.is_true(chatting, "the chatter ended before the client was in: " .. chatter:output())
		assert.is_true(evicted >= 1, "evicted " .. evicted)
		client:stop()
	end)

	-- Clients without a certificate, held in on.auth (which does not answer for a minute).
	local CERTLESS = {
		server = '  auth = { certificate = "none" },\n',
		hooks = [[
function office.on.auth(client, username)
  print("auth: " .. tostring(username))
  if username == "slow" then vpn.sleep(60) elseif username == "later" then vpn.sleep(10)
  else vpn.sleep(3) end
  return true
end
]],
	}
	local function certless_client(ns, net, user)
		return ns:spawn({ "openvpn", "--config", openvpn.profile(mv.pki(), { remote = "10.88." .. net .. ".1",
			no_cert = true, extra = "<auth-user-pass>\n" .. user .. "\npw\n</auth-user-pass>\n" }) })
	end

	-- A client without a certificate proved nothing by finishing TLS: anyone can get as far
	-- as on.auth. It used to stop counting as half-open there, so one source could hold any
	-- number of slots for as long as on.auth took.
	it("counts clients without a certificate as half-open until admitted, per source", function()
		start(nil, 0, CERTLESS)
		local clients = {}
		for i = 1, 10 do clients[i] = certless_client(cli, 0, "slow") end
		local auths = 0
		for _ = 1, 300 do
			local _, n = engine:output():gsub("auth: slow", "")
			auths = n
			if auths >= 10 then break end
			netns.sleep(0.1)
		end
		assert.are.equal(10, auths, engine:output())
		-- A source's share of half-open handshakes, on top of the 10 in on.auth: counted as
		-- half-open, they leave room for PER_SOURCE_MAX - 10 of them, and the rest is refused
		-- (or, if silent long enough, one of the 10 makes room).
		local ok, out = cli:sh(CRAFT .. " halfopen 10.88.0.1 1194 " .. PER_SOURCE_MAX .. " 10.88.0.2")
		assert(ok, out)
		local by = sessions_by_source()
		assert.is_true((by["10.88.0.2"] or 0) <= PER_SOURCE_MAX, "10.88.0.2 holds " .. tostring(by["10.88.0.2"]))
		-- Each echoed cookie (reply) opened a session or was turned away.
		local replies = tonumber(out:match("replies (%d+)"))
		local turned = tonumber(stats("stats().evicted_half_open_source + stats().refused_half_open_source"))
		assert.is_true(replies > PER_SOURCE_MAX - 10, out)
		assert.is_true(turned >= replies + 10 - PER_SOURCE_MAX, "evicted or refused " .. turned .. "; " .. out)
		for _, c in ipairs(clients) do c:stop("KILL") end
	end)

	-- A client without a certificate that finished TLS and waits for on.auth's answer
	-- (deferred, 10 s here) is not a stalled handshake: it counts towards its source's
	-- share, and the hooks' limits bound it, but it is never the one evicted. With every
	-- slot taken by it and a chatty handshake from its own address, a newcomer from
	-- elsewhere evicted it (the oldest of the network holding the most), and its client
	-- started over and was asked about again.
	it("never evicts a client without a certificate while on.auth decides on it", function()
		start(nil, 1, { server = CERTLESS.server .. "  max_clients = 2,\n", hooks = CERTLESS.hooks })
		local client = certless_client(cli, 0, "later")
		local ok, out = engine:wait_log("auth: later", 30)
		assert(ok, out)
		local chatter = cli:spawn({ CRAFT, "chatty", "10.88.0.1", "1194", "1", "60", "10.88.0.2" })
		ok, out = chatter:wait_log("replies %d+", 10)
		assert(ok, out)
		assert.are.equal(2, wait_sessions(2))
		-- The newcomer: cookies echoed from another network while both slots are held.
		ok, out = others[1]:sh(CRAFT .. " halfopen 10.88.1.1 1194 3 10.88.1.2")
		assert(ok, out)
		completed(client)
		chatter:stop("KILL")
		local _, asked = engine:output():gsub("auth: later", "")
		assert.are.equal(1, asked, engine:output())
		client:stop()
	end)

	-- Half-open handshakes from one network churn through the table (each new one evicts
	-- one): the slot of a client from another network, waiting 3 s in on.auth without a
	-- certificate, is never the one that goes. Evicting the oldest, it was.
	it("keeps a client from another network in while half-open handshakes from one network churn", function()
		start(nil, 1, CERTLESS)
		local sources = {}
		for i = 10, 29 do
			sources[#sources + 1] = "10.88.0." .. i
			assert(cli:sh("ip addr add 10.88.0." .. i .. "/24 dev " .. links[0][2]))
		end
		local churn = cli:spawn({ CRAFT, "halfopen", "10.88.0.1", "1194", "6000", table.unpack(sources) })
		local full
		for _ = 1, 100 do
			full = tonumber(stats("stats().evicted_half_open"))
			if full >= 1 then break end
			netns.sleep(0.1)
		end
		assert.is_true(full >= 1, "the table never filled: " .. churn:output())
		local client = certless_client(others[1], 1, "alice")
		local ok, out = client:wait_log("Initialization Sequence Completed", 30)
		local churning = churn:status() == nil
		churn:stop("KILL")
		assert(ok, "openvpn:\n" .. out .. "\n--- moonvpn:\n" .. engine:output())
		assert.is_true(churning, "the churn ended before the client was in")
		client:stop()
	end)
end)
