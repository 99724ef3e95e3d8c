-- SPDX-License-Identifier: MIT
-- Deferred and interactive authentication (OpenVPN's AUTH_PENDING): an
-- on.auth hook sends the client to a login page or asks it a question
-- (client:pending), waits (client:wait) and decides on the answer, or on a
-- decision from the console (auth()). The OpenVPN 3 core client (ovpncli,
-- from `make peers`) announces webauth and crtext in IV_SSO; a stock 2.6
-- client announces neither and is refused with the reason.
-- (topology in spec/helpers/hooked.lua) #netns: needs root.
local hooked = require "spec.helpers.hooked"
local netns = require "spec.helpers.netns"
local peers = require "spec.helpers.peers"

local HOOKS = [[
function office.on.auth(client, username, password)
  if username == "web" then
    local ok, err = client:pending { url = "https://login.example/" .. client.id, timeout = 60 }
    if not ok then return false, err end
    local kind, yes, reason = client:wait(60)
    print("web: " .. tostring(kind))
    if kind ~= "decided" then return false, "login timed out" end
    return yes, reason
  end
  local ok, err = client:pending { challenge = "Enter your code" }
  if not ok then return false, err end
  local kind, text = client:wait(30)
  print("otp: " .. tostring(kind) .. " " .. tostring(text))
  if kind == "response" and text == "424242" then return true end
  return false, "wrong code"
end
]]

describe("#netns deferred authentication", function()
	local t = hooked.each()
	if not t then return end
	local missing = peers.missing("ovpncli")

	local function ovpncli(user, opts)
		opts = opts or {}
		t:start(HOOKS, "", 1)
		return peers.start(t.clients[1], "ovpncli", { remote = "10.88.1.1", user = user, password = "x",
			args = { "--sso-methods", "webauth,crtext", "--write-url", opts.url or "/dev/null" },
			stdin = opts.stdin })
	end

	-- The login page's address, once the client wrote it.
	local function url_written(file)
		for _ = 1, 200 do
			local url = netns.read_file(file)
			if url and url ~= "" then return url end
			netns.sleep(0.05)
		end
		error("ovpncli wrote no login URL")
	end

	for _, case in ipairs {
		{ decision = "true", connects = true },
		{ decision = "false, 'the login was refused'", connects = false },
	} do
		local name = string.format("sends ovpncli to a web login and %s on the console's decision",
			case.connects and "lets it in" or "refuses it")
		if missing then pending(name .. ": " .. missing) else
			it(name, function()
				local file = netns.tmpdir() .. "/url"
				local client = ovpncli("web", { url = file })
				assert.are.equal("https://login.example/0\n", url_written(file))
				assert.matches("1", t:console("return auth(0, " .. case.decision .. ")"), 1, true)
				if case.connects then
					client:connected(20, t.engine)
				else
					local ok, out = client:wait_for("AUTH_FAILED the login was refused", 20)
					assert(ok, out .. "\n--- moonvpn:\n" .. t.engine:output())
				end
				assert.matches("AUTH_PENDING timeout 60", client.proc:output(), 1, true)
				assert.matches("web: decided", t.engine:output(), 1, true)
			end)
		end
	end

	for _, case in ipairs { { code = "424242", connects = true }, { code = "111111", connects = false } } do
		local name = string.format("asks ovpncli a question and %s on its answer",
			case.connects and "lets it in" or "refuses it")
		if missing then pending(name .. ": " .. missing) else
			it(name, function()
				local answer = netns.tmpdir() .. "/answer"
				netns.write_file(answer, case.code .. "\n")
				local client = ovpncli("otp", { stdin = answer })
				if case.connects then
					client:connected(20, t.engine)
				else
					local ok, out = client:wait_for("AUTH_FAILED wrong code", 20)
					assert(ok, out .. "\n--- moonvpn:\n" .. t.engine:output())
				end
				assert.matches("CR_TEXT:R:Enter your code", client.proc:output(), 1, true)
				assert.matches("otp: response " .. case.code, t.engine:output(), 1, true)
			end)
		end
	end

	it("refuses a client that can do neither, with the reason", function()
		t:start(HOOKS, "", 1)
		local out = t:refused(t:connect(1, "web", "x"))
		assert.matches("AUTH_FAILED,the client cannot open a login page", out, 1, true)
	end)
end)
