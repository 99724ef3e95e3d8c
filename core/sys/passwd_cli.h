/* SPDX-License-Identifier: MIT */
/*
 * `moonvpn passwd [--method yescrypt|sha512] [USERNAME]`: reads a password
 * (twice without echo on a terminal, else one line of standard input) and
 * prints its crypt(3) hash, as a "USERNAME:HASH" line for the password
 * file of plugins/auth_file.lua when a username is given.
 */
#ifndef MOONVPN_PASSWD_CLI_H
#define MOONVPN_PASSWD_CLI_H

/* argv[0] is "passwd". Returns the exit status. */
int passwd_cli_main(int argc, char **argv);

#endif
