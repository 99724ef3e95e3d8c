-- SPDX-License-Identifier: MIT
--- Declarative schemas for configuration tables.
--
-- A schema is a table with a `check(value, path)` function that returns the
-- normalized value, or nil and an error `{ path = {...}, message = "..." }`.
-- Builders below cover the field kinds the configuration uses; records
-- reject unknown keys and suggest the closest known one.
local core = require "moonvpn.core"

local M = {}

local function fail(path, fmt, ...)
	return nil, { path = path, message = string.format(fmt, ...) }
end

local function child(path, key)
	local p = table.move(path, 1, #path, 1, {})
	p[#p + 1] = key
	return p
end

--- Renders a Lua value for an error message: strings quoted (control
-- characters escaped, so the message stays one line), others typed.
function M.show(value)
	local t = type(value)
	if t == "string" then
		return (string.format("%q", value):gsub("\\\n", "\\n"):gsub("\r", "\\r"))
	elseif t == "number" or t == "boolean" or t == "nil" then
		return tostring(value)
	end
	return "a " .. t
end

local function expected(path, what, value)
	local got = type(value) == "string" and M.show(value)
		or (type(value) == "number" and "number " .. tostring(value))
		or M.show(value)
	return fail(path, "expected %s, got %s", what, got)
end

-- Edit distance with transpositions (optimal string alignment), so that
-- "tpye" is one edit from "type", for "did you mean".
local function distance(a, b)
	local d = {}
	for i = 0, #a do d[i] = { [0] = i } end
	for j = 0, #b do d[0][j] = j end
	for i = 1, #a do
		for j = 1, #b do
			local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
			d[i][j] = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
			if i > 1 and j > 1 and a:sub(i, i) == b:sub(j - 1, j - 1)
				and a:sub(i - 1, i - 1) == b:sub(j, j) then
				d[i][j] = math.min(d[i][j], d[i - 2][j - 2] + 1)
			end
		end
	end
	return d[#a][#b]
end

--- The known name closest to `name`, if it is close enough to be a typo.
function M.closest(name, names)
	local best, best_d
	for _, candidate in ipairs(names) do
		local d = distance(name:lower(), candidate:lower())
		if not best_d or d < best_d or (d == best_d and candidate < best) then
			best, best_d = candidate, d
		end
	end
	if best and best_d <= math.max(1, #name // 3) then return best end
	return nil
end

function M.string(opts)
	opts = opts or {}
	local what = opts.what or "a string"
	return { what = what, check = function(v, path)
		if type(v) ~= "string" then return expected(path, what, v) end
		if v == "" and not opts.allow_empty then return fail(path, "must not be empty") end
		if v:find("%c") then
			return fail(path, "%s contains a control character (a NUL, newline or tab)", M.show(v))
		end
		if opts.max_len and #v > opts.max_len then
			return fail(path, "%s is too long (at most %d bytes)", M.show(v), opts.max_len)
		end
		if opts.pattern and not v:match(opts.pattern) then
			return fail(path, "%s is not %s", M.show(v), what)
		end
		if opts.validate then
			local ok, why = opts.validate(v)
			if not ok then return fail(path, "%s %s", M.show(v), why) end
		end
		return v
	end }
end

function M.boolean()
	return { what = "true or false", check = function(v, path)
		if type(v) ~= "boolean" then return expected(path, "true or false", v) end
		return v
	end }
end

function M.integer(opts)
	local what = string.format("an integer from %d to %d", opts.min, opts.max)
	return { what = what, check = function(v, path)
		local n = v
		if math.type(n) == "float" then n = math.tointeger(n) end -- 1400.0 is fine, 1e20 is not
		if math.type(n) ~= "integer" or n < opts.min or n > opts.max then
			return expected(path, what, v)
		end
		return n
	end }
end

function M.enum(values)
	local quoted = {}
	for i, v in ipairs(values) do quoted[i] = string.format("%q", v) end
	local what = "one of " .. table.concat(quoted, ", ")
	return { what = what, check = function(v, path)
		for _, allowed in ipairs(values) do
			if v == allowed then return v end
		end
		if type(v) == "string" then
			local near = M.closest(v, values)
			if near then
				return fail(path, "%s is not %s (did you mean %q?)", M.show(v), what, near)
			end
		end
		return expected(path, what, v)
	end }
end

--- An IP address literal; opts.family = 4 or 6 restricts it.
function M.ip(opts)
	opts = opts or {}
	local what = opts.family and ("an IPv" .. opts.family .. " address") or "an IP address"
	return { what = what, check = function(v, path)
		if type(v) ~= "string" then return expected(path, what .. " string", v) end
		local family = core.parse_ip(v)
		if not family then return fail(path, "%s is not %s", M.show(v), what) end
		if opts.family and family ~= opts.family then
			return fail(path, "%s is not %s", M.show(v), what)
		end
		return v
	end }
end

--- A CIDR prefix "addr/len", normalized to lower case; host bits must be clear.
function M.cidr(opts)
	opts = opts or {}
	local what = opts.family and ("an IPv" .. opts.family .. " CIDR prefix") or "a CIDR prefix"
	return { what = what, check = function(v, path)
		if type(v) ~= "string" then
			return expected(path, what .. " string like " .. (opts.example or '"10.8.0.0/24"'), v)
		end
		local p = core.parse_prefix(v)
		if not p then return fail(path, "%s is not a CIDR prefix", M.show(v)) end
		if opts.family and p.family ~= opts.family then
			return fail(path, "%s is not %s", M.show(v), what)
		end
		if p.network ~= p.text then
			return fail(path, "%s has host bits set (did you mean %q?)", M.show(v), p.network)
		end
		local min_len, max_len = opts["min_len" .. p.family], opts["max_len" .. p.family]
		if (min_len and p.len < min_len) or (max_len and p.len > max_len) then
			return fail(path, "%s: prefix length must be from /%d to /%d", M.show(v),
				min_len or 0, max_len or (p.family == 4 and 32 or 128))
		end
		return p.network
	end }
end

-- A host name as a client's remote may give one (client.c's is_host_name).
local function is_host_name(host)
	return #host < 256 and host:match("^[%w_][%w%.%-_]*$") ~= nil
end

--- "scheme://host:port" with a literal address ("[...]" for IPv6), or with
-- opts.names a host name too.
function M.endpoint(opts)
	local schemes = opts.schemes
	local what = "an endpoint like \"" .. schemes[1] .. "://0.0.0.0:1194\""
	return { what = what, check = function(v, path)
		if type(v) ~= "string" then return expected(path, what, v) end
		local scheme, rest = v:match("^(%a+)://(.+)$")
		if not scheme then return fail(path, "%s is not %s", M.show(v), what) end
		local ok_scheme = false
		for _, s in ipairs(schemes) do ok_scheme = ok_scheme or s == scheme end
		if not ok_scheme then
			return fail(path, "%s: unknown transport %q (expected %s)", M.show(v), scheme,
				table.concat(schemes, " or "))
		end
		local host, port = rest:match("^%[([^%]]+)%]:(%d+)$")
		if not host then host, port = rest:match("^([^:]+):(%d+)$") end
		if not host then return fail(path, "%s is not %s", M.show(v), what) end
		if not core.parse_ip(host) and not (opts.names and is_host_name(host)) then
			return fail(path, "%s: %q is not an IP address literal%s", M.show(v), host,
				opts.names and " or a host name" or "")
		end
		local n = tonumber(port)
		if n < 1 or n > 65535 then
			return fail(path, "%s: port %s is not from 1 to 65535", M.show(v), port)
		end
		return v
	end }
end

--- A sequence of `item`; opts.min, opts.max, opts.unique.
function M.list(item, opts)
	opts = opts or {}
	local what = "a list of " .. item.what
	return { what = what, check = function(v, path)
		if type(v) ~= "table" then return expected(path, what, v) end
		local n = #v
		for k in pairs(v) do
			if math.type(k) ~= "integer" or k < 1 or k > n then
				return fail(child(path, k), "unexpected key in %s (use a plain list { ... })", what)
			end
		end
		if opts.min and n < opts.min then
			return fail(path, "needs at least %d entr%s", opts.min, opts.min == 1 and "y" or "ies")
		end
		if opts.max and n > opts.max then
			return fail(path, "has %d entries; at most %d are allowed", n, opts.max)
		end
		local out, seen = {}, {}
		for i = 1, n do
			local value, err = item.check(v[i], child(path, i))
			if err then return nil, err end
			if opts.unique and seen[value] then
				return fail(child(path, i), "%s is listed twice", M.show(value))
			end
			seen[value] = true
			out[i] = value
		end
		return out
	end }
end

--- A table with known fields. fields[name] = { schema, required = bool, default = v }.
-- opts.check(normalized, path) may return nil, err for cross-field rules.
function M.record(fields, opts)
	opts = opts or {}
	local names = {}
	for name in pairs(fields) do names[#names + 1] = name end
	table.sort(names)
	-- fields: the names, sorted; field_schema(name): a field's schema (for tools).
	return { what = opts.what or "a table", fields = names,
		field_schema = function(name) return fields[name] and fields[name][1] end,
		check = function(v, path)
		if type(v) ~= "table" then return expected(path, opts.what or "a table { ... }", v) end
		for k in pairs(v) do
			if type(k) ~= "string" then
				return fail(path, "unexpected key %s (expected named fields)", M.show(k))
			end
			if not fields[k] then
				local near = M.closest(k, names)
				return fail(child(path, k), "unknown key%s", near and
					string.format(" (did you mean %q?)", near) or
					" (known keys: " .. table.concat(names, ", ") .. ")")
			end
		end
		local out = {}
		for _, name in ipairs(names) do
			local f = fields[name]
			local value = v[name]
			if value == nil then
				if f.required then
					return fail(child(path, name), "is required (%s)", f[1].what)
				end
				value = f.default
				if type(value) == "table" then value = f[1].check(value, child(path, name)) end
			else
				local err
				value, err = f[1].check(value, child(path, name))
				if err then return nil, err end
			end
			out[name] = value
		end
		if opts.check then
			local ok, err = opts.check(out, path)
			if not ok then return nil, err end
		end
		return out
	end }
end

M.fail = fail

--- Renders an error path: { "server", "push", "routes", 2 } -> "server.push.routes[2]".
function M.path_string(path)
	local parts = {}
	for i, k in ipairs(path) do
		if type(k) ~= "string" then
			parts[#parts + 1] = "[" .. tostring(k) .. "]"
		else
			parts[#parts + 1] = (i > 1 and "." or "") .. tostring(k)
		end
	end
	return table.concat(parts)
end

return M
