// SPDX-License-Identifier: MIT
/*
 * Idle TCP connections, for the TCP transport's flood specs:
 *
 *   connflood DST_IP PORT COUNT HOLD_SECONDS SRC_IP...
 *     Opens COUNT connections to DST_IP:PORT, from the SRC_IPs in turn,
 *     sends nothing on them, holds them HOLD_SECONDS and closes them all.
 *     Prints "connected N of COUNT" once every connect has finished (or
 *     10 s have passed), and "closed" at the end.
 *
 * Exit status 0, or 1 with the reason on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { COUNT_MAX = 20000, CONNECT_WAIT_MS = 10000 };

static int open_one(const struct sockaddr_in *dst, const char *src)
{
	struct sockaddr_in from = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (inet_pton(AF_INET, src, &from.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0 ||
	    (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0 && errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Waits for the connects to finish; how many succeeded. */
static long wait_connected(struct pollfd *p, long n)
{
	long done = 0, ok = 0;

	for (long i = 0; i < n; i++)
		p[i].events = POLLOUT;
	for (int waited = 0; waited < CONNECT_WAIT_MS && done < n; waited += 100) {
		if (poll(p, (nfds_t)n, 100) < 0)
			break;
		for (long i = 0; i < n; i++) {
			int err = 0;
			socklen_t len = sizeof(err);

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			if (getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && !err)
				ok++;
			p[i].fd = -p[i].fd - 1; /* finished: poll ignores it */
			done++;
		}
	}
	return ok;
}

int main(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct rlimit rl;
	struct pollfd *p;
	long count, hold, n = 0;

	if (argc < 6 || inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 ||
	    (count = strtol(argv[3], NULL, 10)) <= 0 || count > COUNT_MAX ||
	    (hold = strtol(argv[4], NULL, 10)) < 0) {
		fprintf(stderr, "usage: connflood DST_IP PORT COUNT(<=%d) HOLD_SECONDS SRC_IP...\n",
			COUNT_MAX);
		return 1;
	}
	dst.sin_port = htons((unsigned short)strtol(argv[2], NULL, 10));
	rl.rlim_cur = rl.rlim_max = (rlim_t)count + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		perror("connflood: setrlimit (needs root for many connections)");
		return 1;
	}
	if (!(p = calloc((size_t)count, sizeof(*p))))
		return 1;
	for (long i = 0; i < count; i++) {
		int fd = open_one(&dst, argv[5 + i % (argc - 5)]);

		if (fd >= 0)
			p[n++].fd = fd;
	}
	printf("connected %ld of %ld\n", wait_connected(p, n), count);
	fflush(stdout);
	sleep((unsigned)hold);
	for (long i = 0; i < n; i++)
		close(p[i].fd < 0 ? -p[i].fd - 1 : p[i].fd);
	printf("closed\n");
	free(p);
	return 0;
}
