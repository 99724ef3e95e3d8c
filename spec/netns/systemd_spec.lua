-- SPDX-License-Identifier: MIT
-- Running under systemd: the readiness protocol on $NOTIFY_SOCKET (played
-- here by build/tools/notifysock), log lines for the journal when stderr is
-- $JOURNAL_STREAM, and the unit file as systemd-analyze sees it.
--
--   [ mvt-srv: notifysock <- NOTIFY_SOCKET -- moonvpn (tun mvt0) 10.88.1.1 ]
--          |  veth
--   [ mvt-cli: openvpn 10.88.1.2 ]
--
-- #netns: needs root (the engine creates its device in the namespace).
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

local NOTIFYSOCK = "build/tools/notifysock"

-- The datagrams notifysock received so far, each a table of its lines
-- (and `received`: CLOCK_MONOTONIC in microseconds when it came).
local function datagrams(listener)
	local list, cur = {}, {}
	for line in listener:output():gmatch("[^\n]+") do
		if line:match("^%-%- %d+$") then
			cur.received = tonumber(line:match("%d+"))
			list[#list + 1] = cur
			cur = {}
		elseif line ~= "listening" then
			cur[#cur + 1] = line
		end
	end
	return list
end

-- Waits for a datagram after the first `after` whose first line is `first`
-- (or, a function, for which first(line) is true); returns its index and lines.
local function wait_datagram(listener, first, after, engine)
	local deadline = os.time() + 60
	repeat
		local list = datagrams(listener)
		for i = (after or 0) + 1, #list do
			local line = list[i][1]
			if line == first or (type(first) == "function" and line and first(line)) then return i, list[i] end
		end
		netns.sleep(0.05)
	until os.time() > deadline
	error("no " .. tostring(first) .. " after datagram " .. (after or 0) .. "; got:\n" .. listener:output() ..
		"\n--- moonvpn:\n" .. (engine and engine:output() or ""))
end

describe("#netns moonvpn under systemd", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local srv, cli, engine, listener

	after_each(function()
		if engine then engine:stop() end
		engine = nil
		netns.cleanup()
	end)

	-- Starts notifysock at `address` and the engine told to use it, with `extra` fields.
	local function start(address, extra, after)
		srv = netns.new()
		listener = srv:spawn({ NOTIFYSOCK, address })
		assert(listener:wait_log("listening", 10), listener:output())
		local config = mv.write_config(mv.server_config('  device = { name = "mvt0" },\n' .. (extra or "")) ..
			(after or ""))
		engine = srv:spawn({ "env", "NOTIFY_SOCKET=" .. address, mv.bin, config })
		return config
	end

	describe("$NOTIFY_SOCKET", function()
		it("hears READY=1, the client count, RELOADING=1 and READY=1 on SIGHUP, STOPPING=1", function()
			start(netns.tmpdir() .. "/notify")
			local i = wait_datagram(listener, "READY=1", 0, engine)
			assert.truthy(engine:output():find("engine: moonvpn [%d.]+ started"), engine:output())
			i = wait_datagram(listener, "STATUS=0 clients connected", i, engine)

			local msg
			cli = netns.new()
			netns.veth(srv, "10.88.1.1/24", cli, "10.88.1.2/24")
			local client = cli:spawn({ "openvpn", "--config", openvpn.profile(mv.pki(), { remote = "10.88.1.1",
				extra = "explicit-exit-notify 1\n" }) })
			local ok, out = client:wait_log("Initialization Sequence Completed", 30)
			assert(ok, "openvpn:\n" .. out .. "\n--- moonvpn:\n" .. engine:output())
			i = wait_datagram(listener, "STATUS=1 client connected", i, engine)

			engine:signal("HUP")
			i, msg = wait_datagram(listener, "RELOADING=1", i, engine)
			local usec = tonumber((assert(msg[2] and msg[2]:match("^MONOTONIC_USEC=(%d+)$"), table.concat(msg, "\n"))))
			-- On CLOCK_MONOTONIC: sent before it was received, and not long before.
			assert.is_true(usec <= msg.received and usec > msg.received - 60e6, usec .. " vs " .. msg.received)
			i = wait_datagram(listener, "READY=1", i, engine)
			assert.truthy(engine:output():find("config: reloaded", 1, true), engine:output())
			-- READY=1 carries the status again, still one client.
			wait_datagram(listener, "STATUS=1 client connected", i - 1, engine)

			client:stop()
			i = wait_datagram(listener, "STATUS=0 clients connected", i, engine)

			assert.are.equal(0, engine:stop())
			wait_datagram(listener, "STOPPING=1", i, engine)
			engine = nil
		end)

		it("in client mode says READY=1 once the tunnel is up, not before", function()
			srv, cli = netns.new(), netns.new()
			netns.veth(srv, "10.88.1.1/24", cli, "10.88.1.2/24")
			local address = netns.tmpdir() .. "/notify"
			listener = cli:spawn({ NOTIFYSOCK, address })
			assert(listener:wait_log("listening", 10), listener:output())
			local config = mv.write_config(mv.client_config("10.88.1.1", '  device = { name = "mvt0" },'))
			engine = cli:spawn({ "env", "NOTIFY_SOCKET=" .. address, mv.bin, config })
			assert(engine:wait_log("engine: moonvpn [%d.]+ started", 10), engine:output())
			assert(engine:wait_log("client: connecting to udp://10.88.1.1:1194", 10), engine:output())
			-- No server yet: started, trying, but not ready.
			for _, d in ipairs(datagrams(listener)) do
				assert.are_not.equal("READY=1", d[1], listener:output())
			end
			local server = srv:spawn({ mv.bin, mv.write_config(mv.server_config('  device = { name = "mvt0" },')) })
			assert(server:wait_log("engine: moonvpn [%d.]+ started", 10), server:output())
			local i = wait_datagram(listener, "READY=1", 0, engine)
			wait_datagram(listener, "STATUS=connected to 10.88.1.1:1194", i - 1, engine)
			assert.truthy(engine:output():find("session: [^\n]*: connected, address 10.77.0.", 1), engine:output())
			assert.are.equal(0, server:stop())
		end)

		it("reaches a socket in the abstract namespace (@name)", function()
			start("@" .. netns.PREFIX .. "-notify")
			wait_datagram(listener, "READY=1", 0, engine)
		end)

		it("still speaks after dropping root, and after a reload that fails", function()
			local config = start(netns.tmpdir() .. "/notify", '  user = "nobody",\n  group = "nogroup",\n')
			local i = wait_datagram(listener, "READY=1", 0, engine)
			assert.truthy(engine:output():find("dropped root", 1, true), engine:output())
			netns.write_file(config, "error('broken on purpose')\n")
			engine:signal("HUP")
			i = wait_datagram(listener, "RELOADING=1", i, engine)
			wait_datagram(listener, "READY=1", i, engine)
			assert.truthy(engine:output():find("reload failed", 1, true), engine:output())
		end)

		it("says in STATUS= that the last reload failed, until one works", function()
			local config = start(netns.tmpdir() .. "/notify")
			local i = wait_datagram(listener, "READY=1", 0, engine)
			local good = netns.read_file(config)
			netns.write_file(config, "error('broken on purpose')\n")
			engine:signal("HUP")
			i = wait_datagram(listener, "READY=1", i, engine)
			-- systemctl status shows it: the reload's failure goes with the status until a reload works.
			local msg
			i, msg = wait_datagram(listener, function(l) return l:find("^STATUS=") end, i, engine)
			assert.matches("^STATUS=0 clients connected; reload failed, running the previous configuration: " ..
				".*broken on purpose$", msg[1])
			netns.write_file(config, good)
			engine:signal("HUP")
			i = wait_datagram(listener, "READY=1", i, engine)
			assert.truthy(engine:output():find("config: reloaded", 1, true), engine:output())
			local _, last = wait_datagram(listener, function(l) return l:find("^STATUS=") end, i, engine)
			assert.are.equal("STATUS=0 clients connected", last[1])
		end)

		it("does not pass NOTIFY_SOCKET on to the programs hooks run", function()
			start(netns.tmpdir() .. "/notify", nil, [[
local vpn = require "moonvpn"
vpn.after(0, function()
  local _, out = vpn.exec { "sh", "-c", "echo notify=${NOTIFY_SOCKET-unset}" }
  print(out)
end)
]])
			wait_datagram(listener, "READY=1", 0, engine)
			-- The hook's program may end after READY=1 went out: wait for its line.
			local ok, out = engine:wait_log("notify=", 10)
			assert(ok, out)
			assert.truthy(out:find("notify=unset", 1, true), out)
		end)

		it("warns about a NOTIFY_SOCKET it cannot use, and runs", function()
			srv = netns.new()
			local config = mv.write_config(mv.server_config('  device = { name = "mvt0" },'))
			engine = srv:spawn({ "env", "NOTIFY_SOCKET=vsock:2:99", mv.bin, config })
			local ok, out = engine:wait_log("engine: moonvpn [%d.]+ started", 10)
			assert(ok, out)
			assert.truthy(out:find('notify: NOTIFY_SOCKET="vsock:2:99" is not a UNIX socket path or @abstract name',
				1, true), out)
		end)
	end)

	describe("the unit's capabilities", function()
		-- setpriv arguments for the unit's CapabilityBoundingSet, less `without`.
		local function bounding_set(without)
			local line = assert(netns.read_file("systemd/moonvpn@.service"):match("\nCapabilityBoundingSet=([^\n]+)"))
			local caps = { "-all" }
			for cap in line:gmatch("CAP_([%u_]+)") do
				if cap ~= without then caps[#caps + 1] = "+" .. cap:lower() end
			end
			return table.concat(caps, ",")
		end

		-- Runs the engine with user = "nobody" as systemd would: root, with the unit's
		-- bounding set, no inheritable capabilities and no_new_privs; returns its output once started.
		local function run(without)
			srv = netns.new()
			local config = mv.write_config(mv.server_config('  device = { name = "mvt0" },\n' ..
				'  user = "nobody",\n  group = "nogroup",\n'))
			engine = srv:spawn({ "setpriv", "--bounding-set", bounding_set(without), "--inh-caps=-all",
				"--no-new-privs", mv.bin, config })
			local ok, out = engine:wait_log("engine: moonvpn [%d.]+ started", 10)
			return ok, out
		end

		it("are all moonvpn needs to start and drop root", function()
			local ok, out = run()
			assert(ok, out)
			assert.truthy(out:find("dropped root: running as user nobody", 1, true), out)
			assert.falsy(out:find("capabilit", 1, true), out) -- "cannot empty the capability bounding set"
		end)

		it("each have their use: without CAP_SETUID, CAP_SETGID or CAP_SETPCAP dropping root suffers", function()
			for cap, says in pairs { SETUID = "cannot drop root: setresuid", SETGID = "cannot drop root: setgroups",
				SETPCAP = "cannot empty the capability bounding set (no CAP_SETPCAP here)" } do
				local _, out = run(cap)
				assert.truthy(out:find(says, 1, true), cap .. ": " .. out)
				engine:stop()
				engine = nil
				netns.cleanup()
			end
		end)
	end)

	describe("the unit's SystemCallFilter and RestrictAddressFamilies", function()
		-- The system calls a filter (a set like @system-service) allows, its groups expanded.
		local function allowed(filter)
			local set = {}
			local function expand(group)
				local ok, out = netns.sh("systemd-analyze syscall-filter " .. group)
				assert(ok, out)
				for name in out:gmatch("\n    ([@%w_%-]+)") do
					if name:sub(1, 1) == "@" then expand(name) else set[name] = true end
				end
			end
			for group in filter:gmatch("%S+") do expand(group) end
			return set
		end

		it("allows every system call moonvpn makes serving a client, reloading and stopping", function()
			if not netns.sh("command -v strace && command -v systemd-analyze") then
				pending("needs strace and systemd-analyze (Debian: apt-get install strace systemd)")
				return
			end
			if (os.getenv("SANITIZE") or "") ~= "" or mv.bin:find("/san/", 1, true) then
				-- LeakSanitizer cannot run under ptrace, and the sanitizers' own calls are not what ships.
				pending("the sanitizer build is not traced: the release build's run checks the filter")
				return
			end
			local filter = assert(netns.read_file("systemd/moonvpn@.service"):match("\nSystemCallFilter=([^\n]+)"))
			local set = allowed(filter)
			srv = netns.new()
			local socket = netns.tmpdir() .. "/console.sock"
			local config = mv.write_config(mv.server_config('  device = { name = "mvt0" },\n  console = "' ..
				socket .. '",\n') .. [[
local vpn = require "moonvpn"
vpn.after(0, function() print("exec:", vpn.exec { "true" }) end)
]])
			local trace = netns.tmpdir() .. "/trace"
			engine = srv:spawn({ "strace", "-f", "-qq", "-o", trace, mv.bin, config })
			assert(engine:wait_log("exec:\t0", 20), engine:output())
			cli = netns.new()
			netns.veth(srv, "10.88.1.1/24", cli, "10.88.1.2/24")
			local client = cli:spawn({ "openvpn", "--config", openvpn.profile(mv.pki(), { remote = "10.88.1.1" }) })
			local ok, out = client:wait_log("Initialization Sequence Completed", 30)
			assert(ok, "openvpn:\n" .. out .. "\n--- moonvpn:\n" .. engine:output())
			assert(cli:sh("ping -c 2 -W 5 10.77.0.1"))
			assert.are.equal(0, (mv.console(socket, "#clients()")))
			-- Signals go to moonvpn itself, not to strace.
			local pid = assert(engine:output():match("started with %S+ %(pid (%d+)%)"))
			assert(netns.sh("kill -HUP " .. pid))
			assert(engine:wait_log("config: reloaded", 20), engine:output())
			assert(netns.sh("kill -TERM " .. pid))
			assert.are.equal(0, engine:wait(30), engine:output())
			engine = nil
			local used, outside = {}, {}
			for name in netns.read_file(trace):gmatch("\n%d+%s+([%w_]+)%(") do
				if not used[name] then
					used[name] = true
					if not set[name] then outside[#outside + 1] = name end
				end
			end
			table.sort(outside)
			assert.truthy(used.sendmmsg or used.sendmsg or used.sendto, "no trace? " .. trace)
			-- execve: strace's own start of moonvpn, and vpn.exec's program; in @system-service too.
			assert.are.same({}, outside, "outside " .. filter .. ": " .. table.concat(outside, ", "))
			-- And every socket it makes is of a family RestrictAddressFamilies= allows.
			local families = assert(netns.read_file("systemd/moonvpn@.service"):match("\nRestrictAddressFamilies=([^\n]+)"))
			local made = 0
			for family in netns.read_file(trace):gmatch("\n%d+%s+socket%((AF_[%w_]+)") do
				made = made + 1
				assert.truthy((" " .. families .. " "):find(" " .. family .. " ", 1, true), family .. " not in " .. families)
			end
			assert.is_true(made >= 3, "sockets made: " .. made)
		end)
	end)

	describe("$JOURNAL_STREAM", function()
		-- Starts the engine with JOURNAL_STREAM naming its own log file, or `stream`.
		local function start_logging(stream)
			srv = netns.new()
			local config = mv.write_config(mv.server_config('  device = { name = "mvt0" },'))
			local dir = netns.tmpdir()
			-- The log file exists before the engine, so its device and inode are known.
			local wrapper = dir .. "/run.sh"
			netns.write_file(wrapper, string.format(
				'exec env JOURNAL_STREAM="${STREAM:-$(stat -L -c %%d:%%i /proc/self/fd/2)}" %s %s\n',
				netns.quote(mv.bin), netns.quote(config)))
			engine = srv:spawn({ "env", "STREAM=" .. (stream or ""), "sh", wrapper })
			local ok, out = engine:wait_log("engine: moonvpn [%d.]+ started", 10)
			assert(ok, out)
			return config
		end

		it("writes syslog priorities and no time stamps when stderr is the journal", function()
			local config = start_logging()
			netns.write_file(config, "error('broken on purpose')\n")
			engine:signal("HUP")
			assert(engine:wait_log("reload failed", 10), engine:output())
			local out = engine:output()
			assert.truthy(out:find("\n<6>engine: moonvpn [%d.]+ started with "), out)
			assert.truthy(out:find("\n<6>engine: received SIGHUP, reloading ", 1, true), out)
			assert.truthy(out:find("\n<3>config: reload failed, keeping the running configuration: ", 1, true), out)
			for line in out:gmatch("[^\n]+") do
				assert.matches("^<[3467]>[a-z]+: ", line)
			end
		end)

		it("keeps its own time stamps when JOURNAL_STREAM names another stream", function()
			start_logging("1:1")
			local out = engine:output()
			for line in out:gmatch("[^\n]+") do
				assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ [a-z]+ +[a-z]+: ", line)
			end
		end)
	end)
end)

describe("systemd/moonvpn@.service", function()
	after_each(netns.cleanup)

	it("passes systemd-analyze verify, its manual pages found", function()
		if not netns.sh("command -v systemd-analyze") then
			pending("no systemd-analyze here (Debian: apt-get install systemd)")
			return
		end
		local dir = netns.tmpdir()
		local bin = mv.bin:match("^/") and mv.bin or (os.getenv("PWD") .. "/" .. mv.bin)
		local unit = netns.read_file("systemd/moonvpn@.service")
		assert.truthy(unit:find("@BINDIR@/moonvpn", 1, true))
		-- The installed unit names $(PREFIX)/bin/moonvpn; here the binary under test.
		netns.write_file(dir .. "/moonvpn@office.service",
			(unit:gsub("@BINDIR@/moonvpn", (bin:gsub("%%", "%%%%")))))
		-- Documentation= names man:moonvpn(8) and man:moonvpn.lua(5): verify looks them up.
		local man = os.getenv("PWD") .. "/build/man"
		assert.truthy(netns.read_file(man .. "/moonvpn.8"), "no build/man/moonvpn.8: run make")
		assert(netns.sh(string.format("mkdir -p %s/man/man8 %s/man/man5 && ln -s %s/moonvpn.8 %s/man/man8/ && " ..
			"ln -s %s/moonvpn.lua.5 %s/man/man5/", dir, dir, man, dir, man, dir)))
		local ok, out = netns.sh("cd " .. dir .. " && MANPATH=" .. dir .. "/man systemd-analyze verify ./moonvpn@office.service")
		assert(ok, out)
		assert.are.equal("", out)
	end)
end)
