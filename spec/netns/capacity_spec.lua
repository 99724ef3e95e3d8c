-- SPDX-License-Identifier: MIT
-- max_clients: the server's tables are sized from it at start.
--
--   [ mvt-srv: moonvpn, veth 10.88.0.1/24 ] <--veth--> [ mvt-cli: openvpn x3, 10.88.0.2/24 ]
--
-- With max_clients = 2 a third stock client is refused (stats().dropped.full
-- counts it, the log says why) and gets in by itself once a client has
-- left; a reload that changes max_clients is refused with one line; a
-- server with room for 20,000 starts and serves a client, and its memory
-- (VmRSS) is printed next to the default's. #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

local function rss_kib(pid)
	local status = netns.read_file("/proc/" .. pid .. "/status") or ""
	return tonumber(status:match("VmRSS:%s*(%d+)"))
end

describe("#netns moonvpn max_clients", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local srv, cli, socket, engine, config

	local function server_text(max_clients)
		local pki = mv.pki()
		return mv.server_config(string.format([[
  listen = "udp://0.0.0.0:1194",
  device = { name = "mvt0" },
  console = "%s",
  tls = { ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key", tls_crypt = "%s/tc.key" },
  max_clients = %d,
]], socket, pki, pki, pki, pki, max_clients), { tls = false })
	end

	local function start(max_clients)
		srv, cli = netns.new(), netns.new()
		netns.veth(srv, "10.88.0.1/24", cli, "10.88.0.2/24")
		socket = netns.tmpdir() .. "/console.sock"
		config = mv.write_config(server_text(max_clients))
		engine = srv:spawn({ mv.bin, config })
		local ok, out = engine:wait_log("engine: moonvpn [%d.]+ started", 20)
		assert(ok, out)
	end

	local function console(expr)
		local status, out, err = mv.console(socket, expr)
		assert(status == 0, err)
		return out
	end

	-- Polls the console until expr prints want (generous: the machine may be slow).
	local function wait_console(expr, want, seconds)
		local out
		for _ = 1, (seconds or 30) * 10 do
			out = console(expr)
			if out == want then return true end
			netns.sleep(0.1)
		end
		return false, out
	end

	-- A stock client with certificate cert; it says EXIT when stopped, so its slot frees at once.
	local function stock_client(cert)
		local profile = openvpn.profile(mv.pki(), { remote = "10.88.0.1", wrap = "tls-crypt",
			cert = cert, extra = "explicit-exit-notify 1\n" })
		return cli:spawn({ "openvpn", "--config", profile })
	end

	local function completed(client, seconds)
		local ok, out = client:wait_log("Initialization Sequence Completed", seconds or 30)
		assert(ok, "openvpn:\n" .. out .. "\n--- moonvpn:\n" .. engine:output())
	end

	-- Cleans up even when the server failed (its exit status is checked after).
	after_each(function()
		local status = engine and engine:stop() or 0
		engine = nil
		netns.cleanup()
		assert.are.equal(0, status)
	end)

	it("refuses a third client with max_clients = 2, counts it, and lets it in once one leaves", function()
		start(2)
		local a, b = stock_client("client1"), stock_client("client2")
		completed(a)
		completed(b)
		local c = stock_client("client3")
		local ok, out = wait_console("stats().dropped.full > 0", "true\n")
		assert(ok, "dropped.full never moved: " .. tostring(out) .. "\n" .. engine:output())
		assert.truthy(engine:output():find("refused: max_clients (2) clients are connected", 1, true))
		assert.are.equal("2\n", console("#clients()"))
		assert.falsy(c:output():find("Initialization Sequence Completed", 1, true))
		-- A client leaves: the third one, still retrying the same handshake, gets its slot.
		local left = os.time()
		a:stop()
		completed(c, 90)
		print(string.format("\n  the refused client was in %d s after a slot freed", os.time() - left))
		assert.are.equal("2\n", console("#clients()"))
		local ids = console([[
do
local t = {}
for _, cl in ipairs(clients()) do t[#t + 1] = cl.peer_id end
table.sort(t)
return table.concat(t, " ")
end]])
		assert.are.equal('"0 1"\n', ids) -- peer-ids stay below max_clients
		b:stop()
		c:stop()
	end)

	it("refuses a reload that changes max_clients, with one line, and keeps serving", function()
		start(2)
		local a = stock_client("client1")
		completed(a)
		netns.write_file(config, server_text(3))
		engine:signal("HUP")
		local ok, out = engine:wait_log("reload failed[^\n]*`max_clients` changed from 2 to 3; this needs a restart", 20)
		assert(ok, out)
		assert.are.equal("1\n", console("#clients()"))
		-- The same value again reloads.
		netns.write_file(config, server_text(2))
		engine:signal("HUP")
		ok, out = engine:wait_log("config: reloaded", 20)
		assert(ok, out)
		a:stop()
	end)

	it("starts with max_clients = 20000 and serves a client (memory printed)", function()
		start(1024)
		local default_kib = rss_kib(engine.pid)
		assert.are.equal(0, engine:stop())
		netns.cleanup()
		start(20000)
		local big_kib = rss_kib(engine.pid)
		local a = stock_client("client1")
		completed(a)
		assert.are.equal("1\n", console("#clients()"))
		assert.are.equal("20000\n", console("config().max_clients"))
		print(string.format("\n  idle server VmRSS: %d KiB with max_clients = 1024, %d KiB with 20000",
			default_kib, big_kib))
		a:stop()
	end)
end)
