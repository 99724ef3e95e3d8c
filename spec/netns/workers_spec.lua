-- SPDX-License-Identifier: MIT
-- `workers = 2` (docs/workers.md): the server's UDP socket is a SO_REUSEPORT
-- group of two, steered by peer-id, and its device has a queue for each
-- worker. Two stock OpenVPN 2.6 clients, the second through our UDP relay
-- so that its source port can change mid-stream (udprelay's SIGHUP):
--
--   [ cli1: openvpn ] --veth 10.88.1.2 / .1--+
--                                            [ srv: moonvpn, workers = 2 ]
--   [ cli2: openvpn -> udprelay ] --veth 10.88.2.2 / .1--+
--
-- #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

local RELAY = "build/tools/udprelay"

describe("#netns workers = 2", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local srv, cli1, cli2, engine, socket, clients, relay

	local function stat(expr)
		local status, out, err = mv.console(socket, "return " .. expr)
		assert(status == 0, err)
		return tonumber(out) or out:gsub("\n$", "")
	end

	local function start_relay()
		relay = cli2:spawn({ RELAY, "--listen", "127.0.0.1:1195", "--to", "10.88.2.1:1194" })
		assert(relay:wait_log("listening", 10), relay:output())
	end

	-- The server with two workers (and extra settings); client 1 direct (peer-id 0, worker 1
	-- of the spec's 1-based list), client 2 through the relay (peer-id 1, the second worker's).
	local function start(extra)
		srv, cli1, cli2 = netns.new(), netns.new(), netns.new()
		netns.veth(srv, "10.88.1.1/24", cli1, "10.88.1.2/24")
		netns.veth(srv, "10.88.2.1/24", cli2, "10.88.2.2/24")
		assert(cli2:sh("ip link set lo up"))
		engine, socket = mv.start_server(srv, "  workers = 2,\n" .. (extra or ""))
		start_relay()
		local pki = mv.pki()
		clients = {
			cli1:spawn({ "openvpn", "--config", openvpn.profile(pki, { remote = "10.88.1.1",
				wrap = "tls-crypt" }) }),
		}
		local ok, out = clients[1]:wait_log("Initialization Sequence Completed", 20)
		assert(ok, out .. "\n--- moonvpn:\n" .. engine:output())
		clients[2] = cli2:spawn({ "openvpn", "--config", openvpn.profile(pki, { remote = "127.0.0.1",
			port = 1195, cert = "client2", wrap = "tls-crypt" }) })
		ok, out = clients[2]:wait_log("Initialization Sequence Completed", 20)
		assert(ok, out .. "\n--- moonvpn:\n" .. engine:output())
	end

	local function ping(ns)
		local ok, out = ns:sh("ping -c 5 -i 0.2 -W 2 10.77.0.1")
		assert(ok, out)
		assert.truthy(out:find("5 received", 1, true), out)
	end

	-- The real address of the client with common name cn, as clients() shows it.
	local function real_address(cn)
		return stat(string.format(
			'(function() for _, c in ipairs(clients()) do if c.cn == "%s" then return c.real_address end end end)()',
			cn))
	end

	after_each(function()
		for _, c in ipairs(clients or {}) do c:stop() end
		if relay then relay:stop() end
		if engine then assert.are.equal(0, engine:stop()) end
		engine, clients, relay = nil, nil, nil
		netns.cleanup()
	end)

	it("deals the peers to both workers, whose sockets and device queues carry their data", function()
		start()
		assert.are.equal(2, stat("#stats().workers"))
		assert.are.equal(1, stat("stats().workers[1].peers"))
		assert.are.equal(1, stat("stats().workers[2].peers"))
		assert.are.equal(2, stat("stats().datapath.device.queues"))
		local before = stat("stats().workers[2].datagrams_in")
		ping(cli1)
		ping(cli2)
		-- Client 2's data (peer-id 1) arrives on the second socket of the group only.
		assert.is_true(stat("stats().workers[2].datagrams_in") >= before + 5)
		assert.is_true(stat("clients()[2].packets_in") >= 5)
		-- Both directions of a TCP stream, so the device's queues are read whichever the
		-- kernel picks for a flow.
		local server = srv:spawn({ "iperf3", "-s", "-1", "-B", "10.77.0.1", "--forceflush" })
		assert(server:wait_log("Server listening", 5))
		-- Client 1's pings meanwhile: both workers busy at once (a ThreadSanitizer build
		-- then sees their threads overlap).
		local pings = cli1:spawn({ "ping", "-c", "400", "-i", "0.005", "-W", "2", "10.77.0.1" })
		local ok, out = cli2:sh("iperf3 -c 10.77.0.1 -t 1 -R -f m")
		assert(ok, out)
		local mbits = tonumber(out:match("([%d.]+) Mbits/sec%s+receiver"))
		assert.truthy(mbits and mbits > 1, out)
		assert.are.equal(0, pings:wait(30), pings:output())
		-- Each client's packets were written on its worker's device queue, so the kernel
		-- sent the replies out of that queue: next to none had to be handed to the
		-- other worker (each of client 2's would be, were they all written on queue 0).
		local handoffs = stat("stats().workers[1].handoffs") + stat("stats().workers[2].handoffs")
		local reads = stat("stats().datapath.device.reads")
		io.stderr:write(string.format("\n  [%d of %d device reads handed to the other worker]\n", handoffs, reads))
		assert.is_true(reads > 100 and handoffs * 10 < reads, handoffs .. " of " .. reads)
	end)

	it("keeps a client's stream flowing through its worker when its source port changes", function()
		start()
		local was = real_address("client2")
		local server = srv:spawn({ "iperf3", "-s", "-1", "-B", "10.77.0.1", "--forceflush" })
		assert(server:wait_log("Server listening", 5))
		local stream = cli2:spawn({ "iperf3", "-c", "10.77.0.1", "-t", "4", "-i", "1", "-f", "m" })
		netns.sleep(1.5)
		-- The relay sends on from a new port: a NAT that rebinds, mid-stream.
		relay:signal("HUP")
		assert(relay:wait_log("rebound", 10), relay:output())
		local status = stream:wait(30)
		assert.are.equal(0, status, stream:output())
		-- The stream's last second, well after the float, carried data.
		local last = tonumber(stream:output():match("3%.00%-4%.00%s+sec%s+[%d.]+ %a?Bytes%s+([%d.]+) Mbits/sec"))
		assert.truthy(last and last > 0, stream:output())
		local now = real_address("client2")
		assert.are_not.equal(was, now)
		assert.truthy(now:find("^\"10%.88%.2%.2:%d+\"$"), now)
		-- Its data kept coming to the second worker's socket, from the new port too.
		local before = stat("stats().workers[2].datagrams_in")
		ping(cli2)
		assert.is_true(stat("stats().workers[2].datagrams_in") >= before + 5)
	end)

	-- At least two renegotiations since the count was reneg: each completes once its
	-- handshake has, which runs beside the data.
	local function renegotiated_since(reneg)
		for _ = 1, 100 do
			if stat("stats().renegotiations") >= reneg + 2 then break end
			netns.sleep(0.1)
		end
		local now = stat("stats().renegotiations")
		assert.is_true(now >= reneg + 2, "renegotiations: " .. now .. " from " .. reneg)
	end

	-- Kicked, client 2 leaves its worker: its session ends when the client's exit
	-- notice arrives (or the kick's grace ends).
	local function kick_client2()
		assert.are.equal(1, stat('kick("client2", "spec")'))
		assert(clients[2]:wait_log("Halt command was pushed", 10), clients[2]:output())
		for _ = 1, 100 do
			if stat("stats().workers[2].peers") == 0 then break end
			netns.sleep(0.1)
		end
		assert.are.equal(0, stat("stats().workers[2].peers"))
	end

	-- The VPN address of the client with common name cn, as clients() shows it.
	local function vpn_address(cn)
		return stat(string.format(
			'(function() for _, c in ipairs(clients()) do if c.cn == "%s" then return c.vpn_address end end end)()',
			cn)):gsub('"', "")
	end

	it("passes client_to_client traffic between the workers' clients, renegotiates and kicks", function()
		start("  client_to_client = true,\n  renegotiate = { seconds = 3600, bytes = 2000000 },")
		local addr2 = vpn_address("client2")
		assert.truthy(addr2:match("^10%.77%.0%.%d+$"), addr2)
		local to_main = stat("stats().workers[1].to_main") + stat("stats().workers[2].to_main")
		-- Client 1 (worker 1) to client 2 (worker 2): each packet is read by one worker and
		-- sealed by the other, so it passes through the main thread.
		local ok, out = cli1:sh("ping -c 5 -i 0.2 -W 2 " .. addr2)
		assert(ok, out)
		assert.truthy(out:find("5 received", 1, true), out)
		assert.is_true(stat("stats().workers[1].to_main") + stat("stats().workers[2].to_main") >= to_main + 10)
		-- 12 MB of TCP between them (a size, not a time: as many bytes on a slow machine),
		-- over renegotiations: each client's key is renewed every 2 MB it carries.
		local reneg = stat("stats().renegotiations")
		local server = cli2:spawn({ "iperf3", "-s", "-1", "-B", addr2, "--forceflush" })
		assert(server:wait_log("Server listening", 5))
		ok, out = cli1:sh("iperf3 -c " .. addr2 .. " -n 12M -f m")
		assert(ok, out)
		local mbits = tonumber(out:match("([%d.]+) Mbits/sec%s+receiver"))
		assert.truthy(mbits and mbits > 0, out)
		renegotiated_since(reneg)
		ping(cli1)
		ping(cli2)
		kick_client2()
		assert.are.equal(1, stat("stats().workers[1].peers"))
	end)

	it("judges each worker's clients on that worker: on.flow's verdicts, none through the main thread", function()
		start()
		local to_main = stat("stats().workers[1].to_main") + stat("stats().workers[2].to_main")
		local status, _, err = mv.console(socket, 'server.on.flow = function(flow) return "accept" end')
		assert(status == 0, err)
		ping(cli1)
		ping(cli2)
		-- Each client's ICMP flow was asked about once, from its own worker's filter.
		assert.is_true(stat("stats().flows.asked") >= 2)
		assert.is_true(stat("#flows()") >= 2)
		-- Judged where they arrived: of the 20 packets (and their replies) none had to go to
		-- the main thread for the policy; a device packet that came out of the other
		-- worker's queue may have (as without a policy).
		local handed = stat("stats().workers[1].to_main") + stat("stats().workers[2].to_main") - to_main
		assert.is_true(handed <= 3, handed .. " packets handed to the main thread")
		status, _, err = mv.console(socket,
			'server.on.flow = function(flow) if flow.proto == "icmp" then return "drop" end return "accept" end')
		assert(status == 0, err)
		for _, ns in ipairs({ cli1, cli2 }) do
			local ok = ns:sh("ping -c 2 -i 0.2 -W 1 10.77.0.1")
			assert.is_false(ok, "on.flow's drop holds on both workers")
		end
		assert.is_true(stat("stats().dropped.policy") + stat("stats().dropped.pending") >= 4)
	end)

	it("has one worker for each CPU online when neither the file nor MOONVPN_WORKERS says, one for TAP", function()
		srv = netns.new()
		local cpus = tonumber(select(2, netns.sh("nproc")):match("%d+"))
		for _, case in ipairs({ { "tun", math.min(cpus, 255) }, { "tap", 1 } }) do
			local sock = netns.tmpdir() .. "/console.sock"
			local config = mv.write_config(mv.server_config(string.format(
				'  device = { name = "mvt0", type = "%s" },\n  console = "%s",', case[1], sock)))
			engine = srv:spawn({ "env", "-u", "MOONVPN_WORKERS", mv.bin, config })
			assert(engine:wait_log("engine: moonvpn [%d.]+ started", 10), engine:output())
			socket = sock
			assert.are.equal(case[2], stat("config().workers"), case[1])
			assert.are.equal(case[2] > 1 and case[2] or 1, stat("#stats().workers"), case[1])
			assert.are.equal(0, engine:stop())
			engine = nil
		end
	end)

	it("reads and writes a TCP client's connection on its worker, its handshakes on the main thread", function()
		srv, cli1, cli2 = netns.new(), netns.new(), netns.new()
		netns.veth(srv, "10.88.1.1/24", cli1, "10.88.1.2/24")
		netns.veth(srv, "10.88.2.1/24", cli2, "10.88.2.2/24")
		engine, socket = mv.start_server(srv, '  workers = 2,\n  client_to_client = true,\n'
			.. '  listen = { "udp://0.0.0.0:1194", "tcp://0.0.0.0:443" },\n'
			.. '  renegotiate = { seconds = 3600, bytes = 2000000 },')
		local pki = mv.pki()
		clients = {}
		for i, c in ipairs({ { cli1, "10.88.1.1", "client1" }, { cli2, "10.88.2.1", "client2" } }) do
			clients[i] = c[1]:spawn({ "openvpn", "--config", openvpn.profile(pki, { remote = c[2],
				proto = "tcp-client", port = 443, cert = c[3], wrap = "tls-crypt" }) })
			local ok, out = clients[i]:wait_log("Initialization Sequence Completed", 20)
			assert(ok, out .. "\n--- moonvpn:\n" .. engine:output())
		end
		assert.are.equal(1, stat("stats().workers[1].peers"))
		assert.are.equal(1, stat("stats().workers[2].peers"))
		-- Each client's data is opened by its own worker, which reads its connection.
		local before = { stat("stats().workers[1].data_in"), stat("stats().workers[2].data_in") }
		ping(cli1)
		ping(cli2)
		assert.is_true(stat("stats().workers[1].data_in") >= before[1] + 5)
		assert.is_true(stat("stats().workers[2].data_in") >= before[2] + 5)
		-- 12 MB from one to the other (client_to_client across the workers), over
		-- renegotiations, whose control packets the workers hand to the main thread.
		local reneg = stat("stats().renegotiations")
		local addr2 = vpn_address("client2")
		local server = cli2:spawn({ "iperf3", "-s", "-1", "-B", addr2, "--forceflush" })
		assert(server:wait_log("Server listening", 5))
		local ok, out = cli1:sh("iperf3 -c " .. addr2 .. " -n 12M -f m")
		assert(ok, out)
		renegotiated_since(reneg)
		ping(cli1)
		ping(cli2)
		kick_client2() -- its connection closes on its worker
		ping(cli1)
	end)
end)
