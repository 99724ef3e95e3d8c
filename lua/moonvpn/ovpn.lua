-- SPDX-License-Identifier: MIT
--- Reads an OpenVPN client profile (.ovpn) the way OpenVPN reads a config
-- file, and says what it means for moonvpn's client.
--
--   local ovpn = require "moonvpn.ovpn"
--   local profile = assert(ovpn.parse(text, "office.ovpn"))
--   local client, warnings = ovpn.client_fields(profile, { dir = "/home/me/vpn" })
--
-- parse() splits lines as OpenVPN's parse_line does (options_parse.c):
-- blanks separate words, "double" and 'single' quotes group them, a
-- backslash takes the next character as is (not inside single quotes), and a
-- word that starts with # or ; begins a comment. A leading "--" is dropped,
-- as in read_config_file. <tag> ... </tag> blocks carry a file's text inline.
--
-- client_fields() maps each directive onto the client's configuration (the
-- fields of vpn.client). A directive moonvpn does not support is an error
-- naming its line, unless it is harmless for a client: then a warning, once
-- per directive. File material is { file = PATH } or { inline = TEXT, origin =
-- "name:line" }. config_fields() turns that into vpn.client's own fields, and
-- load() does all three for a profile's file (moonvpn client PROFILE.ovpn, and
-- vpn.client { profile = ... }).
local M = {}

-- The data ciphers moonvpn speaks (config.CIPHERS, by their OpenVPN names, any case).
local AEAD = { ["AES-256-GCM"] = true, ["AES-128-GCM"] = true, ["CHACHA20-POLY1305"] = true }
-- The blocks a profile may carry inline.
local INLINE = { ca = true, cert = true, key = true, ["tls-auth"] = true, ["tls-crypt"] = true,
	["tls-crypt-v2"] = true, ["crl-verify"] = true, ["auth-user-pass"] = true,
	["extra-certs"] = true, pkcs12 = true, ["http-proxy-user-pass"] = true, connection = true,
	["peer-fingerprint"] = true, dh = true, secret = true }

-- One line's words, or nil and why.
local function split(line)
	local words, i, n = {}, 1, #line
	while true do
		while i <= n and line:sub(i, i):match("%s") do i = i + 1 end
		if i > n then return words end
		local c = line:sub(i, i)
		if c == "#" or c == ";" then return words end
		local word, quote = {}, nil
		if c == '"' or c == "'" then quote, i = c, i + 1 end
		while true do
			if i > n then
				if quote then return nil, "a " .. quote .. " quote is not closed" end
				break
			end
			c = line:sub(i, i)
			if c == "\\" and quote ~= "'" and i < n then
				word[#word + 1] = line:sub(i + 1, i + 1)
				i = i + 2
			elseif quote and c == quote then
				i = i + 1
				break
			elseif not quote and c:match("%s") then
				break
			else
				word[#word + 1] = c
				i = i + 1
			end
		end
		words[#words + 1] = table.concat(word)
	end
end

--- Reads a profile's text: { options = { { name, args, line } ... }, inline =
-- { [tag] = { text, line } }, connections = { { text, line } ... }, name }, or nil
-- and "name:line: why". first: the line number text starts at (a <connection>
-- block's inside), 1 when not given.
function M.parse(text, name, first)
	local profile = { options = {}, inline = {}, connections = {}, name = name }
	local block, block_lines, block_start
	local number = (first or 1) - 1
	for line in (text .. "\n"):gmatch("([^\n]*)\n") do
		number = number + 1
		line = line:gsub("\r$", "")
		if block then
			if line:match("^%s*</" .. block:gsub("%-", "%%-") .. ">%s*$") then
				local inline = { text = table.concat(block_lines, "\n") .. "\n", line = block_start }
				if block == "connection" then
					-- Each is one connection profile (OpenVPN's connection-profiles), in order.
					profile.connections[#profile.connections + 1] = inline
				elseif profile.inline[block] then
					return nil, string.format("%s:%d: a second <%s> block", name, block_start, block)
				else
					profile.inline[block] = inline
				end
				profile.options[#profile.options + 1] = { name = block, args = { "[inline]" },
					line = block_start, connection = block == "connection" and #profile.connections or nil }
				block = nil
			else
				block_lines[#block_lines + 1] = line
			end
		else
			local tag = line:match("^%s*<([%w%-]+)>%s*$")
			if tag then
				if not INLINE[tag] then
					return nil, string.format("%s:%d: <%s> is not a block OpenVPN reads inline", name,
						number, tag)
				end
				block, block_lines, block_start = tag, {}, number
			else
				local words, err = split(line)
				if not words then return nil, string.format("%s:%d: %s", name, number, err) end
				if #words > 0 then
					local directive = words[1]:gsub("^%-%-", "", 1)
					profile.options[#profile.options + 1] = { name = directive,
						args = { table.unpack(words, 2) }, line = number }
				end
			end
		end
	end
	if block then
		return nil, string.format("%s:%d: <%s> is not closed (no </%s>)", name, block_start, block, block)
	end
	return profile
end

-- Directives that change nothing for moonvpn's client: what it does instead.
local HARMLESS = {
	nobind = "moonvpn's client always uses a free local port",
	["persist-key"] = "moonvpn keeps its keys across reconnects",
	["persist-tun"] = "moonvpn keeps its device across reconnects",
	["resolv-retry"] = "host names are resolved at each attempt, as long as the client runs",
	["mute-replay-warnings"] = "replays are counted, not logged one by one",
	["explicit-exit-notify"] = "moonvpn always tells the server when it exits",
	["auth-nocache"] = "moonvpn keeps the password in memory while it runs, for the next logins "
		.. "(OpenVPN forgets it after each login, so that a reconnect asks for it again or "
		.. "uses the server's auth-token)",
	["key-method"] = "key method 2 is the only one",
	["allow-compression"] = "compression is never used (only its framing)",
	["tls-timeout"] = "the control channel's retransmit timer adapts itself",
	["hand-window"] = "the hand-window is 60 s",
	["tran-window"] = "the previous key lives until the peer leaves it",
	mute = "moonvpn rate-limits repeated log lines itself",
	["fast-io"] = "moonvpn's I/O is batched",
	sndbuf = "moonvpn sizes its socket buffers itself",
	rcvbuf = "moonvpn sizes its socket buffers itself",
	float = "the server may move",
	["block-outside-dns"] = "a Windows option",
	["register-dns"] = "a Windows option",
	["route-method"] = "a Windows option",
	["ip-win32"] = "a Windows option",
	["win-sys"] = "a Windows option",
	["dev-node"] = "a Windows or macOS option",
	["route-delay"] = "routes go on when the device is up",
	["route-metric"] = "the routes through the device are more specific than those they override",
	["push-peer-info"] = "moonvpn sends its peer info always",
	setenv = "moonvpn runs no scripts that would read it",
	["setenv-safe"] = "moonvpn runs no scripts that would read it",
	["script-security"] = "moonvpn runs no scripts",
	up = "moonvpn runs no scripts: it applies the pushed DNS itself",
	down = "moonvpn runs no scripts: it applies the pushed DNS itself",
	["route-up"] = "moonvpn runs no scripts",
	["ping-timer-rem"] = "keepalive runs while connected",
	auth = "the data ciphers moonvpn speaks are AEAD: no separate HMAC",
	["tls-cipher"] = "moonvpn uses OpenSSL's TLS 1.2 and 1.3 defaults",
	["tls-ciphersuites"] = "moonvpn uses OpenSSL's TLS 1.2 and 1.3 defaults",
	["tls-version-min"] = "moonvpn speaks TLS 1.2 and 1.3",
	["ping"] = "the server pushes its keepalive",
	["ping-restart"] = "the server pushes its keepalive",
	keepalive = "the server pushes its keepalive",
	daemon = "run moonvpn under systemd (moonvpn@.service) instead",
	log = "moonvpn logs to stderr (the journal under systemd)",
	["log-append"] = "moonvpn logs to stderr (the journal under systemd)",
	writepid = "systemd tracks moonvpn's process",
	status = "moonvpn's console shows the status (moonvpn console)",
	["connect-timeout"] = "an attempt that gets no answer for 10 s moves on",
	["server-poll-timeout"] = "an attempt that gets no answer for 10 s moves on",
	["remote-cert-ku"] = "the server's certificate is checked for serverAuth",
	["connect-retry-max"] = "moonvpn keeps trying",
}

-- Directives moonvpn's client cannot honour: why, and what to do.
local UNSUPPORTED = {
	secret = "static-key mode (no TLS) was removed in OpenVPN 2.7 and is not supported",
	fragment = "fragment is not supported: use mssfix (the server's MTU is honoured)",
	["http-proxy"] = "connecting through an HTTP proxy is not supported",
	["socks-proxy"] = "connecting through a SOCKS proxy is not supported",
	["ns-cert-type"] = "ns-cert-type was removed in OpenVPN 2.5: use remote-cert-tls server",
	["pkcs11-providers"] = "PKCS#11 tokens are not supported",
	["pkcs11-id"] = "PKCS#11 tokens are not supported",
	["management-external-key"] = "external keys are not supported",
	["cryptoapicert"] = "the Windows certificate store is not supported",
	["extra-certs"] = "extra-certs is not supported: append the chain to the cert file",
	["tls-server"] = "this is a server configuration, not a client profile",
	server = "this is a server configuration, not a client profile",
	mode = "this is a server configuration, not a client profile",
}

local function at(profile, opt)
	return string.format("%s:%d", profile.name, opt.line)
end

-- A file argument: the inline block, or a path relative to the profile's directory.
local function material(state, opt, tag)
	local arg = opt.args[1]
	if arg == "[inline]" then
		local block = state.profile.inline[tag or opt.name]
		if not block then
			error(string.format("%s: %s [inline] without a <%s> block", at(state.profile, opt), opt.name,
				tag or opt.name), 0)
		end
		return { inline = block.text, origin = string.format("%s:%d", state.profile.name, block.line) }
	end
	if not arg then
		error(string.format("%s: %s needs a file name", at(state.profile, opt), opt.name), 0)
	end
	if arg:sub(1, 1) ~= "/" and state.dir then arg = state.dir .. "/" .. arg end
	return { file = arg }
end

local function need(state, opt, n, usage)
	if #opt.args < n then
		error(string.format("%s: %s: expected %s", at(state.profile, opt), opt.name, usage), 0)
	end
end

local function number(state, opt, text, min, max)
	local v = math.tointeger(tonumber(text))
	if not v or v < min or v > max then
		error(string.format("%s: %s: %s is not a number from %d to %d", at(state.profile, opt),
			opt.name, tostring(text), min, max), 0)
	end
	return v
end

local PROTOS = { udp = "udp", udp4 = "udp", udp6 = "udp", tcp = "tcp", ["tcp-client"] = "tcp",
	tcp4 = "tcp", tcp6 = "tcp", ["tcp4-client"] = "tcp", ["tcp6-client"] = "tcp" }

local function proto_of(state, opt, text)
	local p = PROTOS[text]
	if not p then
		error(string.format("%s: %s: %s is not a client transport (udp, tcp, tcp-client and their 4/6 "
			.. "forms)", at(state.profile, opt), opt.name, tostring(text)), 0)
	end
	return p
end

local function cipher_list(state, opt, text)
	local list, dropped = {}, {}
	for name in text:gmatch("[^:]+") do
		local upper = name:upper()
		if AEAD[upper] then list[#list + 1] = upper else dropped[#dropped + 1] = name end
	end
	if #dropped > 0 then
		state.warn(opt, "moonvpn speaks only AEAD data ciphers: " .. table.concat(dropped, ", ")
			.. " left out")
	end
	return list
end

local VERB = { [0] = "error", "warn", "warn", "info", "debug", "debug", "trace" }

local handlers = {}
local connection -- one <connection> block, below

function handlers.client(state) state.client = true end
function handlers.pull(state) state.pull = true end
handlers["tls-client"] = function(state) state.tls_client = true end

function handlers.dev(state, opt)
	need(state, opt, 1, "tun or tap")
	local dev = opt.args[1]
	local kind = dev:match("^(tun)") or dev:match("^(tap)")
	if kind then state.device.type = kind end
	if dev ~= kind then state.device.name = dev end
end

handlers["dev-type"] = function(state, opt)
	need(state, opt, 1, "tun or tap")
	if opt.args[1] ~= "tun" and opt.args[1] ~= "tap" then
		error(string.format("%s: dev-type: %s is not tun or tap", at(state.profile, opt), opt.args[1]), 0)
	end
	state.device.type = opt.args[1]
end

function handlers.proto(state, opt)
	need(state, opt, 1, "udp or tcp-client")
	state.proto = proto_of(state, opt, opt.args[1])
end

function handlers.port(state, opt)
	need(state, opt, 1, "a port")
	state.port = number(state, opt, opt.args[1], 1, 65535)
end
handlers.rport = handlers.port

function handlers.remote(state, opt)
	need(state, opt, 1, "HOST [PORT [PROTO]]")
	local r = { host = opt.args[1], line = opt.line }
	if opt.args[2] then r.port = number(state, opt, opt.args[2], 1, 65535) end
	if opt.args[3] then r.proto = proto_of(state, opt, opt.args[3]) end
	state.remotes[#state.remotes + 1] = r
end

handlers["remote-random"] = function(state) state.remote_random = true end

for _, tag in ipairs { "ca", "cert", "key", "pkcs12" } do
	handlers[tag] = function(state, opt) state.tls[tag] = material(state, opt) end
end
-- askpass [FILE]: the key's or the bundle's password, from the file's first line, or
-- asked on the terminal: alone or "stdin", the console to OpenVPN (options.c sets
-- key_pass_file "stdin", misc.c's get_user_pass_cr asks then). OpenVPN reads no
-- <askpass> block: "[inline]" would be a file of that name there.
function handlers.askpass(state, opt)
	local arg = opt.args[1]
	if arg == "[inline]" then
		error(string.format("%s: askpass [inline]: OpenVPN reads no inline password block; name a "
			.. "file, or write askpass alone to be asked on the terminal", at(state.profile, opt)), 0)
	end
	state.tls.key_password = (arg == nil or arg == "stdin") or material(state, opt)
end
handlers["crl-verify"] = function(state, opt) state.tls.crl = material(state, opt) end
handlers["tls-crypt"] = function(state, opt) state.tls.tls_crypt = material(state, opt) end
handlers["tls-crypt-v2"] = function(state, opt) state.tls.tls_crypt_v2 = material(state, opt) end

handlers["tls-auth"] = function(state, opt)
	state.tls.tls_auth = material(state, opt)
	if opt.args[2] then state.key_direction = number(state, opt, opt.args[2], 0, 1) end
end

handlers["key-direction"] = function(state, opt)
	need(state, opt, 1, "0 or 1")
	state.key_direction = number(state, opt, opt.args[1], 0, 1)
end

handlers["remote-cert-tls"] = function(state, opt)
	if opt.args[1] ~= "server" then
		error(string.format("%s: remote-cert-tls %s: a client checks its server (remote-cert-tls server)",
			at(state.profile, opt), tostring(opt.args[1])), 0)
	end
end

handlers["verify-x509-name"] = function(state, opt)
	need(state, opt, 1, "NAME [name]")
	local kind = opt.args[2] or "subject"
	if kind == "name" then
		state.tls.server_name = opt.args[1]
	elseif kind == "subject" and opt.args[1]:match("CN=([^,/]+)") then
		-- The whole subject: its common name is what identifies the server.
		state.tls.server_name = opt.args[1]:match("CN=([^,/]+)")
		state.warn(opt, "only the subject's CN is checked (" .. state.tls.server_name .. ")")
	else
		error(string.format("%s: verify-x509-name ... %s is not supported: use verify-x509-name NAME name",
			at(state.profile, opt), kind), 0)
	end
end

handlers["peer-fingerprint"] = function(state, opt)
	need(state, opt, 1, "a SHA-256 fingerprint")
	local text = opt.args[1] == "[inline]" and state.profile.inline["peer-fingerprint"].text or opt.args[1]
	local fp = text:match("^%s*([%x:]+)%s*$")
	if not fp then
		error(string.format("%s: peer-fingerprint: moonvpn checks one SHA-256 fingerprint",
			at(state.profile, opt)), 0)
	end
	state.tls.server_fingerprint = fp
end

handlers["data-ciphers"] = function(state, opt)
	need(state, opt, 1, "CIPHER[:CIPHER...]")
	state.ciphers = cipher_list(state, opt, opt.args[1])
end
handlers["ncp-ciphers"] = handlers["data-ciphers"]

-- `cipher` (and data-ciphers-fallback): a 2.4-era profile's one cipher.
function handlers.cipher(state, opt)
	need(state, opt, 1, "a cipher")
	local c = opt.args[1]:upper()
	if AEAD[c] then
		state.fallback_cipher = c
	else
		state.warn(opt, c .. " is not an AEAD cipher: the server must offer AES-256-GCM, AES-128-GCM "
			.. "or CHACHA20-POLY1305 (OpenVPN 2.4 and later do)")
	end
end
handlers["data-ciphers-fallback"] = handlers.cipher

handlers["auth-user-pass"] = function(state, opt)
	if opt.args[1] then
		state.auth.credentials = material(state, opt, "auth-user-pass")
	else
		state.auth.ask = opt.line
	end
end

handlers["auth-retry"] = function(state, opt)
	local mode = opt.args[1]
	if mode ~= "none" and mode ~= "nointeract" and mode ~= "interact" then
		error(string.format("%s: auth-retry: expected none, nointeract or interact", at(state.profile, opt)), 0)
	end
	state.auth_retry = mode
end

handlers["static-challenge"] = function(state, opt)
	need(state, opt, 2, '"TEXT" ECHO (0 or 1)')
	state.auth.static_challenge = { text = opt.args[1], echo = opt.args[2] == "1" }
end

local REDIRECT_WORDS = { def1 = true, ["local"] = true, ipv6 = true, ["!ipv4"] = true,
	["block-local"] = true, ["bypass-dhcp"] = true, ["bypass-dns"] = true, autolocal = true }

handlers["redirect-gateway"] = function(state, opt)
	local words = {}
	for _, w in ipairs(opt.args) do
		if not REDIRECT_WORDS[w] then
			error(string.format("%s: redirect-gateway: %s is not one of def1, local, ipv6, !ipv4, "
				.. "block-local, bypass-dhcp, bypass-dns, autolocal", at(state.profile, opt), w), 0)
		end
		words[#words + 1] = w
	end
	state.redirect_gateway = #words > 0 and words or true
end

handlers["route-nopull"] = function(state) state.route_nopull = true end

handlers["pull-filter"] = function(state, opt)
	need(state, opt, 2, 'accept|ignore|reject "TEXT"')
	local action = opt.args[1]
	if action ~= "accept" and action ~= "ignore" and action ~= "reject" then
		error(string.format("%s: pull-filter: %s is not accept, ignore or reject", at(state.profile, opt),
			action), 0)
	end
	state.pull_filter[#state.pull_filter + 1] = { action, opt.args[2] }
end

-- An IPv4 netmask's prefix length, or nil when its bits are not contiguous.
local function mask_length(text)
	local a, b, c, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
	if not a then return nil end
	local bits = 0
	for _, octet in ipairs { tonumber(a), tonumber(b), tonumber(c), tonumber(d) } do
		if octet > 255 then return nil end
		bits = bits * 256 + octet
	end
	local len = 0
	while len < 32 and bits & (1 << (31 - len)) ~= 0 do len = len + 1 end
	if bits & ((1 << (32 - len)) - 1) ~= 0 then return nil end
	return len
end

-- "a.b.c.d" with the bits past len cleared.
local function ipv4_network(text, len)
	local a, b, c, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
	if not a then return nil end
	local v = ((tonumber(a) * 256 + tonumber(b)) * 256 + tonumber(c)) * 256 + tonumber(d)
	if v > 0xffffffff then return nil end
	v = len == 0 and 0 or v & (0xffffffff << (32 - len)) & 0xffffffff
	return string.format("%d.%d.%d.%d", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255)
end

-- A route's gateway: through the tunnel (none given, vpn_gateway) or, with
-- net_gateway, outside it along the path it had ("routes_outside"). An address
-- is refused: OpenVPN routes through it (route.c), often a LAN router to keep a
-- network out of the VPN, and sending it into the tunnel instead would do the
-- opposite unseen. The metric is not used: the device's routes are more specific
-- than the ones they override.
local function route_gateway(state, opt, network, gateway, metric)
	if metric then state.warn(opt, "the metric is not used") end
	if gateway == "net_gateway" then return state.routes_outside end
	if gateway and gateway ~= "vpn_gateway" and gateway ~= "default" then
		error(string.format("%s: %s %s %s: a route through a gateway address is not supported; write "
			.. "vpn_gateway to route it through the tunnel, or net_gateway to keep it outside the "
			.. "tunnel along the path it has", at(state.profile, opt), opt.name, network, gateway), 0)
	end
	return state.routes
end

-- `route NETWORK [NETMASK] [GATEWAY] [METRIC]`: through the tunnel once it is up,
-- as OpenVPN's (route.c); kept when route-nopull drops the pushed ones.
function handlers.route(state, opt)
	need(state, opt, 1, "NETWORK [NETMASK] [GATEWAY] [METRIC]")
	local mask = opt.args[2]
	if mask == nil or mask == "default" then mask = "255.255.255.255" end
	local len = mask_length(mask)
	local network = len and ipv4_network(opt.args[1], len)
	if not network then
		error(string.format("%s: route %s %s: expected an IPv4 network and netmask (moonvpn "
			.. "resolves no host names in routes)", at(state.profile, opt), opt.args[1], mask), 0)
	end
	if network ~= opt.args[1] then
		state.warn(opt, string.format("%s has host bits outside %s: %s/%d is routed", opt.args[1], mask,
			network, len))
	end
	local list = route_gateway(state, opt, network .. "/" .. len, opt.args[3], opt.args[4])
	list[#list + 1] = network .. "/" .. len
end

-- `route-ipv6 NETWORK/BITS [GATEWAY] [METRIC]`.
handlers["route-ipv6"] = function(state, opt)
	need(state, opt, 1, "NETWORK/BITS [GATEWAY] [METRIC]")
	local prefix = opt.args[1]
	if not prefix:find(":", 1, true) then
		error(string.format("%s: route-ipv6 %s: expected an IPv6 network like 2001:db8::/32",
			at(state.profile, opt), prefix), 0)
	end
	if not prefix:find("/", 1, true) then prefix = prefix .. "/128" end
	local list = route_gateway(state, opt, prefix, opt.args[2], opt.args[3])
	list[#list + 1] = prefix
end

handlers["dhcp-option"] = function(state, opt)
	need(state, opt, 2, "DNS ADDRESS or DOMAIN NAME")
	state.warn(opt, "not applied: on Linux OpenVPN leaves a profile's dhcp-option to scripts; moonvpn "
		.. "applies the DNS servers the server pushes (vpn.client { dns = ... })")
end

handlers["connect-retry"] = function(state, opt)
	need(state, opt, 1, "SECONDS [MAX]")
	state.reconnect.initial = number(state, opt, opt.args[1], 1, 3600)
	if opt.args[2] then state.reconnect.max = number(state, opt, opt.args[2], 1, 86400) end
end

-- A server with comp-lzo or compress expects a framing byte on packets: the
-- client frames them (compframe.c) and never compresses.
handlers["comp-lzo"] = function(state, opt)
	state.compression = "comp-lzo"
	if opt.args[1] and opt.args[1] ~= "no" then
		state.warn(opt, "packets are framed for compression but never compressed")
	end
end

function handlers.compress(state, opt)
	local kind = opt.args[1]
	if kind ~= "stub-v2" and kind ~= "lz4-v2" then
		error(string.format("%s: compress %s: moonvpn's client speaks only the stub-v2 framing: use "
			.. "compress stub-v2 (with a server that has it or compress migrate), or remove the line if "
			.. "the server has no compress", at(state.profile, opt), kind or ""), 0)
	end
	state.compression = "stub-v2"
	if kind == "lz4-v2" then state.warn(opt, "packets are framed for compression but never compressed") end
end

function handlers.mssfix(state, opt)
	state.mssfix = opt.args[1] and number(state, opt, opt.args[1], 0, 9000) or 1492
end

handlers["tun-mtu"] = function(state, opt)
	need(state, opt, 1, "an MTU")
	state.device.mtu = number(state, opt, opt.args[1], 576, 65535)
end

handlers["reneg-sec"] = function(state, opt)
	need(state, opt, 1, "seconds")
	state.reneg_seconds = number(state, opt, opt.args[1], 0, 7 * 86400)
end

function handlers.verb(state, opt)
	need(state, opt, 1, "a level from 0 to 11")
	state.log_level = VERB[math.min(number(state, opt, opt.args[1], 0, 11), 6)]
end

function handlers.user(state, opt)
	need(state, opt, 1, "a user name")
	state.user = opt.args[1]
end

function handlers.group(state, opt)
	need(state, opt, 1, "a group name")
	state.group = opt.args[1]
end

-- `ignore-unknown-option A B ...` and `setenv opt DIRECTIVE ...`: unknown ones are warnings.
handlers["ignore-unknown-option"] = function(state, opt)
	for _, name in ipairs(opt.args) do state.optional[name] = true end
end

local function new_state(profile, opts)
	local state = {
		profile = profile, dir = opts.dir, device = {}, tls = {}, auth = {}, remotes = {},
		pull_filter = {}, routes = {}, routes_outside = {}, shared = {}, reconnect = {},
		optional = {}, warnings = {}, warned = {},
	}
	function state.warn(opt, text)
		if state.warned[opt.name] then return end
		state.warned[opt.name] = true
		state.warnings[#state.warnings + 1] = string.format("%s: %s: %s", at(profile, opt), opt.name, text)
	end
	return state
end

local function apply(state, opt)
	local name = opt.name
	if name == "setenv" and opt.args[1] == "opt" and opt.args[2] then
		local inner = { name = opt.args[2], args = { table.unpack(opt.args, 3) }, line = opt.line }
		state.optional[inner.name] = true
		return apply(state, inner)
	end
	if handlers[name] then return handlers[name](state, opt) end
	if HARMLESS[name] then return state.warn(opt, "ignored: " .. HARMLESS[name]) end
	if UNSUPPORTED[name] and not state.optional[name] then
		error(string.format("%s: %s", at(state.profile, opt), UNSUPPORTED[name]), 0)
	end
	if state.optional[name] then return state.warn(opt, "ignored (the profile marks it optional)") end
	error(string.format("%s: %s is not something moonvpn's client supports (remove the line, or mark it "
		.. "optional with ignore-unknown-option %s)", at(state.profile, opt), name, name), 0)
end

-- What a <connection> block may hold (OpenVPN's connection-profiles.rst, and
-- the options options.c lets in with OPT_P_CONNECTION): true for those that
-- belong to the one connection, "shared" for those moonvpn has one of for
-- all connections (two blocks giving two values is an error).
local CONNECTION_OPTIONS = {
	remote = true, proto = true, port = true, rport = true, ["connect-timeout"] = true,
	["explicit-exit-notify"] = true, nobind = true, float = true, bind = true, lport = true,
	["connect-retry-max"] = true, ["server-poll-timeout"] = true, ["mtu-disc"] = true,
	["tun-mtu-extra"] = true, ["http-proxy"] = true, ["http-proxy-option"] = true,
	["http-proxy-timeout"] = true, ["socks-proxy"] = true, fragment = true, ["link-mtu"] = true,
	["udp-mtu"] = true, ["max-packet-size"] = true, ["mtu-dynamic"] = true, ["local"] = true,
	["connect-retry"] = "shared", ["tun-mtu"] = "shared", mssfix = "shared", ["tls-auth"] = "shared",
	["tls-crypt"] = "shared", ["tls-crypt-v2"] = "shared", ["key-direction"] = "shared",
}

-- One <connection> block: its remote (the one it must have), with the proto and
-- port it gives, else those the profile gave before it (OpenVPN copies the
-- options so far into each block).
connection = function(state, opt)
	local profile = state.profile
	local block = profile.connections[opt.connection]
	local sub, err = M.parse(block.text, profile.name, block.line + 1)
	if not sub then error(err, 0) end
	local outer = { remotes = state.remotes, proto = state.proto, port = state.port }
	state.remotes, state.profile = {}, sub
	for _, o in ipairs(sub.options) do
		local kind = CONNECTION_OPTIONS[o.name]
		if not kind then
			error(string.format("%s: %s is not an option of a <connection> block (OpenVPN's "
				.. "connection profiles: remote, proto, port, connect-timeout, ...)", at(sub, o), o.name), 0)
		end
		if kind == "shared" then
			local key, seen = table.concat(o.args, " "), state.shared[o.name]
			if o.args[1] == "[inline]" then key = sub.inline[o.name] and sub.inline[o.name].text or key end
			if seen and seen ~= key then
				error(string.format("%s: %s differs from another <connection> block's: moonvpn has one "
					.. "for all connections", at(sub, o), o.name), 0)
			end
			state.shared[o.name] = key
		end
		apply(state, o)
	end
	local remotes = state.remotes
	if #remotes ~= 1 then
		error(string.format("%s:%d: a <connection> block must have exactly one remote (it has %d)",
			profile.name, block.line, #remotes), 0)
	end
	local r = remotes[1]
	r.proto, r.port = r.proto or state.proto, r.port or state.port
	state.remotes, state.proto, state.port, state.profile = outer.remotes, outer.proto, outer.port, profile
	return r
end

-- At most this many remotes (client.h's CLIENT_REMOTES_MAX).
local REMOTES_MAX = 64

-- "udp://HOST:PORT" for each remote, a host name kept as it is: the client resolves it
-- at each attempt. resolve(host), when given (moonvpn --check): its addresses or nil
-- and why, to name a remote that has none now.
local function endpoints(state, resolve)
	local list = {}
	if #state.remotes == 0 then error(state.profile.name .. ": no remote line: the profile names no server", 0) end
	if #state.remotes > REMOTES_MAX then
		error(string.format("%s:%d: remote: more than %d remotes (moonvpn tries at most %d)",
			state.profile.name, state.remotes[REMOTES_MAX + 1].line, REMOTES_MAX, REMOTES_MAX), 0)
	end
	for _, r in ipairs(state.remotes) do
		if resolve then
			local addresses, err = resolve(r.host)
			if not addresses or #addresses == 0 then
				error(string.format("%s:%d: remote %s: %s", state.profile.name, r.line, r.host,
					err or "the name has no address"), 0)
			end
		end
		local host = r.host:find(":", 1, true) and "[" .. r.host .. "]" or r.host
		list[#list + 1] = string.format("%s://%s:%d", r.proto or state.proto or "udp", host,
			r.port or state.port or 1194)
	end
	return list
end

local function shuffle(list, random)
	for i = #list, 2, -1 do
		local j = random(i)
		list[i], list[j] = list[j], list[i]
	end
end

local function tls_fields(state)
	local tls = state.tls
	if tls.pkcs12 and (tls.cert or tls.key) then
		error(state.profile.name .. ": pkcs12 and cert/key both given: keep one", 0)
	end
	if not tls.ca and not tls.pkcs12 then
		error(state.profile.name .. ": no ca: the profile needs the server's CA", 0)
	end
	if not tls.pkcs12 and not (tls.cert and tls.key) and not state.auth.ask and not state.auth.credentials then
		error(state.profile.name .. ": no cert and key, and no auth-user-pass: the profile has no way to log in", 0)
	end
	if tls.tls_auth then
		tls.tls_auth.direction = state.key_direction
		if state.key_direction == nil then
			state.warnings[#state.warnings + 1] = state.profile.name
				.. ": tls-auth without key-direction: both directions use one key (as OpenVPN)"
		end
	end
	return tls
end

--- The client's fields from a parsed profile, and the warnings (a list of
-- "name:line: directive: text"); raises "name:line: why" for what it cannot
-- honour. opts.dir: the profile's directory (relative file names); opts.resolve(host):
-- its addresses (a list) or nil and why, to check each remote's name now (names stay
-- names in the fields); opts.random(n): 1..n for remote-random.
function M.client_fields(profile, opts)
	opts = opts or {}
	local state = new_state(profile, opts)
	local connections = {}
	for _, opt in ipairs(profile.options) do
		if opt.connection then
			connections[#connections + 1] = connection(state, opt)
		else
			apply(state, opt)
		end
	end
	if #connections > 0 then
		-- OpenVPN tries the blocks then, and leaves remote lines outside them out (options.c).
		if #state.remotes > 0 then
			state.warnings[#state.warnings + 1] = string.format("%s:%d: remote: left out: with "
				.. "<connection> blocks only their remotes are tried (as OpenVPN)", profile.name,
				state.remotes[1].line)
		end
		state.remotes = connections
	end
	if not (state.client or (state.pull and state.tls_client)) then
		error(profile.name .. ": not a client profile: it has no `client` line", 0)
	end
	local remote = endpoints(state, opts.resolve)
	if state.remote_random then shuffle(remote, opts.random or math.random) end
	local fields = {
		remote = remote, device = state.device, tls = tls_fields(state), mssfix = state.mssfix,
		reconnect = next(state.reconnect) and state.reconnect or nil, log_level = state.log_level,
		user = state.user, group = state.group, auth = next(state.auth) and state.auth or nil,
		auth_retry = state.auth_retry, redirect_gateway = state.redirect_gateway,
		route_nopull = state.route_nopull, compression = state.compression,
		routes = #state.routes > 0 and state.routes or nil,
		routes_outside = #state.routes_outside > 0 and state.routes_outside or nil,
		pull_filter = #state.pull_filter > 0 and state.pull_filter or nil,
		renegotiate = state.reneg_seconds and { seconds = state.reneg_seconds } or nil,
	}
	local ciphers = state.ciphers
	if state.fallback_cipher then
		ciphers = ciphers or { "AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305" }
		local present = false
		for _, c in ipairs(ciphers) do present = present or c == state.fallback_cipher end
		if not present then ciphers[#ciphers + 1] = state.fallback_cipher end
	end
	if ciphers and #ciphers == 0 then
		error(profile.name .. ": data-ciphers names none of AES-256-GCM, AES-128-GCM, CHACHA20-POLY1305", 0)
	end
	fields.ciphers = ciphers
	return fields, state.warnings
end

-- { file = PATH } -> PATH; { inline = TEXT, origin } -> the same (config.lua's material).
local function material_field(m)
	if m == nil then return nil end
	return m.file or { inline = m.inline, origin = m.origin }
end

--- vpn.client's fields from client_fields()'s: key material as paths or
-- { inline = TEXT }.
function M.config_fields(fields)
	local tls, out = fields.tls, {}
	for k, v in pairs(fields) do out[k] = v end
	out.tls = {
		ca = material_field(tls.ca), cert = material_field(tls.cert), key = material_field(tls.key),
		crl = material_field(tls.crl), pkcs12 = material_field(tls.pkcs12), tls_crypt = material_field(tls.tls_crypt),
		tls_crypt_v2 = material_field(tls.tls_crypt_v2), server_name = tls.server_name,
		server_fingerprint = tls.server_fingerprint,
		key_password = tls.key_password == true and true
			or tls.key_password and { file = tls.key_password.file } or nil,
		tls_auth = tls.tls_auth and { key = material_field(tls.tls_auth), direction = tls.tls_auth.direction },
	}
	-- auth-user-pass FILE, or alone: asked on the terminal (auth.ask), as is a static
	-- challenge's response and, with auth-retry interact, the password after a refusal.
	local auth = fields.auth
	if auth then
		out.auth = { static_challenge = auth.static_challenge }
		if auth.credentials then
			out.auth.file = material_field(auth.credentials)
		else
			out.auth.ask = true
		end
		if auth.static_challenge or fields.auth_retry == "interact" then out.auth.ask = true end
		if not next(out.auth) then out.auth = nil end
	end
	return out
end

--- Reads the profile at path (shown as name): vpn.client's fields and the
-- warnings, or raises "name:line: why". opts.resolve(host): addresses or nil, why.
function M.load(path, name, opts)
	local f, err = io.open(path, "r")
	if not f then error(string.format("%s: cannot read the profile: %s", name, err:gsub("^.-: ", "", 1)), 0) end
	local text = f:read("a")
	f:close()
	local profile, perr = M.parse(text, name)
	if not profile then error(perr, 0) end
	local fields, warnings = M.client_fields(profile, { dir = opts.dir, resolve = opts.resolve })
	return M.config_fields(fields, name), warnings
end

return M
