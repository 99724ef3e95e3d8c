-- SPDX-License-Identifier: MIT
-- Data integrity through the tunnel: bulk TCP transfers whose SHA-256 and
-- byte count must match at both ends (build/tools/xfer), over every peer,
-- direction, address family, transport and device type; nothing IP-fragmented
-- on the way; real-world MTU settings of stock clients; and a transfer while
-- the server renegotiates its keys, beside the same against a stock server:
--
--   [ mvt-srv: server, tun/tap 10.77.0.1 fd77::1 ] --veth 10.88.3.1 / .2-- [ mvt-cli: client ]
--
-- Sizes: MVT_XFER_MB (default 200) for the main combinations, MVT_XFER_SMALL_MB
-- (default 32) for the others, MVT_XFER_RENEG_MB (default 32) at least across
-- renegotiations; an eighth of each under the sanitizers.
-- #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

local XFER = "build/tools/xfer"
local MB = 1024 * 1024

-- The sanitizer run (make SANITIZE=... spec sets SANITIZE) is several times slower.
local SANITIZED = (os.getenv("SANITIZE") or "") ~= "" or mv.bin:find("/san/", 1, true) ~= nil

local function megabytes(var, default)
	local n = tonumber(os.getenv(var) or default)
	assert(n and n > 0, var .. " must be a positive number of megabytes, got " .. tostring(os.getenv(var)))
	if SANITIZED then n = n / 8 end
	return math.max(1, math.floor(n)) * MB
end
local BIG, SMALL = megabytes("MVT_XFER_MB", 200), megabytes("MVT_XFER_SMALL_MB", 32)
-- The least a transfer during which the server renegotiates moves
-- (MVT_XFER_RENEG_MB), and the server's renegotiation interval.
local RENEG, RENEG_SECONDS = megabytes("MVT_XFER_RENEG_MB", 32), 2

-- Configurations every test here runs under. `server` and `client` are fields
-- merged into the moonvpn server's and moonvpn client's vpn.server { } and
-- vpn.client { } (tables merged key by key), `stock` more lines of a stock
-- client's profile.
local variants = {
	{ name = "default", server = {}, client = {}, stock = "" },
}

-- The fast path's rungs (offload = { ... } in both moonvpn ends), each with
-- what the server's stats().datapath must show after transfers both ways.
local function positive(d, path)
	local v = d
	for key in path:gmatch("[^.]+") do v = v[key] end
	assert(type(v) == "number" and v > 0, path .. " should have counted, it is " .. tostring(v))
end
local function zero(d, path)
	local v = d
	for key in path:gmatch("[^.]+") do v = v[key] end
	assert.equal(0, v, path)
end
local RUNGS = {
	{ name = "every offload on", offload = {}, shows = "on", check = function(d, peer)
		assert.is_true(d.device.offload and d.udp.gso and d.udp.gro, "every rung on")
		positive(d, "device.superpackets")
		positive(d, "udp.gso_messages")
		-- A stock client sends one datagram at a time: whether two segments of a flow
		-- meet in one receive depends on the machine's speed. A moonvpn client's GSO
		-- runs arrive whole.
		if peer == "moonvpn" then
			positive(d, "udp.gro_buffers")
			positive(d, "device.coalesced_segments")
		end
	end },
	{ name = "offload.tun off", offload = { tun = false }, shows = "off", check = function(d)
		assert.is_false(d.device.offload)
		zero(d, "device.superpackets")
		zero(d, "device.coalesced_segments")
	end },
	{ name = "offload.uso off", offload = { uso = false }, shows = "off", check = function(d)
		assert.is_true(d.device.offload)
		assert.equal(0, d.device.flags & 0x60, "no USO flags in force")
		positive(d, "device.superpackets")
	end },
	{ name = "offload.coalesce off", offload = { coalesce = false }, shows = "off", check = function(d)
		assert.is_true(d.device.offload)
		zero(d, "device.coalesced_segments")
		positive(d, "device.superpackets")
	end },
	{ name = "offload.gso off", offload = { gso = false }, shows = "off", check = function(d)
		assert.is_false(d.udp.gso)
		zero(d, "udp.gso_messages")
	end },
	{ name = "offload.gro off", offload = { gro = false }, shows = "off", check = function(d)
		assert.is_false(d.udp.gro)
		zero(d, "udp.gro_buffers")
	end },
}

--- Lua source for a value made of tables, strings, numbers and booleans.
local function lua_value(v)
	if type(v) == "string" then return string.format("%q", v) end
	if type(v) ~= "table" then return tostring(v) end
	local parts, keys = {}, {}
	for _, x in ipairs(v) do parts[#parts + 1] = lua_value(x) end
	for k in pairs(v) do
		if math.type(k) ~= "integer" or k < 1 or k > #v then keys[#keys + 1] = k end
	end
	table.sort(keys)
	for _, k in ipairs(keys) do parts[#parts + 1] = k .. " = " .. lua_value(v[k]) end
	return "{ " .. table.concat(parts, ", ") .. " }"
end

--- A copy of base with over's fields on top, tables merged key by key.
local function merge(base, over)
	local out = {}
	for k, v in pairs(base) do out[k] = v end
	for k, v in pairs(over or {}) do
		if type(v) == "table" and type(out[k]) == "table" then v = merge(out[k], v) end
		out[k] = v
	end
	return out
end

--- The fields of t as lines of a Lua table constructor.
local function fields(t)
	local keys, lines = {}, {}
	for k in pairs(t) do keys[#keys + 1] = k end
	table.sort(keys)
	for _, k in ipairs(keys) do lines[#lines + 1] = "  " .. k .. " = " .. lua_value(t[k]) .. "," end
	return table.concat(lines, "\n")
end

local SERVER4, SERVER6 = "10.77.0.1", "fd77::1"

local function now()
	local _, out = netns.sh("date +%s.%N")
	return tonumber(out)
end
local PORTS = { udp = 1194, tcp = 443 }

--- Counters of a namespace's /proc/net/snmp and snmp6, e.g. c.Ip.FragCreates, c.Ip6.Ip6ReasmReqds.
local function snmp(ns)
	local ok, out = ns:sh("cat /proc/net/snmp /proc/net/snmp6")
	assert(ok, out)
	local c, names = { Ip6 = {} }, {}
	for line in out:gmatch("[^\n]+") do
		local group, rest = line:match("^(%a+): (.*)$")
		if group and not rest:match("^[%-%d]") then
			names[group] = {}
			for name in rest:gmatch("%S+") do names[group][#names[group] + 1] = name end
		elseif group then
			c[group] = {}
			local i = 0
			for value in rest:gmatch("%S+") do
				i = i + 1
				c[group][names[group][i]] = tonumber(value)
			end
		else
			local name, value = line:match("^(%S+)%s+(%d+)")
			if name then c.Ip6[name] = tonumber(value) end
		end
	end
	return c
end

-- What must not happen on the way: IP fragments made or reassembled (either
-- family), packets too big to send unfragmented, and ICMP saying so (IPv4's
-- fragmentation needed is a destination unreachable, type 3).
local NO_FRAGMENTS = {
	{ "Ip", "FragCreates" }, { "Ip", "FragFails" }, { "Ip", "ReasmReqds" },
	{ "Ip6", "Ip6FragCreates" }, { "Ip6", "Ip6FragFails" }, { "Ip6", "Ip6ReasmReqds" },
	{ "IcmpMsg", "InType3" }, { "IcmpMsg", "OutType3" },
	{ "Ip6", "Icmp6InPktTooBigs" }, { "Ip6", "Icmp6OutPktTooBigs" },
}

--- The counters of NO_FRAGMENTS that grew between snmp() readings a and b, as text.
local function fragment_growth(a, b)
	local grew = {}
	for _, key in ipairs(NO_FRAGMENTS) do
		local before = (a[key[1]] or {})[key[2]] or 0
		local after = (b[key[1]] or {})[key[2]] or 0
		if after ~= before then grew[#grew + 1] = string.format("%s %s %d -> %d", key[1], key[2], before, after) end
	end
	return table.concat(grew, ", ")
end

--- A server (moonvpn, or stock openvpn when opts.stock_server) and a client
-- (moonvpn when opts.peer == "moonvpn", else stock openvpn) in two namespaces.
-- opts: transport ("udp", "tcp"), dev ("tun", "tap"), variant, server (more
-- server fields), stock (more stock client lines), stock_server (extra lines).
-- Whatever started is recorded in the returned table before anything can fail,
-- so that finish() stops it.
local function start(t, opts)
	local pki = mv.pki()
	t.srv, t.cli = netns.new(), netns.new()
	t.srv_if = netns.veth(t.srv, "10.88.3.1/24", t.cli, "10.88.3.2/24")
	assert(netns.sh("ip -n " .. t.srv.name .. " link set " .. t.srv_if .. " mtu 1500"))
	local port, variant = PORTS[opts.transport], opts.variant
	if opts.stock_server then
		t.engine = t.srv:spawn({ "openvpn", "--config", openvpn.server(pki, { listen = "10.88.3.1",
			wrap = "tls-crypt", extra = opts.stock_server, dev = opts.dev,
			proto = opts.transport == "tcp" and "tcp-server" or "udp", port = port }) })
		local ok, out = t.engine:wait_log("Initialization Sequence Completed", 20)
		assert(ok, out)
	else
		t.socket = netns.tmpdir() .. "/server.sock"
		local server = merge(merge({
			listen = string.format("%s://10.88.3.1:%d", opts.transport, port),
			network6 = "fd77::/64",
			device = { name = "mvt0", type = opts.dev },
			console = t.socket,
			tls = { ca = pki .. "/ca.crt", cert = pki .. "/server.crt", key = pki .. "/server.key",
				tls_crypt = pki .. "/tc.key" },
		}, opts.server), variant.server)
		t.engine = t.srv:spawn({ mv.bin, mv.write_config(mv.server_config(fields(server), { tls = false }), "server.lua") })
		t.engine.moonvpn = true
		local ok, out = t.engine:wait_log("engine: moonvpn [%d.]+ started", 20)
		assert(ok, out)
	end
	if opts.peer == "moonvpn" then
		local client = merge({
			device = { name = "mvc0", type = opts.dev },
			tls = { ca = pki .. "/ca.crt", cert = pki .. "/client1.crt", key = pki .. "/client1.key",
				tls_crypt = pki .. "/tc.key" },
		}, variant.client)
		t.client = t.cli:spawn({ mv.bin, mv.write_config(mv.client_config("10.88.3.1", fields(client),
			{ tls = false, scheme = opts.transport, port = port }), "client.lua") })
		t.client.moonvpn = true
		local ok, out = t.client:wait_log("connected, address", 30)
		assert(ok, out .. "\n--- server:\n" .. t.engine:output())
	else
		t.client = t.cli:spawn({ "openvpn", "--config", openvpn.profile(pki, { remote = "10.88.3.1",
			wrap = "tls-crypt", dev = opts.dev, port = port,
			proto = opts.transport == "tcp" and "tcp-client" or "udp",
			extra = (opts.stock or "") .. (variant.stock or "") }) })
		local ok, out = t.client:wait_log("Initialization Sequence Completed", 30)
		assert(ok, out .. "\n--- server:\n" .. t.engine:output())
	end
	-- The client's addresses, once usable (a tap's IPv6 ones wait for duplicate address detection).
	local deadline = os.time() + 30
	repeat
		local _, v4 = t.cli:sh("ip -o -4 addr show to 10.77.0.0/24")
		local _, v6 = t.cli:sh("ip -o -6 addr show to fd77::/64 -tentative")
		local _, tentative = netns.sh("{ ip -n " .. t.cli.name .. " -o -6 addr show tentative; ip -n " ..
			t.srv.name .. " -o -6 addr show tentative; }")
		t.client4, t.client6 = v4:match("inet ([%d.]+)/"), v6:match("inet6 ([%x:]+)/")
		if t.client4 and (t.client6 or opts.no_ipv6) and tentative == "" then break end
		netns.sleep(0.2)
	until os.time() > deadline
	assert(t.client4, "the client has no IPv4 address in the tunnel")
	assert(t.client6 or opts.no_ipv6, "the client has no usable IPv6 address in the tunnel")
	t.snmp_srv, t.snmp_cli = snmp(t.srv), snmp(t.cli)
	t.port = 5000
	return t
end

--- Stops the client and server (moonvpn must exit cleanly: a sanitizer's
-- report exits 23) and removes the namespaces, whatever happened.
local function finish(t)
	local ends = {}
	for _, role in ipairs { "client", "engine" } do
		local p = t[role]
		if p then
			local status = p:stop()
			if p.moonvpn and status ~= 0 then
				ends[#ends + 1] = string.format("moonvpn %s exited with %s:\n%s", role == "engine" and "server" or role,
					tostring(status), p:output())
			end
		end
	end
	for k in pairs(t) do t[k] = nil end
	netns.cleanup()
	assert(#ends == 0, table.concat(ends, "\n"))
end

--- Moves `bytes` through the tunnel: "up" from the client to the server, "down"
-- back, to the server's or client's address of family 4 or 6. With `done`
-- (a function), the sender goes on past `bytes` until done() returns true (polled,
-- for at most `timeout` seconds). Asserts that both ends count the same bytes,
-- at least `bytes`, and the same SHA-256; returns the bytes and figures to
-- print only: the seconds it took, the TCP segments the sender retransmitted,
-- UDP datagrams each namespace dropped for a full receive buffer.
local function transfer(t, direction, family, bytes, done, timeout)
	local up = direction == "up"
	local to_ns, from_ns = up and t.srv or t.cli, up and t.cli or t.srv
	local addr
	if up then addr = family == 4 and SERVER4 or SERVER6 else addr = family == 4 and t.client4 or t.client6 end
	t.port = t.port + 1
	local recv = to_ns:spawn({ XFER, "recv", addr, tostring(t.port) })
	assert(recv:wait_log("listening", 30), recv:output())
	local before = { from = snmp(from_ns), srv = snmp(t.srv), cli = snmp(t.cli) }
	local t0 = now()
	local send = from_ns:spawn({ XFER, "send", addr, tostring(t.port), tostring(bytes),
		tostring(math.random(1, 1 << 30)), done and "until-signal" or nil })
	if done then
		local deadline = os.time() + timeout
		while not done() and os.time() < deadline and not send:status() do netns.sleep(0.2) end
		send:signal("USR1")
	end
	-- Generous: a minute plus two seconds a megabyte; xfer itself names a stall after 120 s.
	local status = send:wait(60 + 2 * bytes // MB)
	local recv_status = recv:wait(30)
	local srv, cli = snmp(t.srv), snmp(t.cli)
	local figures = { seconds = now() - t0, retrans = snmp(from_ns).Tcp.RetransSegs - before.from.Tcp.RetransSegs,
		-- Datagrams (tunnel packets) dropped for a full socket buffer, at each end.
		drops_srv = srv.Udp.RcvbufErrors - before.srv.Udp.RcvbufErrors,
		drops_cli = cli.Udp.RcvbufErrors - before.cli.Udp.RcvbufErrors }
	send:stop("KILL")
	recv:stop("KILL")
	local logs = "\n--- sender:\n" .. send:output() .. "\n--- receiver:\n" .. recv:output() ..
		"\n--- server:\n" .. t.engine:output():sub(-3000) .. "\n--- client:\n" .. t.client:output():sub(-3000)
	assert(status == 0, "the sender did not finish (status " .. tostring(status) .. ")" .. logs)
	assert(recv_status == 0, "the receiver did not finish (status " .. tostring(recv_status) .. ")" .. logs)
	local sent, sent_hash = send:output():match("sent (%d+) sha256 (%x+)")
	local received, received_hash = recv:output():match("received (%d+) sha256 (%x+)")
	sent, received = tonumber(sent), tonumber(received)
	if done then
		assert(sent and sent >= bytes, "bytes sent: " .. tostring(sent) .. ", at least " .. bytes .. " due" .. logs)
	else
		assert.are.equal(bytes, sent, "bytes sent" .. logs)
	end
	assert.are.equal(sent, received, "bytes received" .. logs)
	assert.are.equal(sent_hash, received_hash, "SHA-256 of the data" .. logs)
	return sent, figures
end

--- Asserts that neither namespace fragmented, reassembled or was told
-- "too big" since start().
--- The server's stats().datapath, read through its console.
local function datapath_stats(t)
	-- One line: the console runs each line of a chunk on its own.
	local chunk = 'local d, out = stats().datapath, {} for _, part in ipairs { "device", "udp" } do ' ..
		'for k, v in pairs(d[part] or {}) do out[#out + 1] = part .. "." .. k .. "=" .. tostring(v) end end ' ..
		'print(table.concat(out, " "))'
	local status, out, err = mv.console(t.socket, chunk)
	assert(status == 0, "console: " .. tostring(err) .. tostring(out))
	local d = { device = {}, udp = {} }
	for part, k, v in out:gmatch("(%a+)%.([%w_]+)=(%S+)") do
		d[part][k] = (v == "true") or (v ~= "false" and tonumber(v)) or false
	end
	return d
end

local function assert_no_fragments(t)
	local srv, cli = fragment_growth(t.snmp_srv, snmp(t.srv)), fragment_growth(t.snmp_cli, snmp(t.cli))
	assert(srv == "" and cli == "", "the server's namespace: " .. srv .. "; the client's: " .. cli)
end

local function report(what, bytes, f)
	print(string.format("\n  [%s: %d MB in %.1f s, %d TCP segments retransmitted, UDP receive buffer drops: "
		.. "server %d, client %d]", what, bytes // MB, f.seconds, f.retrans, f.drops_srv, f.drops_cli))
end

describe("#netns data integrity", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end

	-- Every value of every dimension with both peers, all combined; the main
	-- combinations (UDP, tun, IPv4) move BIG bytes, the others SMALL.
	for _, variant in ipairs(variants) do
		for _, peer in ipairs { "moonvpn", "stock" } do
			for _, transport in ipairs { "udp", "tcp" } do
				for _, dev in ipairs { "tun", "tap" } do
					local name = string.format("%s: %s client, moonvpn server, %s transport, %s", variant.name,
						peer, transport:upper(), dev)
					describe(name, function()
						local t = {}
						setup(function()
							start(t, { peer = peer, transport = transport, dev = dev, variant = variant })
						end)
						teardown(function() finish(t) end)
						for _, family in ipairs { 4, 6 } do
							for _, direction in ipairs { "up", "down" } do
								local main = transport == "udp" and dev == "tun" and family == 4
								local bytes = main and BIG or SMALL
								it(string.format("carries %s over IPv%d %s, the same SHA-256 at both ends",
									main and "the big transfer" or "a transfer", family,
									direction == "up" and "from the client" or "to the client"), function()
									assert(t.engine, "the tunnel did not come up")
									local _, figures = transfer(t, direction, family, bytes)
									report(string.format("%s IPv%d %s", name, family, direction), bytes, figures)
								end)
							end
						end
						it("fragmented nothing and heard of no packet too big, either way", function()
							assert(t.engine, "the tunnel did not come up")
							assert_no_fragments(t)
						end)
					end)
				end
			end
		end

		-- MTU settings found in the field: the client's own smaller tun-mtu and
		-- mssfix (the server's push ignored), and a smaller MTU the server pushes.
		for _, case in ipairs {
			{ "a stock client with tun-mtu 1400 and mssfix 1400 of its own", peer = "stock",
				stock = 'tun-mtu 1400\nmssfix 1400\npull-filter ignore "tun-mtu"\n', mtu = 1400 },
			{ "a stock client with mssfix 1300 alone", peer = "stock", stock = "mssfix 1300\n", mtu = 1500 },
			{ "a stock client given tun-mtu 1400 by the server", peer = "stock", server = { device = { mtu = 1400 } },
				mtu = 1400 },
			{ "a moonvpn client given tun-mtu 1400 by the server", peer = "moonvpn",
				server = { device = { mtu = 1400 } }, mtu = 1400 },
		} do
			describe(variant.name .. ": " .. case[1] .. ", UDP, tun", function()
				local t = {}
				setup(function()
					start(t, { peer = case.peer, transport = "udp", dev = "tun", variant = variant,
						stock = case.stock, server = case.server })
				end)
				teardown(function() finish(t) end)
				it("has a tunnel device of MTU " .. case.mtu, function()
					assert(t.engine, "the tunnel did not come up")
					local _, out = t.cli:sh("ip -o addr show to 10.77.0.0/24 | awk '{ print $2 }' | xargs -I@ cat /sys/class/net/@/mtu")
					assert.are.equal(tostring(case.mtu), out:match("%d+"))
				end)
				for _, family in ipairs { 4, 6 } do
					for _, direction in ipairs { "up", "down" } do
						it(string.format("carries a transfer over IPv%d %s, the same SHA-256 at both ends", family,
							direction == "up" and "from the client" or "to the client"), function()
							assert(t.engine, "the tunnel did not come up")
							local bytes = math.max(MB, SMALL // 2)
							local _, figures = transfer(t, direction, family, bytes)
							report(string.format("%s IPv%d %s", case[1], family, direction), bytes, figures)
						end)
					end
				end
				it("fragmented nothing and heard of no packet too big, either way", function()
					assert(t.engine, "the tunnel did not come up")
					assert_no_fragments(t)
				end)
			end)
		end

		-- Key renegotiation under full load: the server renegotiates every
		-- RENEG_SECONDS, the transfer goes on until it has done so three times
		-- (and has moved RENEG bytes), however fast or slow the machine. The
		-- same against a stock server, for its retransmissions beside ours (no
		-- moonvpn in it, so not under the sanitizers).
		local retransmitted = {}
		for _, server in ipairs { "moonvpn", "stock" } do
			describe(variant.name .. ": a stock client, a " .. server .. " server renegotiating under load", function()
				local beside = server == "stock" and netns.release_repeat("no moonvpn in it: the stock "
					.. "server's figures are for comparison; the moonvpn server's block runs")
				if beside then
					pending(beside)
					return
				end
				local t = {}
				setup(function()
					start(t, { peer = "stock", transport = "udp", dev = "tun", variant = variant,
						-- Only the server renegotiates.
						stock = "reneg-sec 0\n",
						server = { renegotiate = { seconds = RENEG_SECONDS } },
						stock_server = server == "stock" and ("reneg-sec " .. RENEG_SECONDS .. "\n") or nil,
						no_ipv6 = server == "stock" })
				end)
				teardown(function() finish(t) end)
				-- Renegotiations the server has completed (stock: started) so far.
				local function renegotiations()
					local log = t.engine:output()
					local pattern = server == "stock" and "TLS: soft reset" or "renegotiated: data now on key"
					local n = 0
					for _ in log:gmatch(pattern) do n = n + 1 end
					return n
				end
				for _, direction in ipairs { "up", "down" } do
					it(string.format("carries a transfer %s intact across three renegotiations",
						direction == "up" and "from the client" or "to the client"), function()
						assert(t.engine, "the tunnel did not come up")
						local before = renegotiations()
						local bytes, figures = transfer(t, direction, 4, RENEG,
							function() return renegotiations() - before >= 3 end, 30 * RENEG_SECONDS)
						local n = renegotiations() - before
						report(string.format("%s server, IPv4 %s, %d renegotiations", server, direction, n),
							bytes, figures)
						retransmitted[#retransmitted + 1] = string.format("%s server %s: %d in %d MB", server,
							direction, figures.retrans, bytes // MB)
						if server == "moonvpn" then
							assert.is_true(n >= 3, "renegotiations during the transfer: " .. n .. "\n" .. t.engine:output())
						end
					end)
				end
			end)
		end
		teardown(function()
			if #retransmitted == 0 then return end
			print("\n  [TCP segments retransmitted during transfers across renegotiations: " ..
				table.concat(retransmitted, ", ") .. "]")
		end)
	end

	-- The fast path's fallback ladder: with every offload on, and with each
	-- turned off in the server and the moonvpn client, data still arrives
	-- intact and unfragmented, and the server's stats().datapath shows the
	-- rung really on or off (so a rung that silently stopped working fails).
	for _, rung in ipairs(RUNGS) do
		for _, peer in ipairs { "moonvpn", "stock" } do
			describe(string.format("%s: a %s client, moonvpn server, UDP, tun", rung.name, peer), function()
				local t = {}
				setup(function()
					start(t, { peer = peer, transport = "udp", dev = "tun", no_ipv6 = true,
						variant = { name = rung.name, server = { offload = rung.offload },
							client = { offload = rung.offload } } })
				end)
				teardown(function() finish(t) end)
				for _, direction in ipairs { "up", "down" } do
					it(string.format("carries a transfer %s intact",
						direction == "up" and "from the client" or "to the client"), function()
						assert(t.engine, "the tunnel did not come up")
						transfer(t, direction, 4, SMALL)
					end)
				end
				it("fragmented nothing, and the server's stats show the rung " .. rung.shows, function()
					assert(t.engine, "the tunnel did not come up")
					assert_no_fragments(t)
					local d = datapath_stats(t)
					rung.check(d, peer)
				end)
			end)
		end
	end
end)
