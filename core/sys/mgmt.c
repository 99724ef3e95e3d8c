// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mgmt.h"

enum {
	MGMT_VERSION = 5, /* the management interface version we speak, as OpenVPN 2.6 */
	MGMT_WHERE_MAX = 128,
};

struct mgmt_conn {
	struct mgmt *m;
	int fd;
	ev_io read_watcher, write_watcher;
	ev_timer stall_timer, bytecount_timer;
	char in[MGMT_LINE_MAX + 1];
	size_t in_len;
	bool discarding; /* inside an over-long line: drop input up to its '\n' */
	bool authed;	 /* the password was given (or none is asked) */
	bool log_on, state_on, echo_on;
	bool quitting; /* quit: close once the output is out */
	bool dead;     /* dropped: freed by the reaper, outside any callback's loop */
	struct mgmt_buf out;
	size_t out_sent;
	/* client-auth's config lines, collected until END */
	bool collecting;
	uint64_t auth_cid;
	unsigned auth_kid;
	char *auth_lines[MGMT_AUTH_LINES_MAX];
	size_t n_auth_lines;
	bool auth_overflow;
	struct mgmt_conn *next;
};

struct mgmt {
	struct ev_loop *loop;
	const struct log *log;
	const struct mgmt_ops *ops;
	char *title;
	int listen_fd;
	char where[MGMT_WHERE_MAX];
	bool is_unix;
	char *password;
	ev_io accept_watcher;
	ev_timer reaper;
	struct mgmt_conn *conns;
	unsigned n_conns;
	/* the log history, a ring */
	char *history[MGMT_LOG_HISTORY];
	size_t history_next, history_n;
	bool in_log;
};

static void conn_drop(struct mgmt_conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = true;
	ev_io_stop(c->m->loop, &c->read_watcher);
	ev_io_stop(c->m->loop, &c->write_watcher);
	ev_timer_stop(c->m->loop, &c->stall_timer);
	ev_timer_stop(c->m->loop, &c->bytecount_timer);
	if (why)
		log_info(c->m->log, "mgmt", "connection dropped: %s", why);
	ev_timer_start(c->m->loop, &c->m->reaper);
}

static void conn_free(struct mgmt_conn *c)
{
	close(c->fd);
	mgmt_buf_free(&c->out);
	for (size_t i = 0; i < c->n_auth_lines; i++)
		free(c->auth_lines[i]);
	free(c);
}

static void on_reap(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mgmt *m = w->data;
	struct mgmt_conn **pp = &m->conns;
	unsigned before = m->n_conns;

	(void)loop;
	(void)revents;
	while (*pp) {
		struct mgmt_conn *c = *pp;

		if (!c->dead) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		m->n_conns--;
		conn_free(c);
	}
	if (m->listen_fd >= 0 && m->n_conns < MGMT_CONNS_MAX)
		ev_io_start(m->loop, &m->accept_watcher);
	if (m->n_conns != before && m->ops->conns_changed)
		m->ops->conns_changed(m->ops->ctx, mgmt_conn_count(m));
}

static void conn_flush(struct mgmt_conn *c)
{
	while (c->out_sent < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			conn_drop(c, strerror(errno));
			return;
		}
		c->out_sent += (size_t)n;
		ev_timer_again(c->m->loop, &c->stall_timer);
	}
	if (c->out_sent == c->out.len) {
		c->out.len = c->out_sent = 0;
		ev_io_stop(c->m->loop, &c->write_watcher);
		ev_timer_stop(c->m->loop, &c->stall_timer);
		if (c->quitting)
			conn_drop(c, NULL);
		return;
	}
	if (c->out_sent > c->out.len / 2) { /* keep the buffer from creeping */
		memmove(c->out.data, c->out.data + c->out_sent, c->out.len - c->out_sent);
		c->out.len -= c->out_sent;
		c->out_sent = 0;
	}
	ev_io_start(c->m->loop, &c->write_watcher);
	if (!ev_is_active(&c->stall_timer))
		ev_timer_again(c->m->loop, &c->stall_timer);
}

/* Queues text; a connection over its output bound is dropped. */
static void conn_write(struct mgmt_conn *c, const char *text, size_t len)
{
	if (c->dead)
		return;
	if (c->out.len - c->out_sent + len > MGMT_OUTPUT_MAX_BYTES) {
		conn_drop(c, "it does not read its output");
		return;
	}
	mgmt_buf_printf(&c->out, "%.*s", (int)len, text);
	if (c->out.failed) {
		conn_drop(c, "out of memory for its output");
		return;
	}
	conn_flush(c);
}

static void conn_printf(struct mgmt_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void conn_printf(struct mgmt_conn *c, const char *fmt, ...)
{
	char line[MGMT_LINE_MAX + 256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	memcpy(line + n, "\r\n", 2);
	conn_write(c, line, (size_t)n + 2);
}

static void conn_buf(struct mgmt_conn *c, struct mgmt_buf *b)
{
	if (b->failed)
		conn_printf(c, "ERROR: out of memory");
	else if (b->len)
		conn_write(c, b->data, b->len);
	mgmt_buf_free(b);
}

static void on_stall(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	conn_drop(w->data, "its output made no progress for the stall timeout");
}

static void on_bytecount(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mgmt_conn *c = w->data;
	struct mgmt_buf b = { 0 };

	(void)loop;
	(void)revents;
	c->m->ops->bytecount(c->m->ops->ctx, &b);
	conn_buf(c, &b);
}

/* ---- commands ---- */

static void cmd_help(struct mgmt_conn *c, int argc, char **argv)
{
	static const char text[] =
		"Management Interface for moonvpn\r\n"
		"Commands:\r\n"
		"bytecount n            : Show bytes in/out, update every n secs (0=off).\r\n"
		"client-auth CID KID    : Authenticate client-id/key-id CID/KID (MULTILINE)\r\n"
		"client-auth-nt CID KID : Authenticate client-id/key-id CID/KID\r\n"
		"client-deny CID KID R [CR] : Deny auth client-id/key-id CID/KID with log "
		"reason\r\n"
		"                             text R and optional client reason text CR\r\n"
		"client-pending-auth CID KID MSG timeout : Instruct OpenVPN to send AUTH_PENDING "
		"and INFO_PRE msg\r\n"
		"client-kill CID [M]    : Kill client instance CID with message M (def=RESTART)\r\n"
		"echo [on|off] [N|all]  : Like log, but only show messages in echo buffer.\r\n"
		"exit|quit              : Close management session.\r\n"
		"help                   : Print this message.\r\n"
		"hold [on|off|release]  : Set/show hold flag to on/off state, or\r\n"
		"                         release current hold and start tunnel.\r\n"
		"kill cn                : Kill the client instance(s) having common name cn.\r\n"
		"kill IP:port           : Kill the client instance connecting from IP:port.\r\n"
		"load-stats             : Show global server load stats.\r\n"
		"log [on|off] [N|all]   : Turn on/off realtime log display\r\n"
		"                         + show last N lines or 'all' for entire history.\r\n"
		"pid                    : Show process ID of the current moonvpn process.\r\n"
		"signal s               : Send signal s to daemon,\r\n"
		"                         s = SIGHUP|SIGTERM|SIGUSR1|SIGUSR2.\r\n"
		"state [on|off] [N|all] : Like log, but show state history.\r\n"
		"status [n]             : Show current daemon status info using format #n.\r\n"
		"version [n]            : Set client's version to n or show current version of "
		"daemon.\r\n"
		"END\r\n";

	(void)argc;
	(void)argv;
	conn_write(c, text, sizeof(text) - 1);
}

static void cmd_version(struct mgmt_conn *c, int argc, char **argv)
{
	if (argc > 1) {
		char *end;
		long v = strtol(argv[1], &end, 10);

		if (*end || end == argv[1] || v < 1 || v > 1000)
			conn_printf(c,
				    "ERROR: Invalid value specified for management client version");
		else if (v > 3) /* older clients expect no answer (management-notes.txt) */
			conn_printf(c, "SUCCESS: Management client version set to %ld", v);
		return;
	}
	conn_printf(c, "OpenVPN Version: %s", c->m->title);
	conn_printf(c, "Management Version: %d", MGMT_VERSION);
	conn_printf(c, "END");
}

static void cmd_pid(struct mgmt_conn *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	conn_printf(c, "SUCCESS: pid=%ld", (long)getpid());
}

static void cmd_quit(struct mgmt_conn *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	c->quitting = true;
	ev_io_stop(c->m->loop, &c->read_watcher);
	if (c->out_sent == c->out.len)
		conn_drop(c, NULL);
}

static void cmd_hold(struct mgmt_conn *c, int argc, char **argv)
{
	/* A server never waits in a hold: the flag is shown as off and release is a no-op. */
	if (argc < 2)
		conn_printf(c, "SUCCESS: hold=0");
	else if (strcmp(argv[1], "release") == 0)
		conn_printf(c, "SUCCESS: hold release succeeded");
	else if (strcmp(argv[1], "off") == 0)
		conn_printf(c, "SUCCESS: hold flag set to OFF");
	else if (strcmp(argv[1], "on") == 0)
		conn_printf(c, "ERROR: a moonvpn server does not hold: it starts at once");
	else
		conn_printf(c, "ERROR: bad hold command parameter");
}

/* "on", "off", "all", N or "on all" for log, state and echo. */
static void history_cmd(struct mgmt_conn *c, int argc, char **argv, const char *type, bool *rt,
			void (*show)(struct mgmt_conn *c, size_t n))
{
	for (int i = 1; i < argc; i++) {
		char *end;
		long n;

		if (strcmp(argv[i], "on") == 0) {
			*rt = true;
			conn_printf(c, "SUCCESS: real-time %s notification set to ON", type);
		} else if (strcmp(argv[i], "off") == 0) {
			*rt = false;
			conn_printf(c, "SUCCESS: real-time %s notification set to OFF", type);
		} else if (strcmp(argv[i], "all") == 0) {
			show(c, SIZE_MAX);
		} else if ((n = strtol(argv[i], &end, 10)) > 0 && !*end) {
			show(c, (size_t)n);
		} else {
			conn_printf(c,
				    "ERROR: %s parameter must be 'on' or 'off' or some number n or "
				    "'all'",
				    type);
		}
	}
	if (argc < 2)
		show(c, 1);
}

static char log_flag(enum log_level level)
{
	switch (level) {
	case LOG_ERROR:
		return 'N';
	case LOG_WARN:
		return 'W';
	case LOG_INFO:
		return 'I';
	case LOG_DEBUG:
	case LOG_TRACE:
		break;
	}
	return 'D';
}

static void show_log(struct mgmt_conn *c, size_t n)
{
	struct mgmt *m = c->m;
	size_t k = n < m->history_n ? n : m->history_n;

	for (size_t i = m->history_n - k; i < m->history_n; i++) {
		size_t at =
			(m->history_next + MGMT_LOG_HISTORY - m->history_n + i) % MGMT_LOG_HISTORY;

		conn_printf(c, "%s", m->history[at]);
	}
	conn_printf(c, "END");
}

static void cmd_log(struct mgmt_conn *c, int argc, char **argv)
{
	history_cmd(c, argc, argv, "log", &c->log_on, show_log);
}

static void show_echo(struct mgmt_conn *c, size_t n)
{
	(void)n; /* nothing is ever echoed: the config has no `echo` directive */
	conn_printf(c, "END");
}

static void cmd_echo(struct mgmt_conn *c, int argc, char **argv)
{
	history_cmd(c, argc, argv, "echo", &c->echo_on, show_echo);
}

static void show_state(struct mgmt_conn *c, size_t n)
{
	struct mgmt_buf b = { 0 };

	(void)n; /* a server's history is one state: it came up and is connected */
	c->m->ops->state(c->m->ops->ctx, &b);
	mgmt_buf_printf(&b, "\r\nEND\r\n");
	conn_buf(c, &b);
}

static void cmd_state(struct mgmt_conn *c, int argc, char **argv)
{
	history_cmd(c, argc, argv, "state", &c->state_on, show_state);
}

static void cmd_status(struct mgmt_conn *c, int argc, char **argv)
{
	struct mgmt_buf b = { 0 };
	long v = argc > 1 ? atol(argv[1]) : 1;

	if (v == 0) /* OpenVPN's `status` with a non-number: the default format */
		v = 1;
	if (v < 1 || v > 3) {
		conn_printf(c, "ERROR: bad status format version number");
		return;
	}
	c->m->ops->status(c->m->ops->ctx, &b, (int)v, "\r\n");
	conn_buf(c, &b);
}

static void cmd_load_stats(struct mgmt_conn *c, int argc, char **argv)
{
	unsigned n = 0;
	uint64_t in = 0, out = 0;

	(void)argc;
	(void)argv;
	c->m->ops->load_stats(c->m->ops->ctx, &n, &in, &out);
	conn_printf(c, "SUCCESS: nclients=%u,bytesin=%llu,bytesout=%llu", n, (unsigned long long)in,
		    (unsigned long long)out);
}

/* "proto:IP:port" or "IP:port" (IPv4; IPv6 clients are killed by common name or CID). */
static bool parse_victim_addr(const char *v, char *ip, size_t iplen, int *port)
{
	const char *colon = strrchr(v, ':');
	const char *start = v;
	struct in_addr a;
	char *end;
	long p;

	if (!colon)
		return false;
	if (strncmp(v, "udp:", 4) == 0 || strncmp(v, "tcp:", 4) == 0)
		start = v + 4;
	if ((size_t)(colon - start) >= iplen)
		return false;
	memcpy(ip, start, (size_t)(colon - start));
	ip[colon - start] = '\0';
	p = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || p < 1 || p > 65535 || inet_pton(AF_INET, ip, &a) != 1)
		return false;
	*port = (int)p;
	return true;
}

static void cmd_kill(struct mgmt_conn *c, int argc, char **argv)
{
	char ip[INET_ADDRSTRLEN];
	int port, n;

	(void)argc;
	if (parse_victim_addr(argv[1], ip, sizeof(ip), &port)) {
		n = c->m->ops->kill(c->m->ops->ctx, NULL, ip, port);
		if (n > 0)
			conn_printf(c, "SUCCESS: %d client(s) at address %s:%d killed", n, ip,
				    port);
		else
			conn_printf(c, "ERROR: client at address %s:%d not found", ip, port);
		return;
	}
	n = c->m->ops->kill(c->m->ops->ctx, argv[1], NULL, 0);
	if (n > 0)
		conn_printf(c, "SUCCESS: common name '%s' found, %d client(s) killed", argv[1], n);
	else
		conn_printf(c, "ERROR: common name '%s' not found", argv[1]);
}

static bool parse_u64(struct mgmt_conn *c, const char *text, const char *what, uint64_t max,
		      uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || end == text || text[0] == '-' || v > max) {
		conn_printf(c, "ERROR: cannot parse %s", what);
		return false;
	}
	*out = v;
	return true;
}

static void cmd_client_kill(struct mgmt_conn *c, int argc, char **argv)
{
	uint64_t cid;
	const char *msg = argc > 2 ? argv[2] : "RESTART";
	bool restart = strncmp(msg, "RESTART", 7) == 0;

	if (!parse_u64(c, argv[1], "CID", UINT64_MAX, &cid))
		return;
	if (!restart && strncmp(msg, "HALT", 4) != 0) {
		conn_printf(c, "ERROR: client-kill message must be HALT or RESTART, got '%s'", msg);
		return;
	}
	if (c->m->ops->client_kill(c->m->ops->ctx, cid, restart, msg))
		conn_printf(c, "SUCCESS: client-kill command succeeded");
	else
		conn_printf(c, "ERROR: client-kill command failed");
}

static void cmd_bytecount(struct mgmt_conn *c, int argc, char **argv)
{
	uint64_t n;

	(void)argc;
	if (!parse_u64(c, argv[1], "interval", 86400, &n))
		return;
	ev_timer_stop(c->m->loop, &c->bytecount_timer);
	if (n) {
		ev_timer_set(&c->bytecount_timer, (double)n, (double)n);
		ev_timer_start(c->m->loop, &c->bytecount_timer);
	}
	conn_printf(c, "SUCCESS: bytecount interval changed");
}

static void cmd_signal(struct mgmt_conn *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int signo;
	} sigs[] = { { "SIGHUP", SIGHUP },
		     { "SIGTERM", SIGTERM },
		     { "SIGUSR1", SIGUSR1 },
		     { "SIGUSR2", SIGUSR2 } };

	(void)argc;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (strcmp(argv[1], sigs[i].name) == 0) {
			conn_printf(c, "SUCCESS: signal %s thrown", sigs[i].name);
			c->m->ops->signal(c->m->ops->ctx, sigs[i].signo);
			return;
		}
	}
	conn_printf(c, "ERROR: signal '%s' is not a known signal type", argv[1]);
}

static bool parse_cid_kid(struct mgmt_conn *c, char **argv, uint64_t *cid, unsigned *kid)
{
	uint64_t k;

	if (!parse_u64(c, argv[1], "CID", UINT64_MAX, cid) ||
	    !parse_u64(c, argv[2], "KID", UINT32_MAX, &k))
		return false;
	*kid = (unsigned)k;
	return true;
}

static void report(struct mgmt_conn *c, const char *cmd, const char *err)
{
	if (err)
		conn_printf(c, "ERROR: %s command failed: %s", cmd, err);
	else
		conn_printf(c, "SUCCESS: %s command succeeded", cmd);
}

static void cmd_client_auth(struct mgmt_conn *c, int argc, char **argv)
{
	uint64_t cid;
	unsigned kid;

	(void)argc;
	if (!parse_cid_kid(c, argv, &cid, &kid))
		return;
	/* The config lines follow, up to END; the answer comes after them. */
	c->collecting = true;
	c->auth_cid = cid;
	c->auth_kid = kid;
	c->n_auth_lines = 0;
	c->auth_overflow = false;
}

static void cmd_client_auth_nt(struct mgmt_conn *c, int argc, char **argv)
{
	uint64_t cid;
	unsigned kid;

	(void)argc;
	if (parse_cid_kid(c, argv, &cid, &kid))
		report(c, "client-auth", c->m->ops->client_auth(c->m->ops->ctx, cid, kid, NULL, 0));
}

static void cmd_client_deny(struct mgmt_conn *c, int argc, char **argv)
{
	uint64_t cid;
	unsigned kid;

	if (parse_cid_kid(c, argv, &cid, &kid))
		report(c, "client-deny",
		       c->m->ops->client_deny(c->m->ops->ctx, cid, kid, argv[3],
					      argc > 4 ? argv[4] : NULL));
}

static void cmd_client_pending(struct mgmt_conn *c, int argc, char **argv)
{
	uint64_t cid, timeout;
	unsigned kid;

	(void)argc;
	if (parse_cid_kid(c, argv, &cid, &kid) && parse_u64(c, argv[4], "timeout", 86400, &timeout))
		report(c, "client-pending-auth",
		       c->m->ops->client_pending(c->m->ops->ctx, cid, kid, argv[3],
						 (unsigned)timeout));
}

static const struct {
	const char *name;
	int min_args; /* words after the command */
	void (*run)(struct mgmt_conn *c, int argc, char **argv);
} commands[] = {
	{ "help", 0, cmd_help },
	{ "version", 0, cmd_version },
	{ "pid", 0, cmd_pid },
	{ "quit", 0, cmd_quit },
	{ "exit", 0, cmd_quit },
	{ "hold", 0, cmd_hold },
	{ "log", 0, cmd_log },
	{ "echo", 0, cmd_echo },
	{ "state", 0, cmd_state },
	{ "status", 0, cmd_status },
	{ "load-stats", 0, cmd_load_stats },
	{ "kill", 1, cmd_kill },
	{ "client-kill", 1, cmd_client_kill },
	{ "bytecount", 1, cmd_bytecount },
	{ "signal", 1, cmd_signal },
	{ "client-auth", 2, cmd_client_auth },
	{ "client-auth-nt", 2, cmd_client_auth_nt },
	{ "client-deny", 3, cmd_client_deny },
	{ "client-pending-auth", 4, cmd_client_pending },
};

/* A config line of a client-auth block, or its END. */
static void collect_auth_line(struct mgmt_conn *c, const char *line)
{
	const char *err;

	if (strcmp(line, "END") != 0) {
		char *copy;

		if (c->n_auth_lines == MGMT_AUTH_LINES_MAX || !(copy = strdup(line))) {
			c->auth_overflow = true;
			return;
		}
		c->auth_lines[c->n_auth_lines++] = copy;
		return;
	}
	c->collecting = false;
	err = c->auth_overflow ? "too many config lines (at most MGMT_AUTH_LINES_MAX, 64)"
			       : c->m->ops->client_auth(c->m->ops->ctx, c->auth_cid, c->auth_kid,
							c->auth_lines, c->n_auth_lines);
	for (size_t i = 0; i < c->n_auth_lines; i++)
		free(c->auth_lines[i]);
	c->n_auth_lines = 0;
	report(c, "client-auth", err);
}

static bool password_ok(const struct mgmt *m, const char *line)
{
	size_t a = strlen(line), b = strlen(m->password);
	unsigned diff = (unsigned)(a ^ b);

	/* Constant time in the secret's bytes: every byte is compared. */
	for (size_t i = 0; i < b; i++)
		diff |= (unsigned char)m->password[i] ^ (unsigned char)(i < a ? line[i] : 0);
	return diff == 0;
}

static void conn_banner(struct mgmt_conn *c)
{
	conn_printf(c, ">INFO:OpenVPN Management Interface Version %d -- type 'help' for more info",
		    MGMT_VERSION);
}

static void conn_line(struct mgmt_conn *c, char *line)
{
	char *argv[MGMT_ARGS_MAX];
	int argc;

	if (!c->authed) {
		if (!password_ok(c->m, line)) {
			conn_printf(c, "ERROR: bad password");
			log_warnx(c->m->log, "mgmt", "a connection gave a wrong password");
			c->quitting = true;
			conn_flush(c);
			return;
		}
		c->authed = true;
		conn_printf(c, "SUCCESS: password is correct");
		conn_banner(c);
		if (c->m->ops->conns_changed)
			c->m->ops->conns_changed(c->m->ops->ctx, mgmt_conn_count(c->m));
		return;
	}
	if (c->collecting) {
		collect_auth_line(c, line);
		return;
	}
	argc = mgmt_split(line, argv, MGMT_ARGS_MAX);
	if (argc < 0) {
		conn_printf(c,
			    "ERROR: cannot parse the command: an unterminated quote or more "
			    "than %d words",
			    MGMT_ARGS_MAX);
		return;
	}
	if (argc == 0)
		return;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[0], commands[i].name) != 0)
			continue;
		if (argc - 1 < commands[i].min_args)
			conn_printf(c, "ERROR: the '%s' command requires %s%d parameter%s", argv[0],
				    commands[i].min_args > 1 ? "at least " : "",
				    commands[i].min_args, commands[i].min_args > 1 ? "s" : "");
		else
			commands[i].run(c, argc, argv);
		return;
	}
	conn_printf(c, "ERROR: unknown command [%s], enter 'help' for more options", argv[0]);
}

static void conn_lines(struct mgmt_conn *c)
{
	size_t start = 0;
	char *nl;

	while (!c->dead && !c->quitting && (nl = memchr(c->in + start, '\n', c->in_len - start))) {
		size_t len = (size_t)(nl - (c->in + start));

		if (c->discarding) {
			c->discarding = false;
		} else {
			if (len && c->in[start + len - 1] == '\r')
				len--;
			c->in[start + len] = '\0';
			conn_line(c, c->in + start);
		}
		start = (size_t)(nl - c->in) + 1;
	}
	if (c->dead)
		return;
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	if (c->in_len == MGMT_LINE_MAX) { /* a line longer than any command */
		c->in_len = 0;
		if (!c->discarding)
			conn_printf(c, "ERROR: line longer than %d bytes", MGMT_LINE_MAX - 1);
		c->discarding = true;
	}
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mgmt_conn *c = w->data;
	ssize_t n;

	(void)loop;
	(void)revents;
	n = recv(c->fd, c->in + c->in_len, MGMT_LINE_MAX - c->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_drop(c, NULL);
		return;
	}
	c->in_len += (size_t)n;
	conn_lines(c);
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	conn_flush(w->data);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mgmt *m = w->data;
	struct mgmt_conn *c;
	int fd;

	(void)revents;
	fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_ratelimited(m->log, LOG_WARN, "mgmt", "accept: %s", strerror(errno));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->m = m;
	c->fd = fd;
	c->authed = !m->password;
	ev_io_init(&c->read_watcher, on_read, fd, EV_READ);
	ev_io_init(&c->write_watcher, on_write, fd, EV_WRITE);
	ev_init(&c->stall_timer, on_stall);
	c->stall_timer.repeat = MGMT_STALL_SECONDS;
	ev_init(&c->bytecount_timer, on_bytecount);
	c->read_watcher.data = c->write_watcher.data = c->stall_timer.data =
		c->bytecount_timer.data = c;
	c->next = m->conns;
	m->conns = c;
	if (++m->n_conns == MGMT_CONNS_MAX)
		ev_io_stop(loop, &m->accept_watcher); /* the next ones wait in the backlog */
	ev_io_start(loop, &c->read_watcher);
	log_info(m->log, "mgmt", "management connection on %s", m->where);
	if (m->password) {
		conn_write(c, "ENTER PASSWORD:", 15);
		return;
	}
	conn_banner(c);
	if (m->ops->conns_changed)
		m->ops->conns_changed(m->ops->ctx, mgmt_conn_count(m));
}

struct mgmt *mgmt_new(struct ev_loop *loop, const struct log *lg, const struct mgmt_ops *ops,
		      const char *title)
{
	struct mgmt *m = calloc(1, sizeof(*m));

	if (!m || !(m->title = strdup(title))) {
		free(m);
		return NULL;
	}
	m->loop = loop;
	m->log = lg;
	m->ops = ops;
	m->listen_fd = -1;
	ev_timer_init(&m->reaper, on_reap, 0, 0);
	m->reaper.data = m;
	return m;
}

static void stop_listening(struct mgmt *m)
{
	if (m->listen_fd < 0)
		return;
	ev_io_stop(m->loop, &m->accept_watcher);
	close(m->listen_fd);
	m->listen_fd = -1;
	if (m->is_unix)
		unlink(m->where);
	m->where[0] = '\0';
}

/* "HOST:PORT" or "[V6]:PORT" as a socket address; false when where is not one. */
static bool parse_tcp(const char *where, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(where, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - where) >= sizeof(host))
		return false;
	memcpy(host, where, (size_t)(colon - where));
	host[colon - where] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535)
		return false;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		host[strlen(host) - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*len = sizeof(*s4);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1;
}

static int open_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "management socket path %s is longer than %zu bytes", path,
			 sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen,
				 "management: %s exists and is not a socket: remove it or "
				 "choose another path",
				 path);
			return -1;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(fd);
			snprintf(err, errlen,
				 "management: something listens on %s already (another moonvpn?)",
				 path);
			return -1;
		}
		if (fd >= 0)
			close(fd);
		unlink(path); /* stale: nobody listens */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "management socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0177); /* created 0600: only its owner may connect */
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0) {
		snprintf(err, errlen, "management: cannot bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int open_tcp(const struct sockaddr_storage *ss, socklen_t len, const char *where, char *err,
		    size_t errlen)
{
	int one = 1;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, errlen, "management socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0) {
		snprintf(err, errlen, "management: cannot listen on %s: %s", where,
			 strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int mgmt_listen(struct mgmt *m, const char *where, const char *password, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	bool is_tcp;
	int fd;

	if (where && strlen(where) >= sizeof(m->where)) {
		snprintf(err, errlen, "management address %s is longer than %zu bytes", where,
			 sizeof(m->where) - 1);
		return -1;
	}
	if (where && m->listen_fd >= 0 && strcmp(where, m->where) == 0) {
		fd = -2; /* the same place: keep the socket, take the new password */
	} else if (where) {
		is_tcp = where[0] != '/' && where[0] != '.' && parse_tcp(where, &ss, &len);
		fd = is_tcp ? open_tcp(&ss, len, where, err, errlen)
			    : open_unix(where, err, errlen);
		if (fd < 0)
			return -1;
		if (listen(fd, MGMT_CONNS_MAX) < 0) {
			snprintf(err, errlen, "management: listen on %s: %s", where,
				 strerror(errno));
			close(fd);
			return -1;
		}
		stop_listening(m);
		m->listen_fd = fd;
		m->is_unix = !is_tcp;
		snprintf(m->where, sizeof(m->where), "%s", where);
		ev_io_init(&m->accept_watcher, on_accept, fd, EV_READ);
		m->accept_watcher.data = m;
		if (m->n_conns < MGMT_CONNS_MAX)
			ev_io_start(m->loop, &m->accept_watcher);
	} else {
		stop_listening(m);
	}
	free(m->password);
	m->password = password ? strdup(password) : NULL;
	if (password && !m->password) {
		snprintf(err, errlen, "out of memory");
		stop_listening(m);
		return -1;
	}
	return 0;
}

const char *mgmt_where(const struct mgmt *m)
{
	return m->where;
}

unsigned mgmt_conn_count(const struct mgmt *m)
{
	unsigned n = 0;

	for (const struct mgmt_conn *c = m->conns; c; c = c->next)
		n += c->authed && !c->dead;
	return n;
}

void mgmt_notify(struct mgmt *m, const char *text, size_t len)
{
	for (struct mgmt_conn *c = m->conns; c; c = c->next)
		if (c->authed && !c->dead)
			conn_write(c, text, len);
}

void mgmt_log_line(struct mgmt *m, enum log_level level, const char *line)
{
	char entry[LOG_LINE_MAX + 32];
	char *copy;

	snprintf(entry, sizeof(entry), "%lld,%c,%s", (long long)time(NULL), log_flag(level), line);
	if ((copy = strdup(entry))) {
		size_t at = m->history_next;

		free(m->history[at]);
		m->history[at] = copy;
		m->history_next = (at + 1) % MGMT_LOG_HISTORY;
		if (m->history_n < MGMT_LOG_HISTORY)
			m->history_n++;
	}
	if (m->in_log) /* a line logged while writing one (a connection dropped): history only */
		return;
	m->in_log = true;
	for (struct mgmt_conn *c = m->conns; c; c = c->next)
		if (c->authed && !c->dead && c->log_on)
			conn_printf(c, ">LOG:%s", entry);
	m->in_log = false;
}

void mgmt_free(struct mgmt *m)
{
	if (!m)
		return;
	stop_listening(m);
	while (m->conns) {
		struct mgmt_conn *c = m->conns;

		m->conns = c->next;
		conn_drop(c, NULL);
		conn_free(c);
	}
	ev_timer_stop(m->loop, &m->reaper);
	for (size_t i = 0; i < MGMT_LOG_HISTORY; i++)
		free(m->history[i]);
	free(m->password);
	free(m->title);
	free(m);
}
