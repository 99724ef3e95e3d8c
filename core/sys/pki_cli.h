/* SPDX-License-Identifier: MIT */
/*
 * `moonvpn pki [--dir DIR] [--days N] [--rsa BITS] init [CN] | server NAME |
 * client NAME | revoke NAME | list | crl`: the command line of pki.c, over
 * DIR (default ./pki), an easy-rsa 3 directory or one made by init.
 */
#ifndef MOONVPN_PKI_CLI_H
#define MOONVPN_PKI_CLI_H

/* argv[0] is "pki". Returns the exit status. */
int pki_cli_main(int argc, char **argv);

#endif
