-- SPDX-License-Identifier: MIT
-- A lossy, reordering underlay (this kernel has no netem):
--
-- Loss: nftables in each namespace drops a share of the tunnel's datagrams
-- as they arrive (numgen random), and a stock OpenVPN 2.6 client
-- connects and moves a TCP transfer through the tunnel, to a moonvpn server
-- and to a stock one side by side, and a moonvpn client to a moonvpn server
-- (both ends' reliability layers ours); the handshake times and throughputs are
-- printed, never asserted (a shared, noisy machine). The veths cut UDP GSO
-- batches into datagrams, so that each is lost on its own, and TCP's
-- retransmission timeout is capped at 2 s in both namespaces (see
-- cap_tcp_backoff):
--
--   [ srv: server 10.88.5.1, tun 10.77.0.1 ] --veth-- [ cli: 10.88.5.2, stock client ]
--     nft drops N % arriving            nft drops N % arriving
--
-- Reordering and duplication: build/tools/udprelay between the two holds a
-- quarter of the datagrams back while later ones pass, and sends some twice;
-- no data packet within the replay window is refused (the replay counters
-- stay at zero while nothing is duplicated), and every duplicate is dropped
-- and counted as a replay:
--
--   [ cli: 10.88.6.2 ] --veth-- [ mid: udprelay 10.88.6.3 / 10.88.7.3 ] --veth-- [ srv: 10.88.7.1 ]
--
-- Sizes: MVT_LOSS_MB (default 4) through 10 % loss, a quarter of it through
-- 30 %, MVT_REORDER_MB (default 16) through the relay; an eighth under the
-- sanitizers.
-- #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

local XFER, RELAY = "build/tools/xfer", "build/tools/udprelay"
local MB = 1024 * 1024
local SANITIZED = (os.getenv("SANITIZE") or "") ~= "" or mv.bin:find("/san/", 1, true) ~= nil

local function megabytes(var, default)
	local n = tonumber(os.getenv(var) or default)
	assert(n and n > 0, var .. " must be a positive number of megabytes, got " .. tostring(os.getenv(var)))
	if SANITIZED then n = n / 8 end
	return math.max(MB // 4, math.floor(n * MB))
end
local LOSS_BYTES, REORDER_BYTES = megabytes("MVT_LOSS_MB", 4), megabytes("MVT_REORDER_MB", 16)

-- Generous: a stock client at 30 % loss may need more than one 60 s hand-window.
local HANDSHAKE_TIMEOUT = 300

local function now()
	local _, out = netns.sh("date +%s.%N")
	return tonumber(out)
end

--- Drops pct percent of the tunnel's UDP datagrams (port 1194) on their way
-- from cli to srv and from srv to cli, each drawn on its own. On arrival (the
-- input hook), not in the output hook, where the sender would see EPERM and
-- know its datagram went nowhere, as it cannot over a real lossy link.
local function lossy(srv, cli, pct)
	for _, side in ipairs { { srv, "dport" }, { cli, "sport" } } do
		local dir = netns.tmpdir()
		netns.write_file(dir .. "/loss.nft", string.format([[
table inet mvtloss {
	chain in { type filter hook input priority 0; udp %s 1194 numgen random mod 100 < %d counter drop; }
}
]], side[2], pct))
		local ok, out = side[1]:sh("nft -f " .. dir .. "/loss.nft")
		assert(ok, "nft (package nftables) could not set up the loss: " .. out)
	end
end

--- The datagrams the loss rules in ns dropped so far.
local function dropped(ns)
	local ok, out = ns:sh("nft list table inet mvtloss")
	assert(ok, out)
	return tonumber(out:match("counter packets (%d+)"))
end

--- Makes the veth end `dev` of ns cut UDP GSO batches into datagrams as it
-- sends them. A veth hands a GSO batch (moonvpn sends with UDP GSO) to the
-- other namespace whole, where the loss rule would drop or pass all its
-- datagrams at once; over a real link each datagram is lost on its own.
local function per_datagram(ns, dev)
	local ok, out = netns.sh("ip -n " .. ns.name .. " link set dev " .. dev .. " gso_max_segs 1")
	assert(ok, out)
end

--- Caps TCP's retransmission timeout in ns (tcp_rto_max_ms, Linux 6.15 on;
-- an older kernel keeps its 120 s). At 30 % loss each way a retransmission
-- and its ACK both get through half the time, so TCP's doubling backoff
-- reaches a minute now and then (with a stock server as with ours); the
-- flow through the tunnel is what is tested, not how long TCP sleeps.
local function cap_tcp_backoff(ns)
	ns:sh("test -e /proc/sys/net/ipv4/tcp_rto_max_ms && sysctl -qw net.ipv4.tcp_rto_max_ms=2000")
end

--- Waits until the process's output has `pattern`; the seconds since t0, or fails with its log.
local function time_until(p, pattern, t0, timeout, other)
	local ok, out = p:wait_log(pattern, timeout)
	assert(ok, out .. "\n--- server:\n" .. (other and other:output() or ""))
	return now() - t0
end

--- Moves `bytes` from `from_ns` to addr:port in `to_ns` with xfer; asserts the
-- same count and SHA-256 at both ends; returns the seconds it took.
local function transfer(from_ns, to_ns, addr, port, bytes, logs)
	local recv = to_ns:spawn({ XFER, "recv", addr, tostring(port) })
	assert(recv:wait_log("listening", 30), recv:output())
	local t0 = now()
	local send = from_ns:spawn({ XFER, "send", addr, tostring(port), tostring(bytes),
		tostring(math.random(1, 1 << 30)) })
	-- xfer names a stall of 120 s itself; this only bounds a hang.
	local status = send:wait(600)
	local seconds = now() - t0
	local recv_status = recv:wait(30)
	send:stop("KILL")
	recv:stop("KILL")
	local why = "\n--- sender:\n" .. send:output() .. "\n--- receiver:\n" .. recv:output() .. (logs and logs() or "")
	assert(status == 0, "the sender did not finish (status " .. tostring(status) .. ")" .. why)
	assert(recv_status == 0, "the receiver did not finish (status " .. tostring(recv_status) .. ")" .. why)
	local sent, sent_hash = send:output():match("sent (%d+) sha256 (%x+)")
	local received, received_hash = recv:output():match("received (%d+) sha256 (%x+)")
	assert.are.equal(bytes, tonumber(sent), "bytes sent" .. why)
	assert.are.equal(bytes, tonumber(received), "bytes received" .. why)
	assert.are.equal(sent_hash, received_hash, "SHA-256 of the data" .. why)
	return seconds
end

--- A server of `kind` ("moonvpn" or "stock") in ns listening on addr; the
-- process and (moonvpn) its console socket.
local function server(kind, ns, addr)
	local pki = mv.pki()
	if kind == "moonvpn" then
		local engine, socket = mv.start_server(ns, string.format('  listen = "udp://%s:1194",', addr))
		engine.moonvpn = true
		return engine, socket
	end
	local p = ns:spawn({ "openvpn", "--config", openvpn.server(pki, { listen = addr, wrap = "tls-crypt" }) })
	assert(p:wait_log("Initialization Sequence Completed", 20), p:output())
	return p
end

--- A moonvpn client in ns towards remote:1194 with client1's certificate,
-- tls-crypt and a console at `socket`.
local function moonvpn_client(ns, remote, socket)
	local pki = mv.pki()
	local p = ns:spawn({ mv.bin, mv.write_config(mv.client_config(remote, string.format([[
  device = { name = "mvc0" },
  console = "%s",
  tls = { ca = "%s/ca.crt", cert = "%s/client1.crt", key = "%s/client1.key", tls_crypt = "%s/tc.key" },
]], socket, pki, pki, pki, pki), { tls = false }), "client.lua") })
	p.moonvpn = true
	return p
end

--- A console expression's value, as a number when it is one.
local function console(socket, expr)
	local status, out, err = mv.console(socket, expr)
	assert(status == 0, "console: " .. err .. out)
	return tonumber(out) or out
end

--- Stops every process of t (moonvpn must exit cleanly: a sanitizer's report
-- exits 23) and removes the namespaces, whatever happened.
local function finish(t)
	local bad = {}
	for _, role in ipairs { "client", "relay", "engine" } do
		local p = t[role]
		if p then
			local status = p:stop()
			if p.moonvpn and status ~= 0 then
				bad[#bad + 1] = string.format("moonvpn %s exited with %s:\n%s", role, tostring(status), p:output())
			end
		end
	end
	for k in pairs(t) do t[k] = nil end
	netns.cleanup()
	assert(#bad == 0, table.concat(bad, "\n"))
end

describe("#netns a lossy underlay", function()
	local unfit = netns.load_spec_unfit()
	if unfit then
		pending(unfit)
		return
	end
	local t, figures = {}, {}
	after_each(function() finish(t) end)

	for _, pct in ipairs { 10, 30 } do
		local bytes = pct == 10 and LOSS_BYTES or math.max(MB // 4, LOSS_BYTES // 4)
		for _, ends in ipairs { { "stock", "moonvpn" }, { "stock", "stock" }, { "moonvpn", "moonvpn" } } do
			local peer, kind = ends[1], ends[2]
			it(string.format("at %d %% loss both ways: a %s client connects to a %s server and a TCP transfer "
				.. "goes through intact", pct, peer, kind), function()
				t.srv, t.cli = netns.new(), netns.new()
				local srv_if, cli_if = netns.veth(t.srv, "10.88.5.1/24", t.cli, "10.88.5.2/24")
				per_datagram(t.srv, srv_if)
				per_datagram(t.cli, cli_if)
				cap_tcp_backoff(t.srv)
				cap_tcp_backoff(t.cli)
				t.engine = server(kind, t.srv, "10.88.5.1")
				lossy(t.srv, t.cli, pct)
				local t0 = now()
				local ready = "Initialization Sequence Completed"
				if peer == "moonvpn" then
					t.client, ready = moonvpn_client(t.cli, "10.88.5.1", netns.tmpdir() .. "/client.sock"),
						"connected, address"
				else
					t.client = t.cli:spawn({ "openvpn", "--config", openvpn.profile(mv.pki(),
						{ remote = "10.88.5.1", wrap = "tls-crypt" }) })
				end
				local handshake = time_until(t.client, ready, t0, HANDSHAKE_TIMEOUT, t.engine)
				local seconds = transfer(t.cli, t.srv, "10.77.0.1", 5001, bytes, function()
					return "\n--- server:\n" .. t.engine:output():sub(-3000) ..
						"\n--- client:\n" .. t.client:output():sub(-3000)
				end)
				local up, down = dropped(t.srv), dropped(t.cli)
				local f = string.format("%2d %% loss, %-7s client, %-7s server: handshake %6.2f s, TCP %.2f MB in "
					.. "%5.1f s (%.0f KB/s); datagrams dropped: %d to the server, %d to the client", pct, peer, kind,
					handshake, bytes / MB, seconds, bytes / 1024 / seconds, up, down)
				figures[#figures + 1] = f
				print("\n  [" .. f .. "]")
				assert.is_true(up > 0 and down > 0, "the loss rules dropped nothing: " .. up .. ", " .. down)
			end)
		end
	end

	teardown(function()
		if #figures > 0 then print("\n  [through loss:\n   " .. table.concat(figures, "\n   ") .. "]") end
	end)
end)

--- The relay's counters, fresh: asks for them with SIGUSR1 and reads the new line.
local function relay_stats(relay)
	local function lines()
		local n, last = 0, nil
		for line in relay:output():gmatch("stats [^\n]+") do n, last = n + 1, line end
		return n, last
	end
	local before = lines()
	relay:signal("USR1")
	for _ = 1, 200 do
		local n, last = lines()
		if n > before then
			local c = {}
			for k, v in last:gmatch("([%w_.]+)=(%d+)") do c[k] = tonumber(v) end
			return c
		end
		netns.sleep(0.05)
	end
	error("udprelay printed no counters:\n" .. relay:output())
end

--- UDP datagrams ns dropped for a full receive buffer so far (/proc/net/snmp).
local function rcvbuf_errors(ns)
	local ok, out = ns:sh("cat /proc/net/snmp")
	assert(ok, out)
	local names, values = out:match("Udp: (%a[^\n]*)\nUdp: ([^\n]*)")
	local i, wanted = 0, nil
	for name in names:gmatch("%S+") do
		i = i + 1
		if name == "RcvbufErrors" then wanted = i end
	end
	i = 0
	for v in values:gmatch("%S+") do
		i = i + 1
		if i == wanted then return tonumber(v) end
	end
	error("no Udp RcvbufErrors in /proc/net/snmp")
end

describe("#netns a reordering underlay", function()
	local unfit = netns.load_spec_unfit()
	if unfit then
		pending(unfit)
		return
	end
	local t = {}
	after_each(function() finish(t) end)

	--- Three namespaces, the moonvpn server, the relay with `relay_args` and a
	-- client of `peer` ("stock" or "moonvpn"), connected.
	local function start(peer, relay_args, server_kind)
		t.cli, t.mid, t.srv = netns.new(), netns.new(), netns.new()
		netns.veth(t.cli, "10.88.6.2/24", t.mid, "10.88.6.3/24")
		netns.veth(t.mid, "10.88.7.3/24", t.srv, "10.88.7.1/24")
		t.engine, t.socket = server(server_kind or "moonvpn", t.srv, "10.88.7.1")
		local argv = { RELAY, "--listen", "10.88.6.3:1194", "--to", "10.88.7.1:1194", "--seed",
			tostring(math.random(1, 1 << 30)) }
		for _, a in ipairs(relay_args) do argv[#argv + 1] = a end
		t.relay = t.mid:spawn(argv)
		assert(t.relay:wait_log("listening", 10), t.relay:output())
		local pki = mv.pki()
		if peer == "stock" then
			t.client = t.cli:spawn({ "openvpn", "--config", openvpn.profile(pki, { remote = "10.88.6.3",
				wrap = "tls-crypt" }) })
			assert(t.client:wait_log("Initialization Sequence Completed", 60), t.client:output() ..
				"\n--- server:\n" .. t.engine:output())
			return
		end
		t.client_socket = netns.tmpdir() .. "/client.sock"
		t.client = moonvpn_client(t.cli, "10.88.6.3", t.client_socket)
		assert(t.client:wait_log("connected, address", 60), t.client:output() .. "\n--- server:\n" ..
			t.engine:output())
	end

	local function logs()
		return "\n--- relay:\n" .. t.relay:output() .. "\n--- server:\n" .. t.engine:output():sub(-3000) ..
			"\n--- client:\n" .. t.client:output():sub(-3000)
	end

	--- The client's address in the tunnel, once it has one.
	local function client_address()
		for _ = 1, 100 do
			local _, out = t.cli:sh("ip -o -4 addr show to 10.77.0.0/24")
			local addr = out:match("inet ([%d.]+)/")
			if addr then return addr end
			netns.sleep(0.1)
		end
		error("the client has no address in the tunnel")
	end

	--- Transfers both ways, then reads the replay counters of the moonvpn
	-- ends (`sockets`, by name) and after them the relay's counters, so that a
	-- keepalive duplicated in between cannot make a replay the relay has not
	-- counted. Returns the relay's counters, the replay counts and the
	-- datagrams each namespace dropped for a full socket buffer meanwhile.
	local function both_ways(sockets)
		local srv_errors, cli_errors = rcvbuf_errors(t.srv), rcvbuf_errors(t.cli)
		transfer(t.cli, t.srv, "10.77.0.1", 5001, REORDER_BYTES, logs)
		transfer(t.srv, t.cli, client_address(), 5002, REORDER_BYTES, logs)
		local counted = {}
		for name, socket in pairs(sockets) do counted[name] = console(socket, "stats().dropped.replay") end
		local c = relay_stats(t.relay)
		return c, counted, { server = rcvbuf_errors(t.srv) - srv_errors, client = rcvbuf_errors(t.cli) - cli_errors }
	end

	--- Asserts that the replays `who` counted are the data duplicates the relay
	-- sent it and nothing more: no more than the duplicates (anything else
	-- would be a reordered packet refused), and, once the last duplicate has
	-- arrived (polled), no fewer, but for duplicates whose first copy a full
	-- socket buffer lost (then the duplicate is no replay). Returns the count.
	local function check_replays(who, socket, counted, dups, rcvbuf_lost)
		assert.is_true(counted <= dups, string.format("%s: %d replays counted, only %d duplicates sent: a reordered "
			.. "packet was refused", who, counted, dups) .. logs())
		local v = counted
		for _ = 1, 50 do
			if v >= dups - rcvbuf_lost then break end
			netns.sleep(0.1)
			v = console(socket, "stats().dropped.replay")
		end
		assert.is_true(v >= dups - rcvbuf_lost and v <= dups, string.format("%s: %d replays counted, %d duplicates "
			.. "sent, %d datagrams lost to a full socket buffer", who, v, dups, rcvbuf_lost) .. logs())
		return v
	end

	it("refuses no reordered data packet from a stock client (25 % held back 5 ms)", function()
		start("stock", { "--reorder", "25", "--delay-ms", "5" })
		local c, counted = both_ways { server = t.socket }
		print(string.format("\n  [stock client, 25 %% reordered: %d datagrams up, %d overtaken, by up to %d; "
			.. "%d down, %d overtaken, by up to %d]", c["up.relayed"], c["up.overtaken"], c["up.deepest"],
			c["down.relayed"], c["down.overtaken"], c["down.deepest"]))
		-- Enough really reordered data to mean something (a slow machine reads
		-- the relay's socket in bigger bursts: more are overtaken, not fewer).
		assert.is_true(c["up.overtaken"] >= 50, "too few reordered datagrams: " .. c["up.overtaken"])
		check_replays("server", t.socket, counted.server, 0, 0)
		assert.are.equal(0, console(t.socket, "stats().dropped.authentication"))
	end)

	it("(for comparison) a stock server behind the same relay, with its 64-packet window", function()
		start("stock", { "--reorder", "25", "--delay-ms", "5" }, "stock")
		local srv_errors = rcvbuf_errors(t.srv)
		transfer(t.cli, t.srv, "10.77.0.1", 5001, REORDER_BYTES, logs)
		local c = relay_stats(t.relay)
		local refused = 0
		for _ in t.engine:output():gmatch("bad packet ID %(may be a replay%)") do refused = refused + 1 end
		print(string.format("\n  [stock server, stock client, 25 %% reordered: %d datagrams up, %d overtaken, by up "
			.. "to %d; the server logged %d data packets refused as replays (%d lost to a full socket buffer)]",
			c["up.relayed"], c["up.overtaken"], c["up.deepest"], refused, rcvbuf_errors(t.srv) - srv_errors))
	end)

	it("drops and counts every duplicate from a stock client as a replay, reordered too", function()
		start("stock", { "--reorder", "25", "--delay-ms", "5", "--dup", "5" })
		local c, counted, lost = both_ways { server = t.socket }
		assert.is_true(c["up.dup_data"] >= 20, "too few duplicates: " .. c["up.dup_data"])
		local got = check_replays("server", t.socket, counted.server, c["up.dup_data"], lost.server)
		print(string.format("\n  [stock client, 25 %% reordered, 5 %% duplicated: %d data duplicates up, %d replays "
			.. "counted by the server]", c["up.dup_data"], got))
	end)

	it("refuses nothing reordered and counts every duplicate as a replay at both ends, with a moonvpn client",
		function()
			start("moonvpn", { "--reorder", "25", "--delay-ms", "5", "--dup", "5" })
			local c, counted, lost = both_ways { server = t.socket, client = t.client_socket }
			assert.is_true(c["up.overtaken"] >= 50 and c["down.overtaken"] >= 50, "too few reordered datagrams")
			local got_srv = check_replays("server", t.socket, counted.server, c["up.dup_data"], lost.server)
			local got_cli = check_replays("client", t.client_socket, counted.client, c["down.dup_data"], lost.client)
			print(string.format("\n  [moonvpn client, 25 %% reordered, 5 %% duplicated: up %d overtaken, %d data "
				.. "duplicates, %d replays counted by the server; down %d overtaken, %d data duplicates, %d "
				.. "replays counted by the client; overtaken by up to %d datagrams]", c["up.overtaken"],
				c["up.dup_data"], got_srv, c["down.overtaken"], c["down.dup_data"], got_cli,
				math.max(c["up.deepest"], c["down.deepest"])))
		end)
end)
