// SPDX-License-Identifier: MIT
/*
 * New flows, fast, for the flow-table specs:
 *
 *   flood DST_IP COUNT [RATE]
 *     Sends one small UDP datagram to DST_IP from each of COUNT distinct
 *     (source port, destination port) pairs: COUNT new flows, at most RATE a
 *     second (default: as fast as it can; a VPN client in the way drops what
 *     it cannot carry). DST_IP may be a broadcast address (the TAP specs'
 *     broadcast flood). Prints "sent N" and the seconds it took.
 *
 * Exit status 0, or 1 with the reason on stderr.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct timespec t0, t1;
	long count, rate = 0, sent = 0;
	int fd;

	if (argc < 3 || argc > 4 || inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 ||
	    (count = strtol(argv[2], NULL, 10)) <= 0 ||
	    (argc == 4 && (rate = strtol(argv[3], NULL, 10)) <= 0)) {
		fprintf(stderr, "usage: flood DST_IP COUNT [RATE]\n");
		return 1;
	}
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
	if (fd < 0) {
		perror("flood: socket (needs root)");
		return 1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &(int){ 1 }, sizeof(int)) < 0) {
		perror("flood: SO_BROADCAST");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < count; i++) {
		if (rate && i % 100 == 0) { /* paced in steps of 100 datagrams */
			struct timespec now;
			double due = (double)i / (double)rate, spent;

			clock_gettime(CLOCK_MONOTONIC, &now);
			spent = (double)(now.tv_sec - t0.tv_sec) +
				(double)(now.tv_nsec - t0.tv_nsec) / 1e9;
			if (due > spent)
				usleep((useconds_t)((due - spent) * 1e6));
		}
		/* A raw UDP header: the kernel adds the IP header, the checksum may be 0. */
		unsigned char udp[12] = { 0 };
		unsigned sport = 1024 + (unsigned)(i % 60000),
			 dport = 20000 + (unsigned)(i / 60000);

		udp[0] = (unsigned char)(sport >> 8);
		udp[1] = (unsigned char)sport;
		udp[2] = (unsigned char)(dport >> 8);
		udp[3] = (unsigned char)dport;
		udp[5] = sizeof(udp);
		dst.sin_port = 0;
		if (sendto(fd, udp, sizeof(udp), 0, (struct sockaddr *)&dst, sizeof(dst)) ==
		    sizeof(udp))
			sent++;
		else
			usleep(100); /* the device queue is full: let it drain */
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("sent %ld in %.2f s\n", sent,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	close(fd);
	return 0;
}
