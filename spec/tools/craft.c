// SPDX-License-Identifier: MIT
/*
 * Crafted packets for the server front-door specs (no tls-auth/tls-crypt):
 *
 *   craft halfopen SERVER_IP PORT COUNT SRC_IP...
 *     COUNT handshakes that stop half-way: a client hard reset from a new
 *     socket (round robin over the SRC_IP addresses), and when the server's
 *     cookie reply comes, a bare P_ACK_V1 echoing the cookie, nothing more.
 *     Prints "resets N replies M".
 *   craft chatty SERVER_IP PORT COUNT SECONDS SRC_IP...
 *     As halfopen, but the handshakes that got their cookie keep talking:
 *     each re-sends its P_ACK_V1 every CHATTY_INTERVAL_MS for SECONDS, so
 *     that none ever looks stalled to the server. Prints "resets N replies
 *     M" once they are open, then "done" when it stops.
 *   craft resets SERVER_IP PORT COUNT RATE NET
 *     COUNT client hard resets, at most RATE a second, each from a forged
 *     source NET.x.y (NET is "A.B": 65,534 sources in turn) and port, with a
 *     random session id (a raw socket). Prints "sent N".
 *   craft capture IFNAME PORT
 *     Prints, as hex, the next P_DATA_V2 datagram sent to PORT on IFNAME.
 *   craft spoof SERVER_IP PORT SRC_IP SRC_PORT HEX
 *     Sends the datagram HEX from SRC_IP:SRC_PORT (a raw socket: the source
 *     is forged).
 *
 * Exit status 0, or 1 with the reason on stderr.
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
	BATCH = 64,		   /* sockets at once; more overflow the server's socket buffer */
	REPLY_WAIT_MS = 300,	   /* for the cookie replies of one batch */
	CHATTY_INTERVAL_MS = 1000, /* well under the server's 5 s stall */
	/*
	 * Handshake i binds port PORT_BASE + i / (number of SRC_IPs), below the
	 * ephemeral range: a port the kernel picked could come again in a later
	 * batch, once the earlier socket closed, and the server takes that for
	 * the same client starting a new session (one handshake fewer).
	 */
	PORT_BASE = 20000,
	PORT_LAST = 32767,
	CAPTURE_SECONDS = 10,
	OP_ACK = 5 << 3,
	OP_RESET_CLIENT = 7 << 3,
	OP_RESET_SERVER = 8 << 3,
	P_DATA_V2_BYTE = 9 << 3,
	SID = 8,
};

static int fail(const char *what)
{
	perror(what);
	return 1;
}

static int parse_addr(struct sockaddr_in *a, const char *ip, const char *port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(port));
	return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? 0 : -1;
}

struct half {
	int fd;
	uint8_t sid[SID];
	uint8_t cookie[SID]; /* the server's, once it replied */
	bool replied;
};

/* The cookie from the server's reply to our reset, or -1 for anything else. */
static int read_cookie(const struct half *h, uint8_t cookie[SID])
{
	uint8_t buf[512];
	ssize_t n = recv(h->fd, buf, sizeof(buf), MSG_DONTWAIT);

	/* opcode, server sid, 1 ack, ack id 0, our sid, msg id */
	if (n < 1 + SID + 1 + 4 + SID + 4 || buf[0] != OP_RESET_SERVER || buf[9] != 1 ||
	    memcmp(buf + 14, h->sid, SID) != 0)
		return -1;
	memcpy(cookie, buf + 1, SID);
	return 0;
}

static void send_ack(const struct half *h, const uint8_t cookie[SID])
{
	uint8_t ack[1 + SID + 1 + 4 + SID] = { OP_ACK };

	memcpy(ack + 1, h->sid, SID);
	ack[9] = 1; /* one ack: the server's msg 0 */
	memcpy(ack + 14, cookie, SID);
	(void)!send(h->fd, ack, sizeof(ack), 0);
}

static int batch_resets(struct half *h, int n, const struct sockaddr_in *to, char **srcs, int nsrc,
			int first)
{
	for (int i = 0; i < n; i++) {
		struct sockaddr_in src;
		uint8_t reset[1 + SID + 1 + 4] = { OP_RESET_CLIENT };
		long port = PORT_BASE + (first + i) / nsrc;

		if (port > PORT_LAST) {
			fprintf(stderr, "craft: more than %d handshakes per source address\n",
				PORT_LAST - PORT_BASE + 1);
			return 1;
		}
		h[i].fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (h[i].fd < 0 || parse_addr(&src, srcs[(first + i) % nsrc], "0") < 0)
			return fail("craft: socket");
		src.sin_port = htons((uint16_t)port);
		if (bind(h[i].fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
		    connect(h[i].fd, (const struct sockaddr *)to, sizeof(*to)) < 0)
			return fail("craft: socket");
		(void)!getrandom(h[i].sid, SID, 0);
		memcpy(reset + 1, h[i].sid, SID);
		(void)!send(h[i].fd, reset, sizeof(reset), 0);
	}
	return 0;
}

/*
 * Echoes each cookie that arrives within REPLY_WAIT_MS; returns how many did.
 * The sockets close, or with keep those that got a cookie stay open.
 */
static int batch_acks(struct half *h, int n, bool keep)
{
	struct pollfd p[BATCH];
	int replied = 0, waited = 0;

	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = h[i].fd, .events = POLLIN };
	while (replied < n && waited < REPLY_WAIT_MS) {
		if (poll(p, (nfds_t)n, 10) <= 0) {
			waited += 10;
			continue;
		}
		for (int i = 0; i < n; i++) {
			uint8_t cookie[SID];

			if (!(p[i].revents & POLLIN) || read_cookie(&h[i], cookie) < 0)
				continue;
			send_ack(&h[i], cookie);
			memcpy(h[i].cookie, cookie, SID);
			h[i].replied = true;
			p[i].fd = -1; /* one echo per socket */
			replied++;
		}
	}
	for (int i = 0; i < n; i++)
		if (!keep || !h[i].replied)
			close(h[i].fd);
	return replied;
}

static int halfopen(int argc, char **argv)
{
	struct half h[BATCH];
	struct sockaddr_in to;
	int count, replies = 0;

	if (argc < 6 || parse_addr(&to, argv[2], argv[3]) < 0) {
		fprintf(stderr, "usage: craft halfopen SERVER_IP PORT COUNT SRC_IP...\n");
		return 2;
	}
	count = atoi(argv[4]);
	for (int done = 0; done < count; done += BATCH) {
		int n = count - done < BATCH ? count - done : BATCH;

		if (batch_resets(h, n, &to, argv + 5, argc - 5, done) != 0)
			return 1;
		replies += batch_acks(h, n, false);
	}
	printf("resets %d replies %d\n", count, replies);
	return 0;
}

static int chatty(int argc, char **argv)
{
	struct sockaddr_in to;
	struct half *h;
	int count, seconds, replies = 0;

	if (argc < 7 || parse_addr(&to, argv[2], argv[3]) < 0) {
		fprintf(stderr, "usage: craft chatty SERVER_IP PORT COUNT SECONDS SRC_IP...\n");
		return 2;
	}
	count = atoi(argv[4]);
	seconds = atoi(argv[5]);
	h = calloc(count > 0 ? (size_t)count : 1, sizeof(*h));
	if (!h)
		return fail("craft: calloc");
	for (int done = 0; done < count; done += BATCH) {
		int n = count - done < BATCH ? count - done : BATCH;

		if (batch_resets(h + done, n, &to, argv + 6, argc - 6, done) != 0)
			return 1;
		replies += batch_acks(h + done, n, true);
	}
	printf("resets %d replies %d\n", count, replies);
	fflush(stdout);
	for (long waited = 0; waited < seconds * 1000L; waited += CHATTY_INTERVAL_MS) {
		(void)poll(NULL, 0, CHATTY_INTERVAL_MS);
		for (int i = 0; i < count; i++)
			if (h[i].replied)
				send_ack(&h[i], h[i].cookie);
	}
	printf("done\n");
	return 0;
}

/* The UDP payload of an IPv4 P_DATA_V2 datagram to port, copied to out; 0 otherwise. */
static size_t data_payload(const uint8_t *ip, size_t len, uint16_t port, uint8_t *out)
{
	size_t ihl;
	const struct udphdr *udp;

	if (len < 20 || ip[0] >> 4 != 4 || ip[9] != IPPROTO_UDP)
		return 0;
	ihl = (size_t)(ip[0] & 15) * 4;
	if (len < ihl + 8 + 24)
		return 0;
	udp = (const struct udphdr *)(ip + ihl);
	if (ntohs(udp->uh_dport) != port || (ip[ihl + 8] & 0xf8) != P_DATA_V2_BYTE)
		return 0;
	memcpy(out, ip + ihl + 8, len - ihl - 8);
	return len - ihl - 8;
}

static int capture(int argc, char **argv)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	uint8_t buf[65536], pkt[65536];
	size_t n = 0;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: craft capture IFNAME PORT\n");
		return 2;
	}
	/* Outgoing packets reach only ETH_P_ALL packet sockets. */
	fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
	ll.sll_ifindex = (int)if_nametoindex(argv[2]);
	if (fd < 0 || !ll.sll_ifindex || bind(fd, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		return fail("craft: capture socket");
	for (int waited = 0; !n && waited < CAPTURE_SECONDS * 10; waited++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t got;

		if (poll(&p, 1, 100) == 1 && (got = recv(fd, buf, sizeof(buf), 0)) > 0)
			n = data_payload(buf, (size_t)got, (uint16_t)atoi(argv[3]), pkt);
	}
	close(fd);
	if (!n) {
		fprintf(stderr, "craft: no P_DATA_V2 packet seen on %s\n", argv[2]);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		printf("%02x", pkt[i]);
	printf("\n");
	return 0;
}

/* Sends a forged IPv4/UDP datagram of n payload bytes (at pkt + 28) from from to to. */
static int send_forged(int fd, uint8_t *pkt, size_t n, const struct sockaddr_in *from,
		       const struct sockaddr_in *to)
{
	size_t hdr = sizeof(struct iphdr) + sizeof(struct udphdr);
	struct iphdr *ip = (struct iphdr *)pkt;
	struct udphdr *udp = (struct udphdr *)(pkt + sizeof(*ip));

	*ip = (struct iphdr){ .version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_UDP };
	ip->tot_len = htons((uint16_t)(hdr + n));
	ip->saddr = from->sin_addr.s_addr;
	ip->daddr = to->sin_addr.s_addr;
	/* A zero UDP checksum means "none" over IPv4; the kernel fills in the IP one. */
	*udp = (struct udphdr){ .uh_sport = from->sin_port, .uh_dport = to->sin_port };
	udp->uh_ulen = htons((uint16_t)(sizeof(*udp) + n));
	return sendto(fd, pkt, hdr + n, 0, (const struct sockaddr *)to, sizeof(*to)) < 0 ? -1 : 0;
}

/*
 * Sleeps until the i-th of rate a second is due, in steps of 10: an even
 * flood, with no pauses long enough for a rate limit to refill in.
 */
static void pace(long i, long rate, const struct timespec *t0)
{
	struct timespec now;
	double due = (double)i / (double)rate, spent;

	if (i % 10)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	spent = (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
	if (due > spent)
		usleep((useconds_t)((due - spent) * 1e6));
}

static int resets(int argc, char **argv)
{
	struct sockaddr_in to, from = { .sin_family = AF_INET };
	struct timespec t0;
	unsigned a, b;
	long count, rate, sent = 0;
	uint8_t pkt[64];
	int fd;

	if (argc != 7 || parse_addr(&to, argv[2], argv[3]) < 0 ||
	    (count = strtol(argv[4], NULL, 10)) <= 0 || (rate = strtol(argv[5], NULL, 10)) <= 0 ||
	    sscanf(argv[6], "%u.%u", &a, &b) != 2 || a > 255 || b > 255) {
		fprintf(stderr, "usage: craft resets SERVER_IP PORT COUNT RATE NET\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0)
		return fail("craft: raw socket (needs root)");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < count; i++) {
		uint8_t *reset = pkt + sizeof(struct iphdr) + sizeof(struct udphdr);
		unsigned host = 1 + (unsigned)(i % 65534);

		pace(i, rate, &t0);
		from.sin_addr.s_addr = htonl(a << 24 | b << 16 | host);
		from.sin_port = htons((uint16_t)(1024 + i % 60000));
		memset(reset, 0, 1 + SID + 1 + 4);
		reset[0] = OP_RESET_CLIENT;
		(void)!getrandom(reset + 1, SID, 0);
		sent += send_forged(fd, pkt, 1 + SID + 1 + 4, &from, &to) == 0;
	}
	close(fd);
	printf("sent %ld\n", sent);
	return 0;
}

static int spoof(int argc, char **argv)
{
	struct sockaddr_in to, from;
	uint8_t pkt[2048];
	size_t hex_len, n, hdr = sizeof(struct iphdr) + sizeof(struct udphdr);
	int fd;

	if (argc != 7 || parse_addr(&to, argv[2], argv[3]) < 0 ||
	    parse_addr(&from, argv[4], argv[5]) < 0 || (hex_len = strlen(argv[6])) % 2 ||
	    hex_len / 2 > sizeof(pkt) - hdr) {
		fprintf(stderr, "usage: craft spoof SERVER_IP PORT SRC_IP SRC_PORT HEX\n");
		return 2;
	}
	n = hex_len / 2;
	for (size_t i = 0; i < n; i++)
		sscanf(argv[6] + 2 * i, "%2hhx", &pkt[hdr + i]);
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0 || send_forged(fd, pkt, n, &from, &to) < 0)
		return fail("craft: raw socket");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "halfopen") == 0)
		return halfopen(argc, argv);
	if (argc > 1 && strcmp(argv[1], "chatty") == 0)
		return chatty(argc, argv);
	if (argc > 1 && strcmp(argv[1], "capture") == 0)
		return capture(argc, argv);
	if (argc > 1 && strcmp(argv[1], "spoof") == 0)
		return spoof(argc, argv);
	if (argc > 1 && strcmp(argv[1], "resets") == 0)
		return resets(argc, argv);
	fprintf(stderr, "usage: craft halfopen|chatty|resets|capture|spoof ...\n");
	return 2;
}
