-- SPDX-License-Identifier: MIT
--- Loading and validating a configuration file.
--
-- A configuration is a Lua program. It runs in its own environment and
-- declares the engine's role with `vpn.server { ... }`; nothing is opened
-- while it runs. `load(path)` then validates every declaration against the
-- schema below and returns one normalized table, or an error of the form
-- `vpn.lua:14: server.network: "10.8.0.0/33" is not a CIDR prefix`.
local core = require "moonvpn.core"
local policy = require "moonvpn.policy"
local schema = require "moonvpn.schema"
local source = require "moonvpn.source"

local M = {}

local S = schema

-- A configuration that runs longer than this is stuck: a reload must never
-- freeze the engine. Legitimate configurations use a tiny fraction of it.
M.INSTRUCTION_BUDGET = 200000000
-- And one that runs longer than this, however few instructions it takes.
M.TIMEOUT_SECONDS = 5

M.CIPHERS = { "AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305" }
M.LOG_LEVELS = { "error", "warn", "info", "debug", "trace" }

-- Linux interface names: at most 15 bytes, no '/', ':' or whitespace.
local function is_ifname(v)
	if #v > 15 then return false, "is too long for an interface name (at most 15 bytes)" end
	if v:find("[/:%%%s]") or v == "." or v == ".." then
		return false, "is not a valid interface name (no '/', ':', '%' or spaces)"
	end
	return true
end

-- sun_path holds 108 bytes including the terminating NUL.
local function is_socket_path(v)
	if #v > 107 then return false, "is too long for a UNIX socket path (at most 107 bytes)" end
	return true
end

local file_path = S.string { what = "a file path" }

-- A client's key material: a file path, or { inline = TEXT } with the text itself (a
-- .ovpn profile's <ca> ... </ca> block), which reaches OpenSSL from memory and is
-- never written to disk. Normalized to the path or the text: the C side tells them
-- apart by the newline every PEM text has and no path may have.
local material_record = S.record({
	inline = { { what = "the file's text (a string)", check = function(v, path)
		if type(v) ~= "string" then return S.fail(path, "expected the file's text (a string), got %s", S.show(v)) end
		return v
	end }, required = true },
	origin = { S.string { what = "where the text came from (for messages)" } },
}, { what = "{ inline = TEXT }" })
local material = {
	what = 'a file path or { inline = [[-----BEGIN ...]] }',
	check = function(v, path)
		if type(v) ~= "table" then return file_path.check(v, path) end
		local t, err = material_record.check(v, path)
		if not t then return nil, err end
		if not t.inline:find("\n") then
			return S.fail(path, "inline needs the file's whole text (its lines, each ending in a newline)")
		end
		if t.inline:find("%z") then return S.fail(path, "inline text has a NUL byte") end
		return t.inline
	end,
}
M.material = material

-- The management interface: "HOST:PORT" (TCP) or a UNIX socket path.
local function is_management(v)
	if v:sub(1, 1) == "/" or v:sub(1, 1) == "." then return is_socket_path(v) end
	local host, port = v:match("^%[([%x:]+)%]:(%d+)$")
	if not host then host, port = v:match("^([%d.]+):(%d+)$") end
	if not host then
		return false, "is neither HOST:PORT (\"127.0.0.1:7505\", \"[::1]:7505\") nor a UNIX socket path"
			.. " (starting with / or ./)"
	end
	if not core.parse_ip(host) then return false, "has no valid IP address (" .. host .. ")" end
	if tonumber(port) < 1 or tonumber(port) > 65535 then return false, "has a port out of 1-65535" end
	return true
end

local status_file = S.record({
	file = { file_path, required = true },
	interval = { S.integer { min = 1, max = 86400 }, default = 10 },
	version = { S.integer { min = 1, max = 3 }, default = 1 },
}, { what = "a table { file = \"/run/moonvpn/status.log\", interval = 10, version = 2 }" })

local device = S.record({
	type = { S.enum { "tun", "tap" }, default = "tun" },
	name = { S.string { what = "an interface name", validate = is_ifname } },
	mtu = { S.integer { min = 576, max = 65535 }, default = 1500 },
}, { what = "a table { type = \"tun\", mtu = 1500 }" })

local tls_auth = S.record({
	key = { material, required = true },
	direction = { S.integer { min = 0, max = 1 } },
}, { what = "a table { key = \"ta.key\", direction = 0 }" })

local function tls_fields(extra)
	local fields = {
		ca = { file_path, required = true },
		cert = { file_path, required = true },
		key = { file_path, required = true },
		crl = { file_path },
		tls_auth = { tls_auth },
		tls_crypt = { file_path },
	}
	for k, v in pairs(extra or {}) do fields[k] = v end
	return fields
end

local tls_opts = {
	what = "a table { ca = ..., cert = ..., key = ... }",
	check = function(t, p)
		if t.tls_auth and t.tls_crypt then
			local at = table.move(p, 1, #p, 1, {})
			at[#at + 1] = "tls_crypt"
			return S.fail(at, "tls_auth and tls_crypt cannot both be set (pick one)")
		end
		return true
	end,
}

-- A tls-crypt-v2 client key's id: 32 hex digits (moonvpn genkey prints it; the
-- server logs it and shows it as client.tls_crypt_v2.id), normalized to lower case.
local key_id = {
	what = "a tls-crypt-v2 client key id (32 hex digits)",
	check = function(v, path)
		if type(v) ~= "string" or #v ~= 32 or v:find("[^0-9a-fA-F]") then
			return S.fail(path, "%s is not a tls-crypt-v2 client key id: 32 hex digits, as " ..
				"`moonvpn genkey --tls-crypt-v2-client` prints it and the server logs it", S.show(v))
		end
		return v:lower()
	end,
}

-- The password of an encrypted key or PKCS#12 bundle: the password itself, { file =
-- PATH } with it on the file's first line (OpenVPN's askpass FILE), or true: asked on
-- the terminal at start (askpass alone).
local key_password_file = S.record({ file = { file_path, required = true } }, { what = "{ file = PATH }" })
local key_password = {
	what = 'a password, { file = "pass.txt" } or true (asked on the terminal)',
	check = function(v, path)
		if v == true or type(v) == "string" then return v end
		if type(v) == "table" then return key_password_file.check(v, path) end
		return S.fail(path, 'expected a password, { file = "pass.txt" } or true (asked on the terminal), '
			.. "got %s", S.show(v))
	end,
}

-- A server's key password: the password or { file = PATH }, never asked (true): a
-- server runs as a service, and its reloads must not stop at a prompt either.
local server_key_password = {
	what = 'a password or { file = "pass.txt" }',
	check = function(v, path)
		if v == true then
			return S.fail(path, "a server never asks on the terminal: give the password or "
				.. '{ file = "pass.txt" } (its first line)')
		end
		return key_password.check(v, path)
	end,
}

-- A server may take tls-crypt-v2 clients (with their own keys, wrapped with
-- tls_crypt_v2) beside tls_crypt or tls_auth ones; the age limit and the
-- revoked ids refuse a client key before any state is kept for it.
local tls = S.record(tls_fields {
	key_password = { server_key_password },
	tls_crypt_v2 = { file_path },
	tls_crypt_v2_max_age = { S.integer { min = 1, max = 36500 } },
	tls_crypt_v2_revoked = { S.list(key_id, { unique = true, max = 100000 }), default = {} },
}, {
	what = tls_opts.what,
	check = function(t, p)
		local ok, err = tls_opts.check(t, p)
		if not ok then return ok, err end
		if not t.ca and not t.pkcs12 then
			local at = table.move(p, 1, #p, 1, {})
			at[#at + 1] = "ca"
			return S.fail(at, "is required (the CA that signs the server's certificate), unless pkcs12 carries it")
		end
		if t.pkcs12 and (t.cert or t.key) then
			local at = table.move(p, 1, #p, 1, {})
			at[#at + 1] = "pkcs12"
			return S.fail(at, "pkcs12 has the certificate and key: give it or cert and key, not both")
		end
		for _, field in ipairs { "tls_crypt_v2_max_age", "tls_crypt_v2_revoked" } do
			if t[field] and (field ~= "tls_crypt_v2_revoked" or #t[field] > 0) and not t.tls_crypt_v2 then
				local at = table.move(p, 1, #p, 1, {})
				at[#at + 1] = field
				return S.fail(at, "needs tls_crypt_v2 (the tls-crypt-v2 server key file) to be set")
			end
		end
		return true
	end,
})

-- A SHA-256 certificate fingerprint: 64 hex digits, colons allowed (as openssl prints
-- it); normalized to lower case without colons.
local fingerprint = {
	what = "a SHA-256 fingerprint (64 hex digits, e.g. from openssl x509 -noout -fingerprint -sha256)",
	check = function(v, path)
		if type(v) ~= "string" then
			return S.fail(path, "%s is not a SHA-256 fingerprint string", S.show(v))
		end
		local hex = v:gsub(":", ""):lower()
		if #hex ~= 64 or hex:find("[^0-9a-f]") then
			return S.fail(path, "%s is not a SHA-256 fingerprint: 64 hex digits, colons allowed " ..
				"(openssl x509 -noout -fingerprint -sha256 -in server.crt prints it)", S.show(v))
		end
		return hex
	end,
}

-- A client's tls_crypt_v2 is its own client key (the file `moonvpn genkey
-- --tls-crypt-v2-client` or `openvpn --genkey tls-crypt-v2-client` writes), which
-- wraps its control channel instead of tls_crypt or tls_auth, as in OpenVPN.
local client_tls_opts = {
	what = tls_opts.what,
	check = function(t, p)
		local ok, err = tls_opts.check(t, p)
		if not ok then return ok, err end
		local other = t.tls_crypt and "tls_crypt" or t.tls_auth and "tls_auth"
		if t.tls_crypt_v2 and other then
			local at = table.move(p, 1, #p, 1, {})
			at[#at + 1] = "tls_crypt_v2"
			return S.fail(at, "a client wraps its control channel with one key: tls_crypt_v2 " ..
				"(its own client key) or %s, not both (the server takes either)", other)
		end
		return true
	end,
}

-- A client may pin the server's certificate, as OpenVPN's verify-x509-name and peer-fingerprint.
-- Its own certificate is optional: a server that takes passwords alone needs none (auth).
local client_tls = S.record(tls_fields {
	ca = { material },
	-- A PKCS#12 bundle (a DER file, or inline base64): its certificate and key
	-- instead of cert and key, its CA certificates beside ca's.
	pkcs12 = { material },
	cert = { material },
	key = { material },
	key_password = { key_password },
	crl = { material },
	tls_crypt = { material },
	server_name = { S.string { what = "the server certificate's common name or DNS name", max_len = 255 } },
	server_fingerprint = { fingerprint },
	tls_crypt_v2 = { material },
}, client_tls_opts)

-- A client's auth-user-pass: a username and a password, or a file with them on its
-- first two lines (OpenVPN's auth-user-pass FILE); ask: what is not given is asked
-- (true: on the terminal; a function(challenge, kind): called with nil for the
-- username and password, or with a challenge's text for its response). A function
-- alone stands for { ask = function }.
local auth_ask = { what = "true (ask on the terminal) or a function(challenge, kind)",
	check = function(v, p)
		if v == true or type(v) == "function" then return v end
		return S.fail(p, "%s is not true (ask on the terminal) or a function(challenge, kind) "
			.. "that returns username, password (or a challenge's response)", S.show(v))
	end }

-- OpenVPN's static-challenge TEXT ECHO: a question asked with the password, whose
-- answer goes with it (SCRV1).
local static_challenge = S.record({
	text = { S.string { what = "the question, as the server's profile gives it", max_len = 255 }, required = true },
	echo = { S.boolean(), default = false },
}, { what = 'a table { text = "Enter OTP", echo = false }' })

local client_auth_record = S.record({
	username = { S.string { what = "a username", max_len = 255 } },
	password = { S.string { what = "a password", max_len = 1023 } },
	file = { material },
	ask = { auth_ask },
	static_challenge = { static_challenge },
}, {
	what = 'a table { username = "...", password = "..." } or { file = "credentials.txt" }',
	check = function(a, p)
		if a.file and (a.username or a.password) then
			return S.fail(p, "give either file or username and password, not both")
		end
		if not a.ask and not a.file and not (a.username and a.password) then
			return S.fail(p, "needs username and password (or file, with them on its first two lines); "
				.. "or ask = true to ask on the terminal, or a function that returns them")
		end
		if a.static_challenge and not a.ask then
			local where = table.move(p, 1, #p, 1, { [#p + 1] = "static_challenge" })
			return S.fail(where, "needs ask: true to ask the response on the "
				.. "terminal, or a function(challenge) that returns it")
		end
		return true
	end,
})

local client_auth = { what = client_auth_record.what, fields = client_auth_record.fields,
	field_schema = client_auth_record.field_schema,
	check = function(v, p)
		if type(v) == "function" then v = { ask = v } end
		return client_auth_record.check(v, p)
	end }

local keepalive = S.record({
	interval = { S.integer { min = 1, max = 3600 }, default = 10 },
	timeout = { S.integer { min = 2, max = 86400 }, default = 60 },
}, {
	what = "a table { interval = 10, timeout = 60 }",
	check = function(k, p)
		if k.timeout < 2 * k.interval then
			local at = table.move(p, 1, #p, 1, {})
			at[#at + 1] = "timeout"
			return S.fail(at, "%d must be at least twice interval (%d)", k.timeout, k.interval)
		end
		return true
	end,
})

local renegotiate = S.record({
	seconds = { S.integer { min = 0, max = 7 * 24 * 3600 }, default = 3600 },
	bytes = { S.integer { min = 0, max = math.maxinteger }, default = 0 },
}, { what = "a table { seconds = 3600, bytes = 0 }" })

-- The fast data path's rungs (docs/datapath.md). Each is probed when the
-- engine starts and used where the kernel offers it; false turns one off
-- (to rule it out when something misbehaves, or to measure what it gives).
local offload = S.record({
	tun = { S.boolean(), default = true },      -- TUN virtio-net header: TSO superpackets, checksum offload
	uso = { S.boolean(), default = true },      -- UDP superpackets from the TUN device too (with tun)
	coalesce = { S.boolean(), default = true }, -- TCP segments written to the device as one (with tun)
	gso = { S.boolean(), default = true },      -- UDP segmentation offload (UDP_SEGMENT) on send
	gro = { S.boolean(), default = true },      -- UDP receive offload (UDP_GRO)
}, { what = "a table { tun = true, uso = true, coalesce = true, gso = true, gro = true }" })

-- As OpenVPN's --mssfix: TCP SYNs through the tunnel get their MSS lowered so
-- that full segments, sealed, make outer IP packets of at most this many
-- bytes (1492, OpenVPN's default, leaves room for PPPoE); 0 turns it off.
local mssfix = S.integer { min = 0, max = 65535 }

local push = S.record({
	routes = { S.list(S.cidr(), { unique = true }), default = {} },
	dns = { S.list(S.ip(), { unique = true }), default = {} },
	domain = { S.string { what = "a DNS domain", pattern = "^[%w][%w%-%.]*$", max_len = 253 } },
	redirect_gateway = { S.boolean(), default = false },
}, { what = "a table { routes = { ... }, dns = { ... } }" })

-- One endpoint or a list: a UDP one, a TCP one, or one of each. Normalized to
-- one string, the endpoints separated by a space (what the C side reads).
local endpoint = S.endpoint { schemes = { "udp", "tcp" } }
local listen = {
	what = 'an endpoint like "udp://0.0.0.0:1194", or a list with one udp:// and one tcp://',
	check = function(v, path)
		local list, err = S.list(endpoint, { min = 1, max = 2 }).check(type(v) == "table" and v or { v }, path)
		if not list then
			if type(v) ~= "table" then err.path = path end
			return nil, err
		end
		if #list == 2 and list[1]:sub(1, 3) == list[2]:sub(1, 3) then
			return S.fail(path, "lists two %s:// endpoints: give one udp:// and one tcp://",
				list[1]:sub(1, 3))
		end
		return table.concat(list, " ")
	end,
}

-- The addresses clients reach the server at, for `moonvpn profile`'s remote lines
-- (listen is often 0.0.0.0): a host name or address gets one remote per listener,
-- with its transport and port; "udp://HOST:PORT" or "tcp://HOST:PORT" is one remote
-- as written (a port forwarded from another). One entry or a list, normalized to a list.
local function is_host(h)
	return core.parse_ip(h) ~= nil or (#h <= 253 and h:match("^[%w][%w%-%.]*$") ~= nil)
end
local public_entry = S.string {
	what = 'a host name or address ("vpn.example.com"), or "udp://HOST:PORT" or "tcp://HOST:PORT"',
	validate = function(v)
		local scheme, rest = v:match("^(%a+)://(.+)$")
		if not scheme then
			return is_host(v), "is not a host name or an IP address"
		end
		if scheme ~= "udp" and scheme ~= "tcp" then
			return false, "has an unknown transport (expected udp:// or tcp://)"
		end
		local host, port = rest:match("^%[([^%]]+)%]:(%d+)$")
		if not host then host, port = rest:match("^([^:]+):(%d+)$") end
		if not host or not is_host(host) then
			return false, "is not udp://HOST:PORT or tcp://HOST:PORT (an IPv6 address in [ ])"
		end
		local n = tonumber(port)
		return n >= 1 and n <= 65535, "has a port that is not from 1 to 65535"
	end,
}
local public = {
	what = 'a host name or address clients reach the server at, or a list of them',
	check = function(v, path)
		local list, err = S.list(public_entry, { max = 16, unique = true })
			.check(type(v) == "table" and v or { v }, path)
		if not list and type(v) ~= "table" then err.path = path end
		return list, err
	end,
}

-- Prometheus metrics (README, "Metrics"): "ADDRESS:PORT" with a literal address
-- ("[::1]:9176" for IPv6), or a table with the listen address and the
-- per-client series' switch and bound. Normalized to the table.
M.METRICS_PER_CLIENT_MAX = 10000
local metrics_listen = {
	what = 'an address and port like "127.0.0.1:9176" or "[::1]:9176"',
	check = function(v, path)
		local what = 'an address and port like "127.0.0.1:9176" or "[::1]:9176"'
		if type(v) ~= "string" then return S.fail(path, "expected %s, got %s", what, S.show(v)) end
		local host, port = v:match("^%[([^%]]+)%]:(%d+)$")
		if host and core.parse_ip(host) ~= 6 then host = nil end
		if not host then
			host, port = v:match("^([^:%[%]]+):(%d+)$")
			if host and core.parse_ip(host) ~= 4 then
				return S.fail(path, "%s: %q is not an IP address literal (the metrics are "
					.. "served on an address, not a name)", S.show(v), host)
			end
		end
		if not host then return S.fail(path, "%s is not %s", S.show(v), what) end
		local n = tonumber(port)
		if n < 1 or n > 65535 then
			return S.fail(path, "%s: port %s is not from 1 to 65535", S.show(v), port)
		end
		return v
	end,
}
local metrics_record = S.record({
	listen = { metrics_listen, required = true },
	per_client = { S.boolean(), default = true },
	per_client_max = { S.integer { min = 1, max = M.METRICS_PER_CLIENT_MAX }, default = 1000 },
}, { what = 'a table { listen = "127.0.0.1:9176", per_client = true, per_client_max = 1000 }' })
local metrics = {
	what = '"127.0.0.1:9176" or a table { listen = "127.0.0.1:9176", per_client = true, per_client_max = 1000 }',
	check = function(v, path)
		if type(v) ~= "string" then return metrics_record.check(v, path) end
		local out, err = metrics_record.check({ listen = v }, path)
		if err then err.path = path end -- the string is the field the operator wrote
		return out, err
	end,
}

-- Every hook call (on.auth, on.connect, on.disconnect, timers) runs under these.
local hooks = S.record({
	timeout = { S.integer { min = 1, max = 3600 }, default = 30 },
	instructions = { S.integer { min = 10000, max = 10000000000 }, default = 10000000 },
}, { what = "a table { timeout = 30, instructions = 10000000 }" })

-- Session tokens in OpenVPN's auth-gen-token format (README, "Auth tokens"): the
-- secret is a file `openvpn --genkey auth-token FILE` writes (without one, a random
-- key per start); lifetime 0 is no limit; renew defaults to renegotiate.seconds.
-- external: on.auth is asked for token logins too (password nil, client.auth_token
-- "valid"), as OpenVPN's auth-gen-token ... external-auth.
local token = S.record({
	secret = { file_path },
	lifetime = { S.integer { min = 0, max = 366 * 24 * 3600 }, default = 0 },
	renew = { S.integer { min = 10, max = 7 * 24 * 3600 } },
	external = { S.boolean(), default = false },
}, { what = "a table { secret = \"auth-token.key\", lifetime = 0, renew = 3600 }" })

-- What a client must present: certificate (TLS) and username/password (auth-user-pass).
local auth = S.record({
	certificate = { S.enum { "required", "optional", "none" }, default = "required" },
	password = { S.enum { "required", "optional" }, default = "required" },
	token = { token },
}, { what = "a table { certificate = \"required\", password = \"required\", token = { ... } }" })

-- True when prefix `outer` contains prefix `inner` (both canonical network text).
function M.prefix_contains(outer, inner)
	local o, i = core.parse_prefix(outer), core.parse_prefix(inner)
	if o.family ~= i.family or o.len > i.len then return false end
	local addr = inner:match("^([^/]+)/")
	return core.parse_prefix(addr .. "/" .. o.len).network == outer
end

local function at(path, ...)
	local p = table.move(path, 1, #path, 1, {})
	for _, k in ipairs { ... } do p[#p + 1] = k end
	return p
end

-- A user or group name as useradd/groupadd accept them. Dropped to once the
-- device, sockets, keys and console are open (README, "Privileges").
local function account(what)
	return S.string { what = what, pattern = "^[%w_.][%w_.%-]*%$?$", max_len = 32 }
end

-- `user` and `group` name accounts that exist now: the engine drops to them
-- after start, and a typo must not be found only then. Normalized with their
-- ids: cfg.uid, and cfg.gid (group's, or the user's primary group).
local function resolve_identity(cfg, p)
	if cfg.group and not cfg.user then
		return S.fail(at(p, "group"), "needs user too: moonvpn drops to a user and its group "
			.. "(add user = \"...\", or leave group out)")
	end
	if not cfg.user then return true end
	local uid, gid = core.user(cfg.user)
	if not uid then
		return S.fail(at(p, "user"), "%s: no such user; create it (useradd --system "
			.. "--no-create-home %s) or name an existing one", S.show(cfg.user), cfg.user)
	end
	if uid == 0 then
		return S.fail(at(p, "user"), "%s is uid 0: moonvpn would keep root; name an "
			.. "unprivileged user, or leave user out to run as root", S.show(cfg.user))
	end
	if cfg.group then
		gid = core.group(cfg.group)
		if not gid then
			return S.fail(at(p, "group"), "%s: no such group; create it (groupadd --system %s) "
				.. "or name an existing one", S.show(cfg.group), cfg.group)
		end
	end
	cfg.uid, cfg.gid = uid, gid
	return true
end

-- auth.token.renew defaults to renegotiate.seconds, as OpenVPN's auth-gen-token does.
local function token_renewal(cfg, p)
	local t = cfg.auth.token
	if not t or t.renew then return true end
	if cfg.renegotiate.seconds < 10 then
		return S.fail(at(p, "auth", "token", "renew"), "is required when renegotiate.seconds "
			.. "is %d: set how often clients get a fresh token (seconds, at least 10)",
			cfg.renegotiate.seconds)
	end
	t.renew = cfg.renegotiate.seconds
	return true
end

-- Rules across fields, checked after each field is valid on its own.
-- A management interface on TCP anyone on the network can reach needs a password.
local function check_management(cfg, p)
	local m = cfg.management
	if m and cfg.management_password == nil and m:sub(1, 1) ~= "/" and m:sub(1, 1) ~= "." then
		local host = m:match("^%[([%x:]+)%]") or m:match("^([%d.]+)")
		if not (host:match("^127%.") or host == "::1") then
			return S.fail(at(p, "management"), "%s listens beyond this host without a password: "
				.. "set management_password = \"PATH\" (a file: its first line is the password) "
				.. "or listen on 127.0.0.1 or a UNIX socket path", m)
		end
	end
	if cfg.management_client_auth and not m then
		return S.fail(at(p, "management_client_auth"),
			"needs management = \"HOST:PORT\" or a socket path: the management client decides admissions")
	end
	return true
end

-- workers left out: $MOONVPN_WORKERS when it is set (so an operator, or the test suite,
-- sets it for every configuration on the host), else one for each CPU online; at most
-- max_clients. A TAP server has one: its switch is the main thread's, so more would
-- only hand its frames there.
local WORKERS_MAX = 255 -- STEER_SOCKETS_MAX (core/sys/steer.h) less the main thread's socket
local function default_workers(cfg, p)
	local env = os.getenv("MOONVPN_WORKERS")
	local n
	if env == nil or env == "" then
		n = cfg.device.type == "tap" and 1 or math.min(core.online_cpus(), WORKERS_MAX)
	else
		n = math.tointeger(tonumber(env))
		if not n or n < 1 or n > WORKERS_MAX then
			return S.fail(at(p, "workers"), "not set, and MOONVPN_WORKERS=%q is not an integer from 1 to %d: "
				.. "set workers, or fix or unset MOONVPN_WORKERS", env, WORKERS_MAX)
		end
	end
	cfg.workers = math.min(n, cfg.max_clients)
	return true
end

local function check_server(cfg, p)
	local ok, err = resolve_identity(cfg, p)
	if not ok then return nil, err end
	ok, err = check_management(cfg, p)
	if not ok then return nil, err end
	ok, err = token_renewal(cfg, p)
	if not ok then return nil, err end
	local has_ipv6 = cfg.network6 ~= nil
	for i, route in ipairs(cfg.routes) do
		has_ipv6 = has_ipv6 or core.parse_prefix(route).family == 6
		for _, net in ipairs { cfg.network, cfg.network6 } do
			if M.prefix_contains(route, net) or M.prefix_contains(net, route) then
				return S.fail(at(p, "routes", i), "%s overlaps the VPN network %s, which is routed through the device already",
					S.show(route), net)
			end
		end
	end
	-- IPv6 requires links of at least 1280 bytes (RFC 8200); the kernel would drop IPv6.
	if has_ipv6 and cfg.device.mtu < 1280 then
		return S.fail(at(p, "device", "mtu"), "%d is too small for IPv6 (network6 or an IPv6 route): at least 1280",
			cfg.device.mtu)
	end
	if cfg.workers == nil then
		ok, err = default_workers(cfg, p)
		if not ok then return nil, err end
	end
	-- Each worker has its own class of peer-ids, which are below max_clients.
	if cfg.workers > cfg.max_clients then
		return S.fail(at(p, "workers"), "%d is more than max_clients (%d): at most one worker for each client",
			cfg.workers, cfg.max_clients)
	end
	return true
end

M.server_schema = S.record({
	listen = { listen, default = "udp://0.0.0.0:1194" },
	public = { public, default = {} },
	device = { device, default = {} },
	network = { S.cidr { family = 4, min_len4 = 8, max_len4 = 30 }, required = true },
	network6 = { S.cidr { family = 6, example = '"fd00:8::/64"', min_len6 = 64, max_len6 = 124 } },
	routes = { S.list(S.cidr(), { unique = true }), default = {} },
	client_to_client = { S.boolean(), default = false },
	-- Clients at once; every table by peer-id is sized for it at start. The bounds are
	-- the core's SERVER_CLIENTS_DEFAULT and SERVER_CLIENTS_LIMIT (core/control/server.h).
	max_clients = { S.integer { min = 1, max = 65535 }, default = 1024 },
	-- Data-path threads, each with its own UDP socket of a SO_REUSEPORT group,
	-- device queue and TCP connections (docs/workers.md); left out: default_workers.
	workers = { S.integer { min = 1, max = WORKERS_MAX } },
	tls = { tls, required = true },
	ciphers = { S.list(S.enum(M.CIPHERS), { min = 1, unique = true }), default = M.CIPHERS },
	keepalive = { keepalive, default = {} },
	renegotiate = { renegotiate, default = {} },
	offload = { offload, default = {} },
	mssfix = { mssfix, default = 1492 },
	-- Clients whose profile says comp-lzo or compress: "framing" lets them in with their
	-- compression turned off (their framing kept), "refuse" refuses them.
	compression = { S.enum { "framing", "refuse" }, default = "framing" },
	push = { push, default = {} },
	auth = { auth, default = {} },
	hooks = { hooks, default = {} },
	policy = { policy.schema, default = {} },
	console = { S.string { what = "a UNIX socket path", validate = is_socket_path } },
	management = { S.string { what = "\"HOST:PORT\" or a UNIX socket path", validate = is_management } },
	management_password = { file_path },
	management_client_auth = { S.boolean(), default = false },
	status = { status_file },
	metrics = { metrics },
	log_level = { S.enum(M.LOG_LEVELS), default = "info" },
	user = { account "a user name" },
	group = { account "a group name" },
}, { what = "a table { listen = ..., network = ..., tls = { ... } }", check = check_server })

-- One remote or a list of them: "udp://10.0.0.1:1194" or { "udp://...", "udp://..." };
-- a host name is resolved at each attempt that comes to it (client.c).
local remote_endpoint = S.endpoint { schemes = { "udp", "tcp" }, names = true }
local remotes = {
	what = "an endpoint like \"udp://192.0.2.1:1194\" or a list of them",
	check = function(v, path)
		if type(v) == "string" then
			local ok, err = remote_endpoint.check(v, path)
			if ok == nil then return nil, err end
			return { ok }
		end
		return S.list(remote_endpoint, { min = 1, max = 64 }).check(v, path)
	end,
}

local reconnect = S.record({
	initial = { S.integer { min = 1, max = 3600 }, default = 1 },
	max = { S.integer { min = 1, max = 86400 }, default = 60 },
}, {
	what = "a table { initial = 1, max = 60 }",
	check = function(r, p)
		if r.max < r.initial then
			return S.fail(at(p, "max"), "%d must be at least initial (%d)", r.max, r.initial)
		end
		return true
	end,
})

-- redirect-gateway's words as OpenVPN takes them (route.c); true: { "def1" }.
local REDIRECT_WORDS = { "def1", "local", "ipv6", "!ipv4", "block-local", "bypass-dhcp", "bypass-dns",
	"autolocal" }
local redirect_gateway = {
	what = 'true or a list of redirect-gateway\'s words, like { "def1", "ipv6" }',
	check = function(v, path)
		if v == true then return "def1" end
		if v == false then return "" end
		local list, err = S.list(S.enum(REDIRECT_WORDS), { unique = true }).check(v, path)
		if not list then return nil, err end
		return table.concat(list, " ")
	end,
}

-- pull-filter's rules, in order: { "accept", "route 10." }, { "ignore", "redirect-gateway" },
-- { "reject", "dhcp-option" }. Normalized to "ACTION TEXT" strings (what the C side reads).
local pull_rule = {
	what = '{ "accept"|"ignore"|"reject", "TEXT" }',
	check = function(v, path)
		if type(v) ~= "table" or #v ~= 2 or type(v[2]) ~= "string" then
			return S.fail(path, 'expected { "accept"|"ignore"|"reject", "TEXT" }, got %s', S.show(v))
		end
		if v[1] ~= "accept" and v[1] ~= "ignore" and v[1] ~= "reject" then
			return S.fail(path, '%s is not "accept", "ignore" or "reject"', S.show(v[1]))
		end
		if v[2] == "" or #v[2] > 48 or v[2]:find("[%c,]") then
			return S.fail(path, "%s is not an option's start (1 to 48 bytes, no comma or control "
				.. "character)", S.show(v[2]))
		end
		return v[1] .. " " .. v[2]
	end,
}

-- A client takes its addresses, routes and keepalive from the server's push.
M.client_schema = S.record({
	profile = { file_path },
	redirect_gateway = { redirect_gateway, default = "" },
	route_nopull = { S.boolean(), default = false },
	-- The client's own routes through the tunnel (a profile's route and route-ipv6).
	routes = { S.list(S.cidr(), { unique = true, max = 64 }), default = {} },
	-- Networks kept outside the tunnel, along the path they had (route ... net_gateway).
	routes_outside = { S.list(S.cidr(), { unique = true, max = 32 }), default = {} },
	-- Framing only, never compression (as the server's): "comp-lzo" or "stub-v2" for a
	-- server with comp-lzo or compress stub-v2; what the server pushes overrides it.
	compression = { S.enum { "none", "comp-lzo", "stub-v2" }, default = "none" },
	pull_filter = { S.list(pull_rule, { max = 16 }), default = {} },
	remote = { remotes, required = true },
	device = { device, default = {} },
	tls = { client_tls, required = true },
	ciphers = { S.list(S.enum(M.CIPHERS), { min = 1, unique = true }), default = M.CIPHERS },
	renegotiate = { renegotiate, default = {} },
	offload = { offload, default = {} },
	mssfix = { mssfix, default = 1492 },
	reconnect = { reconnect, default = {} },
	dns = { S.enum { "auto", "resolved", "resolvconf", "file", "show" }, default = "auto" },
	auth = { client_auth },
	auth_retry = { S.enum { "none", "nointeract", "interact" }, default = "none" },
	console = { S.string { what = "a UNIX socket path", validate = is_socket_path } },
	log_level = { S.enum(M.LOG_LEVELS), default = "info" },
	user = { account "a user name" },
	group = { account "a group name" },
}, { what = "a table { remote = ..., tls = { ... } }", check = function(cfg, p)
	if (cfg.tls.cert == nil) ~= (cfg.tls.key == nil) then
		return S.fail(at(p, "tls"), "cert and key go together: give both, or neither with auth")
	end
	if not cfg.tls.cert and not cfg.tls.pkcs12 and not cfg.auth then
		return S.fail(at(p, "tls"), "needs cert and key, or auth = { username = ..., password = ... } "
			.. "for a server that takes passwords alone")
	end
	-- Without auth (certificates alone) "interact" has nothing to ask: OpenVPN takes it
	-- all the same, and so do we; the engine warns that it retries as "nointeract".
	if cfg.auth_retry == "interact" and cfg.auth and not cfg.auth.ask then
		return S.fail(at(p, "auth_retry"), '"interact" asks the password again: it needs auth.ask '
			.. '(true for the terminal, or a function)')
	end
	return resolve_identity(cfg, p)
end })

-- What a reload does with each field (README, "Reloading"), one entry a field: a
-- record's entry covers its fields, or each of them has its own. "live": the new
-- value is in force once the reload is done (for new clients; the README says
-- which reach connected ones too). "restart": a reload that changes it is refused,
-- naming it, and the running configuration goes on. A field missing here fails
-- spec/moonvpn_config_spec.lua: each new field must choose.
M.RELOAD = {
	server = {
		listen = "live",                 -- a new socket first, the old one closed after
		public = "live",                 -- read by moonvpn profile only
		["device.type"] = "restart",     -- the server switches IP packets or frames from the start
		["device.name"] = "live",        -- a new device, the routes moved over
		["device.mtu"] = "live",
		network = "live",                -- new clients; connected ones keep their addresses
		network6 = "live",
		routes = "live",
		client_to_client = "live",       -- connected clients too, at once
		max_clients = "restart",         -- every table by peer-id is sized at start
		workers = "restart",             -- peer-ids are dealt to workers at start
		tls = "live",                    -- new handshakes; a new CRL ends revoked clients at once
		ciphers = "live",
		keepalive = "live",              -- pushed to new clients; the server's timer for all
		renegotiate = "live",            -- connected clients too, at their next timer tick
		["offload.tun"] = "live",        -- the device is recreated
		["offload.uso"] = "live",
		["offload.coalesce"] = "live",
		["offload.gso"] = "restart",     -- probed on the UDP socket when it opens
		["offload.gro"] = "restart",
		mssfix = "live",
		compression = "live",
		push = "live",
		auth = "live",
		hooks = "live",
		["policy.default"] = "live",
		["policy.rules"] = "live",
		["policy.flows"] = "live",       -- the flow table moves to one of the new size
		["policy.flow_idle"] = "live",
		["policy.pending"] = "live",
		["policy.fallback"] = "live",
		console = "live",
		management = "live",
		management_password = "live",
		management_client_auth = "live",
		status = "live",
		metrics = "live",
		log_level = "live",
		user = "restart",                -- root is gone once it was dropped
		group = "restart",
	},
	-- A client's reload starts a new connection with the new configuration.
	client = {
		remote = "live", device = "live", tls = "live", ciphers = "live", renegotiate = "live",
		offload = "live", mssfix = "live", reconnect = "live", dns = "live", auth = "live",
		auth_retry = "live", console = "live", log_level = "live", user = "restart", group = "restart",
		profile = "live", redirect_gateway = "live", route_nopull = "live", pull_filter = "live",
		compression = "live", routes = "live", routes_outside = "live",
	},
}

--- The fields of the role's schema that M.RELOAD[role] does not cover, as dotted paths.
function M.reload_unlisted(role)
	local rules, missing = M.RELOAD[role], {}
	local function walk(rec, prefix)
		for _, name in ipairs(rec.fields) do
			local path = prefix .. name
			if not rules[path] then
				local sub = rec.field_schema(name)
				if sub and sub.fields then walk(sub, path .. ".") else missing[#missing + 1] = path end
			end
		end
	end
	walk(role == "client" and M.client_schema or M.server_schema, "")
	return missing
end

local function same(a, b)
	if type(a) ~= "table" or type(b) ~= "table" then return a == b end
	for k, v in pairs(a) do if not same(v, b[k]) then return false end end
	for k in pairs(b) do if a[k] == nil then return false end end
	return true
end

local function shown(v)
	if v == nil then return "unset" end
	if type(v) ~= "table" then return tostring(v) end
	return "a changed table"
end

local function get(t, path)
	for key in path:gmatch("[^.]+") do
		if type(t) ~= "table" then return nil end
		t = t[key]
	end
	return t
end

--- Why a reload from `running` to `new` (normalized configurations) must be
-- refused, as one line; nil when every change it makes can be applied.
function M.reload_refusal(running, new)
	if running.role ~= new.role then return nil end -- the engine refuses that itself
	local paths = {}
	for path, rule in pairs(M.RELOAD[new.role]) do
		if rule == "restart" then paths[#paths + 1] = path end
	end
	table.sort(paths)
	for _, path in ipairs(paths) do
		local was, now = get(running, path), get(new, path)
		if not same(was, now) then
			local unit = (new.source or ""):match("^/etc/moonvpn/([^/]+)%.lua$")
			return string.format("reload refused: `%s` changed from %s to %s; this needs a restart (%s)",
				path, shown(was), shown(now),
				unit and "systemctl restart moonvpn@" .. unit or "stop moonvpn and start it again")
		end
	end
	return nil
end

-- The declarations of the configuration being loaded, or nil between loads.
local collecting

-- The caller's frame in the configuration file being loaded; a tail call
-- (`return vpn.server { ... }`) leaves no such frame, then the file is named
-- without a line and the fields are searched from its top.
local function config_frame(level)
	for l = level + 1, 50 do
		local info = debug.getinfo(l, "Sl")
		if not info then break end
		if info.source == collecting.source then return info end
	end
	return { source = collecting.source, short_src = collecting.name, currentline = 1 }
end

--- Called by `vpn.server`; `level` locates the caller's line.
function M.declare(kind, def, level)
	if not collecting then
		error("moonvpn." .. kind .. " { ... } may only be called from a configuration file", level + 1)
	end
	if type(def) ~= "table" then
		error(string.format("moonvpn.%s expects a table { ... }, got %s", kind, schema.show(def)),
			level + 1)
	end
	local info = config_frame(level + 1)
	-- The full file name: Lua's short_src cuts names longer than 60 bytes.
	local file = info.source == collecting.source and collecting.name or info.short_src
	local decl = { kind = kind, def = def, source = info.source, line = info.currentline,
		short_src = file }
	collecting[#collecting + 1] = decl
	return decl
end

local function read_file(name)
	local f, err, code = io.open(name, "r")
	if not f then
		local reason = err:gsub("^.-: ", "", 1)
		return nil, string.format("%s: cannot read the configuration file: %s", name, reason), code
	end
	local text, read_err = f:read("a")
	f:close()
	if not text then
		return nil, string.format("%s: cannot read the configuration file: %s", name,
			(tostring(read_err):gsub("^.-: ", "", 1)))
	end
	return text
end

local function value_at(def, path)
	local v = def
	for i = 2, #path do
		if type(v) ~= "table" then return nil end
		v = v[path[i]]
	end
	return v
end

-- Turns a schema error into "file:line: path: message".
local function format_error(decl, err)
	local line = decl.line
	if decl.source:sub(1, 1) == "@" then
		local text = read_file(decl.source:sub(2))
		if text then
			local rest = table.move(err.path, 2, #err.path, 1, {})
			line = source.locate(text, decl.line, rest, value_at(decl.def, err.path))
		end
	end
	return string.format("%s:%d: %s: %s", decl.short_src, line, schema.path_string(err.path),
		err.message)
end

-- One line, starting with the file name: multi-line messages (a failed
-- require lists every path it tried) are joined with "; ".
local function one_line(msg, name)
	msg = msg:gsub(":?%s*\n%s*", "; ")
	if msg:sub(1, #name + 1) ~= name .. ":" then msg = name .. ": " .. msg end
	return msg
end

-- print() in a configuration and its hooks writes a log line: stdout is not
-- the engine's log, and a buffered stdout would show nothing for a long time.
local function log_print(...)
	local parts = table.pack(...)
	for i = 1, parts.n do parts[i] = tostring(parts[i]) end
	require("moonvpn").log("info", table.concat(parts, "\t", 1, parts.n))
end

local function run_file(name, text)
	local env = setmetatable({ print = log_print }, { __index = _G })
	-- os.exit would skip the engine's cleanup on a reload.
	env.os = setmetatable({
		exit = function() error("os.exit is disabled in a configuration: raise an error instead", 2) end,
	}, { __index = os })
	local chunk, syntax = load(text, "@" .. name, "t", env)
	if not chunk then error(syntax, 0) end
	chunk()
end

-- File paths in a configuration are relative to the configuration's directory.
-- The directory of the configuration file loaded last: plugins' files are relative to it too.
local config_dir = "."

local function relative_to(dir, p)
	if p == nil or p:sub(1, 1) == "/" or dir == "." or p:find("\n") then return p end
	return dir .. "/" .. p
end

--- A path from the configuration (or a plugin it set up), relative to the
-- configuration file's directory as every path in it is; absolute ones stay.
function M.resolve(path)
	return relative_to(config_dir, path)
end

local function resolve_paths(cfg, name)
	local dir = name:match("^(.*)/[^/]*$") or "."
	local function resolve(p) return relative_to(dir, p) end
	for _, field in ipairs { "ca", "cert", "key", "crl", "tls_crypt", "tls_crypt_v2", "pkcs12" } do
		cfg.tls[field] = resolve(cfg.tls[field])
	end
	if cfg.tls.tls_auth then cfg.tls.tls_auth.key = resolve(cfg.tls.tls_auth.key) end
	if type(cfg.tls.key_password) == "table" then cfg.tls.key_password.file = resolve(cfg.tls.key_password.file) end
	cfg.console = resolve(cfg.console)
	-- rawget: a schema's output is a plain table, and nothing else is run here.
	local m, status = rawget(cfg, "management"), rawget(cfg, "status")
	if type(m) == "string" and m:sub(1, 2) == "./" then cfg.management = resolve(m) end
	if rawget(cfg, "management_password") then
		cfg.management_password = resolve(cfg.management_password)
	end
	if type(status) == "table" then status.file = resolve(status.file) end
	if cfg.auth and cfg.auth.token then cfg.auth.token.secret = resolve(cfg.auth.token.secret) end
	if cfg.role == "client" and cfg.auth and cfg.auth.file then cfg.auth.file = resolve(cfg.auth.file) end
end

-- A profile's fields under the Lua ones: a record the Lua side gives (tls, device,
-- reconnect, auth, ...) is merged field by field, anything else replaces the profile's.
-- A control-channel key given in Lua replaces the profile's, whichever kind, and so
-- do credentials (a file, or a username and password).
local MERGED = { tls = true, device = true, reconnect = true, renegotiate = true, offload = true }
local WRAPS = { "tls_auth", "tls_crypt", "tls_crypt_v2" }

-- auth: a file and a username with a password stand for each other.
local CREDENTIALS = { file = { "username", "password" }, username = { "file" }, password = { "file" } }

-- A profile's bare auth-user-pass asks on the terminal (auth.ask = true). Lua credentials
-- leave nothing to ask, unless the profile's static challenge or auth-retry interact does:
-- the ask goes, so that the client starts without a terminal (as a service).
local function drop_needless_ask(out, given)
	local merged = out.auth
	if type(given) ~= "table" or given.ask ~= nil or type(merged) ~= "table" or merged.ask ~= true then return end
	if given.file == nil and (given.username == nil or given.password == nil) then return end
	if merged.static_challenge == nil and out.auth_retry ~= "interact" then merged.ask = nil end
end

local function merge_profile(from_profile, def)
	local out = from_profile
	for k, v in pairs(def) do
		if k == "auth" and type(v) == "function" then v = { ask = v } end
		if k ~= "profile" then
			if (MERGED[k] or k == "auth") and type(v) == "table" and type(out[k]) == "table" then
				local sub = out[k]
				if k == "tls" then
					for _, w in ipairs(WRAPS) do
						if v[w] ~= nil then
							for _, other in ipairs(WRAPS) do sub[other] = nil end
						end
					end
				end
				for field, others in pairs(k == "auth" and CREDENTIALS or {}) do
					if v[field] ~= nil then
						for _, other in ipairs(others) do sub[other] = nil end
					end
				end
				for kk, vv in pairs(v) do sub[kk] = vv end
			else
				out[k] = v
			end
		end
	end
	drop_needless_ask(out, def.auth)
	return out
end

--- Whether name is an OpenVPN profile (NAME.ovpn) rather than a Lua configuration.
function M.is_profile(name)
	return name:match("%.ovpn$") ~= nil
end

-- vpn.client { profile = "x.ovpn", ... }: the profile read (its file names relative to
-- its own directory) and the Lua fields over it. Its host names stay names: the client
-- resolves them at each attempt; only `moonvpn --check` (whose core has resolve, which
-- blocks) asks now, to name a remote that has no address.
local function expand_profile(decl, name)
	local def = decl.def
	if decl.kind ~= "client" or type(def.profile) ~= "string" then return def end
	local given = def.profile
	local dir = name:match("^(.*)/[^/]*$") or "."
	local path = relative_to(dir, given)
	local ok, fields, warnings = pcall(require("moonvpn.ovpn").load, path, path, {
		dir = given:match("^(.*)/[^/]*$"), resolve = core.resolve })
	if not ok then error({ profile_error = fields }, 0) end
	for _, w in ipairs(warnings) do require("moonvpn").log("warn", w) end
	return merge_profile(fields, def)
end

local function validate(decls, name)
	if #decls == 0 then
		return nil, name .. ": declares nothing: call vpn.server { ... } or vpn.client { ... } (see vpn.lua.example)"
	end
	if #decls > 1 then
		return nil, string.format("%s:%d: a configuration declares one server or client; %s:%d declared one already",
			decls[2].short_src, decls[2].line, decls[1].short_src, decls[1].line)
	end
	local decl = decls[1]
	local kind_schema = decl.kind == "client" and M.client_schema or M.server_schema
	local ok, def = pcall(expand_profile, decl, name)
	if not ok then
		if type(def) == "table" and def.profile_error then return nil, def.profile_error end
		error(def, 0)
	end
	local cfg, err = kind_schema.check(def, { decl.kind })
	if not cfg then return nil, format_error(decl, err) end
	cfg.role = decl.kind
	if cfg.role == "server" and cfg.auth.certificate ~= "required" and not (decl.on and decl.on.auth) then
		return nil, format_error(decl, { path = { "server", "auth", "certificate" },
			message = string.format("%s lets clients in without a certificate: define "
				.. "on.auth to check their passwords (see README, \"Hooks\")", S.show(cfg.auth.certificate)) })
	end
	resolve_paths(cfg, name)
	return cfg, decl
end

local function load_and_validate(name)
	collecting.source, collecting.name = "@" .. name, name
	if M.is_profile(name) then
		-- moonvpn client PROFILE.ovpn: the profile alone, as vpn.client { profile = ... }.
		collecting[1] = { kind = "client", def = { profile = name:match("[^/]*$") }, source = "=profile",
			line = 1, short_src = name }
		local cfg, decl = validate(collecting, name)
		if cfg then cfg.source = name end
		return cfg, decl
	end
	local text, err = read_file(name)
	if not text then return nil, err end
	run_file(name, text)
	local cfg, decl = validate(collecting, name)
	if not cfg then return nil, decl end
	cfg.source = name
	return cfg, decl
end

--- Runs and validates the configuration file `name`, under an instruction
-- budget and a deadline so that a configuration that never ends cannot hang a reload.
-- Returns the normalized configuration and its declaration, or nil and a one-line error.
function M.load(name)
	if collecting then return nil, "a configuration is already being loaded" end
	collecting = {}
	config_dir = name:match("^(.*)/[^/]*$") or "."
	local ok, cfg, decl = core.run_budgeted({ instructions = M.INSTRUCTION_BUDGET,
		seconds = M.TIMEOUT_SECONDS }, load_and_validate, name)
	collecting = nil
	if not ok then
		local msg = type(cfg) == "string" and cfg or ("error object: " .. schema.show(cfg))
		if msg:find("^evaluation stopped after %d+ instructions") then
			msg = string.format("did not finish within %d Lua instructions (endless loop?)",
				M.INSTRUCTION_BUDGET)
		elseif msg:find("^evaluation stopped at its [%d.]+ s deadline") then
			msg = string.format("did not finish within %g s (endless loop?)", M.TIMEOUT_SECONDS)
		end
		return nil, one_line(msg, name)
	end
	if not cfg then return nil, decl end
	return cfg, decl
end

return M
