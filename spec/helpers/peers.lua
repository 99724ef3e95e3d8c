-- SPDX-License-Identifier: MIT
--- The reference OpenVPN clients of the interop specs, each run in a network
-- namespace against a moonvpn server:
--
--   "2.6"      Debian's openvpn (2.6.14)
--   "2.7"      OpenVPN 2.7.6, build/peers/openvpn-2.7/sbin/openvpn
--   "ovpncli"  the OpenVPN 3 core test client 3.11.7 (the engine of OpenVPN
--              Connect), build/peers/ovpncli
--
-- `make peers` builds the last two into build/peers (MOONVPN_PEERS overrides
-- the directory) from the upstream peers' release tarballs and build script,
-- PEERS_SRC; a spec asks missing(kind) and marks its tests pending with that
-- message when a peer is not there.
--
--   local c = peers.start(ns, "ovpncli", { remote = "10.88.1.1", wrap = "tls-crypt" })
--   local seconds = c:connected(20, engine)      -- asserts, with both logs
--   local dev, address = c:tunnel()              -- "tun0", "10.77.0.2"
--
-- The clients are processes of spec/helpers/netns: netns.cleanup() kills them
-- and deletes their namespaces (and so their devices), whatever a test did.
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

local M = {}

M.DIR = os.getenv("MOONVPN_PEERS") or "build/peers"

--- The clients, in the order a matrix lists them.
M.KINDS = { "2.6", "2.7", "ovpncli" }

M.LABEL = {
	["2.6"] = "openvpn 2.6.14 (Debian)",
	["2.7"] = "OpenVPN 2.7.6",
	ovpncli = "OpenVPN 3 core 3.11.7 (ovpncli)",
}

local function binary(kind)
	if kind == "2.6" then return "openvpn" end
	if kind == "2.7" then return M.DIR .. "/openvpn-2.7/sbin/openvpn" end
	if kind == "ovpncli" then return M.DIR .. "/ovpncli" end
	error("peers: unknown client kind " .. tostring(kind) .. " (2.6, 2.7 or ovpncli)")
end

--- Nil when the client can run here, else why not and how to get it.
function M.missing(kind)
	local bin = binary(kind)
	if kind == "2.6" or netns.sh("test -x " .. netns.quote(bin)) then return nil end
	return string.format("%s is not built (%s missing): run `make peers`, which builds it into %s "
		.. "from PEERS_SRC, the upstream peers' release tarballs and build script", M.LABEL[kind], bin, M.DIR)
end

local function monotonic()
	local _, out = netns.sh("cat /proc/uptime")
	return tonumber(out:match("^([%d.]+)"))
end

local client_mt = {}
client_mt.__index = client_mt

--- Starts a client of `kind` in namespace ns. opts: remote (address), proto ("udp"
-- or "tcp"), port (1194), wrap ("tls-auth", "tls-crypt" or nil), user and password
-- (auth-user-pass), extra (more profile lines), args (more ovpncli arguments),
-- stdin (a file the client reads: ovpncli's answer to a challenge), profile (a profile
-- file used as it is, instead of one made from the other options).
function M.start(ns, kind, opts)
	local bin = binary(kind)
	assert(not M.missing(kind), M.missing(kind))
	local extra = opts.extra or ""
	if opts.profile and opts.user and kind ~= "ovpncli" then
		-- A profile as written (moonvpn profile's): the credentials come from a file given after it.
		local creds = netns.tmpdir() .. "/creds"
		netns.write_file(creds, opts.user .. "\n" .. opts.password .. "\n")
		opts.args = { "--auth-user-pass", creds }
	elseif opts.user and kind ~= "ovpncli" then
		extra = extra .. string.format("<auth-user-pass>\n%s\n%s\n</auth-user-pass>\n", opts.user, opts.password)
	elseif opts.user then
		-- The 3 core takes the credentials from its caller (-u, -p); the profile says they are needed.
		extra = extra .. "auth-user-pass\n"
	end
	local profile = opts.profile or openvpn.profile(mv.pki(), { remote = opts.remote, wrap = opts.wrap, extra = extra,
		proto = opts.proto == "tcp" and "tcp-client" or "udp", port = opts.port })
	local argv = { bin, "--config", profile }
	if opts.profile and kind ~= "ovpncli" then table.move(opts.args or {}, 1, #(opts.args or {}), 4, argv) end
	if kind == "ovpncli" then
		argv = { bin, profile }
		for i, arg in ipairs(opts.args or {}) do table.insert(argv, 1 + i, arg) end
		if opts.user then
			table.insert(argv, 2, "-u")
			table.insert(argv, 3, opts.user)
			table.insert(argv, 4, "-p")
			table.insert(argv, 5, opts.password)
		end
	end
	local began = monotonic()
	local c = setmetatable({ kind = kind, ns = ns, began = began }, client_mt)
	c.proc = ns:spawn(argv, { stdin = opts.stdin })
	return c
end

-- What each client prints once its tunnel is up.
local CONNECTED = { ["2.6"] = "Initialization Sequence Completed", ["2.7"] = "Initialization Sequence Completed",
	ovpncli = "EVENT: CONNECTED " }

--- Waits up to `timeout` seconds for the tunnel, polling the client's output;
-- returns the seconds from start to connected (measured here, for printing only).
-- Asserts with the client's output and the server's (`server`, a netns process).
function client_mt:connected(timeout, server)
	local deadline = monotonic() + (timeout or 20)
	repeat
		local out = self.proc:output()
		if out:find(CONNECTED[self.kind], 1, true) then
			self.seconds = monotonic() - self.began
			return self.seconds
		end
		if self.proc:status() then break end
		netns.sleep(0.02)
	until monotonic() > deadline
	error(string.format("%s did not connect:\n%s\n--- moonvpn:\n%s", M.LABEL[self.kind], self.proc:output(),
		server and server:output() or "(not given)"), 2)
end

--- The client's tunnel device and its IPv4 address, as the device has them.
function client_mt:tunnel()
	local out = self.proc:output()
	local dev
	if self.kind == "ovpncli" then
		-- "EVENT: CONNECTED 10.88.1.1:1194 (10.88.1.1) via /UDPv4 on tun0/10.77.0.2/ gw=[...]"
		dev = out:match("EVENT: CONNECTED [^\n]- on ([^/%s]+)/")
	else
		dev = out:match("TUN/TAP device (%S+) opened") or out:match("DCO device (%S+) opened")
	end
	assert(dev, "no tunnel device in the output of " .. M.LABEL[self.kind] .. ":\n" .. out)
	local ok, addr = self.ns:sh("ip -4 -o addr show dev " .. dev)
	local address = ok and addr:match("inet ([%d.]+)/")
	assert(address, "device " .. dev .. " has no IPv4 address: " .. addr)
	return dev, address
end

function client_mt:output()
	return self.proc:output()
end

--- Waits up to `timeout` seconds for `text` (plain) in the client's output.
function client_mt:wait_for(text, timeout)
	local deadline = monotonic() + (timeout or 20)
	repeat
		local out = self.proc:output()
		if out:find(text, 1, true) then return true, out end
		netns.sleep(0.05)
	until monotonic() > deadline
	return false, self.proc:output()
end

--- SIGTERM, then the exit status.
function client_mt:stop()
	return self.proc:stop()
end

return M
