-- SPDX-License-Identifier: MIT
--- The interface of authentication providers (plugins/auth_*.lua), and
-- what they share.
--
-- A provider is a table with
--   provider:check(client, username, password) -> true | nil, "message"
-- which may yield (vpn.exec, vpn.sleep). It is what on.auth returns:
--
--   local verify = require("auth_script").new { command = { "/etc/openvpn/verify.sh" } }
--   function office.on.auth(client, username, password)
--     return verify:check(client, username, password)
--   end
local config = require "moonvpn.config"
local core = require "moonvpn.core"

local M = {}

--- Checks that `provider` (from plugin `name`) implements the interface;
-- returns it, or raises an error naming what is missing.
function M.provider(name, provider)
	if type(provider) ~= "table" or type(provider.check) ~= "function" then
		error(string.format("auth provider %s: expected a table with a check(client, username, "
			.. "password) method", name), 3)
	end
	return provider
end

local watched_mt = {}
watched_mt.__index = watched_mt

--- A file of "name:value" lines ('#' starts a comment), parsed again when
-- it changes (inode, size or modification time). A relative path is relative
-- to the configuration file's directory. `what` names it in errors.
-- Raises an error when it cannot be read or parsed at first.
function M.watched_file(path, what, parse_value)
	local self = setmetatable({ path = config.resolve(path), what = what, parse_value = parse_value },
		watched_mt)
	local ok, err = self:refresh()
	if not ok then error(err, 2) end
	return self
end

local function parse(text, path, what, parse_value)
	local entries, n = {}, 0
	for line in (text .. "\n"):gmatch("([^\n]*)\n") do
		n = n + 1
		line = line:gsub("\r$", "")
		if line:find("%S") and not line:find("^%s*#") then
			local name, value = line:match("^([^:%s]+):(%S+)%s*$")
			if not name then
				return nil, string.format("%s:%d: %s: expected \"name:value\"", path, n, what)
			end
			local parsed, err = parse_value(value)
			if not parsed then return nil, string.format("%s:%d: %s: %s", path, n, what, err) end
			entries[name] = parsed
		end
	end
	return entries
end

--- Re-reads the file if it changed; true, or nil and why (the old entries stay).
function watched_mt:refresh()
	local stamp, err = core.file_stamp(self.path)
	if not stamp then return nil, string.format("%s: %s: %s", self.what, self.path, err) end
	if stamp == self.stamp then return true end
	local f, open_err = io.open(self.path, "r")
	if not f then return nil, string.format("%s: %s", self.what, open_err) end
	local text = f:read("a")
	f:close()
	local entries, parse_err = parse(text, self.path, self.what, self.parse_value)
	if not entries then return nil, parse_err end
	self.entries, self.stamp = entries, stamp
	return true
end

--- The value for name (after a refresh), or nil. A file that became
-- unreadable keeps its last good contents, and the error is returned second.
function watched_mt:get(name)
	local ok, err = self:refresh()
	return self.entries[name], not ok and err or nil
end

return M
