-- SPDX-License-Identifier: MIT
-- `moonvpn pki` end to end, with stock OpenVPN 2.6 clients and the profiles
-- `moonvpn profile` writes (topology in spec/helpers/hooked.lua; the server
-- is also reached at 10.99.0.1, its public address, over TCP from every
-- client namespace): init, issue, connect, revoke, reload: the revoked client
-- is ended and cannot come back, the others stay, a new one gets in. And the
-- same on a directory easy-rsa made, where easy-rsa and moonvpn take turns.
-- #netns: needs root.
local hooked = require "spec.helpers.hooked"
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"

local EASYRSA = "/usr/share/easy-rsa/easyrsa"

describe("#netns moonvpn pki", function()
	local t = hooked.each()
	if not t then return end
	local dir

	local function sh(cmd)
		local ok, out = netns.sh(cmd)
		assert(ok, cmd .. ": " .. tostring(out))
		return out
	end

	local function pki(args)
		return sh(string.format("%s pki --dir %s %s", netns.quote(mv.bin), dir, args))
	end

	--- easy-rsa 3's own command on dir.
	local function easyrsa(args)
		return sh(string.format("cd %s/.. && EASYRSA_BATCH=1 EASYRSA_PKI=%s %s %s", dir, dir, EASYRSA, args))
	end

	--- The server with dir's server certificate `server` and its CRL, on TCP 443 of every
	-- address, public at 10.99.0.1; three client namespaces route that address to it.
	local function start(server)
		t:start(nil, string.format([[
  listen = "tcp://0.0.0.0:443",
  public = "10.99.0.1",
  tls = { ca = "%s/ca.crt", cert = "%s/issued/%s.crt", key = "%s/private/%s.key", crl = "%s/crl.pem" },
]], dir, dir, server, dir, server, dir), 3, { tls = false })
		assert(t.srv:sh("ip addr add 10.99.0.1/32 dev lo"))
		for i = 1, 3 do
			assert(t.clients[i]:sh(string.format("ip route add 10.99.0.1/32 via 10.88.%d.1", i)))
		end
	end

	--- `moonvpn profile NAME > NAME.ovpn` for the running server's configuration; its path.
	local function profile(name)
		local path = netns.tmpdir() .. "/" .. name .. ".ovpn"
		sh(string.format("{ %s profile --config %s %s > %s; }", netns.quote(mv.bin), t.config, name, path))
		return path
	end

	local function connect(i, path)
		local proc = t.clients[i]:spawn({ "openvpn", "--config", path })
		t:completed(proc)
		return proc
	end

	local function vpn_address(cn)
		local out = t:console(string.format('for _, c in ipairs(clients()) do if c.cn == %q then return c.vpn_address end end', cn))
		return out:match("[%d.]+")
	end

	local function pings_both_ways(i, cn)
		assert.is_true((t.clients[i]:sh("ping -n -c 2 -i 0.2 -W 3 10.77.0.1")), cn .. " reaches the server")
		assert.is_true((t.srv:sh("ping -n -c 2 -i 0.2 -W 3 " .. vpn_address(cn))), "the server reaches " .. cn)
	end

	local function connected_cns()
		return t:console("local t = {} for _, c in ipairs(clients()) do t[#t + 1] = c.cn end table.sort(t) " ..
			"return table.concat(t, ' ')"):match('^"(.*)"')
	end

	--- Revokes `cn` (with revoke, a function), reloads, and checks that the client
	-- `proc` is ended at once and that its profile no longer gets in.
	local function revoke_and_reload(revoke, cn, proc, i, path)
		revoke()
		t:console("reload()")
		local ok, log = t.engine:wait_log("%(" .. cn .. "%): ended: client certificate revoked", 20)
		assert(ok, log)
		ok = proc:wait_log("server%-pushed%-halt", 20)
		assert(ok, proc:output())
		proc:stop()
		for _ = 1, 200 do
			if not connected_cns():find(cn, 1, true) then break end
			netns.sleep(0.1)
		end
		assert.is_nil(connected_cns():find(cn, 1, true), cn .. " is out")
		local again = t.clients[i]:spawn({ "openvpn", "--config", path })
		ok, log = t.engine:wait_log("%(" .. cn .. "%): refused: client certificate revoked", 20)
		assert(ok, log)
		assert.falsy(again:output():find("Initialization Sequence Completed", 1, true))
		again:stop()
	end

	it("issues, connects, revokes and reloads: the revoked client is out for good, the other stays, a new one gets in", function()
		dir = netns.tmpdir() .. "/pki"
		pki("init 'Office CA'")
		pki("server vpn")
		pki("client alice")
		pki("client bob")
		start("vpn")
		local alice_ovpn, bob_ovpn = profile("alice"), profile("bob")
		local alice = connect(1, alice_ovpn)
		local bob = connect(2, bob_ovpn)
		pings_both_ways(1, "alice")
		pings_both_ways(2, "bob")
		assert.equal("alice bob", connected_cns())

		revoke_and_reload(function() pki("revoke bob") end, "bob", bob, 2, bob_ovpn)
		assert.matches("revoked +bob ", pki("list"))
		assert.is_nil(alice:status(), "alice is still connected")
		pings_both_ways(1, "alice")

		pki("client carol")
		connect(3, profile("carol"))
		pings_both_ways(3, "carol")
		assert.equal("alice carol", connected_cns())
	end)

	it("works on a directory easy-rsa made, and easy-rsa on it afterwards", function()
		if not netns.sh("test -x " .. EASYRSA) then
			return pending("easy-rsa is not installed (apt-get install easy-rsa; make deps does)")
		end
		dir = netns.tmpdir() .. "/pki"
		easyrsa("init-pki")
		easyrsa("--req-cn='Easy CA' build-ca nopass")
		easyrsa("build-server-full vpn nopass")
		easyrsa("build-client-full carol nopass")
		easyrsa("gen-crl")
		pki("client dave") -- ours, in easy-rsa's directory
		start("vpn")
		local carol_ovpn, dave_ovpn = profile("carol"), profile("dave")
		local carol = connect(1, carol_ovpn)
		local dave = connect(2, dave_ovpn)
		pings_both_ways(1, "carol")
		pings_both_ways(2, "dave")

		-- We revoke easy-rsa's certificate; easy-rsa revokes ours, in the index we wrote.
		revoke_and_reload(function() pki("revoke carol") end, "carol", carol, 1, carol_ovpn)
		revoke_and_reload(function()
			easyrsa("revoke dave")
			easyrsa("gen-crl")
		end, "dave", dave, 2, dave_ovpn)
		local list = pki("list")
		assert.matches("revoked +carol ", list)
		assert.matches("revoked +dave ", list)
		assert.matches("valid +vpn ", list)
	end)
end)

describe("moonvpn pki and easy-rsa", function()
	it("lists what it issued, valid, revoked and expired; and says when there is no CA", function()
		local dir = netns.tmpdir() .. "/pki"
		local function pki(args)
			return mv.run(string.format("pki --dir %s %s", dir, args))
		end
		local status, _, err = pki("list")
		assert.equal(1, status)
		assert.matches("no CA here (make one with: moonvpn pki --dir " .. dir .. " init", err, 1, true)
		assert.equal(0, (pki("init")))
		assert.equal(0, (pki("client a")))
		assert.equal(0, (pki("client b")))
		assert.equal(0, (pki("revoke b")))
		-- An index line for a certificate that expired in 2020 (as easy-rsa leaves it: still V).
		netns.write_file(dir .. "/index.txt", netns.read_file(dir .. "/index.txt") ..
			"V\t200101000000Z\t\t0A\tunknown\t/CN=old\n")
		local out
		status, out = pki("list")
		assert.equal(0, status)
		assert.matches("\nvalid +a +%d+%-%d+%-%d+ +%- +%x+\n", out)
		assert.matches("\nrevoked +b +[%d-]+ +[%d-]+ +%x+\n", out)
		assert.matches("\nexpired +old +2020%-01%-01 +%- +0A\n", out)
		netns.cleanup()
	end)

	it("lets easy-rsa issue and revoke in a directory moonvpn pki made, and reads what it did", function()
		if not netns.sh("test -x " .. EASYRSA) then
			return pending("easy-rsa is not installed (apt-get install easy-rsa; make deps does)")
		end
		local dir = netns.tmpdir() .. "/pki"
		local function sh(cmd)
			local ok, out = netns.sh(cmd)
			assert(ok, cmd .. ": " .. tostring(out))
			return out
		end
		local function easyrsa(args)
			return sh(string.format("EASYRSA_BATCH=1 EASYRSA_PKI=%s EASYRSA_SSL_CONF=%s %s %s",
				dir, "/usr/share/easy-rsa/openssl-easyrsa.cnf", EASYRSA, args))
		end
		local function pki(args) return sh(string.format("%s pki --dir %s %s", netns.quote(mv.bin), dir, args)) end
		pki("init")
		pki("client amy")
		easyrsa("build-client-full zoe nopass")
		easyrsa("revoke amy")
		easyrsa("gen-crl")
		pki("revoke zoe")
		local list = pki("list")
		assert.matches("revoked +amy ", list)
		assert.matches("revoked +zoe ", list)
		assert.equal("2", sh("openssl crl -in " .. dir .. "/crl.pem -noout -text | grep -c 'Serial Number'"):match("%d+"))
		sh("openssl verify -CAfile " .. dir .. "/ca.crt " .. dir .. "/revoked/certs_by_serial/*.crt")
		netns.cleanup()
	end)
end)
