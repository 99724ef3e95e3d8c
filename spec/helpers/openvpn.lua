-- SPDX-License-Identifier: MIT
--- Stock OpenVPN client profiles for specs: an ordinary .ovpn with the keys
-- inline, as people carry them on laptops and phones.
local netns = require "spec.helpers.netns"

local M = {}

--- Writes a client profile and returns its path.
-- opts: remote (address), cert (name in the PKI, default client1),
-- wrap ("tls-crypt", "tls-auth" or nil), wrap_key (file name in the PKI),
-- extra (more config lines), no_cert (no client certificate: username/password only),
-- proto ("udp" or "tcp-client"), port (1194), dev ("tun" or "tap").
function M.profile(pki, opts)
	local function inline(tag, file)
		return string.format("<%s>\n%s</%s>\n", tag, netns.read_file(pki .. "/" .. file), tag)
	end
	local cert = opts.cert or "client1"
	local text = "client\ndev " .. (opts.dev or "tun") .. "\nproto " .. (opts.proto or "udp") .. "\nremote " .. opts.remote ..
		" " .. (opts.port or 1194) .. "\n" ..
		"remote-cert-tls server\nnobind\nverb 3\n" .. (opts.extra or "") ..
		inline("ca", "ca.crt") ..
		(opts.no_cert and "" or inline("cert", cert .. ".crt") .. inline("key", cert .. ".key"))
	if opts.wrap == "tls-crypt" then text = text .. inline("tls-crypt", opts.wrap_key or "tc.key") end
	if opts.wrap == "tls-auth" then
		text = text .. "key-direction 1\n" .. inline("tls-auth", opts.wrap_key or "ta.key")
	end
	local path = netns.tmpdir() .. "/client.ovpn"
	netns.write_file(path, text)
	return path
end

--- Writes a stock OpenVPN 2.6 server config and returns its path.
-- opts: listen (address), network ("10.77.0.0"), cipher (data-ciphers),
-- wrap ("tls-crypt" or nil), extra (more config lines), proto ("udp" or
-- "tcp-server"), port (1194).
function M.server(pki, opts)
	local text = table.concat({
		"dev " .. (opts.dev or "tun"), "proto " .. (opts.proto or "udp"), "local " .. opts.listen,
		"port " .. (opts.port or 1194),
		"server " .. (opts.network or "10.77.0.0") .. " 255.255.255.0", "topology subnet",
		"ca " .. pki .. "/ca.crt", "cert " .. pki .. "/server.crt", "key " .. pki .. "/server.key",
		"dh none", "verb 3",
		opts.cipher and ("data-ciphers " .. opts.cipher) or "",
		opts.wrap == "tls-crypt" and ("tls-crypt " .. pki .. "/tc.key") or "",
		opts.extra or "", "",
	}, "\n")
	local path = netns.tmpdir() .. "/server.ovpn"
	netns.write_file(path, text)
	return path
end

return M
