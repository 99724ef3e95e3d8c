-- SPDX-License-Identifier: MIT
--- An OpenVPN `auth-user-pass-verify` script, run unchanged from on.auth.
--
--   local script = require "auth_script"
--   local verify = script.new { command = { "/etc/openvpn/verify.sh" }, method = "via-env" }
--   function office.on.auth(client, username, password)
--     return verify:check(client, username, password)
--   end
--
-- As OpenVPN runs it: exit status 0 lets the client in, anything else
-- refuses it. `method = "via-env"` (default) passes the credentials in the
-- environment variables `username` and `password`; `"via-file"` writes them
-- (two lines) to a temporary file of mode 0600 whose path is the script's
-- last argument, removed afterwards. Control characters in either become
-- '_', as OpenVPN makes them. Either way the script also gets
-- OpenVPN's usual variables: script_type=user-pass-verify, common_name,
-- untrusted_ip, untrusted_port, tls_serial_0, tls_digest_sha256_0,
-- X509_0_CN, and the client's peer-info (IV_VER, IV_PLAT, UV_*, ...).
-- A relative script path ("scripts/verify.sh") is relative to the
-- configuration file's directory; a bare name is looked up on PATH.
-- The script runs through vpn.exec: it never blocks the engine, and is
-- killed after `timeout` seconds (default 10), which refuses the client.
local vpn = require "moonvpn"
local auth = require "moonvpn.auth"
local config = require "moonvpn.config"

local M = {}

local provider_mt = { __name = "auth_script" }
provider_mt.__index = provider_mt

--- A provider for the script `opts.command` (a list: program and arguments).
function M.new(opts)
	if type(opts) ~= "table" or type(opts.command) ~= "table" or type(opts.command[1]) ~= "string" then
		error('auth_script.new: expected { command = { "/path/to/script", "arg", ... } }', 2)
	end
	local method = opts.method or "via-env"
	if method ~= "via-env" and method ~= "via-file" then
		error(string.format('auth_script.new: method must be "via-env" or "via-file", got %q',
			tostring(method)), 2)
	end
	local timeout = opts.timeout or 10
	if type(timeout) ~= "number" or timeout <= 0 or timeout > 86400 then
		error(string.format("auth_script.new: timeout must be from 0 to 86400 seconds, got %s",
			tostring(timeout)), 2)
	end
	local command = table.move(opts.command, 1, #opts.command, 1, {})
	-- "scripts/verify.sh" is relative to the configuration's directory; "verify" is on PATH.
	if command[1]:find("/") then command[1] = config.resolve(command[1]) end
	local self = setmetatable({ command = command, method = method,
		timeout = timeout, name = command[1] }, provider_mt)
	return auth.provider("auth_script", self)
end

-- OpenVPN's environment for a user-pass-verify script.
function M.environment(client, username)
	local env = {
		script_type = "user-pass-verify",
		common_name = client.cn ~= "" and client.cn or nil,
		untrusted_ip = client.ip,
		untrusted_port = client.port and tostring(client.port),
		tls_serial_hex_0 = client.serial ~= "" and client.serial or nil,
		tls_digest_sha256_0 = client.fingerprint ~= "" and client.fingerprint:lower() or nil,
		X509_0_CN = client.cn ~= "" and client.cn or nil,
		username = username,
	}
	if client.serial and client.serial ~= "" then
		env.tls_serial_0 = tostring(math.tointeger(tonumber(client.serial, 16)) or client.serial)
	end
	-- Only the client's IV_* and UV_* variables, as OpenVPN passes them, and never over
	-- ours: peer-info is the client's to write (it could set common_name, or BASH_ENV).
	for name, value in pairs(client.peer_info or {}) do
		if (name:match("^IV_[%w_]+$") or name:match("^UV_[%w_]+$")) and env[name] == nil then
			env[name] = value
		end
	end
	return env
end

--- What a script is given of the client's text: control characters (a
-- newline that would add a line to the via-file credentials, say) become
-- '_', as OpenVPN does to the username and password before any script or
-- plugin sees them (ssl_verify.c, verify_user_pass).
function M.clean(text)
	return (text:gsub("%c", "_"))
end

local function write_credentials(username, password)
	local path = os.tmpname() -- created with mode 0600
	local f, err = io.open(path, "w")
	if not f then return nil, err end
	f:write(username, "\n", password, "\n")
	f:close()
	return path
end

--- Runs the script for this client (yields). true, or nil and why.
function provider_mt:check(client, username, password)
	username, password = M.clean(username or ""), M.clean(password or "")
	local argv = table.move(self.command, 1, #self.command, 1, {})
	argv.env = M.environment(client, username)
	argv.timeout = self.timeout
	local file
	if self.method == "via-env" then
		argv.env.password = password
	else
		local err
		file, err = write_credentials(username, password)
		if not file then error("auth_script: cannot write the credentials file: " .. err, 2) end
		argv[#argv + 1] = file
	end
	-- Removed however the hook ends: also when it is cancelled or times out in vpn.exec.
	local _ <close> = setmetatable({}, { __close = function() if file then os.remove(file) end end })
	local status, out, err, why = vpn.exec(argv)
	if status == nil then error("auth_script: " .. out, 2) end
	if status == 0 then return true end
	if why or err ~= "" then
		vpn.log("warn", string.format("auth_script %s: exit %d%s%s", self.name, status,
			why and (", " .. why) or "", err ~= "" and (": " .. err:gsub("%s+$", "")) or ""))
	end
	return nil, "authentication failed"
end

return M
