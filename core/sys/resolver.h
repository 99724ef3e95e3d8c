/* SPDX-License-Identifier: MIT */
/*
 * The DNS servers and search domain a server pushes, given to the system's
 * resolver while the client runs and taken back when it stops:
 *
 *   resolved     systemd-resolved, per link, through resolvectl
 *                (`dns`, `domain`; `~.` too when all traffic is redirected)
 *   resolvconf   resolvconf -a DEVICE.moonvpn (Debian's resolvconf or openresolv)
 *   file         /etc/resolv.conf written, the previous one saved in the
 *                runtime directory and put back at the end; a run that was
 *                killed has it put back at the next start
 *   show         nothing changed: the servers are logged (and shown by status())
 *
 * "auto" takes the first that is there: resolved when systemd-resolved
 * runs, resolvconf when installed, else file. Each call runs to its end
 * (the commands take milliseconds; a stuck one is killed after
 * RESOLVER_COMMAND_SECONDS).
 */
#ifndef MOONVPN_RESOLVER_H
#define MOONVPN_RESOLVER_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip.h"

enum resolver_method {
	RESOLVER_AUTO,
	RESOLVER_RESOLVED,
	RESOLVER_RESOLVCONF,
	RESOLVER_FILE,
	RESOLVER_SHOW,
};

enum {
	RESOLVER_SERVERS_MAX = 8,   /* as PUSH_DNS_MAX */
	RESOLVER_DOMAINS_MAX = 256, /* bytes of the search domains, as PUSH_DOMAINS_MAX */
	RESOLVER_COMMAND_SECONDS = 5,
	RESOLVER_FILE_MAX = 64 * 1024, /* bytes of /etc/resolv.conf we save and put back */
	RESOLVER_PATH_MAX = 512,
};

/* What goes to the resolver: the pushed settings, or what the on.dns hook made of them. */
struct resolver_dns {
	struct ip_addr servers[RESOLVER_SERVERS_MAX];
	uint16_t ports[RESOLVER_SERVERS_MAX]; /* 0: the default, 53 */
	size_t n;
	char domains[RESOLVER_DOMAINS_MAX]; /* search domains, separated by spaces; "" none */
};

struct resolver {
	enum resolver_method applied; /* RESOLVER_AUTO: nothing applied */
	char device[IF_NAMESIZE];
	char saved_path[RESOLVER_PATH_MAX]; /* file: where the previous resolv.conf is kept */
};

/* The method named text ("auto", "resolved", ...); false for another word. */
bool resolver_method_parse(const char *text, enum resolver_method *out);
const char *resolver_method_name(enum resolver_method m);

/*
 * Gives dns to the resolver for device by method, replacing what an earlier
 * call gave. all_traffic: the tunnel carries everything, so every name goes
 * to these servers. resolv.conf has no ports: resolvconf and file leave out
 * a server on another port than 53 (systemd-resolved takes it). 0 with *used
 * the method taken, or -1 with err saying why (nothing changed).
 */
int resolver_apply(struct resolver *r, enum resolver_method method, const char *device,
		   const struct resolver_dns *dns, bool all_traffic, enum resolver_method *used,
		   char *err, size_t errlen) __attribute__((warn_unused_result));

/* "ADDR", or "ADDR:PORT" / "[ADDR]:PORT" for a port other than 53, into buf; returns buf. */
const char *resolver_server_format(const struct resolver_dns *dns, size_t i, char *buf, size_t len);

/* Takes back what resolver_apply gave; a no-op when nothing is applied. */
void resolver_revert(struct resolver *r);

/*
 * At start: /etc/resolv.conf as a killed run of device left it is put back
 * from the runtime directory. True when it was.
 */
bool resolver_recover(const char *device);

/* The runtime directory: $RUNTIME_DIRECTORY (systemd's RuntimeDirectory=) or /run/moonvpn. */
const char *resolver_runtime_dir(void);

#endif
