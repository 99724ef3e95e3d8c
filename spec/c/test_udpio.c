// SPDX-License-Identifier: MIT
/*
 * Batched UDP I/O over real sockets on the loopback of a network namespace
 * of the test's own (unshare(CLONE_NEWNET)): nothing touches the host's
 * network. Datagrams are queued through udpio_tx, and a receiver checks
 * that exactly the same datagrams arrive, byte for byte and in order, with
 * and without UDP GRO; a pass-through sendmmsg seam records the messages
 * (how datagrams were joined into GSO runs) and can fail them as a device
 * without checksum offload (EIO), a small path MTU (EMSGSIZE) or a full
 * queue (EAGAIN) would.
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netns.h"
#include "udpio.h"
#include "unit.h"

enum {
	IDLE_WAIT_MS = 10000, /* a receiver gives up after this long without a datagram */
	RECORDS_MAX = 1024,
	SEQ_BYTES = 4,
};

/* --- the sendmmsg seam: records what was sent, fails on demand --------- */

struct record {
	unsigned nseg;
	size_t bytes, seg;
};

static struct record records[RECORDS_MAX];
static unsigned nrecords;
static int fail_errno;	   /* 0: pass everything through; EAGAIN: fail every message */
static size_t fail_gso_at; /* else fail GSO messages of this segment size or more */

static size_t gso_segment(struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		uint16_t seg;

		if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == 103 /* UDP_SEGMENT */) {
			memcpy(&seg, CMSG_DATA(c), sizeof(seg));
			return seg;
		}
	}
	return 0;
}

static bool fails(struct msghdr *h)
{
	size_t seg = gso_segment(h);

	if (!fail_errno)
		return false;
	return fail_errno == EAGAIN || (seg && seg >= fail_gso_at);
}

/* As the kernel does: the messages before the first failing one go, then the error. */
static int seam(int fd, struct mmsghdr *msgs, unsigned n, int flags)
{
	unsigned ok = 0;
	int sent;

	while (ok < n && !fails(&msgs[ok].msg_hdr))
		ok++;
	if (!ok && n) {
		errno = fail_errno;
		return -1;
	}
	sent = sendmmsg(fd, msgs, ok, flags);
	for (int i = 0; i < sent && nrecords < RECORDS_MAX; i++) {
		struct msghdr *h = &msgs[i].msg_hdr;
		struct record *r = &records[nrecords++];

		r->bytes = h->msg_iov[0].iov_len;
		r->seg = gso_segment(h);
		r->nseg = r->seg ? (unsigned)((r->bytes + r->seg - 1) / r->seg) : 1;
	}
	return sent;
}

static void reset_seam(void)
{
	nrecords = 0;
	fail_errno = 0;
	fail_gso_at = 0;
}

/* --- peers and datagrams -------------------------------------------------- */

struct peer {
	int fd;
	struct sockaddr_storage addr;
	socklen_t len;
	struct udpio_caps caps;
	struct udpio_rx *rx;
};

static bool peer_open(struct peer *p, int family, bool gro)
{
	memset(&p->addr, 0, sizeof(p->addr));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&p->addr;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		p->len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&p->addr;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		p->len = sizeof(*in6);
	}
	p->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&p->addr, p->len) < 0 ||
	    getsockname(p->fd, (struct sockaddr *)&p->addr, &p->len) < 0) {
		CHECK(false, "a socket on the loopback (family %d): %s", family, strerror(errno));
		return false;
	}
	udpio_probe(p->fd, true, gro, &p->caps);
	CHECK(p->caps.gro == gro, "GRO %s as asked", gro ? "on" : "off");
	p->rx = udpio_rx_new(gro);
	return p->rx != NULL;
}

static void peer_close(struct peer *p)
{
	udpio_rx_free(p->rx);
	if (p->fd >= 0)
		close(p->fd);
}

static uint8_t pattern(uint32_t seq, size_t j)
{
	return (uint8_t)(seq * 131u + j * 7u + (j >> 8));
}

static void fill(uint8_t *buf, size_t len, uint32_t seq)
{
	for (size_t j = 0; j < len; j++)
		buf[j] = pattern(seq, j);
	if (len >= SEQ_BYTES)
		memcpy(buf, &seq, SEQ_BYTES);
}

static bool same(const uint8_t *buf, size_t len, uint32_t seq)
{
	uint32_t got;

	if (len >= SEQ_BYTES) {
		memcpy(&got, buf, SEQ_BYTES);
		if (got != seq)
			return false;
	}
	for (size_t j = SEQ_BYTES; j < len; j++) {
		if (buf[j] != pattern(seq, j))
			return false;
	}
	return true;
}

/* Queues datagrams of lens[0..n) numbered seq0, seq0 + 1, ... for `to` (NULL: connected). */
static void queue(struct udpio_tx *tx, const struct peer *to, const size_t *lens, unsigned n,
		  uint32_t seq0)
{
	for (unsigned i = 0; i < n; i++) {
		fill(udpio_tx_slot(tx), lens[i], seq0 + i);
		udpio_tx_commit(tx, to ? (const struct sockaddr *)&to->addr : NULL,
				to ? to->len : 0, lens[i]);
	}
}

/* Receives n datagrams and checks they are lens[] numbered from seq0, in order. */
static void expect(struct peer *p, const size_t *lens, unsigned n, uint32_t seq0, const char *what)
{
	struct pollfd pfd = { p->fd, POLLIN, 0 };
	struct udpio_datagram d;
	unsigned got = 0, bad = 0;

	while (got < n && poll(&pfd, 1, IDLE_WAIT_MS) > 0) {
		int rc = udpio_receive(p->rx, p->fd);

		CHECK(rc >= 0, "%s: receive: %s", what, strerror(-rc));
		if (rc < 0)
			return;
		while (udpio_rx_next(p->rx, &d)) {
			if (got >= n || d.len != lens[got] || !same(d.data, d.len, seq0 + got) ||
			    d.from_len == 0)
				bad++;
			got++;
		}
	}
	CHECK(got == n && bad == 0, "%s: %u datagrams of %u arrived, %u not as sent", what, got, n,
	      bad);
}

static void repeat(size_t *lens, unsigned from, unsigned n, size_t len)
{
	for (unsigned i = from; i < from + n; i++)
		lens[i] = len;
}

static struct udpio_tx *sender(int fd, const struct udpio_caps *caps)
{
	struct udpio_tx *tx = udpio_tx_new(fd, caps);

	if (tx)
		udpio_tx_set_sendmmsg(tx, seam);
	reset_seam();
	return tx;
}

/* Checks the recorded messages' segment counts against want[0..n). */
static void expect_messages(const unsigned *want, unsigned n, const char *what)
{
	bool ok = nrecords == n;

	for (unsigned i = 0; ok && i < n; i++)
		ok = records[i].nseg == want[i];
	CHECK(ok, "%s: %u messages (want %u), first of %u segments (want %u)", what, nrecords, n,
	      nrecords ? records[0].nseg : 0, n ? want[0] : 0);
}

/* --- cases ------------------------------------------------------------------ */

/* N equal datagrams and a short last one: one GSO message, the same N + 1 datagrams out. */
static void test_run(int family, bool gro)
{
	enum { N = 20 };
	struct peer a, b;
	size_t lens[N + 1];
	const unsigned one[] = { N + 1 };
	struct udpio_tx *tx;
	char what[64];

	snprintf(what, sizeof(what), "run, family %d, gro %s", family, gro ? "on" : "off");
	if (!peer_open(&a, family, false) || !peer_open(&b, family, gro))
		return;
	tx = sender(a.fd, &a.caps);
	repeat(lens, 0, N, 1400);
	lens[N] = 333;
	queue(tx, &b, lens, N + 1, 1);
	CHECK(udpio_tx_flush(tx) == 0, "%s: flushed", what);
	expect_messages(one, 1, what);
	CHECK(udpio_tx_stats(tx)->sendmmsg_calls == 1 && udpio_tx_stats(tx)->gso_messages == 1 &&
		      udpio_tx_stats(tx)->datagrams_out == N + 1,
	      "%s: one sendmmsg, one GSO message", what);
	expect(&b, lens, N + 1, 1, what);
	/* Over the loopback a GSO send reaches a GRO socket whole. */
	CHECK(!gro || udpio_rx_stats(b.rx)->gro_buffers >= 1, "%s: a coalesced buffer was split",
	      what);
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
}

/* 100 datagrams to one peer: one sendmmsg call (two GSO messages by size), not 100. */
static void test_batching(void)
{
	enum { N = 100 };
	struct peer a, b;
	size_t lens[N];
	struct udpio_tx *tx;

	if (!peer_open(&a, AF_INET, false) || !peer_open(&b, AF_INET, false))
		return;
	tx = sender(a.fd, &a.caps);
	repeat(lens, 0, N, 1000);
	queue(tx, &b, lens, N, 100);
	CHECK(udpio_tx_flush(tx) == 0, "batching: flushed");
	CHECK(udpio_tx_stats(tx)->sendmmsg_calls == 1 && udpio_tx_stats(tx)->gso_messages == 2,
	      "batching: %llu sendmmsg calls, %llu GSO messages",
	      (unsigned long long)udpio_tx_stats(tx)->sendmmsg_calls,
	      (unsigned long long)udpio_tx_stats(tx)->gso_messages);
	expect(&b, lens, N, 100, "batching");
	CHECK(udpio_rx_stats(b.rx)->recvmmsg_calls < N, "batching: %llu recvmmsg calls",
	      (unsigned long long)udpio_rx_stats(b.rx)->recvmmsg_calls);
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
}

/*
 * Batches of changing sizes on a GRO socket: a lone datagram (no segment
 * cmsg, so the kernel leaves its control length at 0), then a GSO run that
 * needs the control buffer whole again, then lone ones. Each receive must
 * set up again every header the one before it used.
 */
static void test_changing_batches(void)
{
	enum { N = 12 };
	struct peer a, b;
	size_t lens[N];
	struct udpio_tx *tx;

	if (!peer_open(&a, AF_INET, false) || !peer_open(&b, AF_INET, true))
		return;
	tx = sender(a.fd, &a.caps);
	repeat(lens, 0, N, 1200);
	for (unsigned round = 0; round < 3; round++) {
		queue(tx, &b, lens, 1, 1);
		CHECK(udpio_tx_flush(tx) == 0, "changing: flushed one");
		expect(&b, lens, 1, 1, "changing: one");
		queue(tx, &b, lens, N, 1);
		CHECK(udpio_tx_flush(tx) == 0, "changing: flushed a run");
		expect(&b, lens, N, 1, "changing: a run after one");
	}
	CHECK(udpio_rx_stats(b.rx)->drop_truncated == 0, "changing: %llu truncated",
	      (unsigned long long)udpio_rx_stats(b.rx)->drop_truncated);
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
}

/*
 * udpio_rx_drained: a receive that filled every buffer may have left more
 * behind; one that filled fewer, or found nothing, emptied the socket.
 */
static void test_drained(void)
{
	enum { N = UDPIO_RX_BATCH + 6 };
	struct peer a, b;
	size_t lens[N];
	struct udpio_tx *tx;
	int n;

	if (!peer_open(&a, AF_INET, false) || !peer_open(&b, AF_INET, false))
		return;
	tx = udpio_tx_new(a.fd, &(struct udpio_caps){ 0 }); /* one datagram per message */
	if (!tx)
		return;
	repeat(lens, 0, N, 100);
	queue(tx, &b, lens, 3, 1);
	CHECK(udpio_tx_flush(tx) == 0, "drained: flushed 3");
	n = udpio_receive(b.rx, b.fd);
	CHECK(n == 3 && udpio_rx_drained(b.rx), "drained: 3 of %d buffers: %d, %d", UDPIO_RX_BATCH,
	      n, udpio_rx_drained(b.rx));
	queue(tx, &b, lens, N, 1);
	CHECK(udpio_tx_flush(tx) == 0, "drained: flushed %d", N);
	n = udpio_receive(b.rx, b.fd);
	CHECK(n == UDPIO_RX_BATCH && !udpio_rx_drained(b.rx),
	      "drained: every buffer filled: %d, %d", n, udpio_rx_drained(b.rx));
	n = udpio_receive(b.rx, b.fd);
	CHECK(n == N - UDPIO_RX_BATCH && udpio_rx_drained(b.rx), "drained: the rest: %d, %d", n,
	      udpio_rx_drained(b.rx));
	n = udpio_receive(b.rx, b.fd);
	CHECK(n == 0 && udpio_rx_drained(b.rx), "drained: nothing: %d, %d", n,
	      udpio_rx_drained(b.rx));
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
}

/*
 * A run stops at the most one IP packet carries: 46 x 1400 bytes and a last
 * one that makes exactly 65507 (IPv4) or 65527 (IPv6) join; one byte more
 * starts a message of its own.
 */
static void test_byte_limit(int family, size_t limit)
{
	struct peer a, b;
	size_t lens[47];
	const unsigned one[] = { 47 }, two[] = { 46, 1 };
	struct udpio_tx *tx;

	if (!peer_open(&a, family, false) || !peer_open(&b, family, false))
		return;
	tx = sender(a.fd, &a.caps);
	repeat(lens, 0, 46, 1400);
	lens[46] = limit - 46 * 1400;
	queue(tx, &b, lens, 47, 1);
	CHECK(udpio_tx_flush(tx) == 0, "limit %zu: flushed", limit);
	expect_messages(one, 1, "a run of exactly the limit");
	expect(&b, lens, 47, 1, "a run of exactly the limit");
	reset_seam();
	lens[46]++;
	queue(tx, &b, lens, 47, 1000);
	CHECK(udpio_tx_flush(tx) == 0, "limit %zu + 1: flushed", limit);
	expect_messages(two, 2, "a byte over the limit");
	expect(&b, lens, 47, 1000, "a byte over the limit");
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
}

/* A dual-stack socket sending to a mapped IPv4 address sends IPv4: the IPv4 limit holds. */
static void test_mapped_limit(void)
{
	struct peer b;
	struct sockaddr_in6 mapped = { .sin6_family = AF_INET6 };
	struct peer to;
	size_t lens[47];
	const unsigned two[] = { 46, 1 };
	struct udpio_caps caps;
	struct udpio_tx *tx;
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), off = 0;

	if (!peer_open(&b, AF_INET, false))
		return;
	CHECK(fd >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == 0,
	      "a dual-stack socket: %s", strerror(errno));
	udpio_probe(fd, true, false, &caps);
	mapped.sin6_port = ((struct sockaddr_in *)&b.addr)->sin_port;
	mapped.sin6_addr.s6_addr[10] = mapped.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&mapped.sin6_addr.s6_addr[12], &((struct sockaddr_in *)&b.addr)->sin_addr, 4);
	memcpy(&to.addr, &mapped, sizeof(mapped));
	to.len = sizeof(mapped);
	tx = sender(fd, &caps);
	repeat(lens, 0, 46, 1400);
	lens[46] = UDPIO_GSO_BYTES_IPV4 + 1 - 46 * 1400;
	queue(tx, &to, lens, 47, 1);
	CHECK(udpio_tx_flush(tx) == 0, "mapped: flushed");
	expect_messages(two, 2, "mapped: a byte over the IPv4 limit");
	expect(&b, lens, 47, 1, "mapped");
	udpio_tx_free(tx);
	close(fd);
	peer_close(&b);
}

/* A run stops at gso_max_segs: the probed one, and 64 when the caller says so. */
static void test_segment_limit(unsigned max_segs)
{
	enum { N = 300 };
	struct peer a, b;
	size_t lens[N];
	unsigned want[8], n = 0;
	struct udpio_caps caps;
	struct udpio_tx *tx;

	if (!peer_open(&a, AF_INET, false) || !peer_open(&b, AF_INET, false))
		return;
	caps = a.caps;
	caps.gso_max_segs = max_segs;
	tx = sender(a.fd, &caps);
	for (unsigned left = N; left; left -= want[n++])
		want[n] = left < max_segs ? left : max_segs;
	repeat(lens, 0, N, 100);
	queue(tx, &b, lens, N, 7);
	CHECK(udpio_tx_flush(tx) == 0, "segment limit %u: flushed", max_segs);
	expect_messages(want, n, "segment limit");
	expect(&b, lens, N, 7, "segment limit");
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
}

/* Two destinations interleaved: every datagram is a message of its own, still one call. */
static void test_interleaved(void)
{
	enum { N = 10 };
	struct peer a, b, c;
	size_t lens[N];
	unsigned want[2 * N];
	struct udpio_tx *tx;

	if (!peer_open(&a, AF_INET, false) || !peer_open(&b, AF_INET, false) ||
	    !peer_open(&c, AF_INET, false))
		return;
	tx = sender(a.fd, &a.caps);
	repeat(lens, 0, N, 1000);
	for (unsigned i = 0; i < N; i++) {
		queue(tx, &b, lens, 1, 100 + i);
		queue(tx, &c, lens, 1, 200 + i);
		want[2 * i] = want[2 * i + 1] = 1;
	}
	CHECK(udpio_tx_flush(tx) == 0, "interleaved: flushed");
	expect_messages(want, 2 * N, "interleaved");
	CHECK(udpio_tx_stats(tx)->sendmmsg_calls == 1, "interleaved: one sendmmsg");
	expect(&b, lens, N, 100, "interleaved, first peer");
	expect(&c, lens, N, 200, "interleaved, second peer");
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
	peer_close(&c);
}

/* A larger datagram starts a new message; a shorter one ends the run it joins. */
static void test_sizes(void)
{
	const size_t lens[] = { 1000, 1000, 1200, 1200, 800, 800, 900 };
	const unsigned want[] = { 2, 3, 1, 1 };
	struct peer a, b;
	struct udpio_tx *tx;

	if (!peer_open(&a, AF_INET, false) || !peer_open(&b, AF_INET, false))
		return;
	tx = sender(a.fd, &a.caps);
	queue(tx, &b, lens, 7, 1);
	CHECK(udpio_tx_flush(tx) == 0, "sizes: flushed");
	expect_messages(want, 4, "sizes");
	expect(&b, lens, 7, 1, "sizes");
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
}

/* A connected socket: commits without an address make GSO runs as well. */
static void test_connected(void)
{
	enum { N = 30 };
	struct peer a, b;
	size_t lens[N];
	const unsigned one[] = { N };
	struct udpio_tx *tx;

	if (!peer_open(&a, AF_INET6, false) || !peer_open(&b, AF_INET6, true))
		return;
	CHECK(connect(a.fd, (struct sockaddr *)&b.addr, b.len) == 0, "connect: %s",
	      strerror(errno));
	tx = sender(a.fd, &a.caps);
	repeat(lens, 0, N, 1300);
	queue(tx, NULL, lens, N, 50);
	CHECK(udpio_tx_flush(tx) == 0, "connected: flushed");
	expect_messages(one, 1, "connected");
	expect(&b, lens, N, 50, "connected");
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
}

/* Without GSO each datagram is its own message, sent in one sendmmsg all the same. */
static void test_gso_off(void)
{
	enum { N = 100 };
	struct peer a, b;
	size_t lens[N];
	struct udpio_caps caps;
	struct udpio_tx *tx;

	if (!peer_open(&a, AF_INET, false) || !peer_open(&b, AF_INET, true))
		return;
	caps = a.caps;
	caps.gso = false;
	tx = sender(a.fd, &caps);
	repeat(lens, 0, N, 1000);
	lens[N - 1] = 10;
	queue(tx, &b, lens, N, 1);
	CHECK(udpio_tx_flush(tx) == 0, "gso off: flushed");
	CHECK(nrecords == N && udpio_tx_stats(tx)->gso_messages == 0 &&
		      udpio_tx_stats(tx)->sendmmsg_calls == 1,
	      "gso off: %u messages, one sendmmsg", nrecords);
	expect(&b, lens, N, 1, "gso off");
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
}

/* EIO on a GSO send (no checksum offload): GSO goes off, every datagram still arrives. */
static void test_eio(void)
{
	enum { N = 25 };
	struct peer a, b;
	size_t lens[N];
	const unsigned singles[] = { 1, 1, 1, 1 };
	const struct udpio_tx_stats *st;
	struct udpio_tx *tx;

	if (!peer_open(&a, AF_INET, false) || !peer_open(&b, AF_INET, false))
		return;
	tx = sender(a.fd, &a.caps);
	st = udpio_tx_stats(tx);
	repeat(lens, 0, 20, 1000);
	repeat(lens, 20, 5, 1200);
	fail_errno = EIO;
	queue(tx, &b, lens, N, 1);
	CHECK(udpio_tx_flush(tx) == 0, "eio: nothing dropped");
	CHECK(st->gso_disabled == 1 && st->gso_disabled_errno == EIO && st->gso_messages == 0,
	      "eio: GSO turned off (%llu, errno %d)", (unsigned long long)st->gso_disabled,
	      st->gso_disabled_errno);
	CHECK(nrecords == N && st->datagrams_out == N, "eio: %u datagrams went one by one",
	      nrecords);
	expect(&b, lens, N, 1, "eio");
	reset_seam();
	queue(tx, &b, lens, 4, 100);
	CHECK(udpio_tx_flush(tx) == 0, "eio, after: flushed");
	expect_messages(singles, 4, "eio, after: no more runs");
	expect(&b, lens, 4, 100, "eio, after");
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
}

/* EMSGSIZE (a segment over the path MTU): that size goes alone from then on, smaller ones join. */
static void test_emsgsize(void)
{
	enum { N = 20 };
	struct peer a, b;
	size_t lens[N];
	/* The shorter 1000 ends the 1200 run: the refused message held 11 datagrams. */
	const unsigned first[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 9 };
	const unsigned then[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 10 };
	const struct udpio_tx_stats *st;
	struct udpio_tx *tx;

	if (!peer_open(&a, AF_INET, false) || !peer_open(&b, AF_INET, false))
		return;
	tx = sender(a.fd, &a.caps);
	st = udpio_tx_stats(tx);
	repeat(lens, 0, 10, 1200);
	repeat(lens, 10, 10, 1000);
	fail_errno = EMSGSIZE;
	fail_gso_at = 1200;
	queue(tx, &b, lens, N, 1);
	CHECK(udpio_tx_flush(tx) == 0, "emsgsize: nothing dropped");
	expect_messages(first, 12, "emsgsize: the refused run went singly");
	CHECK(st->gso_too_big == 1 && !st->gso_disabled, "emsgsize: counted, GSO stays on");
	expect(&b, lens, N, 1, "emsgsize");
	reset_seam();
	queue(tx, &b, lens, N, 100);
	CHECK(udpio_tx_flush(tx) == 0, "emsgsize, after: flushed");
	expect_messages(then, 11, "emsgsize, after: 1200 alone, 1000 joined");
	expect(&b, lens, N, 100, "emsgsize, after");
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
}

/* A full socket queue (EAGAIN): the rest is dropped and counted, flush never blocks. */
static void test_busy(void)
{
	struct peer a, b;
	const size_t lens[] = { 500, 500, 600 };
	const struct udpio_tx_stats *st;
	struct udpio_tx *tx;

	if (!peer_open(&a, AF_INET, false) || !peer_open(&b, AF_INET, false))
		return;
	tx = sender(a.fd, &a.caps);
	st = udpio_tx_stats(tx);
	fail_errno = EAGAIN;
	queue(tx, &b, lens, 3, 1);
	CHECK(udpio_tx_flush(tx) == -EAGAIN, "busy: flush says EAGAIN");
	CHECK(st->drop_busy == 3 && st->datagrams_out == 0 && st->last_errno == EAGAIN,
	      "busy: 3 dropped (%llu)", (unsigned long long)st->drop_busy);
	reset_seam();
	queue(tx, &b, lens, 3, 10);
	CHECK(udpio_tx_flush(tx) == 0, "busy, after: the queue was emptied");
	expect(&b, lens, 3, 10, "busy, after");
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
}

/* More than the arena holds: commit flushes by itself, nothing is lost. */
static void test_auto_flush(void)
{
	enum { N = 600 };
	static size_t lens[N];
	struct peer a, b;
	struct udpio_tx *tx;

	if (!peer_open(&a, AF_INET, false) || !peer_open(&b, AF_INET, true))
		return;
	tx = sender(a.fd, &a.caps);
	repeat(lens, 0, N, 1400);
	queue(tx, &b, lens, N, 1);
	CHECK(udpio_tx_stats(tx)->datagrams_out > 0, "auto flush: some went before flush");
	CHECK(udpio_tx_flush(tx) == 0, "auto flush: flushed");
	CHECK(udpio_tx_stats(tx)->datagrams_out == N, "auto flush: all went");
	expect(&b, lens, N, 1, "auto flush");
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
}

/* Bad commits are refused and counted; a datagram over the receive buffer is dropped. */
static void test_bad_and_truncated(void)
{
	struct peer a, b;
	static uint8_t big[UDPIO_RX_BUF_BYTES + 1000];
	const size_t small[] = { 100 };
	struct sockaddr_in short_addr = { .sin_family = AF_INET };
	struct udpio_tx *tx;

	if (!peer_open(&a, AF_INET, false) || !peer_open(&b, AF_INET, false))
		return;
	tx = sender(a.fd, &a.caps);
	udpio_tx_commit(tx, (struct sockaddr *)&b.addr, b.len, 0);
	udpio_tx_commit(tx, (struct sockaddr *)&b.addr, b.len, UDPIO_SLOT_MAX + 1);
	udpio_tx_commit(tx, (struct sockaddr *)&short_addr, sizeof(short_addr) - 1, 10);
	CHECK(udpio_tx_stats(tx)->drop_bad == 3, "bad commits counted");
	CHECK(sendto(a.fd, big, sizeof(big), 0, (struct sockaddr *)&b.addr, b.len) ==
		      (ssize_t)sizeof(big),
	      "a large datagram: %s", strerror(errno));
	queue(tx, &b, small, 1, 5);
	CHECK(udpio_tx_flush(tx) == 0 && udpio_tx_stats(tx)->datagrams_out == 1,
	      "the good one went");
	expect(&b, small, 1, 5, "after a truncated one");
	CHECK(udpio_rx_stats(b.rx)->drop_truncated == 1, "truncated: counted");
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
}

/* What the caller does not want stays off: no GSO, and GRO turned off if it was on. */
static void test_probe_off(void)
{
	struct udpio_caps caps;
	int one = 1, gro = -1;
	socklen_t len = sizeof(gro);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	CHECK(setsockopt(fd, IPPROTO_UDP, 104 /* UDP_GRO */, &one, sizeof(one)) == 0, "GRO on: %s",
	      strerror(errno));
	udpio_probe(fd, false, false, &caps);
	CHECK(!caps.gso && !caps.gro && caps.gso_max_segs == UDPIO_GSO_SEGS_SAFE,
	      "probe without wishes: gso %d gro %d max %u", caps.gso, caps.gro, caps.gso_max_segs);
	CHECK(getsockopt(fd, IPPROTO_UDP, 104, &gro, &len) == 0 && gro == 0, "GRO off again: %d",
	      gro);
	close(fd);
}

/* Waits until the kernel has an error pending on fd (an ICMP port unreachable came back). */
static bool error_pending(int fd)
{
	struct pollfd pfd = { fd, 0, 0 };

	return poll(&pfd, 1, IDLE_WAIT_MS) == 1 && (pfd.revents & POLLERR);
}

/*
 * A connected socket whose peer is gone: the error comes back on a receive
 * as -ECONNREFUSED, and on a send it drops that message alone, counted.
 */
static void test_refused(void)
{
	struct peer a, b;
	const size_t lens[] = { 300, 200, 100 }; /* two messages: [300, 200] and [100] */
	const struct udpio_tx_stats *st;
	struct udpio_tx *tx;
	int rc;

	if (!peer_open(&a, AF_INET, false) || !peer_open(&b, AF_INET, false))
		return;
	close(b.fd);
	b.fd = -1;
	CHECK(connect(a.fd, (struct sockaddr *)&b.addr, b.len) == 0, "connect: %s",
	      strerror(errno));
	tx = sender(a.fd, &a.caps);
	st = udpio_tx_stats(tx);
	queue(tx, NULL, lens, 3, 1);
	CHECK(udpio_tx_flush(tx) == 0 && st->datagrams_out == 3, "refused: the first batch went");
	CHECK(error_pending(a.fd), "refused: an ICMP error came back");
	rc = udpio_receive(a.rx, a.fd);
	CHECK(rc == -ECONNREFUSED && udpio_rx_stats(a.rx)->errors == 1,
	      "refused: receive says so: %d", rc);
	queue(tx, NULL, lens, 3, 1);
	CHECK(udpio_tx_flush(tx) == 0, "refused: the second batch went");
	CHECK(error_pending(a.fd), "refused: another ICMP error came back");
	queue(tx, NULL, lens, 3, 1);
	rc = udpio_tx_flush(tx);
	CHECK(rc == -ECONNREFUSED && st->drop_error == 2 && st->datagrams_out == 7 &&
		      st->last_errno == ECONNREFUSED,
	      "refused: the first message dropped (%d, %llu dropped, %llu out)", rc,
	      (unsigned long long)st->drop_error, (unsigned long long)st->datagrams_out);
	udpio_tx_free(tx);
	peer_close(&a);
	peer_close(&b);
}

/* --- main --------------------------------------------------------------------- */

int main(void)
{
	struct peer p;

	if (!unit_netns("test_udpio", "sends on the loopback of a private network namespace",
			UNIT_NETNS_LO_UP))
		return unit_report("test_udpio");
	if (!peer_open(&p, AF_INET, true))
		return unit_report("test_udpio");
	printf("test_udpio: gso %d (max %u segments), gro %d, sndbuf %d, rcvbuf %d\n", p.caps.gso,
	       p.caps.gso_max_segs, p.caps.gro, p.caps.sndbuf, p.caps.rcvbuf);
	CHECK(p.caps.gso && p.caps.gro, "this kernel has UDP GSO and GRO");
	CHECK(p.caps.rcvbuf >= UDPIO_SOCKBUF_BYTES, "root raised the receive buffer: %d",
	      p.caps.rcvbuf);
	peer_close(&p);
	test_run(AF_INET, false);
	test_run(AF_INET, true);
	test_run(AF_INET6, false);
	test_run(AF_INET6, true);
	test_batching();
	test_changing_batches();
	test_drained();
	test_byte_limit(AF_INET, UDPIO_GSO_BYTES_IPV4);
	test_byte_limit(AF_INET6, UDPIO_GSO_BYTES_IPV6);
	test_mapped_limit();
	test_segment_limit(p.caps.gso_max_segs);
	test_segment_limit(UDPIO_GSO_SEGS_SAFE);
	test_interleaved();
	test_sizes();
	test_connected();
	test_gso_off();
	test_eio();
	test_emsgsize();
	test_busy();
	test_auto_flush();
	test_bad_and_truncated();
	test_probe_off();
	test_refused();
	return unit_report("test_udpio");
}
