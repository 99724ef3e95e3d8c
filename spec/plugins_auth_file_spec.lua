-- SPDX-License-Identifier: MIT
-- plugins/auth_file.lua: a password file of crypt(3) hashes, re-read when it
-- changes; and with plugins/auth_totp.lua as a second factor, against stock
-- OpenVPN 2.6 clients (#netns, needs root).
local auth_file = require "auth_file"
local hooked = require "spec.helpers.hooked"
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local totp = require "auth_totp"

-- A stand-in for vpn.crypt_verify outside the engine: "plain:<password>" hashes.
local function fake_verify(password, hash)
	return hash == "$6$plain$" .. password
end

local function passwd(user, password, method)
	local ok, out = netns.sh(string.format("printf '%%s\\n' %s | %s passwd %s%s", netns.quote(password),
		mv.bin, method and ("--method " .. method .. " ") or "", user))
	assert(ok, out)
	return (out:gsub("%s+$", ""))
end

describe("plugins.auth_file", function()
	local path
	before_each(function() path = netns.tmpdir() .. "/users.passwd" end)
	after_each(netns.cleanup)

	it("checks a user's password against its hash, and refuses unknown users", function()
		netns.write_file(path, "# users\nalice:$6$plain$s3cret\n\nbob:$6$plain$pw\n")
		local verified = {}
		local p = auth_file.new { path = path, verify = function(pw, hash)
			verified[#verified + 1] = hash
			return fake_verify(pw, hash)
		end }
		assert.is_true(p:check({}, "alice", "s3cret"))
		assert.are.same({ nil, "wrong username or password" }, { p:check({}, "alice", "guess") })
		assert.are.same({ nil, "wrong username or password" }, { p:check({}, "mallory", "s3cret") })
		assert.are.equal("$6$", auth_file.cost_key(verified[3]), "an unknown user costs a hash of the same kind")
		assert.are.same({ nil, "username and password required" }, { p:check({}, nil, nil) })
	end)

	it("costs the same for an unknown user and a wrong password, whatever the user's hash", function()
		-- sha512-crypt costs a fraction of yescrypt: checking only the user's own hash
		-- (or a yescrypt dummy for unknown users) told who has which, and who exists.
		netns.write_file(path, "alice:$y$j9T$salt$hash\nbob:$6$salt$hash\n" ..
			"carol:$6$rounds=100000$salt$hash\ndave:$6$other$hash\n")
		local kinds
		local function kind(hash) -- what checking it costs, told here without the plugin's help
			return hash:match("^%$6%$rounds=%d+%$") or hash:match("^%$6%$") or hash:match("^%$y%$[^$]+%$")
		end
		local p = auth_file.new { path = path, verify = function(_, hash)
			kinds[#kinds + 1] = kind(hash)
			return false
		end }
		local function cost(user)
			kinds = {}
			assert.are.same({ nil, "wrong username or password" }, { p:check({}, user, "guess") })
			table.sort(kinds)
			return table.concat(kinds, " ")
		end
		local unknown = cost("mallory")
		assert.are.equal("$6$ $6$rounds=100000$ $y$j9T$", unknown)
		for _, user in ipairs { "alice", "bob", "carol", "dave" } do
			assert.are.equal(unknown, cost(user), user)
		end
	end)

	it("checks the user's own hash among the stand-ins, and only its result counts", function()
		netns.write_file(path, "alice:$6$plain$s3cret\nbob:$6$rounds=9$plain$pw\n")
		local p = auth_file.new { path = path, verify = fake_verify }
		assert.is_true(p:check({}, "alice", "s3cret"))
		assert.is_nil((p:check({}, "bob", "s3cret")), "another user's password is no good")
		assert.is_nil((p:check({}, "mallory", "s3cret")))
	end)

	it("tells hash kinds by scheme and cost", function()
		for _, case in ipairs {
			{ "$y$j9T$salt$hash", "$y$j9T$" }, { "$y$jDT$salt$hash", "$y$jDT$" },
			{ "$6$salt$hash", "$6$" }, { "$6$rounds=5000$salt$hash", "$6$rounds=5000$" },
			{ "$5$salt$hash", "$5$" }, { "$2b$12$saltandhash", "$2b$12$" },
			{ "$7$CU..../....salt$hash", "$7$CU..../...." }, { "garbage", "garbage" },
		} do
			assert.are.equal(case[2], auth_file.cost_key(case[1]), case[1])
		end
	end)

	it("re-reads the file when it changes, and keeps the last good one when it breaks", function()
		netns.write_file(path, "alice:$6$plain$one\n")
		local p = auth_file.new { path = path, verify = fake_verify }
		assert.is_true(p:check({}, "alice", "one"))
		netns.write_file(path, "alice:$6$plain$two\ncarol:$6$plain$three\n")
		assert.is_nil((p:check({}, "alice", "one")))
		assert.is_true(p:check({}, "alice", "two"))
		assert.is_true(p:check({}, "carol", "three"))
		netns.write_file(path, "alice:oops\n")
		assert.is_true(p:check({}, "carol", "three"))
		os.remove(path)
		assert.is_true(p:check({}, "alice", "two"))
	end)

	it("finds a relative path next to the configuration file, as every path in it", function()
		local dir = netns.tmpdir()
		netns.write_file(dir .. "/users.passwd", "alice:$6$plain$s3cret\n")
		netns.write_file(dir .. "/vpn.lua", mv.server_config())
		assert(require("moonvpn.config").load(dir .. "/vpn.lua"))
		local p = auth_file.new { path = "users.passwd", verify = fake_verify }
		assert.are.equal(dir .. "/users.passwd", p.file.path)
		assert.is_true(p:check({}, "alice", "s3cret"))
	end)

	it("says what is wrong with its options and its file, with the line", function()
		local _, err = pcall(auth_file.new, { file = path })
		assert.matches('auth_file.new: expected { path = "users.passwd" }', err, 1, true)
		netns.write_file(path, "alice:$y$ok\nbob:plaintext\n")
		_, err = pcall(auth_file.new, { path = path })
		assert.matches(path .. ":2: auth_file: not a yescrypt ($y$) or sha512-crypt ($6$) hash", err, 1, true)
		netns.write_file(path, "no colon here\n")
		_, err = pcall(auth_file.new, { path = path })
		assert.matches(path .. ':1: auth_file: expected "name:value"', err, 1, true)
		_, err = pcall(auth_file.new, { path = path .. ".missing" })
		assert.matches("No such file or directory", err, 1, true)
	end)
end)

describe("#netns plugins.auth_file and auth_totp with stock clients", function()
	local t = hooked.each()
	if not t then return end

	it("lets a good password in (yescrypt and sha512-crypt) and refuses a bad one", function()
		local file = netns.tmpdir() .. "/users.passwd"
		netns.write_file(file, passwd("alice", "correct horse") .. "\n" ..
			passwd("bob", "battery staple", "sha512") .. "\n")
		t:start(string.format([[
local passwords = require("auth_file").new { path = %q }
function office.on.auth(client, username, password) return passwords:check(client, username, password) end
]], file), nil, 3)
		t:completed(t:connect(1, "alice", "correct horse"))
		t:completed(t:connect(2, "bob", "battery staple"))
		local out = t:refused(t:connect(3, "alice", "Correct horse"))
		assert.matches("AUTH_FAILED,wrong username or password", out, 1, true)
	end)

	it("wants the right, current TOTP code after the password; a wrong or stale one is refused", function()
		local secret_b32 = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
		local secret = totp.base32_decode(secret_b32)
		local dir = netns.tmpdir()
		netns.write_file(dir .. "/users.passwd", passwd("alice", "pw") .. "\n")
		netns.write_file(dir .. "/users.totp", "alice:" .. secret_b32 .. "\n")
		t:start(string.format([[
local passwords = require("auth_file").new { path = %q }
local otp = require("auth_totp").new { secrets = %q, first = passwords }
function office.on.auth(client, username, password) return otp:check(client, username, password) end
]], dir .. "/users.passwd", dir .. "/users.totp"), nil, 3)
		local function b64(s) -- what a static-challenge client sends
			local _, out = netns.sh("printf '%s' " .. netns.quote(s) .. " | base64 -w0")
			return out
		end
		local now = os.time()
		local stale = totp.code(secret, now - 120)
		local wrong = string.format("%06d", (tonumber(totp.code(secret, now)) + 1) % 1000000)
		t:refused(t:connect(1, "alice", "SCRV1:" .. b64("pw") .. ":" .. b64(stale)))
		t:refused(t:connect(2, "alice", "pw" .. wrong))
		t:completed(t:connect(3, "alice", "SCRV1:" .. b64("pw") .. ":" .. b64(totp.code(secret, os.time()))))
	end)
end)
