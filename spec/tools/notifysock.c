// SPDX-License-Identifier: MIT
/*
 * A test tool for the systemd spec: plays the service manager's end of
 * $NOTIFY_SOCKET. Binds a UNIX datagram socket at PATH ("@name": in the
 * abstract namespace) and writes each datagram it receives to stdout as
 * its lines, then a line "-- USEC" (CLOCK_MONOTONIC in microseconds when it
 * came, to check MONOTONIC_USEC against), until it is killed.
 * Usage: notifysock PATH
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum { DATAGRAM_MAX = 4096 };

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char buf[DATAGRAM_MAX + 1];
	size_t n;
	int fd;

	if (argc != 2 || (n = strlen(argv[1])) < 2 || n >= sizeof(addr.sun_path)) {
		fprintf(stderr, "usage: notifysock PATH|@NAME (at most %zu bytes)\n",
			sizeof(addr.sun_path) - 1);
		return 2;
	}
	memcpy(addr.sun_path, argv[1], n);
	if (argv[1][0] == '@')
		addr.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr,
			   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0) {
		perror("notifysock: socket/bind");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		ssize_t got = recv(fd, buf, DATAGRAM_MAX, 0);
		struct timespec ts;

		if (got < 0) {
			perror("notifysock: recv");
			return 1;
		}
		buf[got] = '\0';
		clock_gettime(CLOCK_MONOTONIC, &ts);
		printf("%s%s-- %lld\n", buf, got && buf[got - 1] == '\n' ? "" : "\n",
		       (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
		fflush(stdout);
	}
}
