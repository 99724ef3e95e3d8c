/* SPDX-License-Identifier: MIT */
/*
 * `moonvpn profile [--config FILE] [--pki DIR] [--cert FILE --key FILE] NAME`:
 * a client profile (.ovpn) for NAME on standard output, which stock OpenVPN
 * 2.x clients and the OpenVPN 3 core (OpenVPN Connect) import unchanged. It
 * runs the configuration as `--check` does (opening nothing) and writes what
 * a client needs from it: a remote per public address and listener, the
 * device type, the data ciphers, the server's name check, auth-user-pass
 * when on.auth asks for passwords, and inline the CA, NAME's certificate
 * and key (from the PKI: DIR/issued/NAME.crt, DIR/private/NAME.key) and
 * the control-channel key (tls-crypt, tls-auth, or a tls-crypt-v2 client
 * key made on the spot with the server's key).
 */
#ifndef MOONVPN_PROFILE_CLI_H
#define MOONVPN_PROFILE_CLI_H

/* argv[0] is "profile"; root is where the Lua library lives. Returns the exit status. */
int profile_cli_main(const char *root, int argc, char **argv);

#endif
