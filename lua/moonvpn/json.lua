-- SPDX-License-Identifier: MIT
--- JSON (RFC 8259) text of Lua values, for `moonvpn console --json` and the
-- console's json(): scripts read the engine's state with jq or any JSON
-- parser. A table whose keys are exactly 1..n is an array (an empty table
-- is []), any other an object with its keys as strings, sorted; nil is
-- null. What JSON cannot say is an error naming where the value is
-- ($.clients[2].cn): cycles, functions, userdata, threads, NaN and
-- infinities, strings that are not UTF-8, keys that are not strings or
-- numbers. Metamethods are never run (rawget, next).
local M = {}

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
	["\r"] = "\\r", ["\t"] = "\\t" }

local function fail(path, what)
	error(string.format("json: %s at %s", what, path), 0)
end

local function encode_string(s, path)
	if not utf8.len(s) then fail(path, "a string that is not UTF-8 (JSON cannot carry raw bytes)") end
	return '"' .. s:gsub('[%c"\\]', function(c)
		return ESCAPES[c] or string.format("\\u%04x", c:byte())
	end) .. '"'
end

local function encode_number(n, path)
	if math.type(n) == "integer" then return string.format("%d", n) end
	if n ~= n or n == math.huge or n == -math.huge then
		fail(path, "a number JSON cannot hold (" .. tostring(n) .. ")")
	end
	if n == math.floor(n) and math.abs(n) < 2^53 then return string.format("%.1f", n) end
	return string.format("%.17g", n)
end

local function key_text(k, path)
	local t = type(k)
	if t == "string" then return k end
	if t == "number" then return math.type(k) == "integer" and string.format("%d", k) or encode_number(k, path) end
	fail(path, "a table key of type " .. t .. " (JSON keys are strings)")
end

-- The array length when t's keys are exactly 1..n, else nil.
local function array_length(t)
	local n = 0
	for k in next, t do
		if math.type(k) ~= "integer" or k < 1 then return nil end
		n = n + 1
	end
	for i = 1, n do
		if rawget(t, i) == nil then return nil end
	end
	return n
end

local encode

local function encode_table(t, path, seen, out)
	if seen[t] then fail(path, "a cycle (the table contains itself)") end
	seen[t] = true
	local n = array_length(t)
	if n then
		out[#out + 1] = "["
		for i = 1, n do
			if i > 1 then out[#out + 1] = "," end
			encode(rawget(t, i), path .. "[" .. i .. "]", seen, out)
		end
		out[#out + 1] = "]"
	else
		local keys, texts = {}, {}
		for k in next, t do
			local text = key_text(k, path)
			if texts[text] ~= nil then fail(path, "two keys that are both \"" .. text .. "\" as strings") end
			texts[text] = k
			keys[#keys + 1] = text
		end
		table.sort(keys)
		out[#out + 1] = "{"
		for i, text in ipairs(keys) do
			if i > 1 then out[#out + 1] = "," end
			local sub = text:match("^[%a_][%w_]*$") and (path .. "." .. text)
				or (path .. "[" .. string.format("%q", text) .. "]")
			out[#out + 1] = encode_string(text, path)
			out[#out + 1] = ":"
			encode(rawget(t, texts[text]), sub, seen, out)
		end
		out[#out + 1] = "}"
	end
	seen[t] = nil
end

encode = function(v, path, seen, out)
	local t = type(v)
	if v == nil then
		out[#out + 1] = "null"
	elseif t == "boolean" then
		out[#out + 1] = tostring(v)
	elseif t == "number" then
		out[#out + 1] = encode_number(v, path)
	elseif t == "string" then
		out[#out + 1] = encode_string(v, path)
	elseif t == "table" then
		encode_table(v, path, seen, out)
	else
		fail(path, "a " .. t .. " (JSON has no such value)")
	end
end

--- The JSON text of v, on one line; raises an error saying what and where it cannot encode.
function M.encode(v)
	local out = {}
	encode(v, "$", {}, out)
	return table.concat(out)
end

return M
