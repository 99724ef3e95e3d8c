/* SPDX-License-Identifier: MIT */
/*
 * `moonvpn genkey`: new key files in the formats stock OpenVPN reads and
 * writes. `genkey FILE` makes a static key for tls-auth or tls-crypt;
 * `genkey --tls-crypt-v2-server FILE` a tls-crypt-v2 server key; and
 * `genkey --tls-crypt-v2-client FILE --server-key FILE [--metadata TEXT]`
 * a client key wrapped with that server key (as `openvpn --tls-crypt-v2
 * server.key --genkey tls-crypt-v2-client`), printing its id; `genkey
 * --auth-token FILE` an auth-token secret (as `openvpn --genkey auth-token`). Files are
 * created with mode 0600 and never overwritten.
 */
#ifndef MOONVPN_GENKEY_CLI_H
#define MOONVPN_GENKEY_CLI_H

/* argv[0] is "genkey". Returns the exit status. */
int genkey_cli_main(int argc, char **argv);

#endif
