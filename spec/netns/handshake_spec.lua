-- SPDX-License-Identifier: MIT
-- Stock OpenVPN 2.6 clients complete their handshake with a moonvpn server:
--
--   [ mvt-srv: moonvpn ] --veth 10.88.N.1 / 10.88.N.2-- [ mvt-cliN: openvpn ]   (N = 1..5)
--
-- Each client uses an ordinary .ovpn profile (client, dev tun, proto udp,
-- remote, remote-cert-tls server, keys inline). #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

describe("#netns stock openvpn clients against moonvpn", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local srv, engine, socket, config
	local clients, links = {}, {}

	-- A server namespace with n client namespaces, each on its own veth pair.
	local function topology(n, tls_extra, server_extra)
		local pki = mv.pki()
		srv = netns.new()
		for i = 1, n do
			clients[i] = netns.new()
			links[i] = select(2, netns.veth(srv, "10.88." .. i .. ".1/24", clients[i], "10.88." .. i .. ".2/24"))
		end
		socket = netns.tmpdir() .. "/console.sock"
		config = mv.write_config(mv.server_config(string.format([[
  device = { name = "mvt0" },
  console = "%s",
  tls = { ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key"%s },
%s
]], socket, pki, pki, pki, tls_extra or "", server_extra or ""), { tls = false }))
		engine = srv:spawn({ mv.bin, config })
		local ok, out = engine:wait_log("engine: moonvpn [%d.]+ started", 10)
		assert(ok, out)
	end

	local function connect(i, opts)
		opts.remote = "10.88." .. i .. ".1"
		return clients[i]:spawn({ "openvpn", "--config", openvpn.profile(mv.pki(), opts) })
	end

	local function completed(client)
		local ok, out = client:wait_log("Initialization Sequence Completed", 20)
		assert(ok, "openvpn:\n" .. out .. "\n--- moonvpn:\n" .. engine:output())
		return out
	end

	after_each(function()
		for _, c in ipairs(clients) do c:sh("true") end
		if engine then assert.are.equal(0, engine:stop()) end
		engine, clients, links = nil, {}, {}
		netns.cleanup()
	end)

	for _, wrap in ipairs { "tls-crypt", "tls-auth" } do
		it("completes with " .. wrap .. " and the client has the pushed address", function()
			local extra = wrap == "tls-crypt" and string.format(', tls_crypt = "%s/tc.key"', mv.pki())
				or string.format(', tls_auth = { key = "%s/ta.key", direction = 0 }', mv.pki())
			topology(1, extra)
			local out = completed(connect(1, { wrap = wrap }))
			assert.truthy(out:find("ifconfig 10.77.0.2 255.255.255.0", 1, true), out)
			assert.truthy(out:find("cipher AES-256-GCM", 1, true), out)
			local ok, addr = clients[1]:sh("ip addr show dev tun0")
			assert(ok, addr)
			assert.truthy(addr:find("inet 10.77.0.2/24", 1, true), addr)
		end)
	end

	it("pushes DNS servers and the domain as 2.6's dns option, which the client applies", function()
		topology(1, string.format(', tls_crypt = "%s/tc.key"', mv.pki()),
			'  push = { dns = { "10.77.0.53", "fd00:77::53" }, domain = "corp.example" },')
		-- The up script's environment shows what the client took (2.6 exports dns_*).
		local out = completed(connect(1, { wrap = "tls-crypt", extra = "script-security 2\nup \"/bin/sh -c env\"\n" }))
		assert.truthy(out:find("dns server 0 address 10.77.0.53 fd00:77::53", 1, true), out)
		assert.truthy(out:find("dns_server_1_address_1=10.77.0.53", 1, true), out)
		assert.truthy(out:find("dns_server_1_address_2=fd00:77::53", 1, true), out)
		assert.truthy(out:find("dns_search_domain_1=corp.example", 1, true), out)
		local reply = out:match("Received control message: '(PUSH_REPLY[^']*)'")
		assert.truthy(reply and not reply:find("dhcp-option", 1, true), "dns only, no dhcp-option: " .. out)
	end)

	it("gives five clients at once five distinct addresses, all in clients()", function()
		topology(5, string.format(', tls_crypt = "%s/tc.key"', mv.pki()))
		local procs = {}
		for i = 1, 5 do procs[i] = connect(i, { wrap = "tls-crypt", cert = "client" .. i }) end
		for i = 1, 5 do completed(procs[i]) end
		-- One do-block: a console line's locals end with the line, as in any Lua REPL.
		local status, out = mv.console(socket, [[
do
local seen, n = {}, 0
for _, c in ipairs(clients()) do
  assert(c.state == "active" and c.cipher == "AES-256-GCM", c.state)
  assert(not seen[c.vpn_address], "address given twice: " .. c.vpn_address)
  seen[c.vpn_address] = c.cn
  n = n + 1
end
return n
end]])
		assert.are.equal(0, status, out)
		assert.are.equal("5\n", out)
		local _, list = mv.console(socket, "clients()")
		for i = 1, 5 do assert.truthy(list:find('cn = "client' .. i .. '"', 1, true), list) end
		assert.truthy(list:find('real_address = "10.88.3.2:', 1, true), list)
		assert.truthy(list:find("connected_since = %d+"), list)
		-- The server's device side finds each client by its VPN address.
		for i = 2, 6 do
			local ok, ping = srv:sh("ping -c 1 -W 2 10.77.0." .. i)
			assert(ok, ping)
		end
	end)

	for _, c2c in ipairs { true, false } do
		it("lets clients reach each other " .. (c2c and "inside the server with client_to_client"
			or "only through the kernel without it"), function()
			topology(2, string.format(', tls_crypt = "%s/tc.key"', mv.pki()),
				"  client_to_client = " .. tostring(c2c) .. ",")
			-- The kernel does not forward: only the server itself can pass the packets on.
			assert(srv:sh("sysctl -qw net.ipv4.ip_forward=0"))
			local a = connect(1, { wrap = "tls-crypt", cert = "client1" })
			completed(a)
			local b = connect(2, { wrap = "tls-crypt", cert = "client2" })
			completed(b)
			local ok, out = clients[1]:sh("ping -c 3 -i 0.2 -W 1 10.77.0.3")
			assert.are.equal(c2c, ok, out)
			local _, forwarded = mv.console(socket, "stats().data_out")
			assert.is_true(tonumber(forwarded) >= (c2c and 3 or 0), forwarded)
		end)
	end

	for _, case in ipairs {
		{ "stranger", "client certificate signed by an unknown CA" },
		{ "expired", "client certificate expired" },
		{ "revoked", "client certificate revoked" },
		-- A second CN or a NUL in it would let `cn` rules read another name (issue 11 item 7).
		{ "two-cn", "client certificate has more than one common name", "client3" },
		{ "nul-cn", "client certificate common name contains a NUL byte", "client1?evil" },
	} do
		it("refuses a client whose certificate is " .. case[1] .. " and logs why", function()
			topology(1, string.format(', crl = "%s/crl.pem"', mv.pki()))
			local client = connect(1, { cert = case[1] })
			local ok, out = engine:wait_log("refused: " .. case[2]:gsub("%p", "%%%0"), 15)
			assert(ok, out)
			assert.truthy(out:find("(" .. (case[3] or case[1]) .. "): refused", 1, true), out)
			assert.falsy(client:output():find("Initialization Sequence Completed", 1, true))
			local _, n = mv.console(socket, "#clients()")
			client:stop()
			assert.truthy(n == "0\n" or n == "1\n")
		end)
	end

	it("carries IPv4 and IPv6 to and from a client with both addresses", function()
		topology(1, "", '  network6 = "fd77::/64",')
		local client = connect(1, {})
		completed(client)
		-- Each reply leaves the server's device for the client's VPN address of its family.
		for _, cmd in ipairs { "ping -c 2 -i 0.2 -W 2 10.77.0.1", "ping -6 -c 2 -i 0.2 -W 2 fd77::1" } do
			local ok, out = clients[1]:sh(cmd)
			assert(ok, out .. "\n--- moonvpn:\n" .. engine:output())
		end
		client:stop()
	end)

	it("sends AUTH_FAILED with the reason when no cipher is shared", function()
		topology(1, "", '  ciphers = { "AES-256-GCM" },')
		local client = connect(1, { extra = "data-ciphers AES-128-GCM\n" })
		local ok, out = client:wait_log("AUTH_FAILED", 15)
		assert(ok, out .. "\n--- moonvpn:\n" .. engine:output())
		assert.truthy(out:find("no shared cipher", 1, true), out)
		assert.truthy(engine:output():find("refused: Data channel cipher negotiation failed", 1, true))
		client:stop()
	end)

	it("negotiates the server's preferred cipher among the client's", function()
		topology(1, "", '  ciphers = { "CHACHA20-POLY1305", "AES-256-GCM" },')
		local out = completed(connect(1, {}))
		assert.truthy(out:find("cipher CHACHA20-POLY1305", 1, true), out)
	end)

	it("honours the client's EXIT and frees its address", function()
		topology(1, "")
		local client = connect(1, { extra = "explicit-exit-notify 1\n" })
		completed(client)
		client:signal("TERM")
		local ok, out = engine:wait_log("session ended: the client sent EXIT", 15)
		assert(ok, out)
		local _, n = mv.console(socket, "#clients()")
		assert.are.equal("0\n", n)
		client:wait(10)
		-- The address is free again: the next client gets the same first address.
		clients[1]:sh("ip link del tun0 2>/dev/null; true")
		local out2 = completed(connect(1, {}))
		assert.truthy(out2:find("ifconfig 10.77.0.", 1, true), out2)
	end)

	-- Issue 11 item 3: revoked and expired certificates lose their tunnel.
	local function client_count()
		local status, n = mv.console(socket, "#clients()")
		assert.are.equal(0, status, n)
		return tonumber(n)
	end

	it("ends a connected client a reload's new CRL revokes, and keeps the others", function()
		topology(2)
		local bad = connect(1, { cert = "revoked" })
		completed(bad)
		local good = connect(2, { cert = "client1" })
		completed(good)
		-- The same configuration, now with the CRL that revokes "revoked".
		local text = netns.read_file(config):gsub('(key = "[^"]*")', '%1, crl = "' .. mv.pki() .. '/crl.pem"', 1)
		netns.write_file(config, text)
		local status, out = mv.console(socket, "reload()")
		assert.are.equal(0, status, out)
		local ok, log = engine:wait_log("%(revoked%): ended: client certificate revoked", 20)
		assert(ok, log)
		ok, out = bad:wait_log("server%-pushed%-halt", 20)
		assert(ok, out)
		for _ = 1, 200 do
			if client_count() == 1 then break end
			netns.sleep(0.1)
		end
		local _, list = mv.console(socket, "clients()")
		assert.are.equal(1, client_count(), list)
		assert.truthy(list:find('cn = "client1"', 1, true), list)
		-- For the record (not asserted): the engine's own timestamps.
		local function at(pattern)
			local h, m, sec = engine:output():match("T(%d+):(%d+):([%d.]+)Z[^\n]*" .. pattern)
			return h and (h * 3600 + m * 60 + sec)
		end
		local from, to = at("reload requested"), at("%(revoked%): session ended")
		if from and to then
			io.stderr:write(string.format("\n  [revoked client's session ended %.3f s after the reload]\n", to - from))
		end
		ok, out = clients[2]:sh("ping -c 2 -i 0.2 -W 2 10.77.0.1")
		assert(ok, out)
		assert.falsy(good:status(), good:output())
	end)

	it("ends a session whose certificate expired since at its next renegotiation", function()
		-- A client certificate valid for 40 s from now.
		local pki = mv.pki()
		local ok, out = netns.sh(string.format("cd %s && openssl genpkey -algorithm EC " ..
			"-pkeyopt ec_paramgen_curve:P-256 -out short.key && openssl req -new -key short.key " ..
			"-subj /CN=short -out .ca/short.csr && openssl ca -batch -config .ca/ca.cnf -cert ca.crt " ..
			"-keyfile ca.key -extensions client_ext -in .ca/short.csr -out short.crt -notext " ..
			"-enddate %s 2>&1", pki, os.date("!%Y%m%d%H%M%SZ", os.time() + 40)))
		assert(ok, out)
		topology(1, "", "  renegotiate = { seconds = 5 },")
		completed(connect(1, { cert = "short" }))
		ok, out = engine:wait_log("%(short%): session ended: TLS refused: client certificate expired", 90)
		assert(ok, out)
		assert.are.equal(0, client_count())
	end)

	-- 65 s of waiting for the engine's fixed 60 s hand-window: on the release build only.
	netns.it_release("retires a key whose renegotiation never completes (renegotiation interval + hand-window)",
		"a 65 s wait for the fixed hand-window; the session end it leads to is the one every ended session "
		.. "takes there", function()
		topology(1, "", "  renegotiate = { seconds = 5 },")
		local client = connect(1, {})
		completed(client)
		-- From now on the client's control packets are lost (soft and hard resets,
		-- P_CONTROL_V1, P_ACK_V1: the opcode in the top 5 bits of the first UDP
		-- payload byte); its data still arrives, so only the key's age can end it.
		local dev = links[1]
		local tc = {
			"tc qdisc add dev " .. dev .. " root handle 1: htb default 1",
			"tc class add dev " .. dev .. " parent 1: classid 1:1 htb rate 1gbit",
			"tc class add dev " .. dev .. " parent 1: classid 1:2 htb rate 8bit",
			"tc qdisc add dev " .. dev .. " parent 1:2 handle 20: pfifo limit 0",
		}
		for _, byte in ipairs { "0x18", "0x20", "0x28", "0x38" } do
			tc[#tc + 1] = "tc filter add dev " .. dev .. " parent 1: protocol ip u32 match u8 " ..
				byte .. " 0xf8 at 28 flowid 1:2"
		end
		for _, cmd in ipairs(tc) do
			local ok, out = clients[1]:sh(cmd .. " 2>&1")
			assert(ok, cmd .. ": " .. out)
		end
		local ok, out = clients[1]:sh("ping -c 2 -i 0.2 -W 2 10.77.0.1")
		assert(ok, out)
		ok, out = engine:wait_log("session ended: key 0 expired: no renegotiation completed within 65 s", 150)
		assert(ok, out)
		ok, out = clients[1]:sh("ping -c 2 -i 0.2 -W 1 10.77.0.1")
		assert.is_false(ok, out)
		client:stop()
	end)
end)

-- Issue 11 item 9: what a renegotiation's key-method-2 message may not do.
describe("#netns a renegotiation of a certificate client", function()
	local hooked = require "spec.helpers.hooked"
	local t = hooked.each()
	if not t then return end

	-- True when the bytes of marker are anywhere in the writable memory of process pid.
	local function in_memory(pid, marker)
		local maps = assert(io.open("/proc/" .. pid .. "/maps"))
		local mem = assert(io.open("/proc/" .. pid .. "/mem", "rb"))
		local found = false
		for line in maps:lines() do
			local from, to, perms = line:match("^(%x+)-(%x+) (%S+)")
			if perms:sub(1, 2) == "rw" and not found then
				local at, stop = tonumber(from, 16), tonumber(to, 16)
				while at < stop and not found do
					local n = math.min(1 << 20, stop - at)
					local chunk = mem:seek("set", at) and mem:read(n + #marker - 1) or ""
					found = chunk:find(marker, 1, true) ~= nil
					at = at + n
				end
			end
		end
		maps:close()
		mem:close()
		return found
	end

	it("keeps the admitted username and leaves its password nowhere in memory", function()
		t:start([[
function office.on.auth(client, username, password)
  return username == "alice" and password == "first-password"
end
]], "  renegotiate = { seconds = 3 },\n", 1)
		-- auth-nocache: the stock client reads the file again for each key.
		local file = netns.tmpdir() .. "/up.txt"
		netns.write_file(file, "alice\nfirst-password\n")
		local client = t.clients[1]:spawn({ "openvpn", "--config", require("spec.helpers.openvpn").profile(
			mv.pki(), { remote = "10.88.1.1", extra = "auth-user-pass " .. file .. "\nauth-nocache\n" }) })
		t:completed(client)
		netns.write_file(file, "mallory\nRENEGOTIATION-SECRET-4711\n")
		local ok, log = t.engine:wait_log("renegotiated: data now on key 1", 20)
		assert(ok, log)
		assert.truthy(log:find("key 1 came with another username than the admitted one, which stays", 1, true), log)
		assert.matches('"alice"', t:console("return clients()[1].username"), 1, true)
		-- The sanitizers reserve terabytes of address space: the release build's run scans.
		if (os.getenv("SANITIZE") or "") == "" then
			assert.is_false(in_memory(t.engine.pid, "RENEGOTIATION-SECRET-4711"))
		end
	end)
end)
