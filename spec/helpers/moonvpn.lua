-- SPDX-License-Identifier: MIT
--- Running the moonvpn binary from specs.
local netns = require "spec.helpers.netns"

local M = {}

M.bin = os.getenv("MOONVPN_BIN") or "build/moonvpn"

--- Runs `moonvpn ARGS`; returns exit status, stdout, stderr.
function M.run(args, opts)
	opts = opts or {}
	local dir = netns.tmpdir()
	local cmd = string.format("{ %s%s %s > %s/out 2> %s/err < %s; }", opts.prefix or "",
		netns.quote(M.bin), args, dir, dir, opts.stdin or "/dev/null")
	local _, _, status = netns.sh(cmd)
	return status, netns.read_file(dir .. "/out") or "", netns.read_file(dir .. "/err") or ""
end

--- Writes `text` as <tmpdir>/vpn.lua (or `name`); returns its path.
function M.write_config(text, name)
	local path = netns.tmpdir() .. "/" .. (name or "vpn.lua")
	netns.write_file(path, text)
	return path
end

--- A valid minimal server config with `extra` fields inserted into vpn.server { }.
function M.server_config(extra)
	return table.concat({
		'local vpn = require "moonvpn"',
		"vpn.server {",
		'  network = "10.77.0.0/24",',
		'  tls = { ca = "ca.crt", cert = "server.crt", key = "server.key" },',
		extra or "",
		"}",
		"",
	}, "\n")
end

--- `moonvpn console SOCKET -e CHUNK`; returns exit status, stdout, stderr.
function M.console(socket, chunk)
	return M.run("console " .. netns.quote(socket) .. " -e " .. netns.quote(chunk))
end

return M
