/* SPDX-License-Identifier: MIT */
/*
 * The OpenVPN management interface (doc/management-notes.txt in OpenVPN's
 * sources): a TCP or UNIX stream socket that speaks OpenVPN's line
 * protocol to existing tools. This file owns the listener, the
 * connections (at most MGMT_CONNS_MAX; OpenVPN takes one at a time), their
 * bounded input and output, the optional password prompt and the
 * commands that need no engine; what needs the engine (status, kill,
 * client-auth, ...) goes through struct mgmt_ops. A connection that stops
 * reading is dropped once its unsent output passes MGMT_OUTPUT_MAX_BYTES
 * or makes no progress for MGMT_STALL_SECONDS: it never blocks the loop.
 */
#ifndef MOONVPN_MGMT_H
#define MOONVPN_MGMT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "mgmt_proto.h"

enum {
	MGMT_CONNS_MAX = 4,			 /* management connections at once */
	MGMT_OUTPUT_MAX_BYTES = 2 * 1024 * 1024, /* unsent output that drops a connection */
	MGMT_STALL_SECONDS = 30,		 /* output stuck this long drops it too */
	MGMT_PASSWORD_MAX = 256,		 /* bytes of management_password */
	MGMT_LOG_HISTORY = 256,			 /* log lines kept for `log all` / `log N` */
	MGMT_AUTH_LINES_MAX = 64,		 /* config lines of one client-auth block */
};

/* What the management interface asks of the engine. */
struct mgmt_ops {
	/* Appends the status report (version 1..3) with eol at the end of each line. */
	void (*status)(void *ctx, struct mgmt_buf *out, int version, const char *eol);
	void (*load_stats)(void *ctx, unsigned *nclients, uint64_t *bytes_in, uint64_t *bytes_out);
	/* Appends the state line (without ">STATE:" and eol). */
	void (*state)(void *ctx, struct mgmt_buf *out);
	/* Ends the clients with this common name (addr NULL) or real address: how many. */
	int (*kill)(void *ctx, const char *cn, const char *addr, int port);
	/* Ends client cid with HALT or RESTART and message msg; false: no such client. */
	bool (*client_kill)(void *ctx, uint64_t cid, bool restart, const char *msg);
	/* Appends a >BYTECOUNT_CLI line for each connected client. */
	void (*bytecount)(void *ctx, struct mgmt_buf *out);
	/* SIGHUP, SIGTERM, SIGUSR1 or SIGUSR2 from the `signal` command. */
	void (*signal)(void *ctx, int signo);
	/* client-auth (config lines, n of them, may be 0) or client-auth-nt (lines NULL).
	 * Returns NULL when done, else the error text. */
	const char *(*client_auth)(void *ctx, uint64_t cid, unsigned kid, char **lines, size_t n);
	const char *(*client_deny)(void *ctx, uint64_t cid, unsigned kid, const char *reason,
				   const char *client_reason);
	const char *(*client_pending)(void *ctx, uint64_t cid, unsigned kid, const char *extra,
				      unsigned timeout);
	/* A connection arrived or left: the engine tracks whether anyone does client auth. */
	void (*conns_changed)(void *ctx, unsigned n);
	void *ctx;
};

struct mgmt;

struct mgmt *mgmt_new(struct ev_loop *loop, const struct log *lg, const struct mgmt_ops *ops,
		      const char *title) __attribute__((warn_unused_result));

/*
 * Listens on where: "HOST:PORT" ("[V6]:PORT") for TCP, else a UNIX socket
 * path (created mode 0600; a stale socket file is replaced). password
 * (NULL: none) is asked first on every connection. NULL where stops
 * listening; connections stay. -1 with err set on failure.
 */
int mgmt_listen(struct mgmt *m, const char *where, const char *password, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Where it listens ("" when not); the number of authenticated connections. */
const char *mgmt_where(const struct mgmt *m);
unsigned mgmt_conn_count(const struct mgmt *m);

/* A real-time notification (">CLIENT:..." lines, each ending "\r\n") to every
 * authenticated connection. */
void mgmt_notify(struct mgmt *m, const char *text, size_t len);

/* A log line for >LOG (real-time, to connections with `log on`) and the history. */
void mgmt_log_line(struct mgmt *m, enum log_level level, const char *line);

/* Closes everything, unlinks a UNIX socket; NULL is a no-op. */
void mgmt_free(struct mgmt *m);

#endif
