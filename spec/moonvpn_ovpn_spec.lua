-- SPDX-License-Identifier: MIT
local ovpn = require "moonvpn.ovpn"

local function fields(text, opts)
	local profile = assert(ovpn.parse(text, "p.ovpn"))
	return ovpn.client_fields(profile, opts)
end

local function fails(text, message, opts)
	local profile, err = ovpn.parse(text, "p.ovpn")
	if profile then
		local ok
		ok, err = pcall(ovpn.client_fields, profile, opts)
		assert.is_false(ok, "expected an error: " .. message)
	end
	assert.are.equal(message, err)
end

local PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

describe("moonvpn.ovpn", function()
	it("splits words as OpenVPN's parse_line: quotes, backslashes, comments, a leading --", function()
		local p = assert(ovpn.parse(table.concat({
			"# a comment",
			"  ; another",
			[[--setenv FRIENDLY_NAME "Office VPN"  # trailing]],
			[[static-challenge 'Enter \code' 1]],
			[[pull-filter ignore "route \"x\""]],
			"remote vpn.example.com 1194 udp ;comment\r",
		}, "\n"), "p.ovpn"))
		assert.are.same({ name = "setenv", args = { "FRIENDLY_NAME", "Office VPN" }, line = 3 }, p.options[1])
		assert.are.same({ "Enter \\code", "1" }, p.options[2].args)
		assert.are.same({ "ignore", 'route "x"' }, p.options[3].args)
		assert.are.same({ "vpn.example.com", "1194", "udp" }, p.options[4].args)
		assert.are.equal(4, #p.options)
	end)

	it("reads a profile in the style of OpenVPN's sample client.conf, files beside it", function()
		local f, warnings = fields(table.concat({
			"client", "dev tun", "proto udp", "remote my-server-1 1194", "remote my-server-2 1195 tcp",
			"resolv-retry infinite", "nobind", "user nobody", "group nogroup", "persist-key", "persist-tun",
			"ca ca.crt", "cert client.crt", "key /etc/keys/client.key", "remote-cert-tls server",
			"tls-auth ta.key 1", "cipher AES-256-CBC", "verb 3", "mute 20", "",
		}, "\n"), { dir = "/home/me/vpn", resolve = function(host)
			return ({ ["my-server-1"] = { "192.0.2.1", "2001:db8::1" }, ["my-server-2"] = { "192.0.2.2" } })[host]
		end })
		-- Names stay names: the client resolves them at each attempt (resolve only checks them).
		assert.are.same({ "udp://my-server-1:1194", "tcp://my-server-2:1195" }, f.remote)
		assert.are.same({ type = "tun" }, f.device)
		assert.are.same({ file = "/home/me/vpn/ca.crt" }, f.tls.ca)
		assert.are.same({ file = "/etc/keys/client.key" }, f.tls.key)
		assert.are.same({ file = "/home/me/vpn/ta.key", direction = 1 }, f.tls.tls_auth)
		assert.are.equal("nobody", f.user)
		assert.are.equal("info", f.log_level)
		assert.is_nil(f.ciphers) -- AES-256-CBC is not one of ours: the defaults stay
		assert.are.same({
			"p.ovpn:6: resolv-retry: ignored: host names are resolved at each attempt, as long as the client "
				.. "runs",
			"p.ovpn:7: nobind: ignored: moonvpn's client always uses a free local port",
			"p.ovpn:10: persist-key: ignored: moonvpn keeps its keys across reconnects",
			"p.ovpn:11: persist-tun: ignored: moonvpn keeps its device across reconnects",
			"p.ovpn:17: cipher: AES-256-CBC is not an AEAD cipher: the server must offer AES-256-GCM, "
				.. "AES-128-GCM or CHACHA20-POLY1305 (OpenVPN 2.4 and later do)",
			"p.ovpn:19: mute: ignored: moonvpn rate-limits repeated log lines itself",
		}, warnings)
	end)

	it("reads a unified profile: inline blocks, tls-crypt-v2, auth-user-pass, redirect-gateway", function()
		local f = fields(table.concat({
			"setenv FORWARD_COMPATIBLE 1", "client", "server-poll-timeout 4", "nobind",
			"remote 198.51.100.7 1194 udp", "remote 198.51.100.7 443 tcp", "dev tun", "dev-type tun",
			"remote-cert-tls server", "tls-version-min 1.2", "reneg-sec 604800", "auth-user-pass",
			"static-challenge \"Enter code\" 1", "data-ciphers AES-256-GCM:AES-128-CBC:chacha20-poly1305",
			"verify-x509-name vpn.example.com name", "redirect-gateway def1 bypass-dhcp",
			"dhcp-option DNS 10.8.0.1", "auth-retry nointeract", "<ca>", PEM .. "</ca>", "<tls-crypt-v2>",
			"-----BEGIN OpenVPN tls-crypt-v2 client key-----", "AAAA",
			"-----END OpenVPN tls-crypt-v2 client key-----", "</tls-crypt-v2>",
		}, "\n"))
		assert.are.same({ "udp://198.51.100.7:1194", "tcp://198.51.100.7:443" }, f.remote)
		assert.are.same({ inline = PEM, origin = "p.ovpn:19" }, f.tls.ca)
		assert.matches("^%-%-%-%-%-BEGIN OpenVPN tls%-crypt%-v2 client key", f.tls.tls_crypt_v2.inline)
		assert.are.equal("vpn.example.com", f.tls.server_name)
		assert.are.same({ ask = 12, static_challenge = { text = "Enter code", echo = true } }, f.auth)
		assert.are.equal("nointeract", f.auth_retry)
		assert.are.same({ "AES-256-GCM", "CHACHA20-POLY1305" }, f.ciphers)
		assert.are.same({ "def1", "bypass-dhcp" }, f.redirect_gateway)
		assert.are.same({ seconds = 604800 }, f.renegotiate)
		-- vpn.client's fields: auth-user-pass alone is asked on the terminal, as the challenge.
		assert.are.same({ ask = true, static_challenge = { text = "Enter code", echo = true } },
			ovpn.config_fields(f, "p.ovpn").auth)
	end)

	it("gives vpn.client's fields: material as paths or { inline }, auth, the static challenge", function()
		local f = fields(table.concat({
			"client", "remote 192.0.2.1", "auth-user-pass creds.txt", "static-challenge \"PIN\" 0",
			"auth-retry none", "route-nopull", "pull-filter ignore \"route 10.\"", "pull-filter accept route",
			"redirect-gateway", "connect-retry 3 60", "tun-mtu 1400", "mssfix 1360", "verb 4",
			"explicit-exit-notify 2", "remote-cert-tls server", "ca ca.crt", "<tls-auth>", "KEY", "</tls-auth>",
			"key-direction 1",
		}, "\n"), { dir = "vpn" })
		local c = ovpn.config_fields(f, "p.ovpn")
		assert.are.same({ file = "vpn/creds.txt", ask = true, static_challenge = { text = "PIN", echo = false } },
			c.auth)
		assert.are.equal("none", c.auth_retry)
		assert.are.same({ ca = "vpn/ca.crt", tls_auth = { key = { inline = "KEY\n", origin = "p.ovpn:17" },
			direction = 1 } }, c.tls)
		assert.is_true(c.route_nopull)
		assert.are.same({ { "ignore", "route 10." }, { "accept", "route" } }, c.pull_filter)
		assert.is_true(c.redirect_gateway)
		assert.are.same({ initial = 3, max = 60 }, c.reconnect)
		assert.are.same({ mtu = 1400 }, c.device)
		assert.are.equal(1360, c.mssfix)
		local p12 = ovpn.config_fields(fields("client\nremote a\npkcs12 me.p12\n", { dir = "d" }), "p.ovpn")
		assert.are.same({ pkcs12 = "d/me.p12" }, p12.tls)
		assert.are.equal("comp-lzo", fields("client\nremote a\nca c\nauth-user-pass f\ncomp-lzo no\n").compression)
		assert.are.equal("stub-v2", fields("client\nremote a\nca c\nauth-user-pass f\ncompress stub-v2\n").compression)
		assert.are.equal("debug", c.log_level)
	end)

	it("reads the profile moonvpn profile writes", function()
		local f = fields(table.concat({
			"client", "dev tun", "remote 192.0.2.10 1194 udp", "remote 192.0.2.10 1194 tcp", "nobind",
			"remote-cert-tls server", "verify-x509-name server name", "data-ciphers AES-256-GCM:AES-128-GCM",
			"<ca>", PEM .. "</ca>", "<cert>", PEM .. "</cert>", "<key>",
			"-----BEGIN PRIVATE KEY-----\nMIG\n-----END PRIVATE KEY-----", "</key>",
			"key-direction 1", "<tls-auth>", "-----BEGIN OpenVPN Static key V1-----", "00",
			"-----END OpenVPN Static key V1-----", "</tls-auth>",
		}, "\n"))
		assert.are.same({ "udp://192.0.2.10:1194", "tcp://192.0.2.10:1194" }, f.remote)
		assert.are.equal(1, f.tls.tls_auth.direction)
		assert.matches("BEGIN PRIVATE KEY", f.tls.key.inline, 1, true)
		assert.are.same({ "AES-256-GCM", "AES-128-GCM" }, f.ciphers)
	end)

	it("shuffles the remotes with remote-random and marks directives optional", function()
		local f, warnings = fields("client\nremote a\nremote b\nremote-random\nca ca.crt\nauth-user-pass\n"
			.. "ignore-unknown-option block-ipv6\nblock-ipv6\nsetenv opt pull-dns\n",
			{ random = function() return 1 end })
		assert.are.same({ "udp://b:1194", "udp://a:1194" }, f.remote)
		assert.are.same({
			"p.ovpn:8: block-ipv6: ignored (the profile marks it optional)",
			"p.ovpn:9: pull-dns: ignored (the profile marks it optional)",
		}, warnings)
	end)

	it("says what is wrong with a profile, and where", function()
		local base = "client\nremote 192.0.2.1\nca ca.crt\ncert c.crt\nkey c.key\n"
		for _, case in ipairs {
			{ "client\nremote x\n<ca>\nabc\n", "p.ovpn:3: <ca> is not closed (no </ca>)" },
			{ "<bogus>\n</bogus>\n", "p.ovpn:1: <bogus> is not a block OpenVPN reads inline" },
			{ 'client\nremote "x\n', 'p.ovpn:2: a " quote is not closed' },
			{ "dev tun\nremote 192.0.2.1\nca ca.crt\nauth-user-pass\n",
				"p.ovpn: not a client profile: it has no `client` line" },
			{ "client\nca ca.crt\nauth-user-pass\n", "p.ovpn: no remote line: the profile names no server" },
			{ base .. "fragment 1300\n", "p.ovpn:6: fragment is not supported: use mssfix (the server's MTU is "
				.. "honoured)" },
			{ base .. "frobnicate 1\n", "p.ovpn:6: frobnicate is not something moonvpn's client supports "
				.. "(remove the line, or mark it optional with ignore-unknown-option frobnicate)" },
			{ base .. "remote-cert-tls client\n", "p.ovpn:6: remote-cert-tls client: a client checks its "
				.. "server (remote-cert-tls server)" },
			{ base .. "proto sctp\n", "p.ovpn:6: proto: sctp is not a client transport (udp, tcp, tcp-client "
				.. "and their 4/6 forms)" },
			{ base .. "port 70000\n", "p.ovpn:6: port: 70000 is not a number from 1 to 65535" },
			{ base .. "ca [inline]\n", "p.ovpn:6: ca [inline] without a <ca> block" },
			{ base .. "data-ciphers BF-CBC\n",
				"p.ovpn: data-ciphers names none of AES-256-GCM, AES-128-GCM, CHACHA20-POLY1305" },
			{ "client\nremote 192.0.2.1\nca ca.crt\n", "p.ovpn: no cert and key, and no auth-user-pass: the "
				.. "profile has no way to log in" },
			{ base .. "<connection>\nproto tcp\n</connection>\n",
				"p.ovpn:6: a <connection> block must have exactly one remote (it has 0)" },
			{ base .. "<connection>\nremote y\nhttp-proxy 192.0.2.9 8080\n</connection>\n",
				"p.ovpn:8: connecting through an HTTP proxy is not supported" },
			{ base .. "<connection>\nremote y\ncipher AES-256-GCM\n</connection>\n",
				"p.ovpn:8: cipher is not an option of a <connection> block (OpenVPN's connection profiles: "
				.. "remote, proto, port, connect-timeout, ...)" },
			{ base .. "<connection>\nremote y\nmssfix 1400\n</connection>\n<connection>\nremote z\n"
				.. "mssfix 1300\n</connection>\n",
				"p.ovpn:12: mssfix differs from another <connection> block's: moonvpn has one for all connections" },
			{ base .. "route 10.0.0.1 255.0.255.0\n", "p.ovpn:6: route 10.0.0.1 255.0.255.0: expected an IPv4 "
				.. "network and netmask (moonvpn resolves no host names in routes)" },
			{ base .. "route-ipv6 10.0.0.0/8\n", "p.ovpn:6: route-ipv6 10.0.0.0/8: expected an IPv6 network like "
				.. "2001:db8::/32" },
			{ base .. "compress lz4\n", "p.ovpn:6: compress lz4: moonvpn's client speaks only the stub-v2 "
				.. "framing: use compress stub-v2 (with a server that has it or compress migrate), or remove the "
				.. "line if the server has no compress" },
			{ base .. "redirect-gateway def2\n", "p.ovpn:6: redirect-gateway: def2 is not one of def1, local, "
				.. "ipv6, !ipv4, block-local, bypass-dhcp, bypass-dns, autolocal" },
			{ base .. "pull-filter drop route\n", "p.ovpn:6: pull-filter: drop is not accept, ignore or reject" },
			{ base .. "verify-x509-name vpn name-prefix\n", "p.ovpn:6: verify-x509-name ... name-prefix is not "
				.. "supported: use verify-x509-name NAME name" },
		} do
			fails(case[1], case[2])
		end
		fails("client\nremote nowhere.invalid\nca ca.crt\nauth-user-pass\n",
			"p.ovpn:2: remote nowhere.invalid: no such host", { resolve = function() return nil, "no such host" end })
	end)

	it("takes up to 64 remotes, IPv6 literals in brackets, and says which line is one too many", function()
		local lines = { "client", "ca ca.crt", "auth-user-pass", "remote 2001:db8::1 1195" }
		for i = 1, 63 do lines[#lines + 1] = "remote vpn" .. i .. ".example" end
		local f = fields(table.concat(lines, "\n") .. "\n")
		assert.are.equal(64, #f.remote)
		assert.are.equal("udp://[2001:db8::1]:1195", f.remote[1])
		assert.are.equal("udp://vpn63.example:1194", f.remote[64])
		fails(table.concat(lines, "\n") .. "\nremote one-too-many.example\n",
			"p.ovpn:68: remote: more than 64 remotes (moonvpn tries at most 64)")
	end)

	it("reads askpass FILE as the key's password file, and askpass alone as asking on the terminal", function()
		local base = "client\nremote 192.0.2.1\nca ca.crt\npkcs12 me.p12\n"
		local c = ovpn.config_fields(fields(base .. "askpass pass.txt\n", { dir = "d" }), "p.ovpn")
		assert.are.same({ file = "d/pass.txt" }, c.tls.key_password)
		c = ovpn.config_fields(fields(base .. "askpass\n", { dir = "d" }), "p.ovpn")
		assert.is_true(c.tls.key_password)
		-- "stdin" is the console to OpenVPN (get_user_pass_cr), not a file.
		c = ovpn.config_fields(fields(base .. "askpass stdin\n", { dir = "d" }), "p.ovpn")
		assert.is_true(c.tls.key_password)
		fails(base .. "askpass [inline]\n", "p.ovpn:5: askpass [inline]: OpenVPN "
			.. "reads no inline password block; name a file, or write askpass alone to be asked on the terminal")
		assert.is_nil(ovpn.config_fields(fields(base, { dir = "d" }), "p.ovpn").tls.key_password)
	end)

	it("reads route and route-ipv6 lines as the client's own routes, kept with route-nopull", function()
		local f, warnings = fields("client\nremote 192.0.2.1\nca ca.crt\nauth-user-pass\nroute-nopull\n"
			.. "route 10.9.0.0 255.255.0.0\nroute 10.10.1.1\nroute 10.11.0.0 255.255.255.0 vpn_gateway 5\n"
			.. "route 10.12.0.9 255.255.255.0 default\nroute-ipv6 2001:db8:9::/48\nroute-ipv6 2001:db8::7 "
			.. "vpn_gateway\nroute-metric 10\nroute-delay 2\n")
		assert.are.same({ "10.9.0.0/16", "10.10.1.1/32", "10.11.0.0/24", "10.12.0.0/24", "2001:db8:9::/48",
			"2001:db8::7/128" }, f.routes)
		assert.is_true(f.route_nopull)
		assert.are.same({
			"p.ovpn:8: route: the metric is not used",
			"p.ovpn:12: route-metric: ignored: the routes through the device are more specific than those "
				.. "they override",
			"p.ovpn:13: route-delay: ignored: routes go on when the device is up",
		}, warnings)
		assert.is_nil(fields("client\nremote 192.0.2.1\nca ca.crt\nauth-user-pass\n").routes)
		f = fields("client\nremote 192.0.2.1\nca ca.crt\nauth-user-pass\nroute 192.168.1.0 255.255.255.0 "
			.. "net_gateway\nroute-ipv6 2001:db8:1::/48 net_gateway\n")
		assert.are.same({ "192.168.1.0/24", "2001:db8:1::/48" }, f.routes_outside)
		assert.is_nil(f.routes)
	end)

	it("refuses a route through a gateway address rather than sending it into the tunnel", function()
		local base = "client\nremote 192.0.2.1\nca ca.crt\nauth-user-pass\n"
		fails(base .. "route 192.168.0.0 255.255.0.0 192.168.1.1\n", "p.ovpn:5: route 192.168.0.0/16 192.168.1.1: a "
			.. "route through a gateway address is not supported; write vpn_gateway to route it through the "
			.. "tunnel, or net_gateway to keep it outside the tunnel along the path it has")
		fails(base .. "route-ipv6 2001:db8:1::/48 fe80::1\n", "p.ovpn:5: route-ipv6 2001:db8:1::/48 fe80::1: a "
			.. "route through a gateway address is not supported; write vpn_gateway to route it through the "
			.. "tunnel, or net_gateway to keep it outside the tunnel along the path it has")
	end)

	it("reads <connection> blocks as remotes tried in order, with the proto and port before them", function()
		local f, warnings = fields(table.concat({
			"client", "proto tcp", "port 443", "ca ca.crt", "auth-user-pass", "remote ignored.example 1",
			"<connection>", "remote 192.0.2.1 1194 udp", "explicit-exit-notify 2", "</connection>",
			"<connection>", "remote 192.0.2.2", "connect-timeout 5", "<tls-crypt>", "KEY", "</tls-crypt>",
			"</connection>",
			"<connection>", "remote 2001:db8::1", "proto udp6", "port 1195", "</connection>",
		}, "\n") .. "\n")
		assert.are.same({ "udp://192.0.2.1:1194", "tcp://192.0.2.2:443", "udp://[2001:db8::1]:1195" }, f.remote)
		assert.are.same({ inline = "KEY\n", origin = "p.ovpn:14" }, f.tls.tls_crypt)
		assert.are.same({
			"p.ovpn:9: explicit-exit-notify: ignored: moonvpn always tells the server when it exits",
			"p.ovpn:13: connect-timeout: ignored: an attempt that gets no answer for 10 s moves on",
			"p.ovpn:6: remote: left out: with <connection> blocks only their remotes are tried (as OpenVPN)",
		}, warnings)
	end)

	it("is the start of vpn.client { profile = ... }: Lua fields add to it or override it", function()
		local config = require "moonvpn.config"
		-- Not os.tmpname()'s /tmp/lua_*: plugins_auth_script_spec, maybe in the other lane
		-- (spec/run-busted), takes a new one there for a credentials file its plugin left.
		local mktemp = assert(io.popen("mktemp -d"))
		local dir = mktemp:read("l")
		mktemp:close()
		assert(dir and dir ~= "", "mktemp -d")
		finally(function() os.execute("rm -rf " .. dir) end) -- also when an assertion fails
		assert(os.execute("mkdir -p " .. dir .. "/profiles"))
		local function write(path, text)
			local f = assert(io.open(dir .. "/" .. path, "w"))
			f:write(text)
			f:close()
		end
		write("profiles/office.ovpn", "client\nremote 192.0.2.1 1194\nca ca.crt\ncert c.crt\nkey c.key\n"
			.. "tls-auth ta.key 1\ndev tun\ntun-mtu 1400\nredirect-gateway def1\n")
		write("vpn.lua", 'local vpn = require "moonvpn"\nvpn.client {\n  profile = "profiles/office.ovpn",\n'
			.. '  device = { name = "office0" },\n  tls = { tls_crypt = "tc.key" },\n'
			.. '  pull_filter = { { "ignore", "route" } },\n}\n')
		local cfg = assert(config.load(dir .. "/vpn.lua"))
		assert.are.same({ "udp://192.0.2.1:1194" }, cfg.remote)
		assert.are.equal(dir .. "/profiles/ca.crt", cfg.tls.ca)     -- beside the profile
		assert.are.equal(dir .. "/tc.key", cfg.tls.tls_crypt)       -- beside vpn.lua
		assert.is_nil(cfg.tls.tls_auth)                             -- replaced by the Lua key
		assert.are.same({ type = "tun", name = "office0", mtu = 1400 }, cfg.device)
		assert.are.equal("def1", cfg.redirect_gateway)
		assert.are.same({ "ignore route" }, cfg.pull_filter)
		-- moonvpn client office.ovpn: the profile alone.
		cfg = assert(config.load(dir .. "/profiles/office.ovpn"))
		assert.are.equal(dir .. "/profiles/ta.key", cfg.tls.tls_auth.key)
		assert.are.equal(1, cfg.tls.tls_auth.direction)
		-- Credentials in Lua replace the profile's file; its static challenge stays.
		write("profiles/otp.ovpn", "client\nremote 192.0.2.1\nca ca.crt\nauth-user-pass creds.txt\n"
			.. "static-challenge \"OTP\" 0\nauth-retry nointeract\n")
		write("otp.lua", 'local vpn = require "moonvpn"\nvpn.client {\n  profile = "profiles/otp.ovpn",\n'
			.. '  auth = { username = "alice", password = "pw" },\n}\n')
		cfg = assert(config.load(dir .. "/otp.lua"))
		assert.are.same({ username = "alice", password = "pw", ask = true,
			static_challenge = { text = "OTP", echo = false } }, cfg.auth)
		assert.are.equal("nointeract", cfg.auth_retry)
		-- A bare auth-user-pass asks on the terminal; Lua credentials leave nothing to ask
		-- (the client starts without a terminal), unless auth-retry interact asks again.
		write("profiles/ask.ovpn", "client\nremote 192.0.2.1\nca ca.crt\nauth-user-pass\n")
		write("ask.lua", 'local vpn = require "moonvpn"\nvpn.client {\n  profile = "profiles/ask.ovpn",\n'
			.. '  auth = { username = "alice", password = "pw" },\n}\n')
		cfg = assert(config.load(dir .. "/ask.lua"))
		assert.are.same({ username = "alice", password = "pw" }, cfg.auth)
		write("ask.lua", 'local vpn = require "moonvpn"\nvpn.client {\n  profile = "profiles/ask.ovpn",\n'
			.. '  auth = { file = "creds.txt" },\n}\n')
		cfg = assert(config.load(dir .. "/ask.lua"))
		assert.are.same({ file = dir .. "/creds.txt" }, cfg.auth)
		write("profiles/ask.ovpn", "client\nremote 192.0.2.1\nca ca.crt\nauth-user-pass\nauth-retry interact\n")
		write("ask.lua", 'local vpn = require "moonvpn"\nvpn.client {\n  profile = "profiles/ask.ovpn",\n'
			.. '  auth = { username = "alice", password = "pw" },\n}\n')
		cfg = assert(config.load(dir .. "/ask.lua"))
		assert.are.same({ username = "alice", password = "pw", ask = true }, cfg.auth)
	end)
end)
