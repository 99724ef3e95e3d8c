/* SPDX-License-Identifier: MIT */
/*
 * The console wire protocol, shared by the server (console.c) and the
 * client (console_client.c). The client sends lines of Lua, each ending in
 * '\n', and waits for one reply frame per line before it sends the next.
 * A reply frame is a header line "<kind> <length>\n" followed by exactly
 * <length> bytes of UTF-8 text:
 *
 *   hello  <n>  sent once on connect; text is a banner
 *   ok     <n>  the input ran; text is its printed output (may be empty)
 *   error  <n>  the input raised an error; text is the message
 *   more   0    the input is incomplete Lua; send the next line
 *
 * The server buffers incomplete input per client, so a multi-line
 * function definition is sent line by line like at an interactive prompt.
 * A trailing '\r' before the '\n' is ignored. A line longer than
 * CONSOLE_LINE_MAX bytes (counting its '\n') gets one "error" reply and is
 * discarded up to its '\n'. When the server is full it sends one "error"
 * frame instead of "hello" and closes the connection.
 */
#ifndef MOONVPN_CONSOLE_PROTO_H
#define MOONVPN_CONSOLE_PROTO_H

enum {
	CONSOLE_LINE_MAX = 65536, /* longest input line the server accepts, '\n' included */
	CONSOLE_FRAME_MAX = 4 * 1024 * 1024, /* longest reply text */
};

#define CONSOLE_KIND_HELLO "hello"
#define CONSOLE_KIND_OK	   "ok"
#define CONSOLE_KIND_ERROR "error"
#define CONSOLE_KIND_MORE  "more"

#endif
