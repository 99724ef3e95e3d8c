-- SPDX-License-Identifier: MIT
-- moonvpn in client mode against a stock OpenVPN 2.6 server and against a
-- moonvpn server:
--
--   [ mvt-srv: server, tun 10.77.0.1 ] --veth 10.88.2.1 / .2-- [ mvt-cli: moonvpn client ]
--
-- #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"
local peers = require "spec.helpers.peers"

describe("#netns client mode", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local srv, cli, server, client, socket, server_argv, client_argv

	-- opts.v2: a directory with a tls-crypt-v2 server key (v2s.key) the server uses
	-- instead of tls-crypt; opts.server_bin: another stock openvpn (the 2.7 peer).
	local function server_config(kind, opts)
		local pki = mv.pki()
		if kind == "openvpn" then
			local extra = (opts.stock_extra or "") .. (opts.v2 and ("\ntls-crypt-v2 " .. opts.v2 .. "/v2s.key") or "")
			return { opts.server_bin or "openvpn", "--config", openvpn.server(pki, { listen = "10.88.2.1",
				cipher = opts.cipher, wrap = not opts.v2 and "tls-crypt" or nil, extra = extra,
				proto = opts.tcp and "tcp-server" or nil, port = opts.tcp and 443 or nil,
				dev = opts.tap and "tap" or nil }) }
		end
		local wrap = opts.v2 and string.format('tls_crypt_v2 = "%s/v2s.key"', opts.v2)
			or string.format('tls_crypt = "%s/tc.key"', pki)
		local config = mv.write_config(mv.server_config(string.format([[
  listen = "%s://10.88.2.1:%d",
  device = { name = "mvs0"%s },
  tls = { ca = "%s/ca.crt", cert = "%s/%s.crt", key = "%s/%s.key", %s },
  %s
  %s
]], opts.tcp and "tcp" or "udp", opts.tcp and 443 or 1194, opts.tap and ', type = "tap"' or "",
			pki, pki, opts.server_cert or "server", pki, opts.server_cert or "server", wrap, opts.cipher and string.format('ciphers = { "%s" },', opts.cipher) or "",
			opts.moonvpn_extra or ""), { tls = false }):gsub("vpn%.server {", "local office = vpn.server {", 1)
			.. (opts.server_hooks or ""), "server.lua")
		return { mv.bin, config }
	end

	local function start_server()
		server = srv:spawn(server_argv)
		local ready = server_argv[1]:find("openvpn$") and "Initialization Sequence Completed"
			or "engine: moonvpn [%d.]+ started"
		assert(server:wait_log(ready, 10), server:output())
	end

	-- kind: "openvpn" or "moonvpn"; opts: cipher, client_extra, stock_extra, moonvpn_extra,
	-- server_hooks (Lua after a moonvpn server's table, where it is `office`),
	-- server_cert (its name in the PKI), refused (the client is not expected to connect),
	-- tls_extra (more fields in the client's tls table), no_cert (the client has none),
	-- v2 and server_bin (server_config), v2_key (the client's tls-crypt-v2 client key,
	-- instead of tls-crypt).
	local function start(kind, opts)
		opts = opts or {}
		srv, cli = netns.new(), netns.new()
		netns.veth(srv, "10.88.2.1/24", cli, "10.88.2.2/24")
		server_argv = server_config(kind, opts)
		start_server()
		socket = netns.tmpdir() .. "/client.sock"
		local pki = mv.pki()
		local identity = opts.no_cert and "" or string.format('cert = "%s/client1.crt", key = "%s/client1.key", ',
			pki, pki)
		local wrap = opts.v2_key and string.format('tls_crypt_v2 = "%s"', opts.v2_key)
			or string.format('tls_crypt = "%s/tc.key"', pki)
		local config = mv.write_config(mv.client_config("10.88.2.1", string.format([[
  device = { name = "mvc0"%s },
  console = "%s",
  tls = { ca = "%s/ca.crt", %s%s%s },
  %s
]], opts.tap and ', type = "tap"' or "", socket, pki, identity, wrap, opts.tls_extra or "",
			opts.client_extra or ""), { tls = false,
			scheme = opts.tcp and "tcp" or "udp", port = opts.tcp and 443 or 1194 }), "client.lua")
		client_argv = { mv.bin, config }
		client = cli:spawn(client_argv)
		if opts.refused then return end
		local ok, out = client:wait_log("connected, address", 20)
		assert(ok, out .. "\n--- server:\n" .. server:output())
	end

	local function link(field)
		local status, out, err = mv.console(socket, "status().link." .. field)
		assert(status == 0, err)
		return tonumber(out) or (out:gsub('^"(.*)"%s*$', "%1"))
	end

	local function connections()
		local n = 0
		for _ in client:output():gmatch("connected, address") do n = n + 1 end
		return n
	end

	-- The client connects a second time by itself, and traffic flows again.
	local function reconnected()
		for _ = 1, 300 do
			if connections() >= 2 then break end
			netns.sleep(0.1)
		end
		assert.are.equal(2, connections(), client:output())
		local ok, out = cli:sh("ping -c 3 -i 0.2 -W 2 10.77.0.1")
		assert(ok, out)
	end

	after_each(function()
		if client then assert.are.equal(0, client:stop()) end
		if server then server:stop() end
		client, server = nil, nil
		netns.cleanup()
	end)

	for _, kind in ipairs { "openvpn", "moonvpn" } do
		for _, cipher in ipairs { "AES-256-GCM", "CHACHA20-POLY1305" } do
			it("carries ping and a 5 s iperf3 TCP flow to a " .. kind .. " server with " .. cipher, function()
				start(kind, { cipher = cipher })
				assert.truthy(client:output():find("cipher " .. cipher, 1, true), client:output())
				assert.are.equal("active", link("state"))
				assert.are.equal("10.88.2.1:1194", link("remote"))
				local ok, out = cli:sh("ip -4 addr show dev mvc0")
				assert(ok and out:find("inet 10.77.0.%d+/24"), out)
				ok, out = cli:sh("ping -c 5 -i 0.2 -W 2 10.77.0.1")
				assert(ok, out)
				assert.truthy(out:find("5 received", 1, true), out)
				local iperf = srv:spawn({ "iperf3", "-s", "-1", "-B", "10.77.0.1", "--forceflush" })
				assert(iperf:wait_log("Server listening", 5))
				ok, out = cli:sh("iperf3 -c 10.77.0.1 -t 5 -f m")
				assert(ok, out)
				local mbits = tonumber(out:match("([%d.]+) Mbits/sec%s+receiver"))
				assert.truthy(mbits and mbits > 1, out)
				io.stderr:write(string.format("\n  [moonvpn client -> %s server, %s: %.0f Mbit/s]\n",
					kind, cipher, mbits))
				assert.is_true(link("bytes_out") > 1000000)
			end)
		end
	end

	for _, kind in ipairs { "openvpn", "moonvpn" } do
		it("carries ping and a 5 s iperf3 TCP flow over tcp:// to a " .. kind .. " server", function()
			start(kind, { tcp = true })
			assert.are.equal("active", link("state"))
			assert.are.equal("10.88.2.1:443", link("remote"))
			local ok, out = cli:sh("ping -c 5 -i 0.2 -W 2 10.77.0.1")
			assert(ok, out)
			local iperf = srv:spawn({ "iperf3", "-s", "-1", "-B", "10.77.0.1", "--forceflush" })
			assert(iperf:wait_log("Server listening", 5))
			ok, out = cli:sh("iperf3 -c 10.77.0.1 -t 5 -f m")
			assert(ok, out)
			local mbits = tonumber(out:match("([%d.]+) Mbits/sec%s+receiver"))
			assert.truthy(mbits and mbits > 1, out)
			io.stderr:write(string.format("\n  [moonvpn client -> %s server over TCP: %.0f Mbit/s]\n",
				kind, mbits))
		end)
	end

	for _, kind in ipairs { "openvpn", "moonvpn" } do
		it("carries Ethernet frames as a dev tap client of a " .. kind .. " server", function()
			start(kind, { tap = true })
			local ok, out = cli:sh("ip -4 addr show dev mvc0")
			assert(ok and out:find("inet 10.77.0.%d+/24"), out)
			assert.matches("link/ether", select(2, cli:sh("ip link show dev mvc0")))
			ok, out = cli:sh("ping -c 3 -i 0.2 -W 2 10.77.0.1")
			assert(ok, out)
		end)
	end


	it("refuses a server whose certificate lacks the serverAuth key usage, and keeps trying", function()
		start("moonvpn", { server_cert = "client2", refused = true })
		local ok, out = client:wait_log("server certificate has the wrong key usage", 10)
		assert(ok, out)
		assert.falsy(out:find("connected, address", 1, true), out)
		ok, out = client:wait_log("reconnecting in", 5)
		assert(ok, out)
	end)

	-- Issue 11 item 5: no extendedKeyUsage is not serverAuth, and the server may be pinned.
	it("refuses a server certificate without extendedKeyUsage", function()
		start("moonvpn", { server_cert = "server-no-eku", refused = true })
		local ok, out = client:wait_log("server certificate lacks the serverAuth extended key usage", 10)
		assert(ok, out)
		assert.falsy(out:find("connected, address", 1, true), out)
	end)

	local function fingerprint(cert)
		local ok, out = netns.sh("openssl x509 -noout -fingerprint -sha256 -in " .. mv.pki() .. "/" .. cert .. ".crt")
		assert(ok, out)
		return out:match("=(%S+)")
	end

	for _, case in ipairs {
		{ "server_name", function() return "server" end },
		{ "server_fingerprint", function() return fingerprint("server") end },
	} do
		it("connects to the server " .. case[1] .. " names", function()
			start("moonvpn", { tls_extra = string.format(', %s = "%s"', case[1], case[2]()) })
			local ok, out = cli:sh("ping -c 2 -i 0.2 -W 2 10.77.0.1")
			assert(ok, out)
		end)
	end

	for _, case in ipairs {
		{ "server_name", function() return "elsewhere" end,
			'server certificate name "server" does not match tls.server_name "elsewhere"' },
		{ "server_fingerprint", function() return fingerprint("client2"):lower() end,
			"server certificate does not have the SHA-256 fingerprint of tls.server_fingerprint" },
	} do
		it("refuses a server that " .. case[1] .. " does not name", function()
			start("moonvpn", { refused = true, tls_extra = string.format(', %s = "%s"', case[1], case[2]()) })
			local ok, out = client:wait_log(case[3]:gsub("%p", "%%%0"), 10)
			assert(ok, out)
			assert.falsy(out:find("connected, address", 1, true), out)
		end)
	end

	it("says what is wrong with a pin in the configuration", function()
		local pki = mv.pki()
		for _, case in ipairs {
			{ 'server_fingerprint = "12:34"', "tls.server_fingerprint: \"12:34\" is not a SHA-256 fingerprint" },
			{ 'server_name = ""', "tls.server_name: must not be empty" },
		} do
			local path = mv.write_config(mv.client_config("10.88.2.1", string.format(
				'  tls = { ca = "%s/ca.crt", cert = "%s/client1.crt", key = "%s/client1.key", %s },',
				pki, pki, pki, case[1]), { tls = false }), "pin.lua")
			local status, out, err = mv.run("--check " .. path)
			assert.are_not.equal(0, status, out)
			assert.truthy(err:find(case[2], 1, true), err)
		end
		-- A server has no such pins.
		local path = mv.write_config(mv.server_config(string.format(
			'  tls = { ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key", server_name = "x" },',
			pki, pki, pki), { tls = false }), "pin.lua")
		local status, _, err = mv.run("--check " .. path)
		assert.are_not.equal(0, status)
		assert.truthy(err:find("tls.server_name: unknown key", 1, true), err)
	end)

	-- Servers that take a username and password alone (no client certificate).
	local PASSWORD_SERVER = {
		openvpn = function(dir)
			netns.write_file(dir .. "/check.sh", '#!/bin/sh\n[ "$(sed -n 1p "$1")" = alice ] && '
				.. '[ "$(sed -n 2p "$1")" = "s3cret pass" ]\n')
			assert(netns.sh("chmod +x " .. dir .. "/check.sh"))
			return { stock_extra = "verify-client-cert none\nusername-as-common-name\nscript-security 2\n"
				.. "auth-user-pass-verify " .. dir .. "/check.sh via-file\n" }
		end,
		moonvpn = function()
			return { moonvpn_extra = 'auth = { certificate = "none" },',
				server_hooks = "function office.on.auth(client, username, password)\n"
					.. '  return username == "alice" and password == "s3cret pass", "wrong username or password"\n'
					.. "end\n" }
		end,
	}

	for _, kind in ipairs { "openvpn", "moonvpn" } do
		it("logs in to a " .. kind .. " server with a username and password alone, given or from a file", function()
			local dir = netns.tmpdir()
			local opts = PASSWORD_SERVER[kind](dir)
			opts.no_cert = true
			opts.client_extra = 'auth = { username = "alice", password = "s3cret pass" },'
			start(kind, opts)
			local ok, out = cli:sh("ping -c 2 -i 0.2 -W 2 10.77.0.1")
			assert(ok, out)
			assert.are.equal(0, client:stop())
			client = nil
			server:stop()
			server = nil
			netns.cleanup() -- its temporary directories too
			dir = netns.tmpdir()
			netns.write_file(dir .. "/creds.txt", "alice\r\ns3cret pass\r\n")
			opts = PASSWORD_SERVER[kind](dir)
			opts.no_cert = true
			opts.client_extra = string.format('auth = { file = "%s/creds.txt" },', dir)
			start(kind, opts)
		end)

		it("is refused by a " .. kind .. " server for a wrong password, and says so", function()
			local opts = PASSWORD_SERVER[kind](netns.tmpdir())
			opts.no_cert = true
			opts.refused = true
			opts.client_extra = 'auth = { username = "alice", password = "guess" }, auth_retry = "nointeract",'
			start(kind, opts)
			local ok, out = client:wait_log("AUTH_FAILED", 20)
			assert(ok, out .. "\n--- server:\n" .. server:output())
		end)
	end

	it("renegotiates and reconnects with a stock server's auth-token, and logs in again when it is refused", function()
		local dir = netns.tmpdir()
		-- The script counts each time the server asks it (a renegotiation with the token does not).
		netns.write_file(dir .. "/check.sh", '#!/bin/sh\necho call >> ' .. dir .. '/calls\n'
			.. '[ "$(sed -n 1p "$1")" = alice ] && [ "$(sed -n 2p "$1")" = "s3cret pass" ]\n')
		assert(netns.sh("chmod +x " .. dir .. "/check.sh"))
		start("openvpn", { no_cert = true, client_extra = 'auth = { username = "alice", password = "s3cret pass" },',
			stock_extra = "verify-client-cert none\nusername-as-common-name\nscript-security 2\n"
				.. "auth-user-pass-verify " .. dir .. "/check.sh via-file\nauth-gen-token 3600 120\nreneg-sec 3\nkeepalive 2 10\nexplicit-exit-notify 1\n" })
		local ok, out
		for _ = 1, 200 do
			local _, n = client:output():gsub("renegotiated: data now on key", "")
			if n >= 2 then ok = true break end
			netns.sleep(0.1)
		end
		assert(ok, client:output() .. "\n--- server:\n" .. server:output())
		assert.are.equal("call\n", netns.read_file(dir .. "/calls"))
		-- A new server knows none of the old one's tokens: refused, the client drops its
		-- token and logs in with its password.
		-- The stopping server tells us RESTART and may still answer our next reset before
		-- it exits; that attempt then stalls until the hand-window (60 s), as a stock
		-- client's would: wait past it.
		server:stop()
		start_server()
		ok, out = client:wait_log("connected, address.*connected, address", 100)
		assert(ok, out .. "\n--- server:\n" .. server:output())
		assert.matches("AUTH_FAILED", out)
		assert.are.equal("call\ncall\n", netns.read_file(dir .. "/calls"))
	end)

	it("says what is wrong with auth in the configuration", function()
		local pki = mv.pki()
		for _, case in ipairs {
			{ "", "client.tls: needs cert and key, or auth = { username = ..., password = ... } for a server "
				.. "that takes passwords alone" },
			{ 'auth = { username = "alice" },', "client.auth: needs username and password (or file, with them on "
				.. "its first two lines)" },
			{ 'auth = { file = "x", username = "alice", password = "p" },',
				"client.auth: give either file or username and password, not both" },
		} do
			local path = mv.write_config(mv.client_config("192.0.2.1", string.format(
				'  tls = { ca = "%s/ca.crt" },\n  %s', pki, case[1]), { tls = false }), "auth.lua")
			local status, _, err = mv.run("--check " .. path)
			assert.are_not.equal(0, status)
			assert.truthy(err:find(case[2], 1, true), err)
		end
	end)

	it("tells a stock server it leaves (EXIT), so the server frees its address at once", function()
		start("openvpn")
		assert.are.equal(0, client:stop())
		client = nil
		local ok, out = server:wait_log("CC%-EEN exit message received by peer", 5)
		assert(ok, out)
	end)

	-- A stock server gives a client that reconnects a peer-id it has not given yet (not 0):
	-- our data packets must carry that one, not the 0 the session began with.
	it("sends its data under the peer-id the server gave it, when that is not 0", function()
		start("openvpn")
		client:signal("HUP") -- a reload reconnects
		local ok, out = client:wait_log("connected, address .*connected, address [^\n]*peer%-id [1-9]", 30)
		assert(ok, out .. "\n--- server:\n" .. server:output())
		ok, out = cli:sh("ping -n -c 3 -i 0.2 -W 2 10.77.0.1")
		assert(ok, out .. "\n--- server:\n" .. server:output())
	end)

	for _, case in ipairs { { "", {}, "the server restarts" }, { " over TCP", { tcp = true }, "" } } do
		it("reconnects by itself" .. case[1] .. " after a moonvpn server restarts", function()
			start("moonvpn", case[2])
			assert.are.equal(0, server:stop())
			local ok, out = client:wait_log("disconnected: " .. case[3], 5)
			assert(ok, out)
			start_server()
			reconnected()
		end)
	end

	it("reconnects by itself after a stock server was killed and restarted (ping-restart)", function()
		start("openvpn", { stock_extra = "keepalive 1 3" })
		server:signal("KILL")
		server:wait(5)
		local ok, out = client:wait_log("ping%-restart: nothing received for 3 seconds", 10)
		assert(ok, out)
		start_server()
		reconnected()
		assert.is_true(link("attempts") >= 2)
	end)

	for _, case in ipairs {
		{ "the moonvpn client", { client_extra = "renegotiate = { seconds = 5 },", stock_extra = "reneg-sec 0" } },
		{ "the stock server", { stock_extra = "reneg-sec 5" } },
	} do
		it("loses no ping across three renegotiations started by " .. case[1], function()
			start("openvpn", case[2])
			local ok, out = cli:sh("ping -c 85 -i 0.2 -W 1 10.77.0.1")
			assert(ok, out)
			assert.truthy(out:find("85 received", 1, true), out)
			assert.truthy(client:output():find("data now on key 3", 1, true), client:output())
			-- The stock server pushed dyn-tls-crypt (the client announces it): the
			-- renegotiations above were wrapped with the key both derived.
			assert.truthy(client:output():find("dynamic tls-crypt: renegotiations use their own key "
				.. "(mixed with the static key)", 1, true), client:output())
		end)
	end

	-- Issue 16 item 5: tls-crypt-v2 client keys. The server keeps no state for a
	-- V3 reset that announces early negotiation and asks for the key again:
	-- the connection shows the client sent P_CONTROL_WKC_V1 with it.
	local v2dir

	--- A tls-crypt-v2 server key in a directory of its own, and a client key made
	-- from it (with metadata): the directory, the client key's path and its id.
	local function v2_keys(metadata)
		v2dir = netns.tmpdir()
		local status, _, err = mv.run("genkey --tls-crypt-v2-server " .. v2dir .. "/v2s.key")
		assert(status == 0, err)
		local out
		status, out, err = mv.run(string.format("genkey --tls-crypt-v2-client %s/alice.key --server-key %s/v2s.key "
			.. "--metadata %s", v2dir, v2dir, metadata or "alice"))
		assert(status == 0, err)
		return v2dir, v2dir .. "/alice.key", out:match("tls%-crypt%-v2 client key (%x+)")
	end

	for _, case in ipairs {
		{ "a stock 2.6 server", "openvpn", {} },
		{ "a stock 2.6 server over TCP", "openvpn", { tcp = true } },
		{ "a moonvpn server", "moonvpn", {} },
		{ "a moonvpn server over TCP", "moonvpn", { tcp = true } },
	} do
		it("connects with a tls-crypt-v2 client key to " .. case[1] .. " and carries ping", function()
			local dir, key, id = v2_keys()
			local srvsock = netns.tmpdir() .. "/server.sock"
			local opts = { v2 = dir, v2_key = key, tcp = case[3].tcp,
				moonvpn_extra = string.format('console = "%s",', srvsock) }
			start(case[2], opts)
			local ok, out = cli:sh("ping -c 3 -i 0.2 -W 2 10.77.0.1")
			assert(ok, out)
			assert.matches("client: tls-crypt-v2 client key " .. id, client:output(), 1, true)
			if case[2] == "openvpn" then
				assert.matches("Control Channel: using tls-crypt-v2 key", server:output(), 1, true)
				return
			end
			local status, got, err = mv.console(srvsock, "clients()[1].tls_crypt_v2_id")
			assert(status == 0, err)
			assert.matches(id, got, 1, true)
			-- Stateless until the cookie came back with the key: P_CONTROL_WKC_V1.
			status, got, err = mv.console(srvsock, "stats().cookies_accepted")
			assert(status == 0, err)
			assert.are.equal(1, tonumber(got))
		end)
	end

	for _, case in ipairs {
		{ "a stock 2.6 server", "openvpn", { stock_extra = "reneg-sec 4" } },
		{ "a moonvpn server", "moonvpn", { client_extra = "renegotiate = { seconds = 4 }," } },
	} do
		it("renegotiates with " .. case[1] .. " on a tls-crypt-v2 key (dynamic tls-crypt mixes in the client key)", function()
			local dir, key = v2_keys()
			start(case[2], { v2 = dir, v2_key = key, stock_extra = case[3].stock_extra,
				client_extra = case[3].client_extra })
			local ok, out = client:wait_log("renegotiated: data now on key 2", 30)
			assert(ok, out .. "\n--- server:\n" .. server:output())
			ok, out = cli:sh("ping -c 3 -i 0.2 -W 2 10.77.0.1")
			assert(ok, out)
			assert.truthy(client:output():find("dynamic tls-crypt: renegotiations use their own key "
				.. "(mixed with the static key)", 1, true), client:output())
		end)
	end

	do
		local name = "connects with a tls-crypt-v2 client key to the " .. peers.LABEL["2.7"] .. " server"
		if peers.missing("2.7") then
			pending(name .. ": " .. peers.missing("2.7"))
		else
			it(name, function()
				local dir, key = v2_keys()
				start("openvpn", { v2 = dir, v2_key = key, server_bin = peers.DIR .. "/openvpn-2.7/sbin/openvpn" })
				assert.matches("OpenVPN 2%.7", server:output())
				local ok, out = cli:sh("ping -c 3 -i 0.2 -W 2 10.77.0.1")
				assert(ok, out)
			end)
		end
	end

	-- Issue 16 item 5: OpenVPN 2.7's epoch data keys. The client announces the format
	-- (IV_PROTO bit 10); a server that takes it pushes protocol-flags ... aead-epoch,
	-- and both sides' data packets carry an epoch in their packet id. A 2.6 server
	-- pushes no such flag: the 2.6 format, as before.

	--- Waits until the client has renegotiated `n` times (its log says so each time).
	local function renegotiated(n)
		for _ = 1, 300 do
			local _, got = client:output():gsub("renegotiated: data now on key", "")
			if got >= n then return end
			netns.sleep(0.1)
		end
		error(string.format("%d renegotiations:\n%s\n--- server:\n%s", n, client:output(), server:output()))
	end

	--- Pings both ways through the tunnel: the client's packets are opened by the server
	-- and the server's by the client.
	local function pings_both_ways()
		local ok, out = cli:sh("ping -n -c 3 -i 0.2 -W 2 10.77.0.1")
		assert(ok, "client to server: " .. out .. "\n--- client:\n" .. client:output())
		local address = link("vpn_address")
		ok, out = srv:sh("ping -n -c 3 -i 0.2 -W 2 " .. address)
		assert(ok, "server to client " .. address .. ": " .. out .. "\n--- client:\n" .. client:output())
	end

	--- The epoch format in use on the client's side, and traffic both ways across two
	-- renegotiations (each key state has epoch keys of its own).
	local function epoch_carries()
		assert.matches("connected, address [^\n]*, epoch data format", client:output())
		assert.are.equal("epoch", link("data_format"))
		pings_both_ways()
		local iperf = srv:spawn({ "iperf3", "-s", "-1", "-B", "10.77.0.1", "--forceflush" })
		assert(iperf:wait_log("Server listening", 5))
		local ok, out = cli:sh("timeout 60 iperf3 -c 10.77.0.1 -t 1 -R")
		assert(ok, out)
		renegotiated(2)
		pings_both_ways()
	end

	do
		local name = "uses epoch data keys with the " .. peers.LABEL["2.7"] .. " server, across its renegotiations"
		if peers.missing("2.7") then
			pending(name .. ": " .. peers.missing("2.7"))
		else
			for _, case in ipairs { { "AES-256-GCM", {} }, { "CHACHA20-POLY1305", { tcp = true } } } do
				it(name .. " (" .. case[1] .. (case[2].tcp and ", TCP" or "") .. ")", function()
					start("openvpn", { cipher = case[1], tcp = case[2].tcp, stock_extra = "reneg-sec 3\n",
						server_bin = peers.DIR .. "/openvpn-2.7/sbin/openvpn" })
					assert.matches("OpenVPN 2%.7", server:output())
					-- What the 2.7 server chose, in its own log: the push (verb 3) names the flag.
					assert.matches("PUSH_REPLY,[^\n]*protocol%-flags[^,\n]* aead%-epoch", server:output())
					assert.truthy(client:output():find("cipher " .. case[1], 1, true), client:output())
					epoch_carries()
				end)
			end
		end
	end

	it("uses epoch data keys with a moonvpn server, across the client's renegotiations", function()
		start("moonvpn", { client_extra = "renegotiate = { seconds = 3 }," })
		assert.matches("connected, address [^\n]*, epoch data format", server:output())
		epoch_carries()
	end)

	it("keeps the 2.6 data format with a stock 2.6 server, which offers no epoch keys", function()
		start("openvpn", { stock_extra = "reneg-sec 3\n" })
		assert.matches("OpenVPN 2%.6", server:output())
		assert.falsy(server:output():find("aead-epoch", 1, true), server:output())
		assert.falsy(client:output():find("epoch data format", 1, true), client:output())
		assert.are.equal("2.6", link("data_format"))
		pings_both_ways()
		renegotiated(2)
		pings_both_ways()
	end)

	it("says, when a stock server drops its reset, that the client key may be made for another server key", function()
		local _, key = v2_keys()
		local other = v2_keys()
		start("openvpn", { v2 = other, v2_key = key, refused = true })
		local ok, out = client:wait_log("no answer from 10%.88%.2%.1:1194 to our tls%-crypt%-v2 reset: either the "
			.. "server is not reachable, or tls%.tls_crypt_v2 is a client key made for another server key", 40)
		assert(ok, out)
		assert.truthy(out:find("moonvpn genkey --tls-crypt-v2-client FILE --server-key SERVER.key", 1, true), out)
		assert.falsy(out:find("connected, address", 1, true), out)
	end)

	it("says what is wrong with a tls_crypt_v2 client key in the configuration", function()
		local pki = mv.pki()
		local dir, key = v2_keys()
		local function config(fields)
			return mv.write_config(mv.client_config("10.88.2.1", string.format(
				'  tls = { ca = "%s/ca.crt", cert = "%s/client1.crt", key = "%s/client1.key", %s },',
				pki, pki, pki, fields), { tls = false }), "v2.lua")
		end
		-- What the schema sees (--check).
		for _, case in ipairs {
			{ string.format('tls_crypt_v2 = "%s", tls_crypt = "%s/tc.key"', key, pki),
				"tls.tls_crypt_v2: a client wraps its control channel with one key: tls_crypt_v2 "
				.. "(its own client key) or tls_crypt, not both" },
			{ string.format('tls_crypt_v2 = "%s", tls_auth = { key = "%s/tc.key" }', key, pki),
				"or tls_auth, not both" },
			{ string.format('tls_crypt_v2 = "%s", tls_crypt_v2_max_age = 3', key), "tls.tls_crypt_v2_max_age: unknown key" },
		} do
			local status, out, err = mv.run("--check " .. config(case[1]))
			assert.are_not.equal(0, status, out)
			assert.truthy(err:find(case[2], 1, true), err)
		end
		-- What starting finds in the key file: the client ends before it opens anything.
		for _, case in ipairs {
			{ string.format('tls_crypt_v2 = "%s/v2s.key"', dir),
				'this is a "OpenVPN tls-crypt-v2 server key", not a "OpenVPN tls-crypt-v2 client key" '
				.. "(a client needs its own client key, made from the server's key: moonvpn genkey "
				.. "--tls-crypt-v2-client FILE --server-key SERVER.key" },
			{ string.format('tls_crypt_v2 = "%s/tc.key"', pki),
				'this is a "OpenVPN Static key V1", not a "OpenVPN tls-crypt-v2 client key"' },
		} do
			local proc = netns.new():spawn({ mv.bin, config(case[1]) })
			assert.are_not.equal(0, proc:wait(20), proc:output())
			assert.truthy(proc:output():find("tls.tls_crypt_v2: ", 1, true), proc:output())
			assert.truthy(proc:output():find(case[2], 1, true), proc:output())
		end
	end)

	-- A configuration that validates but that opening the client refuses: auth.ask = true
	-- asks the password on the terminal, and standard input is /dev/null here. The reload
	-- is refused with the reason before the running client goes (review s3 M5).
	it("keeps its tunnel when a reload's configuration is refused as the client opens, and says why", function()
		start("moonvpn")
		local path = client_argv[2]
		local text = netns.read_file(path)
		local changed, n = text:gsub("\n}\n", "\n  auth = { ask = true },\n}\n", 1)
		assert.are.equal(1, n, text)
		netns.write_file(path, changed)
		client:signal("HUP")
		local ok, out = client:wait_log("reload failed, keeping the running configuration: [^\n]*auth%.ask", 20)
		assert(ok, out)
		ok, out = cli:sh("ping -c 3 -i 0.2 -W 2 10.77.0.1")
		assert(ok, out .. "\n--- client:\n" .. client:output())
		assert.are.equal(1, connections(), client:output())
		-- The running configuration comes back, and a reload reconnects with it as before.
		netns.write_file(path, text)
		client:signal("HUP")
		reconnected()
	end)
end)
