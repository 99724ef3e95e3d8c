-- SPDX-License-Identifier: MIT
local console = require "moonvpn.console"

describe("moonvpn.console", function()
	describe(".pretty", function()
		for _, case in ipairs {
			{ 1, "1" }, { "a\nb", '"a\\nb"' }, { true, "true" }, { {}, "{}" },
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
			assert.are.same({ "ok", "2\n" }, { console.feed(env, 1, "1 + 1") })
		end)

		describe("under the instruction budget", function()
			local saved
			before_each(function()
				saved = console.INSTRUCTION_BUDGET
				console.INSTRUCTION_BUDGET = 1000000
			end)
			after_each(function() console.INSTRUCTION_BUDGET = saved end)

			for _, case in ipairs {
				{ "a loop in a coroutine", "coroutine.wrap(function() while true do end end)()" },
				{ "a loop that catches the budget error",
					"while true do pcall(function() while true do end end) end" },
				{ "a loop in __tostring while printing the result",
					"setmetatable({}, { __tostring = function() while true do end end })" },
				{ "a loop in a coroutine created before", "co = coroutine.create(function() while true do end end)" ..
					" coroutine.resume(co) error(select(2, coroutine.resume(co)))" },
			} do
				it("stops " .. case[1], function()
					local kind, text = console.feed(env, 1, case[2])
					assert.are.equal("error", kind)
					assert.truthy(text:find("evaluation stopped after", 1, true), text)
					assert.are.same({ "ok", "3\n" }, { console.feed(env, 1, "1 + 2") })
				end)
			end
		end)

		it("renders tables that protect their metatable", function()
			local kind, text = console.feed(env, 1, "setmetatable({ a = 1 }, { __metatable = 1, __index = error })")
			assert.are.equal("ok", kind)
			assert.are.equal("{\n  a = 1,\n}\n", text)
		end)

		it("discards unfinished input beyond its limit", function()
			local saved = console.PENDING_MAX
			console.PENDING_MAX = 100
			assert.are.equal("more", (console.feed(env, 1, "x = {")))
			local kind, text
			for _ = 1, 50 do
				kind, text = console.feed(env, 1, "1,")
				if kind ~= "more" then break end
			end
			console.PENDING_MAX = saved
			assert.are.equal("error", kind)
			assert.truthy(text:find("discarded", 1, true))
			assert.are.same({ "ok", "1\n" }, { console.feed(env, 1, "1") })
		end)
	end)
end)
