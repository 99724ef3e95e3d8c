// SPDX-License-Identifier: MIT
/*
 * A multi-queue TUN device (device_config.multi_queue, device_open_queue):
 * a second queue opens, packets the stack sends out of the device arrive on
 * both queues (the kernel spreads flows by their hash) and not one is lost or
 * seen twice, and a packet written to either queue reaches a socket of the
 * stack, and a reply leaves on the queue its flow was written on; the same
 * with the vnet header on every read and write. A device
 * opened without multi_queue refuses a second queue. Runs as
 * root only, in a network namespace of its own (unshare(CLONE_NEWNET)).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device.h"
#include "netns.h"
#include "packet.h"
#include "unit.h"
#include "vnet.h"

enum {
	QUEUES = 2,
	FLOWS = 64, /* all on one queue by chance: 2^-63 */
	REPLY_FLOWS = 16,
	PORT_BASE = 20000,
	SINK_PORT = 5000,
	PACKET_MAX = 2048,
	WAIT_MS = 2000,
	IP_HDR = 20,
	UDP_HDR = 8,
};

static const char dev_name[] = "mvq0";
static const char dev_addr[] = "10.77.0.1";  /* ours, on the device */
static const char peer_addr[] = "10.77.0.2"; /* behind the device */

static struct device *open_device(bool multi_queue, unsigned offload)
{
	struct ip_prefix addr;
	struct device_config cfg = {
		.type = DEVICE_TUN, .mtu = 1500, .multi_queue = multi_queue, .offload = offload
	};
	struct device *dev = NULL;
	char err[DEVICE_ERR_MAX] = "";
	int r;

	memcpy(cfg.name, dev_name, sizeof(dev_name));
	CHECK(ip_prefix_parse(&addr, "10.77.0.1/24"), "prefix");
	cfg.addrs = &addr;
	cfg.n_addrs = 1;
	r = device_open(&dev, &cfg, err, sizeof(err));
	CHECK(r == 0, "open (multi_queue %d): %s", multi_queue, err);
	return dev;
}

static void check_queue_flags(int fd, bool vnet)
{
	struct ifreq ifr = { 0 };

	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK, "O_NONBLOCK");
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "FD_CLOEXEC");
	CHECK(ioctl(fd, TUNGETIFF, &ifr) == 0, "TUNGETIFF: %s", strerror(errno));
	CHECK((ifr.ifr_flags & (IFF_TUN | IFF_MULTI_QUEUE | IFF_NO_PI)) ==
		      (IFF_TUN | IFF_MULTI_QUEUE | IFF_NO_PI),
	      "flags %#x", ifr.ifr_flags);
	CHECK(!(ifr.ifr_flags & IFF_VNET_HDR) == !vnet, "vnet header %d: flags %#x", vnet,
	      ifr.ifr_flags);
	CHECK(strcmp(ifr.ifr_name, dev_name) == 0, "queue of %s", ifr.ifr_name);
}

/* --- out of the device: the stack's flows spread over the queues ---------------- */

static void send_flows(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(SINK_PORT) };

	inet_pton(AF_INET, peer_addr, &to.sin_addr);
	for (int i = 0; i < FLOWS; i++) {
		struct sockaddr_in from = { .sin_family = AF_INET,
					    .sin_port = htons((uint16_t)(PORT_BASE + i)) };
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		char payload[16];
		int len = snprintf(payload, sizeof(payload), "flow %d", i);

		inet_pton(AF_INET, dev_addr, &from.sin_addr);
		CHECK(s >= 0 && bind(s, (struct sockaddr *)&from, sizeof(from)) == 0 &&
			      sendto(s, payload, (size_t)len, 0, (struct sockaddr *)&to,
				     sizeof(to)) == len,
		      "flow %d: %s", i, strerror(errno));
		if (s >= 0)
			close(s);
	}
}

/* The flow number of a UDP packet to the sink, or -1 for anything else (IPv6 chatter). */
static int flow_of(const uint8_t *p, ssize_t len)
{
	if (len < IP_HDR + UDP_HDR || p[0] != 0x45 || p[9] != IPPROTO_UDP)
		return -1;
	if ((p[IP_HDR + 2] << 8 | p[IP_HDR + 3]) != SINK_PORT)
		return -1;
	return (p[IP_HDR] << 8 | p[IP_HDR + 1]) - PORT_BASE;
}

/* hdr: the vnet header's length in front of every packet, or 0. */
static void test_spread(const int *fds, size_t hdr)
{
	int seen[FLOWS] = { 0 }, per_queue[QUEUES] = { 0 }, total = 0;
	uint8_t buf[PACKET_MAX];

	send_flows();
	while (total < FLOWS) {
		struct pollfd p[QUEUES];

		for (int q = 0; q < QUEUES; q++)
			p[q] = (struct pollfd){ .fd = fds[q], .events = POLLIN };
		if (poll(p, QUEUES, WAIT_MS) <= 0)
			break;
		for (int q = 0; q < QUEUES; q++) {
			ssize_t len;

			while ((len = read(fds[q], buf, sizeof(buf))) > (ssize_t)hdr) {
				int f = flow_of(buf + hdr, len - (ssize_t)hdr);

				if (f < 0 || f >= FLOWS)
					continue;
				seen[f]++;
				per_queue[q]++;
				total++;
			}
		}
	}
	for (int f = 0; f < FLOWS; f++)
		CHECK(seen[f] == 1, "flow %d seen %d times", f, seen[f]);
	for (int q = 0; q < QUEUES; q++)
		CHECK(per_queue[q] > 0, "queue %d had %d of %d flows", q, per_queue[q], FLOWS);
	printf("test_tunqueue: %d flows out of the device (vnet header %d): %d on queue 0, %d on "
	       "queue 1\n",
	       FLOWS, hdr != 0, per_queue[0], per_queue[1]);
}

/* --- into the device: a write on any queue reaches the stack --------------------- */

/* An IPv4 UDP packet from the peer's port to ours, checksum 0 (none, allowed in IPv4). */
static size_t udp_packet(uint8_t *p, uint16_t sport, uint16_t dport, const char *payload)
{
	size_t plen = strlen(payload), len = IP_HDR + UDP_HDR + plen;
	uint16_t sum;

	memset(p, 0, IP_HDR + UDP_HDR);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	inet_pton(AF_INET, peer_addr, p + 12);
	inet_pton(AF_INET, dev_addr, p + 16);
	sum = packet_checksum(p, IP_HDR, 0);
	p[10] = (uint8_t)(sum >> 8);
	p[11] = (uint8_t)sum;
	p[IP_HDR] = (uint8_t)(sport >> 8);
	p[IP_HDR + 1] = (uint8_t)sport;
	p[IP_HDR + 2] = (uint8_t)(dport >> 8);
	p[IP_HDR + 3] = (uint8_t)dport;
	p[IP_HDR + 4] = (uint8_t)((UDP_HDR + plen) >> 8);
	p[IP_HDR + 5] = (uint8_t)(UDP_HDR + plen);
	memcpy(p + IP_HDR + UDP_HDR, payload, plen);
	return len;
}

static void test_writes(const int *fds, size_t hdr)
{
	struct sockaddr_in at = { .sin_family = AF_INET, .sin_port = htons(SINK_PORT) };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, dev_addr, &at.sin_addr);
	CHECK(s >= 0 && bind(s, (struct sockaddr *)&at, sizeof(at)) == 0, "sink: %s",
	      strerror(errno));
	for (int q = 0; q < QUEUES && s >= 0; q++) {
		uint8_t pkt[PACKET_MAX];
		char want[32], got[32] = "";
		struct pollfd p = { .fd = s, .events = POLLIN };
		size_t len;
		ssize_t n = -1;

		snprintf(want, sizeof(want), "written on queue %d", q);
		/* A zeroed vnet header: no offload asked of the kernel. */
		memset(pkt, 0, hdr);
		len = hdr + udp_packet(pkt + hdr, (uint16_t)(PORT_BASE + q), SINK_PORT, want);
		CHECK(write(fds[q], pkt, len) == (ssize_t)len, "write on queue %d: %s", q,
		      strerror(errno));
		if (poll(&p, 1, WAIT_MS) == 1)
			n = recv(s, got, sizeof(got) - 1, 0);
		CHECK(n == (ssize_t)strlen(want) && !memcmp(got, want, strlen(want)),
		      "queue %d's packet reached the socket: %zd bytes", q, n);
	}
	if (s >= 0)
		close(s);
}

/*
 * The kernel remembers the queue a flow's packet was written on and sends the
 * flow's replies there: the reply to a packet written on queue q leaves on q.
 */
static void test_replies_follow(const int *fds, size_t hdr)
{
	struct sockaddr_in at = { .sin_family = AF_INET, .sin_port = htons(SINK_PORT + 1) };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int followed = 0;

	inet_pton(AF_INET, dev_addr, &at.sin_addr);
	CHECK(s >= 0 && bind(s, (struct sockaddr *)&at, sizeof(at)) == 0, "sink: %s",
	      strerror(errno));
	for (int f = 0; f < REPLY_FLOWS && s >= 0; f++) {
		uint16_t sport = (uint16_t)(PORT_BASE + FLOWS + f);
		uint8_t pkt[PACKET_MAX];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		struct pollfd p[QUEUES + 1] = { { .fd = s, .events = POLLIN } };
		int q = f % QUEUES, came = -1;
		size_t len;
		char got[8];

		memset(pkt, 0, hdr);
		len = hdr + udp_packet(pkt + hdr, sport, SINK_PORT + 1, "ping");
		CHECK(write(fds[q], pkt, len) == (ssize_t)len, "write: %s", strerror(errno));
		CHECK(poll(p, 1, WAIT_MS) == 1 &&
			      recvfrom(s, got, sizeof(got), 0, (struct sockaddr *)&from, &flen) ==
				      4 &&
			      sendto(s, "pong", 4, 0, (struct sockaddr *)&from, flen) == 4,
		      "flow %d: ping and pong", f);
		for (int i = 0; i < QUEUES; i++)
			p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		while (came < 0 && poll(p, QUEUES, WAIT_MS) > 0) {
			for (int i = 0; i < QUEUES; i++) {
				ssize_t n = read(fds[i], pkt, sizeof(pkt));

				if (n >= (ssize_t)(hdr + IP_HDR + UDP_HDR) &&
				    pkt[hdr + 9] == IPPROTO_UDP &&
				    (pkt[hdr + IP_HDR + 2] << 8 | pkt[hdr + IP_HDR + 3]) == sport)
					came = i;
			}
		}
		CHECK(came == q, "flow %d written on queue %d: reply on %d", f, q, came);
		followed += came == q;
	}
	printf("test_tunqueue: %d of %d replies left on the queue their flow was written on\n",
	       followed, REPLY_FLOWS);
	if (s >= 0)
		close(s);
}

/* --- cases ---------------------------------------------------------------------- */

static void test_multi_queue(unsigned offload)
{
	struct device *dev = open_device(true, offload);
	char err[DEVICE_ERR_MAX] = "";
	size_t hdr;
	int fds[QUEUES];

	if (!dev)
		return;
	hdr = device_vnet(dev) ? VNET_HDR_LEN : 0;
	CHECK(device_vnet(dev) == (offload != 0), "vnet header as asked: %u", offload);
	fds[0] = device_fd(dev);
	fds[1] = device_open_queue(dev, err, sizeof(err));
	CHECK(fds[1] >= 0, "second queue: %s", err);
	if (fds[1] >= 0) {
		check_queue_flags(fds[0], hdr != 0);
		check_queue_flags(fds[1], hdr != 0);
		test_spread(fds, hdr);
		test_writes(fds, hdr);
		test_replies_follow(fds, hdr);
		close(fds[1]);
	}
	device_free(dev);
}

static void test_single_queue(void)
{
	struct device *dev = open_device(false, 0);
	char err[DEVICE_ERR_MAX] = "";
	struct device_config cfg;
	int fd;

	if (!dev)
		return;
	fd = device_open_queue(dev, err, sizeof(err));
	CHECK(fd == -EINVAL && strstr(err, dev_name), "refused: %d %s", fd, err);
	if (fd >= 0)
		close(fd);
	cfg = *device_config(dev);
	cfg.multi_queue = true;
	CHECK(device_needs_recreate(dev, &cfg), "multi_queue on: recreate");
	device_free(dev);
}

int main(void)
{
	if (!unit_netns("test_tunqueue", "creates a device in a private network namespace",
			UNIT_NETNS_TUN))
		return unit_report("test_tunqueue");
	test_single_queue();
	test_multi_queue(0);
	test_multi_queue(DEVICE_OFFLOAD_ALL);
	return unit_report("test_tunqueue");
}
