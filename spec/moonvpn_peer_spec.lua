-- SPDX-License-Identifier: MIT
-- The client objects hooks get: their metatable stays out of a hook's reach.
local peer = require "moonvpn.peer"

local function client()
	return peer.new({ peer_id = 1, cn = "alice", subject = "CN=alice", serial = "01",
		fingerprint = "AB", cipher = "AES-256-GCM", username = "", peer = "10.0.0.2:1194" })
end

describe("moonvpn.peer", function()
	it("hands out no table a hook could put metamethods on", function()
		local c = client()
		assert.are.equal("moonvpn.peer", getmetatable(c))
		-- __index was the metatable itself: client.__index gave it away.
		assert.is_nil(c.__index)
		assert.is_nil(c.__newindex)
		assert.is_nil(c.__gc)
		assert.is_nil(c.__tostring)
		local other = client()
		other.__newindex = function() error("hook code in the engine") end
		c.extra = 1
		assert.are.equal(1, c.extra)
	end)

	it("keeps its methods and its name", function()
		local c = client()
		assert.are.equal("function", type(c.set_address))
		assert.are.equal("function", type(c.rule))
		assert.are.equal("moonvpn.peer 1 (alice 10.0.0.2:1194)", tostring(c))
	end)
end)
