-- SPDX-License-Identifier: MIT
-- #netns
--- Prometheus metrics (config `metrics`, README "Metrics"): promtool accepts
-- the text, its values move with traffic, per-client series come and go, a
-- reload moves or trims them, and hostile scrapers never stall the engine.
--
--   [ mvt-srv: moonvpn, metrics on 127.0.0.1:9176 ] --veth 10.88.N.1/.2-- [ mvt-cliN: openvpn ]
local hooked = require "spec.helpers.hooked"
local mv = require "spec.helpers.moonvpn"
local netns = require "spec.helpers.netns"
local openvpn = require "spec.helpers.openvpn"

local HOOKS = [[
function office.on.auth(client, username, password)
  if password == "boom" then error("a bug in on.auth") end
  if password == "later" then
    assert(client:pending { challenge = "Your code", timeout = 30 })
    return false, "no code today"
  end
  return password == "right", "wrong password"
end
]]

-- The body of GET url in the server's namespace (curl fails on a non-2xx status).
local function scrape(t, url)
	local ok, out = t.srv:sh("curl -sS --fail --max-time 10 " .. (url or "http://127.0.0.1:9176/metrics"))
	assert(ok, "curl: " .. out .. "\n--- moonvpn:\n" .. t.engine:output())
	return out
end

-- The value of the sample `series` (its name and labels exactly as written), or nil.
local function value(text, series)
	for line in text:gmatch("[^\n]+") do
		if line:sub(1, #series + 1) == series .. " " then return tonumber(line:sub(#series + 2)) end
	end
	return nil
end

-- Polls until pred(scrape) holds; returns the last text.
local function scrape_until(t, pred, what)
	local text
	for _ = 1, 100 do
		text = scrape(t)
		if pred(text) then return text end
		netns.sleep(0.2)
	end
	error("metrics never showed " .. what .. ":\n" .. text)
end

local function promtool(t)
	local ok, out = t.srv:sh("curl -sS --fail --max-time 10 http://127.0.0.1:9176/metrics | promtool check metrics")
	assert(ok, "promtool check metrics:\n" .. out)
end

local function client(t, i, cert, password, extra)
	return t.clients[i]:spawn({ "openvpn", "--config", openvpn.profile(mv.pki(), { remote = "10.88." .. i .. ".1",
		cert = cert, extra = string.format("explicit-exit-notify 1\n<auth-user-pass>\nalice\n%s\n</auth-user-pass>\n%s",
			password, extra or "") }) })
end

describe("metrics #netns", function()
	local t = hooked.each()
	if not t then return end

	it("serves text promtool accepts, whose values move with traffic, auth and clients", function()
		t:start(HOOKS, '  metrics = "127.0.0.1:9176",\n')
		promtool(t)
		local text = scrape(t)
		assert.are.equal(0, value(text, "moonvpn_clients_connected"))
		assert.are.equal(1, value(text, 'moonvpn_build_info{version="0.1.0"}'))
		assert.is_true(value(text, "moonvpn_process_start_time_seconds") > 1.7e9)
		assert.are.equal(0, value(text, "moonvpn_handshakes_completed_total"))
		-- Every counter of stats().dropped is a reason.
		local reasons = t:console("local n = {} for k in pairs(stats().dropped) do n[#n + 1] = k end "
			.. "table.sort(n) return table.concat(n, ' ')")
		for reason in reasons:gmatch("[%w_]+") do
			assert.is_not_nil(value(text, 'moonvpn_dropped_packets_total{reason="' .. reason .. '"}'), reason)
		end

		local c1 = client(t, 1, "client1", "right")
		t:completed(c1)
		assert.is_true((t.clients[1]:sh("ping -n -c 5 -i 0.2 -W 2 10.77.0.1")))
		text = scrape_until(t, function(x)
			return value(x, 'moonvpn_client_received_packets_total{common_name="client1"}') ~= nil
				and value(x, 'moonvpn_client_received_packets_total{common_name="client1"}') >= 5
		end, "client1's five pings")
		assert.are.equal(1, value(text, "moonvpn_clients_connected"))
		assert.are.equal(1, value(text, "moonvpn_handshakes_completed_total"))
		assert.are.equal(1, value(text, 'moonvpn_auth_results_total{result="accepted"}'))
		assert.is_true(value(text, "moonvpn_handshakes_started_total") >= 1)
		assert.is_true(value(text, "moonvpn_data_received_packets_total") >= 5)
		assert.is_true(value(text, "moonvpn_data_sent_bytes_total") > 0)
		assert.is_true(value(text, 'moonvpn_client_sent_bytes_total{common_name="client1"}') > 0)
		assert.are.equal(1, value(text, 'moonvpn_hook_duration_seconds_count{hook="on.auth/on.connect"}'))
		assert.are.equal(1, value(text, 'moonvpn_hook_duration_seconds_bucket{hook="on.auth/on.connect",le="+Inf"}'))
		-- on.auth is timed apart too (on.connect is not set: it never runs).
		assert.are.equal(1, value(text, 'moonvpn_hook_duration_seconds_count{hook="on.auth"}'))
		assert.is_nil(value(text, 'moonvpn_hook_duration_seconds_count{hook="on.connect"}'))
		promtool(t)

		-- A wrong password: refused, counted as such.
		local c2 = client(t, 2, "client2", "wrong")
		t:refused(c2)
		c2:stop()
		text = scrape_until(t, function(x)
			return value(x, 'moonvpn_auth_results_total{result="refused"}') == 1
		end, "the refusal")
		assert.are.equal(1, value(text, 'moonvpn_handshakes_failed_total{reason="refused"}'))
		assert.are.equal(0, value(text, 'moonvpn_hook_failures_total{hook="on.auth/on.connect"}'))
		-- A hook that fails refuses too, and counts as the hook's failure.
		c2 = client(t, 2, "client2", "boom")
		t:refused(c2)
		text = scrape_until(t, function(x)
			return value(x, 'moonvpn_auth_results_total{result="refused"}') == 2
		end, "the second refusal")
		assert.are.equal(2, value(text, 'moonvpn_handshakes_failed_total{reason="refused"}'))
		assert.are.equal(1, value(text, 'moonvpn_hook_failures_total{hook="on.auth/on.connect"}'))
		assert.are.equal(3, value(text, 'moonvpn_hook_duration_seconds_count{hook="on.auth/on.connect"}'))
		assert.are.equal(3, value(text, 'moonvpn_hook_duration_seconds_count{hook="on.auth"}'))
		assert.are.equal(1, value(text, 'moonvpn_hook_failures_total{hook="on.auth"}'))
		assert.are.equal(1, value(text, "moonvpn_clients_connected"))
		assert.is_nil(value(text, 'moonvpn_client_received_bytes_total{common_name="client2"}'))
		-- Deferred: a client that can answer a challenge (IV_SSO crtext) is told to wait.
		c2:stop()
		c2 = client(t, 2, "client2", "later", "setenv IV_SSO crtext\n")
		text = scrape_until(t, function(x)
			return value(x, 'moonvpn_auth_results_total{result="refused"}') == 3
		end, "the third refusal")
		assert.are.equal(1, value(text, 'moonvpn_auth_results_total{result="pending"}'))
		c2:stop()

		-- client1 leaves: its series go, the gauge is back at 0.
		c1:stop()
		text = scrape_until(t, function(x) return value(x, "moonvpn_clients_connected") == 0 end, "no client")
		assert.is_nil(text:find('common_name="client1"', 1, true))
		promtool(t)
	end)

	it("answers only GET /metrics: 404, 405 and 400 otherwise", function()
		t:start(HOOKS, '  metrics = "127.0.0.1:9176",\n')
		local function code(args)
			local _, out = t.srv:sh("curl -s -o /dev/null -w '%{http_code}' --max-time 10 " .. args)
			return out
		end
		assert.are.equal("200", code("http://127.0.0.1:9176/metrics"))
		assert.are.equal("200", code("'http://127.0.0.1:9176/metrics?x=1'"))
		assert.are.equal("404", code("http://127.0.0.1:9176/"))
		assert.are.equal("405", code("-X POST http://127.0.0.1:9176/metrics"))
		local _, out = t.srv:sh("printf 'hello there\\r\\n\\r\\n' | nc -q 5 -w 5 127.0.0.1 9176")
		assert.matches("^HTTP/1.1 400 Bad Request\r\n", out)
		local _, head = t.srv:sh("curl -sS -D - -o /dev/null --max-time 10 http://127.0.0.1:9176/metrics")
		assert.matches("Content%-Type: text/plain; version=0.0.4", head)
		assert.matches("Connection: close", head)
	end)

	it("bounds per-client series; a reload moves the listener and turns them off", function()
		t:start(HOOKS, '  metrics = { listen = "127.0.0.1:9176", per_client = true, per_client_max = 1 },\n')
		t:completed(client(t, 1, "client1", "right"))
		t:completed(client(t, 2, "client2", "right"))
		local body = scrape_until(t, function(x) return value(x, "moonvpn_clients_connected") == 2 end,
			"two clients")
		-- One common name listed (the first in order), the other counted as unlisted.
		assert.is_not_nil(value(body, 'moonvpn_client_sent_bytes_total{common_name="client1"}'))
		assert.is_nil(body:find('common_name="client2"', 1, true))
		assert.are.equal(1, value(body, "moonvpn_clients_unlisted"))
		local text = netns.read_file(t.config):gsub('listen = "127.0.0.1:9176", per_client = true, per_client_max = 1',
			'listen = "[::1]:9177", per_client = false')
		netns.write_file(t.config, text)
		t:console("reload()")
		body = scrape(t, "'http://[::1]:9177/metrics'")
		assert.are.equal(2, value(body, "moonvpn_clients_connected"))
		assert.is_nil(body:find("common_name=", 1, true))
		assert.is_false((t.srv:sh("curl -s --max-time 5 http://127.0.0.1:9176/metrics")))
		assert.matches("metrics: serving http://%[::1%]:9177/metrics", t.engine:output())
		-- A reload to an address it cannot have keeps the running one.
		netns.write_file(t.config, (netns.read_file(t.config):gsub('%[::1%]:9177', '192.0.2.1:9177')))
		assert.matches("cannot listen on 192.0.2.1:9177", t:console("return select(2, pcall(reload))"))
		scrape(t, "'http://[::1]:9177/metrics'")
	end)

	it("slow and hostile scrapers never stall the engine, the console or the tunnel", function()
		t:start(HOOKS, '  metrics = "127.0.0.1:9176",\n  renegotiate = { seconds = 3 },\n')
		local c1 = client(t, 1, "client1", "right")
		t:completed(c1)
		-- 40 connections (more than the 16 slots) that send half a request and never read;
		-- one that sends a byte a second; one that asks and never reads.
		t.srv:spawn({ "sh", "-c", "for i in $(seq 40); do (printf 'GET /metr'; sleep 60) | "
			.. "nc 127.0.0.1 9176 > /dev/null & done; wait" })
		t.srv:spawn({ "sh", "-c", "(for c in G E T ' ' / m e t r i c s; do printf %s \"$c\"; sleep 1; done; "
			.. "sleep 60) | nc 127.0.0.1 9176" })
		t.srv:spawn({ "sh", "-c", "(printf 'GET /metrics HTTP/1.1\\r\\n\\r\\n'; sleep 60) | nc 127.0.0.1 9176 | sleep 60" })
		netns.sleep(1)
		-- Meanwhile a good scraper, the console and the tunnel work.
		local text = scrape(t)
		assert.are.equal(1, value(text, "moonvpn_clients_connected"))
		assert.matches("client1", t:console("return clients()[1].cn"))
		assert.is_true((t.clients[1]:sh("ping -n -c 3 -i 0.2 -W 2 10.77.0.1")))
		-- The oldest were closed for newcomers, and the slow ones at their deadline.
		text = scrape_until(t, function(x)
			return value(x, 'moonvpn_metrics_http_closed_total{reason="timeout"}') >= 1
		end, "a connection closed at its deadline")
		assert.is_true(value(text, 'moonvpn_metrics_http_closed_total{reason="evicted"}') >= 1)
		-- The tunnel renegotiated meanwhile (every 3 s), and that is counted.
		scrape_until(t, function(x) return value(x, "moonvpn_renegotiations_total") >= 1 end,
			"a renegotiation")
		assert.is_true((t.clients[1]:sh("ping -n -c 2 -i 0.2 -W 2 10.77.0.1")))
		promtool(t)
	end)
end)
