-- SPDX-License-Identifier: MIT
local console = require "moonvpn.console"

describe("moonvpn.console", function()
	describe(".pretty", function()
		for _, case in ipairs {
			{ 1, "1" }, { "a\nb", '"a\\\nb"' }, { true, "true" }, { {}, "{}" },
			{ { 1, 2 }, "{\n  1,\n  2,\n}" },
			{ { b = 1, a = 2, [3] = 0 }, "{\n  [3] = 0,\n  a = 2,\n  b = 1,\n}" },
			{ { ["not id"] = 1 }, '{\n  ["not id"] = 1,\n}' },
		} do
			it("renders " .. case[2]:gsub("\n", " "), function()
				assert.are.equal(case[2], console.pretty(case[1]))
			end)
		end

		it("marks cycles instead of looping", function()
			local t = {}
			t.self = t
			assert.are.equal("{\n  self = <cycle>,\n}", console.pretty(t))
		end)

		it("stops at the depth limit", function()
			local t = {}
			local cur = t
			for _ = 1, console.MAX_DEPTH + 2 do cur.next = {}; cur = cur.next end
			assert.truthy(console.pretty(t):find("{...}", 1, true))
		end)
	end)

	describe(".feed", function()
		local env
		before_each(function()
			env = setmetatable({}, { __index = _G })
			console.open(1)
		end)
		after_each(function() console.close(1) end)

		it("returns an expression's values, tab-separated", function()
			assert.are.same({ "ok", '1\t"x"\n' }, { console.feed(env, 1, '1, "x"') })
		end)

		it("runs statements in the environment", function()
			assert.are.same({ "ok", "" }, { console.feed(env, 1, "y = 5") })
			assert.are.equal(5, rawget(env, "y"))
		end)

		it("collects print output", function()
			assert.are.same({ "ok", "a\t1\nb\n" }, { console.feed(env, 1, 'print("a", 1) print("b")') })
		end)

		it("asks for more on incomplete input and keeps it per session", function()
			console.open(2)
			assert.are.equal("more", (console.feed(env, 1, "for i = 1, 3 do")))
			assert.are.same({ "ok", "2\n" }, { console.feed(env, 2, "1 + 1") })
			assert.are.equal("more", (console.feed(env, 1, "  n = (n or 0) + i")))
			assert.are.same({ "ok", "" }, { console.feed(env, 1, "end") })
			assert.are.equal(6, rawget(env, "n"))
			console.close(2)
		end)

		it("reports syntax and runtime errors", function()
			local kind, text = console.feed(env, 1, "1 +* 2")
			assert.are.equal("error", kind)
			assert.truthy(text:find("unexpected symbol", 1, true))
			kind, text = console.feed(env, 1, "nil + 1")
			assert.are.equal("error", kind)
			assert.truthy(text:find("arithmetic", 1, true))
		end)

		it("reports non-string error objects", function()
			local kind, text = console.feed(env, 1, "error({ code = 7 })")
			assert.are.equal("error", kind)
			assert.truthy(text:find("code = 7", 1, true))
		end)

		it("stops an endless loop and restores print", function()
			local kind, text = console.feed(env, 1, "while true do end")
			assert.are.equal("error", kind)
			assert.truthy(text:find("evaluation stopped after", 1, true))
			assert.is_nil(rawget(env, "print"))
			assert.is_nil(debug.gethook())
		end)
	end)
end)
