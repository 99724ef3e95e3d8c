-- SPDX-License-Identifier: MIT
--- Finds the line of a configuration field in the config's source text.
--
-- Lua tables do not remember where their fields were written, so an error
-- about `server.device.mtu` is placed by reading the source: starting at the
-- line of the `vpn.server {` call, each path component is searched for in
-- order (`device =` then `mtu =`), and a list index is placed on the
-- element (counted in the table constructor) or on its literal. Comments are blanked
-- first so that a commented-out field is never matched. When a field cannot
-- be found (it was built by code), the nearest enclosing one is used.
local M = {}

-- Replaces comments by spaces, keeping newlines and string contents, so that
-- positions and line numbers stay those of the original text.
local function blank_comments(text)
	local out, i, n = {}, 1, #text
	local function long_bracket_end(at)
		local eq = text:match("^%[(=*)%[", at)
		if not eq then return nil end
		local _, stop = text:find("]" .. eq .. "]", at + #eq + 2, true)
		return stop or n
	end
	while i <= n do
		local c = text:sub(i, i)
		if c == "-" and text:sub(i + 1, i + 1) == "-" then
			local stop = long_bracket_end(i + 2) or (text:find("\n", i, true) or n + 1) - 1
			out[#out + 1] = text:sub(i, stop):gsub("[^\n]", " ")
			i = stop + 1
		elseif c == "'" or c == '"' then
			local j = i + 1
			while j <= n and text:sub(j, j) ~= c and text:sub(j, j) ~= "\n" do
				j = j + (text:sub(j, j) == "\\" and 2 or 1)
			end
			out[#out + 1] = text:sub(i, j)
			i = j + 1
		elseif c == "[" and long_bracket_end(i) then
			local stop = long_bracket_end(i)
			out[#out + 1] = text:sub(i, stop)
			i = stop + 1
		else
			out[#out + 1] = c
			i = i + 1
		end
	end
	return table.concat(out)
end

local function line_start(text, line)
	local pos = 1
	for _ = 2, line do
		local nl = text:find("\n", pos, true)
		if not nl then return nil end
		pos = nl + 1
	end
	return pos
end

local function line_of(text, pos)
	local _, count = text:sub(1, pos - 1):gsub("\n", "")
	return count + 1
end

local function find_key(text, key, from)
	local escaped = key:gsub("%p", "%%%0")
	local s, e = text:find("%f[%w_]" .. escaped .. "%s*=", from)
	local s2, e2 = text:find("%[%s*[\"']" .. escaped .. "[\"']%s*%]%s*=", from)
	if s2 and (not s or s2 < s) then return s2, e2 end
	return s, e
end

-- The end of the string literal that starts at i (its closing quote).
local function string_end(text, i)
	local q, j = text:sub(i, i), i + 1
	while j <= #text and text:sub(j, j) ~= q and text:sub(j, j) ~= "\n" do
		j = j + (text:sub(j, j) == "\\" and 2 or 1)
	end
	return j
end

-- The position of the index-th element of the table constructor that opens
-- at or after pos (`rules = { {...}, {...} }`), or nil.
local function find_element(text, pos, index)
	local i = text:find("{", pos, true)
	if not i then return nil end
	local depth, count, expect = 0, 0, false
	while i <= #text do
		local c = text:sub(i, i)
		if depth == 1 and expect and not c:find("[%s,}]") then
			count, expect = count + 1, false
			if count == index then return i end
		end
		if c == '"' or c == "'" then
			i = string_end(text, i)
		elseif c == "{" then
			depth = depth + 1
			expect = expect or depth == 1
		elseif c == "}" then
			depth = depth - 1
			if depth == 0 then return nil end
		elseif c == "," and depth == 1 then
			expect = true
		end
		i = i + 1
	end
	return nil
end

--- Returns the line of `path` (components after the root) given the line
-- of the call that received the table, or that call's line.
-- `value` is the offending value, used to place list elements.
function M.locate(text, call_line, path, value)
	text = blank_comments(text)
	local pos = line_start(text, call_line)
	if not pos then return call_line end
	local best = pos
	for _, key in ipairs(path) do
		local s, e
		if math.type(key) == "integer" then
			s = find_element(text, pos, key)
			e = s
		elseif type(key) == "string" then
			s, e = find_key(text, key, pos)
		end
		if not s then break end
		best, pos = s, e + (math.type(key) == "integer" and 0 or 1)
	end
	local lit = type(value) == "string" and string.format("%q", value)
		or (math.type(value) and tostring(value))
	if lit and math.type(path[#path]) == "integer" then
		local s = text:find(lit, pos, true)
		if s then best = s end
	end
	return line_of(text, best)
end

M._blank_comments = blank_comments
return M
