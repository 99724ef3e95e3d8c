-- SPDX-License-Identifier: MIT
-- tls-crypt-v2 against stock OpenVPN 2.6 clients (topology in
-- spec/helpers/hooked.lua): each client has its own control-channel key,
-- wrapped with the server key; keys made by `moonvpn genkey` and by
-- `openvpn --genkey` work both ways; UDP and TCP; a revoked or too old key
-- gets no session; tls-crypt (v1) and tls-crypt-v2 clients at once; what
-- a server without the key logs. #netns: needs root.
local hooked = require "spec.helpers.hooked"
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"
local peers = require "spec.helpers.peers"

-- Prints what the hooks see of the client's key, for the log assertions (a
-- timestamp's metadata is its 8 bytes: their count).
local SHOW_KEY = [[
function office.on.connect(client)
  local k = client.tls_crypt_v2
  print(string.format("v2: id=%s type=%s metadata=%s created=%s", k and k.id, k and k.type,
    k and (k.type == "user" and k.metadata or #k.metadata), k and k.created))
end
]]

describe("#netns tls-crypt-v2", function()
	local t = hooked.each()
	if not t then return end
	local dir

	--- A fresh server key made by moonvpn (or by openvpn) in a directory of its own.
	local function server_key(by_openvpn)
		dir = netns.tmpdir()
		local cmd = by_openvpn and ("openvpn --genkey tls-crypt-v2-server " .. dir .. "/v2s.key >/dev/null")
			or (netns.quote(mv.bin) .. " genkey --tls-crypt-v2-server " .. dir .. "/v2s.key")
		local ok, out = netns.sh(cmd)
		assert(ok, out)
	end

	--- A client key wrapped with the server key; its path and, made by moonvpn, its id.
	local function client_key(name, args, by_openvpn)
		local path = dir .. "/" .. name
		if by_openvpn then
			local ok, out = netns.sh(string.format("openvpn --tls-crypt-v2 %s/v2s.key --genkey " ..
				"tls-crypt-v2-client %s %s >/dev/null", dir, path, args or ""))
			assert(ok, out)
			return path
		end
		local status, out, err = mv.run(string.format("genkey --tls-crypt-v2-client %s --server-key %s/v2s.key %s",
			path, dir, args or ""))
		assert(status == 0, err)
		return path, out:match("tls%-crypt%-v2 client key (%x+)")
	end

	--- Runs cmd; its output without surrounding white space.
	local function sh(cmd)
		local ok, out = netns.sh(cmd)
		assert(ok, cmd .. ": " .. tostring(out))
		return (out or ""):match("^%s*(.-)%s*$")
	end

	--- The bytes cmd writes, in hex.
	local function hex(cmd)
		return sh(cmd .. " | od -An -v -tx1 | tr -d ' \\n'")
	end

	--- A client key made as doc/tls-crypt-v2.txt in OpenVPN's sources describes, with
	-- openssl's command line tools (not our code), created `days` ago: neither genkey
	-- backdates a key. Its path.
	local function backdated_key(name, days)
		local function file(n, bytes) netns.write_file(dir .. "/" .. n, bytes); return dir .. "/" .. n end
		local server = hex("sed '1d;$d' " .. dir .. "/v2s.key | openssl base64 -d")
		local ke, ka = server:sub(1, 64), server:sub(129, 192)
		sh("head -c 256 /dev/urandom > " .. dir .. "/kc.bin")
		local kc = netns.read_file(dir .. "/kc.bin")
		local plain = kc .. "\1" .. string.pack(">i8", os.time() - days * 86400)
		local len = string.pack(">I2", 32 + #plain + 2)
		file("plain.bin", plain)
		file("tagin.bin", len .. plain)
		sh(string.format("openssl dgst -sha256 -mac HMAC -macopt hexkey:%s -binary < %s/tagin.bin > %s/tag.bin",
			ka, dir, dir))
		local tag = hex("cat " .. dir .. "/tag.bin")
		sh(string.format("openssl enc -aes-256-ctr -K %s -iv %s -nosalt -in %s/plain.bin -out %s/ct.bin",
			ke, tag:sub(1, 32), dir, dir))
		file("raw.bin", kc .. netns.read_file(dir .. "/tag.bin") .. netns.read_file(dir .. "/ct.bin") .. len)
		local path = dir .. "/" .. name
		sh(string.format("{ echo '-----BEGIN OpenVPN tls-crypt-v2 client key-----'; openssl base64 -in %s/raw.bin; " ..
			"echo '-----END OpenVPN tls-crypt-v2 client key-----'; } > %s", dir, path))
		return path
	end

	--- Starts the server with the tls-crypt-v2 key and the tls fields in `tls_extra`.
	local function start(tls_extra, hooks, server_extra)
		local pki = mv.pki()
		t:start(SHOW_KEY .. (hooks or ""), string.format(
			'  tls = { ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key", ' ..
			'tls_crypt_v2 = "%s/v2s.key"%s },\n%s', pki, pki, pki, dir, tls_extra or "", server_extra or ""))
	end

	--- Starts stock client i with the client key at key (nil: opts.wrap's v1 key).
	local function connect(i, key, opts)
		opts = opts or {}
		local extra = key and string.format("<tls-crypt-v2>\n%s</tls-crypt-v2>\n", netns.read_file(key)) or ""
		return t.clients[i]:spawn({ "openvpn", "--config", openvpn.profile(mv.pki(), {
			remote = "10.88." .. i .. ".1", extra = extra, proto = opts.proto, port = opts.port,
			wrap = opts.wrap }) })
	end

	--- The VPN address of the client connected from 10.88.i.2.
	local function vpn_address(i)
		local out = t:console(string.format('for _, c in ipairs(clients()) do if c.real_address:find("10.88.%d.2", 1, true) ' ..
			'then return c.vpn_address end end', i))
		return out:match("[%d.]+")
	end

	local function pings_both_ways(i)
		assert.is_true((t.clients[i]:sh("ping -n -c 2 -i 0.2 -W 3 10.77.0.1")), "client " .. i .. " reaches the server")
		assert.is_true((t.srv:sh("ping -n -c 2 -i 0.2 -W 3 " .. vpn_address(i))), "the server reaches client " .. i)
	end

	local function stat(expr)
		return tonumber(t:console("return " .. expr):match("%d+"))
	end

	it("connects a 2.6 client with a moonvpn-made key over UDP; the log, clients() and the hooks show the key", function()
		server_key()
		local key, id = client_key("c1.key")
		start()
		t:completed(connect(1, key))
		pings_both_ways(1)
		local log = t.engine:output()
		local created = tonumber(log:match("v2: id=" .. id .. " type=timestamp metadata=8 created=(%d+)"))
		assert(created, "the hook saw the key:\n" .. log)
		assert.is_true(math.abs(created - os.time()) < 3600, "created is the key's creation time")
		assert.matches("10.88.1.2:%d+: tls%-crypt%-v2 client key " .. id, log)
		assert.matches(id, t:console("return clients()[1].tls_crypt_v2_id"), 1, true)
		assert.equal(0, stat("stats().dropped.unwrap"))
	end)

	it("connects a 2.6 client with openvpn-made keys over TCP, and shows its user metadata", function()
		server_key(true)
		local key = client_key("c1.key", "$(printf 'user=alice' | base64)", true)
		start(nil, nil, '  listen = { "udp://0.0.0.0:1194", "tcp://0.0.0.0:443" },\n')
		local out = t:completed(connect(1, key, { proto = "tcp-client", port = 443 }))
		assert.matches("TCP connection established", out, 1, true)
		pings_both_ways(1)
		assert.matches("v2: id=%x+ type=user metadata=user=alice created=nil", t.engine:output())
	end)

	-- Over UDP the interop matrix has them (peers_spec.lua); here TCP, and openvpn-made keys.
	for _, kind in ipairs { "2.7", "ovpncli" } do
		local name = peers.LABEL[kind] .. " connects over TCP with an openvpn-made key and pings both ways"
		if peers.missing(kind) then
			pending(name .. ": " .. peers.missing(kind))
		else
			it(name, function()
				server_key(true)
				local key = client_key("c1.key", "$(printf 'dave' | base64)", true)
				start(nil, nil, '  listen = "tcp://0.0.0.0:443",\n')
				local client = peers.start(t.clients[1], kind, { remote = "10.88.1.1", proto = "tcp", port = 443,
					extra = string.format("<tls-crypt-v2>\n%s</tls-crypt-v2>\n", netns.read_file(key)) })
				client:connected(30, t.engine)
				pings_both_ways(1)
				assert.matches("v2: id=%x+ type=user metadata=dave", t.engine:output())
			end)
		end
	end

	it("takes tls-crypt (v1) and tls-crypt-v2 clients at once", function()
		server_key()
		local key = client_key("c2.key", "--metadata bob")
		start(string.format(', tls_crypt = "%s/tc.key"', mv.pki()))
		local v1 = connect(1, nil, { wrap = "tls-crypt" })
		local v2 = connect(2, key)
		t:completed(v1)
		t:completed(v2)
		pings_both_ways(1)
		pings_both_ways(2)
		assert.matches("v2: id=nil", t.engine:output(), 1, true)
		assert.matches("v2: id=%x+ type=user metadata=bob", t.engine:output())
	end)

	it("gives a revoked key no session, and lets the other keys in", function()
		server_key()
		local revoked, id = client_key("revoked.key")
		local good = client_key("good.key")
		start(string.format(', tls_crypt_v2_revoked = { "%s" }', id:upper()))
		local bad = connect(1, revoked)
		t:completed(connect(2, good))
		local ok, log = t.engine:wait_log("refused: client key " .. id .. " is revoked", 20)
		assert(ok, log)
		assert.is_nil(bad:output():find("Initialization Sequence Completed", 1, true))
		assert.equal(1, stat("#clients()"))
		assert.is_true(stat("stats().dropped.tls_crypt_v2_refused") >= 1)
		assert.equal(0, stat("stats().cookies_accepted") - 1, "only the good client echoed a cookie")
	end)

	it("revokes a key by a reload: its running session ends, a new one gets none", function()
		server_key()
		local key, id = client_key("c1.key")
		start()
		local first = connect(1, key)
		t:completed(first)
		local path = t.engine:output():match("started with (%S+vpn%.lua)")
		local text = netns.read_file(path)
		netns.write_file(path, (text:gsub('(tls_crypt_v2 = "[^"]+")', '%1, tls_crypt_v2_revoked = { "' .. id .. '" }')))
		t.engine:signal("HUP")
		local ok, log = t.engine:wait_log("config: reloaded", 20)
		assert(ok, log)
		ok, log = t.engine:wait_log("10%.88%.1%.2:%d+: ended after the reload: client key " .. id ..
			" is revoked", 20)
		assert(ok, log)
		ok, log = first:wait_log("Halt command was pushed by server %('tls%-crypt%-v2 client key refused'%)", 20)
		assert(ok, log)
		first:stop()
		local again = connect(1, key)
		ok, log = t.engine:wait_log("refused: client key " .. id .. " is revoked", 20)
		assert(ok, log)
		assert.is_nil(again:output():find("Initialization Sequence Completed", 1, true))
	end)

	it("lets on.tls_crypt_v2 refuse a key by its metadata before any TLS, and take another after a sleep", function()
		server_key()
		local bad = client_key("mallory.key", "--metadata mallory")
		local good = client_key("alice.key", "--metadata alice")
		start(nil, [[
function office.on.tls_crypt_v2(key, address)
  print("key hook: " .. key.metadata .. " from " .. address)
  if key.metadata == "mallory" then return false, "mallory is out" end
  vpn.sleep(1)
end
]])
		local refused = connect(1, bad)
		t:completed(connect(2, good))
		local ok, log = t.engine:wait_log("10%.88%.1%.2:%d+: refused: client key %x+: mallory is out", 20)
		assert(ok, log)
		assert.matches("key hook: alice from 10.88.2.2:", log, 1, true)
		assert.is_nil(log:find("10.88.1.2:%d+ %(client1%): TLS"), "no TLS for the refused key")
		assert.is_nil(refused:output():find("Initialization Sequence Completed", 1, true))
		assert.equal(1, stat("#clients()"))
		assert.is_true(stat("stats().dropped.tls_crypt_v2_refused") >= 1)
		pings_both_ways(2)
	end)

	it("refuses the key when on.tls_crypt_v2 fails (fail closed)", function()
		server_key()
		local key = client_key("c1.key")
		start(nil, [[
function office.on.tls_crypt_v2(key) error("the revocation list is unreadable") end
]])
		local client = connect(1, key)
		local ok, log = t.engine:wait_log("refused: client key %x+: on%.tls_crypt_v2 failed", 20)
		assert(ok, log)
		assert.matches("the revocation list is unreadable", log, 1, true)
		assert.is_nil(client:output():find("Initialization Sequence Completed", 1, true))
	end)

	it("gives a key older than tls_crypt_v2_max_age no session, and lets a younger one in", function()
		server_key()
		local old = backdated_key("old.key", 40)
		local fresh = client_key("fresh.key")
		start(", tls_crypt_v2_max_age = 30")
		local bad = connect(1, old)
		t:completed(connect(2, fresh))
		local found, log = t.engine:wait_log("refused: client key %x+ is 40 days old, over tls_crypt_v2_max_age %(30 days%)", 20)
		assert(found, log)
		assert.is_nil(bad:output():find("Initialization Sequence Completed", 1, true))
		assert.equal(1, stat("#clients()"))
	end)

	it("has a stock 2.6 server take keys made by moonvpn genkey (the other way round)", function()
		server_key()
		local key = client_key("c1.key", "--metadata carol")
		local srv, cli = netns.new(), netns.new()
		netns.veth(srv, "10.88.1.1/24", cli, "10.88.1.2/24")
		local server = srv:spawn({ "openvpn", "--config", openvpn.server(mv.pki(), { listen = "10.88.1.1",
			extra = "tls-crypt-v2 " .. dir .. "/v2s.key" }) })
		local ok, out = server:wait_log("Initialization Sequence Completed", 10)
		assert(ok, out)
		local client = cli:spawn({ "openvpn", "--config", openvpn.profile(mv.pki(), { remote = "10.88.1.1",
			extra = string.format("<tls-crypt-v2>\n%s</tls-crypt-v2>\n", netns.read_file(key)) }) })
		ok, out = client:wait_log("Initialization Sequence Completed", 20)
		assert(ok, out .. "\n--- openvpn server:\n" .. server:output())
		assert.matches("Control Channel: using tls-crypt-v2 key", server:output(), 1, true)
		assert.is_true((cli:sh("ping -n -c 2 -i 0.2 -W 3 10.77.0.1")))
	end)

	--- Runs build/tools/v2client from client 1 with the key at key; its output.
	local function v2client(key, mode)
		local ok, out = t.clients[1]:sh("build/tools/v2client 10.88.1.1 1194 " .. key .. " " .. mode)
		assert(ok, out)
		return out
	end

	it("keeps no state before the cookie: a reset gets the stateless reply, only the echo opens a session", function()
		server_key()
		local key = client_key("c1.key")
		start()
		local out = v2client(key, "badcookie")
		assert.matches("reply P_CONTROL_HARD_RESET_SERVER_V2 tlv=1\nafter none", out, 1, true)
		assert.equal(0, stat("#clients()"), "a wrong cookie opens nothing")
		assert.equal(0, stat("stats().cookies_accepted"))
		assert.equal(1, stat("stats().dropped.no_session"))
		out = v2client(key, "ok")
		-- The session acks the client's P_CONTROL_WKC_V1 with the client's own key.
		assert.matches("reply P_CONTROL_HARD_RESET_SERVER_V2 tlv=1\nafter P_ACK_V1", out, 1, true)
		assert.equal(1, stat("#clients()"))
		assert.equal(1, stat("stats().cookies_accepted"))
	end)

	it("drops a forged wrapped key and a client that cannot resend its key, with the reason", function()
		server_key()
		local key = client_key("c1.key")
		start()
		assert.matches("reply none", v2client(key, "forged"), 1, true)
		local ok, log = t.engine:wait_log("control packet dropped: client key does not authenticate", 10)
		assert(ok, log)
		assert.matches("reply none", v2client(key, "old"), 1, true)
		ok, log = t.engine:wait_log("control packet dropped: a tls%-crypt%-v2 client that cannot resend " ..
			"its key %(OpenVPN 2%.5 or older%)", 10)
		assert(ok, log)
		assert.equal(2, stat("stats().dropped.unwrap"))
		assert.equal(0, stat("stats().resets_answered"))
		assert.equal(0, stat("#clients()"))
	end)

	it("logs why a tls-crypt-v2 client is dropped by a server without tls_crypt_v2", function()
		server_key()
		local key = client_key("c1.key")
		t:start(nil, nil)
		connect(1, key)
		local ok, log = t.engine:wait_log("10%.88%.1%.2:%d+: control packet dropped: looks like a " ..
			"tls%-crypt%-v2 client, but no tls_crypt_v2 key is configured", 20)
		assert(ok, log)
		assert.is_true(stat("stats().dropped.unwrap") >= 1)
	end)

	it("logs a client key made for another server key", function()
		server_key()
		local key = client_key("c1.key")
		local other = dir
		server_key()
		start()
		connect(1, key)
		local ok, log = t.engine:wait_log("control packet dropped: client key does not authenticate", 20)
		assert(ok, log)
		assert.equal(0, stat("stats().resets_answered"))
		assert.truthy(other)
	end)
end)
