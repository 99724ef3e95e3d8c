-- SPDX-License-Identifier: MIT
-- The manual pages moonvpn(8) and moonvpn.lua(5): made by scripts/man.lua
-- from README.md's marked tables, rendered without a warning, and in step
-- with what the binary and the configuration schema accept.
local netns = require "spec.helpers.netns"
local mv = require "spec.helpers.moonvpn"

local function readme() return assert(netns.read_file("README.md")) end

-- Runs scripts/man.lua on `text` (README.md by default) into a new directory;
-- returns ok, output, directory.
local function generate(text)
	local dir = netns.tmpdir()
	local src = dir .. "/README.md"
	netns.write_file(src, text or readme())
	local ok, out = netns.sh("lua5.4 scripts/man.lua " .. src .. " " .. dir .. " 9.9.9")
	return ok, out, dir
end

-- The first-column names of the README table marked `<!-- man PAGE: SECTION -->`:
-- each `code` span's first word, up to a dot.
local function table_names(page, section)
	local text = readme()
	local start = assert(text:find("<!-- man " .. page .. ": " .. section .. " -->", 1, true))
	local block = text:sub(start):match("^[^\n]*\n(.-)\n\n")
	local names = {}
	for line in block:gmatch("[^\n]+") do
		local first = line:match("^|%s*(.-)%s*|")
		for code in first:gmatch("`([^`]+)`") do names[code:match("^[%w_]+")] = true end
	end
	return names
end

describe("manual pages", function()
	after_each(netns.cleanup)

	it("are made from README.md and render with no warning", function()
		local ok, out, dir = generate()
		assert(ok, out)
		for _, page in ipairs { "moonvpn.8", "moonvpn.lua.5" } do
			local path = dir .. "/" .. page
			local text = assert(netns.read_file(path), page)
			assert.truthy(text:find("9.9.9", 1, true))
			local gok, gout = netns.sh("groff -ww -z -man -Tutf8 " .. path)
			assert(gok, gout)
			assert.are.equal("", gout, page)
			local mok, mout = netns.sh("MANWIDTH=80 man --warnings -l " .. path .. " 2>&1 >/dev/null")
			assert(mok, mout)
			assert.are.equal("", mout, page)
		end
	end)

	it("say what the README says: build/man is README.md's", function()
		local ok, out, dir = generate()
		assert(ok, out)
		-- The version and the date (the day it was made: a make test crossing midnight made
		-- the page one day and this copy the next) are not what the README says.
		local function text_only(page)
			return (page:gsub('"moonvpn [%d.]+"', '"moonvpn VERSION"'):gsub('"%d%d%d%d%-%d%d%-%d%d"', '"DATE"'))
		end
		local fresh = text_only(netns.read_file(dir .. "/moonvpn.lua.5"))
		local built = netns.read_file("build/man/moonvpn.lua.5")
		assert.truthy(built, "build/man/moonvpn.lua.5: run make")
		built = text_only(built)
		assert.are.equal(fresh, built, "build/man is stale: run make")
		-- A field's text in the README is in the page.
		local page = netns.read_file(dir .. "/moonvpn.lua.5")
		assert.truthy(page:find("\\fBtls.crl\\fR", 1, true))
		assert.truthy(page:find("\\fBreconnect\\fR", 1, true))
	end)

	it("fail to build when a section's table is missing", function()
		local text = readme():gsub("<!%-%- man moonvpn%.8: signals %-%->\n", "", 1)
		local ok, out = generate(text)
		assert.is_false(ok)
		assert.truthy(out:find("has no table marked <!-- man moonvpn.8: signals --> (the page's SIGNALS section)",
			1, true), out)
		ok, out = generate(readme():gsub("man moonvpn%.8: files", "man moonvpn.8: fils", 1))
		assert.is_false(ok)
		assert.truthy(out:find("<!-- man moonvpn.8: fils --> marks a table no manual page reads", 1, true), out)
	end)

	it("list every field the configuration schema has, and no other", function()
		local config = require "moonvpn.config"
		for _, c in ipairs { { "server", config.server_schema }, { "client", config.client_schema } } do
			local documented = table_names("moonvpn.lua.5", c[1])
			local known = {}
			for _, name in ipairs(c[2].fields) do
				known[name] = true
				assert.is_true(documented[name] or false, c[1] .. " field " .. name .. " is not in README.md's table")
			end
			for name in pairs(documented) do
				assert.is_true(known[name] or false, c[1] .. " table in README.md documents " .. name ..
					", which vpn." .. c[1] .. " does not have")
			end
		end
	end)

	it("list every command and option moonvpn --help shows", function()
		local status, usage = mv.run("--help")
		assert.are.equal(0, status)
		local commands = {}
		for line in readme():match("<!%-%- man moonvpn%.8: commands %-%->\n(.-)\n\n"):gmatch("[^\n]+") do
			commands[#commands + 1] = line
		end
		local text = table.concat(commands, "\n")
		local n = 0
		for line in usage:gmatch("[^\n]+") do
			local word = line:match("^usage: moonvpn (%S+)") or line:match("^%s+moonvpn (%S+)")
			if word and word ~= "[-v|-vv]" then
				n = n + 1
				assert.truthy(text:find("`moonvpn " .. word, 1, true), "moonvpn " .. word .. " is not in README.md")
			end
		end
		assert.is_true(n >= 5, usage)
		local options = readme():match("<!%-%- man moonvpn%.8: options %-%->\n(.-)\n\n")
		for opt in usage:gmatch("\n  (%-%-?[%w-]+)") do
			assert.truthy(options:find("`" .. opt, 1, true), opt .. " is not in README.md's options")
		end
	end)
end)
