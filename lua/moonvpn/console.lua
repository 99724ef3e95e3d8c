-- SPDX-License-Identifier: MIT
--- The console REPL: evaluation of operator input inside the engine.
--
-- The C console server (core/sys/console.c) owns sockets and buffering; for each
-- line a client sends it calls `feed(id, line)` and sends back the kind of
-- reply ("ok", "error" or "more") and its text. Input is tried first as an
-- expression (`return <input>`), then as a statement; input that ends
-- early ("<eof>") waits for more lines. Every evaluation runs under an
-- instruction budget so that `while true do end` cannot freeze the engine.
local core = require "moonvpn.core"

local M = {}

M.INSTRUCTION_BUDGET = 50000000 -- about a second of pure Lua
M.MAX_DEPTH = 8
M.PENDING_MAX = 1024 * 1024 -- bytes of unfinished input kept per session

local function is_identifier(s)
	return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil
end

local function key_order(a, b)
	local ta, tb = type(a), type(b)
	if ta ~= tb then return ta == "number" end -- numbers first, then strings, then the rest
	if ta == "number" or ta == "string" then return a < b end
	return tostring(a) < tostring(b)
end

local function scalar(v)
	if type(v) == "string" then return (string.format("%q", v):gsub("\\\n", "\\n")) end
	return tostring(v)
end

-- Tables are walked raw (next, rawget, rawlen): only __tostring runs user code,
-- and rendering happens under the evaluation's instruction budget.
local function has_tostring(v)
	local mt = getmetatable(v)
	return type(mt) == "table" and rawget(mt, "__tostring") ~= nil
end

local function render(v, indent, seen, out)
	if type(v) ~= "table" or has_tostring(v) then
		out[#out + 1] = scalar(v)
		return
	end
	if seen[v] then out[#out + 1] = "<cycle>"; return end
	if next(v) == nil then out[#out + 1] = "{}"; return end
	if #indent >= 2 * M.MAX_DEPTH then out[#out + 1] = "{...}"; return end
	seen[v] = true
	local keys = {}
	for k in next, v do keys[#keys + 1] = k end
	table.sort(keys, key_order)
	local inner = indent .. "  "
	local n = rawlen(v)
	out[#out + 1] = "{\n"
	for _, k in ipairs(keys) do
		-- The sequence part prints as a plain list; other keys are labelled.
		if math.type(k) == "integer" and k >= 1 and k <= n then
			out[#out + 1] = inner
		else
			out[#out + 1] = inner .. (is_identifier(k) and k or ("[" .. scalar(k) .. "]")) .. " = "
		end
		render(rawget(v, k), inner, seen, out)
		out[#out + 1] = ",\n"
	end
	out[#out + 1] = indent .. "}"
	seen[v] = nil
end

--- Renders a value for the console: tables nested, keys sorted.
function M.pretty(v)
	local out = {}
	render(v, "", {}, out)
	return table.concat(out)
end

-- An error value as text, without running any of its metamethods.
local function error_text(e)
	if type(e) == "string" then return e end
	if type(e) == "table" and not has_tostring(e) then return "error object: " .. M.pretty(e) end
	return "(error object is a " .. type(e) .. " value)"
end

-- Runs fn and renders its results, with print() collected into `lines`,
-- all under the instruction budget. Returns ok, text or error message.
local function run(env, fn, lines)
	local saved_print = rawget(env, "print")
	env.print = function(...)
		local parts = table.pack(...)
		for i = 1, parts.n do parts[i] = tostring(parts[i]) end
		lines[#lines + 1] = table.concat(parts, "\t", 1, parts.n)
	end
	local ok, result = core.run_budgeted(M.INSTRUCTION_BUDGET, function()
		local r = table.pack(fn())
		local values = {}
		for i = 1, r.n do values[i] = M.pretty(r[i]) end
		return table.concat(values, "\t", 1, r.n)
	end)
	env.print = saved_print
	if not ok then return false, error_text(result) end
	if result ~= "" then lines[#lines + 1] = result end
	return true
end

local function compile(buffer, env)
	local fn = load("return " .. buffer, "=console", "t", env)
	if fn then return fn end
	local err
	fn, err = load(buffer, "=console", "t", env)
	if fn then return fn end
	if err:find("<eof>$") then return nil, "more" end
	return nil, err
end

local sessions = {}

--- Starts a session for console client `id`.
function M.open(id)
	sessions[id] = { buffer = nil }
end

--- Ends the session of client `id`.
function M.close(id)
	sessions[id] = nil
end

--- Feeds one line from client `id`; returns kind ("ok", "error", "more") and text.
function M.feed(env, id, line)
	local s = sessions[id]
	if not s then return "error", "no console session " .. tostring(id) end
	s.buffer = s.buffer and (s.buffer .. "\n" .. line) or line
	if #s.buffer > M.PENDING_MAX then
		s.buffer = nil
		return "error", string.format("unfinished input over %d bytes was discarded", M.PENDING_MAX)
	end
	local fn, err = compile(s.buffer, env)
	if err == "more" then return "more", "" end
	s.buffer = nil
	if not fn then return "error", err end
	local lines = {}
	local ok, msg = run(env, fn, lines)
	if not ok then return "error", msg end
	return "ok", #lines > 0 and (table.concat(lines, "\n") .. "\n") or ""
end

return M
