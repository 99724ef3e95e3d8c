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

local pki_dir

--- A throwaway PKI made once per run with scripts/make-pki (see its header
-- for the files), plus tls-crypt/tls-auth keys made with `moonvpn genkey`.
function M.pki()
	if pki_dir then return pki_dir end
	local dir = "/tmp/" .. netns.PREFIX .. "-pki"
	local ok, out = netns.sh("rm -rf " .. dir .. " && scripts/make-pki " .. dir .. " 5 && " ..
		netns.quote(M.bin) .. " genkey " .. dir .. "/tc.key && " ..
		netns.quote(M.bin) .. " genkey " .. dir .. "/ta.key && chmod 755 " .. dir)
	assert(ok, out)
	pki_dir = dir
	return dir
end

--- A valid minimal server config with `extra` fields inserted into vpn.server { }.
-- tls = false leaves the tls field out (the caller writes its own).
function M.server_config(extra, opts)
	opts = opts or {}
	local tls = ""
	if opts.tls ~= false then
		local dir = M.pki()
		tls = string.format('  tls = { ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key" },',
			dir, dir, dir)
	end
	return table.concat({
		'local vpn = require "moonvpn"',
		"vpn.server {",
		'  network = "10.77.0.0/24",',
		tls,
		extra or "",
		"}",
		"",
	}, "\n")
end

--- Starts a server with tls-crypt, device mvt0 and a console in namespace ns,
-- with `extra` fields; waits until it runs. Returns the process and the
-- console's socket path.
function M.start_server(ns, extra)
	local pki = M.pki()
	local socket = require("spec.helpers.netns").tmpdir() .. "/console.sock"
	local config = M.write_config(M.server_config(string.format([[
  device = { name = "mvt0" },
  console = "%s",
  tls = { ca = "%s/ca.crt", cert = "%s/server.crt", key = "%s/server.key", tls_crypt = "%s/tc.key" },
%s
]], socket, pki, pki, pki, pki, extra or ""), { tls = false }))
	local engine = ns:spawn({ M.bin, config })
	local ok, out = engine:wait_log("engine: moonvpn [%d.]+ started", 10)
	assert(ok, out)
	return engine, socket
end

--- A moonvpn client config towards `remote` (an address) with client1's
-- certificate, `extra` fields inserted into vpn.client { }.
-- opts.tls = false leaves the tls field out (the caller writes its own);
-- opts.scheme ("udp" or "tcp") and opts.port give the remote's transport.
function M.client_config(remote, extra, opts)
	local dir = M.pki()
	local tls = string.format('  tls = { ca = "%s/ca.crt", cert = "%s/client1.crt", key = "%s/client1.key" },',
		dir, dir, dir)
	-- The host's resolver is never the specs' to change: a client only shows pushed DNS
	-- unless the spec says otherwise (spec/netns/dns_spec.lua does, on a resolv.conf of its own).
	local dns = (extra or ""):find("dns =", 1, true) and "" or '  dns = "show",'
	return table.concat({
		'local vpn = require "moonvpn"',
		"vpn.client {",
		string.format('  remote = "%s://%s:%d",', (opts or {}).scheme or "udp", remote,
			(opts or {}).port or 1194),
		(opts or {}).tls == false and "" or tls,
		dns,
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
