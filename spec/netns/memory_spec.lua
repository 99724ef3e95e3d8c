-- SPDX-License-Identifier: MIT
-- Memory per connected idle client (issue 15 item 2): the server's resident
-- set with N idle clients of the load generator, less what it had with
-- none, over N. The figure is printed; the bound is loose on purpose
-- (allocator arenas and page granularity blur a resident set), the exact
-- per-session figure is test_session's.
--
--   [ mvt-srv: server, 10.88.0.1/24 ] <--veth--> [ mvt-lg: loadgen, 10.88.0.2-9/24 ]
--
-- MVT_MEMORY_CLIENTS sets N (default 500); MOONVPN_LOADGEN the load
-- generator (default build/tools/loadgen). #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"

local LOADGEN = os.getenv("MOONVPN_LOADGEN") or "build/tools/loadgen"
local CLIENTS = tonumber(os.getenv("MVT_MEMORY_CLIENTS") or "500")
local SOURCES = 8
local RATE = 20
-- Resident bytes per idle client, at most: 124 KiB before the reliability
-- buffers and the SSL object were freed once quiet, some 16 KiB after, 15.0
-- KiB once the handshakes' small objects had a heap apart (core/sys/slab.h);
-- the margin is for allocator arenas, not for an SSL object (20 KB) kept again.
local RSS_PER_CLIENT_MAX = 24 * 1024

local function resident_kib(pid)
	local status = netns.read_file("/proc/" .. pid .. "/status") or ""
	return tonumber(status:match("VmRSS:%s*(%d+)"))
end

describe("#netns memory", function()
	local unfit = netns.load_spec_unfit()
	if unfit then
		pending(unfit)
		return
	end
	if not io.open(LOADGEN) then
		pending("needs the load generator: make build/tools/loadgen")
		return
	end
	local server

	after_each(function()
		if server then server:stop() end
		server = nil
		netns.cleanup()
	end)

	it("holds each connected idle client in a few KiB of resident memory", function()
		local srv, lg = netns.new(), netns.new()
		local _, lg_if = netns.veth(srv, "10.88.0.1/24", lg, "10.88.0.2/24")
		local sources = { "10.88.0.2" }
		for i = 2, SOURCES do
			assert(lg:sh(string.format("ip addr add 10.88.0.%d/24 dev %s", i + 1, lg_if)))
			sources[i] = "10.88.0." .. (i + 1)
		end
		local pki = mv.pki()
		local socket = netns.tmpdir() .. "/console.sock"
		server = srv:spawn({ mv.bin, mv.write_config(mv.server_config(string.format([[
  listen = "udp://0.0.0.0:1194",
  device = { name = "mvt0" },
  console = "%s",
  network = "10.77.0.0/16",
]], socket))) })
		assert(server:wait_log("engine: moonvpn [%d.]+ started", 10))
		local function clients()
			local status, out = mv.console(socket, "return #clients()")
			return status == 0 and tonumber(out) or -1
		end
		netns.sleep(1)
		local before = resident_kib(server.pid)
		local p = lg:spawn({ LOADGEN, "--remote", "10.88.0.1:1194", "--ca", pki .. "/ca.crt",
			"--cert", pki .. "/client1.crt", "--key", pki .. "/client1.key",
			"--bind", table.concat(sources, ","), "--clients", tostring(CLIENTS),
			"--rate", tostring(RATE), "--duration", "900", "--report", "10" })
		local n = 0
		for _ = 1, 600 do
			n = clients()
			if n == CLIENTS then break end
			netns.sleep(1)
		end
		assert.are.equal(CLIENTS, n, "server clients(); loadgen:\n" .. p:output())
		-- Quiet: every handshake's last acks are through.
		netns.sleep(10)
		local after = resident_kib(server.pid)
		local per_client = (after - before) * 1024 / CLIENTS
		print(string.format("\n  [memory: server RSS %d KiB idle, %d KiB with %d idle clients: "
			.. "%.0f bytes (%.1f KiB) per client]", before, after, CLIENTS, per_client,
			per_client / 1024))
		assert.is_true(per_client <= RSS_PER_CLIENT_MAX, string.format(
			"%.0f bytes per idle client, at most %d", per_client, RSS_PER_CLIENT_MAX))
		p:stop()
	end)
end)
