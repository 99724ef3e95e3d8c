-- SPDX-License-Identifier: MIT
-- The load generator (build/tools/loadgen): many of the engine's own client
-- sessions in one process, from several source addresses, against a moonvpn
-- server and against a stock OpenVPN 2.6 server:
--
--   [ mvt-srv: server, veth 10.88.0.1/24 ] <--veth--> [ mvt-lg: loadgen, 10.88.0.2-9/24 ]
--
-- Counts only, never rates: every client connects, none fails, and the
-- server counts as many clients as the load generator. #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

-- MVT_LOADGEN: another build of it (one with the sanitizers, say).
local LOADGEN = os.getenv("MVT_LOADGEN") or "build/tools/loadgen"
local SOURCES = 8 -- source addresses 10.88.0.2 .. 10.88.0.9
local CLIENTS = 200
-- Slow enough that a source never has more handshakes in flight than the server's
-- per-source limit on a busy machine (200 clients take 20 s).
local RATE = 10

local function source_list()
	local list = {}
	for i = 1, SOURCES do list[i] = "10.88.0." .. (i + 1) end
	return table.concat(list, ",")
end

--- The summary line's fields as numbers (started, connected, failed, ...).
local function summary(out)
	local line = out:match("loadgen: (started=[^\n]*)")
	assert(line, "no summary line in:\n" .. out)
	local t = {}
	for k, v in line:gmatch("([%w_]+)=([%d.]+)") do t[k] = tonumber(v) end
	return t
end

describe("#netns loadgen", function()
	local unfit = netns.load_spec_unfit()
	if unfit then
		pending(unfit)
		return
	end
	local srv, lg, server, socket

	local function namespaces()
		srv, lg = netns.new(), netns.new()
		local _, lg_if = netns.veth(srv, "10.88.0.1/24", lg, "10.88.0.2/24")
		for i = 2, SOURCES do
			assert(lg:sh(string.format("ip addr add 10.88.0.%d/24 dev %s", i + 1, lg_if)))
		end
	end

	-- hooks: Lua after the server's table, where the server is `office`.
	local function start_moonvpn(tls_extra, extra, hooks)
		local pki = mv.pki()
		socket = netns.tmpdir() .. "/console.sock"
		local text = mv.server_config(string.format([[
  listen = "udp://0.0.0.0:1194",
  device = { name = "mvt0" },
  console = "%s",
  tls = { ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key"%s },
%s]], socket, pki, pki, pki, tls_extra or "", extra or ""), { tls = false })
		text = text:gsub("vpn%.server {", "local office = vpn.server {", 1) .. (hooks or "")
		server = srv:spawn({ mv.bin, mv.write_config(text) })
		local ok, out = server:wait_log("engine: moonvpn [%d.]+ started", 10)
		assert(ok, out)
	end

	local function console(expr)
		local status, out, err = mv.console(socket, expr)
		assert(status == 0, err)
		return out
	end

	--- Runs loadgen in its namespace with args; returns the process.
	local function loadgen(args)
		local argv = { LOADGEN, "--remote", "10.88.0.1:1194", "--ca", mv.pki() .. "/ca.crt",
			"--bind", source_list(), "--report", "5" }
		for _, a in ipairs(args) do argv[#argv + 1] = a end
		return lg:spawn(argv)
	end

	--- Waits for loadgen to end (it stops once all are connected, or at its timeout).
	local function finish(p, timeout)
		local status = p:wait(timeout)
		local out = p:output()
		assert(status ~= nil, "loadgen did not end:\n" .. out)
		return status, out
	end

	after_each(function()
		if server then assert.are.equal(0, server:stop()) end
		server = nil
		netns.cleanup()
	end)

	it("connects 200 clients from 8 source addresses with certificates, and the server counts them", function()
		namespaces()
		start_moonvpn("", '  network = "10.77.0.0/16",\n')
		local pki = mv.pki()
		-- --duration: the clients stay while the server's count is read.
		local p = loadgen({ "--clients", tostring(CLIENTS), "--rate", tostring(RATE),
			"--cert", pki .. "/client1.crt", "--key", pki .. "/client1.key",
			"--data", "--data-interval", "2", "--duration", "600" })
		local n
		for _ = 1, 300 do
			n = tonumber(console("return #clients()"))
			if n == CLIENTS then break end
			netns.sleep(1)
		end
		assert.are.equal(CLIENTS, n, "server clients(); loadgen:\n" .. p:output())
		-- The pings through the tunnel come back (every client pings every 2 s).
		local replies = 0
		for _ = 1, 60 do
			local last = p:output():match(".*data_in=(%d+)")
			replies = tonumber(last) or 0
			if replies >= CLIENTS then break end
			netns.sleep(1)
		end
		assert.is_true(replies >= CLIENTS, "ping replies: " .. replies)
		-- The clients come from all 8 source addresses, from as many source ports.
		assert.are.equal(string.format("%d\t%d\n", SOURCES, CLIENTS), console(
			"local ips, eps, n, m = {}, {}, 0, 0; for _, c in ipairs(clients()) do "
			.. "local a = c.real_address:match('^[^:]+'); if not ips[a] then ips[a] = true; n = n + 1 end "
			.. "if not eps[c.real_address] then eps[c.real_address] = true; m = m + 1 end end; return n, m"))
		p:signal("TERM")
		local status, out = finish(p, 60)
		local s = summary(out)
		assert.are.equal(CLIENTS, s.started, out)
		assert.are.equal(CLIENTS, s.connected, out)
		assert.are.equal(0, s.failed, out)
		assert.are.equal(0, s.dropped, out)
		assert.are.equal(0, status, out)
	end)

	it("connects clients with tls-crypt and a password only, and a wrong password fails", function()
		namespaces()
		local pki = mv.pki()
		start_moonvpn(string.format(', tls_crypt = "%s/tc.key"', pki), '  auth = { certificate = "none" },\n', [[
function office.on.auth(client, username, password)
  if username == "load" and password == "s3cret" then return true end
  return nil, "wrong username or password"
end
]])
		local p = loadgen({ "--clients", "50", "--rate", tostring(RATE), "--tls-crypt", pki .. "/tc.key",
			"--auth-user-pass", "load:s3cret", "--timeout", "240" })
		local status, out = finish(p, 300)
		local s = summary(out)
		assert.are.same({ 50, 50, 0, 0 }, { s.started, s.connected, s.failed, s.dropped }, out)
		assert.are.equal(0, status, out)
		-- The password is what lets them in: a wrong one is refused.
		p = loadgen({ "--clients", "3", "--rate", "10", "--tls-crypt", pki .. "/tc.key",
			"--auth-user-pass", "load:guess", "--timeout", "10" })
		status, out = finish(p, 60)
		s = summary(out)
		assert.are.equal(1, status, out)
		assert.are.equal(0, s.connected, out)
		assert.is_true(s.failed >= 3, out)
		assert.matches("wrong username or password", out, 1, true)
	end)

	it("connects clients with tls-auth", function()
		namespaces()
		local pki = mv.pki()
		start_moonvpn(string.format(', tls_auth = { key = "%s/ta.key", direction = 0 }', pki))
		local p = loadgen({ "--clients", "20", "--rate", tostring(RATE), "--tls-auth", pki .. "/ta.key:1",
			"--cert", pki .. "/client1.crt", "--key", pki .. "/client1.key", "--timeout", "120" })
		local status, out = finish(p, 180)
		local s = summary(out)
		assert.are.same({ 20, 20, 0, 0 }, { s.started, s.connected, s.failed, s.dropped }, out)
		assert.are.equal(0, status, out)
	end)

	it("connects 200 clients to a stock OpenVPN 2.6 server", function()
		namespaces()
		local pki = mv.pki()
		local config = openvpn.server(pki, { listen = "10.88.0.1", wrap = "tls-crypt",
			extra = "duplicate-cn\nkeepalive 10 60\nmax-clients 1000\n" })
		server = srv:spawn({ "openvpn", "--config", config })
		local ok, out = server:wait_log("Initialization Sequence Completed", 20)
		assert(ok, out)
		local p = loadgen({ "--clients", tostring(CLIENTS), "--rate", tostring(RATE),
			"--cert", pki .. "/client1.crt", "--key", pki .. "/client1.key",
			"--tls-crypt", pki .. "/tc.key", "--data", "--timeout", "300" })
		local status
		status, out = finish(p, 400)
		local s = summary(out)
		assert.are.same({ CLIENTS, CLIENTS, 0, 0 }, { s.started, s.connected, s.failed, s.dropped },
			out .. "\n--- openvpn:\n" .. server:output():sub(-3000))
		assert.are.equal(0, status, out)
	end)
end)
