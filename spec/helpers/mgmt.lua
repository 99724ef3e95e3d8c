-- SPDX-License-Identifier: MIT
--- A management-interface session from specs: `nc` connected to the socket
-- (a UNIX path or HOST PORT) in a namespace, fed commands through a FIFO,
-- its output read back from its log.
local netns = require "spec.helpers.netns"

local M = {}
local session_mt = {}
session_mt.__index = session_mt

--- Connects to `where` ("/path" or "HOST:PORT") from namespace ns.
function M.connect(ns, where)
	local fifo = netns.tmpdir() .. "/mgmt.in"
	assert(netns.sh("mkfifo " .. netns.quote(fifo)))
	local argv = { "nc", "-U", where }
	local host, port = where:match("^(.+):(%d+)$")
	if host and where:sub(1, 1) ~= "/" then argv = { "nc", host:gsub("^%[(.*)%]$", "%1"), port } end
	local proc = ns:spawn(argv, { stdin = fifo })
	local input = assert(io.open(fifo, "w")) -- opens once nc's shell opened its end
	return setmetatable({ proc = proc, input = input, pos = 1 }, session_mt)
end

--- Sends one command line.
function session_mt:send(line)
	self.input:write(line .. "\n")
	self.input:flush()
end

--- Waits until `text` (plain) appears after what earlier waits consumed; the
-- output from there up to and including it, or an error with the output.
function session_mt:wait(text, timeout)
	local deadline = os.time() + (timeout or 20)
	repeat
		local out = self.proc:output()
		local s, e = out:find(text, self.pos, true)
		if s then
			local got = out:sub(self.pos, e)
			self.pos = e + 1
			return got
		end
		netns.sleep(0.05)
	until os.time() > deadline
	error(string.format("management: no %q within %ds in:\n%s", text, timeout or 20,
		self.proc:output():sub(self.pos)))
end

--- Sends a command and returns its answer up to `last` (default "END").
function session_mt:ask(line, last)
	self:send(line)
	return self:wait(last or "END\r\n")
end

--- Whether the connection was closed by the server (nc exited).
function session_mt:closed(timeout)
	return self.proc:wait(timeout or 10) ~= nil
end

function session_mt:close()
	pcall(function() self.input:close() end)
	self.proc:stop()
end

return M
