/* SPDX-License-Identifier: MIT */
/*
 * The service manager's readiness protocol (sd_notify(3)), without
 * libsystemd: one datagram of "KEY=value" lines to the UNIX socket named by
 * $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace). The engine
 * says READY=1 once it serves, RELOADING=1 (with MONOTONIC_USEC, as
 * Type=notify-reload of systemd 253+ wants) and READY=1 around a reload,
 * STOPPING=1 when it stops, and STATUS= with its clients, at most once per
 * NOTIFY_STATUS_INTERVAL_SECONDS however often they come and go.
 *
 * Without $NOTIFY_SOCKET every call does nothing. The socket is connected at
 * start, as root, so sending still works after root is dropped. It does not
 * decide what a status says: the owner's status callback does.
 */
#ifndef MOONVPN_NOTIFY_H
#define MOONVPN_NOTIFY_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "log.h"

enum {
	NOTIFY_STATUS_INTERVAL_SECONDS = 1, /* the least time between two STATUS= updates */
	NOTIFY_MESSAGE_MAX = 512,	    /* bytes of one datagram we send */
	NOTIFY_NOTE_MAX = 256,		    /* bytes of the note after the status */
};

/* Writes the current status text (no "STATUS=", no newline) into buf. */
typedef void (*notify_status_fn)(void *ctx, char *buf, size_t len);

struct notify {
	int fd; /* -1: no service manager listens */
	const struct log *log;
	struct ev_loop *loop;
	ev_timer status_timer; /* a pending STATUS= update */
	ev_tstamp status_sent; /* when the last one went, on the loop's clock */
	notify_status_fn status;
	void *ctx;
	char note[NOTIFY_NOTE_MAX]; /* said after the status until cleared: a failed reload */
};

/*
 * Reads and unsets $NOTIFY_SOCKET (programs the engine starts must not
 * speak for it) and connects to it. A bad or unreachable socket is logged
 * and leaves n disabled; the engine runs on.
 */
void notify_init(struct notify *n, struct ev_loop *loop, const struct log *lg,
		 notify_status_fn status, void *ctx);
void notify_deinit(struct notify *n);

/* "READY=1" and the status. */
void notify_ready(struct notify *n);
/* "RELOADING=1" with MONOTONIC_USEC; notify_ready once the reload is done or failed. */
void notify_reloading(struct notify *n);
/* "STOPPING=1". */
void notify_stopping(struct notify *n);
/* The status changed: STATUS= goes now, or once the interval since the last one is over. */
void notify_status_changed(struct notify *n);

/* Adds "; note" to every STATUS= from the next one on (NULL: no more). */
void notify_note(struct notify *n, const char *note);

/* Sends text ("KEY=value\n..."); 0 or -errno. Exposed for the tests. */
int notify_send(struct notify *n, const char *text) __attribute__((warn_unused_result));

#endif
