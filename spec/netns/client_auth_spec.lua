-- SPDX-License-Identifier: MIT
-- A moonvpn client's logins beyond a given password (issue 16 item 2), against a
-- stock OpenVPN 2.6 server that takes passwords alone through
-- auth-user-pass-verify SCRIPT via-file:
--
--   [ mvt-srv: openvpn, tun 10.77.0.1 ] --veth 10.88.2.1 / .2-- [ mvt-cli: moonvpn client ]
--
-- auth_retry "none" stops the client with the server's reason (set by the script
-- through 2.6's auth_failed_reason_file), "nointeract" tries again.
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
	local function start_server(decide)
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
				.. "script-security 2\nauth-user-pass-verify " .. dir .. "/check.sh via-file\n" }) })
		assert(server:wait_log("Initialization Sequence Completed", 10), server:output())
	end

	local function client_config(auth)
		local pki = mv.pki()
		return mv.write_config(mv.client_config("10.88.2.1", string.format([[
  device = { name = "mvc0" },
  tls = { ca = "%s/ca.crt", tls_crypt = "%s/tc.key" },
  reconnect = { initial = 1, max = 1 },
  %s
]], pki, pki, auth), { tls = false }), "client.lua")
	end

	local function start_client(auth)
		client = cli:spawn({ mv.bin, client_config(auth) })
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

	after_each(function()
		if client then assert.are.equal(0, client:stop()) end
		if server then server:stop() end
		client, server = nil, nil
		netns.cleanup()
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

	it("says what is wrong with auth_retry in the configuration", function()
		local pki = mv.pki()
		for _, case in ipairs {
			{ 'auth = { username = "alice", password = "p" }, auth_retry = "never",',
				"client.auth_retry:" },
		} do
			local path = mv.write_config(mv.client_config("192.0.2.1", string.format(
				'  tls = { ca = "%s/ca.crt" },\n  %s', pki, case[1]), { tls = false }), "auth.lua")
			local status, _, err = mv.run("--check " .. path)
			assert.are_not.equal(0, status)
			assert.truthy(err:find(case[2], 1, true), err)
		end
	end)
end)
