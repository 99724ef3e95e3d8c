-- SPDX-License-Identifier: MIT
-- The engine in a network namespace of its own:
--
--   [ mvt-ns: moonvpn -> mvt0 (tun, 10.77.0.1/24, fd00:77::1/64, routes) ]
--
-- The device, its addresses, MTU and routes are visible with `ip` while
-- moonvpn runs and gone after it exits; SIGHUP reloads; errors are one line.
-- #netns: needs root.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"

local function server(extra)
	return mv.server_config(extra)
end

local function start(ns, text, args)
	local path = mv.write_config(text)
	local argv = { mv.bin }
	for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
	argv[#argv + 1] = path
	local p = ns:spawn(argv)
	return p, path
end

local function started(p)
	local ok, out = p:wait_log("engine: moonvpn [%d.]+ started", 10)
	assert(ok, "moonvpn did not start:\n" .. out)
end

local function ip(ns, cmd)
	local ok, out = ns:sh("ip " .. cmd)
	assert(ok, out)
	return out
end

local TUN = [[
  device = { type = "tun", name = "mvt0", mtu = 1400 },
  network6 = "fd00:77::/64",
  routes = { "10.99.0.0/16", "fd00:99::/64" },
]]

describe("#netns moonvpn engine", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local ns
	before_each(function() ns = netns.new() end)
	after_each(netns.cleanup)

	it("creates the tun device with MTU, addresses and routes, and removes them on SIGTERM", function()
		local p = start(ns, server(TUN))
		started(p)
		local link = ip(ns, "link show dev mvt0")
		assert.truthy(link:find("mtu 1400", 1, true))
		assert.truthy(link:find("UP", 1, true))
		local addr = ip(ns, "addr show dev mvt0")
		assert.truthy(addr:find("inet 10.77.0.1/24", 1, true))
		assert.truthy(addr:find("inet6 fd00:77::1/64", 1, true))
		assert.truthy(ip(ns, "route"):find("10.99.0.0/16 dev mvt0", 1, true))
		assert.truthy(ip(ns, "-6 route"):find("fd00:99::/64 dev mvt0", 1, true))

		assert.are.equal(0, p:stop("TERM"))
		assert.truthy(p:output():find("received SIGTERM, shutting down", 1, true))
		assert.falsy(ns:sh("ip link show dev mvt0"))
		assert.falsy(ip(ns, "route"):find("10.99.0.0", 1, true))
		assert.falsy(ip(ns, "-6 route"):find("fd00:99::", 1, true))
	end)

	it("exits cleanly on SIGINT too", function()
		local p = start(ns, server(TUN))
		started(p)
		assert.are.equal(0, p:stop("INT"))
		assert.falsy(ns:sh("ip link show dev mvt0"))
	end)

	it("creates a tap device with a kernel-chosen name", function()
		local p = start(ns, server('  device = { type = "tap" },'))
		started(p)
		local out = p:output()
		local name = out:match("created tap device (%S+),")
		assert.truthy(name, out)
		local link = ip(ns, "-d link show dev " .. name)
		assert.truthy(link:find("link/ether", 1, true))
		assert.truthy(link:find("tun type tap", 1, true))
		assert.truthy(ip(ns, "addr show dev " .. name):find("inet 10.77.0.1/24", 1, true))
		assert.are.equal(0, p:stop())
		assert.falsy(ns:sh("ip link show dev " .. name))
	end)

	it("refuses a device name that is taken, in one line, leaving nothing behind", function()
		assert(ns:sh("ip link add mvt0 type veth peer name mvt0peer"))
		local p = start(ns, server(TUN))
		assert.are.equal(1, p:wait(10))
		local out = p:output()
		local errors = {}
		for line in out:gmatch("[^\n]+") do
			if line:find(" error ") then errors[#errors + 1] = line end
		end
		assert.are.equal(1, #errors, out)
		assert.truthy(errors[1]:find('device "mvt0"', 1, true), out)
		assert.falsy(ip(ns, "route"):find("10.99.0.0", 1, true))
		assert.truthy(ip(ns, "-d link show dev mvt0"):find("veth", 1, true))
	end)

	it("explains that creating a device needs CAP_NET_ADMIN", function()
		-- A PKI the unprivileged user may read, so that the device is what fails.
		local dir = netns.tmpdir()
		assert(netns.sh("cp " .. mv.pki() .. "/*.crt " .. mv.pki() .. "/*.key " .. dir ..
			" && chmod 644 " .. dir .. "/*"))
		local path = mv.write_config(mv.server_config(TUN .. string.format(
			'  tls = { ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key" },',
			dir, dir, dir), { tls = false }))
		local p = ns:spawn({ "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			"--inh-caps=-all", "--bounding-set=-all", mv.bin, path })
		assert.are.equal(1, p:wait(10))
		assert.truthy(p:output():find("CAP_NET_ADMIN", 1, true), p:output())
		assert.falsy(ns:sh("ip link show dev mvt0"))
	end)

	it("a config error at start is one line and exit status 1", function()
		local p = start(ns, server('  device = { mtu = 100 },'))
		assert.are.equal(1, p:wait(10))
		assert.truthy(p:output():find("error config: .-vpn.lua:5: server.device.mtu: expected an integer from 576 to 65535, got number 100"),
			p:output())
	end)

	for _, case in ipairs {
		{ "_G.os.exit(0)", "os.exit is disabled in moonvpn: it would end the engine and every tunnel; raise an error to refuse a configuration" },
		{ 'require("os").exit(0)', "os.exit is disabled in moonvpn" },
		{ "package.loaded.os.exit(0)", "os.exit is disabled in moonvpn" },
		{ 'os.execute("sleep 3")', "os.execute is disabled in moonvpn: it would block every client while the program runs; run programs with vpn.exec" },
		{ 'io.popen("sleep 3")', "io.popen is disabled in moonvpn: it would block every client while the program runs; run programs with vpn.exec" },
	} do
		it("refuses a configuration that calls " .. case[1] .. ": one error line, exit status 1", function()
			local p = start(ns, server(TUN) .. case[1] .. "\n")
			assert.are.equal(1, p:wait(10), p:output())
			local out = p:output()
			assert.truthy(out:find("error config: [^\n]*vpn.lua:%d+: " .. case[2]:gsub("%p", "%%%0")), out)
			assert.falsy(out:find("started", 1, true), out)
			assert.falsy(ns:sh("ip link show dev mvt0"))
		end)
	end

	it("reloads on SIGHUP: new MTU, addresses and routes apply to the running device", function()
		local p, path = start(ns, server(TUN))
		started(p)
		netns.write_file(path, server([[
  device = { type = "tun", name = "mvt0", mtu = 1300 },
  routes = { "10.98.0.0/16" },
]]))
		p:signal("HUP")
		assert(p:wait_log("config: reloaded", 10))
		assert.truthy(ip(ns, "link show dev mvt0"):find("mtu 1300", 1, true))
		local routes = ip(ns, "route")
		assert.truthy(routes:find("10.98.0.0/16 dev mvt0", 1, true))
		assert.falsy(routes:find("10.99.0.0", 1, true))
		assert.falsy(ip(ns, "addr show dev mvt0"):find("fd00:77::1", 1, true))
		assert.are.equal(0, p:stop())
	end)

	it("keeps the running configuration when a reload does not validate, and says why", function()
		local p, path = start(ns, server(TUN))
		started(p)
		netns.write_file(path, server('  device = { name = "mvt0", mtu = 1400 },\n  netwrk6 = "x",'))
		p:signal("HUP")
		local ok, out = p:wait_log("reload failed", 10)
		assert(ok, out)
		assert.truthy(out:find('keeping the running configuration: .-vpn.lua:6: server.netwrk6: unknown key %(did you mean "network6"%?%)'), out)
		assert.truthy(ip(ns, "link show dev mvt0"):find("mtu 1400", 1, true))
		assert.truthy(ip(ns, "route"):find("10.99.0.0/16 dev mvt0", 1, true))
		assert.are.equal(0, p:stop())
	end)

	it("reloads a renamed device and a moved console: new ones first, old ones gone", function()
		local dir = netns.tmpdir()
		local p, path = start(ns, server(TUN .. '  console = "' .. dir .. '/a.sock",'))
		started(p)
		netns.write_file(path, server([[
  device = { type = "tun", name = "mvt1", mtu = 1400 },
  routes = { "10.99.0.0/16" },
  console = "]] .. dir .. [[/b.sock",
]]))
		p:signal("HUP")
		assert(p:wait_log("config: reloaded", 10))
		assert.falsy(ns:sh("ip link show dev mvt0"))
		assert.truthy(ip(ns, "addr show dev mvt1"):find("inet 10.77.0.1/24", 1, true))
		assert.truthy(ip(ns, "route"):find("10.99.0.0/16 dev mvt1", 1, true))
		assert.is_nil(netns.read_file(dir .. "/a.sock"))
		assert.are.equal(0, (mv.console(dir .. "/b.sock", "1")))
		assert.are.equal(0, p:stop())
		assert.is_nil(netns.read_file(dir .. "/b.sock"))
	end)

	it("rolls back when a validated reload cannot be applied", function()
		local p, path = start(ns, server(TUN))
		started(p)
		-- Someone else owns this route already: the new config validates but cannot apply.
		assert(ns:sh("ip link add mvtx type veth peer name mvty && ip link set mvtx up && " ..
			"ip route add 10.55.0.0/16 dev mvtx"))
		netns.write_file(path, server([[
  device = { type = "tun", name = "mvt0", mtu = 1300 },
  routes = { "10.99.0.0/16", "10.55.0.0/16" },
]]))
		p:signal("HUP")
		local ok, out = p:wait_log("reload failed", 10)
		assert(ok, out)
		assert.truthy(out:find("10.55.0.0/16", 1, true), out)
		assert.truthy(ip(ns, "link show dev mvt0"):find("mtu 1400", 1, true))
		local routes = ip(ns, "route")
		assert.truthy(routes:find("10.99.0.0/16 dev mvt0", 1, true))
		assert.truthy(routes:find("10.55.0.0/16 dev mvtx", 1, true))
		assert.truthy(ip(ns, "addr show dev mvt0"):find("inet6 fd00:77::1/64", 1, true))
		assert.are.equal(0, p:stop())
	end)

	it("restores the old device when a renamed one cannot take its routes", function()
		local p, path = start(ns, server(TUN))
		started(p)
		assert(ns:sh("ip link add mvtx type veth peer name mvty && ip link set mvtx up && " ..
			"ip route add 10.55.0.0/16 dev mvtx"))
		netns.write_file(path, server([[
  device = { type = "tun", name = "mvt1", mtu = 1400 },
  routes = { "10.55.0.0/16" },
]]))
		p:signal("HUP")
		local ok, out = p:wait_log("reload failed", 10)
		assert(ok, out)
		assert.truthy(out:find("restored tun device mvt0", 1, true), out)
		assert.falsy(ns:sh("ip link show dev mvt1"))
		assert.truthy(ip(ns, "route"):find("10.99.0.0/16 dev mvt0", 1, true))
		assert.truthy(ip(ns, "addr show dev mvt0"):find("inet 10.77.0.1/24", 1, true))
		assert.are.equal(0, p:stop())
	end)

	it("takes the log level from the config, and -v over it", function()
		local p = start(ns, server(TUN .. '  log_level = "warn",'))
		assert.truthy(ns:sh("sleep 0.5; ip link show dev mvt0"))
		assert.falsy(p:output():find(" info ", 1, true))
		assert.are.equal(0, p:stop())
		p = start(ns, server(TUN .. '  log_level = "warn",'), { "-v" })
		started(p)
		assert.are.equal(0, p:stop())
		assert.truthy(p:output():find(" info ", 1, true))
	end)
end)
