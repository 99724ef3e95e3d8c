-- SPDX-License-Identifier: MIT
local json = require "moonvpn.json"

describe("moonvpn.json", function()
	describe(".encode", function()
		it("writes each kind of value", function()
			local cases = {
				{ nil, "null" }, { true, "true" }, { false, "false" }, { 0, "0" }, { -7, "-7" },
				{ 1.5, "1.5" }, { 3.0, "3.0" }, { 1e300, "1.0000000000000001e+300" },
				{ math.mininteger, "-9223372036854775808" },
				{ "", '""' }, { 'a"b\\c', '"a\\"b\\\\c"' }, { "\n\r\t\b\f", '"\\n\\r\\t\\b\\f"' },
				{ "\0\31\127", '"\\u0000\\u001f\\u007f"' }, { "héllo ✓", '"héllo ✓"' },
				{ {}, "[]" }, { { 1, "two", { 3 } }, '[1,"two",[3]]' },
				{ { b = 2, a = 1, ["x y"] = 3 }, '{"a":1,"b":2,"x y":3}' },
				{ { 1, 2, n = 3 }, '{"1":1,"2":2,"n":3}' }, { { [2] = "b" }, '{"2":"b"}' },
				{ { [0] = "z" }, '{"0":"z"}' }, { { [1.5] = true }, '{"1.5":true}' },
			}
			for i, c in ipairs(cases) do
				assert.are.equal(c[2], json.encode(c[1]), "case " .. i)
			end
		end)

		it("never runs metamethods", function()
			local t = setmetatable({ 1 }, { __index = function() error("ran __index") end,
				__pairs = function() error("ran __pairs") end })
			assert.are.equal("[1]", json.encode(t))
		end)

		it("raises what JSON cannot hold, with where it is", function()
			local cyc = {}
			cyc.a = { b = cyc }
			local cases = {
				{ { f = print }, "json: a function (JSON has no such value) at $.f" },
				{ { list = { 1, coroutine.create(print) } }, "json: a thread (JSON has no such value) at $.list[2]" },
				{ cyc, "json: a cycle (the table contains itself) at $.a.b" },
				{ { ["odd key"] = { math.huge } }, 'json: a number JSON cannot hold (inf) at $["odd key"][1]' },
				{ "\xff", "json: a string that is not UTF-8 (JSON cannot carry raw bytes) at $" },
				{ { [{}] = 1 }, "json: a table key of type table (JSON keys are strings) at $" },
				{ { [1] = "a", ["1"] = "b" }, 'json: two keys that are both "1" as strings at $' },
			}
			for i, c in ipairs(cases) do
				local ok, err = pcall(json.encode, c[1])
				assert.is_false(ok, "case " .. i)
				assert.are.equal(c[2], err, "case " .. i)
			end
		end)

		it("keeps a table that appears twice, side by side (not a cycle)", function()
			local shared = { 1 }
			assert.are.equal('{"a":[1],"b":[1]}', json.encode({ a = shared, b = shared }))
		end)
	end)
end)
