// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "console.h"
#include "console_proto.h"

enum {
	/* Out of descriptors: accepting waits this long (or for a client to leave). */
	CONSOLE_ACCEPT_PAUSE_SECONDS = 1,
};

struct console_client {
	struct console *console;
	unsigned id;
	int fd;
	ev_io read_watcher;
	ev_io write_watcher;
	ev_timer stall_timer; /* runs while output is pending; restarted on progress */
	char in[CONSOLE_LINE_MAX + 1];
	size_t in_len;
	bool discarding; /* inside an over-long line: drop input up to its '\n' */
	char *out;
	size_t out_len, out_cap, out_sent;
	struct console_client *next;
};

struct console {
	struct ev_loop *loop;
	const struct log *log;
	const struct console_handlers *handlers;
	void *ctx;
	int listen_fd;
	char *path;
	dev_t path_dev; /* identity of the socket file we created, so we unlink only ours */
	ino_t path_ino;
	ev_io accept_watcher;
	ev_timer accept_pause; /* out of descriptors: accepting resumes then */
	double stall_seconds;
	struct console_client *clients;
	unsigned n_clients;
	unsigned next_id;
};

static void on_accept_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct console *c = w->data;

	(void)revents;
	if (c->listen_fd >= 0)
		ev_io_start(loop, &c->accept_watcher);
}

struct console *console_new(struct ev_loop *loop, const struct log *lg,
			    const struct console_handlers *handlers, void *ctx)
{
	struct console *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->loop = loop;
	c->log = lg;
	c->handlers = handlers;
	c->ctx = ctx;
	c->listen_fd = -1;
	c->next_id = 1;
	c->stall_seconds = CONSOLE_STALL_SECONDS;
	ev_timer_init(&c->accept_pause, on_accept_pause, CONSOLE_ACCEPT_PAUSE_SECONDS, 0);
	c->accept_pause.data = c;
	return c;
}

void console_set_stall_timeout(struct console *c, double seconds)
{
	c->stall_seconds = seconds;
}

static void client_free(struct console_client *cl)
{
	struct console *c = cl->console;
	struct console_client **pp;

	for (pp = &c->clients; *pp && *pp != cl; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = cl->next;
	c->n_clients--;
	ev_io_stop(c->loop, &cl->read_watcher);
	ev_io_stop(c->loop, &cl->write_watcher);
	ev_timer_stop(c->loop, &cl->stall_timer);
	close(cl->fd);
	c->handlers->close(c->ctx, cl->id);
	log_debug(c->log, "console", "client %u disconnected", cl->id);
	free(cl->out);
	free(cl);
	if (ev_is_active(&c->accept_pause)) { /* a descriptor is free again */
		ev_timer_stop(c->loop, &c->accept_pause);
		ev_io_start(c->loop, &c->accept_watcher);
	}
}

/* Appends to the client's output; false when the client has stopped reading for too long. */
static bool client_queue(struct console_client *cl, const char *data, size_t len)
{
	if (cl->out_len + len > CONSOLE_OUTPUT_MAX_BYTES)
		return false;
	if (cl->out_len + len > cl->out_cap) {
		size_t cap = cl->out_cap ? cl->out_cap : 4096;
		char *p;

		while (cap < cl->out_len + len)
			cap *= 2;
		p = realloc(cl->out, cap);
		if (!p)
			return false;
		cl->out = p;
		cl->out_cap = cap;
	}
	memcpy(cl->out + cl->out_len, data, len);
	cl->out_len += len;
	ev_io_start(cl->console->loop, &cl->write_watcher);
	if (!ev_is_active(&cl->stall_timer))
		ev_timer_again(cl->console->loop, &cl->stall_timer);
	return true;
}

static bool client_frame(struct console_client *cl, const char *kind, const char *text, size_t len)
{
	char header[64];
	int n;

	if (len > CONSOLE_FRAME_MAX) {
		static const char cut[] =
			"\n... (output cut: larger than the console frame limit)\n";

		len = CONSOLE_FRAME_MAX - (sizeof(cut) - 1);
		n = snprintf(header, sizeof(header), "%s %zu\n", kind,
			     CONSOLE_FRAME_MAX + (size_t)0);
		return client_queue(cl, header, (size_t)n) && client_queue(cl, text, len) &&
		       client_queue(cl, cut, sizeof(cut) - 1);
	}
	n = snprintf(header, sizeof(header), "%s %zu\n", kind, len);
	return client_queue(cl, header, (size_t)n) && client_queue(cl, text, len);
}

static const char *reply_kind(enum console_reply r)
{
	switch (r) {
	case CONSOLE_REPLY_OK:
		return CONSOLE_KIND_OK;
	case CONSOLE_REPLY_MORE:
		return CONSOLE_KIND_MORE;
	case CONSOLE_REPLY_ERROR:
		break;
	}
	return CONSOLE_KIND_ERROR;
}

/* Runs one complete line; false when the client must be dropped. */
static bool client_eval(struct console_client *cl, const char *line, size_t len)
{
	struct console *c = cl->console;
	char *text = NULL;
	size_t text_len = 0;
	enum console_reply r = c->handlers->feed(c->ctx, cl->id, line, len, &text, &text_len);
	bool ok = client_frame(cl, reply_kind(r), text ? text : "", text ? text_len : 0);

	free(text);
	return ok;
}

/* Evaluates every complete line in the input buffer; false to drop the client. */
static bool client_drain_lines(struct console_client *cl)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(cl->in + start, '\n', cl->in_len - start))) {
		size_t len = (size_t)(nl - (cl->in + start));

		if (cl->discarding) {
			cl->discarding = false;
			start = (size_t)(nl - cl->in) + 1;
			continue;
		}

		if (len && cl->in[start + len - 1] == '\r')
			len--;
		cl->in[start + len] = '\0';
		if (!client_eval(cl, cl->in + start, len))
			return false;
		start = (size_t)(nl - cl->in) + 1;
		if (cl->out_len - cl->out_sent > CONSOLE_PAUSE_BYTES)
			break; /* the rest waits until the client reads its replies */
	}
	memmove(cl->in, cl->in + start, cl->in_len - start);
	cl->in_len -= start;
	if (cl->in_len == CONSOLE_LINE_MAX) {
		static const char msg[] = "input line too long (the limit is 65536 bytes)";
		bool reply = !cl->discarding;

		cl->in_len = 0;
		cl->discarding = true;
		return !reply || client_frame(cl, CONSOLE_KIND_ERROR, msg, sizeof(msg) - 1);
	}
	return true;
}

static void update_read_interest(struct console_client *cl)
{
	if (cl->out_len - cl->out_sent > CONSOLE_PAUSE_BYTES)
		ev_io_stop(cl->console->loop, &cl->read_watcher);
	else
		ev_io_start(cl->console->loop, &cl->read_watcher);
}

static void on_client_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct console_client *cl = w->data;
	ssize_t n;

	(void)loop;
	(void)revents;
	n = read(cl->fd, cl->in + cl->in_len, CONSOLE_LINE_MAX - cl->in_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || (cl->in_len += (size_t)n, !client_drain_lines(cl))) {
		if (n > 0)
			log_warnx(cl->console->log, "console",
				  "client %u dropped: it does not read its replies", cl->id);
		client_free(cl);
		return;
	}
	update_read_interest(cl);
}

static void on_client_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct console_client *cl = w->data;
	ssize_t n;

	(void)revents;
	n = send(cl->fd, cl->out + cl->out_sent, cl->out_len - cl->out_sent, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		client_free(cl);
		return;
	}
	cl->out_sent += (size_t)n;
	ev_timer_again(loop, &cl->stall_timer); /* progress */
	if (cl->out_sent < cl->out_len)
		return;
	cl->out_len = cl->out_sent = 0;
	ev_io_stop(loop, w);
	ev_timer_stop(loop, &cl->stall_timer);
	/* Input may have been left waiting while the client was paused. */
	if (cl->in_len && !client_drain_lines(cl)) {
		client_free(cl);
		return;
	}
	update_read_interest(cl);
}

static void on_client_stalled(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct console_client *cl = w->data;

	(void)loop;
	(void)revents;
	log_warnx(cl->console->log, "console",
		  "client %u dropped: it has not read its replies for %.0f s", cl->id,
		  cl->console->stall_seconds);
	client_free(cl);
}

static void client_accept(struct console *c, int fd)
{
	struct console_client *cl = calloc(1, sizeof(*cl));
	const char *banner = c->handlers->banner ? c->handlers->banner : "";

	if (!cl) {
		close(fd);
		return;
	}
	cl->console = c;
	cl->fd = fd;
	cl->id = c->next_id++;
	ev_io_init(&cl->read_watcher, on_client_read, fd, EV_READ);
	ev_io_init(&cl->write_watcher, on_client_write, fd, EV_WRITE);
	ev_init(&cl->stall_timer, on_client_stalled);
	cl->stall_timer.repeat = c->stall_seconds;
	cl->read_watcher.data = cl->write_watcher.data = cl->stall_timer.data = cl;
	cl->next = c->clients;
	c->clients = cl;
	c->n_clients++;
	c->handlers->open(c->ctx, cl->id);
	log_debug(c->log, "console", "client %u connected", cl->id);
	if (!client_frame(cl, CONSOLE_KIND_HELLO, banner, strlen(banner))) {
		client_free(cl);
		return;
	}
	ev_io_start(c->loop, &cl->read_watcher);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct console *c = w->data;
	int fd;

	(void)loop;
	(void)revents;
	fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
			return;
		/* The listener stays readable while the client waits in its backlog:
		 * with the watcher on, the loop would spin (and log) until it leaves. */
		log_warn_ratelimited(c->log, "console", "accept on %s (pausing %d s)", c->path,
				     CONSOLE_ACCEPT_PAUSE_SECONDS);
		ev_io_stop(c->loop, &c->accept_watcher);
		/* Set again: a timer that expired or was stopped keeps what was left of it. */
		ev_timer_set(&c->accept_pause, CONSOLE_ACCEPT_PAUSE_SECONDS, 0);
		ev_timer_start(c->loop, &c->accept_pause);
		return;
	}
	if (c->n_clients >= CONSOLE_CLIENTS_MAX) {
		static const char msg[] = "error 34\ntoo many console clients connected";

		log_ratelimited(c->log, LOG_WARN, "console",
				"refused a client: %d already connected", CONSOLE_CLIENTS_MAX);
		(void)!send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	client_accept(c, fd);
}

/* Refuses to take over a live console or a non-socket file; removes a stale socket. */
static int clear_path(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen,
			 "console: %s exists and is not a socket; remove it or choose another "
			 "console path",
			 path);
		return -EEXIST;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen,
			 "console: %s is in use by a running moonvpn; choose another console path",
			 path);
		return -EADDRINUSE;
	}
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

/* Creates the socket's directory (mode 0700) when it is missing, as /run/moonvpn often is. */
static int make_parent_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int bind_private(int fd, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old_mask;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* The socket file is created by bind(); the umask makes it 0600 from the start,
	 * with no window in which another user could connect. */
	old_mask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	return rc < 0 ? -errno : 0;
}

static void stop_listening(struct console *c)
{
	struct stat st;

	if (c->listen_fd < 0)
		return;
	ev_io_stop(c->loop, &c->accept_watcher);
	ev_timer_stop(c->loop, &c->accept_pause);
	close(c->listen_fd);
	c->listen_fd = -1;
	if (lstat(c->path, &st) == 0 && st.st_dev == c->path_dev && st.st_ino == c->path_ino)
		unlink(c->path);
	free(c->path);
	c->path = NULL;
}

struct listener {
	int fd;
	dev_t dev;
	ino_t ino;
};

static int open_listener(struct listener *out, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd = -1, rc;

	rc = clear_path(path, err, errlen);
	if (rc == -EEXIST || rc == -EADDRINUSE)
		return rc;
	if (rc == 0 && (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		rc = -errno;
	if (rc < 0 || (rc = make_parent_dir(path)) < 0 || (rc = bind_private(fd, path)) < 0)
		goto fail;
	if (listen(fd, 16) < 0 || lstat(path, &st) < 0) {
		rc = -errno;
		unlink(path);
		goto fail;
	}
	out->fd = fd;
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	snprintf(err, errlen, "console: cannot listen on %s: %s", path, strerror(-rc));
	return rc;
}

int console_listen(struct console *c, const char *path, char *err, size_t errlen)
{
	struct listener l = { 0 }; /* GCC 12 at -O1 with TSan cannot see open_listener() fill it */
	char *copy;
	int rc;

	if (path && c->path && strcmp(path, c->path) == 0)
		return 0;
	if (!path) {
		stop_listening(c);
		return 0;
	}
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	/* Open the new listener first so that a failure leaves the old one serving. */
	rc = open_listener(&l, path, err, errlen);
	if (rc < 0) {
		free(copy);
		return rc;
	}
	stop_listening(c);
	c->listen_fd = l.fd;
	c->path = copy;
	c->path_dev = l.dev;
	c->path_ino = l.ino;
	ev_io_init(&c->accept_watcher, on_accept, l.fd, EV_READ);
	c->accept_watcher.data = c;
	ev_io_start(c->loop, &c->accept_watcher);
	return 0;
}

const char *console_path(const struct console *c)
{
	return c->path;
}

unsigned console_client_count(const struct console *c)
{
	return c->n_clients;
}

void console_free(struct console *c)
{
	if (!c)
		return;
	while (c->clients)
		client_free(c->clients);
	stop_listening(c);
	free(c);
}
