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

#include <stddef.h>

#include "tlscryptv2.h"

/* argv[0] is "genkey". Returns the exit status. */
int genkey_cli_main(int argc, char **argv);

/*
 * A new tls-crypt-v2 client key wrapped with the server key at server_path
 * (metadata NULL: its creation time), as PEM text (*text_len bytes, a secret:
 * wipe it) and its id. 0, or 1 after a message on stderr starting with who.
 */
int genkey_tls_crypt_v2_client(const char *who, const char *server_path, const char *metadata,
			       char *text, size_t text_max, size_t *text_len,
			       char id[TLSCRYPTV2_ID_TEXT_LEN + 1])
	__attribute__((warn_unused_result));

#endif
