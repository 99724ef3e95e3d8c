-- SPDX-License-Identifier: MIT
--- Per-packet policy: the rules an operator declares, validated and
-- compiled for the C core, which matches them on every packet.
--
--   policy = {
--     default = "accept",                         -- when no rule matches
--     rules = {
--       { verdict = "drop", proto = "tcp", dport = 25 },
--       { verdict = "reject", direction = "in", dst = "10.0.0.0/8", dport = "8000-8999" },
--       { verdict = "accept", proto = "icmp", icmp_type = 8, group = "admins" },
--       { verdict = "drop", cn = { "guest1", "guest2" }, dst = "192.168.0.0/16" },
--     },
--   }
--
-- First match wins. A field left out matches anything. `direction` is "in"
-- (from a client to the network), "out" (to a client) or "both"
-- (default). `group` matches clients that on.connect put in that group
-- (client:group "admins"), `cn` their certificate's common name; a rule
-- with both matches a client that has any of the names listed in either. `reject`
-- answers TCP with a reset and anything else with ICMP "administratively
-- prohibited", so the sender fails at once.
local schema = require "moonvpn.schema"

local S = schema
local M = {}

M.VERDICTS = { "accept", "drop", "reject" }
M.PROTOCOLS = { tcp = 6, udp = 17, icmp = 1, icmpv6 = 58 }
M.RULES_MAX = 65536
M.GROUPS_MAX = 64
M.PREFIXES_MAX = 262144 -- source and destination networks in all rules (policy.h)

local function one_or_list(item)
	local list = S.list(item, { min = 1, max = 64, unique = true })
	return {
		what = item.what .. " or a list of them",
		check = function(v, path)
			if type(v) == "table" then return list.check(v, path) end
			local one, err = item.check(v, path)
			if err then return nil, err end
			return { one }
		end,
	}
end

-- 25, or "8000-8999": a { lo, hi } range.
local ports = {
	what = 'a port (25) or a range ("8000-8999")',
	check = function(v, path)
		local lo, hi
		if math.type(v) == "integer" then
			lo, hi = v, v
		elseif type(v) == "string" then
			local a, b = v:match("^(%d+)%-(%d+)$")
			lo, hi = tonumber(a), tonumber(b)
		end
		if not lo or lo < 0 or hi > 65535 or lo > hi then
			return S.fail(path, '%s is not a port from 0 to 65535 or a range like "8000-8999"',
				S.show(v))
		end
		return { lo, hi }
	end,
}

local proto = {
	what = 'a protocol ("tcp", "udp", "icmp", "icmpv6" or a number)',
	check = function(v, path)
		if math.type(v) == "integer" and v >= 0 and v <= 255 then return v end
		if type(v) == "string" and M.PROTOCOLS[v] then return M.PROTOCOLS[v] end
		return S.fail(path, '%s is not "tcp", "udp", "icmp", "icmpv6" or a protocol number',
			S.show(v))
	end,
}

local name = S.string { what = "a name" }

local function check_rule(r, path)
	local function at(field)
		local p = table.move(path, 1, #path, 1, {})
		p[#p + 1] = field
		return p
	end
	if (r.sport or r.dport) and r.proto ~= 6 and r.proto ~= 17 then
		return S.fail(at(r.sport and "sport" or "dport"), 'ports need proto = "tcp" or "udp"')
	end
	if r.icmp_type and r.proto ~= 1 and r.proto ~= 58 then
		return S.fail(at("icmp_type"), 'an ICMP type needs proto = "icmp" or "icmpv6"')
	end
	return true
end

local function rule_fields(for_client)
	local fields = {
		verdict = { S.enum(M.VERDICTS), required = true },
		direction = { S.enum { "both", "in", "out" }, default = "both" },
		proto = { proto },
		src = { one_or_list(S.cidr()) },
		dst = { one_or_list(S.cidr()) },
		sport = { ports },
		dport = { ports },
		icmp_type = { S.integer { min = 0, max = 255 } },
	}
	if not for_client then
		fields.cn = { one_or_list(name) }
		fields.group = { one_or_list(name) }
	end
	return fields
end

--- One rule of the configuration's policy.
M.rule = S.record(rule_fields(false), {
	what = 'a rule like { verdict = "drop", proto = "tcp", dport = 25 }', check = check_rule })
--- One rule of a client's own (client:rule in on.connect): no cn or group, it is this client's.
M.client_rule = S.record(rule_fields(true), {
	what = 'a rule like { verdict = "drop", proto = "tcp", dport = 25 }', check = check_rule })

--- The server's `policy` field.
M.schema = S.record({
	default = { S.enum(M.VERDICTS), default = "accept" },
	rules = { S.list(M.rule, { max = M.RULES_MAX }), default = {} },
	-- The flow table: verdicts of this many flows, forgotten after flow_idle
	-- seconds without packets; at most `pending` flows wait for on.flow at
	-- once (each client may always have one), and `fallback` is the verdict
	-- when on.flow fails or a client is past its share of on.flow (core/data/filter.h:
	-- 100 new flows a second after a burst of 200, 64 waiting).
	flows = { S.integer { min = 1024, max = 16777216 }, default = 65536 },
	flow_idle = { S.integer { min = 1, max = 86400 }, default = 300 },
	pending = { S.integer { min = 1, max = 4096 }, default = 1024 },
	fallback = { S.enum { "drop", "reject", "accept" }, default = "drop" },
}, {
	what = "a table { default = \"accept\", rules = { ... } }",
	check = function(p, path)
		local seen, n, prefixes = {}, 0, 0
		for _, r in ipairs(p.rules) do
			prefixes = prefixes + #(r.src or {}) + #(r.dst or {})
			for _, key in ipairs { "cn", "group" } do
				for _, v in ipairs(r[key] or {}) do
					if not seen[key .. ":" .. v] then n, seen[key .. ":" .. v] = n + 1, true end
				end
			end
		end
		if prefixes > M.PREFIXES_MAX then
			local at = table.move(path, 1, #path, 1, {})
			at[#at + 1] = "rules"
			return S.fail(at, "name %d networks in src and dst; at most %d", prefixes, M.PREFIXES_MAX)
		end
		if p.pending > p.flows // 2 then
			local at = table.move(path, 1, #path, 1, {})
			at[#at + 1] = "pending"
			return S.fail(at, "%d must be at most half of flows (%d)", p.pending, p.flows)
		end
		if n > M.GROUPS_MAX then
			local at = table.move(path, 1, #path, 1, {})
			at[#at + 1] = "rules"
			return S.fail(at, "names %d groups and common names; at most %d", n, M.GROUPS_MAX)
		end
		return true
	end,
})

local DIRECTIONS = { ["in"] = 1, out = 2, both = 3 }

--- The form the C core reads (lua_policy.c): numbers and prefix lists, group
-- names as bits. `source` keeps each rule as written, for policy().
function M.compile(p)
	local bits, next_bit = {}, 0
	local function bit_of(key)
		if not bits[key] then bits[key], next_bit = 1 << next_bit, next_bit + 1 end
		return bits[key]
	end
	local out = { default = p.default or "accept", rules = {}, bits = bits }
	for i, r in ipairs(p.rules or {}) do
		local groups = 0
		for _, v in ipairs(r.cn or {}) do groups = groups | bit_of("cn:" .. v) end
		for _, v in ipairs(r.group or {}) do groups = groups | bit_of("group:" .. v) end
		out.rules[i] = {
			verdict = r.verdict, directions = DIRECTIONS[r.direction or "both"],
			proto = r.proto or -1, src = r.src or {}, dst = r.dst or {},
			sport = r.sport or { 0, 65535 }, dport = r.dport or { 0, 65535 },
			icmp_type = r.icmp_type or -1, groups = groups, source = r,
		}
	end
	return out
end

-- The compiled policy in force (set by activate), for the group bits of new clients.
M.active = M.compile { default = "accept", rules = {} }

--- Compiles the configuration's policy for the C core; not in force until activate.
function M.prepare(p)
	return M.compile(p or { default = "accept", rules = {} })
end

--- Makes a compiled policy the one new clients' groups are reckoned against
-- (once the C core took it).
function M.activate(compiled)
	M.active = compiled
end

--- The group bits of a client (its cn and the groups on.connect gave it) in a compiled policy.
function M.client_groups(compiled, cn, groups)
	local mask = compiled.bits["cn:" .. (cn or "")] or 0
	for _, g in ipairs(groups or {}) do mask = mask | (compiled.bits["group:" .. g] or 0) end
	return mask
end

return M
