-- SPDX-License-Identifier: MIT
-- plugins/auth_script.lua: an OpenVPN auth-user-pass-verify shell script,
-- unchanged, decides on stock OpenVPN 2.6 clients. #netns: needs root.
local hooked = require "spec.helpers.hooked"
local netns = require "spec.helpers.netns"

-- Written as people write them for OpenVPN: credentials from the
-- environment (via-env) or from the file named by the last argument (via-file).
local VIA_ENV = [[#!/bin/sh
[ "$script_type" = user-pass-verify ] || exit 1
echo "env: $common_name $untrusted_ip $IV_PLAT $tls_digest_sha256_0" >&2
[ "$username" = alice ] && [ "$password" = "s3cret pass" ] && exit 0
exit 1
]]
local VIA_FILE = [[#!/bin/sh
user=$(sed -n 1p "$1"); pass=$(sed -n 2p "$1")
[ "$user" = alice ] && [ "$pass" = "s3cret pass" ] && exit 0
exit 1
]]

describe("plugins.auth_script", function()
	it("passes only the client's IV_ and UV_ variables, never over its own", function()
		local env = require("auth_script").environment({
			cn = "alice", ip = "10.0.0.2", port = 5000, serial = "0A", fingerprint = "AB:CD",
			peer_info = { IV_PLAT = "linux", UV_ROLE = "x", common_name = "root", BASH_ENV = "/tmp/evil",
				untrusted_ip = "10.9.9.9", UV_ = "empty-name-ok" },
		}, "alice")
		assert.are.equal("alice", env.common_name)
		assert.are.equal("10.0.0.2", env.untrusted_ip)
		assert.are.equal("linux", env.IV_PLAT)
		assert.are.equal("x", env.UV_ROLE)
		assert.is_nil(env.BASH_ENV)
		assert.are.equal("10", env.tls_serial_0)
		assert.are.equal("ab:cd", env.tls_digest_sha256_0)
	end)
end)

describe("plugins.auth_script:check", function()
	local vpn = require "moonvpn"
	local real_exec, runs
	before_each(function()
		real_exec, runs = vpn.exec, {}
		vpn.exec = function(argv) -- what the script would see
			local f = io.open(argv[#argv]) -- via-file: the last argument
			runs[#runs + 1] = { env = argv.env, file = f and f:read("a") }
			if f then f:close() end
			return 1, "", ""
		end
	end)
	after_each(function() vpn.exec = real_exec end)

	for _, method in ipairs { "via-file", "via-env" } do
		it("turns control characters in the credentials into '_' (" .. method .. "), as OpenVPN does", function()
			local p = require("auth_script").new { command = { "/bin/false" }, method = method }
			assert.is_nil((p:check({ cn = "client1", serial = "", fingerprint = "" }, "alice\nguess", "pw\r\n\0x\127")))
			local run = runs[1]
			assert.are.equal("alice_guess", run.env.username)
			if method == "via-file" then
				assert.are.equal("alice_guess\npw___x_\n", run.file, "two lines, nothing more")
			else
				assert.are.equal("pw___x_", run.env.password)
			end
		end)
	end

	it("keeps printable text, UTF-8 included, as it is", function()
		local p = require("auth_script").new { command = { "/bin/false" }, method = "via-env" }
		p:check({ cn = "client1", serial = "", fingerprint = "" }, "jos\u{e9} m", "p\u{e4}ss word!")
		assert.are.equal("jos\u{e9} m", runs[1].env.username)
		assert.are.equal("p\u{e4}ss word!", runs[1].env.password)
	end)
end)

describe("#netns plugins.auth_script", function()
	local t = hooked.each()
	if not t then return end

	-- The plugin's credentials files are os.tmpname()'s, /tmp/lua_XXXXXX: what this test
	-- leaves is told from what other programs on the machine have there by the names.
	local function lua_temp_files()
		local _, out = netns.sh("ls -d /tmp/lua_* 2>/dev/null")
		local names = {}
		for name in (out or ""):gmatch("%S+") do names[name] = true end
		return names
	end

	local function script(text)
		local path = netns.tmpdir() .. "/verify.sh"
		netns.write_file(path, text)
		assert(netns.sh("chmod 755 " .. path))
		return path
	end

	for _, case in ipairs { { "via-env", VIA_ENV }, { "via-file", VIA_FILE } } do
		it("runs an OpenVPN " .. case[1] .. " script unchanged: exit 0 lets in, else AUTH_FAILED", function()
			local before = lua_temp_files()
			t:start(string.format([[
local verify = require("auth_script").new { command = { %q }, method = %q }
function office.on.auth(client, username, password) return verify:check(client, username, password) end
]], script(case[2]), case[1]))
			t:completed(t:connect(1, "alice", "s3cret pass"))
			t:refused(t:connect(2, "alice", "guess"))
			if case[1] == "via-env" then
				local log = t.engine:output()
				assert.matches("env: client1 10%.88%.2%.2 linux %x%x:%x%x", log, 1, false, log)
			end
			local left = {}
			for name in pairs(lua_temp_files()) do
				if not before[name] then left[#left + 1] = name end
			end
			assert.are.same({}, left, "the credentials file is removed")
		end)
	end

	it("refuses when the script hangs past its timeout, and says so in the log", function()
		t:start(string.format([[
local verify = require("auth_script").new { command = { %q }, timeout = 1 }
function office.on.auth(client, username, password) return verify:check(client, username, password) end
]], script("#!/bin/sh\nsleep 30\n")))
		t:refused(t:connect(1, "alice", "x"))
		assert.matches("exit 137, timed out after 1 s", t.engine:output(), 1, true)
	end)

	it("says what is wrong with its options", function()
		local auth_script = require "auth_script"
		local _, err = pcall(auth_script.new, { command = "verify.sh" })
		assert.matches('auth_script.new: expected { command = { "/path/to/script", "arg", ... } }', err, 1, true)
		_, err = pcall(auth_script.new, { command = { "v" }, timeout = -1 })
		assert.matches("auth_script.new: timeout must be from 0 to 86400 seconds, got -1", err, 1, true)
		_, err = pcall(auth_script.new, { command = { "v" }, method = "via-pipe" })
		assert.matches('auth_script.new: method must be "via-env" or "via-file", got "via-pipe"', err, 1, true)
	end)
end)
