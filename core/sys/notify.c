// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

/* Fills addr from $NOTIFY_SOCKET's value; false when it names no UNIX socket we can reach. */
static bool parse_address(const char *name, struct sockaddr_un *addr, socklen_t *len)
{
	size_t n = strlen(name);

	/* "/path" or "@abstract"; systemd 254's "vsock:CID:PORT" is for VMs, not for us. */
	if ((name[0] != '/' && name[0] != '@') || n < 2 || n > sizeof(addr->sun_path) - 1)
		return false;
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, name, n);
	if (name[0] == '@')
		addr->sun_path[0] = '\0'; /* the abstract name is exactly the n bytes given */
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] == '/'));
	return true;
}

static void on_status_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct notify *n = w->data;
	char text[NOTIFY_MESSAGE_MAX], status[NOTIFY_MESSAGE_MAX - 16];

	(void)loop;
	(void)revents;
	n->status(n->ctx, status, sizeof(status));
	/* One line: the note may quote an error message. */
	snprintf(text, sizeof(text), "STATUS=%s%s%.*s\n", status, n->note[0] ? "; " : "",
		 (int)strcspn(n->note, "\n"), n->note);
	n->status_sent = ev_now(n->loop);
	if (notify_send(n, text) < 0)
		return; /* logged */
}

void notify_init(struct notify *n, struct ev_loop *loop, const struct log *lg,
		 notify_status_fn status, void *ctx)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr;
	socklen_t len;

	*n = (struct notify){ .fd = -1, .log = lg, .loop = loop, .status = status, .ctx = ctx };
	ev_timer_init(&n->status_timer, on_status_timer, 0, 0);
	n->status_timer.data = n;
	if (!name)
		return;
	if (!parse_address(name, &addr, &len)) {
		log_warnx(lg, "notify",
			  "NOTIFY_SOCKET=\"%s\" is not a UNIX socket path or @abstract name: the "
			  "service manager is not told when moonvpn is ready",
			  name);
	} else if ((n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		log_warn(lg, "notify", "cannot make a socket for NOTIFY_SOCKET");
	} else if (connect(n->fd, (struct sockaddr *)&addr, len) < 0) {
		/* Connected now, as root: after the drop the path may be closed to us. */
		log_warn(lg, "notify", "cannot reach NOTIFY_SOCKET %s", name);
		close(n->fd);
		n->fd = -1;
	}
	unsetenv("NOTIFY_SOCKET");
}

void notify_deinit(struct notify *n)
{
	if (!n->loop)
		return; /* never initialized: an engine that failed early */
	ev_timer_stop(n->loop, &n->status_timer);
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

int notify_send(struct notify *n, const char *text)
{
	if (n->fd < 0)
		return 0;
	if (send(n->fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		int rc = -errno;

		log_warn_ratelimited(n->log, "notify", "cannot tell the service manager %.*s",
				     (int)strcspn(text, "\n"), text);
		return rc;
	}
	log_trace(n->log, "notify", "sent %.*s", (int)strcspn(text, "\n"), text);
	return 0;
}

void notify_ready(struct notify *n)
{
	if (n->fd < 0)
		return;
	(void)!notify_send(n, "READY=1\n");
	ev_timer_stop(n->loop, &n->status_timer);
	on_status_timer(n->loop, &n->status_timer, 0);
}

void notify_reloading(struct notify *n)
{
	struct timespec ts;
	char text[64];

	if (n->fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* systemd 253+ matches the reload to this moment; 252 ignores the field. */
	snprintf(text, sizeof(text), "RELOADING=1\nMONOTONIC_USEC=%llu\n",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
			 (unsigned long long)ts.tv_nsec / 1000);
	(void)!notify_send(n, text);
}

void notify_note(struct notify *n, const char *note)
{
	snprintf(n->note, sizeof(n->note), "%s", note ? note : "");
}

void notify_stopping(struct notify *n)
{
	(void)!notify_send(n, "STOPPING=1\n");
}

void notify_status_changed(struct notify *n)
{
	ev_tstamp wait;

	if (n->fd < 0 || ev_is_active(&n->status_timer))
		return; /* the pending update will say what is current then */
	/* Deferred to the loop even when due: a session that is ending is still counted now. */
	wait = n->status_sent + NOTIFY_STATUS_INTERVAL_SECONDS - ev_now(n->loop);
	ev_timer_set(&n->status_timer, wait > 0 ? wait : 0, 0);
	ev_timer_start(n->loop, &n->status_timer);
}
