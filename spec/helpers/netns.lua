-- SPDX-License-Identifier: MIT
--- Network namespaces, veth pairs and processes for integration specs.
--
--   local netns = require "spec.helpers.netns"
--   local ns = netns.new()                      -- a fresh namespace "mvt-<pid>-<n>"
--   ns:sh("ip link set lo up")                   -- run a command inside it
--   local p = ns:spawn({ bin, "vpn.lua" })       -- start a process inside it
--   p:wait_log("started", 5)                     -- wait for a line in its output
--   p:stop()                                     -- SIGTERM, wait, return exit status
--   netns.cleanup()                              -- kill every process, delete every namespace
--
-- Every namespace and process is recorded, and `cleanup()` (call it from
-- `teardown`/`after_each`) removes them even when a spec failed halfway;
-- spec/helpers/cleanup removes leftovers of an interrupted run by name.
-- Only addresses inside the namespaces created here are ever used.
local M = {}

math.randomseed(os.time() ~ tonumber(tostring({}):match("0x(%x+)"), 16))

local namespaces, processes = {}, {}
local counter = 0

-- Every name made here starts with this (spec/run-busted sets one per run), so
-- that spec/helpers/cleanup removes this run's leftovers and no other run's.
M.PREFIX = os.getenv("MVT_PREFIX") or ("mvt-" .. math.random(1e6))

local function shell_quote(s)
	return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = shell_quote

--- Runs a shell command; returns ok, output (stdout and stderr), exit status.
function M.sh(cmd)
	local f = io.popen(cmd .. " 2>&1; echo \"__status=$?\"")
	local out = f:read("a")
	f:close()
	local status = tonumber(out:match("__status=(%d+)%s*$"))
	out = out:gsub("__status=%d+%s*$", "")
	return status == 0, out, status
end

function M.sleep(seconds)
	os.execute("sleep " .. seconds)
end

--- A unique temporary directory, removed by cleanup().
function M.tmpdir()
	counter = counter + 1
	local dir = string.format("/tmp/%s-%d-%d", M.PREFIX, math.random(1e6), counter)
	assert(M.sh("mkdir -p " .. dir .. " && chmod 755 " .. dir))
	namespaces[#namespaces + 1] = { dir = dir }
	return dir
end

function M.write_file(path, text)
	local f = assert(io.open(path, "w"))
	f:write(text)
	f:close()
end

function M.read_file(path)
	local f = io.open(path, "r")
	if not f then return nil end
	local text = f:read("a")
	f:close()
	return text
end

local ns_mt = {}
ns_mt.__index = ns_mt

--- A new namespace with its loopback up.
function M.new()
	counter = counter + 1
	local name = string.format("%s-%d-%d", M.PREFIX, math.random(1e6), counter)
	assert(M.sh("ip netns add " .. name))
	local ns = setmetatable({ name = name }, ns_mt)
	namespaces[#namespaces + 1] = ns
	assert(ns:sh("ip link set lo up"))
	return ns
end

function ns_mt:sh(cmd)
	return M.sh("ip netns exec " .. self.name .. " sh -c " .. shell_quote(cmd))
end

--- Connects two namespaces with a veth pair and gives each end an address.
function M.veth(a, addr_a, b, addr_b)
	counter = counter + 1
	local ia, ib = "mva" .. counter, "mvb" .. counter
	assert(M.sh(string.format("ip link add %s netns %s type veth peer name %s netns %s",
		ia, a.name, ib, b.name)))
	assert(a:sh(string.format("ip addr add %s dev %s && ip link set %s up", addr_a, ia, ia)))
	assert(b:sh(string.format("ip addr add %s dev %s && ip link set %s up", addr_b, ib, ib)))
	return ia, ib
end

local proc_mt = {}
proc_mt.__index = proc_mt

--- Starts argv inside the namespace (nil namespace: in the current one).
-- Output goes to p.log; p.pid is the program's own pid.
function M.spawn(ns, argv, opts)
	opts = opts or {}
	local dir = M.tmpdir()
	local quoted = {}
	for i, a in ipairs(argv) do quoted[i] = shell_quote(a) end
	local p = setmetatable({ log = dir .. "/output.log", pidfile = dir .. "/pid",
		statusfile = dir .. "/status" }, proc_mt)
	-- The wrapper records the program's pid and, when it ends, its exit status.
	local wrapper = string.format('%s > %s 2>&1 < %s & echo $! > %s; wait $!; echo $? > %s',
		table.concat(quoted, " "), p.log, opts.stdin or "/dev/null", p.pidfile, p.statusfile)
	local prefix = ns and ("ip netns exec " .. ns.name .. " ") or ""
	os.execute(prefix .. "sh -c " .. shell_quote(wrapper) .. " >/dev/null 2>&1 &")
	for _ = 1, 200 do
		local pid = M.read_file(p.pidfile)
		if pid and pid:match("%d+") then
			p.pid = tonumber(pid:match("%d+"))
			break
		end
		M.sleep(0.02)
	end
	assert(p.pid, "process did not start: " .. table.concat(argv, " "))
	processes[#processes + 1] = p
	return p
end

function ns_mt:spawn(argv, opts)
	return M.spawn(self, argv, opts)
end

function proc_mt:output()
	return self.final_output or M.read_file(self.log) or ""
end

--- The exit status once the process has ended, else nil.
function proc_mt:status()
	if self.final_status then return self.final_status end
	local s = M.read_file(self.statusfile)
	return s and tonumber(s:match("%d+"))
end

--- Waits until the output contains `pattern` (a Lua pattern); true or false, output.
function proc_mt:wait_log(pattern, timeout)
	local deadline = os.time() + (timeout or 10)
	repeat
		local out = self:output()
		if out:find(pattern) then return true, out end
		if self:status() then return false, out end
		M.sleep(0.05)
	until os.time() > deadline
	return false, self:output()
end

--- Waits for the process to end; its exit status, or nil on timeout.
function proc_mt:wait(timeout)
	local deadline = os.time() + (timeout or 10)
	repeat
		local s = self:status()
		if s then return s end
		M.sleep(0.05)
	until os.time() > deadline
	return nil
end

function proc_mt:signal(sig)
	-- Ended and cleaned up: the pid may be another process's by now.
	if self.final_status then return end
	os.execute(string.format("kill -%s %d 2>/dev/null", sig, self.pid))
end

--- Sends SIGTERM (or `sig`) and waits; returns the exit status (KILLs after timeout).
function proc_mt:stop(sig, timeout)
	if self:status() then return self:status() end
	self:signal(sig or "TERM")
	local s = self:wait(timeout or 10)
	if not s then
		self:signal("KILL")
		s = self:wait(5)
	end
	return s
end

--- Kills every process and deletes every namespace and directory created so far.
function M.cleanup()
	for _, p in ipairs(processes) do
		if not p:status() then p:signal("KILL") end
	end
	-- What a process left goes with the directories below; a spec may still ask
	-- for it (an after_each that stops a process cleanup() already ended must
	-- not wait out stop()'s 15 s for a status file that is gone).
	for _, p in ipairs(processes) do
		p:wait(5)
		p.final_output, p.final_status = p:output(), p:status() or 137
	end
	processes = {}
	for i = #namespaces, 1, -1 do
		local ns = namespaces[i]
		if ns.name then
			M.sh("ip netns pids " .. ns.name .. " | xargs -r kill -KILL")
			M.sh("ip netns del " .. ns.name)
		else
			M.sh("rm -rf " .. ns.dir)
		end
	end
	namespaces = {}
end

--- True when the specs run as root (needed for namespaces and devices).
--- Why a load spec does not run here, or nil when it does. The sanitizer
-- build (MOONVPN_BIN under build/san/) skips the specs that measure load,
-- time and memory: their figures mean nothing under ASan, the engine code
-- they drive runs under ASan in the other specs, and make test stays short.
function M.release_only()
	if M.sanitized() then
		return "a load spec: it runs on the release build only"
	end
	return nil
end

--- True when the specs run a sanitizer build (MOONVPN_BIN under build/san/, or build/tsan/:
--- ThreadSanitizer's, make tsan).
function M.sanitized()
	local bin = os.getenv("MOONVPN_BIN") or ""
	return bin:find("/build/san/", 1, true) ~= nil or bin:find("/build/tsan/", 1, true) ~= nil
end

--- Why a test is left to the release build, or nil when it runs here: under the
-- sanitizers a test that repeats, at great cost, what another test there
-- already drives through the engine (another peer of an interop matrix for the
-- same engine code, a long throughput run) is marked pending with `why`, the
-- test that stays. The release build runs every test.
--   local skip = netns.release_repeat("2.7's row drives the same server code")
--   if skip then pending(name .. ": " .. skip) else it(name, ...) end
function M.release_repeat(why)
	assert(type(why) == "string" and why ~= "", "release_repeat: say which test covers it under the sanitizers")
	if M.sanitized() then
		return "on the release build only, a repeat under the sanitizers (" .. why .. ")"
	end
	return nil
end

--- it(name, fn), or under the sanitizers pending(name: why) as release_repeat says.
function M.it_release(name, why, fn)
	local skip = M.release_repeat(why)
	local busted = require "busted"
	if skip then
		busted.pending(name .. ": " .. skip)
	else
		busted.it(name, fn)
	end
end

--- Why a load spec cannot run here (no root, or the sanitizer build), or nil:
-- the guard at the top of each load spec's describe block.
function M.load_spec_unfit()
	if not M.is_root() then return "needs root for network namespaces" end
	return M.release_only()
end

function M.is_root()
	local ok, out = M.sh("id -u")
	return ok and out:match("^0%s*$") ~= nil
end

return M
