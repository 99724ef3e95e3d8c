// SPDX-License-Identifier: MIT
/*
 * A test tool for the data-path specs: in a client's namespace, captures
 * the next P_DATA_V2 datagram the client sends on IFNAME, then sends it
 * again COUNT times (replays), once with a ciphertext bit flipped (its id
 * is taken, so a replay too) and once with a packet-id bit flipped (an
 * unseen id whose tag cannot verify: an authentication failure).
 * Usage: inject IFNAME SERVER_IP PORT COUNT
 * Prints "captured N bytes" and exits 0, or says why it could not.
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { CAPTURE_SECONDS = 10, P_DATA_V2_BYTE = 0x48 };

/* Returns the UDP payload length of a P_DATA_V2 datagram to port, copied to out; 0 otherwise. */
static size_t data_payload(const uint8_t *ip, size_t len, uint16_t port, uint8_t *out)
{
	size_t ihl, n;
	const struct udphdr *udp;

	if (len < 20 || ip[0] >> 4 != 4 || ip[9] != IPPROTO_UDP)
		return 0;
	ihl = (size_t)(ip[0] & 15) * 4;
	if (len < ihl + 8)
		return 0;
	udp = (const struct udphdr *)(ip + ihl);
	if (ntohs(udp->uh_dport) != port)
		return 0;
	n = len - ihl - 8;
	if (n < 24 || (ip[ihl + 8] & 0xf8) != P_DATA_V2_BYTE)
		return 0;
	memcpy(out, ip + ihl + 8, n);
	return n;
}

static size_t capture(const char *ifname, uint16_t port, uint8_t *out)
{
	/* Outgoing packets reach only ETH_P_ALL packet sockets; IPv4 is filtered below. */
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
	uint8_t buf[65536];
	size_t n = 0;

	ll.sll_ifindex = (int)if_nametoindex(ifname);
	if (fd < 0 || !ll.sll_ifindex || bind(fd, (struct sockaddr *)&ll, sizeof(ll)) < 0) {
		perror("inject: capture socket");
		return 0;
	}
	for (int waited = 0; !n && waited < CAPTURE_SECONDS * 10; waited++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 100) == 1) {
			ssize_t got = recv(fd, buf, sizeof(buf), 0);

			if (got > 0)
				n = data_payload(buf, (size_t)got, port, out);
		}
	}
	close(fd);
	return n;
}

int main(int argc, char **argv)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint8_t pkt[65536];
	size_t n;
	int count, fd;

	if (argc != 5 || inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) {
		fprintf(stderr, "usage: inject IFNAME SERVER_IP PORT COUNT\n");
		return 2;
	}
	to.sin_port = htons((uint16_t)atoi(argv[3]));
	count = atoi(argv[4]);
	n = capture(argv[1], ntohs(to.sin_port), pkt);
	if (!n) {
		fprintf(stderr, "inject: no P_DATA_V2 packet seen on %s\n", argv[1]);
		return 1;
	}
	printf("captured %zu bytes\n", n);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	for (int i = 0; i < count; i++)
		(void)!sendto(fd, pkt, n, 0, (struct sockaddr *)&to, sizeof(to));
	pkt[n - 1] ^= 0x01; /* a bit flip in the ciphertext */
	(void)!sendto(fd, pkt, n, 0, (struct sockaddr *)&to, sizeof(to));
	pkt[n - 1] ^= 0x01;
	pkt[4] ^= 0x40; /* a bit flip in the packet-id */
	(void)!sendto(fd, pkt, n, 0, (struct sockaddr *)&to, sizeof(to));
	close(fd);
	return 0;
}
