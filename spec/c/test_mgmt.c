// SPDX-License-Identifier: MIT
/*
 * The management interface's connection handling with fake engine ops,
 * over real UNIX sockets in a temporary directory, the libev loop run by
 * hand: the banner, the password prompt, a client-auth block and its END,
 * an over-long line, a stale socket file, and the socket's mode.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mgmt.h"
#include "unit.h"

static struct {
	uint64_t cid;
	unsigned kid;
	size_t n_lines;
	char last_line[64];
	int auths;
} seen;

static const char *fake_client_auth(void *ctx, uint64_t cid, unsigned kid, char **lines, size_t n)
{
	(void)ctx;
	seen.cid = cid;
	seen.kid = kid;
	seen.n_lines = n;
	seen.auths++;
	if (n)
		snprintf(seen.last_line, sizeof(seen.last_line), "%s", lines[n - 1]);
	return cid == 99 ? "no such client" : NULL;
}

static void fake_status(void *ctx, struct mgmt_buf *out, int version, const char *eol)
{
	(void)ctx;
	mgmt_buf_printf(out, "status %d%sEND%s", version, eol, eol);
}

static const struct mgmt_ops ops = {
	.status = fake_status,
	.client_auth = fake_client_auth,
};

static int connect_to(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Runs the loop until the client has read want (appended to got), or a bound of turns. */
static bool read_until(struct ev_loop *loop, int fd, char *got, size_t cap, const char *want)
{
	for (int i = 0; i < 2000 && !strstr(got, want); i++) {
		size_t len = strlen(got);
		ssize_t n;

		ev_run(loop, EVRUN_NOWAIT);
		n = read(fd, got + len, cap - len - 1);
		if (n > 0)
			got[len + (size_t)n] = '\0';
		else if (n == 0)
			break;
		else
			usleep(1000);
	}
	return strstr(got, want) != NULL;
}

static void say(int fd, const char *text)
{
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write %s", text);
}

int main(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct log lg;
	char dir[] = "/tmp/test_mgmt.XXXXXX", path[64], err[256], got[8192] = "";
	struct mgmt *m;
	struct stat st;
	int fd;

	log_init(&lg, LOG_ERROR, stderr);
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/mgmt.sock", dir);
	m = mgmt_new(loop, &lg, &ops, "moonvpn test");

	/* A stale socket file (nobody listens) is replaced; the new one is 0600. */
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int stale = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		CHECK(bind(stale, (struct sockaddr *)&sun, sizeof(sun)) == 0, "stale bind");
		close(stale);
	}
	CHECK(mgmt_listen(m, path, "pw", err, sizeof(err)) == 0, "listen: %s", err);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode %o", st.st_mode & 0777);

	/* A wrong password: an error, then the connection closes. */
	fd = connect_to(path);
	CHECK(read_until(loop, fd, got, sizeof(got), "ENTER PASSWORD:"), "prompt: %s", got);
	say(fd, "nope\n");
	CHECK(read_until(loop, fd, got, sizeof(got), "ERROR: bad password\r\n"), "bad: %s", got);
	for (int i = 0; i < 100; i++)
		ev_run(loop, EVRUN_NOWAIT);
	CHECK(read(fd, got, 1) == 0, "closed after a wrong password");
	close(fd);

	/* The right one, then the banner and commands. */
	got[0] = '\0';
	fd = connect_to(path);
	say(fd, "pw\n");
	CHECK(read_until(loop, fd, got, sizeof(got),
			 "SUCCESS: password is correct\r\n>INFO:OpenVPN Management Interface "
			 "Version 5 -- type 'help' for more info\r\n"),
	      "banner: %s", got);
	CHECK(mgmt_conn_count(m) == 1, "one connection: %u", mgmt_conn_count(m));
	say(fd, "status 3\n");
	CHECK(read_until(loop, fd, got, sizeof(got), "status 3\r\nEND\r\n"), "status: %s", got);

	/* client-auth takes the lines up to END, quoted words intact. */
	say(fd, "client-auth 7 2\npush \"route 10.9.0.0 255.255.255.0\"\niroute 10.9.0.0 "
		"255.255.255.0\nEND\n");
	CHECK(read_until(loop, fd, got, sizeof(got), "SUCCESS: client-auth command succeeded\r\n"),
	      "client-auth: %s", got);
	CHECK(seen.auths == 1 && seen.cid == 7 && seen.kid == 2 && seen.n_lines == 2, "%llu %u %zu",
	      (unsigned long long)seen.cid, seen.kid, seen.n_lines);
	CHECK(strcmp(seen.last_line, "iroute 10.9.0.0 255.255.255.0") == 0, "%s", seen.last_line);
	say(fd, "client-auth 99 0\nEND\n");
	CHECK(read_until(loop, fd, got, sizeof(got),
			 "ERROR: client-auth command failed: no such client\r\n"),
	      "refused: %s", got);
	say(fd, "client-auth-nt x 0\n");
	CHECK(read_until(loop, fd, got, sizeof(got), "ERROR: cannot parse CID\r\n"), "cid: %s",
	      got);

	/* A line over the limit is answered once and skipped; the next one works. */
	{
		char big[3000];

		memset(big, 'x', sizeof(big));
		CHECK(write(fd, big, sizeof(big)) == (ssize_t)sizeof(big), "big write");
	}
	say(fd, "\nstatus 1\n");
	CHECK(read_until(loop, fd, got, sizeof(got), "ERROR: line longer than 1023 bytes\r\n"),
	      "long: %s", got);
	CHECK(read_until(loop, fd, got, sizeof(got), "status 1\r\nEND\r\n"), "after: %s", got);
	say(fd, "client-deny 1\n");
	CHECK(read_until(loop, fd, got, sizeof(got),
			 "ERROR: the 'client-deny' command requires at least 3 parameters\r\n"),
	      "need: %s", got);
	close(fd);

	mgmt_free(m);
	CHECK(stat(path, &st) < 0, "the socket file is removed");
	rmdir(dir);
	ev_loop_destroy(loop);
	return unit_report("test_mgmt");
}
