-- SPDX-License-Identifier: MIT
-- `moonvpn profile NAME > NAME.ovpn` against stock clients (topology in
-- spec/helpers/hooked.lua): a PKI made with `moonvpn pki`, a server with a
-- UDP and a TCP listener and `public`, and the profile written by the
-- command, byte for byte, connecting OpenVPN 2.6 over UDP and over TCP, with
-- tls-crypt, tls-auth, a tls-crypt-v2 key made on the spot, and a password;
-- OpenVPN 2.7 and the OpenVPN 3 core (ovpncli) too when built. #netns: needs root.
local hooked = require "spec.helpers.hooked"
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local peers = require "spec.helpers.peers"

local PASSWORDS = [[
function office.on.auth(client, username, password)
  return username == "alice" and password == "s3cret", "wrong password"
end
]]

describe("#netns moonvpn profile", function()
	local t = hooked.each()
	if not t then return end
	local pki

	--- A PKI of our own, made once: a CA, the server, alice, and static keys.
	local function make_pki()
		if pki then return pki end
		pki = "/tmp/" .. netns.PREFIX .. "-profile-pki" -- kept across tests (their tmpdirs go)
		local ok, out = netns.sh(string.format("rm -rf " .. pki .. " && %s pki --dir %s init 'Office CA' && %s pki --dir %s server vpn-server " ..
			"&& %s pki --dir %s client alice && %s genkey %s/tc.key && %s genkey %s/ta.key && " ..
			"%s genkey --tls-crypt-v2-server %s/v2.key", mv.bin, pki, mv.bin, pki, mv.bin, pki, mv.bin, pki,
			mv.bin, pki, mv.bin, pki))
		assert(ok, out)
		return pki
	end

	--- Starts the server on UDP 1194 and TCP 443, public at 10.88.1.1, with
	-- `tls_extra` in its tls table.
	local function start(tls_extra, hooks, server_extra)
		local dir = make_pki()
		t:start(hooks, string.format([[
  listen = { "udp://0.0.0.0:1194", "tcp://0.0.0.0:443" },
  public = "10.88.1.1",
  tls = { ca = "%s/ca.crt", cert = "%s/issued/vpn-server.crt", key = "%s/private/vpn-server.key"%s },
%s]], dir, dir, dir, tls_extra or "", server_extra or ""), 1, { tls = false })
	end

	--- `moonvpn profile --config <the server's> NAME > FILE`; the file's path and what it says on stderr.
	local function profile(name)
		local path = netns.tmpdir() .. "/" .. name .. ".ovpn"
		local ok, out = netns.sh(string.format("{ %s profile --config %s %s > %s 2> %s.err; }", netns.quote(mv.bin),
			t.config, name, path, path))
		assert(ok, tostring(out) .. (netns.read_file(path .. ".err") or ""))
		return path, netns.read_file(path .. ".err") or ""
	end

	local function vpn_address(cn)
		local out = t:console(string.format('for _, c in ipairs(clients()) do if c.cn == %q then return c.vpn_address end end', cn))
		return out:match("[%d.]+")
	end

	local function pings_both_ways(ns, cn)
		assert.is_true((ns:sh("ping -n -c 2 -i 0.2 -W 3 10.77.0.1")), cn .. " reaches the server")
		assert.is_true((t.srv:sh("ping -n -c 2 -i 0.2 -W 3 " .. vpn_address(cn))), "the server reaches " .. cn)
	end

	it("writes remotes for both listeners, the name check and the ciphers; connects over UDP, and over TCP", function()
		start(', tls_crypt = "' .. make_pki() .. '/tc.key"')
		local path = profile("alice")
		local text = netns.read_file(path)
		assert.matches("\nremote 10.88.1.1 1194 udp\nremote 10.88.1.1 443 tcp\n", text, 1, true)
		assert.matches("\nverify%-x509%-name vpn%-server name\n", text)
		assert.matches("\nremote%-cert%-tls server\n", text)
		assert.matches("\ndata%-ciphers AES%-256%-GCM:AES%-128%-GCM:CHACHA20%-POLY1305\n", text)
		assert.matches("\n<tls%-crypt>\n%-%-%-%-%-BEGIN OpenVPN Static key V1", text)
		assert.is_nil(text:find("auth-user-pass", 1, true), "no password asked")
		assert.is_nil(text:find("Certificate:", 1, true), "PEM blocks only")
		local udp = t.clients[1]:spawn({ "openvpn", "--config", path })
		t:completed(udp)
		pings_both_ways(t.clients[1], "alice")
		assert.equal(0, udp:stop()) -- and its device is gone
		t:console('kick("alice", "bye")') -- the UDP session, which the client did not end
		for _ = 1, 200 do
			if t:console("return #clients()"):match("%d+") == "0" then break end
			netns.sleep(0.1)
		end
		local proc = t.clients[1]:spawn({ "openvpn", "--config", path, "--proto-force", "tcp-client" })
		t:completed(proc)
		pings_both_ways(t.clients[1], "alice")
		assert.matches("TCP connection established with %[AF_INET%]10%.88%.1%.1:443", proc:output())
	end)

	it("inlines tls-auth with the client's key-direction", function()
		start(', tls_auth = { key = "' .. make_pki() .. '/ta.key", direction = 0 }')
		local path = profile("alice")
		assert.matches("\nkey%-direction 1\n<tls%-auth>\n", netns.read_file(path))
		t:completed(t.clients[1]:spawn({ "openvpn", "--config", path }))
		pings_both_ways(t.clients[1], "alice")
	end)

	it("says dev tap for a TAP server", function()
		start(', tls_crypt = "' .. make_pki() .. '/tc.key"', nil, '  device = { type = "tap", name = "mvt0" },\n')
		local path = profile("alice")
		assert.matches("\nclient\ndev tap\n", netns.read_file(path))
		t:completed(t.clients[1]:spawn({ "openvpn", "--config", path }))
		pings_both_ways(t.clients[1], "alice")
	end)

	it("makes a tls-crypt-v2 client key on the spot and says its id", function()
		start(', tls_crypt_v2 = "' .. make_pki() .. '/v2.key"')
		local path, err = profile("alice")
		local id = err:match("alice: tls%-crypt%-v2 client key (%x+)")
		assert(id, err)
		assert.matches("\n<tls%-crypt%-v2>\n%-%-%-%-%-BEGIN OpenVPN tls%-crypt%-v2 client key", netns.read_file(path))
		t:completed(t.clients[1]:spawn({ "openvpn", "--config", path }))
		pings_both_ways(t.clients[1], "alice")
		assert.matches(id, t:console("return clients()[1].tls_crypt_v2_id"), 1, true)
	end)

	it("asks for a password when on.auth wants one", function()
		start(nil, PASSWORDS)
		local path = profile("alice")
		assert.matches("\nauth%-user%-pass\n", netns.read_file(path))
		local creds = netns.tmpdir() .. "/creds"
		netns.write_file(creds, "alice\ns3cret\n")
		t:completed(t.clients[1]:spawn({ "openvpn", "--config", path, "--auth-user-pass", creds }))
		pings_both_ways(t.clients[1], "alice")
		assert.matches('"alice"', t:console("return clients()[1].username"), 1, true)
	end)

	for _, kind in ipairs { "2.7", "ovpncli" } do
		it("connects " .. peers.LABEL[kind] .. " with the profile as written (tls-crypt-v2 and a password)", function()
			local why = peers.missing(kind)
			if why then return pending(why) end
			start(', tls_crypt_v2 = "' .. make_pki() .. '/v2.key"', PASSWORDS)
			local c = peers.start(t.clients[1], kind, { profile = profile("alice"), user = "alice", password = "s3cret" })
			c:connected(30, t.engine)
			pings_both_ways(t.clients[1], "alice")
		end)
	end
end)

describe("#netns moonvpn profile's mistakes", function()
	if not netns.is_root() then return pending("needs root") end
	local dir, config

	setup(function()
		dir = netns.tmpdir()
		local ok, out = netns.sh(string.format("%s pki --dir %s/pki init && %s pki --dir %s/pki server srv " ..
			"&& %s pki --dir %s/pki client carl && %s pki --dir %s/pki revoke carl",
			mv.bin, dir, mv.bin, dir, mv.bin, dir, mv.bin, dir))
		assert(ok, out)
		config = function(extra)
			return mv.write_config(string.format([[
local vpn = require "moonvpn"
vpn.server {
  network = "10.77.0.0/24",
  tls = { ca = "%s/pki/ca.crt", cert = "%s/pki/issued/srv.crt", key = "%s/pki/private/srv.key" },
%s
}
]], dir, dir, dir, extra))
		end
	end)
	teardown(function() netns.cleanup() end)

	local CASES = {
		{ "no public address", "", "bob", "has no public address: add public = {" },
		{ "no certificate for the name", 'public = "vpn.example.com",', "bob",
			"no certificate for bob: " },
		{ "a name that is a path", 'public = "vpn.example.com",', "../srv", "cannot name a client" },
		{ "a revoked certificate", 'public = "vpn.example.com",', "carl",
			"carl's certificate is revoked: issue a new one with: moonvpn pki --dir " },
		{ "a key file that cannot be read", 'public = "vpn.example.com",',
			"--cert DIR/pki/issued/srv.crt --key /nonexistent/k.key srv",
			"cannot read the client key /nonexistent/k.key: No such file or directory" },
		{ "a certificate file without PEM", 'public = "vpn.example.com",',
			"--cert /etc/hostname --key /etc/hostname srv",
			"the client certificate /etc/hostname: no PEM block (-----BEGIN ...) in it" },
		{ "--cert without --key", 'public = "vpn.example.com",', "--cert /etc/hostname srv",
			"--cert and --key go together" },
	}
	for _, case in ipairs(CASES) do
		it("says what is wrong: " .. case[1], function()
			local args = case[3]:gsub("DIR", dir)
			local status, out, err = mv.run(string.format("profile --config %s %s", config(case[2]), args))
			assert.are_not.equal(0, status)
			assert.equal("", out, "nothing on stdout")
			assert.matches(case[4], err, 1, true)
		end)
	end

	it("takes NAME.crt and NAME.key side by side in a directory of another layout", function()
		local flat = mv.pki() -- scripts/make-pki's
		local status, out, err = mv.run(string.format("profile --config %s client1", mv.write_config(string.format([[
local vpn = require "moonvpn"
vpn.server {
  network = "10.77.0.0/24", public = "vpn.example.com",
  tls = { ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key" },
}
]], flat, flat, flat))))
		assert.equal(0, status, err)
		assert.matches("<cert>\n" .. netns.read_file(flat .. "/client1.crt"):match("%-%-%-%-%-BEGIN.-%-%-%-%-%-END CERTIFICATE%-%-%-%-%-")
			:gsub("%p", "%%%0"), out)
		assert.matches("<key>\n%-%-%-%-%-BEGIN", out)
	end)

	it("refuses a public address that is not one", function()
		local status, _, err = mv.run("profile --config " .. config('public = "udp://vpn.example.com",') .. " srv")
		assert.are_not.equal(0, status)
		assert.matches('server.public: "udp://vpn.example.com" is not udp://HOST:PORT', err, 1, true)
	end)
end)
