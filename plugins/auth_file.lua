-- SPDX-License-Identifier: MIT
--- A password file of crypt(3) hashes, re-read when it changes.
--
--   local passwords = require("auth_file").new { path = "users.passwd" }
--   function office.on.auth(client, username, password)
--     return passwords:check(client, username, password)
--   end
--
-- The file has one "username:hash" line per user ('#' starts a comment),
-- the hashes as /etc/shadow holds them: yescrypt ("$y$...", made by
-- `moonvpn passwd alice` or `mkpasswd -m yescrypt`) or sha512-crypt
-- ("$6$...", `openssl passwd -6`). Hashes are checked on a worker thread
-- (vpn.crypt_verify), so the tens of milliseconds each costs hold up only
-- the client being checked. Every check costs the same, so timing tells
-- neither which names exist nor which kind of hash a user has: a check
-- computes one hash of each kind (scheme and cost) the file holds, the
-- user's own among them and the others' stand-ins (another user's hash of
-- that kind, its result unused). A file mixing kinds makes each check cost
-- their sum. A file that becomes unreadable or malformed keeps its last
-- good contents, with a warning.
local vpn = require "moonvpn"
local auth = require "moonvpn.auth"

local M = {}

-- Checked when the file holds no user, so that a check costs a hash even then.
M.DUMMY_HASH = "$y$j9T$jJB6DxEt42hpNOy420A8i1$D15yqa/x/JaBrmS3DHlSZKbq40XNF0NyCsfuLPa9B28"

local SCHEMES = { "$y$", "$gy$", "$7$", "$6$", "$5$", "$2b$", "$2y$" }

local function parse_hash(value)
	for _, prefix in ipairs(SCHEMES) do
		if value:sub(1, #prefix) == prefix then return value end
	end
	return nil, "not a yescrypt ($y$) or sha512-crypt ($6$) hash"
end

--- The kind of a hash, by what checking it costs: its scheme and, where the
-- scheme has one, its cost field ("$6$", "$6$rounds=10000$", "$y$j9T$", "$2b$12$").
function M.cost_key(hash)
	local id, params = hash:match("^%$(%w+)%$([^$]*)")
	if not id then return hash end
	if id == "5" or id == "6" then -- the field is the salt unless it says rounds=
		return params:match("^rounds=%d+$") and string.format("$%s$%s$", id, params) or ("$" .. id .. "$")
	elseif id == "7" then -- scrypt: N, r and p are the 11 characters before the salt
		return "$7$" .. params:sub(1, 11)
	end
	return string.format("$%s$%s$", id, params)
end

-- One hash of each kind in entries, by kind, and the kinds in order.
local function stand_ins(entries)
	local by_kind, kinds = {}, {}
	for _, hash in pairs(entries) do
		local kind = M.cost_key(hash)
		if not by_kind[kind] then
			by_kind[kind] = hash
			kinds[#kinds + 1] = kind
		end
	end
	if #kinds == 0 then
		by_kind[M.DUMMY_HASH], kinds[1] = M.DUMMY_HASH, M.DUMMY_HASH
	end
	table.sort(kinds)
	return { by_kind = by_kind, kinds = kinds }
end

local provider_mt = { __name = "auth_file" }
provider_mt.__index = provider_mt

--- A provider over the file at opts.path. opts.verify replaces vpn.crypt_verify (for tests).
function M.new(opts)
	if type(opts) ~= "table" or type(opts.path) ~= "string" then
		error('auth_file.new: expected { path = "users.passwd" }', 2)
	end
	local self = setmetatable({
		file = auth.watched_file(opts.path, "auth_file", parse_hash),
		verify = opts.verify or vpn.crypt_verify,
	}, provider_mt)
	return auth.provider("auth_file", self)
end

--- Checks username and password against the file (yields while hashing).
function provider_mt:check(_, username, password)
	if not username or not password then return nil, "username and password required" end
	local hash, err = self.file:get(username)
	if err and err ~= self.warned then
		vpn.log("warn", err .. " (keeping the previous contents)")
	end
	self.warned = err
	if self.stand_ins_of ~= self.file.entries then
		self.stand_ins, self.stand_ins_of = stand_ins(self.file.entries), self.file.entries
	end
	-- One hash of every kind, whoever asks: the user's own for its kind.
	local own, ok = hash and M.cost_key(hash), false
	for _, kind in ipairs(self.stand_ins.kinds) do
		local match = self.verify(password, kind == own and hash or self.stand_ins.by_kind[kind])
		if kind == own then ok = match end
	end
	if ok and hash then return true end
	return nil, "wrong username or password"
end

return M
