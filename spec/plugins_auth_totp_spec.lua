-- SPDX-License-Identifier: MIT
-- plugins/auth_totp.lua: RFC 6238's test vectors, the code formats clients
-- send, the window, replay, and the second factor.
local totp = require "auth_totp"
local netns = require "spec.helpers.netns"

-- RFC 6238 appendix B: seeds, then { time, SHA1, SHA256, SHA512 } with 8 digits.
local SEEDS = {
	SHA1 = "12345678901234567890",
	SHA256 = "12345678901234567890123456789012",
	SHA512 = "1234567890123456789012345678901234567890123456789012345678901234",
}
local VECTORS = {
	{ 59, "94287082", "46119246", "90693936" },
	{ 1111111109, "07081804", "68084774", "25091201" },
	{ 1111111111, "14050471", "67062674", "99943326" },
	{ 1234567890, "89005924", "91819424", "93441116" },
	{ 2000000000, "69279037", "90698825", "38618901" },
	{ 20000000000, "65353130", "77737706", "47863826" },
}

local function b64(s)
	local A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	return (s:gsub(".", function(c)
		local bits = ""
		for i = 7, 0, -1 do bits = bits .. ((c:byte() >> i) & 1) end
		return bits
	end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
		if #x < 6 then return "" end
		local n = tonumber(x, 2)
		return A:sub(n + 1, n + 1)
	end) .. ({ "", "==", "=" })[#s % 3 + 1]
end

describe("plugins.auth_totp", function()
	describe(".code", function()
		for _, v in ipairs(VECTORS) do
			for i, alg in ipairs { "SHA1", "SHA256", "SHA512" } do
				it(string.format("matches RFC 6238 at T=%d with %s", v[1], alg), function()
					assert.are.equal(v[i + 1], totp.code(SEEDS[alg], v[1], { digits = 8, algorithm = alg }))
				end)
			end
		end
	end)

	describe(".base32_decode", function()
		it("decodes RFC 4648 vectors, any case, padding optional", function()
			assert.are.equal("foobar", totp.base32_decode("MZXW6YTBOI======"))
			assert.are.equal("foobar", totp.base32_decode("mzxw6ytboi"))
			assert.is_nil(totp.base32_decode("MZXW1"))
		end)
	end)

	describe(".split", function()
		it("reads the static-challenge form and the appended form", function()
			assert.are.same({ "pw:with:colons", "123456" },
				{ totp.split("SCRV1:" .. b64("pw:with:colons") .. ":" .. b64("123456"), 6) })
			assert.are.same({ "secret", "654321" }, { totp.split("secret654321", 6) })
		end)
	end)

	describe(":check", function()
		local secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" -- base32 of "12345678901234567890"
		local now = 1234567890
		-- Each test's own memory of used codes, unless it shares one on purpose.
		local function provider(opts)
			opts = opts or {}
			opts.secrets = opts.secrets or { alice = secret }
			opts.now = function() return now end
			opts.used = opts.used or {}
			return totp.new(opts)
		end
		local function code_at(t) return totp.code(SEEDS.SHA1, t) end

		it("accepts the current code once; a replay or an older code is refused", function()
			local p = provider()
			assert.is_true(p:check({}, "alice", code_at(now)))
			assert.is_nil((p:check({}, "alice", code_at(now))))
			assert.is_nil((p:check({}, "alice", code_at(now - 30))))
			now = now + 30
			assert.is_true(p:check({}, "alice", code_at(now)))
		end)

		it("accepts one step of clock skew either side, not two", function()
			local p = provider()
			assert.is_true(p:check({}, "alice", code_at(now + 30)))
			local q = provider()
			assert.is_nil((q:check({}, "alice", code_at(now - 60))))
			assert.is_nil((q:check({}, "alice", code_at(now + 60))))
		end)

		it("refuses a wrong code, an unknown user and a missing password", function()
			local p = provider()
			local wrong = string.format("%06d", (tonumber(code_at(now)) + 1) % 1000000)
			assert.are.same({ nil, "authentication failed" }, { p:check({}, "alice", wrong) })
			assert.is_nil((p:check({}, "bob", code_at(now))))
			assert.is_nil((p:check({}, "alice", nil)))
		end)

		it("checks the password part with the first factor, from either form", function()
			local first = { check = function(_, _, _, pw) return pw == "hunter2" or nil, "bad password" end }
			local p = provider { first = first }
			assert.are.same({ nil, "authentication failed" }, { p:check({}, "alice", "nope" .. code_at(now)) })
			assert.is_true(p:check({}, "alice", "hunter2" .. code_at(now)))
			now = now + 30
			assert.is_true(p:check({}, "alice", "SCRV1:" .. b64("hunter2") .. ":" .. b64(code_at(now))))
		end)

		it("takes a code before the password check yields, and gives it back when it fails", function()
			local inside = {}
			local first = { check = function(_, _, _, pw)
				inside[#inside + 1] = pw
				if #inside == 1 then
					-- a second login with the same code while the first is being checked
					local p2 = inside.provider
					inside.second = { p2:check({}, "alice", "hunter2" .. code_at(now)) }
				end
				return pw == "hunter2" or nil, "bad password"
			end }
			local p = provider { first = first }
			inside.provider = p
			assert.is_true(p:check({}, "alice", "hunter2" .. code_at(now)))
			assert.are.same({ nil, "authentication failed" }, inside.second)
			now = now + 30
			assert.is_nil((p:check({}, "alice", "nope" .. code_at(now))))
			assert.is_true(p:check({}, "alice", "hunter2" .. code_at(now)), "the code was given back")
		end)

		it("answers a wrong code and a wrong password alike, after checking the password either way", function()
			local checked = 0
			local first = { check = function(_, _, _, pw)
				checked = checked + 1
				return pw == "hunter2" or nil, "wrong username or password"
			end }
			local p = provider { first = first }
			local wrong = string.format("%06d", (tonumber(code_at(now)) + 1) % 1000000)
			local wrong_code = { p:check({}, "alice", "hunter2" .. wrong) }
			assert.are.equal(1, checked, "the password was checked although the code was wrong")
			local wrong_password = { p:check({}, "alice", "nope" .. code_at(now)) }
			assert.are.same(wrong_code, wrong_password)
			assert.are.same({ nil, "authentication failed" }, wrong_code)
			local unknown = { p:check({}, "mallory", "hunter2" .. code_at(now)) }
			assert.are.same(wrong_code, unknown)
			assert.are.equal(3, checked)
			assert.is_true(p:check({}, "alice", "hunter2" .. code_at(now)), "the code was given back")
		end)

		it("refuses a code used before a reload: the new provider remembers it", function()
			local used = {}
			local before = provider { used = used }
			assert.is_true(before:check({}, "alice", code_at(now)))
			local after = provider { used = used } -- what the reloaded configuration makes
			assert.are.same({ nil, "authentication failed" }, { after:check({}, "alice", code_at(now)) })
			now = now + 30
			assert.is_true(after:check({}, "alice", code_at(now)))
		end)

		it("keeps that memory in the module by default, shared by every provider", function()
			-- A user and secret of this test's own: the memory outlives it.
			local own = { secrets = { carol = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" }, now = function() return now end }
			local code = totp.code(totp.base32_decode(own.secrets.carol), now)
			assert.is_true(totp.new(own):check({}, "carol", code))
			assert.is_nil((totp.new(own):check({}, "carol", code)))
		end)

		it("keeps users apart whose name and secret join to the same text", function()
			local p = provider()
			-- With fields joined by ':' alone these were one key: a code used by one
			-- user was refused to the other for the rest of its window.
			assert.are_not.equal(p:used_key("a:b", "c"), p:used_key("a", "b:c"))
			assert.are_not.equal(p:used_key("a", "1:b"), p:used_key("a:1", "b"))
			assert.are.equal(p:used_key("a", "b"), provider():used_key("a", "b"))
		end)

		it("forgets codes too old to matter, and only those", function()
			local used = {}
			local p = provider { used = used, secrets = {} }
			for i = 1, 1100 do -- past the first sweep
				p:mark("k" .. i, (now // 30) - (i <= 600 and 20 or 0))
			end
			assert.is_true(used.count < 600 and used.count >= 500, "swept: " .. used.count)
			assert.are.equal(now // 30, used.steps.k1000)
			assert.is_nil(used.steps.k1)
		end)

		it("reads secrets from a file and re-reads it when it changes", function()
			local path = netns.tmpdir() .. "/totp"
			netns.write_file(path, "# user:secret\nalice:" .. secret .. "\n")
			local p = provider { secrets = path }
			assert.is_true(p:check({}, "alice", code_at(now)))
			assert.is_nil((p:check({}, "carol", code_at(now + 30))))
			netns.write_file(path, "carol:" .. secret .. "\n# alice removed\n")
			assert.is_true(p:check({}, "carol", code_at(now + 30)))
			assert.is_nil((p:check({}, "alice", code_at(now + 30))))
		end)

		it("says what is wrong with its options and its file", function()
			local _, err = pcall(totp.new, {})
			assert.matches("expected { secrets =", err, 1, true)
			_, err = pcall(totp.new, { secrets = {}, period = 0 })
			assert.matches("auth_totp.new: period must be an integer from 1 to 3600, got 0", err, 1, true)
			_, err = pcall(totp.new, { secrets = {}, digits = 20 })
			assert.matches("digits must be an integer from 6 to 9, got 20", err, 1, true)
			_, err = pcall(totp.new, { secrets = {}, algorithm = "MD5" })
			assert.matches('algorithm must be "SHA1", "SHA256" or "SHA512", got "MD5"', err, 1, true)
			local path = netns.tmpdir() .. "/bad"
			netns.write_file(path, "alice:" .. secret .. "\nbob:not-base32!\n")
			_, err = pcall(totp.new, { secrets = path })
			assert.matches(path .. ":2: auth_totp secrets: not a base32 secret", err, 1, true)
		end)
	end)
end)
