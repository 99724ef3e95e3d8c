/* SPDX-License-Identifier: MIT */
/*
 * A remote's host name resolved without stalling the loop: getaddrinfo
 * (with AI_ADDRCONFIG: no IPv6 answers on a host without IPv6, as
 * OpenVPN's socket.c asks) runs on a thread of its own, and its answer
 * comes back to the loop through a socketpair an io watcher reads. Why a
 * thread and not getaddrinfo_a: glibc's runs on threads too, but tells its
 * end by a signal or a thread callback, and cannot be cancelled once it
 * runs; a thread per name, detached, that drops its answer when nobody
 * waits any more is simpler and frees everything itself. A client resolves
 * one name at a time, so few threads ever run.
 */
#ifndef MOONVPN_NAMERES_H
#define MOONVPN_NAMERES_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "udp.h"

enum {
	NAMERES_ADDRS_MAX = 16, /* addresses kept of one name's answer (in its order) */
	NAMERES_HOST_MAX = 256,
	NAMERES_ERR_MAX = 128,
};

/* The answer: n addresses with the port asked for, or none and err saying why. */
typedef void (*nameres_done)(void *ctx, const struct udp_addr *addrs, size_t n, const char *err);

struct nameres;

/*
 * Starts resolving host for a tcp (else udp) remote at port; done runs on
 * loop once, later, unless nameres_cancel comes first. NULL when no thread
 * can start (err says why).
 */
struct nameres *nameres_start(struct ev_loop *loop, const char *host, uint16_t port, bool tcp,
			      nameres_done done, void *ctx, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* done will not run; the thread frees what is left when its getaddrinfo returns. */
void nameres_cancel(struct nameres *r);

/* Blocking: the same answer at once, for `moonvpn --check` (no loop runs there). */
size_t nameres_now(const char *host, uint16_t port, bool tcp, struct udp_addr *out, size_t cap,
		   char *err, size_t errlen);

#endif
