/* SPDX-License-Identifier: MIT */
/*
 * The text of OpenVPN's management protocol, with no sockets and no
 * engine: splitting a command line into words (OpenVPN's quoting rules),
 * formatting the status report (versions 1, 2 and 3, as --status and the
 * `status` command print them, src/openvpn/multi.c multi_print_status),
 * the load-stats answer and >CLIENT:ENV lines. Everything appends to a
 * bounded growing buffer, so a caller can also write a status file with it.
 */
#ifndef MOONVPN_MGMT_PROTO_H
#define MOONVPN_MGMT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	MGMT_LINE_MAX = 1024, /* bytes of one command line (OpenVPN reads 1024-byte lines) */
	MGMT_ARGS_MAX = 16,   /* words of one command line */
	MGMT_BUF_MAX_BYTES = 4 * 1024 * 1024, /* one report; more marks the buffer failed */
	MGMT_ENV_VALUE_MAX = 256,	      /* bytes of one ENV value; longer ones are cut */
};

/* A growing text buffer; failed once out of memory or over MGMT_BUF_MAX_BYTES. */
struct mgmt_buf {
	char *data; /* NUL-terminated when not failed */
	size_t len, cap;
	bool failed;
};

void mgmt_buf_printf(struct mgmt_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void mgmt_buf_free(struct mgmt_buf *b);

/*
 * Splits line in place into at most max words: blanks separate, double
 * quotes group (a backslash inside quotes takes the next byte as is), as
 * OpenVPN's parse_line does for management commands. Returns the number of
 * words, or -1 for an unterminated quote or more than max words.
 */
int mgmt_split(char *line, char **argv, size_t max);

/* One connected client as a status report shows it; strings "" when unknown. */
struct mgmt_client {
	const char *cn, *username; /* "" prints as UNDEF, as OpenVPN does */
	const char *real_address;  /* "192.0.2.7:51234" */
	const char *vaddr4, *vaddr6;
	const char *cipher;
	uint64_t bytes_in, bytes_out;
	int64_t connected_since; /* unix time */
	uint64_t cid;
	uint32_t peer_id;
	const char *const *routes; /* subnets behind the client, "10.9.0.0/24" */
	size_t n_routes;
};

struct mgmt_status {
	const char *title; /* "moonvpn 0.1.0 ..." */
	int64_t now;	   /* unix time */
	const struct mgmt_client *clients;
	size_t n_clients;
	const char *eol; /* "\r\n" on the management socket, "\n" in a file */
};

/* Appends status version 1, 2 or 3 (2 and 3 differ in the separator); -1 for another version. */
int mgmt_format_status(struct mgmt_buf *b, const struct mgmt_status *st, int version);

/* ">CLIENT:ENV,name=value\r\n"; control bytes in value become '_' and it is cut at
 * MGMT_ENV_VALUE_MAX, so a client cannot inject a line. */
void mgmt_format_env(struct mgmt_buf *b, const char *name, const char *value);

/* The time as OpenVPN prints it ("2026-12-03 04:29:14", local time). */
void mgmt_time_string(int64_t t, char *out, size_t outlen);

#endif
