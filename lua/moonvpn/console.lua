-- SPDX-License-Identifier: MIT
--- The console REPL: evaluation of operator input inside the engine.
--
-- The C console server (core/console.c) owns sockets and buffering; for each
-- line a client sends it calls `feed(id, line)` and sends back the kind of
-- reply ("ok", "error" or "more") and its text. Input is tried first as an
-- expression (`return <input>`), then as a statement; input that ends
-- early ("<eof>") waits for more lines. Every evaluation runs under an
-- instruction budget so that `while true do end` cannot freeze the engine.
local M = {}

M.INSTRUCTION_BUDGET = 50000000 -- about a second of pure Lua
M.MAX_DEPTH = 8

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
	if type(v) == "string" then return string.format("%q", v) end
	return tostring(v)
end

local function render(v, indent, seen, out)
	if type(v) ~= "table" or (getmetatable(v) and getmetatable(v).__tostring) then
		out[#out + 1] = scalar(v)
		return
	end
	if seen[v] then out[#out + 1] = "<cycle>"; return end
	if next(v) == nil then out[#out + 1] = "{}"; return end
	if #indent >= 2 * M.MAX_DEPTH then out[#out + 1] = "{...}"; return end
	seen[v] = true
	local keys = {}
	for k in pairs(v) do keys[#keys + 1] = k end
	table.sort(keys, key_order)
	local inner = indent .. "  "
	local n = #v
	out[#out + 1] = "{\n"
	for _, k in ipairs(keys) do
		-- The sequence part prints as a plain list; other keys are labelled.
		if math.type(k) == "integer" and k >= 1 and k <= n then
			out[#out + 1] = inner
		else
			out[#out + 1] = inner .. (is_identifier(k) and k or ("[" .. scalar(k) .. "]")) .. " = "
		end
		render(v[k], inner, seen, out)
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

local function budget_hook()
	error(string.format("evaluation stopped after %d instructions (endless loop?)",
		M.INSTRUCTION_BUDGET), 2)
end

-- Runs fn with print() redirected into `lines`, under the instruction budget.
local function run(env, fn, lines)
	local saved_print = rawget(env, "print")
	env.print = function(...)
		local parts = table.pack(...)
		for i = 1, parts.n do parts[i] = tostring(parts[i]) end
		lines[#lines + 1] = table.concat(parts, "\t", 1, parts.n)
	end
	debug.sethook(budget_hook, "", M.INSTRUCTION_BUDGET)
	local result = table.pack(xpcall(fn, function(e)
		if type(e) == "string" then return e end
		return "error object: " .. M.pretty(e)
	end))
	debug.sethook()
	env.print = saved_print
	return result
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
	local fn, err = compile(s.buffer, env)
	if err == "more" then return "more", "" end
	s.buffer = nil
	if not fn then return "error", err end
	local lines = {}
	local r = run(env, fn, lines)
	if not r[1] then return "error", r[2] end
	if r.n > 1 then
		local values = {}
		for i = 2, r.n do values[#values + 1] = M.pretty(r[i]) end
		lines[#lines + 1] = table.concat(values, "\t")
	end
	return "ok", #lines > 0 and (table.concat(lines, "\n") .. "\n") or ""
end

return M
