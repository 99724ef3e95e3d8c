// SPDX-License-Identifier: MIT
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nameres.h"

struct nameres {
	atomic_int refs; /* the loop's and the thread's */
	int fds[2];	 /* [0]: the loop reads the thread's byte; [1]: the thread's */
	ev_io io;
	struct ev_loop *loop;
	nameres_done done;
	void *ctx;
	char host[NAMERES_HOST_MAX];
	uint16_t port;
	bool tcp;
	/* The thread's answer, read by the loop after the byte came. */
	struct udp_addr addrs[NAMERES_ADDRS_MAX];
	size_t n;
	char err[NAMERES_ERR_MAX];
};

static void release(struct nameres *r)
{
	if (atomic_fetch_sub(&r->refs, 1) == 1)
		free(r);
}

static bool same(const struct udp_addr *a, const struct udp_addr *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

size_t nameres_now(const char *host, uint16_t port, bool tcp, struct udp_addr *out, size_t cap,
		   char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM,
				  .ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV },
			*list = NULL;
	char service[8];
	size_t n = 0;
	int rc;

	snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(host, service, &hints, &list);
	if (rc != 0) {
		snprintf(err, errlen, "%s", rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return 0;
	}
	for (struct addrinfo *ai = list; ai && n < cap; ai = ai->ai_next) {
		bool dup = false;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(out[n].ss))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		memcpy(&out[n].ss, ai->ai_addr, ai->ai_addrlen);
		out[n].len = ai->ai_addrlen;
		for (size_t i = 0; i < n && !dup; i++)
			dup = same(&out[i], &out[n]);
		n += !dup;
	}
	freeaddrinfo(list);
	if (!n)
		snprintf(err, errlen, "the name has no IPv4 or IPv6 address");
	return n;
}

static void *resolve_thread(void *arg)
{
	struct nameres *r = arg;
	char byte = 1;

	r->n = nameres_now(r->host, r->port, r->tcp, r->addrs, NAMERES_ADDRS_MAX, r->err,
			   sizeof(r->err));
	/* Nobody reads when the loop cancelled: MSG_NOSIGNAL, and the error does not matter. */
	(void)send(r->fds[1], &byte, 1, MSG_NOSIGNAL);
	close(r->fds[1]);
	release(r);
	return NULL;
}

static void on_answer(struct ev_loop *loop, ev_io *w, int revents)
{
	struct nameres *r = w->data;
	char byte;

	(void)revents;
	if (recv(r->fds[0], &byte, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN)
		return;
	ev_io_stop(loop, &r->io);
	close(r->fds[0]);
	/* The thread wrote the answer before its byte: the socketpair orders them. */
	r->done(r->ctx, r->addrs, r->n, r->err);
	release(r);
}

struct nameres *nameres_start(struct ev_loop *loop, const char *host, uint16_t port, bool tcp,
			      nameres_done done, void *ctx, char *err, size_t errlen)
{
	struct nameres *r = calloc(1, sizeof(*r));
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	int rc;

	if (!r || strlen(host) >= sizeof(r->host)) {
		snprintf(err, errlen, r ? "the name is too long" : "out of memory");
		free(r);
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r->fds) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		free(r);
		return NULL;
	}
	snprintf(r->host, sizeof(r->host), "%s", host);
	r->port = port;
	r->tcp = tcp;
	r->loop = loop;
	r->done = done;
	r->ctx = ctx;
	atomic_init(&r->refs, 2);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* The loop's thread takes every signal: the resolver's starts with all blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&thread, &attr, resolve_thread, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start a thread to resolve %s: %s", host,
			 strerror(rc));
		close(r->fds[0]);
		close(r->fds[1]);
		free(r);
		return NULL;
	}
	ev_io_init(&r->io, on_answer, r->fds[0], EV_READ);
	r->io.data = r;
	ev_io_start(loop, &r->io);
	return r;
}

void nameres_cancel(struct nameres *r)
{
	if (!r)
		return;
	ev_io_stop(r->loop, &r->io);
	close(r->fds[0]);
	release(r);
}
