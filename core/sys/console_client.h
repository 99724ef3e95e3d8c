/* SPDX-License-Identifier: MIT */
/*
 * `moonvpn console SOCKET [-e CHUNK]...`: the operator's side of the
 * console. Interactive with line editing and history when stdin is a
 * terminal; otherwise (or with -e) it sends its input and exits non-zero
 * if any evaluation raised an error. Needs no engine and no Lua.
 */
#ifndef MOONVPN_CONSOLE_CLIENT_H
#define MOONVPN_CONSOLE_CLIENT_H

/* argv[0] is "console"; returns the process exit status. */
int console_client_main(int argc, char **argv);

#endif
