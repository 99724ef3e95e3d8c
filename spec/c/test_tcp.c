// SPDX-License-Identifier: MIT
/*
 * The TCP transport's batching, on real sockets in a network namespace of
 * the test's own (unshare(CLONE_NEWNET)): frames that arrive together are
 * handed over from one read, and frames queued during a loop iteration
 * leave in one write, i.e. one TCP segment on loopback (TCP_NODELAY sends
 * a segment per write), counted with TCP_INFO. The bound on connections
 * at once is the one the server gives (its max_clients and some to
 * spare): past it the oldest connection without a session makes room.
 */
#include <arpa/inet.h>
#include <linux/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp.h"
#include "unit.h"

enum { FRAMES = 200, FRAME_LEN = 100 };

struct echo {
	struct tcp_conn *conn;
	int packets, reads_seen;
	bool bad;
};

/* Answers every packet with itself: the answers are queued, not written one by one. */
static void on_packet(void *ctx, struct tcp_conn *conn, uint8_t *buf, size_t len)
{
	struct echo *e = ctx;

	e->conn = conn;
	e->bad |= len != FRAME_LEN || buf[0] != (uint8_t)e->packets;
	e->packets++;
	(void)!tcp_conn_send(conn, buf, len);
}

static void on_closed(void *ctx, struct tcp_conn *conn, const char *why)
{
	(void)ctx;
	(void)conn;
	(void)why;
}

static int connect_to(const struct udp_addr *a)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static uint32_t data_segments_in(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 ? ti.tcpi_data_segs_in : 0;
}

/* All frames in one write from the peer; the loop runs until their answers are back. */
static void test_batches(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct echo e = { 0 };
	struct tcp_handlers h = { .packet = on_packet, .closed = on_closed, .ctx = &e };
	struct tcp_server *t = NULL;
	struct udp_addr a;
	uint8_t out[FRAMES * (2 + FRAME_LEN)], back[sizeof(out)];
	char err[128];
	size_t got = 0;
	uint32_t before;
	int fd;

	CHECK(udp_parse_endpoint_of(&a, "tcp://127.0.0.1:11940", "tcp"), "address");
	CHECK(tcp_server_open(&t, loop, &a, &h, err, sizeof(err)) == 0, "listen: %s", err);
	fd = connect_to(&a);
	CHECK(fd >= 0, "connect");
	ev_run(loop, EVRUN_NOWAIT); /* accept */
	for (int i = 0; i < FRAMES; i++) {
		uint8_t *f = out + i * (2 + FRAME_LEN);

		f[0] = 0;
		f[1] = FRAME_LEN;
		memset(f + 2, i, FRAME_LEN);
	}
	before = data_segments_in(fd);
	CHECK(write(fd, out, sizeof(out)) == (ssize_t)sizeof(out), "send the frames");
	usleep(100 * 1000); /* loopback: they are all there long before */
	ev_run(loop, EVRUN_ONCE);
	CHECK(e.packets == FRAMES && !e.bad, "one loop turn hands over every frame (%d)",
	      e.packets);
	ev_run(loop, EVRUN_NOWAIT); /* the answers leave before the loop would wait */
	while (got < sizeof(back)) {
		ssize_t n = recv(fd, back + got, sizeof(back) - got, MSG_DONTWAIT);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	CHECK(got == sizeof(back) && memcmp(back, out, got) == 0, "the answers come back whole");
	CHECK(data_segments_in(fd) - before == 1, "in one write: %u segments",
	      data_segments_in(fd) - before);
	close(fd);
	tcp_server_free(t);
	ev_loop_destroy(loop);
}

static void on_event(void *ctx, enum tcp_event ev)
{
	int *evicted = ctx;

	*evicted += ev == TCP_EVICTED;
}

/* Connections from one source, as many as asked, each accepted; the evictions counted. */
static int evictions_with(unsigned conns_max, int conns, unsigned short port)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	int evicted = 0, fds[8];
	struct tcp_handlers h = { .packet = on_packet,
				  .closed = on_closed,
				  .ctx = &evicted,
				  .event = on_event,
				  .conns_max = conns_max };
	struct tcp_server *t = NULL;
	struct udp_addr a;
	char err[128], where[40];

	snprintf(where, sizeof(where), "tcp://127.0.0.1:%u", port);
	CHECK(udp_parse_endpoint_of(&a, where, "tcp"), "address");
	CHECK(tcp_server_open(&t, loop, &a, &h, err, sizeof(err)) == 0, "listen: %s", err);
	for (int i = 0; i < conns; i++) {
		fds[i] = connect_to(&a);
		ev_run(loop, EVRUN_NOWAIT); /* accept it */
	}
	for (int i = 0; i < conns; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	tcp_server_free(t);
	ev_loop_destroy(loop);
	return evicted;
}

static void test_conns_max(void)
{
	int n = evictions_with(3, 5, 11941);

	CHECK(n == 2, "a bound of 3: the 4th and 5th evict the oldest (%d)", n);
	n = evictions_with(0, 5, 11942);
	CHECK(n == 0, "the default bound (TCP_CONNS_MAX) is far off (%d)", n);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("test_tcp: skipped: needs root for a network namespace of its own\n");
		return unit_report("tcp");
	}
	if (unshare(CLONE_NEWNET) < 0 || system("ip link set lo up") != 0) {
		CHECK(0, "a private network namespace");
		return unit_report("tcp");
	}
	test_batches();
	test_conns_max();
	return unit_report("tcp");
}
