// SPDX-License-Identifier: MIT
/*
 * The console client. One connection, lock-step: read the hello frame,
 * then for each input line send it and read exactly one reply frame.
 *
 * Modes and exit status (connection, protocol and I/O failures always exit 1,
 * usage errors 2, -h 0):
 *   -e CHUNK...   each chunk is sent line by line (a final '\n' does not
 *                 start an empty line); ok text goes to stdout, error text
 *                 to stderr. Stops at the first error (exit 1). Each chunk
 *                 must be complete Lua: a chunk that leaves the server
 *                 saying "more" is an error too.
 *   --json        with -e: each chunk is an expression whose value is
 *                 printed as one line of JSON (moonvpn.json says how), for
 *                 scripts; what JSON cannot hold is an error.
 *   stdin         when stdin is not a terminal: like -e, but reading lines
 *                 until EOF, and it keeps going after an error the way a
 *                 REPL fed from a pipe would; exit 1 at the end if any
 *                 line failed or the input ended incomplete.
 *   interactive   stdin is a terminal and no -e: libedit, banner, prompts,
 *                 history. Errors are shown, never fatal. Ctrl-D exits 0.
 *                 Ctrl-C at the prompt only clears the edit line: the
 *                 protocol cannot tell the server to drop buffered
 *                 incomplete input, so after a "more" the continuation
 *                 prompt stays, which is the truth. Ctrl-C while waiting
 *                 for a reply gives up on the server and exits 1.
 *
 * History lives in $XDG_STATE_HOME/moonvpn/console_history when
 * XDG_STATE_HOME is set (absolute), else ~/.moonvpn_history; the file is
 * created 0600 since console lines may carry keys. Failing to read or
 * write it is silent: history is a convenience.
 *
 * A line is refused, not sent, if it holds a NUL or needs more than
 * CONSOLE_LINE_MAX bytes with its '\n'. An "error" frame in place of the
 * hello is the server refusing the session (it is at its client limit).
 */
#include <editline/readline.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "console_client.h"
#include "console_frame.h"
#include "console_proto.h"

#define PROG	     "moonvpn console"
#define PROMPT	     "moonvpn> "
#define PROMPT_MORE  "   ...> "
#define HISTORY_SIZE 1000

enum { RUN = -1 /* parse_args: go on and connect */ };

static volatile sig_atomic_t interrupted;

struct options {
	const char *socket;
	const char **chunks; /* the -e arguments, in order */
	int n_chunks;
	bool json; /* --json: each chunk's value as JSON */
};

struct conn {
	int fd;
	size_t head, tail; /* unread bytes are buf[head..tail) */
	char buf[4096];
};

struct reply {
	enum console_kind kind;
	char *text; /* len bytes plus a NUL; owned */
	size_t len;
};

/* Where the scripted input stands, for messages and the exit status. */
struct script {
	struct conn *conn;
	char source[32]; /* "stdin", "-e chunk 2" */
	unsigned long lineno;
	bool more; /* the server holds incomplete input */
	bool failed;
};

/* Reports a failure on stderr; returns -1 so callers can `return fail(...)`. */
static __attribute__((format(printf, 1, 2))) int fail(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static void usage(FILE *f)
{
	fputs("usage: moonvpn console SOCKET [--json] [-e CHUNK]...\n"
	      "\n"
	      "Runs Lua in a running moonvpn through its console socket (console = \"SOCKET\").\n"
	      "  -e CHUNK    run CHUNK (may hold newlines; repeatable), print the output, exit 1\n"
	      "              on the first error\n"
	      "  --json      with -e: print each CHUNK's value (an expression) as one line of "
	      "JSON\n"
	      "  -h, --help  show this help\n"
	      "Without -e: an interactive prompt when stdin is a terminal, else stdin is run\n"
	      "line by line and the exit status is 1 if any line failed.\n",
	      f);
}

static int usage_error(const char *why, const char *value)
{
	fail("%s%s", why, value);
	usage(stderr);
	return 2;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	bool options_done = false;

	memset(o, 0, sizeof(*o));
	o->chunks = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*o->chunks));
	if (!o->chunks) {
		fail("out of memory parsing %d arguments", argc);
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (options_done || a[0] != '-' || a[1] == '\0') {
			if (o->socket)
				return usage_error("more than one socket given: ", a);
			o->socket = a;
		} else if (strcmp(a, "--") == 0) {
			options_done = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
		} else if (strcmp(a, "-e") == 0) {
			if (i + 1 >= argc)
				return usage_error("-e needs a chunk of Lua", "");
			o->chunks[o->n_chunks++] = argv[++i];
		} else {
			return usage_error("unknown option ", a);
		}
	}
	if (!o->socket || !o->socket[0])
		return usage_error("missing the socket path", "");
	if (o->json && o->n_chunks == 0)
		return usage_error("--json needs -e EXPRESSION (the value to print as JSON)", "");
	return RUN;
}

static int conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);

	c->head = c->tail = 0;
	if (n >= sizeof(sa.sun_path))
		return fail("cannot connect to %s: path too long (%zu bytes, at most %zu)", path, n,
			    sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, n + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return fail("cannot create a unix socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		fprintf(stderr, PROG ": cannot connect to %s: %s", path, strerror(e));
		if (e == ENOENT || e == ECONNREFUSED)
			fprintf(stderr,
				" (is moonvpn running with console = \"%s\" in its config?)", path);
		fputc('\n', stderr);
		close(c->fd);
		return -1;
	}
	return 0;
}

/* Returns 1 when bytes are buffered, 0 on EOF, -1 on failure (reported). */
static int conn_fill(struct conn *c)
{
	ssize_t n;

	if (c->head < c->tail)
		return 1;
	for (;;) {
		n = recv(c->fd, c->buf, sizeof(c->buf), 0);
		if (n >= 0)
			break;
		if (errno == EINTR && interrupted) {
			fputc('\n', stderr); /* past the "^C" the terminal echoed */
			return fail("interrupted while waiting for the server's reply");
		}
		if (errno == ECONNRESET) /* it closed with our line unread: no reply coming */
			return 0;
		if (errno != EINTR)
			return fail("cannot read from the server: %s", strerror(errno));
	}
	c->head = 0;
	c->tail = (size_t)n;
	return n > 0;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EPIPE || errno == ECONNRESET))
			return fail("the server closed the connection");
		if (k < 0)
			return fail("cannot send to the server: %s", strerror(errno));
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Makes header bytes printable for a message: \xNN for anything but plain ASCII. */
static void escape(char *out, size_t size, const char *p, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < size; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", ch);
	}
	out[o] = '\0';
}

/* Reads the header line into line[] without its '\n'. */
static int read_header(struct conn *c, char *line, size_t *n)
{
	char shown[4 * CONSOLE_HEADER_MAX + 1];
	int r;

	for (*n = 0; *n < CONSOLE_HEADER_MAX; (*n)++) {
		r = conn_fill(c);
		if (r < 0)
			return -1;
		if (r == 0 && *n == 0)
			return fail("the server closed the connection");
		if (r == 0) {
			escape(shown, sizeof(shown), line, *n);
			return fail("protocol error: connection closed inside frame header \"%s\"",
				    shown);
		}
		line[*n] = c->buf[c->head++];
		if (line[*n] == '\n')
			return 0;
	}
	escape(shown, sizeof(shown), line, *n);
	return fail("protocol error: frame header \"%s\" has no newline in %d bytes", shown,
		    CONSOLE_HEADER_MAX);
}

static int read_text(struct conn *c, char *dst, size_t len)
{
	size_t got = 0;

	while (got < len) {
		int r = conn_fill(c);
		size_t k;

		if (r < 0)
			return -1;
		if (r == 0)
			return fail("protocol error: frame text cut short at %zu of %zu bytes", got,
				    len);
		k = c->tail - c->head;
		if (k > len - got)
			k = len - got;
		memcpy(dst + got, c->buf + c->head, k);
		c->head += k;
		got += k;
	}
	return 0;
}

static int read_reply(struct conn *c, struct reply *r)
{
	char line[CONSOLE_HEADER_MAX], shown[4 * CONSOLE_HEADER_MAX + 1];
	struct console_header h;
	const char *why;
	size_t n;

	if (read_header(c, line, &n) < 0)
		return -1;
	why = console_header_parse(&h, line, n);
	if (why) {
		escape(shown, sizeof(shown), line, n);
		return fail("protocol error: bad frame header \"%s\": %s", shown, why);
	}
	r->kind = h.kind;
	r->len = h.len;
	r->text = malloc(h.len + 1);
	if (!r->text)
		return fail("out of memory for a %zu-byte reply", h.len);
	if (read_text(c, r->text, h.len) < 0) {
		free(r->text);
		return -1;
	}
	r->text[h.len] = '\0';
	return 0;
}

/* One lock-step round: the line out, its reply in. */
static int exchange(struct conn *c, const char *line, size_t n, struct reply *r)
{
	if (send_all(c->fd, line, n) < 0 || send_all(c->fd, "\n", 1) < 0)
		return -1;
	if (read_reply(c, r) < 0)
		return -1;
	if (r->kind == CONSOLE_HELLO) {
		free(r->text);
		return fail("protocol error: got a %s frame in reply to a line",
			    console_kind_name(CONSOLE_HELLO));
	}
	return 0;
}

/* Refuses what the server would not take; where names the line in the message. */
static int check_line(const char *line, size_t n, const char *where)
{
	if (n + 1 > CONSOLE_LINE_MAX)
		return fail("%s is too long (%zu bytes, at most %d); not sent", where, n,
			    CONSOLE_LINE_MAX - 1);
	if (memchr(line, '\0', n))
		return fail("%s contains a NUL byte; not sent", where);
	return 0;
}

/* The text without one trailing newline, for quoting it inside a message. */
static size_t trimmed_len(const struct reply *r)
{
	return r->len > 0 && r->text[r->len - 1] == '\n' ? r->len - 1 : r->len;
}

static void print_text(FILE *f, const char *text, size_t len)
{
	fwrite(text, 1, len, f);
	if (len > 0 && text[len - 1] != '\n')
		fputc('\n', f);
}

/* Returns -1 when the session cannot go on; a failed line only sets s->failed. */
static int script_line(struct script *s, const char *line, size_t n)
{
	char where[64];
	struct reply r;

	s->lineno++;
	snprintf(where, sizeof(where), "%s line %lu", s->source, s->lineno);
	if (check_line(line, n, where) < 0) {
		s->failed = true;
		return 0;
	}
	if (exchange(s->conn, line, n, &r) < 0)
		return -1;
	s->more = r.kind == CONSOLE_MORE;
	if (r.kind == CONSOLE_OK) {
		print_text(stdout, r.text, r.len);
		fflush(stdout); /* keep it ahead of any later message on stderr */
	} else if (r.kind == CONSOLE_ERROR) {
		s->failed = true;
		fprintf(stderr, PROG ": %s: ", where);
		print_text(stderr, r.text, r.len);
	}
	free(r.text);
	return 0;
}

static int flush_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		return fail("cannot write to stdout: %s", strerror(errno));
	return 0;
}

static int run_chunk(struct script *s, const char *chunk)
{
	const char *p = chunk;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (script_line(s, p, n) < 0)
			return -1;
		if (s->failed)
			return 0;
		p += n + (nl ? 1 : 0);
	}
	if (s->more) {
		fail("incomplete input at end of %s", s->source);
		s->failed = true;
	}
	return 0;
}

/*
 * chunk as an expression whose value the server prints as JSON. Its first
 * line stays the first line (error messages keep their line numbers); the
 * closing goes on a line of its own, past any comment the chunk ends with.
 */
static char *json_chunk(const char *chunk)
{
	static const char head[] = "print(require(\"moonvpn.json\").encode((", tail[] = "\n)))";
	size_t n = strlen(chunk);
	char *out = malloc(sizeof(head) + n + sizeof(tail));

	if (out)
		snprintf(out, sizeof(head) + n + sizeof(tail), "%s%s%s", head, chunk, tail);
	return out;
}

static int run_chunks(struct conn *c, const struct options *o)
{
	struct script s = { .conn = c };

	for (int i = 0; i < o->n_chunks && !s.failed; i++) {
		char *json = o->json ? json_chunk(o->chunks[i]) : NULL;
		int rc;

		if (o->json && !json) {
			fail("out of memory for -e chunk %d", i + 1);
			return 1;
		}
		snprintf(s.source, sizeof(s.source), "-e chunk %d", i + 1);
		s.lineno = 0;
		rc = run_chunk(&s, json ? json : o->chunks[i]);
		free(json);
		if (rc < 0)
			return 1;
	}
	if (flush_stdout() < 0)
		return 1;
	return s.failed ? 1 : 0;
}

static int run_stdin(struct conn *c)
{
	struct script s = { .conn = c, .source = "stdin" };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int status = 0;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if (script_line(&s, line, (size_t)n) < 0) {
			status = 1;
			break;
		}
	}
	free(line);
	if (status == 0 && ferror(stdin)) {
		fail("cannot read stdin: %s", strerror(errno));
		return 1;
	}
	if (status == 0 && s.more) {
		fail("incomplete input at end of stdin");
		s.failed = true;
	}
	if (flush_stdout() < 0)
		return 1;
	return (status || s.failed) ? 1 : 0;
}

/* mkdir -p for the history directory; failures surface later as an unwritable file. */
static void make_dirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0700);
		*p = '/';
	}
	mkdir(path, 0700);
}

static char *history_path(void)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char *path = NULL;

	if (state && state[0] == '/') {
		if (asprintf(&path, "%s/moonvpn", state) < 0)
			return NULL;
		make_dirs(path);
		free(path);
		if (asprintf(&path, "%s/moonvpn/console_history", state) < 0)
			return NULL;
	} else if (home && home[0]) {
		if (asprintf(&path, "%s/.moonvpn_history", home) < 0)
			return NULL;
	}
	return path;
}

static void history_save(const char *path)
{
	/* write_history() would create the file with the umask's mode. */
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return;
	close(fd);
	write_history(path);
}

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void show_reply(const struct reply *r, bool color)
{
	if (r->kind == CONSOLE_OK) {
		print_text(stdout, r->text, r->len);
	} else if (r->kind == CONSOLE_ERROR) {
		/* The colour must end before the newline. */
		fputs(color ? "\033[31merror: " : "error: ", stdout);
		fwrite(r->text, 1, trimmed_len(r), stdout);
		fputs(color ? "\033[0m\n" : "\n", stdout);
	}
	fflush(stdout);
}

/* Returns 0 when the user is done (Ctrl-D), 1 when the connection failed. */
static int repl(struct conn *c)
{
	bool more = false, color = isatty(STDOUT_FILENO);
	struct reply r;
	char *line;

	for (;;) {
		interrupted = 0;
		line = readline(more ? PROMPT_MORE : PROMPT);
		if (!line && interrupted) {
			putchar('\n'); /* Ctrl-C: a fresh, empty edit line */
			continue;
		}
		if (!line) {
			putchar('\n');
			return 0;
		}
		if (check_line(line, strlen(line), "input line") == 0) {
			if (line[0])
				add_history(line);
			if (exchange(c, line, strlen(line), &r) < 0) {
				free(line);
				return 1;
			}
			more = r.kind == CONSOLE_MORE;
			show_reply(&r, color);
			free(r.text);
		}
		free(line);
	}
}

static int interactive(struct conn *c, const struct reply *hello)
{
	struct sigaction sa = { .sa_handler = on_sigint }; /* no SA_RESTART: Ctrl-C must wake us */
	char *path = history_path();
	int status;

	print_text(stdout, hello->text, hello->len);
	fflush(stdout);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	rl_readline_name = "moonvpn"; /* "moonvpn:" lines in ~/.editrc apply */
	using_history();
	stifle_history(HISTORY_SIZE);
	if (path)
		read_history(path);
	status = repl(c);
	if (path)
		history_save(path);
	free(path);
	return status;
}

int console_client_main(int argc, char **argv)
{
	struct options o;
	struct conn c;
	struct reply hello;
	int status = parse_args(argc, argv, &o);

	if (status != RUN || conn_open(&c, o.socket) < 0) {
		free(o.chunks);
		return status != RUN ? status : 1;
	}
	status = 1;
	if (read_reply(&c, &hello) < 0)
		goto out;
	if (hello.kind == CONSOLE_ERROR) {
		/* A server at its client limit answers with an error instead of a hello. */
		fail("the server refused the session: %.*s", (int)trimmed_len(&hello), hello.text);
	} else if (hello.kind != CONSOLE_HELLO) {
		fail("protocol error: expected a hello frame first, got %s",
		     console_kind_name(hello.kind));
	} else if (o.n_chunks > 0) {
		status = run_chunks(&c, &o);
	} else if (isatty(STDIN_FILENO)) {
		status = interactive(&c, &hello);
	} else {
		status = run_stdin(&c);
	}
	free(hello.text);
out:
	close(c.fd);
	free(o.chunks);
	return status;
}
