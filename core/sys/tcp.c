// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include "source.h"
#include "tcp.h"

struct tcp_conn {
	struct tcp_server *t;
	struct tcp_hub *hub; /* the loop it is read and written on */
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
	bool outgoing;	 /* ours (tcp_client_open): trusted like a session */
	char why[80];
	size_t skip; /* bytes of a frame too large for us still to discard */
	size_t in_len;
	uint8_t in[2 + TCP_FRAME_MAX]; /* a frame not yet whole, kept between reads */
	uint8_t *out;
	size_t out_len, out_sent, out_cap;
	struct tcp_conn *pending_prev, *pending_next; /* queued output, not yet written */
	bool pending;
	ev_tstamp progress_at; /* the last write that took bytes, or when the queue began */
};

/*
 * What the connections read and written on one loop share: the flusher of
 * their output and the read buffer. The server's own loop has one; each
 * data-path worker's loop gets one (tcp_hub_new), and a connection moves to
 * its client's worker (tcp_conn_move).
 */
struct tcp_hub {
	struct tcp_server *t;
	struct ev_loop *loop;
	ev_prepare flusher;	  /* writes the iteration's output before the loop waits */
	struct tcp_conn *pending; /* connections with output for the flusher */
	uint8_t rbuf[TCP_READ_MAX + 2 + TCP_FRAME_MAX]; /* a partial frame + one read */
};

struct tcp_server {
	struct ev_loop *loop;
	int fd;
	ev_io accept_w;
	ev_timer accept_pause; /* out of descriptors: accepting resumes then */
	ev_prepare reaper;     /* frees dead connections at the top of each loop iteration */
	ev_async reap_wake;    /* a connection on another hub died: the reaper is due */
	struct tcp_handlers h;
	struct tcp_conn *conns;
	size_t n;
	struct tcp_hub hub;    /* the server's own loop's */
	struct tcp_hub **hubs; /* the workers' (tcp_hub_new) */
	unsigned n_hubs;
};

/* Takes c off the flusher's list. */
static void unpend(struct tcp_conn *c)
{
	if (!c->pending)
		return;
	if (c->pending_prev)
		c->pending_prev->pending_next = c->pending_next;
	else
		c->hub->pending = c->pending_next;
	if (c->pending_next)
		c->pending_next->pending_prev = c->pending_prev;
	c->pending = false;
	c->pending_prev = c->pending_next = NULL;
}

static void conn_free(struct tcp_conn *c)
{
	struct tcp_server *t = c->t;

	ev_io_stop(c->hub->loop, &c->rio);
	ev_io_stop(c->hub->loop, &c->wio);
	ev_timer_stop(c->hub->loop, &c->first);
	unpend(c);
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
	if (ev_is_active(&t->accept_pause)) { /* a descriptor is free again */
		ev_timer_stop(t->loop, &t->accept_pause);
		ev_io_start(t->loop, &t->accept_w);
	}
}

static void count(struct tcp_server *t, enum tcp_event ev)
{
	if (t->h.event)
		t->h.event(t->h.ctx, ev);
}

/*
 * The reaper runs on the server's loop: a connection on a worker's hub
 * wakes it (the worker is parked when it runs, docs/workers.md).
 */
static void reap_soon(struct tcp_conn *c)
{
	if (c->hub == &c->t->hub)
		ev_prepare_start(c->t->loop, &c->t->reaper);
	else
		ev_async_send(c->t->loop, &c->t->reap_wake);
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
	ev_io_stop(c->hub->loop, &c->rio);
	ev_io_stop(c->hub->loop, &c->wio);
	ev_timer_stop(c->hub->loop, &c->first);
	reap_soon(c);
}

/* One dead connection at a time, from the head: closed() may close others. */
static void on_reap(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct tcp_server *t = w->data;

	(void)revents;
	ev_prepare_stop(loop, w);
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

static void on_reap_wake(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)revents;
	ev_prepare_start(loop, &((struct tcp_server *)w->data)->reaper);
}

void tcp_conn_close(struct tcp_conn *c)
{
	if (c->reading || c->dead) {
		c->dead = true;
		c->why[0] = '\0';
		c->tag = -1; /* nobody to tell any more */
		reap_soon(c);
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
			ev_io_start(c->hub->loop, &c->wio);
			return true;
		}
		if (n <= 0)
			return false;
		c->out_sent += (size_t)n;
		c->progress_at = ev_now(c->hub->loop);
	}
	c->out_len = c->out_sent = 0;
	ev_io_stop(c->hub->loop, &c->wio);
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
		ev_timer_stop(c->hub->loop,
			      &c->first); /* our own connection: the client keeps time */
	}
	if (!flush_out(c))
		conn_fail(c, "the connection broke");
}

/* Room for more bytes in the output queue; false past TCP_QUEUE_MAX (or out of memory). */
static bool reserve(struct tcp_conn *c, size_t more)
{
	size_t need;

	if (c->out_len - c->out_sent + more > TCP_QUEUE_MAX)
		return false;
	if (c->out_sent && c->out_len + more > c->out_cap) { /* what was written goes first */
		memmove(c->out, c->out + c->out_sent, c->out_len - c->out_sent);
		c->out_len -= c->out_sent;
		c->out_sent = 0;
	}
	need = c->out_len + more;
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
	if (c->dead || len == 0)
		return false;
	if (len > TCP_FRAME_MAX) {
		count(c->t, TCP_TOO_BIG);
		return false;
	}
	if (!reserve(c, 2 + len)) {
		/* A peer that reads slower than we send loses packets, as over UDP; one
		 * that has read nothing for long is gone. */
		if (ev_now(c->hub->loop) - c->progress_at >= TCP_STALL_SECONDS)
			conn_fail(c, "the peer does not read (its output queue is full)");
		else
			count(c->t, TCP_QUEUE_FULL);
		return false;
	}
	if (c->out_len == c->out_sent)
		c->progress_at = ev_now(c->hub->loop); /* an empty queue was not stalled */
	c->out[c->out_len] = (uint8_t)(len >> 8);
	c->out[c->out_len + 1] = (uint8_t)len;
	memcpy(c->out + c->out_len + 2, pkt, len);
	c->out_len += 2 + len;
	if (c->connecting || ev_is_active(&c->wio))
		return true;				   /* written when the socket is ready */
	if (c->out_len - c->out_sent >= TCP_FLUSH_BYTES) { /* a batch is full: now */
		unpend(c);
		if (!flush_out(c)) {
			conn_fail(c, "the connection broke");
			return false;
		}
		return true;
	}
	if (!c->pending) {
		c->pending = true; /* written with the iteration's other frames */
		c->pending_next = c->hub->pending;
		if (c->pending_next)
			c->pending_next->pending_prev = c;
		c->hub->pending = c;
		ev_prepare_start(c->hub->loop, &c->hub->flusher);
	}
	return true;
}

/* Before the loop waits: every connection's queued frames, one write each. */
static void on_flush(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct tcp_hub *hub = w->data;

	(void)revents;
	ev_prepare_stop(loop, w);
	while (hub->pending) {
		struct tcp_conn *c = hub->pending;

		unpend(c);
		if (!c->dead && !ev_is_active(&c->wio) && !flush_out(c)) {
			conn_fail(c, "the connection broke");
			/* Started now, the reaper would wait for the next event: run it this turn.
			 */
			if (hub == &hub->t->hub)
				ev_feed_event(loop, &hub->t->reaper, EV_PREPARE);
		}
	}
}

/*
 * A frame too large for us (flen bytes, have of them buffered) from a peer
 * with a session is dropped and the rest of it skipped as it comes: its
 * device MTU is larger than our frames, and one packet is no reason to cut
 * it off. Returns the bytes consumed from the buffer.
 */
static size_t skip_frame(struct tcp_conn *c, size_t flen, size_t have)
{
	count(c->t, TCP_TOO_BIG);
	if (have >= flen)
		return 2 + flen;
	c->skip = flen - have;
	return 2 + have;
}

/*
 * Hands over every whole frame of buf (len bytes); returns the bytes
 * consumed, or -1 when the framing is broken. What is left is a frame not
 * yet whole (under 2 + TCP_FRAME_MAX bytes), or nothing once c->skip is set
 * or c died.
 */
static ssize_t deliver(struct tcp_conn *c, uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (len - off >= 2 && !c->dead && !c->skip) {
		size_t flen = (size_t)buf[off] << 8 | buf[off + 1];

		if (flen == 0 || (flen > TCP_FRAME_MAX && c->tag < 0 && !c->outgoing))
			return -1; /* not OpenVPN (before a session, a large frame is not) */
		if (flen > TCP_FRAME_MAX) {
			off += skip_frame(c, flen, len - off - 2);
			continue;
		}
		if (len - off < 2 + flen)
			break;
		c->got_packet = true;
		c->reading = true;
		c->t->h.packet(c->t->h.ctx, c, buf + off + 2, flen);
		c->reading = false;
		off += 2 + flen;
	}
	return (ssize_t)off;
}

/* Drops what is left of a frame too large for us; returns the bytes dropped. */
static size_t skip_rest(struct tcp_conn *c, size_t have)
{
	size_t k = c->skip < have ? c->skip : have;

	c->skip -= k;
	return k;
}

/*
 * One read of up to TCP_READ_MAX bytes into the server's buffer, behind the
 * partial frame kept from the last read; every whole frame is handed over
 * from there, and the new partial frame is kept again.
 */
static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp_conn *c = w->data;
	uint8_t *buf = c->hub->rbuf;
	size_t have = c->in_len, off;
	ssize_t n, used;

	(void)loop;
	(void)revents;
	memcpy(buf, c->in, have);
	n = read(c->fd, buf + have, TCP_READ_MAX);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_fail(c, n == 0 ? "the peer closed the connection" : "the connection broke");
		return;
	}
	have += (size_t)n;
	off = c->skip ? skip_rest(c, have) : 0;
	used = deliver(c, buf + off, have - off);
	if (used < 0)
		conn_fail(c, "a frame of length 0 or over 4096: not OpenVPN");
	else if (!c->dead)
		off += (size_t)used;
	c->in_len = c->dead ? 0 : have - off;
	memcpy(c->in, buf + off, c->in_len);
	if (c->dead)
		reap_soon(c);
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
	c->hub = &t->hub;
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

/*
 * The oldest live connection without a session, from src (NULL: from
 * anywhere), and how many such connections src has. The list is newest
 * first.
 */
static struct tcp_conn *oldest_sessionless(struct tcp_server *t, const struct source *src,
					   size_t *n)
{
	struct tcp_conn *oldest = NULL;

	*n = 0;
	for (struct tcp_conn *c = t->conns; c; c = c->next) {
		struct source other;

		if (c->dead || c->tag >= 0 || c->reading)
			continue;
		if (src) {
			source_of((const struct sockaddr *)&c->peer, &other);
			if (!source_equal(&other, src))
				continue;
		}
		(*n)++;
		oldest = c;
	}
	return oldest;
}

/* Closes the oldest connection without a session (from src, or any); false: none. */
static bool evict(struct tcp_server *t, const struct source *src, enum tcp_event ev)
{
	size_t n;
	struct tcp_conn *c = oldest_sessionless(t, src, &n);

	if (!c)
		return false;
	count(t, ev);
	conn_free(c);
	return true;
}

/* Room for a connection from peer, made by closing older ones; false: none to close. */
static bool make_room(struct tcp_server *t, const struct sockaddr *peer)
{
	struct source src;
	size_t n;

	source_of(peer, &src);
	if (oldest_sessionless(t, &src, &n) && n >= TCP_SOURCE_CONNS_MAX)
		evict(t, &src, TCP_EVICTED_SOURCE);
	return t->n < (t->h.conns_max ? t->h.conns_max : TCP_CONNS_MAX) ||
	       evict(t, NULL, TCP_EVICTED);
}

static void pause_accepting(struct tcp_server *t, const char *why)
{
	count(t, TCP_ACCEPT_PAUSED);
	if (t->h.log)
		log_ratelimited(t->h.log, LOG_WARN, "tcp",
				"cannot accept a connection (%s; %zu connections, every one with "
				"a session): pausing %d s; raise the open-files limit (ulimit -n, "
				"LimitNOFILE=)",
				why, t->n, TCP_ACCEPT_PAUSE_SECONDS);
	ev_io_stop(t->loop, &t->accept_w);
	/* Set again: a timer that expired or was stopped keeps what was left of it. */
	ev_timer_set(&t->accept_pause, TCP_ACCEPT_PAUSE_SECONDS, 0);
	ev_timer_start(t->loop, &t->accept_pause);
}

/*
 * Whether descriptor fd eats into the last ones of the open-files limit,
 * kept for the console, hooks' programs and reloads: descriptors are
 * allocated lowest first, so fd is about how many are open.
 */
static bool is_reserved(int fd, rlim_t limit)
{
	rlim_t reserve = limit / 4 < TCP_FDS_RESERVED ? limit / 4 : TCP_FDS_RESERVED;

	return limit != RLIM_INFINITY && (rlim_t)fd + reserve >= limit;
}

/*
 * The newcomer fd took a reserved descriptor: the oldest connection without
 * a session goes, and fd moves down into the one it freed, so that the
 * next number handed out still tells how many are open. The new fd, or -1
 * (closed) when there was nothing to close.
 */
static int make_room_below(struct tcp_server *t, int fd)
{
	int low;

	if (!evict(t, NULL, TCP_EVICTED)) {
		close(fd);
		return -1;
	}
	low = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (low < 0)
		return fd;
	close(fd);
	return low;
}

static rlim_t open_files_limit(void)
{
	struct rlimit rl;

	return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : RLIM_INFINITY;
}

/*
 * Out of descriptors (or kernel memory for one): a connection without a
 * session makes room, else accepting pauses. The listener stays readable
 * while connections wait in its backlog, so returning with the watcher
 * still on would spin the loop.
 */
static bool out_of_descriptors(struct tcp_server *t, int error)
{
	if (evict(t, NULL, TCP_EVICTED))
		return false; /* try again */
	pause_accepting(t, strerror(error));
	return true;
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp_server *t = w->data;
	rlim_t limit = open_files_limit();

	(void)loop;
	(void)revents;
	for (int i = 0; i < TCP_ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(t->fd, (struct sockaddr *)&peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0 &&
		    (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
			if (out_of_descriptors(t, errno))
				return;
			continue;
		}
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0)
			return; /* EAGAIN: the backlog is empty */
		if (is_reserved(fd, limit) && (fd = make_room_below(t, fd)) < 0) {
			pause_accepting(t, "near the open-files limit");
			return;
		}
		if (!make_room(t, (const struct sockaddr *)&peer)) {
			count(t, TCP_REFUSED);
			close(fd);
			continue;
		}
		start_conn(t, fd, &peer, len);
	}
}

static void on_accept_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcp_server *t = w->data;

	(void)revents;
	ev_io_start(loop, &t->accept_w);
}

static void hub_init(struct tcp_hub *hub, struct tcp_server *t, struct ev_loop *loop)
{
	hub->t = t;
	hub->loop = loop;
	ev_prepare_init(&hub->flusher, on_flush);
	hub->flusher.data = hub;
}

/* What a listener and a client's connection share: handlers, pause timer, reaper, flusher. */
static void init_watchers(struct tcp_server *t, struct ev_loop *loop, const struct tcp_handlers *h)
{
	t->loop = loop;
	t->h = *h;
	ev_timer_init(&t->accept_pause, on_accept_pause, TCP_ACCEPT_PAUSE_SECONDS, 0);
	t->accept_pause.data = t;
	ev_prepare_init(&t->reaper, on_reap);
	t->reaper.data = t;
	ev_async_init(&t->reap_wake, on_reap_wake);
	t->reap_wake.data = t;
	hub_init(&t->hub, t, loop);
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
	init_watchers(t, loop, h);
	ev_io_init(&t->accept_w, on_accept, t->fd, EV_READ);
	t->accept_w.data = t;
	ev_io_start(loop, &t->accept_w);
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
	init_watchers(t, loop, h);
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
	c->outgoing = true;
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
	ev_io_stop(t->loop, &t->accept_w);
	ev_timer_stop(t->loop, &t->accept_pause);
	while (t->conns)
		conn_free(t->conns);
	ev_prepare_stop(t->loop, &t->reaper);
	if (ev_is_active(&t->reap_wake)) {
		ev_ref(t->loop);
		ev_async_stop(t->loop, &t->reap_wake);
	}
	ev_prepare_stop(t->loop, &t->hub.flusher);
	for (unsigned i = 0; i < t->n_hubs; i++) {
		ev_prepare_stop(t->hubs[i]->loop, &t->hubs[i]->flusher);
		free(t->hubs[i]);
	}
	free(t->hubs);
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
	if (tag >= 0) { /* a session started: its own timers keep time from now on */
		ev_timer_stop(c->hub->loop, &c->first);
		return;
	}
	/* No session any more, on a worker's hub: the server's loop keeps it, and time, until
	 * one starts (on the server's loop it stays as it is). */
	if (c->hub == &c->t->hub)
		return;
	tcp_conn_move(c, &c->t->hub);
	if (!c->dead && !c->outgoing) {
		ev_timer_set(&c->first, TCP_FIRST_PACKET_SECONDS, 0);
		ev_timer_start(c->hub->loop, &c->first);
	}
}

struct tcp_hub *tcp_hub_new(struct tcp_server *t, struct ev_loop *loop)
{
	struct tcp_hub *hub = calloc(1, sizeof(*hub));
	struct tcp_hub **hubs = hub ? realloc(t->hubs, (t->n_hubs + 1) * sizeof(*hubs)) : NULL;

	if (!hubs) {
		free(hub);
		return NULL;
	}
	hub_init(hub, t, loop);
	t->hubs = hubs;
	t->hubs[t->n_hubs++] = hub;
	if (!ev_is_active(&t->reap_wake)) {
		ev_async_start(t->loop, &t->reap_wake);
		ev_unref(t->loop); /* the listener keeps the loop running, not this */
	}
	return hub;
}

void tcp_conn_move(struct tcp_conn *c, struct tcp_hub *hub)
{
	bool writing = ev_is_active(&c->wio), pending = c->pending;

	if (c->hub == hub || c->dead)
		return;
	ev_io_stop(c->hub->loop, &c->rio);
	ev_io_stop(c->hub->loop, &c->wio);
	ev_timer_stop(c->hub->loop, &c->first); /* a session's connection: stopped already */
	unpend(c);
	c->hub = hub;
	/* Set again, so the new loop registers the descriptor (it may have known another
	 * connection on the same number). */
	ev_io_set(&c->rio, c->fd, EV_READ);
	ev_io_set(&c->wio, c->fd, EV_WRITE);
	ev_io_start(hub->loop, &c->rio);
	if (writing)
		ev_io_start(hub->loop, &c->wio);
	if (pending) { /* its queued frames leave from the new hub */
		c->pending = true;
		c->pending_next = hub->pending;
		if (c->pending_next)
			c->pending_next->pending_prev = c;
		hub->pending = c;
		ev_prepare_start(hub->loop, &hub->flusher);
	}
}

int32_t tcp_conn_tag(const struct tcp_conn *c)
{
	return c->tag;
}
