-- SPDX-License-Identifier: MIT
-- Reload as a diff (issue 15 item 6): every field of a server's configuration
-- either takes effect on reload or the reload is refused, naming the field and
-- saying it needs a restart, while the running configuration goes on serving.
--
--   [ mvt-srv: moonvpn, mvt0 ] --veth 10.88.N.1 / 10.88.N.2-- [ mvt-cliN: openvpn ]   (N = 1, 2)
--
-- moonvpn.config's RELOAD table says which of the two each field gets; the
-- first test changes every field in it, one reload each; the second watches
-- the live ones that reach connected clients. #netns: needs root.
local config = require "moonvpn.config"
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

describe("#netns reload", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local pki = mv.pki()
	local dir, path, socket, engine, srv
	local clients = {}

	-- The running configuration's fields, one line each; a case replaces or adds one.
	local function base()
		return {
			network = '"10.77.0.0/24"',
			device = '{ name = "mvt0" }',
			console = string.format("%q", dir .. "/console.sock"),
			tls = string.format('{ ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key", '
				.. 'tls_crypt = "%s/tc.key" }', pki, pki, pki, pki),
		}
	end

	local function write(fields)
		local names = {}
		for name in pairs(fields) do names[#names + 1] = name end
		table.sort(names)
		local lines = { 'local vpn = require "moonvpn"', "vpn.server {" }
		for _, name in ipairs(names) do lines[#lines + 1] = "  " .. name .. " = " .. fields[name] .. "," end
		lines[#lines + 1] = "}\n"
		netns.write_file(path, table.concat(lines, "\n"))
	end

	local function start(fields)
		srv = netns.new()
		dir = netns.tmpdir()
		path = dir .. "/vpn.lua"
		local f = base()
		for k, v in pairs(fields or {}) do f[k] = v end
		write(f)
		socket = dir .. "/console.sock"
		engine = srv:spawn({ mv.bin, path })
		local ok, out = engine:wait_log("engine: moonvpn [%d.]+ started", 10)
		assert(ok, out)
	end

	local function console(chunk)
		local status, out, err = mv.console(socket, chunk)
		assert(status == 0, chunk .. ": " .. tostring(err) .. "\n--- moonvpn:\n" .. engine:output())
		return out
	end

	-- reload() from the console: true, or false and its one-line message.
	local function reload()
		local status, out, err = mv.console(socket, "reload()")
		if status == 0 then
			assert.truthy(out:find("reloaded", 1, true), out)
			return true
		end
		assert.are.equal(1, status, err)
		-- After the console's "-e chunk 1 line 1: ..." prefix: the engine's line.
		return false, (err:gsub("\n$", ""):gsub("^moonvpn console: .-console%.lua:%d+: ", ""))
	end

	after_each(function()
		for _, c in ipairs(clients) do c:sh("true") end
		if engine then assert.are.equal(0, engine:stop()) end
		engine, clients = nil, {}
		netns.cleanup()
	end)

	-- One new value for each entry of config.RELOAD.server (a record's entry: the record).
	-- D is the directory of the configuration, filled in when the case runs.
	local PKI = string.format('ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key"', pki, pki, pki)
	local cases = {
		listen = { listen = '"udp://0.0.0.0:1195"' },
		public = { public = '"vpn.example.com"' },
		["device.type"] = { device = '{ name = "mvt0", type = "tap" }' },
		["device.name"] = { device = '{ name = "mvt1" }' },
		["device.mtu"] = { device = '{ name = "mvt0", mtu = 1400 }' },
		network = { network = '"10.78.0.0/24"' },
		network6 = { network6 = '"fd00:77::/64"' },
		routes = { routes = '{ "10.99.0.0/16" }' },
		client_to_client = { client_to_client = "true" },
		max_clients = { max_clients = "2048" },
		-- Not the running value, which MOONVPN_WORKERS may have set (make test's sanitizer pass).
		workers = { workers = os.getenv("MOONVPN_WORKERS") == "3" and "2" or "3" },
		tls = { tls = "{ " .. PKI .. ', tls_auth = { key = "' .. pki .. '/ta.key", direction = 0 } }' },
		ciphers = { ciphers = '{ "AES-128-GCM" }' },
		keepalive = { keepalive = "{ interval = 5, timeout = 30 }" },
		renegotiate = { renegotiate = "{ seconds = 600 }" },
		["offload.tun"] = { offload = "{ tun = false }" },
		["offload.uso"] = { offload = "{ uso = false }" },
		["offload.coalesce"] = { offload = "{ coalesce = false }" },
		["offload.gso"] = { offload = "{ gso = false }" },
		["offload.gro"] = { offload = "{ gro = false }" },
		mssfix = { mssfix = "1400" },
		compression = { compression = '"refuse"' },
		push = { push = '{ dns = { "10.77.0.53" } }' },
		auth = { auth = "{ token = { lifetime = 3600 } }" },
		hooks = { hooks = "{ timeout = 5 }" },
		["policy.default"] = { policy = '{ default = "reject" }' },
		["policy.rules"] = { policy = '{ rules = { { verdict = "drop", dst = "10.99.0.0/16" } } }' },
		["policy.flows"] = { policy = "{ flows = 4096 }" },
		["policy.flow_idle"] = { policy = "{ flow_idle = 30 }" },
		["policy.pending"] = { policy = "{ pending = 16 }" },
		["policy.fallback"] = { policy = '{ fallback = "reject" }' },
		console = { console = '"D/other.sock"' },
		management = { management = '"127.0.0.1:7505"' },
		management_password = { management_password = '"D/mgmt.pw"' },
		management_client_auth = { management = '"127.0.0.1:7505"', management_client_auth = "true" },
		status = { status = '{ file = "D/status.log" }' },
		metrics = { metrics = '"127.0.0.1:9176"' },
		log_level = { log_level = '"debug"' },
		user = { user = '"nobody"' },
		group = { user = '"nobody"', group = '"nogroup"' },
	}

	it("changes every field on reload, or refuses the reload naming it and keeps serving", function()
		start()
		netns.write_file(dir .. "/mgmt.pw", "secret\n")
		local paths = {}
		for p in pairs(config.RELOAD.server) do
			assert(cases[p], "reload_spec has no case for " .. p .. ": add one")
			paths[#paths + 1] = p
		end
		table.sort(paths)
		local live, refused = 0, 0
		for _, p in ipairs(paths) do
			local f = base()
			for k, v in pairs(cases[p]) do f[k] = v:gsub("D/", dir .. "/") end
			local probe = "config()." .. p
			local before = console(probe)
			write(f)
			local ok, err = reload()
			if config.RELOAD.server[p] == "live" then
				assert(ok, p .. ": " .. tostring(err))
				socket = f.console:match('^"(.*)"$') -- the console may have moved
				local after = console(probe)
				assert.are_not.equal(before, after, p .. " is live, but config() still shows " .. before)
				live = live + 1
			else
				assert.is_false(ok, p .. " needs a restart, but the reload went through")
				-- One line, naming the field and the restart (user and group: privdrop.c's own words).
				assert.falsy(err:find("\n", 1, true), err)
				local privdrop = (p == "user" or p == "group") and err:find("^user[/:]")
				assert(err:find("reload refused: `" .. p .. "` changed", 1, true) or privdrop, p .. ": " .. err)
				assert.truthy(err:find("restart", 1, true), err)
				assert.are.equal(before, console(probe))
				refused = refused + 1
			end
			-- Whichever happened, the server answers and its console works.
			assert.are.equal("0\n", console("#clients()"))
		end
		io.stderr:write(string.format("\n  [%d fields live on reload, %d refused as needing a restart]\n", live, refused))
		assert.truthy(engine:output():find("reload failed, keeping the running configuration: reload refused: "
			.. "`device.type` changed from tun to tap; this needs a restart", 1, true), engine:output())
	end)

	it("opens an encrypted server key with tls.key_password on reload; without it, refuses and keeps serving", function()
		start()
		local key = dir .. "/server.enc.key"
		assert(netns.sh(string.format("openssl pkey -in %s/server.key -aes256 -passout pass:secret -out %s",
			pki, key)))
		netns.write_file(dir .. "/pass.txt", "secret\n")
		local function apply(password)
			local f = base()
			f.tls = string.format('{ ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s", tls_crypt = "%s/tc.key"%s }',
				pki, pki, key, pki, password and ", key_password = " .. password or "")
			write(f)
			return reload()
		end
		local ok, err = apply(nil)
		assert.is_false(ok)
		assert.truthy(err:find("give tls.key_password (the password or { file = PATH }): a server never asks",
			1, true), err)
		assert.are.equal("0\n", console("#clients()"))
		assert(apply('"secret"'))
		assert.truthy(console("config().tls.key"):find("server.enc.key", 1, true))
		assert(apply(string.format("{ file = %q }", dir .. "/pass.txt")))
		ok, err = apply('"wrong"')
		assert.is_false(ok)
		assert.truthy(err:find("is wrong", 1, true), err)
	end)

	it("gives connected clients the new keepalive, renegotiation, client_to_client and flow table; refuses a new device type while serving them", function()
		local c2c = { client_to_client = "false", keepalive = "{ interval = 1, timeout = 3 }" }
		start(c2c)
		assert(srv:sh("sysctl -qw net.ipv4.ip_forward=0")) -- only the server can pass packets between clients
		local procs = {}
		for i = 1, 2 do
			clients[i] = netns.new()
			netns.veth(srv, "10.88." .. i .. ".1/24", clients[i], "10.88." .. i .. ".2/24")
			procs[i] = clients[i]:spawn({ "openvpn", "--config", openvpn.profile(pki,
				{ remote = "10.88." .. i .. ".1", wrap = "tls-crypt", cert = "client" .. i }) })
		end
		for i = 1, 2 do
			local ok, out = procs[i]:wait_log("Initialization Sequence Completed", 30)
			assert(ok, out .. "\n--- moonvpn:\n" .. engine:output())
		end
		local function ping()
			return (clients[1]:sh("ping -c 2 -i 0.3 -W 2 10.77.0.3"))
		end
		local function apply(fields)
			local f = base()
			for k, v in pairs(c2c) do f[k] = v end
			for k, v in pairs(fields) do f[k] = v end
			write(f)
			return reload()
		end
		assert.is_false(ping())

		-- client_to_client, at once, both ways.
		c2c.client_to_client = "true"
		assert(apply {})
		assert.is_true(ping(), engine:output())
		c2c.client_to_client = "false"
		assert(apply {})
		assert.is_false(ping())

		-- Fields that need a restart: refused, and the clients are served as before.
		local ok, err = apply { device = '{ name = "mvt0", type = "tap" }' }
		assert.is_false(ok)
		assert.are.equal("reload refused: `device.type` changed from tun to tap; this needs a restart "
			.. "(stop moonvpn and start it again)", err)
		ok, err = apply { offload = "{ gso = false }" }
		assert.is_false(ok)
		assert.are.equal("reload refused: `offload.gso` changed from true to false; this needs a restart "
			.. "(stop moonvpn and start it again)", err)
		assert.are.equal('"tun"\n', console("config().device.type"))
		assert.are.equal("true\n", console("config().offload.gso"))
		assert(clients[1]:sh("ping -c 1 -W 2 10.77.0.1"), "the old configuration serves")

		-- A reload that fails after it moved to a new device (here: its new listen address is
		-- no host's) comes back to the old device, which carries the clients' packets again.
		ok, err = apply { device = '{ name = "mvt9" }', listen = '"udp://10.99.99.99:1194"' }
		assert.is_false(ok)
		assert.truthy(err:find("cannot listen on 10.99.99.99:1194", 1, true), err)
		assert(srv:sh("ip link show mvt0"), "the old device is back")
		assert.is_false((srv:sh("ip link show mvt9")))
		assert(clients[1]:sh("ping -c 2 -i 0.3 -W 2 10.77.0.1"), engine:output())

		-- The flow table's size: the console's figure follows it, both ways.
		assert.are.equal("98304\n", console("stats().flows.capacity"))
		assert(apply { policy = "{ flows = 4096 }" })
		assert.are.equal("6144\n", console("stats().flows.capacity"))
		assert(apply {})
		assert.are.equal("98304\n", console("stats().flows.capacity"))

		-- Renegotiation: the connected clients' keys are older than the new limit.
		assert.are.equal("0\n", console("stats().renegotiations"))
		c2c.renegotiate = "{ seconds = 10 }"
		assert(apply {})
		local deadline = os.time() + 60
		repeat
			netns.sleep(0.5)
			local n = tonumber(console("stats().renegotiations"))
		until n >= 2 or os.time() > deadline
		assert.truthy(tonumber(console("stats().renegotiations")) >= 2, engine:output())
		c2c.renegotiate = nil
		assert(apply {})

		-- Keepalive: pushed to a client that connects now; the server's own timer for
		-- connected ones, where it asks no more of them than their push did: a client
		-- that stops answering ends after twice the new, longer, timeout.
		c2c.keepalive = "{ interval = 1, timeout = 4 }"
		assert(apply {})
		procs[2]:stop()
		procs[2] = clients[2]:spawn({ "openvpn", "--config", openvpn.profile(pki,
			{ remote = "10.88.2.1", wrap = "tls-crypt", cert = "client2" }) })
		local done, out = procs[2]:wait_log("Initialization Sequence Completed", 30)
		assert(done, out)
		assert.truthy(out:find("ping 1,ping%-restart 4"), out)
		procs[1]:signal("STOP")
		done, out = engine:wait_log("%(client1%): session ended: ping%-restart: nothing received for 8 seconds", 60)
		procs[1]:signal("CONT")
		assert(done, out)
		-- A shorter timeout: client2's new session, pushed ping-restart 4, keeps the server's 8 s.
		local who
		for addr in engine:output():gmatch("(10%.88%.2%.2:%d+) %(client2%): connected") do who = addr end
		c2c.keepalive = "{ interval = 1, timeout = 3 }"
		assert(apply {})
		procs[2]:signal("STOP")
		local ended = who:gsub("%p", "%%%0") .. " %(client2%): session ended: ping%-restart: nothing received for (%d+) seconds"
		done, out = engine:wait_log(ended, 60)
		procs[2]:signal("CONT")
		assert(done, out)
		assert.are.equal("8", out:match(ended))
	end)
end)
