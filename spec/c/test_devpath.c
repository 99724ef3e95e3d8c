// SPDX-License-Identifier: MIT
/*
 * devpath's writes to an offloading TUN device: coalesced TCP segments are
 * held across wake-ups of the loop, up to DEVPATH_HOLD_NS, and written by
 * the hold timer as one superpacket; a PSH writes its group at once, and
 * devpath_flush writes everything and stops the timer. Creates a real TUN
 * device, so it runs only as root, inside a network namespace of its own
 * (unshare(CLONE_NEWNET)) that disappears when the program exits.
 */
#include <errno.h>
#include <ev.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "datakey.h"
#include "device.h"
#include "devpath.h"
#include "packet.h"
#include "unit.h"
#include "vnet.h"

enum {
	SEG_PAYLOAD_BYTES = 1000,
	SEG_BYTES = 20 + 20 + SEG_PAYLOAD_BYTES,
	TCP_FLAG_ACK = 0x10,
	TCP_FLAG_PSH = 0x08,
	/* Far more than DEVPATH_HOLD_NS: only a timer that never fires runs into it. */
	WAIT_WRITES_MS = 5000,
};

static uint32_t sum16(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += get16(p + i);
	return s;
}

/*
 * Segment i of a TCP flow 10.60.0.2:40000 -> 10.60.0.1:5001 (the device's
 * own address), with valid checksums, written after DATA_OVERHEAD bytes of
 * headroom as the data path hands packets over.
 */
static uint8_t *segment(uint8_t *buf, unsigned i, uint8_t flags)
{
	uint8_t *ip = buf + DATA_OVERHEAD, *t = ip + 20;
	uint32_t pseudo;

	memset(buf, 0, DATA_OVERHEAD + SEG_BYTES);
	ip[0] = 0x45;
	put16(ip + 2, SEG_BYTES);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = PACKET_PROTO_TCP;
	put32(ip + 12, 0x0a3c0002);
	put32(ip + 16, 0x0a3c0001);
	put16(ip + 10, packet_checksum(ip, 20, 0));
	put16(t, 40000);
	put16(t + 2, 5001);
	put32(t + 4, 1000 + i * SEG_PAYLOAD_BYTES);
	put32(t + 8, 1);
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, 512);
	for (size_t k = 0; k < SEG_PAYLOAD_BYTES; k++)
		t[20 + k] = (uint8_t)(i + k);
	pseudo = sum16(ip + 12, 8) + PACKET_PROTO_TCP + SEG_BYTES - 20;
	put16(t + 16, packet_checksum(t, SEG_BYTES - 20, pseudo));
	return ip;
}

static void deliver(struct devpath *dp, unsigned from, unsigned to, uint8_t last_flags)
{
	static uint8_t buf[DATA_OVERHEAD + SEG_BYTES];

	for (unsigned i = from; i < to; i++)
		devpath_deliver(dp, segment(buf, i, i + 1 == to ? last_flags : TCP_FLAG_ACK),
				SEG_BYTES);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs the loop until the device has had `writes` writes, or WAIT_WRITES_MS pass. */
static void run_until_writes(struct ev_loop *loop, struct devpath *dp, uint64_t writes)
{
	double until = now_ms() + WAIT_WRITES_MS;

	while (dp->stats.writes < writes && now_ms() < until) {
		ev_now_update(loop);
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
}

/* What the kernel sends back (a reset for the closed port, IPv6 chatter) is only counted. */
static unsigned from_device;

static void on_packet(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	from_device++;
}

static void on_superpacket(void *ctx, const struct vnet_hdr *h, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	(void)h;
	(void)pkt;
	(void)len;
	from_device++;
}

static void test_hold(struct ev_loop *loop, struct devpath *dp)
{
	const struct vnet_gro_stats *gs = vnet_gro_stats(dp->gro);

	/* Three segments, a turn of the loop (as after one receive batch), two more. */
	deliver(dp, 0, 3, TCP_FLAG_ACK);
	ev_run(loop, EVRUN_NOWAIT);
	CHECK(dp->stats.writes == 0, "held over the turn of the loop: %llu writes",
	      (unsigned long long)dp->stats.writes);
	CHECK(dp->hold_armed, "the hold timer is armed");
	CHECK(dp->collecting, "the loop collects I/O while segments are held");
	deliver(dp, 3, 5, TCP_FLAG_ACK);
	CHECK(dp->stats.writes == 0, "still held: %llu writes",
	      (unsigned long long)dp->stats.writes);
	run_until_writes(loop, dp, 1);
	CHECK(dp->stats.writes == 1 && dp->stats.write_errors == 0,
	      "the timer wrote one superpacket: %llu writes, %llu errors",
	      (unsigned long long)dp->stats.writes, (unsigned long long)dp->stats.write_errors);
	CHECK(gs->groups == 1 && gs->coalesced == 5, "5 segments in 1 group: %llu in %llu",
	      (unsigned long long)gs->coalesced, (unsigned long long)gs->groups);
	CHECK(!dp->hold_armed && !vnet_gro_holding(dp->gro), "nothing held after the timer");
	CHECK(!dp->collecting, "no I/O collecting with nothing held");

	/* A PSH ends the group: written at once, no timer needed. */
	deliver(dp, 5, 8, TCP_FLAG_ACK | TCP_FLAG_PSH);
	CHECK(dp->stats.writes == 2 && gs->coalesced == 8, "PSH writes at once: %llu writes",
	      (unsigned long long)dp->stats.writes);
	ev_run(loop, EVRUN_NOWAIT);
	CHECK(!dp->hold_armed, "no timer for nothing held");

	/* devpath_flush writes what is held and stops the timer. */
	deliver(dp, 8, 10, TCP_FLAG_ACK);
	ev_run(loop, EVRUN_NOWAIT);
	CHECK(dp->hold_armed, "armed again");
	devpath_flush(dp);
	CHECK(dp->stats.writes == 3 && gs->coalesced == 10 && !dp->hold_armed && !dp->collecting,
	      "flush wrote the group and disarmed: %llu writes",
	      (unsigned long long)dp->stats.writes);
	usleep(2 * DEVPATH_HOLD_NS / 1000);
	ev_run(loop, EVRUN_NOWAIT);
	CHECK(dp->stats.writes == 3, "no write after the flush: %llu",
	      (unsigned long long)dp->stats.writes);
}

static void test_devpath(void)
{
	static struct ip_prefix addr;
	struct device_config cfg = { .type = DEVICE_TUN,
				     .name = "mvdevpath0",
				     .mtu = 1500,
				     .addrs = &addr,
				     .n_addrs = 1,
				     .offload = DEVICE_OFFLOAD_ALL };
	struct devpath_handlers h = { .packet = on_packet, .superpacket = on_superpacket };
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	char err[DEVICE_ERR_MAX] = "";
	struct device *dev = NULL;
	struct devpath dp;
	struct log lg;
	int r;

	log_init(&lg, LOG_ERROR, stderr);
	CHECK(ip_prefix_parse(&addr, "10.60.0.1/24"), "parse");
	r = device_open(&dev, &cfg, err, sizeof(err));
	CHECK(r == 0 && dev && device_vnet(dev), "open: %d %s", r, err);
	if (r != 0 || !dev || !loop)
		goto out;
	CHECK(devpath_init(&dp, loop, &lg, &h) == 0, "init");
	CHECK(dp.hold_fd >= 0, "a timerfd: %d", dp.hold_fd);
	CHECK(devpath_attach(&dp, dev, true) == 0, "attach");
	test_hold(loop, &dp);
	devpath_free(&dp);
out:
	device_free(dev);
	if (loop)
		ev_loop_destroy(loop);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("test_devpath: skipped: needs root (creates a TUN device in a private "
		       "network namespace)\n");
		return unit_report("test_devpath");
	}
	if (unshare(CLONE_NEWNET) < 0 || access("/dev/net/tun", R_OK | W_OK) < 0) {
		printf("test_devpath: skipped: no private network namespace or /dev/net/tun: %s\n",
		       strerror(errno));
		return unit_report("test_devpath");
	}
	test_devpath();
	return unit_report("test_devpath");
}
