// SPDX-License-Identifier: MIT
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tcp.h"

struct tcp_conn {
	struct tcp_server *t;
	struct tcp_conn *prev, *next;
	int fd;
	ev_io rio, wio;
	ev_timer first; /* server side: a session must start by then */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	int32_t tag;
	bool got_packet;
	bool connecting; /* an outgoing connection not yet established: sends wait */
	bool reading;	 /* inside the packet callback: closing waits for it to return */
	bool dead;	 /* closed by us: the reaper calls closed and frees it */
	char why[80];
	size_t in_len;
	uint8_t in[2 + TCP_FRAME_MAX];
	uint8_t *out;
	size_t out_len, out_sent, out_cap;
};

struct tcp_server {
	struct ev_loop *loop;
	int fd;
	ev_io accept_w;
	ev_idle reaper; /* closes dead connections from the top of the loop */
	struct tcp_handlers h;
	struct tcp_conn *conns;
	size_t n;
};

static void conn_free(struct tcp_conn *c)
{
	struct tcp_server *t = c->t;

	ev_io_stop(t->loop, &c->rio);
	ev_io_stop(t->loop, &c->wio);
	ev_timer_stop(t->loop, &c->first);
	if (c->prev)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	t->n--;
	close(c->fd);
	free(c->out);
	free(c);
}

/*
 * Closes c for a reason of ours. The server hears of it (closed) from the
 * reaper, never from inside one of its own calls (a send, a packet).
 */
static void conn_fail(struct tcp_conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = true;
	if (why != c->why)
		snprintf(c->why, sizeof(c->why), "%s", why);
	ev_io_stop(c->t->loop, &c->rio);
	ev_io_stop(c->t->loop, &c->wio);
	ev_timer_stop(c->t->loop, &c->first);
	ev_idle_start(c->t->loop, &c->t->reaper);
}

/* One dead connection at a time, from the head: closed() may close others. */
static void on_reap(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct tcp_server *t = w->data;

	(void)revents;
	ev_idle_stop(loop, w);
	for (;;) {
		struct tcp_conn *c = t->conns;

		while (c && !(c->dead && !c->reading))
			c = c->next;
		if (!c)
			return;
		if (c->tag >= 0 || c->why[0])
			t->h.closed(t->h.ctx, c, c->why);
		conn_free(c);
	}
}

void tcp_conn_close(struct tcp_conn *c)
{
	if (c->reading || c->dead) {
		c->dead = true;
		c->why[0] = '\0';
		c->tag = -1; /* nobody to tell any more */
		ev_idle_start(c->t->loop, &c->t->reaper);
		return;
	}
	conn_free(c);
}

/* Writes what is queued; false on a broken connection. */
static bool flush_out(struct tcp_conn *c)
{
	while (c->out_sent < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_sent, c->out_len - c->out_sent);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			ev_io_start(c->t->loop, &c->wio);
			return true;
		}
		if (n <= 0)
			return false;
		c->out_sent += (size_t)n;
	}
	c->out_len = c->out_sent = 0;
	ev_io_stop(c->t->loop, &c->wio);
	return true;
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp_conn *c = w->data;
	int error = 0;
	socklen_t len = sizeof(error);

	(void)loop;
	(void)revents;
	if (c->connecting) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
			error = errno;
		if (error) {
			snprintf(c->why, sizeof(c->why), "cannot connect: %s", strerror(error));
			conn_fail(c, c->why);
			return;
		}
		c->connecting = false;
		ev_timer_stop(c->t->loop,
			      &c->first); /* our own connection: the client keeps time */
	}
	if (!flush_out(c))
		conn_fail(c, "the connection broke");
}

static bool reserve(struct tcp_conn *c, size_t more)
{
	size_t need;

	if (c->out_sent && c->out_sent == c->out_len)
		c->out_len = c->out_sent = 0;
	need = c->out_len + more;
	if (need > TCP_QUEUE_MAX)
		return false;
	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		uint8_t *p;

		while (cap < need)
			cap *= 2;
		if (!(p = realloc(c->out, cap)))
			return false;
		c->out = p;
		c->out_cap = cap;
	}
	return true;
}

bool tcp_conn_send(struct tcp_conn *c, const uint8_t *pkt, size_t len)
{
	if (c->dead)
		return false;
	if (len == 0 || len > TCP_FRAME_MAX || !reserve(c, 2 + len)) {
		conn_fail(c, "the peer does not read (its output queue is full)");
		return false;
	}
	c->out[c->out_len] = (uint8_t)(len >> 8);
	c->out[c->out_len + 1] = (uint8_t)len;
	memcpy(c->out + c->out_len + 2, pkt, len);
	c->out_len += 2 + len;
	if (!c->connecting && !ev_is_active(&c->wio) && !flush_out(c)) {
		conn_fail(c, "the connection broke");
		return false;
	}
	return true;
}

/* Hands over every whole frame in the input buffer; false when the framing is broken. */
static bool deliver(struct tcp_conn *c)
{
	size_t off = 0;

	while (c->in_len - off >= 2 && !c->dead) {
		size_t flen = (size_t)c->in[off] << 8 | c->in[off + 1];

		if (flen == 0 || flen > TCP_FRAME_MAX)
			return false;
		if (c->in_len - off < 2 + flen)
			break;
		c->got_packet = true;
		c->reading = true;
		c->t->h.packet(c->t->h.ctx, c, c->in + off + 2, flen);
		c->reading = false;
		off += 2 + flen;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return true;
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp_conn *c = w->data;
	ssize_t n;

	(void)loop;
	(void)revents;
	n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_fail(c, n == 0 ? "the peer closed the connection" : "the connection broke");
		return;
	}
	c->in_len += (size_t)n;
	if (!deliver(c))
		conn_fail(c, "a frame of length 0 or over 4096: not OpenVPN");
	if (c->dead)
		ev_idle_start(c->t->loop, &c->t->reaper);
}

static void on_first_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcp_conn *c = w->data;

	(void)loop;
	(void)revents;
	conn_fail(c, c->got_packet ? "no session started in time" : "no packet in time");
}

static struct tcp_conn *start_conn(struct tcp_server *t, int fd,
				   const struct sockaddr_storage *peer, socklen_t peer_len)
{
	struct tcp_conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (!c) {
		close(fd);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->t = t;
	c->fd = fd;
	c->tag = -1;
	c->peer = *peer;
	c->peer_len = peer_len;
	ev_io_init(&c->rio, on_readable, fd, EV_READ);
	ev_io_init(&c->wio, on_writable, fd, EV_WRITE);
	ev_timer_init(&c->first, on_first_timeout, TCP_FIRST_PACKET_SECONDS, 0);
	c->rio.data = c->wio.data = c->first.data = c;
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	t->n++;
	ev_io_start(t->loop, &c->rio);
	ev_timer_start(t->loop, &c->first);
	return c;
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp_server *t = w->data;

	(void)loop;
	(void)revents;
	for (int i = 0; i < 64; i++) { /* a burst at a time: others' packets go on */
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(t->fd, (struct sockaddr *)&peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (t->n >= TCP_CONNS_MAX) {
			close(fd);
			continue;
		}
		start_conn(t, fd, &peer, len);
	}
}

int tcp_server_open(struct tcp_server **out, struct ev_loop *loop, const struct udp_addr *addr,
		    const struct tcp_handlers *h, char *err, size_t errlen)
{
	struct tcp_server *t = calloc(1, sizeof(*t));
	int one = 1, rc;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0 || setsockopt(t->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(t->fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ||
	    listen(t->fd, 128) < 0) {
		char where[UDP_ADDR_TEXT_MAX];

		rc = -errno;
		snprintf(err, errlen, "cannot listen on tcp://%s: %s",
			 udp_addr_format((const struct sockaddr *)&addr->ss, where, sizeof(where)),
			 strerror(-rc));
		if (t->fd >= 0)
			close(t->fd);
		free(t);
		return rc;
	}
	t->loop = loop;
	t->h = *h;
	ev_io_init(&t->accept_w, on_accept, t->fd, EV_READ);
	t->accept_w.data = t;
	ev_io_start(loop, &t->accept_w);
	ev_idle_init(&t->reaper, on_reap);
	t->reaper.data = t;
	*out = t;
	return 0;
}

int tcp_client_open(struct tcp_server **out, struct ev_loop *loop, const struct udp_addr *addr,
		    const struct tcp_handlers *h, char *err, size_t errlen)
{
	struct tcp_server *t = calloc(1, sizeof(*t));
	struct tcp_conn *c;
	int fd, rc;

	if (!t ||
	    (fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		rc = t ? -errno : -ENOMEM;
		snprintf(err, errlen, "cannot open a TCP socket: %s", strerror(-rc));
		free(t);
		return rc;
	}
	t->fd = -1; /* no listener: one outgoing connection */
	t->loop = loop;
	t->h = *h;
	ev_idle_init(&t->reaper, on_reap);
	t->reaper.data = t;
	if (connect(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 &&
	    errno != EINPROGRESS) {
		rc = -errno;
		snprintf(err, errlen, "cannot connect: %s", strerror(-rc));
		close(fd);
		free(t);
		return rc;
	}
	if (!(c = start_conn(t, fd, &addr->ss, addr->len))) {
		snprintf(err, errlen, "out of memory");
		free(t);
		return -ENOMEM;
	}
	c->connecting = true;
	ev_io_start(loop, &c->wio);
	*out = t;
	return 0;
}

struct tcp_conn *tcp_client_conn(const struct tcp_server *t)
{
	return t->conns;
}

void tcp_server_free(struct tcp_server *t)
{
	if (!t)
		return;
	while (t->conns)
		conn_free(t->conns);
	ev_io_stop(t->loop, &t->accept_w);
	ev_idle_stop(t->loop, &t->reaper);
	if (t->fd >= 0)
		close(t->fd);
	free(t);
}

const struct sockaddr *tcp_conn_peer(const struct tcp_conn *c, socklen_t *len)
{
	*len = c->peer_len;
	return (const struct sockaddr *)&c->peer;
}

void tcp_conn_set_tag(struct tcp_conn *c, int32_t tag)
{
	c->tag = tag;
	if (tag >= 0) /* a session started: its own timers keep time from now on */
		ev_timer_stop(c->t->loop, &c->first);
}

int32_t tcp_conn_tag(const struct tcp_conn *c)
{
	return c->tag;
}
