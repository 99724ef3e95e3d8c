// SPDX-License-Identifier: MIT
/*
 * The reuseport steering program, in the kernel: N = 1..4 UDP sockets bound
 * with SO_REUSEPORT to one loopback port (IPv4 and IPv6) get the program, and crafted
 * datagrams from many source ports must each arrive on the socket the
 * peer-id says (P_DATA_V2: 1 + peer-id % (N - 1), the workers' sockets) or
 * on socket 0 (control, P_DATA_V1, the undefined peer-id, shorter than 4
 * bytes; and everything in a group of one). Without the program the kernel would hash
 * the source port and spread them. Runs as root only, in a network namespace
 * of its own (unshare(CLONE_NEWNET)), on its loopback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netns.h"
#include "proto.h"
#include "steer.h"
#include "udp.h"
#include "unit.h"

enum {
	GROUP_MAX = 4,
	SENDERS = 16, /* source ports: the kernel's hash alone would spread them */
	ARRIVE_WAIT_MS = 2000,
	DGRAM_MAX = 64,
};

struct dgram {
	const char *what;
	uint8_t bytes[8];
	size_t len;
	unsigned want_mod; /* the peer-id, steered to 1 + it modulo N - 1 (steered only) */
	bool steered;
};

#define OP(op, key) ((uint8_t)((op) << 3 | (key)))
#define V2(key, id)                                                                             \
	{                                                                                       \
		OP(P_DATA_V2, key), (uint8_t)((id) >> 16), (uint8_t)((id) >> 8), (uint8_t)(id), \
			0xaa, 0xbb, 0xcc, 0xdd                                                  \
	}

static const struct dgram dgrams[] = {
	{ "P_DATA_V2 peer 0", V2(0, 0), 8, 0, true },
	{ "P_DATA_V2 peer 1", V2(0, 1), 8, 1, true },
	{ "P_DATA_V2 peer 2 key 1", V2(1, 2), 8, 2, true },
	{ "P_DATA_V2 peer 3 key 7", V2(7, 3), 8, 3, true },
	{ "P_DATA_V2 peer 5", V2(2, 5), 8, 5, true },
	{ "P_DATA_V2 peer 0x123456", V2(0, 0x123456), 8, 0x123456, true },
	{ "P_DATA_V2 peer 0xfffffe", V2(0, 0xfffffe), 8, 0xfffffe, true },
	{ "P_DATA_V2 peer 0x010203", V2(3, 0x010203), 8, 0x010203, true },
	{ "P_DATA_V2 header only, peer 7", V2(0, 7), 4, 7, true },
	{ "P_DATA_V2 undefined peer-id", V2(0, 0xffffff), 8, 0, false },
	{ "P_DATA_V2 cut to 3 bytes", V2(0, 1), 3, 0, false },
	{ "P_DATA_V1 key 1", { OP(P_DATA_V1, 1), 0, 0, 1, 1, 1, 1, 1 }, 8, 0, false },
	{ "hard reset client v2",
	  { OP(P_CONTROL_HARD_RESET_CLIENT_V2, 0), 1, 2, 3, 4, 5, 6, 7 },
	  8,
	  0,
	  false },
	{ "hard reset client v3", { OP(P_CONTROL_HARD_RESET_CLIENT_V3, 0), 0, 0, 1 }, 8, 0, false },
	{ "P_CONTROL_V1", { OP(P_CONTROL_V1, 2), 0, 0, 3, 0, 0, 0, 0 }, 8, 0, false },
	{ "P_ACK_V1", { OP(P_ACK_V1, 0), 0, 0, 2, 0, 0, 0, 0 }, 8, 0, false },
	{ "one byte", { OP(P_DATA_V2, 0) }, 1, 0, false },
	{ "empty", { 0 }, 0, 0, false },
};

static unsigned expected(const struct dgram *d, unsigned n)
{
	return d->steered && n > 1 ? 1 + d->want_mod % (n - 1) : 0;
}

/* --- sockets -------------------------------------------------------------------- */

static int udp_socket(int family)
{
	return socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

/* The family's loopback address with port; its length. */
static socklen_t loopback(struct sockaddr_storage *ss, int family, unsigned short port)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_loopback;
		a6->sin6_port = htons(port);
		return sizeof(*a6);
	}
	a4->sin_family = AF_INET;
	a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a4->sin_port = htons(port);
	return sizeof(*a4);
}

/* n sockets on one loopback port, bound in order (the group's index order); the port. */
static unsigned short open_group(int *fds, unsigned n, int family)
{
	struct sockaddr_storage a;
	socklen_t alen = loopback(&a, family, 0);
	int one = 1;

	for (unsigned i = 0; i < n; i++) {
		fds[i] = udp_socket(family);
		CHECK(fds[i] >= 0 &&
			      setsockopt(fds[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ==
				      0 &&
			      bind(fds[i], (struct sockaddr *)&a, alen) == 0,
		      "socket %u of the group: %s", i, strerror(errno));
		if (i == 0)
			CHECK(getsockname(fds[0], (struct sockaddr *)&a, &alen) == 0, "port");
	}
	return ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
					: ((struct sockaddr_in *)&a)->sin_port);
}

static void close_all(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Which socket of the group the datagram (tagged by its sender's port) reached; -1 if none. */
static int arrival(const int *fds, unsigned n, const struct dgram *d)
{
	struct pollfd p[GROUP_MAX];
	uint8_t buf[DGRAM_MAX];
	int got = -1;

	for (unsigned i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	if (poll(p, n, ARRIVE_WAIT_MS) <= 0)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		ssize_t len = recv(fds[i], buf, sizeof(buf), 0);

		if (len < 0)
			continue;
		CHECK(got < 0, "%s: also on socket %u", d->what, i);
		CHECK((size_t)len == d->len && !memcmp(buf, d->bytes, d->len), "%s: its bytes",
		      d->what);
		got = (int)i;
	}
	return got;
}

static void send_all(const int *fds, unsigned n, int family, unsigned short port)
{
	struct sockaddr_storage to;
	socklen_t tolen = loopback(&to, family, port);
	int senders[SENDERS];

	for (unsigned s = 0; s < SENDERS; s++) {
		senders[s] = udp_socket(family);
		CHECK(senders[s] >= 0, "sender: %s", strerror(errno));
	}
	for (size_t i = 0; i < sizeof(dgrams) / sizeof(dgrams[0]); i++) {
		const struct dgram *d = &dgrams[i];

		for (unsigned s = 0; s < SENDERS; s++) {
			int at;

			CHECK(sendto(senders[s], d->bytes, d->len, 0, (struct sockaddr *)&to,
				     tolen) == (ssize_t)d->len,
			      "send %s: %s", d->what, strerror(errno));
			at = arrival(fds, n, d);
			CHECK(at == (int)expected(d, n),
			      "N=%u, IPv%c, %s from sender %u: on socket %d, not %u", n,
			      family == AF_INET6 ? '6' : '4', d->what, s, at, expected(d, n));
			CHECK(steer_index(d->bytes, d->len, n) == expected(d, n),
			      "N=%u, %s: steer_index agrees", n, d->what);
		}
	}
	close_all(senders, SENDERS);
}

static void test_group(unsigned n, int family)
{
	int fds[GROUP_MAX];
	unsigned short port = open_group(fds, n, family);
	int r = steer_attach(fds[n - 1], n);

	CHECK(r == 0, "attach for %u: %s", n, strerror(-r));
	if (r == 0)
		send_all(fds, n, family, port);
	close_all(fds, n);
}

/* --- the program itself ----------------------------------------------------------- */

static void test_refused(void)
{
	struct sock_filter prog[STEER_PROG_LEN];
	struct sockaddr_storage a;
	socklen_t alen = loopback(&a, AF_INET, 0);
	int fd = udp_socket(AF_INET);

	CHECK(steer_program(prog, 0) == -EINVAL, "no sockets");
	CHECK(steer_program(prog, STEER_SOCKETS_MAX + 1) == -EINVAL, "too many sockets");
	CHECK(steer_program(prog, STEER_SOCKETS_MAX) == 0, "the most sockets");
	CHECK(steer_attach(fd, 0) == -EINVAL, "attach for none");
	/* Bound without SO_REUSEPORT: the socket has no group to steer. */
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, alen) == 0, "bind");
	CHECK(steer_attach(fd, 2) == -EINVAL, "no reuseport group: %d", steer_attach(fd, 2));
	if (fd >= 0)
		close(fd);
}

/*
 * The server's group (udp_listen_group): bound and steered as above; a port
 * taken, by a group or by one plain socket, is refused with the reason and
 * leaves nothing bound behind.
 */
static void test_server_group(unsigned n, int family)
{
	struct udp_addr addr;
	int fds[GROUP_MAX], more[GROUP_MAX], plain;
	char err[256] = "";
	unsigned short port = (unsigned short)(42190 + n);
	int r;

	addr.len = loopback(&addr.ss, family, port);
	r = udp_listen_group(&addr, fds, n, err, sizeof(err));
	CHECK(r == 0, "group of %u: %s", n, err);
	if (r < 0)
		return;
	send_all(fds, n, family, port);
	r = udp_listen_group(&addr, more, n, err, sizeof(err));
	CHECK(r == -EADDRINUSE && strstr(err, "another program uses this port"),
	      "a second group of %u on the port: %d %s", n, r, err);
	close_all(fds, n);
	plain = udp_listen(&addr, err, sizeof(err));
	CHECK(plain >= 0, "the port is free once the group is closed: %s", err);
	r = udp_listen_group(&addr, fds, n, err, sizeof(err));
	CHECK(r == -EADDRINUSE, "a group of %u where one socket is: %d", n, r);
	if (plain >= 0)
		close(plain);
	plain = udp_listen(&addr, err, sizeof(err));
	CHECK(plain >= 0, "the refused group left nothing bound: %s", err);
	if (plain >= 0)
		close(plain);
}

/* --- main --------------------------------------------------------------------- */

int main(void)
{
	if (!unit_netns("test_steer", "a private network namespace", UNIT_NETNS_LO_UP))
		return unit_report("test_steer");
	test_refused();
	for (unsigned n = 1; n <= GROUP_MAX; n++) {
		test_group(n, AF_INET);
		test_group(n, AF_INET6);
		test_server_group(n, AF_INET);
		test_server_group(n, AF_INET6);
	}
	return unit_report("test_steer");
}
