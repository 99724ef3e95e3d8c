-- SPDX-License-Identifier: MIT
--- TOTP (RFC 6238) one-time codes, alone or as the second factor after a
-- password provider.
--
--   local totp = require "auth_totp"
--   local passwords = require("auth_file").new { path = "users.passwd" }
--   local otp = totp.new { secrets = "users.totp", first = passwords }
--   function office.on.auth(client, username, password)
--     return otp:check(client, username, password)
--   end
--
-- `secrets` is a file of "username:BASE32SECRET" lines (re-read when it
-- changes) or a table { username = "BASE32SECRET" }. The code comes as
-- OpenVPN's static-challenge clients send it (`static-challenge "Code" 1`
-- makes the password "SCRV1:<base64 password>:<base64 code>"), or appended
-- to the password ("secret123456"). Options: digits (6), period (30 s),
-- window (1 step either side), algorithm ("SHA1", "SHA256", "SHA512").
-- A code is accepted once: a replayed or older one is refused, also after a
-- reload (the memory of used codes is the module's, not the provider's).
-- A wrong code and a wrong password get the same answer, after the same
-- work: the password is checked (with `first`) whatever the code.
local core = require "moonvpn.core"
local auth = require "moonvpn.auth"

local M = {}

local B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function decode(text, alphabet, bits)
	local value, count, out = 0, 0, {}
	for ch in text:gmatch("[^%s=]") do
		local i = alphabet:find(ch, 1, true)
		if not i then return nil end
		value = (value << bits) | (i - 1)
		count = count + bits
		if count >= 8 then
			count = count - 8
			out[#out + 1] = string.char((value >> count) & 0xff)
		end
	end
	return table.concat(out)
end

--- RFC 4648 base32 (case-insensitive, padding optional) to bytes, or nil.
function M.base32_decode(text)
	return decode(text:upper(), B32, 5)
end

--- RFC 4648 base64 to bytes, or nil.
function M.base64_decode(text)
	return decode(text, B64, 6)
end

--- The code for `secret` (bytes) at Unix time `t` (RFC 6238 with RFC 4226's truncation).
function M.code(secret, t, opts)
	opts = opts or {}
	local digits, period = opts.digits or 6, opts.period or 30
	local mac = core.hmac(opts.algorithm or "SHA1", secret, string.pack(">I8", t // period))
	local offset = (mac:byte(#mac) & 0x0f) + 1
	local bin = string.unpack(">I4", mac, offset) & 0x7fffffff
	return string.format("%0" .. digits .. "d", bin % math.tointeger(10 ^ digits))
end

--- Splits what a client sent into the password and the code: the
-- static-challenge form "SCRV1:<base64>:<base64>", else the last `digits`
-- characters. Returns password, code (either may be "").
function M.split(password, digits)
	local pw64, code64 = password:match("^SCRV1:([^:]*):([^:]*)$")
	if pw64 then return M.base64_decode(pw64) or "", M.base64_decode(code64) or "" end
	return password:sub(1, -digits - 1), password:sub(-digits)
end

-- The last time step used, by algorithm, period, user and secret: kept here,
-- outside the providers, because a reload makes new providers and a code
-- used before it must stay used. An entry matters while its step can still
-- be inside a window (at most WINDOW_MAX steps back); older ones are swept.
local WINDOW_MAX = 10
local shared_used = { steps = {}, until_time = {}, count = 0, sweep_at = 1024 }

local function sweep(used, now)
	for key, t in pairs(used.until_time) do
		if now >= t then
			used.steps[key], used.until_time[key] = nil, nil
			used.count = used.count - 1
		end
	end
	used.sweep_at = math.max(1024, 2 * used.count)
end

-- A stand-in secret for unknown users, so that they cost the same HMACs.
local DUMMY_SECRET = string.rep("\0", 20)

local provider_mt = { __name = "auth_totp" }
provider_mt.__index = provider_mt

local function parse_secret(value)
	local secret = M.base32_decode(value)
	if not secret or #secret < 10 then return nil, "not a base32 secret of at least 80 bits" end
	return secret
end

--- A provider. opts: secrets (path or table), first (a provider checked on
-- the password part), digits, period, window, algorithm, now (a clock, for
-- tests), used (the memory of used codes, for tests; default: the module's).
function M.new(opts)
	if type(opts) ~= "table" or (type(opts.secrets) ~= "string" and type(opts.secrets) ~= "table") then
		error('auth_totp.new: expected { secrets = "file" or { user = "BASE32SECRET" } }', 2)
	end
	local algorithm = opts.algorithm or "SHA1"
	if algorithm ~= "SHA1" and algorithm ~= "SHA256" and algorithm ~= "SHA512" then
		error(string.format('auth_totp.new: algorithm must be "SHA1", "SHA256" or "SHA512", got %q',
			tostring(algorithm)), 2)
	end
	local function integer(name, default, min, max)
		local v = opts[name] == nil and default or opts[name]
		if math.type(v) ~= "integer" or v < min or v > max then
			error(string.format("auth_totp.new: %s must be an integer from %d to %d, got %s", name,
				min, max, tostring(v)), 3)
		end
	end
	integer("digits", 6, 6, 9)
	integer("period", 30, 1, 3600)
	integer("window", 1, 0, 10)
	local self = setmetatable({ digits = opts.digits or 6, period = opts.period or 30,
		window = opts.window or 1, algorithm = algorithm, first = opts.first,
		now = opts.now or os.time, used = opts.used or shared_used }, provider_mt)
	if self.used ~= shared_used then
		self.used.steps, self.used.until_time = self.used.steps or {}, self.used.until_time or {}
		self.used.count, self.used.sweep_at = self.used.count or 0, self.used.sweep_at or 1024
	end
	if type(opts.secrets) == "string" then
		self.file = auth.watched_file(opts.secrets, "auth_totp secrets", parse_secret)
	else
		self.table = {}
		for user, value in pairs(opts.secrets) do
			self.table[user] = assert(parse_secret(value), "auth_totp.new: secrets." .. tostring(user))
		end
	end
	if self.first then auth.provider("auth_totp.first", self.first) end
	return auth.provider("auth_totp", self)
end

function provider_mt:secret(username)
	if self.table then return self.table[username] end
	return (self.file:get(username))
end

--- The time step the code is valid for (within the window), or nil.
function provider_mt:matching_step(secret, code)
	local now = self.now()
	local step = now // self.period
	for d = -self.window, self.window do
		local t = (step + d) * self.period
		if core.equal(M.code(secret, t, self), code) then return step + d end
	end
	return nil
end

-- The fields are length-prefixed: a user name may contain ':' and a secret is raw
-- bytes, so joined with a separator alone ("a:b" with "c", "a" with "b:c") two
-- different users could share one entry, and one's code would burn the other's.
function provider_mt:used_key(username, secret)
	return string.format("%s:%d:%d:%s%d:%s", self.algorithm, self.period, #username, username,
		#secret, secret)
end

-- Marks the code's step used (or gives it back: step is then the one before).
function provider_mt:mark(key, step)
	local used = self.used
	if used.steps[key] == nil and step ~= nil then used.count = used.count + 1 end
	if used.steps[key] ~= nil and step == nil then used.count = used.count - 1 end
	used.steps[key] = step
	used.until_time[key] = step and (step + WINDOW_MAX + 1) * self.period or nil
	if used.count >= used.sweep_at then sweep(used, self.now()) end
end

--- Checks the code (and the password with `first`). May yield (through `first`).
-- Whatever is wrong (user, code or password), the answer is the same.
function provider_mt:check(client, username, password)
	if not username or not password then return nil, "username, password and code required" end
	local secret = self:secret(username)
	local pw, code = M.split(password, self.digits)
	local step = #code == self.digits and self:matching_step(secret or DUMMY_SECRET, code)
	local key = self:used_key(username, secret or DUMMY_SECRET)
	local before = self.used.steps[key]
	local fresh = secret and step and step > (before or -1)
	-- Taken before the password check yields, so a second login with this code
	-- meanwhile is refused; given back if the password is wrong.
	if fresh then self:mark(key, step) end
	local ok = true
	if self.first then ok = self.first:check(client, username, pw) end
	if fresh and ok then return true end
	if fresh and self.used.steps[key] == step then self:mark(key, before) end
	return nil, "authentication failed"
end

return M
