/* SPDX-License-Identifier: MIT */
/*
 * The console server: a UNIX stream socket (mode 0600) that accepts
 * operator connections and speaks console_proto.h. It owns the listening
 * socket, the client connections and their bounded buffers; it does not
 * evaluate anything: each complete input line goes to handlers supplied by
 * the engine (which runs it in Lua). A client that stops reading its
 * replies is paused (no more input is read from it) and dropped when its
 * output makes no progress for the stall timeout; it never blocks the loop.
 */
#ifndef MOONVPN_CONSOLE_H
#define MOONVPN_CONSOLE_H

#include <ev.h>
#include <stddef.h>

#include "log.h"

enum console_reply {
	CONSOLE_REPLY_OK,
	CONSOLE_REPLY_ERROR,
	CONSOLE_REPLY_MORE,
};

enum {
	CONSOLE_CLIENTS_MAX = 32,
	CONSOLE_PAUSE_BYTES = 256 * 1024, /* stop reading a client with this much unsent output */
	CONSOLE_OUTPUT_MAX_BYTES = 16 * 1024 * 1024, /* drop a client with this much unsent */
	CONSOLE_STALL_SECONDS = 30, /* drop a client whose output has not moved for this long */
};

struct console_handlers {
	void (*open)(void *ctx, unsigned id);
	/* Evaluates one input line (no '\n'). Sets *text to a malloc'd reply the console frees. */
	enum console_reply (*feed)(void *ctx, unsigned id, const char *line, size_t len,
				   char **text, size_t *text_len);
	void (*close)(void *ctx, unsigned id);
	const char *banner;
};

struct console;

/* A console with no listener yet. The handlers and ctx must outlive it. */
struct console *console_new(struct ev_loop *loop, const struct log *lg,
			    const struct console_handlers *handlers, void *ctx)
	__attribute__((warn_unused_result));

/* Changes the stall timeout (default CONSOLE_STALL_SECONDS); for tests. */
void console_set_stall_timeout(struct console *c, double seconds);

/*
 * Listens on path (NULL: stop listening). Replaces a previous listener
 * and removes its socket file; connected clients stay. A stale socket file
 * at path (nobody listening) is replaced; a live one or a non-socket file
 * is an error.
 */
int console_listen(struct console *c, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

const char *console_path(const struct console *c);
unsigned console_client_count(const struct console *c);

/* Disconnects every client, closes the listener, unlinks its socket. NULL is a no-op. */
void console_free(struct console *c);

#endif
