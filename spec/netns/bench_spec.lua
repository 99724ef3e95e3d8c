-- SPDX-License-Identifier: MIT
-- make bench's quick mode: scripts/bench with BENCH_QUICK=1 measures every pair
-- (veth, stock OpenVPN, wireguard-go, moonvpn, mixed, policy) for one round of
-- 1 s runs. Checks only that the script completes and prints a ratio line with
-- a figure for every pair, never how fast anything is: the machine is shared.
-- The same for scripts/bench-workers (four clients, one worker and two).
--
-- #netns: needs root, iperf3, openvpn, wireguard-go and wg.
local netns = require "spec.helpers.netns"

describe("#netns scripts/bench quick mode", function()
	local unfit = netns.load_spec_unfit()
	if unfit then
		pending(unfit)
		return
	end

	it("runs every pair and prints a ratio for each", function()
		-- MOONVPN_BIN comes from spec/run-busted: the script runs that build's
		-- moonvpn. Its namespaces carry this run's prefix, for spec/helpers/cleanup.
		local ok, out = netns.sh("MVT_PREFIX=" .. netns.quote(netns.PREFIX) .. " BENCH_QUICK=1 scripts/bench")
		assert(ok, out)
		local ratios = {}
		for line in out:gmatch("[^\n]+") do
			if line:match("^ratio ") then ratios[#ratios + 1] = line end
		end
		for _, pair in ipairs { "veth", "openvpn", "wg-go", "moonvpn", "mixed", "policy" } do
			local found
			for _, line in ipairs(ratios) do
				local label = line:match("^ratio (%S+)")
				for name in label:gmatch("[^/]+") do
					if name == pair and line:match("%s%d+%.%d+") then found = true end
				end
			end
			assert(found, "no ratio line with a figure for " .. pair .. ":\n" .. out)
		end
		assert.truthy(out:match("issue 12 aims at 0.4 or less%): TCP up %S+"), out)
		-- Everything the run started is gone with it.
		local _, names = netns.sh("ip netns list")
		assert.falsy(names:find(netns.PREFIX .. "-srv-", 1, true), names)
		assert.falsy(names:find(netns.PREFIX .. "-cli-", 1, true), names)
	end)

	it("runs scripts/bench-workers: every client through one worker and through two, with their ratio", function()
		local ok, out = netns.sh("MVT_PREFIX=" .. netns.quote(netns.PREFIX) .. " BENCH_QUICK=1 scripts/bench-workers")
		assert(ok, out)
		-- Both rows have figures, and the clients were dealt to the workers.
		assert.truthy(out:match("\n1%s+1%s+%d+%s+%d+%s+[%d.]+%s+[%d.]+%s+4\n"), out)
		assert.truthy(out:match("\n1%s+2%s+%d+%s+%d+%s+[%d.]+%s+[%d.]+%s+2 2\n"), out)
		assert.truthy(out:match("ratio workers=2/workers=1 [^\n]*TCP up %d+%.%d+  TCP dn %d+%.%d+"), out)
		local _, names = netns.sh("ip netns list")
		assert.falsy(names:find(netns.PREFIX .. "-srv-w", 1, true), names)
		assert.falsy(names:find(netns.PREFIX .. "-cli-w", 1, true), names)
	end)
end)
