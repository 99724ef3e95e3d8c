/* SPDX-License-Identifier: MIT */
/*
 * The open-files limit at start-up. Distributions start daemons with a soft
 * limit of 1024, below what the server's own bounds need (a TCP connection
 * for each of max_clients and some to spare, the console's clients, hooks' programs, the
 * descriptors tcp.c keeps in reserve). The soft limit is raised to FDLIMIT_WANTED, the hard one too
 * when we may (root); what cannot be had is logged with how to get it. Nothing here ever lowers a
 * limit.
 */
#ifndef MOONVPN_FDLIMIT_H
#define MOONVPN_FDLIMIT_H

#include "log.h"

enum {
	FDLIMIT_BASE = 64,	    /* device, sockets, netlink, files, the loop, workers */
	FDLIMIT_PER_HOOK_CHILD = 4, /* pidfd and three pipes for each vpn.exec program */
	FDLIMIT_HOOK_CHILDREN = 64, /* HOOK_CHILDREN_MAX in lua_hook.h */
};

/* Descriptors the engine may need at once, with tcp_conns TCP connections. */
unsigned long fdlimit_wanted(unsigned long tcp_conns);

/*
 * Raises RLIMIT_NOFILE towards fdlimit_wanted(tcp_conns) (a server's
 * max_clients and TCP_CONNS_SPARE); says on lg what it did or could not.
 */
void fdlimit_raise(const struct log *lg, unsigned long tcp_conns);

#endif
