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
-- the client being checked. An unknown user costs the same time as a known
-- one, so timing does not tell which names exist. A file that becomes
-- unreadable or malformed keeps its last good contents, with a warning.
local vpn = require "moonvpn"
local auth = require "moonvpn.auth"

local M = {}

-- Checked for unknown users, so that they take as long as known ones.
M.DUMMY_HASH = "$y$j9T$jJB6DxEt42hpNOy420A8i1$D15yqa/x/JaBrmS3DHlSZKbq40XNF0NyCsfuLPa9B28"

local SCHEMES = { "$y$", "$gy$", "$7$", "$6$", "$5$", "$2b$", "$2y$" }

local function parse_hash(value)
	for _, prefix in ipairs(SCHEMES) do
		if value:sub(1, #prefix) == prefix then return value end
	end
	return nil, "not a yescrypt ($y$) or sha512-crypt ($6$) hash"
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
	local ok = self.verify(password, hash or M.DUMMY_HASH)
	if ok and hash then return true end
	return nil, "wrong username or password"
end

return M
