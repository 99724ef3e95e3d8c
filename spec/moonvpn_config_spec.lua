-- SPDX-License-Identifier: MIT
-- `moonvpn --check`: every kind of configuration mistake gives exactly one
-- line naming the file, the line and the field, and exit status 1.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"

local HEAD = 'local vpn = require "moonvpn"\nvpn.server {\n' -- config lines 1-2
local TLS = '  tls = { ca = "ca.crt", cert = "s.crt", key = "s.key" },\n'
local NET = '  network = "10.8.0.0/24",\n'
local CLIENT = 'local vpn = require "moonvpn"\nvpn.client {\n'

-- { name, config text, expected stderr line with FILE for the config's path }
local cases = {
	{ "a config that is not Lua", "vpn.server {\n  network = = 1\n}\n",
		"FILE:2: unexpected symbol near '='" },
	{ "a runtime error in the config", 'local t = nil\nlocal x = t.field\n',
		"FILE:2: attempt to index a nil value (local 't')" },
	{ "a config that declares nothing", "local x = 1\n",
		"FILE: declares nothing: call vpn.server { ... } or vpn.client { ... } (see vpn.lua.example)" },
	{ "two servers", HEAD .. NET .. TLS .. "}\nvpn.server {\n" .. NET .. TLS .. "}\n",
		"FILE:6: a configuration declares one server or client; FILE:2 declared one already" },
	{ "a client without remote", CLIENT .. TLS .. "}\n",
		"FILE:2: client.remote: is required (an endpoint like \"udp://192.0.2.1:1194\" or a list of them)" },
	{ "a client remote that is no host name", CLIENT .. TLS .. '  remote = "udp://-vpn.example.com:1194",\n}\n',
		'FILE:4: client.remote: "udp://-vpn.example.com:1194": "-vpn.example.com" is not an IP address literal '
		.. 'or a host name' },
	{ "a client remote list with a bad entry", CLIENT .. TLS .. '  remote = { "udp://192.0.2.1:1194", "udp://192.0.2.2" },\n}\n',
		'FILE:4: client.remote[2]: "udp://192.0.2.2" is not an endpoint like "udp://0.0.0.0:1194"' },
	{ "a client backoff that shrinks", CLIENT .. TLS .. '  remote = "udp://192.0.2.1:1194",\n  reconnect = { initial = 30, max = 10 },\n}\n',
		"FILE:5: client.reconnect.max: 10 must be at least initial (30)" },
	{ "a client's inline CA that is one line", CLIENT .. '  remote = "udp://192.0.2.1:1194",\n'
		.. '  tls = { ca = { inline = "MIIB" }, cert = "c.crt", key = "c.key" },\n}\n',
		"FILE:4: client.tls.ca: inline needs the file's whole text (its lines, each ending in a newline)" },
	{ "a client's inline key that is not text", CLIENT .. '  remote = "udp://192.0.2.1:1194",\n'
		.. '  tls = { ca = "ca.crt", cert = "c.crt", key = { inline = 1 } },\n}\n',
		"FILE:4: client.tls.key.inline: expected the file's text (a string), got 1" },
	{ "inline material in a server", HEAD .. NET
		.. '  tls = { ca = { inline = "-----BEGIN CERTIFICATE-----\\n" }, cert = "s.crt", key = "s.key" },\n}\n',
		"FILE:4: server.tls.ca: expected a file path, got a table" },
	{ "a server field in a client", CLIENT .. TLS .. '  remote = "udp://192.0.2.1:1194",\n  network = "10.8.0.0/24",\n}\n',
		"FILE:5: client.network: unknown key (known keys: auth, auth_retry, ciphers, compression, console, device, dns, group, log_level, mssfix, offload, profile, pull_filter, reconnect, redirect_gateway, remote, renegotiate, route_nopull, routes, routes_outside, tls, user)" },
	{ "vpn.server given a string", 'local vpn = require "moonvpn"\nvpn.server "x"\n',
		'FILE:2: moonvpn.server expects a table { ... }, got "x"' },
	{ "a wrong type", HEAD .. "  network = 10,\n" .. TLS .. "}\n",
		'FILE:3: server.network: expected an IPv4 CIDR prefix string like "10.8.0.0/24", got number 10' },
	{ "a bad CIDR prefix", HEAD .. TLS .. '  network = "10.8.0.0/33",\n}\n',
		'FILE:4: server.network: "10.8.0.0/33" is not a CIDR prefix' },
	{ "host bits set", HEAD .. TLS .. '  network = "10.8.0.1/24",\n}\n',
		'FILE:4: server.network: "10.8.0.1/24" has host bits set (did you mean "10.8.0.0/24"?)' },
	{ "a network too small for clients", HEAD .. TLS .. '  network = "10.8.0.0/31",\n}\n',
		'FILE:4: server.network: "10.8.0.0/31": prefix length must be from /8 to /30' },
	{ "an IPv6 network in network", HEAD .. TLS .. '  network = "fd00::/64",\n}\n',
		'FILE:4: server.network: "fd00::/64" is not an IPv4 CIDR prefix' },
	{ "an IPv4 network in network6", HEAD .. NET .. TLS .. '  network6 = "10.9.0.0/24",\n}\n',
		'FILE:5: server.network6: "10.9.0.0/24" is not an IPv6 CIDR prefix' },
	{ "an out-of-range number", HEAD .. NET .. TLS .. "  device = {\n    mtu = 70000,\n  },\n}\n",
		"FILE:6: server.device.mtu: expected an integer from 576 to 65535, got number 70000" },
	{ "a fractional number", HEAD .. NET .. TLS .. "  device = { mtu = 1400.5 },\n}\n",
		"FILE:5: server.device.mtu: expected an integer from 576 to 65535, got number 1400.5" },
	{ "an unknown key with a close match", HEAD .. NET .. TLS .. '  lsiten = "udp://0.0.0.0:1194",\n}\n',
		'FILE:5: server.lsiten: unknown key (did you mean "listen"?)' },
	{ "an unknown nested key", HEAD .. NET .. TLS .. '  device = { tpye = "tap" },\n}\n',
		'FILE:5: server.device.tpye: unknown key (did you mean "type"?)' },
	{ "an unknown key with no close match", HEAD .. NET .. TLS .. "  colour = 1,\n}\n",
		"FILE:5: server.colour: unknown key (known keys: auth, ciphers, client_to_client, compression, console, device, group, hooks, keepalive, listen, log_level, management, management_client_auth, management_password, max_clients, metrics, mssfix, network, network6, offload, policy, public, push, renegotiate, routes, status, tls, user, workers)" },
	{ "an offload that is not a boolean", HEAD .. NET .. TLS .. '  offload = { gso = "no" },\n}\n',
		'FILE:5: server.offload.gso: expected true or false, got "no"' },
	{ "a misspelt offload", HEAD .. NET .. TLS .. '  offload = { corlesce = false },\n}\n',
		'FILE:5: server.offload.corlesce: unknown key (did you mean "coalesce"?)' },
	{ "an mssfix out of range", HEAD .. NET .. TLS .. "  mssfix = 70000,\n}\n",
		"FILE:5: server.mssfix: expected an integer from 0 to 65535, got number 70000" },
	{ "a max_clients over the limit", HEAD .. NET .. TLS .. "  max_clients = 65536,\n}\n",
		"FILE:5: server.max_clients: expected an integer from 1 to 65535, got number 65536" },
	{ "more workers than clients", HEAD .. NET .. TLS .. "  max_clients = 2,\n  workers = 3,\n}\n",
		"FILE:6: server.workers: 3 is more than max_clients (2): at most one worker for each client" },
	{ "no workers", HEAD .. NET .. TLS .. "  workers = 0,\n}\n",
		"FILE:5: server.workers: expected an integer from 1 to 255, got number 0" },
	{ "no clients at all", HEAD .. NET .. TLS .. "  max_clients = 0,\n}\n",
		"FILE:5: server.max_clients: expected an integer from 1 to 65535, got number 0" },
	{ "a misspelt hook", 'local vpn = require "moonvpn"\nlocal s = vpn.server {\n' .. NET .. TLS .. "}\nfunction s.on.auht() end\n",
		'FILE:6: server.on.auht: no such hook (did you mean "auth"?) (the hooks are auth, connect, disconnect, flow, tls_crypt_v2)' },
	{ "a misspelt client hook", 'local vpn = require "moonvpn"\nlocal c = vpn.client {\n' .. TLS
		.. '  remote = "udp://192.0.2.1:1194",\n}\nfunction c.on.dsn() end\n',
		'FILE:6: client.on.dsn: no such hook (did you mean "dns"?) (the hooks are dns)' },
	{ "a hook that is not a function", 'local vpn = require "moonvpn"\nlocal s = vpn.server {\n' .. NET .. TLS .. "}\ns.on.auth = true\n",
		"FILE:6: server.on.auth: expected a function, got true" },
	{ "clients without certificates and no auth hook", HEAD .. NET .. TLS .. '  auth = { certificate = "none" },\n}\n',
		'FILE:5: server.auth.certificate: "none" lets clients in without a certificate: define on.auth to check their passwords (see README, "Hooks")' },
	{ "a misspelt auth.token field", HEAD .. NET .. TLS .. '  auth = { token = { lifetme = 3600 } },\n}\n',
		'FILE:5: server.auth.token.lifetme: unknown key (did you mean "lifetime"?)' },
	{ "an auth.token external that is not a boolean", HEAD .. NET .. TLS .. '  auth = { token = { external = "yes" } },\n}\n',
		'FILE:5: server.auth.token.external: expected true or false, got "yes"' },
	{ "an auth.token renew that is too short", HEAD .. NET .. TLS .. '  auth = { token = { renew = 5 } },\n}\n',
		"FILE:5: server.auth.token.renew: expected an integer from 10 to 604800, got number 5" },
	{ "an auth.token without renew and no renegotiation", HEAD .. NET .. TLS ..
		'  renegotiate = { seconds = 0 },\n  auth = { token = {} },\n}\n',
		"FILE:6: server.auth.token.renew: is required when renegotiate.seconds is 0: set how often clients get a fresh token (seconds, at least 10)" },
	{ "a hook timeout of zero", HEAD .. NET .. TLS .. "  hooks = { timeout = 0 },\n}\n",
		"FILE:5: server.hooks.timeout: expected an integer from 1 to 3600, got number 0" },
	{ "a policy rule without a verdict", HEAD .. NET .. TLS .. "  policy = { rules = {\n    { proto = \"tcp\" },\n  } },\n}\n",
		'FILE:6: server.policy.rules[1].verdict: is required (one of "accept", "drop", "reject")' },
	{ "ports on a rule without tcp or udp", HEAD .. NET .. TLS .. "  policy = { rules = {\n    { verdict = \"drop\", dport = 25 },\n  } },\n}\n",
		'FILE:6: server.policy.rules[1].dport: ports need proto = "tcp" or "udp"' },
	{ "a bad port range", HEAD .. NET .. TLS .. "  policy = { rules = {\n    { verdict = \"drop\", proto = \"udp\", dport = \"9-1\" },\n  } },\n}\n",
		'FILE:6: server.policy.rules[1].dport: "9-1" is not a port from 0 to 65535 or a range like "8000-8999"' },
	{ "two udp listeners", HEAD .. NET .. TLS .. '  listen = { "udp://0.0.0.0:1194", "udp://0.0.0.0:1195" },\n}\n',
		"FILE:5: server.listen: lists two udp:// endpoints: give one udp:// and one tcp://" },
	{ "a bad listener in a list", HEAD .. NET .. TLS .. '  listen = { "udp://0.0.0.0:1194", "sctp://0.0.0.0:1" },\n}\n',
		'FILE:5: server.listen[2]: "sctp://0.0.0.0:1": unknown transport "sctp" (expected udp or tcp)' },
	{ "a wrong enum value", HEAD .. NET .. TLS .. '  device = { type = "tunn" },\n}\n',
		'FILE:5: server.device.type: "tunn" is not one of "tun", "tap" (did you mean "tun"?)' },
	{ "an unknown cipher", HEAD .. NET .. TLS .. '  ciphers = { "AES-256-GCM", "AES-256-CBC" },\n}\n',
		'FILE:5: server.ciphers[2]: "AES-256-CBC" is not one of "AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305" (did you mean "AES-256-GCM"?)' },
	{ "an empty cipher list", HEAD .. NET .. TLS .. "  ciphers = {},\n}\n",
		"FILE:5: server.ciphers: needs at least 1 entry" },
	{ "a cipher listed twice", HEAD .. NET .. TLS .. '  ciphers = { "AES-128-GCM", "AES-128-GCM" },\n}\n',
		'FILE:5: server.ciphers[2]: "AES-128-GCM" is listed twice' },
	{ "a missing required field", HEAD .. TLS .. "}\n",
		'FILE:2: server.network: is required (an IPv4 CIDR prefix)' },
	{ "a missing nested field", HEAD .. NET .. '  tls = {\n    ca = "ca.crt",\n    cert = "s.crt",\n  },\n}\n',
		"FILE:4: server.tls.key: is required (a file path)" },
	{ "a bad list entry", HEAD .. NET .. TLS .. '  push = {\n    dns = { "10.8.0.1",\n      "10.8.0.300" },\n  },\n}\n',
		'FILE:7: server.push.dns[2]: "10.8.0.300" is not an IP address' },
	{ "a list given as a map", HEAD .. NET .. TLS .. '  routes = { office = "10.1.0.0/16" },\n}\n',
		'FILE:5: server.routes.office: unexpected key in a list of a CIDR prefix (use a plain list { ... })' },
	{ "a bad listen endpoint", HEAD .. NET .. TLS .. '  listen = "udp://0.0.0.0",\n}\n',
		'FILE:5: server.listen: "udp://0.0.0.0" is not an endpoint like "udp://0.0.0.0:1194"' },
	{ "a listen port out of range", HEAD .. NET .. TLS .. '  listen = "udp://[::]:70000",\n}\n',
		'FILE:5: server.listen: "udp://[::]:70000": port 70000 is not from 1 to 65535' },
	{ "a public address that is not a host", HEAD .. NET .. TLS .. '  public = "vpn example",\n}\n',
		'FILE:5: server.public: "vpn example" is not a host name or an IP address' },
	{ "a public endpoint without a port", HEAD .. NET .. TLS .. '  public = { "vpn.example.com",\n    "tcp://vpn.example.com" },\n}\n',
		'FILE:6: server.public[2]: "tcp://vpn.example.com" is not udp://HOST:PORT or tcp://HOST:PORT (an IPv6 address in [ ])' },
	{ "a public endpoint of another transport", HEAD .. NET .. TLS .. '  public = "sctp://vpn.example.com:1",\n}\n',
		'FILE:5: server.public: "sctp://vpn.example.com:1" has an unknown transport (expected udp:// or tcp://)' },
	{ "a listen transport that does not exist", HEAD .. NET .. TLS .. '  listen = "sctp://0.0.0.0:1194",\n}\n',
		'FILE:5: server.listen: "sctp://0.0.0.0:1194": unknown transport "sctp" (expected udp or tcp)' },
	{ "a too long device name", HEAD .. NET .. TLS .. '  device = { name = "averyveryverylongname" },\n}\n',
		'FILE:5: server.device.name: "averyveryverylongname" is too long for an interface name (at most 15 bytes)' },
	{ "a device name with a pattern character", HEAD .. NET .. TLS .. '  device = { name = "vpn%d" },\n}\n',
		[[FILE:5: server.device.name: "vpn%d" is not a valid interface name (no '/', ':', '%' or spaces)]] },
	{ "a route that is the VPN network", HEAD .. NET .. TLS .. '  routes = { "10.1.0.0/16",\n    "10.8.0.0/25" },\n}\n',
		'FILE:6: server.routes[2]: "10.8.0.0/25" overlaps the VPN network 10.8.0.0/24, which is routed through the device already' },
	{ "a route that contains the VPN network", HEAD .. NET .. TLS .. '  routes = { "10.0.0.0/8" },\n}\n',
		'FILE:5: server.routes[1]: "10.0.0.0/8" overlaps the VPN network 10.8.0.0/24, which is routed through the device already' },
	{ "an MTU too small for IPv6", HEAD .. NET .. TLS .. '  network6 = "fd00::/64",\n  device = { mtu = 1000 },\n}\n',
		"FILE:6: server.device.mtu: 1000 is too small for IPv6 (network6 or an IPv6 route): at least 1280" },
	{ "tls_auth and tls_crypt together", HEAD .. NET ..
		'  tls = { ca = "a", cert = "b", key = "c",\n    tls_auth = { key = "ta.key" },\n    tls_crypt = "tc.key" },\n}\n',
		"FILE:6: server.tls.tls_crypt: tls_auth and tls_crypt cannot both be set (pick one)" },
	{ "tls_crypt_v2_max_age without tls_crypt_v2", HEAD .. NET ..
		'  tls = { ca = "a", cert = "b", key = "c",\n    tls_crypt_v2_max_age = 30 },\n}\n',
		"FILE:5: server.tls.tls_crypt_v2_max_age: needs tls_crypt_v2 (the tls-crypt-v2 server key file) to be set" },
	{ "a revoked tls-crypt-v2 key id that is not one", HEAD .. NET ..
		'  tls = { ca = "a", cert = "b", key = "c", tls_crypt_v2 = "v2.key",\n    tls_crypt_v2_revoked = { "abc" } },\n}\n',
		'FILE:5: server.tls.tls_crypt_v2_revoked[1]: "abc" is not a tls-crypt-v2 client key id: 32 hex digits, ' ..
		"as `moonvpn genkey --tls-crypt-v2-client` prints it and the server logs it" },
	{ "a server's key password asked on the terminal", HEAD .. NET ..
		'  tls = { ca = "a", cert = "b", key = "c",\n    key_password = true },\n}\n',
		'FILE:5: server.tls.key_password: a server never asks on the terminal: give the password or ' ..
		'{ file = "pass.txt" } (its first line)' },
	{ "a tls-crypt-v2 max age of 0 days", HEAD .. NET ..
		'  tls = { ca = "a", cert = "b", key = "c", tls_crypt_v2 = "v2.key",\n    tls_crypt_v2_max_age = 0 },\n}\n',
		"FILE:5: server.tls.tls_crypt_v2_max_age: expected an integer from 1 to 36500, got number 0" },
	{ "a keepalive timeout too short", HEAD .. NET .. TLS .. "  keepalive = { interval = 10, timeout = 15 },\n}\n",
		"FILE:5: server.keepalive.timeout: 15 must be at least twice interval (10)" },
	{ "a wrong log level", HEAD .. NET .. TLS .. '  log_level = "verbose",\n}\n',
		'FILE:5: server.log_level: expected one of "error", "warn", "info", "debug", "trace", got "verbose"' },
	{ "a metrics address with a host name", HEAD .. NET .. TLS .. '  metrics = "localhost:9176",\n}\n',
		'FILE:5: server.metrics: "localhost:9176": "localhost" is not an IP address literal (the metrics are served on an address, not a name)' },
	{ "a metrics address without a port", HEAD .. NET .. TLS .. '  metrics = "127.0.0.1",\n}\n',
		'FILE:5: server.metrics: "127.0.0.1" is not an address and port like "127.0.0.1:9176" or "[::1]:9176"' },
	{ "an IPv6 metrics address without brackets", HEAD .. NET .. TLS .. '  metrics = "::1:9176",\n}\n',
		'FILE:5: server.metrics: "::1:9176" is not an address and port like "127.0.0.1:9176" or "[::1]:9176"' },
	{ "a metrics port of 0", HEAD .. NET .. TLS .. '  metrics = "[::1]:0",\n}\n',
		'FILE:5: server.metrics: "[::1]:0": port 0 is not from 1 to 65535' },
	{ "metrics without listen", HEAD .. NET .. TLS .. '  metrics = { per_client = false },\n}\n',
		'FILE:5: server.metrics.listen: is required (an address and port like "127.0.0.1:9176" or "[::1]:9176")' },
	{ "a per-client bound of 0", HEAD .. NET .. TLS .. '  metrics = { listen = "127.0.0.1:9176", per_client_max = 0 },\n}\n',
		"FILE:5: server.metrics.per_client_max: expected an integer from 1 to 10000, got number 0" },
	{ "a misspelt metrics field", HEAD .. NET .. TLS .. '  metrics = { listen = "127.0.0.1:9176", per_clients = true },\n}\n',
		'FILE:5: server.metrics.per_clients: unknown key (did you mean "per_client"?)' },
	{ "a too long console path", HEAD .. NET .. TLS .. '  console = "/' .. string.rep("x", 120) .. '",\n}\n',
		'FILE:5: server.console: "/' .. string.rep("x", 120) .. '" is too long for a UNIX socket path (at most 107 bytes)' },
	{ "a management interface on the network without a password", HEAD .. NET .. TLS .. '  management = "0.0.0.0:7505",\n}\n',
		'FILE:5: server.management: 0.0.0.0:7505 listens beyond this host without a password: set management_password = "PATH" (a file: its first line is the password) or listen on 127.0.0.1 or a UNIX socket path' },
	{ "a management address that is neither", HEAD .. NET .. TLS .. '  management = "localhost:7505",\n}\n',
		'FILE:5: server.management: "localhost:7505" is neither HOST:PORT ("127.0.0.1:7505", "[::1]:7505") nor a UNIX socket path (starting with / or ./)' },
	{ "management client auth without management", HEAD .. NET .. TLS .. '  management_client_auth = true,\n}\n',
		'FILE:5: server.management_client_auth: needs management = "HOST:PORT" or a socket path: the management client decides admissions' },
	{ "a status file version 4", HEAD .. NET .. TLS .. '  status = { file = "s.log", version = 4 },\n}\n',
		"FILE:5: server.status.version: expected an integer from 1 to 3, got number 4" },
	{ "a user that does not exist", HEAD .. NET .. TLS .. '  user = "nobody2",\n}\n',
		'FILE:5: server.user: "nobody2": no such user; create it (useradd --system --no-create-home nobody2) or name an existing one' },
	{ "a group that does not exist", HEAD .. NET .. TLS .. '  user = "nobody",\n  group = "nogroup2",\n}\n',
		'FILE:6: server.group: "nogroup2": no such group; create it (groupadd --system nogroup2) or name an existing one' },
	{ "root as the user", HEAD .. NET .. TLS .. '  user = "root",\n}\n',
		'FILE:5: server.user: "root" is uid 0: moonvpn would keep root; name an unprivileged user, or leave user out to run as root' },
	{ "a group without a user", HEAD .. NET .. TLS .. '  group = "nogroup",\n}\n',
		'FILE:5: server.group: needs user too: moonvpn drops to a user and its group (add user = "...", or leave group out)' },
	{ "a client's user that does not exist", CLIENT .. TLS .. '  remote = "udp://192.0.2.1:1194",\n  user = "nobody2",\n}\n',
		'FILE:5: client.user: "nobody2": no such user; create it (useradd --system --no-create-home nobody2) or name an existing one' },
	{ "a user name that is not one", HEAD .. NET .. TLS .. '  user = "no body",\n}\n',
		'FILE:5: server.user: "no body" is not a user name' },
	{ "a tail call to vpn.server", 'local vpn = require "moonvpn"\nreturn vpn.server {\n' .. TLS .. '  network = "10.8.0.0/33",\n}\n',
		'FILE:4: server.network: "10.8.0.0/33" is not a CIDR prefix' },
	{ "a huge number", HEAD .. NET .. TLS .. "  device = { mtu = 1e20 },\n}\n",
		"FILE:5: server.device.mtu: expected an integer from 576 to 65535, got number 1e+20" },
	{ "an infinite number", HEAD .. NET .. TLS .. "  device = { mtu = math.huge },\n}\n",
		"FILE:5: server.device.mtu: expected an integer from 576 to 65535, got number inf" },
	{ "a NUL byte in a path", HEAD .. NET .. TLS .. '  console = "/run/x\\0y",\n}\n',
		'FILE:5: server.console: "/run/x\\0y" contains a control character (a NUL, newline or tab)' },
	{ "a NUL byte in an address", HEAD .. NET .. TLS .. '  push = { dns = { "10.0.0.1\\0evil" } },\n}\n',
		'FILE:5: server.push.dns[1]: "10.0.0.1\\0evil" is not an IP address' },
	{ "a newline in a value, escaped to keep one line", HEAD .. NET .. TLS .. '  device = { type = "tu\\nn" },\n}\n',
		'FILE:5: server.device.type: "tu\\nn" is not one of "tun", "tap" (did you mean "tun"?)' },
	{ "a float key in a list", HEAD .. NET .. TLS .. '  routes = { [1.5] = "10.1.0.0/16" },\n}\n',
		'FILE:5: server.routes[1.5]: unexpected key in a list of a CIDR prefix (use a plain list { ... })' },
	{ "a module that is not there", 'local x = require "no_such_module"\n',
		"FILE:1: module 'no_such_module' not found; no field package.preload['no_such_module']; " ..
		"no file 'LUA/no_such_module.lua'; no file 'LUA/no_such_module/init.lua'; no file 'PLUGINS/no_such_module.lua'" },
	{ "an error raised by a metamethod", 'local vpn = require "moonvpn"\nvpn.server(setmetatable({}, { __pairs = function() error("no pairs") end }))\n',
		"FILE:2: no pairs" },
	{ "an error without a position", 'error("plain", 0)\n', "FILE: plain" },
	{ "an error object", "error({})\n", "FILE: error object: a table" },
	{ "os.exit in a config", "os.exit(3)\n", "FILE:1: os.exit is disabled in a configuration: raise an error instead" },
	{ "a binary chunk", "\27Lua", "FILE: attempt to load a binary chunk (mode is 't')" },
	-- The engine's VM has no way to end or block the process, whatever path leads there.
	{ "_G.os.exit", "_G.os.exit(0)\n", "FILE:1: os.exit is disabled in moonvpn: it would end the engine and " ..
		"every tunnel; raise an error to refuse a configuration or a reload, and stop moonvpn with SIGTERM" },
	{ "require(\"os\").exit", 'local x = 1\nrequire("os").exit(0)\n', "FILE:2: os.exit is disabled in moonvpn: " ..
		"it would end the engine and every tunnel; raise an error to refuse a configuration or a reload, and stop moonvpn with SIGTERM" },
	{ "os.execute", 'os.execute("sleep 3")\n', "FILE:1: os.execute is disabled in moonvpn: it would block every " ..
		'client while the program runs; run programs with vpn.exec { "prog", "arg", ... } in a hook or a vpn.after ' ..
		"timer (it returns status, stdout, stderr)" },
	{ "io.popen", 'local p = io.popen("sleep 3")\n', "FILE:1: io.popen is disabled in moonvpn: it would block every " ..
		'client while the program runs; run programs with vpn.exec { "prog", "arg", ... } in a hook or a vpn.after ' ..
		"timer (it returns status, stdout, stderr)" },
	{ "io.read", "local x = io.read()\n", "FILE:1: io.read is disabled in moonvpn: it reads the engine's " ..
		"standard input, which would block every client; read files with io.open(path)" },
	{ "a binary chunk through load", "assert(load(string.dump(function() end)))\n",
		"FILE:1: attempt to load a binary chunk (mode is 't')" },
	{ "a field that is commented out above the real one", HEAD .. TLS ..
		'  -- network = "10.8.0.0/24",\n  network = "10.8.0.0/33",\n}\n',
		'FILE:5: server.network: "10.8.0.0/33" is not a CIDR prefix' },
}

describe("moonvpn --check", function()
	after_each(netns.cleanup)

	for _, case in ipairs(cases) do
		it("reports " .. case[1] .. " in one line with file, line and field", function()
			local path = mv.write_config(case[2])
			local status, out, err = mv.run("--check " .. netns.quote(path))
			assert.are.equal(1, status)
			assert.are.equal("", out)
			local root = select(2, netns.sh("pwd")):match("^%s*(.-)%s*$")
			local want = case[3]:gsub("FILE", function() return path end)
				:gsub("LUA", function() return root .. "/lua" end)
				:gsub("PLUGINS", function() return root .. "/plugins" end)
			assert.are.equal(want .. "\n", err)
		end)
	end

	it("takes workers from MOONVPN_WORKERS when the configuration leaves it out, and says when that is wrong", function()
		local path = mv.write_config(HEAD .. NET .. TLS .. "}\n")
		for _, env in ipairs { "abc", "0", "257", "1.5" } do
			local status, out, err = mv.run("--check " .. netns.quote(path), { prefix = "MOONVPN_WORKERS=" .. env .. " " })
			assert.are.equal(1, status)
			assert.are.equal("", out)
			assert.are.equal(path .. ":2: server.workers: not set, and MOONVPN_WORKERS=\"" .. env ..
				"\" is not an integer from 1 to 255: set workers, or fix or unset MOONVPN_WORKERS\n", err)
		end
		-- More than max_clients from the environment is capped; in the file it is refused (above).
		path = mv.write_config(HEAD .. NET .. TLS .. "  max_clients = 2,\n}\n")
		assert.are.equal(0, (mv.run("--check " .. netns.quote(path), { prefix = "MOONVPN_WORKERS=8 " })))
	end)

	it("stops a configuration that never finishes", function()
		local path = mv.write_config("while true do end\n")
		local status, _, err = mv.run("--check " .. netns.quote(path))
		assert.are.equal(1, status)
		-- Whichever limit comes first on this machine: the instructions or the deadline.
		local instructions = path .. ": did not finish within 200000000 Lua instructions (endless loop?)\n"
		local deadline = path .. ": did not finish within 5 s (endless loop?)\n"
		assert.is_true(err == instructions or err == deadline, err)
	end)

	it("keeps run_budgeted within the configuration's own limits", function()
		-- A huge inner budget without seconds ran past every limit (timeout ends the run).
		local path = mv.write_config('require("moonvpn.core").run_budgeted(math.maxinteger, '
			.. 'function() while true do end end)\n')
		local status, _, err = mv.run("--check " .. netns.quote(path), { prefix = "timeout 60 " })
		assert.are.equal(1, status, err)
		local instructions = path .. ": did not finish within 200000000 Lua instructions (endless loop?)\n"
		local deadline = path .. ": did not finish within 5 s (endless loop?)\n"
		assert.is_true(err == instructions or err == deadline, err)
	end)

	it("reads the checked configuration without running its metamethods", function()
		-- The engine's C read the checked table through __index after the config's
		-- limits were over: this loop ran for ever (timeout ends the run).
		local path = mv.write_config(table.concat({
			'local C = require "moonvpn.config"',
			'C.server_schema = { check = function()',
			'  return setmetatable({ auth = { certificate = "required" }, tls = {} },',
			'    { __index = function(_, k) if k ~= "console" then while true do end end end })',
			'end }',
			'require("moonvpn").server {}', "" }, "\n"))
		local status, _, err = mv.run("--check " .. netns.quote(path), { prefix = "timeout 60 " })
		assert.are.equal(1, status, err)
		assert.truthy(err:find("validated config has a bad log_level", 1, true), err)
	end)

	it("gives no way to a finalizer or to the engine's standard input", function()
		-- Lua runs finalizers with the debug hooks off: a loop put in the file handles'
		-- __gc ran past every limit (timeout ends the run, should the guard be missing).
		local escapes = {
			{ 'getmetatable(io.stdout).__gc = function() while true do end end\n'
				.. 'do local f = io.open("/etc/hostname") end collectgarbage()\n',
				"FILE:1: attempt to index a string value" },
			{ 'debug.getmetatable(io.stdout).__gc = function() while true do end end\n',
				"FILE:1: debug.getmetatable is disabled in moonvpn: it reaches the engine's own state "
				.. "(registry, upvalues, locals, metatables of files and strings); debug.traceback "
				.. "and debug.getinfo remain" },
			{ 'local x = debug.getregistry()._IO_input:read("l")\n', "FILE:1: debug.getregistry is disabled" },
		}
		for _, case in ipairs(escapes) do
			local path = mv.write_config(case[1])
			local status, _, err = mv.run("--check " .. netns.quote(path), { prefix = "timeout 60 " })
			assert.are.equal(1, status, err)
			local want = case[2]:gsub("FILE", function() return path end)
			assert.are.equal(want, err:sub(1, #want))
		end
	end)

	it("reports a directory given as the configuration", function()
		local dir = netns.tmpdir()
		local status, _, err = mv.run("--check " .. dir)
		assert.are.equal(1, status)
		assert.are.equal(dir .. ": cannot read the configuration file: Is a directory\n", err)
	end)

	it("reports a missing file", function()
		local status, _, err = mv.run("--check /nonexistent/vpn.lua")
		assert.are.equal(1, status)
		assert.are.equal(
			"/nonexistent/vpn.lua: cannot read the configuration file: No such file or directory\n", err)
	end)

	it("accepts a minimal config and says so", function()
		local path = mv.write_config(mv.server_config())
		local status, out, err = mv.run("--check " .. netns.quote(path))
		assert.are.equal(0, status)
		assert.are.equal(path .. ": configuration is valid\n", out)
		assert.are.equal("", err)
	end)

	it("accepts a user and group that exist", function()
		local path = mv.write_config(mv.server_config('  user = "nobody",\n  group = "nogroup",'))
		local status, out, err = mv.run("--check " .. netns.quote(path))
		assert.are.equal(0, status, err)
		assert.are.equal(path .. ": configuration is valid\n", out)
	end)

	it("opens nothing: a config naming a taken device and console still checks", function()
		local dir = netns.tmpdir()
		local path = mv.write_config(mv.server_config(
			'  device = { name = "lo" },\n  console = "' .. dir .. '/sock",'))
		local status = mv.run("--check " .. netns.quote(path))
		assert.are.equal(0, status)
		assert.is_nil(netns.read_file(dir .. "/sock"))
	end)

	it("rejects a wrong command line with usage and status 2", function()
		local status, _, err = mv.run("--check")
		assert.are.equal(2, status)
		assert.truthy(err:find("usage: moonvpn", 1, true))
		status, _, err = mv.run("--log-level loud x.lua")
		assert.are.equal(2, status)
		assert.truthy(err:find('unknown level "loud"', 1, true))
	end)
end)

describe("moonvpn.config.load", function()
	local config = require "moonvpn.config"
	local budget, timeout
	before_each(function() budget, timeout = config.INSTRUCTION_BUDGET, config.TIMEOUT_SECONDS end)
	after_each(function()
		config.INSTRUCTION_BUDGET, config.TIMEOUT_SECONDS = budget, timeout
		netns.cleanup()
	end)

	it("stops a configuration at its deadline, however many instructions it may run", function()
		config.INSTRUCTION_BUDGET, config.TIMEOUT_SECONDS = math.maxinteger, 0.2
		local path = mv.write_config("while true do pcall(function() while true do end end) end\n")
		local cfg, err = config.load(path)
		assert.is_nil(cfg)
		assert.are.equal(path .. ": did not finish within 0.2 s (endless loop?)", err)
	end)
end)

-- Reload as a diff (issue 15 item 6): each field is "live" or "restart" in one table.
describe("moonvpn.config.RELOAD", function()
	local config = require "moonvpn.config"
	local schema = require "moonvpn.schema"
	after_each(function() netns.cleanup() end)

	it("names every field of both schemas, and nothing else", function()
		for _, role in ipairs { "server", "client" } do
			assert.are.same({}, config.reload_unlisted(role))
			local top = role == "client" and config.client_schema or config.server_schema
			for path, rule in pairs(config.RELOAD[role]) do
				assert(rule == "live" or rule == "restart", role .. "." .. path .. ": " .. tostring(rule))
				local rec = top
				for key in path:gmatch("[^.]+") do
					local sub = rec and rec.field_schema and rec.field_schema(key)
					assert(sub, role .. "." .. path .. " is not a field of the schema")
					rec = sub
				end
			end
		end
	end)

	it("is what README.md's Reloading table says, field by field", function()
		local text = assert(netns.read_file("README.md"))
		local start = assert(text:find("### Reloading", 1, true))
		local block = assert(text:sub(start):match("\n| field | on reload |\n|%-+|%-+|\n(.-)\n\n"))
		local readme = {}
		for line in block:gmatch("[^\n]+") do
			local fields, rule = line:match("^| (.-) | (%a+)")
			for name in fields:gmatch("`([^`]+)`") do readme[name] = rule end
		end
		assert.are.same(config.RELOAD.server, readme)
	end)

	it("reports a field added to the schema without a rule", function()
		local saved = config.server_schema
		local fields = {}
		for _, name in ipairs(saved.fields) do fields[name] = { saved.field_schema(name) } end
		fields.a_new_field = { schema.integer { min = 1, max = 65535 }, default = 1024 }
		fields.device = { schema.record { type = { schema.enum { "tun", "tap" } }, name = { schema.string() },
			mtu = { schema.integer { min = 576, max = 65535 } }, queues = { schema.integer { min = 1, max = 8 } } } }
		config.server_schema = schema.record(fields)
		local ok, missing = pcall(config.reload_unlisted, "server")
		config.server_schema = saved
		assert(ok, missing)
		table.sort(missing)
		assert.are.same({ "a_new_field", "device.queues" }, missing)
	end)

	local function load(extra)
		return assert(config.load(mv.write_config('local vpn = require "moonvpn"\nvpn.server {\n'
			.. '  network = "10.8.0.0/24",\n  tls = { ca = "ca.crt", cert = "s.crt", key = "s.key" },\n'
			.. (extra or "") .. "}\n")))
	end

	it("refuses a changed restart field, naming it and its values, and lets live ones through", function()
		local running = load()
		assert.is_nil(config.reload_refusal(running, load()))
		for _, live in ipairs {
			"  keepalive = { interval = 3, timeout = 20 },\n", "  renegotiate = { seconds = 30 },\n",
			"  client_to_client = true,\n", "  mssfix = 1400,\n", "  device = { mtu = 1400 },\n",
			"  policy = { flows = 4096, flow_idle = 30, pending = 16, fallback = \"reject\" },\n",
			'  push = { dns = { "10.8.0.1" } },\n', "  offload = { coalesce = false, tun = false },\n",
		} do
			assert.is_nil(config.reload_refusal(running, load(live)), live)
		end
		for _, case in ipairs {
			{ '  device = { type = "tap" },\n', "`device.type` changed from tun to tap" },
			{ "  offload = { gso = false },\n", "`offload.gso` changed from true to false" },
			{ "  offload = { gro = false },\n", "`offload.gro` changed from true to false" },
		} do
			assert.are.equal("reload refused: " .. case[2] .. "; this needs a restart (stop moonvpn and start it again)",
				config.reload_refusal(running, load(case[1])))
		end
	end)

	it("says which systemd unit to restart for a configuration in /etc/moonvpn", function()
		local a = load()
		local b = load('  device = { type = "tap" },\n')
		b.source = "/etc/moonvpn/office.lua"
		assert.are.equal("reload refused: `device.type` changed from tun to tap; this needs a restart "
			.. "(systemctl restart moonvpn@office)", config.reload_refusal(a, b))
	end)
end)

describe("a client's auth_retry", function()
	it("takes interact without auth (certificates alone), as OpenVPN takes auth-retry interact there", function()
		local config = require "moonvpn.config"
		-- Not os.tmpname()'s /tmp/lua_*: plugins_auth_script_spec, maybe in the other lane
		-- (spec/run-busted), takes a new one there for a credentials file its plugin left.
		local dir = netns.tmpdir()
		finally(function() os.execute("rm -rf " .. dir) end)
		local f = assert(io.open(dir .. "/cert-only.ovpn", "w"))
		f:write("client\nremote 192.0.2.1 1194\nca ca.crt\ncert c.crt\nkey c.key\nauth-retry interact\n")
		f:close()
		local cfg = assert(config.load(dir .. "/cert-only.ovpn"))
		assert.are.equal("interact", cfg.auth_retry)
		assert.is_nil(cfg.auth)
	end)
end)

describe("a profile's auth-nocache", function()
	it("warns that the password stays in memory, unlike OpenVPN, which forgets it after each login", function()
		local ovpn = require "moonvpn.ovpn"
		local profile = assert(ovpn.parse("client\nremote 192.0.2.1 1194\nca ca.crt\nauth-user-pass\nauth-nocache\n",
			"p.ovpn"))
		local _, warnings = ovpn.client_fields(profile, { dir = "/nonexistent" })
		assert.are.same({ "p.ovpn:5: auth-nocache: ignored: moonvpn keeps the password in memory while it runs, "
			.. "for the next logins (OpenVPN forgets it after each login, so that a reconnect asks for it "
			.. "again or uses the server's auth-token)" }, warnings)
	end)
end)
