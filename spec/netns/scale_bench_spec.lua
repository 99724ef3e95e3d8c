-- SPDX-License-Identifier: MIT
-- make bench-scale's quick mode: scripts/bench-scale with SCALE_QUICK=1 (200
-- load-generator clients from 4 source addresses) against moonvpn and a stock
-- OpenVPN 2.6 server. Checks that every phase completes for both servers and
-- prints its figures, never how fast anything is: the machine is shared.
--
-- #netns: needs root, openvpn and build/tools/loadgen.
local netns = require "spec.helpers.netns"

describe("#netns scripts/bench-scale quick mode", function()
	local unfit = netns.load_spec_unfit()
	if unfit then
		pending(unfit)
		return
	end

	it("storms, measures and restarts both servers, and cleans up", function()
		local ok, out = netns.sh("MVT_PREFIX=" .. netns.quote(netns.PREFIX) .. " SCALE_QUICK=1 scripts/bench-scale")
		assert(ok, out)
		for _, server in ipairs { "moonvpn", "openvpn" } do
			assert.matches("\n" .. server .. " storm: 200 connected in %d+ ms %(%d+ handshakes/s%) p50_ms=[%d.]+ "
				.. "p99_ms=[%d.]+\n", out)
			assert.matches("\n" .. server .. " memory: RSS %d+ KiB with 200 idle clients, %d+ KiB before: "
				.. "%-?[%d.]+ KiB a client %(%-?[%d.]+ KiB 2 s after the last came in, 10 s after now%)\n", out)
			assert.matches("\n" .. server .. " restart: all 200 connected again %d+ ms after the server started\n", out)
			-- Attempts fail while a server restarts (its clients come back with a back-off):
			-- what counts is that all 200 are connected at the end.
			assert.matches("\n" .. server .. " loadgen: started=200 connected=200 failed=%d+ dropped=200 ", out)
		end
		-- moonvpn's own counters: what turned its clients away after the restart, if anything.
		assert.matches("\nmoonvpn admission after the restart: \"evicted_half_open=%d+ ", out)
		assert.matches("\nmoonvpn heap trims: %d+\n", out)
		local _, names = netns.sh("ip netns list")
		assert.falsy(names:find(netns.PREFIX .. "-srv-", 1, true), names)
		assert.falsy(names:find(netns.PREFIX .. "-lg-", 1, true), names)
	end)
end)
