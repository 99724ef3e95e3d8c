-- SPDX-License-Identifier: MIT
-- `moonvpn client PROFILE.ovpn`: the profiles people have, used unchanged
-- against stock servers (Debian's 2.6 and the 2.7.6 peer):
--
--   [ srv: openvpn, tun 10.77.0.1 ] --veth 10.88.2.1 / .2-- [ cli: moonvpn client X.ovpn ]
--
-- Two kinds of profile: one written like OpenVPN's sample client.conf, with
-- its ca/cert/key/tls-auth files beside it and the server by host name (the
-- client namespace's /etc/hosts, /etc/netns/NAME/hosts, which `ip netns exec`
-- mounts), and an Access Server-style unified one with everything inline.
--
-- #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"
local peers = require "spec.helpers.peers"

local PEER_27 = peers.DIR .. "/openvpn-2.7/sbin/openvpn"

describe("#netns moonvpn client PROFILE.ovpn", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local srv, cli, server, client, server_config

	-- A stock server: opts.tcp, opts.wrap ("tls-auth" or "tls-crypt"), opts.bin, opts.extra.
	local function start_server(opts)
		local pki = mv.pki()
		srv, cli = netns.new(), netns.new()
		netns.veth(srv, "10.88.2.1/24", cli, "10.88.2.2/24")
		local extra = (opts.wrap == "tls-auth" and ("tls-auth " .. pki .. "/ta.key 0\n") or "") .. (opts.extra or "")
		local config = openvpn.server(pki, { listen = "10.88.2.1", wrap = opts.wrap == "tls-crypt" and "tls-crypt" or nil,
			proto = opts.tcp and "tcp-server" or nil, port = opts.tcp and 443 or nil, extra = extra })
		server_config = config
		server = srv:spawn({ opts.bin or "openvpn", "--config", config })
		assert(server:wait_log("Initialization Sequence Completed", 10), server:output())
	end

	-- OpenVPN's sample client.conf, cut to what a Linux client keeps: relative file
	-- names, the server by name, tls-auth with key direction 1.
	local function sample_profile(opts)
		local pki, dir = mv.pki(), netns.tmpdir()
		for _, f in ipairs { "ca.crt", "client1.crt", "client1.key", "ta.key" } do
			assert(netns.sh(string.format("cp %s/%s %s/", pki, f, dir)))
		end
		local path = dir .. "/office.ovpn"
		netns.write_file(path, table.concat({
			"##############################################",
			"# Sample client-side OpenVPN 2.6 config file #",
			"##############################################",
			"client", "dev tun",
			"proto " .. (opts.tcp and "tcp" or "udp"),
			"remote vpn.office.test " .. (opts.tcp and 443 or 1194),
			";remote my-server-2 1194", "resolv-retry infinite", "nobind",
			";user nobody", ";group nogroup", "persist-key", "persist-tun", ";mute-replay-warnings",
			"ca ca.crt", "cert client1.crt", "key client1.key",
			"remote-cert-tls server", "tls-auth ta.key 1", "cipher AES-256-GCM", "verb 3", ";mute 20",
			opts.extra or "", "",
		}, "\n"))
		assert(netns.sh("mkdir -p /etc/netns/" .. cli.name))
		netns.write_file("/etc/netns/" .. cli.name .. "/hosts", "127.0.0.1 localhost\n10.88.2.1 vpn.office.test\n")
		-- Names not in hosts go to a resolver inside the namespace, where nothing answers.
		netns.write_file("/etc/netns/" .. cli.name .. "/resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
		return path
	end

	-- An Access Server-style unified profile: everything inline, tls-crypt.
	local function unified_profile(opts)
		local path = openvpn.profile(mv.pki(), { remote = "10.88.2.1", wrap = "tls-crypt", no_cert = opts.no_cert,
			proto = opts.tcp and "tcp-client" or "udp", port = opts.tcp and 443 or 1194,
			extra = "setenv FORWARD_COMPATIBLE 1\nsetenv UV_ID 0123abcd\nauth-nocache\n"
				.. "data-ciphers AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305\nreneg-sec 604800\n"
				.. "verify-x509-name server name\n" .. (opts.extra or "") })
		-- moonvpn tells a profile by its name; the helper writes client.ovpn.
		return path
	end

	-- A profile (moonvpn client X.ovpn), or a configuration that starts from one (X.lua).
	local function connect(profile)
		client = cli:spawn(profile:match("%.lua$") and { mv.bin, profile } or { mv.bin, "client", profile })
		-- 40 s: an attempt at a remote that does not answer takes 10 s.
		local ok, out = client:wait_log("connected, address", 40)
		assert(ok, out .. "\n--- server:\n" .. server:output())
		ok, out = cli:sh("ping -c 3 -i 0.2 -W 2 10.77.0.1")
		assert(ok, out .. "\n--- client:\n" .. client:output() .. "\n--- server:\n" .. server:output())
		assert.truthy(out:find("3 received", 1, true), out)
	end

	after_each(function()
		if client then assert.are.equal(0, client:stop()) end
		if server then server:stop() end
		if cli then netns.sh("rm -rf /etc/netns/" .. cli.name) end
		client, server, cli, srv = nil, nil, nil, nil
		netns.cleanup()
	end)

	for _, case in ipairs {
		{ "a sample client.conf-style profile", sample_profile, "tls-auth", "2.6", false },
		{ "a sample client.conf-style profile", sample_profile, "tls-auth", "2.6", true },
		{ "a unified profile", unified_profile, "tls-crypt", "2.6", false },
		{ "a unified profile", unified_profile, "tls-crypt", "2.6", true },
		{ "a sample client.conf-style profile", sample_profile, "tls-auth", "2.7", false },
		{ "a unified profile", unified_profile, "tls-crypt", "2.7", true },
	} do
		local what, make, wrap, kind, tcp = table.unpack(case)
		local name = string.format("connects with %s over %s to the %s server", what, tcp and "TCP" or "UDP",
			peers.LABEL[kind])
		if peers.missing(kind) then
			pending(name .. ": " .. peers.missing(kind))
		else
			it(name, function()
				start_server({ tcp = tcp, wrap = wrap, bin = kind == "2.7" and PEER_27 or nil })
				if kind == "2.7" then assert.matches("OpenVPN 2%.7", server:output()) end
				connect(make({ tcp = tcp }))
				if make == sample_profile then
					-- The name was resolved in the client's namespace, the files found beside the profile.
					assert.truthy(client:output():find("10.88.2.1", 1, true), client:output())
				end
			end)
		end
	end

	it("applies the profile's redirect-gateway and pull-filter to what the server pushes", function()
		start_server({ wrap = "tls-crypt", extra = 'push "route 10.99.0.0 255.255.0.0"\n'
			.. 'push "route 10.98.0.0 255.255.0.0"\n' })
		connect(unified_profile({ extra = "redirect-gateway def1\npull-filter ignore \"route 10.99.\"\n" }))
		local _, routes = cli:sh("ip -4 route show")
		assert.truthy(routes:find("0.0.0.0/1 ", 1, true), routes)
		assert.truthy(routes:find("128.0.0.0/1 ", 1, true), routes)
		assert.truthy(routes:find("10.98.0.0/16", 1, true), routes)
		assert.falsy(routes:find("10.99.0.0/16", 1, true), routes)
	end)

	it("ignores the pushed routes with route-nopull", function()
		start_server({ wrap = "tls-crypt", extra = 'push "route 10.98.0.0 255.255.0.0"\n' })
		connect(unified_profile({ extra = "route-nopull\n" }))
		local _, routes = cli:sh("ip -4 route show")
		assert.falsy(routes:find("10.98.0.0/16", 1, true), routes)
	end)

	it("routes the profile's route and route-ipv6 lines through the tunnel, with route-nopull too, until exit", function()
		start_server({ wrap = "tls-crypt", extra = 'push "route 10.98.0.0 255.255.0.0"\n' })
		-- A network behind the server: its address on the server's loopback.
		assert(srv:sh("ip addr add 10.97.0.1/32 dev lo"))
		connect(unified_profile({ extra = "route-nopull\nroute 10.97.0.0 255.255.0.0\nroute 10.96.1.0 "
			.. "255.255.255.0 vpn_gateway\nroute-ipv6 2001:db8:97::/48\n" }))
		local _, routes = cli:sh("ip -4 route show")
		assert.truthy(routes:find("10.97.0.0/16 dev", 1, true), routes)
		assert.truthy(routes:find("10.96.1.0/24 dev", 1, true), routes)
		assert.falsy(routes:find("10.98.0.0/16", 1, true), routes)
		local _, routes6 = cli:sh("ip -6 route show")
		assert.truthy(routes6:find("2001:db8:97::/48 dev", 1, true), routes6)
		local ok, out = cli:sh("ping -c 3 -i 0.2 -W 2 10.97.0.1")
		assert(ok, out .. "\n--- client:\n" .. client:output() .. "\n--- server:\n" .. server:output())
		assert.are.equal(0, client:stop())
		client = nil
		_, routes = cli:sh("ip -4 route show")
		assert.falsy(routes:find("10.97.0.0/16", 1, true), routes)
	end)

	it("tries a profile's <connection> blocks in order: a dead one, then the server", function()
		start_server({ tcp = true, wrap = "tls-crypt" })
		-- The first block's server does not answer (nothing listens on 10.88.2.9); the
		-- second's is the server, over TCP by the proto before the blocks.
		connect(unified_profile({ tcp = true, extra = "<connection>\nremote 10.88.2.9 1194 udp\n"
			.. "explicit-exit-notify 1\n</connection>\n<connection>\nremote 10.88.2.1 443\n"
			.. "connect-timeout 5\n</connection>\n" }))
		assert.truthy(client:output():find("10.88.2.9", 1, true), client:output())
	end)

	-- client1's certificate, key and the CA as an inline <pkcs12> block, with password ("" none).
	local function pkcs12_block(password)
		local pki, dir = mv.pki(), netns.tmpdir()
		assert(netns.sh(string.format("openssl pkcs12 -export -in %s/client1.crt -inkey %s/client1.key "
			.. "-certfile %s/ca.crt -passout pass:%s -out %s/c.p12 && openssl base64 -in %s/c.p12 -out %s/c.b64",
			pki, pki, pki, password, dir, dir, dir)))
		return "<pkcs12>\n" .. netns.read_file(dir .. "/c.b64") .. "</pkcs12>\n"
	end

	it("connects with a pkcs12 bundle inline (no password), as some providers' profiles carry it", function()
		start_server({ wrap = "tls-crypt" })
		connect(unified_profile({ no_cert = true, extra = pkcs12_block("") }))
	end)

	it("opens a pkcs12 bundle with a password from askpass FILE, and says when the password is wrong", function()
		start_server({ wrap = "tls-crypt" })
		local dir = netns.tmpdir()
		netns.write_file(dir .. "/pass.txt", "s3cret\n")
		local extra = pkcs12_block("s3cret") .. "askpass " .. dir .. "/pass.txt\n"
		netns.write_file(dir .. "/wrong.txt", "guess\n")
		local wrong = unified_profile({ no_cert = true, extra = extra:gsub("pass%.txt", "wrong.txt") })
		local ok, out = cli:sh(netns.quote(mv.bin) .. " client " .. netns.quote(wrong) .. " 2>&1 < /dev/null")
		assert.is_false(ok)
		assert.truthy(out:find("the password for the PKCS#12 bundle", 1, true), out)
		assert.truthy(out:find("is wrong", 1, true), out)
		-- No askpass, and no terminal to ask on: the start says what to give.
		local none = unified_profile({ no_cert = true, extra = extra:gsub("askpass [^\n]*\n", "") })
		ok, out = cli:sh(netns.quote(mv.bin) .. " client " .. netns.quote(none) .. " 2>&1 < /dev/null")
		assert.is_false(ok)
		assert.truthy(out:find("needs a password, and none was given: give tls.key_password (askpass in a "
			.. "profile), or run moonvpn on a terminal to be asked", 1, true), out)
		connect(unified_profile({ no_cert = true, extra = extra }))
	end)

	it("opens an encrypted key with the password Lua gives (tls.key_password)", function()
		start_server({ wrap = "tls-crypt" })
		local pki, dir = mv.pki(), netns.tmpdir()
		assert(netns.sh(string.format("openssl pkey -in %s/client1.key -aes256 -passout pass:s3cret -out %s/enc.key",
			pki, dir)))
		local profile = unified_profile({})
		local config = dir .. "/client.lua"
		netns.write_file(config, string.format('local vpn = require "moonvpn"\nvpn.client {\n  profile = %q,\n'
			.. '  tls = { key = %q, key_password = "s3cret" },\n}\n', profile, dir .. "/enc.key"))
		connect(config)
	end)

	-- A server with comp-lzo or compress expects the framing byte; the client puts it
	-- on (and takes it off) without compressing.
	for _, case in ipairs {
		{ "comp-lzo no", "comp-lzo no\n", "comp-lzo no\n" },
		{ "compress stub-v2", "compress stub-v2\n", "compress stub-v2\n" },
		{ "compress migrate (the server pushes compress stub-v2)", "compress migrate\n", "comp-lzo\n" },
	} do
		local what, server_line, profile_line = table.unpack(case)
		it("frames its packets for a stock 2.6 server with " .. what, function()
			start_server({ wrap = "tls-crypt", extra = "allow-compression yes\n" .. server_line })
			connect(unified_profile({ extra = profile_line }))
			-- Larger packets too: the framing byte must not break them.
			local ok, out = cli:sh("ping -c 3 -i 0.2 -W 2 -s 1300 10.77.0.1")
			assert(ok, out .. "\n--- client:\n" .. client:output() .. "\n--- server:\n" .. server:output())
		end)
	end

	it("refuses a profile with a directive it does not support, naming the line", function()
		srv, cli = netns.new(), netns.new()
		local path = sample_profile({ extra = "http-proxy proxy.example 3128" })
		local ok, out = cli:sh(netns.quote(mv.bin) .. " client --check " .. netns.quote(path) .. " 2>&1")
		assert.is_false(ok)
		assert.truthy(out:find(path .. ":24: connecting through an HTTP proxy is not supported", 1, true), out)
		ok, out = cli:sh(netns.quote(mv.bin) .. " client " .. netns.quote(path) .. " 2>&1")
		assert.is_false(ok)
		assert.truthy(out:find(path .. ":24: connecting through an HTTP proxy is not supported", 1, true), out)
		ok, out = cli:sh(netns.quote(mv.bin) .. " client --check " .. netns.quote((path:gsub("%.ovpn$", ".conf")))
			.. " 2>&1")
		assert.is_false(ok)
		assert.truthy(out:find("expected an OpenVPN client profile named NAME.ovpn", 1, true), out)
	end)

	it("resolves a remote's name again at each attempt: a changed answer is used", function()
		start_server({ wrap = "tls-auth" })
		local path = sample_profile({})
		local hosts = "/etc/netns/" .. cli.name .. "/hosts"
		-- First the name points where nothing answers (10.88.2.9) ...
		netns.write_file(hosts, "127.0.0.1 localhost\n10.88.2.9 vpn.office.test\n")
		client = cli:spawn({ mv.bin, "client", path })
		assert(client:wait_log("connecting to udp://10.88.2.9:1194", 20), client:output())
		-- ... then at the server: the next attempt (after 10 s without an answer) finds it.
		netns.write_file(hosts, "127.0.0.1 localhost\n10.88.2.1 vpn.office.test\n")
		local ok, out = client:wait_log("connected, address", 60)
		assert(ok, out .. "\n--- server:\n" .. server:output())
		assert.truthy(out:find("connecting to udp://10.88.2.1:1194", 1, true), out)
	end)

	it("reconnects to a name's last good address when the name no longer resolves", function()
		-- keepalive: the client notices the server is gone (ping-restart) and tries again.
		start_server({ wrap = "tls-auth", extra = "keepalive 1 5\n" })
		connect(sample_profile({}))
		-- The lookup fails now, as it does when it goes into the tunnel that is down.
		netns.write_file("/etc/netns/" .. cli.name .. "/hosts", "127.0.0.1 localhost\n")
		server:stop()
		local ok, out = client:wait_log("cannot resolve vpn.office.test: [^\n]*; trying its last answer", 60)
		assert(ok, out)
		server = srv:spawn({ "openvpn", "--config", server_config })
		assert(server:wait_log("Initialization Sequence Completed", 10), server:output())
		ok, out = client:wait_log("connected, address.*connected, address", 90)
		assert(ok, out .. "\n--- server:\n" .. server:output())
		ok, out = cli:sh("ping -c 3 -i 0.2 -W 2 10.77.0.1")
		assert(ok, out .. "\n--- client:\n" .. client:output())
	end)

	it("fails over from a remote whose name has no address to the next", function()
		start_server({ wrap = "tls-auth" })
		local path = sample_profile({ extra = "remote vpn2.office.test 1194" })
		netns.write_file("/etc/netns/" .. cli.name .. "/hosts", "127.0.0.1 localhost\n10.88.2.1 vpn2.office.test\n")
		-- From a configuration, whose Lua (as every hook's) has no blocking resolve in the engine.
		local config = path:gsub("%.ovpn$", ".lua")
		netns.write_file(config, string.format('local vpn = require "moonvpn"\n'
			.. 'assert(require("moonvpn.core").resolve == nil, "core.resolve is reachable in the engine")\n'
			.. "vpn.client { profile = %q }\n", path))
		connect(config)
		assert.truthy(client:output():find("cannot resolve vpn.office.test", 1, true), client:output())
	end)

	it("says which remote has no address", function()
		srv, cli = netns.new(), netns.new()
		local path = sample_profile({})
		netns.write_file("/etc/netns/" .. cli.name .. "/hosts", "127.0.0.1 localhost\n")
		local ok, out = cli:sh(netns.quote(mv.bin) .. " client --check " .. netns.quote(path) .. " 2>&1")
		assert.is_false(ok)
		assert.truthy(out:find(path .. ":7: remote vpn.office.test: ", 1, true), out)
	end)
end)
