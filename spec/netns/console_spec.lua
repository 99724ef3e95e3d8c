-- SPDX-License-Identifier: MIT
-- The console of a running engine, through `moonvpn console`:
--
--   [ mvt-ns: moonvpn (tun mvt0) ] <-- UNIX socket <-- moonvpn console -e / stdin
--
-- #netns: needs root (the engine creates its device in the namespace).
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"

describe("#netns moonvpn console", function()
	if not netns.is_root() then
		pending("needs root for network namespaces")
		return
	end
	local ns, engine, socket, config_path

	before_each(function()
		ns = netns.new()
		socket = netns.tmpdir() .. "/console.sock"
		config_path = mv.write_config(mv.server_config(
			'  device = { name = "mvt0" },\n  console = "' .. socket .. '",'))
		engine = ns:spawn({ mv.bin, config_path })
		local ok, out = engine:wait_log("engine: moonvpn [%d.]+ started", 10)
		assert(ok, out)
	end)

	after_each(function()
		if engine then
			assert.are.equal(0, engine:stop())
			assert.is_nil(netns.read_file(socket), "console socket left behind")
		end
		netns.cleanup()
	end)

	it("creates its socket with mode 0600", function()
		local _, out = netns.sh("stat -c %a " .. netns.quote(socket))
		assert.are.equal("600\n", out)
	end)

	it("prints the value of an expression", function()
		local status, out, err = mv.console(socket, "1 + 1")
		assert.are.equal("", err)
		assert.are.equal(0, status)
		assert.are.equal("2\n", out)
	end)

	it("pretty-prints tables nested with sorted keys", function()
		local _, out = mv.console(socket, '{ zeta = 1, alpha = { 2, 3 }, ["two words"] = true }')
		assert.are.equal('{\n  alpha = {\n    2,\n    3,\n  },\n  ["two words"] = true,\n  zeta = 1,\n}\n', out)
	end)

	it("runs a statement, whose globals later clients see", function()
		local status, out = mv.console(socket, "answer = 41")
		assert.are.equal(0, status)
		assert.are.equal("", out)
		status, out = mv.console(socket, "answer + 1")
		assert.are.equal(0, status)
		assert.are.equal("42\n", out)
	end)

	it("continues incomplete input on the next line", function()
		local input = netns.tmpdir() .. "/input.lua"
		netns.write_file(input, "function twice(x)\n  return 2 * x\nend\nprint(twice(21))\n")
		local status, out, err = mv.run("console " .. netns.quote(socket), { stdin = input })
		assert.are.equal("", err)
		assert.are.equal(0, status)
		assert.are.equal("42\n", out)
	end)

	it("prints an error's message and exits non-zero, and the engine goes on", function()
		local status, out, err = mv.console(socket, 'error("boom")')
		assert.are.equal(1, status)
		assert.are.equal("", out)
		assert.truthy(err:find("boom", 1, true), err)
		status, out = mv.console(socket, "1")
		assert.are.equal(0, status)
		assert.are.equal("1\n", out)
	end)

	it("stops a runaway loop with its instruction budget", function()
		local status, _, err = mv.console(socket, "while true do end")
		assert.are.equal(1, status)
		assert.truthy(err:find("evaluation stopped after", 1, true), err)
		assert.are.equal(0, (mv.console(socket, "1")))
	end)

	it("exits non-zero on input that never completes", function()
		local status = mv.console(socket, "function f()")
		assert.are_not.equal(0, status)
	end)

	it("serves several clients at once, and a stuck one blocks nobody", function()
		-- Two clients that connect and then neither send a full line nor read.
		-- exec keeps the spawned pid the client's own, so stop() kills the client.
		local function silent_client()
			local fifo = netns.tmpdir() .. "/fifo"
			assert(netns.sh("mkfifo " .. fifo))
			return netns.spawn(nil, { "sh", "-c", "exec 3<>" .. fifo .. "; exec " ..
				netns.quote(mv.bin) .. " console " .. netns.quote(socket) .. " <&3" })
		end
		local stuck, idle = silent_client(), silent_client()
		netns.sleep(0.3)
		local status, out = mv.console(socket, "status().console_clients")
		assert.are.equal(0, status)
		assert.are.equal("3\n", out)
		stuck:stop("KILL")
		idle:stop("KILL")
	end)

	it("status() reports uptime, device, addresses and log level", function()
		local status, out = mv.console(socket,
			"local s = status() return s.device.name, s.device.addresses[1], s.log_level, type(s.uptime)")
		assert.are.equal(0, status)
		assert.are.equal('"mvt0"\t"10.77.0.1/24"\t"info"\t"number"\n', out)
	end)

	it("gets and sets the log level", function()
		assert.are.equal('"info"\n', select(2, mv.console(socket, "log_level()")))
		assert.are.equal('"debug"\n', select(2, mv.console(socket, 'log_level("debug")')))
		assert.are.equal('"debug"\n', select(2, mv.console(socket, "status().log_level")))
		local status, _, err = mv.console(socket, 'log_level("loud")')
		assert.are.equal(1, status)
		assert.truthy(err:find('unknown log level "loud"', 1, true), err)
	end)

	it("reload() applies a changed configuration, and reports a bad one", function()
		netns.write_file(config_path, mv.server_config(
			'  device = { name = "mvt0", mtu = 1280 },\n  console = "' .. socket .. '",'))
		local status, out = mv.console(socket, "reload()")
		assert.are.equal(0, status, out)
		assert.truthy(out:find("reloaded", 1, true))
		local _, mtu = mv.console(socket, "status().device.mtu")
		assert.are.equal("1280\n", mtu)
		netns.write_file(config_path, "vpn.server {")
		local err
		status, _, err = mv.console(socket, "reload()")
		assert.are.equal(1, status)
		assert.truthy(err:find("vpn.lua:1:", 1, true), err)
		_, mtu = mv.console(socket, "config().device.mtu")
		assert.are.equal("1280\n", mtu)
	end)

	it("is interactive on a terminal: banner, prompt and continuation prompt", function()
		-- script(1) gives the client a pseudo-terminal, so it runs its line editor.
		local input = netns.tmpdir() .. "/typed"
		netns.write_file(input, "function f()\nreturn 6 * 7\nend\nf()\n")
		local ok, out = netns.sh("script -qec " .. netns.quote(mv.bin .. " console " .. socket) ..
			" /dev/null < " .. input)
		assert(ok, out)
		out = out:gsub("\r", "")
		assert.truthy(out:find("moonvpn %S+ console: help%(%) lists the built%-ins"), out)
		assert.truthy(out:find("moonvpn> function f()\n   ...> return 6 * 7\n   ...> end\nmoonvpn> f()\n42\n", 1, true), out)
	end)

	it("reload() from one client leaves the other clients connected", function()
		local fifo = netns.tmpdir() .. "/fifo"
		assert(netns.sh("mkfifo " .. fifo))
		local other = netns.spawn(nil, { "sh", "-c", "exec 3<>" .. fifo .. "; exec " ..
			netns.quote(mv.bin) .. " console " .. netns.quote(socket) .. " <&3" })
		netns.sleep(0.3)
		local status, out = mv.console(socket, "reload()")
		assert.are.equal(0, status, out)
		status, out = mv.console(socket, "status().console_clients")
		assert.are.equal(0, status)
		assert.are.equal("2\n", out)
		assert.is_nil(other:status())
		other:stop("KILL")
	end)

	it("help() lists the built-ins", function()
		local status, out = mv.console(socket, "help()")
		assert.are.equal(0, status)
		for _, name in ipairs { "status()", "reload()", "log_level(", "help()" } do
			assert.truthy(out:find(name, 1, true), name)
		end
	end)
	it("pauses accepting when out of descriptors, without spinning or flooding its log, and resumes", function()
		-- The lowest free descriptor as the limit: the console's accept fails with EMFILE.
		local _, list = netns.sh("ls /proc/" .. engine.pid .. "/fd")
		local used, open = {}, 0
		for fd in list:gmatch("%d+") do used[tonumber(fd)] = true end
		while used[open] do open = open + 1 end
		assert(netns.sh("prlimit --pid " .. engine.pid .. " --nofile=" .. open .. ":" .. open + 64))
		local function cpu()
			local fields = {}
			for f in netns.read_file("/proc/" .. engine.pid .. "/stat"):match("%) (.*)"):gmatch("%S+") do
				fields[#fields + 1] = f
			end
			local _, hz = netns.sh("getconf CLK_TCK")
			return (tonumber(fields[12]) + tonumber(fields[13])) / tonumber(hz)
		end
		local cpu0, wall0 = cpu(), os.time()
		local status = mv.run("console " .. netns.quote(socket) .. " -e 1", { prefix = "timeout 3 " })
		assert.are.equal(124, status, "no descriptor: the client waits in the backlog")
		netns.sleep(2)
		local spent, wall = cpu() - cpu0, os.time() - wall0
		assert.is_true(spent < 0.5 * wall + 1, "CPU " .. spent .. " s in " .. wall .. " s")
		local log = engine:output()
		local _, lines = log:gsub("\n", "")
		assert.is_true(lines < 40, lines .. " log lines")
		assert.truthy(log:find("console: accept on .* %(pausing 1 s%): Too many open files"), log)
		-- Descriptors again: accepting resumes by itself.
		assert(netns.sh("prlimit --pid " .. engine.pid .. " --nofile=" .. open + 64 .. ":" .. open + 64))
		local out, err
		status, out, err = mv.run("console " .. netns.quote(socket) .. " -e '6 * 7'", { prefix = "timeout 20 " })
		assert.are.equal(0, status, err)
		assert.are.equal("42\n", out)
	end)

	describe("--json", function()
		-- `moonvpn console SOCKET --json -e EXPR`; exit status, stdout, stderr.
		local function json(expr)
			return mv.run("console " .. netns.quote(socket) .. " --json -e " .. netns.quote(expr))
		end

		-- What jq makes of text: its compact form, or nil and jq's complaint.
		local function jq(text, filter)
			local file = netns.tmpdir() .. "/out.json"
			netns.write_file(file, text)
			local ok, out = netns.sh("jq -c " .. netns.quote(filter or ".") .. " < " .. file)
			if not ok then return nil, out end
			return (out:gsub("\n$", ""))
		end

		it("prints status() as one JSON object that jq reads", function()
			local status, out, err = json("status()")
			assert.are.equal(0, status, err)
			assert.are.equal("", err)
			assert.are.equal(1, select(2, out:gsub("\n", "")), out)
			assert.are.equal("true", jq(out, ".pid == " .. engine.pid .. " and (.uptime | type) == \"number\""))
			assert.are.equal('"mvt0"', jq(out, ".device.name"))
		end)

		it("maps Lua values onto JSON: arrays, objects, mixed keys, nil, escapes", function()
			local cases = {
				{ "clients()", "[]" },
				{ "{ 1, 2, 3 }", "[1,2,3]" },
				{ "{ b = 1, a = { true, false } }", '{"a":[true,false],"b":1}' },
				{ '{ 10, 20, x = "y" }', '{"1":10,"2":20,"x":"y"}' },
				{ "{ [1] = 1, [3] = 3 }", '{"1":1,"3":3}' },
				{ "nil", "null" },
				{ "1.5", "1.5" },
				{ [["quote\" back\\ nl\n tab\t bell\7 é"]], [["quote\" back\\ nl\n tab\t bell\u0007 é"]] },
			}
			for _, c in ipairs(cases) do
				local status, out, err = json(c[1])
				assert.are.equal(0, status, c[1] .. ": " .. err)
				assert.are.equal(c[2], jq(out), c[1] .. " gave " .. out)
			end
		end)

		it("refuses what JSON cannot hold, saying what and where", function()
			local cases = {
				{ "{ f = print }", "json: a function (JSON has no such value) at $.f" },
				{ "(function() local t = {} t.self = { t } return t end)()",
					"json: a cycle (the table contains itself) at $.self[1]" },
				{ "{ 0/0 }", "json: a number JSON cannot hold" },
				{ '{ name = "\\xff" }', "json: a string that is not UTF-8 (JSON cannot carry raw bytes) at $.name" },
				{ "{ [true] = 1 }", "json: a table key of type boolean (JSON keys are strings) at $" },
			}
			for _, c in ipairs(cases) do
				local status, out, err = json(c[1])
				assert.are.equal(1, status, c[1])
				assert.are.equal("", out)
				assert.truthy(err:find(c[2], 1, true), c[1] .. ": " .. err)
			end
		end)

		it("needs -e", function()
			local status, _, err = mv.run("console " .. netns.quote(socket) .. " --json")
			assert.are.equal(2, status)
			assert.truthy(err:find("--json needs -e EXPRESSION", 1, true), err)
		end)
	end)
end)

describe("moonvpn console without an engine", function()
	after_each(netns.cleanup)

	it("says what is wrong when nothing listens on the socket", function()
		local status, _, err = mv.console("/nonexistent/console.sock", "1")
		assert.are.equal(1, status)
		assert.truthy(err:find("cannot connect to /nonexistent/console.sock", 1, true), err)
	end)
end)
