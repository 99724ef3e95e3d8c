// SPDX-License-Identifier: MIT
/* The sd_notify protocol: which NOTIFY_SOCKET values reach a socket, what is sent, STATUS= pacing.
 */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"
#include "unit.h"

static char status_text[64] = "0 clients connected";

static void status_fn(void *ctx, char *buf, size_t len)
{
	(void)ctx;
	snprintf(buf, len, "%s", status_text);
}

/* A datagram socket bound at name ("@x": abstract); -1 on failure. */
static int listen_at(const char *name)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	memcpy(a.sun_path, name, n);
	if (name[0] == '@')
		a.sun_path[0] = '\0';
	if (fd < 0 || bind(fd, (struct sockaddr *)&a,
			   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
		return -1;
	return fd;
}

/* The next datagram, or "" when none waits. */
static const char *next(int fd)
{
	static char buf[1024];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_addresses(struct ev_loop *loop, const struct log *lg, const char *dir)
{
	char path[256], abstract[64];
	const char *bad[] = { "relative/path", "vsock:2:1234", "@", "/", "" };

	snprintf(path, sizeof(path), "%s/notify", dir);
	snprintf(abstract, sizeof(abstract), "@moonvpn-test-notify-%ld", (long)getpid());
	const char *good[] = { path, abstract };
	for (size_t i = 0; i < 2; i++) {
		int fd = listen_at(good[i]);
		struct notify n;

		CHECK(fd >= 0, "bind %s", good[i]);
		setenv("NOTIFY_SOCKET", good[i], 1);
		notify_init(&n, loop, lg, status_fn, NULL);
		CHECK(n.fd >= 0, "%s reached", good[i]);
		CHECK(!getenv("NOTIFY_SOCKET"), "unset for children");
		notify_ready(&n);
		CHECK(strcmp(next(fd), "READY=1\n") == 0, "%s: READY", good[i]);
		CHECK(strcmp(next(fd), "STATUS=0 clients connected\n") == 0, "%s: STATUS", good[i]);
		notify_reloading(&n);
		const char *r = next(fd);
		CHECK(strncmp(r, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0 &&
			      r[strlen(r) - 1] == '\n',
		      "%s", r);
		notify_stopping(&n);
		CHECK(strcmp(next(fd), "STOPPING=1\n") == 0, "%s: STOPPING", good[i]);
		notify_deinit(&n);
		close(fd);
	}
	unlink(path);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct notify n;

		setenv("NOTIFY_SOCKET", bad[i], 1);
		notify_init(&n, loop, lg, status_fn, NULL);
		CHECK(n.fd < 0, "\"%s\" refused", bad[i]);
		notify_ready(&n); /* nothing to send to: a no-op */
		notify_deinit(&n);
	}
	/* Nobody listens there (any more). */
	setenv("NOTIFY_SOCKET", path, 1);
	struct notify n;
	notify_init(&n, loop, lg, status_fn, NULL);
	CHECK(n.fd < 0, "no listener");
	notify_deinit(&n);
	unsetenv("NOTIFY_SOCKET");
	notify_init(&n, loop, lg, status_fn, NULL);
	CHECK(n.fd < 0, "unset: disabled");
	notify_status_changed(&n);
	notify_deinit(&n);
}

/* STATUS= waits for the loop (a leaving client is still counted now), then at most once a second.
 */
static void test_status_pacing(struct ev_loop *loop, const struct log *lg, const char *dir)
{
	char path[256];
	struct notify n;
	int fd;

	snprintf(path, sizeof(path), "%s/pacing", dir);
	fd = listen_at(path);
	setenv("NOTIFY_SOCKET", path, 1);
	notify_init(&n, loop, lg, status_fn, NULL);
	notify_status_changed(&n);
	notify_status_changed(&n);
	CHECK(strcmp(next(fd), "") == 0, "nothing before the loop runs");
	snprintf(status_text, sizeof(status_text), "1 client connected");
	ev_run(loop, EVRUN_NOWAIT);
	CHECK(strcmp(next(fd), "STATUS=1 client connected\n") == 0, "the current status, once");
	CHECK(strcmp(next(fd), "") == 0, "two changes, one update");
	notify_status_changed(&n);
	snprintf(status_text, sizeof(status_text), "2 clients connected");
	notify_status_changed(&n);
	CHECK(ev_is_active(&n.status_timer), "an update pending");
	ev_now_update(loop);
	/* Unless this machine stalled a whole second since the last one, it waits. */
	if (ev_now(loop) - n.status_sent < NOTIFY_STATUS_INTERVAL_SECONDS - 0.1)
		CHECK(ev_timer_remaining(loop, &n.status_timer) > 0, "held back for the interval");
	while (ev_is_active(&n.status_timer))
		ev_run(loop, EVRUN_ONCE);
	CHECK(strcmp(next(fd), "STATUS=2 clients connected\n") == 0, "the status when it went");
	CHECK(strcmp(next(fd), "") == 0, "one update");
	notify_deinit(&n);
	close(fd);
	unlink(path);
}

int main(void)
{
	char dir[] = "/tmp/test_notify.XXXXXX";
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct log lg;

	if (!loop || !mkdtemp(dir))
		return 1;
	log_init(&lg, LOG_ERROR, stderr);
	test_addresses(loop, &lg, dir);
	test_status_pacing(loop, &lg, dir);
	rmdir(dir);
	ev_loop_destroy(loop);
	return unit_report("notify");
}
