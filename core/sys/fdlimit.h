/* SPDX-License-Identifier: MIT */
/*
 * The open-files limit at start-up. Distributions start daemons with a soft
 * limit of 1024, below what the server's own bounds need (TCP_CONNS_MAX
 * connections, the console's clients, hooks' programs, the descriptors
 * tcp.c keeps in reserve). The soft limit is raised to FDLIMIT_WANTED, the
 * hard one too when we may (root); what cannot be had is logged with how
 * to get it. Nothing here ever lowers a limit.
 */
#ifndef MOONVPN_FDLIMIT_H
#define MOONVPN_FDLIMIT_H

#include "log.h"

enum {
	FDLIMIT_BASE = 64,	    /* device, sockets, netlink, files, the loop, workers */
	FDLIMIT_PER_HOOK_CHILD = 4, /* pidfd and three pipes for each vpn.exec program */
	FDLIMIT_HOOK_CHILDREN = 64, /* HOOK_CHILDREN_MAX in lua_hook.h */
};

/* Descriptors the engine may need at once. */
unsigned long fdlimit_wanted(void);

/* Raises RLIMIT_NOFILE towards fdlimit_wanted(); says on lg what it did or could not. */
void fdlimit_raise(const struct log *lg);

#endif
