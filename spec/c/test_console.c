// SPDX-License-Identifier: MIT
/*
 * The console server with fake handlers (an echo "evaluator"), driven by
 * real UNIX sockets in a temporary directory and the libev loop run by
 * hand: framing, multi-line, over-long lines, a client that never reads,
 * several clients, socket mode and stale/live socket files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "console.h"
#include "console_proto.h"
#include "unit.h"

struct fake {
	int opened, closed, fed;
};

static void fake_open(void *ctx, unsigned id)
{
	(void)id;
	((struct fake *)ctx)->opened++;
}

static void fake_close(void *ctx, unsigned id)
{
	(void)id;
	((struct fake *)ctx)->closed++;
}

/* "more" for a line ending in '{', "error" for "fail", else echoes the line. */
static enum console_reply fake_feed(void *ctx, unsigned id, const char *line, size_t len,
				    char **text, size_t *text_len)
{
	(void)id;
	((struct fake *)ctx)->fed++;
	if (len && line[len - 1] == '{') {
		*text = NULL;
		return CONSOLE_REPLY_MORE;
	}
	*text = strndup(line, len);
	*text_len = len;
	return strcmp(line, "fail") == 0 ? CONSOLE_REPLY_ERROR : CONSOLE_REPLY_OK;
}

static const struct console_handlers handlers = {
	.open = fake_open,
	.feed = fake_feed,
	.close = fake_close,
	.banner = "hi",
};

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void spin(struct ev_loop *loop)
{
	for (int i = 0; i < 20; i++)
		ev_run(loop, EVRUN_NOWAIT);
}

/* Reads what the server sent so far into buf (NUL-terminated). */
static size_t drain(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return got;
}

static void send_str(int fd, const char *s)
{
	CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s), "write %s", s);
}

static void test_framing(struct ev_loop *loop, struct console *c, struct fake *f)
{
	char buf[4096];
	int fd = connect_to(console_path(c));

	CHECK(fd >= 0, "connect");
	spin(loop);
	drain(fd, buf, sizeof(buf));
	CHECK(strcmp(buf, "hello 2\nhi") == 0, "hello frame: %s", buf);
	CHECK(f->opened == 1, "opened %d", f->opened);
	/* Pipelined lines, a \r\n line, an error and a continuation. */
	send_str(fd, "abc\nx\r\nfail\nfunction f() {\n");
	spin(loop);
	drain(fd, buf, sizeof(buf));
	CHECK(strcmp(buf, "ok 3\nabcok 1\nxerror 4\nfailmore 0\n") == 0, "replies: %s", buf);
	close(fd);
	spin(loop);
	CHECK(f->closed == 1, "closed %d", f->closed);
	CHECK(console_client_count(c) == 0, "clients %u", console_client_count(c));
}

static void test_long_line(struct ev_loop *loop, struct console *c)
{
	char buf[4096];
	char *big = malloc(CONSOLE_LINE_MAX + 100);
	int fd = connect_to(console_path(c));

	memset(big, 'a', CONSOLE_LINE_MAX + 99);
	big[CONSOLE_LINE_MAX + 99] = '\0';
	spin(loop);
	drain(fd, buf, sizeof(buf));
	/* The socket buffer may not take it all at once: write in pieces. */
	for (size_t off = 0; off < CONSOLE_LINE_MAX + 99;) {
		ssize_t n = write(fd, big + off, CONSOLE_LINE_MAX + 99 - off);

		if (n > 0)
			off += (size_t)n;
		spin(loop);
	}
	send_str(fd, "\nafter\n");
	spin(loop);
	drain(fd, buf, sizeof(buf));
	CHECK(strncmp(buf, "error ", 6) == 0 && strstr(buf, "too long"), "long line: %s", buf);
	CHECK(strstr(buf, "ok 5\nafter") != NULL && !strstr(buf, "ok 1"),
	      "one reply for the long line, then the next line: %s", buf);
	close(fd);
	spin(loop);
	free(big);
}

/* Sends up to 2000 KiB of requests and never reads the replies. */
static void flood_without_reading(struct ev_loop *loop, int fd)
{
	char line[1024];

	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	for (int i = 0; i < 2000; i++) {
		if (write(fd, line, strlen(line)) < 0)
			break;
		spin(loop);
	}
}

/* A client that sends many requests and never reads is paused; others go on. */
static void test_stuck_client(struct ev_loop *loop, struct console *c, struct fake *f)
{
	char buf[256];
	int stuck = connect_to(console_path(c));
	int other;
	int fed_before;

	flood_without_reading(loop, stuck);
	fed_before = f->fed;
	other = connect_to(console_path(c));
	spin(loop);
	drain(other, buf, sizeof(buf));
	send_str(other, "ping\n");
	spin(loop);
	drain(other, buf, sizeof(buf));
	CHECK(strcmp(buf, "ok 4\nping") == 0, "the other client is served: %s", buf);
	CHECK(f->fed - fed_before == 1, "the stuck client was paused: fed %d", f->fed - fed_before);
	CHECK(console_client_count(c) == 2, "clients %u", console_client_count(c));
	close(stuck);
	close(other);
	spin(loop);
}

/* A client whose output stays unread past the stall timeout is dropped. */
static void test_stall_drop(struct ev_loop *loop, struct console *c)
{
	int stuck = connect_to(console_path(c));
	ev_tstamp deadline;

	console_set_stall_timeout(c, 0.2);
	flood_without_reading(loop, stuck);
	CHECK(console_client_count(c) == 1, "stuck client connected");
	deadline = ev_time() + 3;
	while (console_client_count(c) > 0 && ev_time() < deadline)
		ev_run(loop, EVRUN_ONCE);
	CHECK(console_client_count(c) == 0, "stuck client dropped after the stall timeout");
	close(stuck);
	console_set_stall_timeout(c, CONSOLE_STALL_SECONDS);
}

static void test_socket_file(const char *dir, struct ev_loop *loop, const struct log *lg,
			     struct fake *f)
{
	char path[100], err[256];
	struct stat st;
	struct console *a = console_new(loop, lg, &handlers, f);
	struct console *b = console_new(loop, lg, &handlers, f);
	int fd;

	snprintf(path, sizeof(path), "%s/sub/c.sock", dir);
	CHECK(console_listen(a, path, err, sizeof(err)) == 0, "listen: %s", err);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode %o", st.st_mode & 0777);
	CHECK(console_listen(b, path, err, sizeof(err)) == -EADDRINUSE, "live socket refused");
	CHECK(strstr(err, "in use") != NULL, "%s", err);
	/* A stale socket file (its listener gone) is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind stale");
	close(fd);
	CHECK(console_listen(b, path, err, sizeof(err)) == 0, "stale replaced: %s", err);
	/* A regular file is never removed. */
	snprintf(path, sizeof(path), "%s/file", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	CHECK(console_listen(b, path, err, sizeof(err)) == -EEXIST, "file refused");
	CHECK(strstr(err, "not a socket") != NULL, "%s", err);
	console_free(a);
	console_free(b);
	snprintf(path, sizeof(path), "%s/sub/c.sock", dir);
	CHECK(stat(path, &st) < 0, "socket unlinked on free");
	CHECK(stat(path, &st) < 0 && stat(strcat(strcpy(err, dir), "/stale.sock"), &st) < 0,
	      "both sockets unlinked");
}

int main(void)
{
	char dir[] = "/tmp/mvt-console-XXXXXX";
	char path[100], err[256], cmd[128];
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fake f = { 0 };
	struct log lg;
	struct console *c;

	log_init(&lg, LOG_ERROR, stderr);
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/console.sock", dir);
	c = console_new(loop, &lg, &handlers, &f);
	CHECK(console_listen(c, path, err, sizeof(err)) == 0, "listen: %s", err);
	test_framing(loop, c, &f);
	test_long_line(loop, c);
	test_stuck_client(loop, c, &f);
	test_stall_drop(loop, c);
	console_free(c);
	test_socket_file(dir, loop, &lg, &f);
	ev_loop_destroy(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
	return unit_report("test_console");
}
