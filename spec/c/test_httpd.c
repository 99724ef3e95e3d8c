// SPDX-License-Identifier: MIT
/*
 * The metrics' HTTP responder on real sockets in a network namespace of the
 * test's own (unshare(CLONE_NEWNET)): one response per connection with
 * Connection: close, error statuses, at most HTTPD_CONNS_MAX connections
 * (the oldest closed for a newcomer), a client that sends half a request or
 * never reads its response closed at its deadline, and responses held for
 * readers that do not read bounded in all.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd.h"
#include "unit.h"

/*
 * The read and write deadlines. Long enough that dialling HTTPD_CONNS_MAX + 4
 * connections, or making a 20 MiB response, under the sanitizers on a loaded
 * machine never reaches them (0.2 s did, once), so the bound and not a deadline
 * closes what the tests expect; the tests then wait for the deadline itself.
 */
#define DEADLINE 2.0

struct body {
	size_t len; /* the body respond() makes */
	unsigned calls;
};

static char *respond(void *ctx, size_t *len)
{
	struct body *b = ctx;
	char *text = malloc(b->len + 1);

	b->calls++;
	if (!text)
		return NULL;
	memset(text, 'x', b->len);
	memcpy(text, "hello", b->len < 5 ? b->len : 5);
	*len = b->len;
	return text;
}

static int dial(const struct udp_addr *a)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void spin(struct ev_loop *loop, int turns)
{
	for (int i = 0; i < turns; i++)
		ev_run(loop, EVRUN_NOWAIT);
}

/* Runs the loop until fd has bytes or EOF; what it read (NUL-terminated), or -1. */
static ssize_t await(struct ev_loop *loop, int fd, char *buf, size_t len)
{
	size_t got = 0;

	for (int i = 0; i < 20000; i++) { /* 20 s at most: a loaded machine is slow */
		ssize_t n = read(fd, buf + got, len - 1 - got);

		if (n > 0)
			got += (size_t)n;
		if (n == 0 || got == len - 1) {
			buf[got] = '\0';
			return (ssize_t)got;
		}
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	return -1;
}

static const struct {
	const char *request, *status;
} exchanges[] = {
	{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n" },
	{ "GET /other HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n" },
	{ "PUT /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\n" },
	{ "SSH-2.0-OpenSSH_9.2\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n" },
};

static void test_exchanges(struct ev_loop *loop, struct httpd *h, const struct udp_addr *a)
{
	for (size_t i = 0; i < sizeof(exchanges) / sizeof(exchanges[0]); i++) {
		char buf[4096];
		int fd = dial(a);

		CHECK(fd >= 0, "case %zu: connect", i);
		CHECK(write(fd, exchanges[i].request, strlen(exchanges[i].request)) > 0, "write");
		CHECK(await(loop, fd, buf, sizeof(buf)) > 0, "case %zu: an answer", i);
		CHECK(strncmp(buf, exchanges[i].status, strlen(exchanges[i].status)) == 0,
		      "case %zu: %.40s", i, buf);
		CHECK(strstr(buf, "Connection: close\r\n") != NULL, "case %zu: close", i);
		if (i == 0)
			CHECK(strstr(buf, "Content-Type: text/test\r\nContent-Length: 5\r\n") &&
				      strcmp(buf + strlen(buf) - 9, "\r\n\r\nhello") == 0,
			      "the body: %s", buf);
		close(fd);
	}
	CHECK(httpd_stats(h)->requests == 1 && httpd_stats(h)->errors == 3, "counted: %llu, %llu",
	      (unsigned long long)httpd_stats(h)->requests,
	      (unsigned long long)httpd_stats(h)->errors);
	/* A head three times HTTPD_REQUEST_MAX without its blank line: 400. */
	{
		char big[3 * HTTPD_REQUEST_MAX], buf[256];
		int fd = dial(a);

		memset(big, 'a', sizeof(big));
		memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
		CHECK(write(fd, big, sizeof(big)) > 0, "write");
		CHECK(await(loop, fd, buf, sizeof(buf)) > 0 &&
			      strncmp(buf, "HTTP/1.1 400", 12) == 0,
		      "an endless head: %.20s", buf);
		close(fd);
	}
}

/* More connections than slots: the oldest go; the rest, half-asked, go at the read deadline. */
static void test_slots(struct ev_loop *loop, struct httpd *h, const struct udp_addr *a)
{
	int fds[HTTPD_CONNS_MAX + 4];
	uint64_t evicted = httpd_stats(h)->evicted, timeouts = httpd_stats(h)->timeouts;
	char buf[64];
	size_t closed = 0;

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		fds[i] = dial(a);
		CHECK(fds[i] >= 0 && write(fds[i], "GET /metr", 9) == 9, "half a request %zu", i);
		spin(loop, 5);
	}
	spin(loop, 20);
	CHECK(httpd_conns(h) == HTTPD_CONNS_MAX, "%zu connections kept", httpd_conns(h));
	CHECK(httpd_stats(h)->evicted - evicted == 4, "4 evicted, not %llu",
	      (unsigned long long)(httpd_stats(h)->evicted - evicted));
	for (size_t i = 0; i < 4; i++)
		closed += read(fds[i], buf, sizeof(buf)) == 0;
	CHECK(closed == 4, "the four oldest were closed (%zu)", closed);
	/* The read deadline (DEADLINE) closes the others. */
	for (int i = 0; i < 200 && httpd_conns(h) > 0; i++) {
		ev_run(loop, EVRUN_ONCE);
	}
	CHECK(httpd_conns(h) == 0, "%zu left after the deadline", httpd_conns(h));
	CHECK(httpd_stats(h)->timeouts - timeouts == HTTPD_CONNS_MAX, "timeouts: %llu",
	      (unsigned long long)(httpd_stats(h)->timeouts - timeouts));
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		close(fds[i]);
}

/*
 * Readers that never read: each holds a 20 MiB response; a second one
 * closes the first (32 MiB held in all), and the last goes at the write
 * deadline. The loop never waits on them meanwhile.
 */
static void test_never_read(struct ev_loop *loop, struct httpd *h, const struct udp_addr *a,
			    struct body *b)
{
	const char *req = "GET /metrics HTTP/1.1\r\n\r\n";
	uint64_t evicted = httpd_stats(h)->evicted, timeouts = httpd_stats(h)->timeouts;
	int one = dial(a), two;

	b->len = 20 * 1024 * 1024;
	CHECK(one >= 0 && write(one, req, strlen(req)) > 0, "first reader");
	spin(loop, 20);
	CHECK(httpd_conns(h) == 1, "it waits with its response (%zu)", httpd_conns(h));
	two = dial(a);
	CHECK(two >= 0 && write(two, req, strlen(req)) > 0, "second reader");
	spin(loop, 20);
	CHECK(httpd_stats(h)->evicted - evicted == 1, "the first was closed for the bound");
	CHECK(httpd_conns(h) == 1, "one left (%zu)", httpd_conns(h));
	for (int i = 0; i < 200 && httpd_conns(h) > 0; i++)
		ev_run(loop, EVRUN_ONCE);
	CHECK(httpd_conns(h) == 0 && httpd_stats(h)->timeouts - timeouts == 1,
	      "the second went at the write deadline");
	close(one);
	close(two);
	b->len = 5;
}

static void run(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct body b = { 5, 0 };
	struct httpd_params p = { "/metrics", "text/test", respond, &b, DEADLINE, DEADLINE };
	struct udp_addr a;
	struct httpd *h = NULL;
	struct log lg;
	char err[256];

	log_init(&lg, LOG_ERROR, stderr);
	CHECK(udp_parse_endpoint_of(&a, "tcp://127.0.0.1:9", "tcp"), "address");
	((struct sockaddr_in *)&a.ss)->sin_port = 0; /* the kernel picks one */
	CHECK(httpd_open(&h, loop, &lg, &a, &p, err, sizeof(err)) == 0, "open: %s", err);
	if (!h)
		return;
	httpd_address(h, &a);
	test_exchanges(loop, h, &a);
	test_slots(loop, h, &a);
	test_never_read(loop, h, &a, &b);
	CHECK(httpd_open(&(struct httpd *){ NULL }, loop, &lg, &a, &p, err, sizeof(err)) < 0 &&
		      strstr(err, "cannot listen on 127.0.0.1:") && strstr(err, "in use"),
	      "a taken address says so: %s", err);
	httpd_free(h);
	ev_loop_destroy(loop);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("test_httpd: skipped: needs root for a network namespace of its own\n");
		return unit_report("test_httpd");
	}
	if (unshare(CLONE_NEWNET) < 0 || system("ip link set lo up") != 0) {
		CHECK(0, "a private network namespace");
		return unit_report("test_httpd");
	}
	run();
	return unit_report("test_httpd");
}
