-- SPDX-License-Identifier: MIT
-- auth.token: the server pushes OpenVPN's auth-gen-token tokens (HMAC format,
-- key from `openvpn --genkey auth-token`), and clients that present one are
-- let in without on.auth: across renegotiations, a reconnect to a restarted
-- server with the same secret, and from the OpenVPN 3 core. An expired token
-- and a kicked client's token get AUTH_FAILED, and the client comes back with
-- its password. Topology in spec/helpers/hooked.lua. #netns: needs root.
local hooked = require "spec.helpers.hooked"
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"
local peers = require "spec.helpers.peers"

-- on.auth prints one "auth: " line per call; on.connect says whether a token let it in.
local HOOKS = [[
function office.on.auth(client, username, password)
  print(string.format("auth: user=%s password=%s token=%s", tostring(username), tostring(password),
    tostring(client.auth_token)))
  return username == "alice" and password == "correct horse"
end
function office.on.connect(client)
  print(string.format("connect: user=%s token=%s", tostring(client.username),
    tostring(client.auth_token)))
end
]]

local function count(text, plain)
	local n, at = 0, 1
	while true do
		local s, e = text:find(plain, at, true)
		if not s then return n end
		n, at = n + 1, e + 1
	end
end

describe("#netns auth tokens", function()
	local t = hooked.each()
	if not t then return end

	-- A secret made by stock OpenVPN, so the key format is its own (by_moonvpn: moonvpn genkey's).
	local function secret(by_moonvpn)
		local path = netns.tmpdir() .. "/auth-token.key"
		if by_moonvpn then
			local status, out, err = mv.run("genkey --auth-token " .. path)
			assert(status == 0, tostring(out) .. tostring(err))
		else
			local ok, out = netns.sh("openvpn --genkey auth-token " .. path)
			assert(ok, out)
		end
		return path
	end

	local function start(extra, n)
		t:start(HOOKS, extra, n)
	end

	local function wait_engine(pattern, timeout)
		local ok, out = t.engine:wait_log(pattern, timeout or 30)
		assert(ok, "moonvpn:\n" .. out)
		return out
	end

	-- Waits until the engine's output has n lines containing plain.
	local function wait_count(plain, n, timeout, client)
		local deadline = os.time() + (timeout or 40)
		repeat
			local out = t.engine:output()
			if count(out, plain) >= n then return out end
			netns.sleep(0.2)
		until os.time() > deadline
		error(string.format("waited for %d x %q; moonvpn:\n%s\n--- client 1:\n%s", n, plain, t.engine:output(), client and client:output() or "(none)"))
	end

	it("asks on.auth once across renegotiations of a 2.6 client without a certificate, with a renewed token", function()
		-- Pings each second: the server renegotiates again once the client sends with the newest key.
		start(string.format('  auth = { certificate = "none", token = { secret = "%s", renew = 10 } },\n'
			.. '  renegotiate = { seconds = 3 },\n  keepalive = { interval = 1, timeout = 10 },\n', secret()))
		local c = t:connect(1, "alice", "correct horse", { no_cert = true })
		t:completed(c)
		-- Without a certificate a renegotiation must prove the identity again: with the token.
		-- A fresh token comes every 10 s ("PUSH_REPLY,auth-token", redacted in 2.6's log);
		-- the renegotiations after it carry that one.
		local ok, out = c:wait_log("PUSH_REPLY,auth%-tokenSESS_ID'", 30)
		assert(ok, out)
		wait_engine("renegotiated: data now on key 5", 40)
		local log = t.engine:output()
		assert.equals(1, count(log, "auth: "), log)
		assert.is_nil(log:find("must repeat the username", 1, true), log)
		assert.is_nil(log:find("refused", 1, true), log)
		assert.is_true((t.clients[1]:sh("ping -n -c 2 -i 0.2 -W 2 10.77.0.1")), "traffic on key 5")
	end)

	-- Under the sanitizers 2.7's is peers_spec's: its token reneg cell runs there.
	for _, kind in ipairs { "2.7", "ovpncli" } do
		local it_here = kind == "2.7" and function(name, fn)
			netns.it_release(name, "peers_spec's OpenVPN 2.7.6 token reneg cell: a token it renegotiates "
				.. "with, on.auth asked once", fn)
		end or it
		it_here("gives " .. peers.LABEL[kind] .. " a token it renegotiates with, on.auth asked once", function()
			local why = peers.missing(kind)
			if why then
				pending(why)
				return
			end
			start(string.format('  auth = { token = { secret = "%s", renew = 10 } },\n'
				.. '  renegotiate = { seconds = 3 },\n  keepalive = { interval = 1, timeout = 10 },\n', secret()))
			local c = peers.start(t.clients[1], kind, { remote = "10.88.1.1", user = "alice",
				password = "correct horse" })
			c:connected(30, t.engine)
			-- The 3 core keeps sending with a key for 60 s after the next one is
			-- made, and the server renegotiates again only once it has switched.
			wait_engine("renegotiated: data now on key " .. (kind == "ovpncli" and 1 or 5), 40)
			local log, out = t.engine:output(), c:output()
			assert.equals(1, count(log, "auth: "), log)
			assert.is_nil(log:find("refused", 1, true), log)
			if kind == "ovpncli" then
				-- The push's token and the renewal's, each logged by the 3 core.
				local deadline = os.time() + 30
				while count(out, "Session token: [redacted]") < 2 and os.time() < deadline do
					netns.sleep(0.2)
					out = c:output()
				end
				assert.equals(2, count(out, "Session token: [redacted]"), out)
				assert.matches("Session user: alice", out, 1, true)
			else
				assert.matches("PUSH_REPLY,auth-tokenSESS_ID'", out, 1, true)
			end
		end)
	end

	it("lets a 2.6 client back in on its token after a restart with the same secret", function()
		start(string.format('  auth = { token = { secret = "%s", renew = 60 } },\n', secret()))
		local c = t:connect(1, "alice", "correct horse")
		t:completed(c)
		assert.equals(1, count(t.engine:output(), "auth: "))
		-- The server goes (telling the client RESTART) and comes back with the same secret.
		assert.equals(0, t.engine:stop())
		t.engine = t.srv:spawn({ mv.bin, t.config })
		local log = wait_engine("connect: user=alice token=valid", 40)
		assert.equals(0, count(log, "auth: "), log)
		assert.matches("auth%-token valid", log)
		local ok, out = c:wait_log("Initialization Sequence Completed.*Initialization Sequence Completed", 30)
		assert(ok, out)
	end)

	it("lets " .. peers.LABEL.ovpncli .. " back in on its token after a restart with the same secret", function()
		local why = peers.missing("ovpncli")
		if why then
			pending(why)
			return
		end
		start(string.format('  auth = { token = { secret = "%s", renew = 60 } },\n', secret()))
		local c = peers.start(t.clients[1], "ovpncli", { remote = "10.88.1.1", user = "alice",
			password = "correct horse" })
		c:connected(30, t.engine)
		assert.equals(0, t.engine:stop())
		t.engine = t.srv:spawn({ mv.bin, t.config })
		local log = wait_engine("connect: user=alice token=valid", 60)
		assert.equals(0, count(log, "auth: "), log)
		local deadline = os.time() + 30
		while count(c:output(), "EVENT: CONNECTED ") < 2 and os.time() < deadline do netns.sleep(0.2) end
		assert.equals(2, count(c:output(), "EVENT: CONNECTED "), c:output())
	end)

	it("asks on.auth about a token login with auth.token.external, without a password", function()
		start(string.format('  auth = { token = { secret = "%s", renew = 60, external = true } },\n', secret()))
		local c = t:connect(1, "alice", "correct horse")
		t:completed(c)
		assert.equals(0, t.engine:stop())
		t.engine = t.srv:spawn({ mv.bin, t.config })
		-- The hook is told it is a token and gets no password: this one refuses, and the
		-- client comes back with its password.
		local log = wait_count("auth: user=alice password=correct horse token=nil", 1, 60, c)
		assert.matches("auth: user=alice password=nil token=valid", log, 1, true)
		local ok, out = c:wait_log("Initialization Sequence Completed.*Initialization Sequence Completed", 30)
		assert(ok, out)
	end)

	it("refuses an expired token with AUTH_FAILED; the 2.6 client comes back with its password", function()
		start(string.format('  auth = { certificate = "none", token = { secret = "%s", lifetime = 4, '
			.. 'renew = 10 } },\n  renegotiate = { seconds = 6 },\n', secret()))
		local c = t:connect(1, "alice", "correct horse", { no_cert = true })
		t:completed(c)
		-- The renegotiation 6 s in carries a token past its 4 s lifetime.
		local log = wait_count('auth: user=alice password=correct horse', 2, 60, c)
		assert.matches("auth%-token expired in renegotiation of key 1", log)
		local ok, out = c:wait_log("Initialization Sequence Completed.*Initialization Sequence Completed", 30)
		assert(ok, out)
		assert.matches("AUTH_FAILED", out)
	end)

	it("does not take a kicked client's token back (a secret from moonvpn genkey)", function()
		start(string.format('  auth = { token = { secret = "%s", renew = 60 } },\n', secret(true)))
		local c = t:connect(1, "alice", "correct horse")
		t:completed(c)
		t:console('kick("alice", "bye", { reconnect = true })')
		-- It comes back with the token, is refused, and comes back with its password.
		local log = wait_count('auth: user=alice password=correct horse', 2, 60, c)
		assert.matches("auth%-token revoked", log)
		assert.equals(2, count(log, "auth: "), log)
		local ok, out = c:wait_log("Initialization Sequence Completed.*Initialization Sequence Completed", 30)
		assert(ok, out)
	end)

	it("makes secrets with moonvpn genkey --auth-token that a stock 2.6 server takes", function()
		local path = secret(true)
		local srv, cli = netns.new(), netns.new()
		netns.veth(srv, "10.88.1.1/24", cli, "10.88.1.2/24")
		local server = srv:spawn({ "openvpn", "--config", openvpn.server(mv.pki(), { listen = "10.88.1.1",
			extra = "auth-gen-token 0\nauth-gen-token-secret " .. path }) })
		local ok, out = server:wait_log("Initialization Sequence Completed", 10)
		assert(ok, out)
		assert.is_nil(out:find("auth-token secret", 1, true), out)
	end)
end)
