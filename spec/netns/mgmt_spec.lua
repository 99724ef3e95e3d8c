-- SPDX-License-Identifier: MIT
-- The OpenVPN management interface (management = "..."), driven as OpenVPN's
-- tools drive it, over its socket with nc, and the status file:
--
--   [ mvt-srv: moonvpn + management socket ] --veth-- [ mvt-cli1: openvpn 2.6 ]
--
-- (topology in spec/helpers/hooked.lua) #netns: needs root.
local hooked = require "spec.helpers.hooked"
local mgmt = require "spec.helpers.mgmt"
local netns = require "spec.helpers.netns"

local BANNER = ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n"

describe("#netns management interface", function()
	local t = hooked.each()
	if not t then return end
	local sock, status_file, m

	after_each(function()
		if m then m:close() end
		m = nil
	end)

	-- A server with the management socket and a status file, and client1 connected.
	local function start(extra, connect)
		sock = netns.tmpdir() .. "/mgmt.sock"
		status_file = netns.tmpdir() .. "/status.log"
		t:start("", string.format('  management = "%s",\n  status = { file = "%s", interval = 1, version = 2 },\n%s',
			sock, status_file, extra or ""), 1)
		local client
		if connect ~= false then
			client = t:connect(1)
			t:completed(client)
		end
		m = mgmt.connect(t.srv, sock)
		m:wait(BANNER)
		return client
	end

	it("creates its socket with mode 0600 and answers version, pid, help and hold", function()
		start(nil, false)
		local _, mode = netns.sh("stat -c %a " .. netns.quote(sock))
		assert.are.equal("600\n", mode)
		assert.matches("^OpenVPN Version: OpenVPN 2%.6%.14 %(moonvpn [%d.]+%)\r\nManagement Version: 5\r\nEND\r\n$", m:ask("version"))
		assert.matches("^SUCCESS: pid=" .. t.engine.pid .. "\r\n$", m:ask("pid", "\r\n"))
		local help = m:ask("help")
		assert.matches("client-auth CID KID", help, 1, true)
		assert.matches("status [n]", help, 1, true)
		assert.are.equal("SUCCESS: hold release succeeded\r\n", m:ask("hold release", "\r\n"))
		assert.are.equal("ERROR: unknown command [frobnicate], enter 'help' for more options\r\n",
			m:ask("frobnicate", "\r\n"))
		assert.are.equal("SUCCESS: Management client version set to 5\r\n", m:ask("version 5", "\r\n"))
	end)

	it("lists a connected client in status 1, 2 and 3 and load-stats", function()
		start()
		local v1 = m:ask("status 1")
		assert.matches("OpenVPN CLIENT LIST\r\nUpdated,[%d-]+ [%d:]+\r\n" ..
			"Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since\r\n" ..
			"client1,10%.88%.1%.2:%d+,%d+,%d+,[%d-]+ [%d:]+\r\n" ..
			"ROUTING TABLE\r\nVirtual Address,Common Name,Real Address,Last Ref\r\n" ..
			"10%.77%.0%.%d+,client1,10%.88%.1%.2:%d+,[%d-]+ [%d:]+\r\nGLOBAL STATS\r\nMax bcast/mcast queue length,0\r\nEND\r\n", v1)
		local v2 = m:ask("status 2")
		assert.matches("HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address," ..
			"Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID," ..
			"Peer ID,Data Channel Cipher\r\n", v2, 1, true)
		assert.matches("\r\nCLIENT_LIST,client1,10%.88%.1%.2:%d+,10%.77%.0%.%d+,,%d+,%d+,[%d-]+ [%d:]+,%d+,UNDEF,0,0,AES%-256%-GCM\r\n", v2)
		assert.matches("GLOBAL_STATS,Max bcast/mcast queue length,0\r\nGLOBAL_STATS,dco_enabled,0\r\nEND\r\n", v2, 1, true)
		local v3 = m:ask("status 3")
		assert.matches("\r\nCLIENT_LIST\tclient1\t10%.88%.1%.2:%d+\t10%.77%.0%.%d+\t\t", v3)
		assert.matches("^SUCCESS: nclients=1,bytesin=%d+,bytesout=%d+\r\n$", m:ask("load-stats", "\r\n"))
		assert.are.equal("ERROR: bad status format version number\r\n", m:ask("status 4", "\r\n"))
	end)

	-- Each line's record type and number of fields, HEADER and title lines whole:
	-- what a parser of status output relies on.
	local function shape(text, sep)
		local out = {}
		for line in text:gmatch("([^\r\n]*)\r?\n") do
			local fields = {}
			for f in (line .. sep):gmatch("(.-)" .. sep) do fields[#fields + 1] = f end
			if line:find("^HEADER") or #fields == 1 or line:find("^Common Name") or line:find("^Virtual Address") then
				out[#out + 1] = line
			else
				out[#out + 1] = fields[1]:gsub("^[%d.:]+$", "ADDR") .. " x" .. #fields
			end
		end
		return table.concat(out, "\n")
	end

	it("prints status 1, 2 and 3 as a stock OpenVPN 2.6 server does for the same client", function()
		start()
		-- The same client of a stock server, in namespaces of its own.
		local pki = require("spec.helpers.moonvpn").pki()
		local openvpn = require "spec.helpers.openvpn"
		local srv, cli = netns.new(), netns.new()
		netns.veth(srv, "10.89.1.1/24", cli, "10.89.1.2/24")
		local stock_sock = netns.tmpdir() .. "/stock.sock"
		local stock = srv:spawn({ "openvpn", "--config", openvpn.server(pki, { listen = "10.89.1.1",
			extra = "management " .. stock_sock .. " unix" }) })
		local ok, out = stock:wait_log("Initialization Sequence Completed", 20)
		assert(ok, out)
		local c2 = cli:spawn({ "openvpn", "--config", openvpn.profile(pki, { remote = "10.89.1.1" }) })
		ok, out = c2:wait_log("Initialization Sequence Completed", 20)
		assert(ok, out)
		local sm = mgmt.connect(srv, stock_sock)
		sm:wait("type 'help' for more info\r\n")
		for _, case in ipairs { { "1", "," }, { "2", "," }, { "3", "\t" } } do
			local theirs, ours = sm:ask("status " .. case[1]), m:ask("status " .. case[1])
			-- The title names the program; the rest has the same shape line for line.
			theirs = theirs:gsub("TITLE[,\t][^\r]*", "TITLE")
			ours = ours:gsub("TITLE[,\t][^\r]*", "TITLE")
			assert.are.equal(shape(theirs, case[2]), shape(ours, case[2]))
		end
		-- The stock server binds its `local` address, ours every address (empty fields).
		local theirs = sm:ask("state"):gsub("^%d+", ""):gsub(",[%d.]+,%d+\r\n", ",,\r\n")
		assert.are.equal(theirs, (m:ask("state"):gsub("^%d+", "")))
		sm:close()
	end)

	it("writes the status file, atomically, in the configured version", function()
		start()
		local text
		for _ = 1, 100 do
			text = netns.read_file(status_file) or ""
			if text:find("CLIENT_LIST,client1,", 1, true) then break end
			netns.sleep(0.1)
		end
		assert.matches("^TITLE,OpenVPN 2%.6%.14 %(moonvpn [%d.]+%)\nTIME,[%d-]+ [%d:]+,%d+\nHEADER,CLIENT_LIST,", text)
		assert.matches("\nCLIENT_LIST,client1,10%.88%.1%.2:%d+,10%.77%.0%.%d+,", text)
		assert.matches("\nEND\n$", text)
		assert.is_nil(netns.read_file(status_file .. ".tmp"), "the temporary file stays")
	end)

	it("shows the state and streams byte counts", function()
		start()
		assert.matches("^%d+,CONNECTED,SUCCESS,10%.77%.0%.1,,,,\r\nEND\r\n$", m:ask("state"))
		assert.are.equal("SUCCESS: real-time state notification set to ON\r\n", m:ask("state on", "\r\n"))
		assert.are.equal("SUCCESS: bytecount interval changed\r\n", m:ask("bytecount 1", "\r\n"))
		assert.matches("^>BYTECOUNT_CLI:0,%d+,%d+\r\n$", m:wait("\r\n"))
		m:ask("bytecount 0", "\r\n")
	end)

	it("kills a client by common name, by address and by client id", function()
		local client = start()
		assert.are.equal("ERROR: common name 'nobody' not found\r\n", m:ask("kill nobody", "\r\n"))
		assert.are.equal("SUCCESS: common name 'client1' found, 1 client(s) killed\r\n", m:ask("kill client1", "\r\n"))
		-- RESTART: the stock client comes back at once, under a new client id.
		local ok, out = client:wait_log("SIGUSR1%[soft,server%-pushed%-connection%-reset%]", 20)
		assert(ok, out)
		-- The client id of client1's connection once it is listed, and not `old`.
		local function cid_after(old)
			for _ = 1, 200 do
				local cid = m:ask("status 2"):match("\r\nCLIENT_LIST,client1,[^\r]-,UNDEF,(%d+),")
				if cid and cid ~= old then return cid end
				netns.sleep(0.1)
			end
			error("client1 did not come back:\n" .. t.engine:output())
		end
		assert.are.equal("1", cid_after("0"))
		local addr = m:ask("status 1"):match("\r\nclient1,(10%.88%.1%.2:%d+),")
		assert.are.equal("SUCCESS: 1 client(s) at address " .. addr .. " killed\r\n", m:ask("kill udp:" .. addr, "\r\n"))
		assert.are.equal("2", cid_after("1"))
		assert.are.equal("ERROR: client-kill command failed\r\n", m:ask("client-kill 99", "\r\n"))
		assert.are.equal("SUCCESS: client-kill command succeeded\r\n", m:ask("client-kill 2 HALT", "\r\n"))
		ok, out = client:wait_log("SIGTERM%[soft,server%-pushed%-halt%]", 20)
		assert(ok, out)
	end)

	it("asks for the password and drops a wrong one", function()
		local pw = netns.tmpdir() .. "/mgmt.pw"
		netns.write_file(pw, "s3cret\n")
		sock = netns.tmpdir() .. "/mgmt.sock"
		t:start("", string.format('  management = "%s",\n  management_password = "%s",', sock, pw), 1)
		m = mgmt.connect(t.srv, sock)
		m:wait("ENTER PASSWORD:")
		m:send("wrong")
		m:wait("ERROR: bad password\r\n")
		assert.is_true(m:closed())
		m:close()
		m = mgmt.connect(t.srv, sock)
		m:wait("ENTER PASSWORD:")
		m:send("s3cret")
		m:wait("SUCCESS: password is correct\r\n" .. BANNER)
		assert.matches("^SUCCESS: pid=%d+\r\n$", m:ask("pid", "\r\n"))
	end)

	it("listens on TCP on the loopback and quits on quit", function()
		t:start("", '  management = "127.0.0.1:7505",', 1)
		m = mgmt.connect(t.srv, "127.0.0.1:7505")
		m:wait(BANNER)
		m:send("quit")
		-- nc leaves once both ends are closed: its input here, the connection by us.
		m.input:close()
		assert.is_true(m:closed())
	end)

	it("drops a connection that does not read its output, and serves the next one", function()
		t:start("", '  management = "127.0.0.1:7505",', 1)
		m = mgmt.connect(t.srv, "127.0.0.1:7505")
		m:wait(BANNER)
		-- bash writes `help` (1.7 KB of answer each) 5,000 times and never reads: 8 MB
		-- of answers, past the 2 MiB bound, however large the socket buffers are.
		local hog = t.srv:spawn({ "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/7505 || exit 9; " ..
			"for i in $(seq 5000); do echo help >&3 || exit 0; done; sleep 60" })
		local ok, out = t.engine:wait_log("mgmt: connection dropped: it does not read its output", 60)
		assert(ok, out)
		hog:stop()
		assert.matches("^SUCCESS: pid=%d+\r\n$", m:ask("pid", "\r\n"))
		local again = mgmt.connect(t.srv, "127.0.0.1:7505")
		again:wait(BANNER)
		again:close()
	end)

	it("streams log lines, keeps their history and reloads on signal SIGHUP", function()
		start(nil, false)
		assert.are.equal("SUCCESS: real-time log notification set to ON\r\n", m:ask("log on", "\r\n"))
		assert.are.equal("SUCCESS: signal SIGUSR2 thrown\r\n", m:ask("signal SIGUSR2", "\r\n"))
		assert.matches("^>LOG:%d+,I,mgmt: 0 clients, %d+ bytes in, %d+ bytes out\r\n$", m:wait("\r\n"))
		assert.are.equal("SUCCESS: signal SIGHUP thrown\r\n", m:ask("signal SIGHUP", "\r\n"))
		m:wait(",I,config: reloaded ")
		assert.matches("%d+,I,engine: moonvpn [%d.]+ started with ", m:ask("log all"))
		assert.are.equal("ERROR: signal 'SIGKILL' is not a known signal type\r\n", m:ask("signal SIGKILL", "\r\n"))
	end)

	it("drops a line longer than its limit and goes on", function()
		start(nil, false)
		assert.are.equal("ERROR: line longer than 1023 bytes\r\n", m:ask(string.rep("x", 3000), "\r\n"))
		assert.matches("^SUCCESS: pid=%d+\r\n$", m:ask("pid", "\r\n"))
	end)

	describe("with management_client_auth", function()
		-- A server whose admissions the management client decides; client1 starts.
		local function start_auth()
			sock = netns.tmpdir() .. "/mgmt.sock"
			t:start("", string.format('  management = "%s",\n  management_client_auth = true,', sock), 1)
			m = mgmt.connect(t.srv, sock)
			m:wait(BANNER)
			local client = t:connect(1)
			local env = m:wait(">CLIENT:CONNECT,0,0\r\n") .. m:wait(">CLIENT:ENV,END\r\n")
			return client, env
		end

		it("tells CONNECT with the client's ENV and admits it on client-auth with push lines", function()
			local client, env = start_auth()
			assert.matches(">CLIENT:ENV,common_name=client1\r\n", env, 1, true)
			assert.matches(">CLIENT:ENV,untrusted_ip=10.88.1.2\r\n", env, 1, true)
			assert.matches(">CLIENT:ENV,untrusted_port=%d+\r\n", env)
			assert.matches(">CLIENT:ENV,IV_VER=2%.6[%d.]+\r\n", env)
			assert.matches(">CLIENT:ENV,ifconfig_pool_remote_ip=10.77.0.2\r\n", env, 1, true)
			assert.matches(">CLIENT:ENV,n_clients=0\r\n", env, 1, true)
			-- Not admitted yet: the client waits for the decision.
			assert.is_nil(client:output():find("Initialization Sequence Completed", 1, true))
			assert.are.equal("ERROR: client-auth command failed: no client with this CID waits for a decision\r\n",
				m:ask("client-auth-nt 7 0", "\r\n"))
			m:send("client-auth 0 0")
			m:send('push "route 10.99.0.0 255.255.255.0"')
			m:send("END")
			m:wait("SUCCESS: client-auth command succeeded\r\n")
			local out = t:completed(client)
			assert.matches("route 10.99.0.0 255.255.255.0", out, 1, true)
			local est = m:wait(">CLIENT:ESTABLISHED,0\r\n") .. m:wait(">CLIENT:ENV,END\r\n")
			assert.matches(">CLIENT:ENV,trusted_ip=10.88.1.2\r\n", est, 1, true)
			m:wait(">CLIENT:ADDRESS,0,10.77.0.2,1\r\n")
			m:ask("client-kill 0 HALT", "\r\n")
			local bye = m:wait(">CLIENT:DISCONNECT,0\r\n") .. m:wait(">CLIENT:ENV,END\r\n")
			assert.matches(">CLIENT:ENV,bytes_received=%d+\r\n", bye)
		end)

		it("refuses the client on client-deny with the client reason", function()
			local client = start_auth()
			assert.are.equal("SUCCESS: client-deny command succeeded\r\n",
				m:ask('client-deny 0 0 "not today" "ask the office"', "\r\n"))
			assert.matches("AUTH_FAILED,ask the office", t:refused(client), 1, true)
			assert.matches("client 0 %(client1%) denied: not today", t.engine:output())
		end)

		it("tells the client to wait on client-pending-auth, then admits it", function()
			local client = start_auth()
			assert.are.equal("SUCCESS: client-pending-auth command succeeded\r\n",
				m:ask('client-pending-auth 0 0 "OPEN_URL:https://login.example/0" 60', "\r\n"))
			local ok, out = client:wait_log("AUTH_PENDING", 20)
			assert(ok, out)
			assert.are.equal("SUCCESS: client-auth command succeeded\r\n", m:ask("client-auth-nt 0 0", "\r\n"))
			t:completed(client)
		end)

		-- A real third-party client: Debian's go-openvpn-mgmt library (spec/tools/mgmtgo).
		local gotool = "build/tools/mgmtgo"
		local name = "serves a third-party Go client: pid, state, client-auth-nt, ESTABLISHED, byte counts"
		if not io.open(gotool) then pending(name .. ": no " .. gotool .. " (make build/tools/mgmtgo)") else
			it(name, function()
				sock = netns.tmpdir() .. "/mgmt.sock"
				t:start("", string.format('  management = "%s",\n  management_client_auth = true,', sock), 1)
				local go = t.srv:spawn({ gotool, sock })
				local ok, out = go:wait_log("bytecount on", 20)
				assert(ok, out)
				t:completed(t:connect(1))
				assert.are.equal(0, go:wait(60), go:output())
				out = go:output()
				assert.matches("pid " .. t.engine.pid .. "\n", out, 1, true)
				assert.matches("state CONNECTED 10.77.0.1\n", out, 1, true)
				assert.matches("connect cid 0 kid 0\nanswer SUCCESS: client-auth command succeeded\n", out, 1, true)
				assert.matches("env ENV,common_name=client1\n", out, 1, true)
				assert.matches("\nestablished 0\n.*\nbytecount 0 %d+ %d+\n$", out)
			end)
		end

		it("moves the client to ifconfig-push's address and routes its iroutes; a wrong line keeps it waiting", function()
			local client = start_auth()
			for _, case in ipairs {
				{ "ifconfig-push 10.77.0.50 255.255.0.0", "ifconfig-push 10.77.0.50 255.255.0.0: the "
					.. "netmask must be the VPN network's (10.77.0.0/24): clients share the server's subnet" },
				{ "ifconfig-push 10.66.0.5 255.255.255.0",
					"ifconfig-push 10.66.0.5: 10.66.0.5 is not in the pool 10.77.0.0/24" },
				{ "ifconfig-push 10.77.0.1 255.255.255.0", "ifconfig-push 10.77.0.1: 10.77.0.1 is reserved" },
				{ "ifconfig-push ten 255.255.255.0", "ifconfig-push: the address is not an IPv4 address" },
				{ "ifconfig-ipv6-push fd00::5/64", "ifconfig-ipv6-push: the server has no IPv6 network (network6)" },
				{ "iroute 10.77.0.0 255.255.255.0", 'iroute: client:route("10.77.0.0/24") overlaps the VPN '
					.. "network 10.77.0.0/24" },
				{ "iroute fd00::/64", "iroute: expected an IPv4 NETWORK [NETMASK]" },
				{ "iroute 10.99.5.0 255.0.255.0", "iroute: the netmask is not an IPv4 netmask" },
				{ "redirect-gateway def1", 'unsupported config line: push "OPTION", iroute, iroute-ipv6, '
					.. "ifconfig-push and ifconfig-ipv6-push are" },
			} do
				m:send("client-auth 0 0")
				m:send(case[1])
				m:send("END")
				assert.are.equal("ERROR: client-auth command failed: " .. case[2] .. "\r\n", m:wait("\r\n"))
			end
			m:send("client-auth 0 0")
			m:send("ifconfig-push 10.77.0.50 255.255.255.0")
			m:send("iroute 10.99.5.0 255.255.255.0")
			m:send('push "route 10.99.6.0 255.255.255.0"')
			m:send("END")
			m:wait("SUCCESS: client-auth command succeeded\r\n")
			local out = t:completed(client)
			assert.matches("ifconfig 10.77.0.50 255.255.255.0", out, 1, true)
			assert.matches("route 10.99.6.0 255.255.255.0", out, 1, true)
			m:wait(">CLIENT:ADDRESS,0,10.77.0.50,1\r\n")
			local status = m:ask("status 2", "END\r\n")
			assert.matches("\nROUTING_TABLE,10.77.0.50,client1,10.88.1.2:%d+,", status)
			assert.matches("\nROUTING_TABLE,10.99.5.0/24,client1,10.88.1.2:%d+,", status)
			-- The server routes the address and the subnet to the client.
			local ok, ping = t.srv:sh("ping -c 2 -i 0.2 -W 5 10.77.0.50")
			assert(ok, ping)
			assert.matches("10.99.5.0/24 dev mvt0", select(2, t.srv:sh("ip route show 10.99.5.0/24")), 1, true)
			assert.matches('"10.77.0.50"', t:console("return clients()[1].vpn_address"), 1, true)
		end)

		it("asks REAUTH at each renegotiation: client-auth-nt lets the new key in, client-deny ends the client", function()
			sock = netns.tmpdir() .. "/mgmt.sock"
			t:start("", string.format('  management = "%s",\n  management_client_auth = true,\n'
				.. '  renegotiate = { seconds = 4 },\n  keepalive = { interval = 1, timeout = 20 },\n', sock), 1)
			m = mgmt.connect(t.srv, sock)
			m:wait(BANNER)
			local client = t:connect(1)
			m:wait(">CLIENT:CONNECT,0,0\r\n")
			m:wait(">CLIENT:ENV,END\r\n")
			assert.are.equal("SUCCESS: client-auth command succeeded\r\n", m:ask("client-auth-nt 0 0", "\r\n"))
			t:completed(client)
			local env = m:wait(">CLIENT:REAUTH,0,1\r\n", 30) .. m:wait(">CLIENT:ENV,END\r\n")
			assert.matches(">CLIENT:ENV,common_name=client1\r\n", env, 1, true)
			assert.matches(">CLIENT:ENV,ifconfig_pool_remote_ip=10.77.0.2\r\n", env, 1, true)
			-- Held: the old key carries the data until the answer.
			local ok, ping = t.srv:sh("ping -c 2 -i 0.2 -W 5 10.77.0.2")
			assert(ok, ping)
			assert.is_nil(t.engine:output():find("renegotiated: data now on key 1", 1, true))
			assert.are.equal("ERROR: client-pending-auth command failed: the client is renegotiating (REAUTH): answer with "
				.. "client-auth or client-deny\r\n", m:ask('client-pending-auth 0 1 "CR_TEXT:E:code?" 30', "\r\n"))
			assert.are.equal("SUCCESS: client-auth command succeeded\r\n", m:ask("client-auth-nt 0 1", "\r\n"))
			ok = t.engine:wait_log("renegotiated: data now on key 1", 20)
			assert(ok, t.engine:output())
			m:wait(">CLIENT:REAUTH,0,2\r\n", 30)
			m:wait(">CLIENT:ENV,END\r\n")
			assert.are.equal("SUCCESS: client-deny command succeeded\r\n",
				m:ask('client-deny 0 2 "revoked" "your access ended"', "\r\n"))
			assert.matches("AUTH_FAILED,your access ended", t:refused(client), 1, true)
			m:wait(">CLIENT:DISCONNECT,0\r\n")
			m:wait(">CLIENT:ENV,END\r\n")
			-- Nothing is held any more: a late answer is an error.
			assert.are.equal("ERROR: client-auth command failed: no client with this CID waits for a decision\r\n",
				m:ask("client-auth-nt 0 2", "\r\n"))
		end)
	end)
end)
