-- SPDX-License-Identifier: MIT
local push = require "moonvpn.push"

local function cfg(extra)
	local c = {
		network = "10.8.0.0/24",
		keepalive = { interval = 10, timeout = 60 },
		push = { routes = {}, dns = {}, redirect_gateway = false },
		device = { mtu = 1500 },
	}
	for k, v in pairs(extra or {}) do c[k] = v end
	return c
end

describe("moonvpn.push", function()
	it("builds what a 2.6.14 server pushed, dyn-tls-crypt included", function()
		local opts = push.options(cfg(), { address = "10.8.0.2", peer_id = 0, cipher = "AES-256-GCM",
			ncp = true, iv_proto = 990, iv_mtu = 1600 })
		assert.are.same({ "PUSH_REPLY,route-gateway 10.8.0.1,topology subnet,ping 10,ping-restart 60," ..
			"ifconfig 10.8.0.2 255.255.255.0,peer-id 0,cipher AES-256-GCM,protocol-flags cc-exit tls-ekm " ..
			"dyn-tls-crypt,tun-mtu 1500" }, push.messages(opts))
	end)

	it("pushes routes, IPv6, DNS, domain and redirect-gateway from the config", function()
		local c = cfg({ network6 = "fd00:8::/64", push = { routes = { "192.168.10.0/24", "fd00:10::/64" },
			dns = { "10.8.0.1" }, domain = "vpn.example.com", redirect_gateway = true } })
		local opts = push.options(c, { address = "10.8.0.7", address6 = "fd00:8::7", peer_id = 3 })
		assert.are.same({ "route-gateway 10.8.0.1", "topology subnet", "ping 10", "ping-restart 60",
			"route 192.168.10.0 255.255.255.0", "route-ipv6 fd00:10::/64", "redirect-gateway def1",
			"dhcp-option DNS 10.8.0.1", "dhcp-option DOMAIN vpn.example.com",
			"ifconfig-ipv6 fd00:8::7/64 fd00:8::1", "ifconfig 10.8.0.7 255.255.255.0", "peer-id 3" }, opts)
	end)

	it("pushes the structured dns option to clients that announce it, dhcp-option to the rest", function()
		local servers = { "10.8.0.1", "fd00:8::1" }
		for i = 3, 10 do servers[i] = "10.8.0." .. i end
		local c = cfg({ push = { routes = {}, dns = servers, domain = "vpn.example.com" } })
		local function dns_of(iv_proto)
			local found = {}
			for _, o in ipairs(push.options(c, { address = "10.8.0.7", iv_proto = iv_proto })) do
				if o:find("^dns ") or o:find("^dhcp%-option ") then found[#found + 1] = o end
			end
			return found
		end
		local structured = { "dns server 0 address 10.8.0.1 fd00:8::1 10.8.0.3 10.8.0.4 10.8.0.5 "
			.. "10.8.0.6 10.8.0.7 10.8.0.8", "dns server 1 address 10.8.0.9 10.8.0.10",
			"dns search-domains vpn.example.com" }
		assert.are.same(structured, dns_of(2 | 64), "2.6: dns-option")
		assert.are.same(structured, dns_of(2 | 2048), "2.7 and the OpenVPN 3 core: dns-option-v2")
		local legacy = dns_of(2)
		assert.are.equal(11, #legacy)
		assert.are.equal("dhcp-option DNS fd00:8::1", legacy[2])
		assert.are.equal("dhcp-option DOMAIN vpn.example.com", legacy[11])
	end)

	for _, case in ipairs {
		{ 2 | 8, "key-derivation tls-ekm" },
		{ 2 | 128, "protocol-flags cc-exit" },
		{ 2 | 128 | 512, "protocol-flags cc-exit dyn-tls-crypt" },
		-- 2.6's push.c: dyn-tls-crypt needs no cc-exit; tls-ekm then has its own option.
		{ 2 | 512, "protocol-flags dyn-tls-crypt" },
		{ 2 | 8 | 512, "protocol-flags dyn-tls-crypt", false, "key-derivation tls-ekm" },
		{ 2, nil },
		-- The session chose 2.7's epoch data format: after the others, as 2.7's push.c.
		{ 2 | 8 | 128 | 1024, "protocol-flags cc-exit tls-ekm aead-epoch", true },
		{ 2 | 8 | 1024, "protocol-flags aead-epoch", true },
		{ 2 | 8 | 128 | 512 | 1024, "protocol-flags cc-exit tls-ekm dyn-tls-crypt aead-epoch", true },
		{ 2 | 8 | 128 | 1024, "protocol-flags cc-exit tls-ekm" },
	} do
		it("flags for IV_PROTO " .. case[1] .. (case[3] and ", epoch data format" or ""), function()
			local opts = push.options(cfg(), { address = "10.8.0.2", iv_proto = case[1], epoch_data = case[3] })
			local last = opts[#opts]
			if case[2] then assert.are.equal(case[2], last) else assert.truthy(last:find("^ifconfig")) end
			if case[4] then assert.are.equal(case[4], opts[#opts - 1]) end
		end)
	end

	it("sends cipher only to clients that negotiate", function()
		local opts = push.options(cfg(), { address = "10.8.0.2", cipher = "AES-256-GCM", ncp = false })
		for _, o in ipairs(opts) do assert.falsy(o:find("^cipher")) end
	end)

	it("splits a long reply with push-continuation", function()
		local routes = {}
		for i = 1, 60 do routes[i] = string.format("10.%d.0.0/16", i) end
		local opts = push.options(cfg({ push = { routes = routes, dns = {} } }), { address = "10.8.0.2" })
		local msgs = push.messages(opts)
		assert.is_true(#msgs > 1)
		for i, m in ipairs(msgs) do
			assert.is_true(#m + 1 <= push.MESSAGE_MAX, "message " .. i .. " too long")
			assert.truthy(m:find("^PUSH_REPLY,"))
			assert.truthy(m:find(",push%-continuation " .. (i == #msgs and 1 or 2) .. "$"))
		end
		local joined = {}
		for _, m in ipairs(msgs) do
			for item in m:gmatch(",([^,]+)") do
				if not item:find("^push%-continuation") then joined[#joined + 1] = item end
			end
		end
		assert.are.same(opts, joined)
	end)

	it("leaves room in every message for the session's auth-token", function()
		local routes = {}
		for i = 1, 60 do routes[i] = string.format("10.%d.0.0/16", i) end
		local opts = push.options(cfg({ push = { routes = routes, dns = {} } }), { address = "10.8.0.2" })
		local room = push.token_room("alice")
		-- ",auth-token " .. 91 characters .. ",auth-token-user YWxpY2U="
		assert.equals(12 + 91 + 17 + 8, room)
		for i, m in ipairs(push.messages(opts, room)) do
			assert.is_true(#m + 1 + room <= push.MESSAGE_MAX, "message " .. i .. " leaves too little room")
		end
	end)
end)
