// SPDX-License-Identifier: MIT
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd.h"

enum {
	ACCEPTS_PER_WAKE = 64, /* then the loop's other watchers get their turn */
	STATUS_HEAD_MAX = 256,
};

struct conn {
	struct httpd *h;
	int fd;	      /* -1: a free slot */
	uint64_t seq; /* accept order: the lowest is the oldest */
	ev_io io;
	ev_timer deadline;
	char req[HTTPD_REQUEST_MAX];
	size_t req_len;
	char *resp; /* head and body, malloc'd; NULL while reading */
	size_t resp_len, resp_off;
};

struct httpd {
	struct ev_loop *loop;
	const struct log *log;
	struct httpd_params p;
	int fd;
	ev_io accept_w;
	ev_timer pause;
	struct conn conns[HTTPD_CONNS_MAX];
	size_t n_conns;
	uint64_t next_seq;
	size_t held; /* bytes of responses not yet taken */
	struct httpd_stats stats;
};

/* --- connections ------------------------------------------------------------------ */

static void conn_close(struct conn *c)
{
	struct httpd *h = c->h;

	ev_io_stop(h->loop, &c->io);
	ev_timer_stop(h->loop, &c->deadline);
	close(c->fd);
	c->fd = -1;
	h->held -= c->resp ? c->resp_len : 0;
	free(c->resp);
	c->resp = NULL;
	h->n_conns--;
}

/* The oldest connection (holding a response, when held is set) other than except, or NULL. */
static struct conn *oldest(struct httpd *h, const struct conn *except, bool held)
{
	struct conn *best = NULL;

	for (size_t i = 0; i < HTTPD_CONNS_MAX; i++) {
		struct conn *c = &h->conns[i];

		if (c->fd < 0 || c == except || (held && !c->resp))
			continue;
		if (!best || c->seq < best->seq)
			best = c;
	}
	return best;
}

static void on_conn_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;

	(void)loop;
	(void)revents;
	c->h->stats.timeouts++;
	conn_close(c);
}

/*
 * Reads and drops what the peer sent beyond its head (at most a few reads):
 * closing a socket with unread data sends a reset, which can make the peer
 * drop the response it has not read yet (an oversized head's 400).
 */
static void drain(int fd)
{
	char sink[HTTPD_REQUEST_MAX];

	for (int i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
}

/* Writes what the peer takes now; closes once all is written or the peer is gone. */
static void conn_write(struct conn *c)
{
	while (c->resp_off < c->resp_len) {
		ssize_t n = send(c->fd, c->resp + c->resp_off, c->resp_len - c->resp_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* the watcher waits for room */
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		c->resp_off += (size_t)n;
	}
	if (c->resp_off == c->resp_len) {
		shutdown(c->fd, SHUT_WR); /* our FIN goes first */
		drain(c->fd);
	}
	conn_close(c);
}

static const char *status_text(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	default:
		return "Internal Server Error";
	}
}

/* The response: a head and body (taken: freed here); NULL when out of memory. */
static char *make_response(struct httpd *h, int code, char *body, size_t body_len, size_t *len)
{
	char head[STATUS_HEAD_MAX];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
			 "Connection: close\r\n\r\n",
			 code, status_text(code),
			 code == 200 ? h->p.content_type : "text/plain; charset=utf-8", body_len,
			 code == 405 ? "Allow: GET\r\n" : "");
	char *out = malloc((size_t)n + body_len);

	if (out) {
		memcpy(out, head, (size_t)n);
		memcpy(out + n, body, body_len);
		*len = (size_t)n + body_len;
	}
	free(body);
	return out;
}

static char *error_body(int code, size_t *len)
{
	char text[64];
	int n = snprintf(text, sizeof(text), "%d %s\n", code, status_text(code));

	*len = (size_t)n;
	return strdup(text);
}

/* Room for len more held bytes: the oldest connections still holding responses go. */
static void make_room(struct httpd *h, const struct conn *c, size_t len)
{
	struct conn *victim;

	while (h->held + len > HTTPD_HELD_MAX_BYTES && (victim = oldest(h, c, true))) {
		h->stats.evicted++;
		conn_close(victim);
	}
}

static void conn_respond(struct conn *c, enum httpreq_verdict v)
{
	struct httpd *h = c->h;
	int code = v == HTTPREQ_OK	     ? 200
		   : v == HTTPREQ_NOT_FOUND  ? 404
		   : v == HTTPREQ_BAD_METHOD ? 405
					     : 400;
	size_t body_len = 0;
	char *body = code == 200 ? h->p.respond(h->p.ctx, &body_len) : NULL;

	if (code == 200 && !body)
		code = 500;
	if (!body)
		body = error_body(code, &body_len);
	c->resp = body ? make_response(h, code, body, body_len, &c->resp_len) : NULL;
	if (!c->resp) {
		conn_close(c);
		return;
	}
	if (code == 200)
		h->stats.requests++;
	else
		h->stats.errors++;
	make_room(h, c, c->resp_len);
	h->held += c->resp_len;
	ev_io_stop(h->loop, &c->io);
	ev_io_set(&c->io, c->fd, EV_WRITE);
	ev_io_start(h->loop, &c->io);
	ev_timer_stop(h->loop, &c->deadline);
	ev_timer_set(&c->deadline, h->p.write_deadline, 0);
	ev_timer_start(h->loop, &c->deadline);
	conn_write(c);
}

/* Reads the request head; anything after it is never read. */
static void conn_read(struct conn *c)
{
	enum httpreq_verdict v;
	ssize_t n = recv(c->fd, c->req + c->req_len, sizeof(c->req) - c->req_len, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c); /* gone before asking */
		return;
	}
	c->req_len += (size_t)n;
	v = httpreq_parse(c->req, c->req_len, c->h->p.path);
	if (v == HTTPREQ_INCOMPLETE && c->req_len < sizeof(c->req))
		return;
	conn_respond(c, v == HTTPREQ_INCOMPLETE ? HTTPREQ_BAD_REQUEST : v); /* a head too large */
}

static void on_conn_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;

	(void)loop;
	if (c->resp && (revents & EV_WRITE))
		conn_write(c);
	else if (!c->resp && (revents & EV_READ))
		conn_read(c);
}

static void conn_open(struct httpd *h, int fd)
{
	struct conn *c = NULL;

	if (h->n_conns == HTTPD_CONNS_MAX) {
		h->stats.evicted++;
		conn_close(oldest(h, NULL, false));
	}
	for (size_t i = 0; i < HTTPD_CONNS_MAX && !c; i++)
		if (h->conns[i].fd < 0)
			c = &h->conns[i];
	c->fd = fd;
	c->seq = h->next_seq++;
	c->req_len = 0;
	c->resp = NULL;
	c->resp_len = c->resp_off = 0;
	ev_io_init(&c->io, on_conn_io, fd, EV_READ);
	c->io.data = c;
	ev_timer_init(&c->deadline, on_conn_deadline, h->p.read_deadline, 0);
	c->deadline.data = c;
	ev_io_start(h->loop, &c->io);
	ev_timer_start(h->loop, &c->deadline);
	h->n_conns++;
	h->stats.accepted++;
}

static void on_pause_end(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct httpd *h = w->data;

	(void)revents;
	ev_io_start(loop, &h->accept_w);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct httpd *h = w->data;

	(void)revents;
	for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
		int fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			conn_open(h, fd);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* Level-triggered: waiting on would spin. The engine's sockets come first.
			 */
			log_warn_ratelimited(h->log, "metrics", "cannot accept a connection");
			ev_io_stop(loop, &h->accept_w);
			ev_timer_start(loop, &h->pause);
		}
		return;
	}
}

/* --- the listener ------------------------------------------------------------------ */

static int listen_on(const struct udp_addr *addr, char *err, size_t errlen)
{
	char text[UDP_ADDR_TEXT_MAX];
	int one = 1, fd, rc;

	udp_addr_format((const struct sockaddr *)&addr->ss, text, sizeof(text));
	fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "metrics: cannot make a socket for %s: %s", text,
			 strerror(errno));
		return rc;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ||
	    listen(fd, HTTPD_CONNS_MAX) < 0) {
		rc = -errno;
		snprintf(err, errlen, "metrics: cannot listen on %s: %s%s", text, strerror(errno),
			 errno == EADDRINUSE	  ? " (another program, or another moonvpn, has it)"
			 : errno == EADDRNOTAVAIL ? " (no interface has that address)"
			 : errno == EACCES	  ? " (a port below 1024 needs root or "
						    "CAP_NET_BIND_SERVICE)"
						  : "");
		close(fd);
		return rc;
	}
	return fd;
}

int httpd_open(struct httpd **out, struct ev_loop *loop, const struct log *lg,
	       const struct udp_addr *addr, const struct httpd_params *params, char *err,
	       size_t errlen)
{
	struct httpd *h = calloc(1, sizeof(*h));
	int fd;

	if (!h) {
		snprintf(err, errlen, "metrics: out of memory");
		return -ENOMEM;
	}
	fd = listen_on(addr, err, errlen);
	if (fd < 0) {
		free(h);
		return fd;
	}
	h->loop = loop;
	h->log = lg;
	h->p = *params;
	if (!h->p.read_deadline)
		h->p.read_deadline = HTTPD_READ_DEADLINE_SECONDS;
	if (!h->p.write_deadline)
		h->p.write_deadline = HTTPD_WRITE_DEADLINE_SECONDS;
	h->fd = fd;
	for (size_t i = 0; i < HTTPD_CONNS_MAX; i++) {
		h->conns[i].fd = -1;
		h->conns[i].h = h;
	}
	ev_io_init(&h->accept_w, on_accept, fd, EV_READ);
	h->accept_w.data = h;
	ev_timer_init(&h->pause, on_pause_end, HTTPD_ACCEPT_PAUSE_SECONDS, 0);
	h->pause.data = h;
	ev_io_start(loop, &h->accept_w);
	*out = h;
	return 0;
}

const struct httpd_stats *httpd_stats(const struct httpd *h)
{
	return &h->stats;
}

void httpd_address(const struct httpd *h, struct udp_addr *out)
{
	out->len = sizeof(out->ss);
	if (getsockname(h->fd, (struct sockaddr *)&out->ss, &out->len) < 0)
		out->len = 0;
}

size_t httpd_conns(const struct httpd *h)
{
	return h->n_conns;
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < HTTPD_CONNS_MAX; i++)
		if (h->conns[i].fd >= 0)
			conn_close(&h->conns[i]);
	ev_io_stop(h->loop, &h->accept_w);
	ev_timer_stop(h->loop, &h->pause);
	close(h->fd);
	free(h);
}
