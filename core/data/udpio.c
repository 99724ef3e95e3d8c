// SPDX-License-Identifier: MIT
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udpio.h"

/* From linux/udp.h, for C libraries whose headers predate them. */
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* GSO: a send's segment size, a uint16_t in a cmsg */
#endif
#ifndef UDP_GRO
#define UDP_GRO 104 /* the socket takes coalesced buffers; their segment size, an int cmsg */
#endif

enum {
	/* The UDP_GRO cmsg, with room for the few others a caller may enable (IP_PKTINFO). */
	RX_CONTROL_BYTES = 128,
};

/* --- probe ------------------------------------------------------------- */

static int raise_buffer(int fd, int force, int plain)
{
	int want = UDPIO_SOCKBUF_BYTES, got = 0;
	socklen_t len = sizeof(got);

	if (setsockopt(fd, SOL_SOCKET, force, &want, sizeof(want)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, plain, &want, sizeof(want));
	return getsockopt(fd, SOL_SOCKET, plain, &got, &len) == 0 ? got : 0;
}

static socklen_t loopback(int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*in);
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	in6->sin6_family = AF_INET6;
	in6->sin6_addr = in6addr_loopback;
	return sizeof(*in6);
}

/*
 * Whether the kernel takes a GSO send of UDPIO_GSO_SEGS_MAX one-byte
 * segments: it refuses more than its compile-time UDP_MAX_SEGMENTS with
 * EINVAL, and that constant is the same for every socket. The probe uses a
 * socket of its own on the loopback that sends to itself, so nothing
 * reaches another host or the caller's peers.
 */
static bool takes_max_segs(int family)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} control = { 0 };
	uint8_t payload[UDPIO_GSO_SEGS_MAX] = { 0 };
	struct iovec iov = { payload, sizeof(payload) };
	struct sockaddr_storage self;
	struct msghdr m = { .msg_name = &self,
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	uint16_t one = 1;
	bool ok = false;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	m.msg_namelen = loopback(family, &self);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(one));
	memcpy(CMSG_DATA(c), &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&self, m.msg_namelen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&self, &m.msg_namelen) == 0)
		ok = sendmsg(fd, &m, MSG_DONTWAIT) == (ssize_t)sizeof(payload);
	close(fd);
	return ok;
}

static unsigned probe_max_segs(void)
{
	/* No loopback (a namespace whose lo is down): the limit every kernel takes. */
	if (takes_max_segs(AF_INET) || takes_max_segs(AF_INET6))
		return UDPIO_GSO_SEGS_MAX;
	return UDPIO_GSO_SEGS_SAFE;
}

void udpio_probe(int fd, bool want_gso, bool want_gro, struct udpio_caps *caps)
{
	int zero = 0, one = 1;

	memset(caps, 0, sizeof(*caps));
	caps->gso_max_segs = UDPIO_GSO_SEGS_SAFE;
	/* A default segment size of 0 is no GSO, as before; kernels without UDP GSO refuse it. */
	if (want_gso && setsockopt(fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) == 0) {
		caps->gso = true;
		caps->gso_max_segs = probe_max_segs();
	}
	/* Off unless wanted, so the caller's receive buffers always fit what comes. */
	if (want_gro)
		caps->gro = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
	else
		(void)setsockopt(fd, SOL_UDP, UDP_GRO, &zero, sizeof(zero));
	caps->sndbuf = raise_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);
	caps->rcvbuf = raise_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
}

/* --- receive ----------------------------------------------------------- */

union rx_control {
	char buf[RX_CONTROL_BYTES];
	struct cmsghdr align;
};

struct udpio_rx {
	bool gro;
	unsigned nbufs;
	size_t buf_bytes;
	unsigned received; /* messages of the current batch */
	unsigned dirty;	   /* headers the last recvmmsg may have changed, from the first */
	bool drained;	   /* the last recvmmsg filled fewer than nbufs, or failed */
	unsigned msg, seg; /* the next datagram: message msg, its segment seg */
	struct udpio_rx_stats stats;
	struct mmsghdr msgs[UDPIO_RX_BATCH];
	struct iovec iov[UDPIO_RX_BATCH];
	struct sockaddr_storage from[UDPIO_RX_BATCH];
	union rx_control control[UDPIO_RX_BATCH];
	size_t seg_bytes[UDPIO_RX_BATCH]; /* every datagram's size but the last one's */
	unsigned nseg[UDPIO_RX_BATCH];	  /* datagrams in the message; 0: dropped */
	uint8_t bufs[];
};

struct udpio_rx *udpio_rx_new(bool gro)
{
	unsigned nbufs = gro ? UDPIO_RX_GRO_BATCH : UDPIO_RX_BATCH;
	size_t buf_bytes = gro ? UDPIO_RX_GRO_BUF_BYTES : UDPIO_RX_BUF_BYTES;
	struct udpio_rx *rx = calloc(1, sizeof(*rx) + (size_t)nbufs * buf_bytes);

	if (!rx)
		return NULL;
	rx->gro = gro;
	rx->nbufs = nbufs;
	rx->buf_bytes = buf_bytes;
	rx->dirty = nbufs;
	for (unsigned i = 0; i < nbufs; i++) {
		rx->iov[i].iov_base = rx->bufs + (size_t)i * buf_bytes;
		rx->iov[i].iov_len = buf_bytes;
	}
	return rx;
}

void udpio_rx_free(struct udpio_rx *rx)
{
	free(rx);
}

/* The segment size of a coalesced buffer (linux/udp.h UDP_GRO: an int); 0 when there is none. */
static size_t gro_segment(struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		int size;

		if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO ||
		    c->cmsg_len < CMSG_LEN(sizeof(size)))
			continue;
		memcpy(&size, CMSG_DATA(c), sizeof(size));
		return size > 0 ? (size_t)size : 0;
	}
	return 0;
}

/* How message i splits into datagrams; returns their number (0: dropped). */
static unsigned split(struct udpio_rx *rx, unsigned i)
{
	struct msghdr *h = &rx->msgs[i].msg_hdr;
	size_t len = rx->msgs[i].msg_len, seg;

	/* Cut control data could have lost the segment size: the buffer cannot be split. */
	if ((h->msg_flags & MSG_TRUNC) || (rx->gro && (h->msg_flags & MSG_CTRUNC))) {
		rx->stats.drop_truncated++;
		return rx->nseg[i] = 0;
	}
	seg = gro_segment(h);
	if (!seg || seg >= len) {
		rx->seg_bytes[i] = len;
		return rx->nseg[i] = 1;
	}
	rx->seg_bytes[i] = seg;
	rx->nseg[i] = (unsigned)((len + seg - 1) / seg);
	rx->stats.gro_buffers++;
	return rx->nseg[i];
}

int udpio_receive(struct udpio_rx *rx, int fd)
{
	unsigned count = 0;
	int n;

	rx->received = rx->msg = rx->seg = 0;
	/*
	 * Names and control lengths are value-result: each call needs them
	 * whole again. recvmmsg writes only to the messages it filled (and
	 * stops at the one that found the socket empty), so only those are
	 * set again: a stock OpenVPN peer's wake-ups bring one or two
	 * datagrams, and resetting all UDPIO_RX_BATCH headers each time cost
	 * more than the recvmmsg's own copying.
	 */
	for (unsigned i = 0; i < rx->dirty; i++) {
		rx->msgs[i].msg_hdr =
			(struct msghdr){ .msg_name = &rx->from[i],
					 .msg_namelen = sizeof(rx->from[i]),
					 .msg_iov = &rx->iov[i],
					 .msg_iovlen = 1,
					 .msg_control = rx->control[i].buf,
					 .msg_controllen = sizeof(rx->control[i].buf) };
	}
	rx->stats.recvmmsg_calls++;
	n = recvmmsg(fd, rx->msgs, rx->nbufs, MSG_DONTWAIT, NULL);
	rx->dirty = n < 0 ? 1 : (unsigned)n + 1 < rx->nbufs ? (unsigned)n + 1 : rx->nbufs;
	rx->drained = n < 0 || (unsigned)n < rx->nbufs;
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		rx->stats.errors++;
		return -errno;
	}
	rx->received = (unsigned)n;
	for (unsigned i = 0; i < rx->received; i++)
		count += split(rx, i);
	rx->stats.datagrams_in += count;
	return (int)count;
}

bool udpio_rx_drained(const struct udpio_rx *rx)
{
	return rx->drained;
}

bool udpio_rx_next(struct udpio_rx *rx, struct udpio_datagram *d)
{
	for (; rx->msg < rx->received; rx->msg++, rx->seg = 0) {
		unsigned i = rx->msg;
		size_t off, left;

		if (rx->seg >= rx->nseg[i])
			continue;
		off = rx->seg_bytes[i] * rx->seg++;
		left = rx->msgs[i].msg_len - off;
		d->data = rx->bufs + (size_t)i * rx->buf_bytes + off;
		d->len = left < rx->seg_bytes[i] ? left : rx->seg_bytes[i];
		d->from = (const struct sockaddr *)&rx->from[i];
		d->from_len = rx->msgs[i].msg_hdr.msg_namelen;
		return true;
	}
	return false;
}

const struct udpio_rx_stats *udpio_rx_stats(const struct udpio_rx *rx)
{
	return &rx->stats;
}

/* --- send -------------------------------------------------------------- */

/* A queued message: one datagram, or a GSO run of them. */
struct run {
	size_t seg;   /* its first datagram's size: every one's but the last */
	size_t bytes; /* of all its datagrams */
	size_t limit; /* the most bytes one GSO send to its address may carry */
	unsigned nseg;
	bool closed; /* a shorter datagram ended it */
};

union tx_control {
	char buf[CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
};

struct udpio_tx {
	int fd;
	bool gso;
	unsigned gso_max_segs;
	size_t gso_seg_max;	/* datagrams this large or larger go alone (EMSGSIZE seen) */
	size_t connected_limit; /* run limit for commits without an address */
	udpio_sendmmsg_fn send;
	unsigned nmsg;
	size_t used; /* arena bytes queued */
	struct udpio_tx_stats stats;
	struct mmsghdr msgs[UDPIO_TX_MSGS];
	struct iovec iov[UDPIO_TX_MSGS];
	struct sockaddr_storage to[UDPIO_TX_MSGS];
	union tx_control control[UDPIO_TX_MSGS];
	struct run run[UDPIO_TX_MSGS];
	/* A GSO message the kernel refused, resent datagram by datagram (gso_max_segs fit). */
	struct mmsghdr single[UDPIO_GSO_SEGS_MAX];
	struct iovec single_iov[UDPIO_GSO_SEGS_MAX];
	uint8_t arena[UDPIO_TX_ARENA_BYTES];
};

/* The payload one IP packet can carry to addr (mapped IPv4 addresses go as IPv4). */
static size_t gso_limit(const struct sockaddr *addr)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;

	if (addr->sa_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		return UDPIO_GSO_BYTES_IPV6;
	return UDPIO_GSO_BYTES_IPV4;
}

struct udpio_tx *udpio_tx_new(int fd, const struct udpio_caps *caps)
{
	struct udpio_tx *tx = calloc(1, sizeof(*tx));
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);

	if (!tx)
		return NULL;
	tx->fd = fd;
	tx->gso = caps->gso;
	tx->gso_max_segs = caps->gso_max_segs ? caps->gso_max_segs : UDPIO_GSO_SEGS_SAFE;
	if (tx->gso_max_segs > UDPIO_GSO_SEGS_MAX)
		tx->gso_max_segs = UDPIO_GSO_SEGS_MAX;
	tx->gso_seg_max = (size_t)UDPIO_SLOT_MAX + 1;
	tx->connected_limit = UDPIO_GSO_BYTES_IPV4;
	if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0)
		tx->connected_limit = gso_limit((struct sockaddr *)&peer);
	tx->send = sendmmsg;
	return tx;
}

void udpio_tx_free(struct udpio_tx *tx)
{
	free(tx);
}

void udpio_tx_set_sendmmsg(struct udpio_tx *tx, udpio_sendmmsg_fn fn)
{
	tx->send = fn;
}

uint8_t *udpio_tx_slot(struct udpio_tx *tx)
{
	/* Commit flushes while less than a slot is left, so there is always room. */
	return tx->arena + tx->used;
}

static bool is_valid_address(const struct sockaddr *to, socklen_t to_len)
{
	if (!to)
		return true;
	if (to_len < sizeof(sa_family_t) || to_len > sizeof(struct sockaddr_storage))
		return false;
	if (to->sa_family == AF_INET)
		return to_len >= sizeof(struct sockaddr_in);
	return to->sa_family == AF_INET6 && to_len >= sizeof(struct sockaddr_in6);
}

/* Whether a datagram of len bytes to `to` can be the next segment of the last message. */
static bool joins(const struct udpio_tx *tx, const struct sockaddr *to, socklen_t to_len,
		  size_t len)
{
	const struct run *r = &tx->run[tx->nmsg - 1];
	const struct msghdr *h = &tx->msgs[tx->nmsg - 1].msg_hdr;

	if (!tx->gso || r->closed || len > r->seg || r->seg >= tx->gso_seg_max)
		return false;
	if (r->nseg >= tx->gso_max_segs || r->bytes + len > r->limit)
		return false;
	/* The same bytes: a peer's address is kept in one place, so it compares equal. */
	return h->msg_namelen == to_len && (!to || memcmp(h->msg_name, to, to_len) == 0);
}

static void start_message(struct udpio_tx *tx, const struct sockaddr *to, socklen_t to_len,
			  size_t len)
{
	unsigned i = tx->nmsg++;
	struct msghdr *h = &tx->msgs[i].msg_hdr;

	memset(h, 0, sizeof(*h));
	tx->iov[i] = (struct iovec){ tx->arena + tx->used, 0 };
	h->msg_iov = &tx->iov[i];
	h->msg_iovlen = 1;
	if (to) {
		memcpy(&tx->to[i], to, to_len);
		h->msg_name = &tx->to[i];
		h->msg_namelen = to_len;
	}
	tx->run[i] = (struct run){ len, 0, to ? gso_limit(to) : tx->connected_limit, 0, false };
}

/* The datagram becomes the last message's next segment (its first, when it started it). */
static void append(struct udpio_tx *tx, size_t len)
{
	unsigned i = tx->nmsg - 1;
	struct run *r = &tx->run[i];
	struct msghdr *h = &tx->msgs[i].msg_hdr;

	tx->iov[i].iov_len += len;
	r->bytes += len;
	r->closed = len < r->seg;
	if (++r->nseg == 2) {
		struct cmsghdr *c;
		uint16_t seg = (uint16_t)r->seg; /* at most UDPIO_SLOT_MAX */

		h->msg_control = tx->control[i].buf;
		h->msg_controllen = sizeof(tx->control[i].buf);
		c = CMSG_FIRSTHDR(h);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(seg));
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	}
}

void udpio_tx_commit(struct udpio_tx *tx, const struct sockaddr *to, socklen_t to_len, size_t len)
{
	if (!to)
		to_len = 0;
	if (len == 0 || len > UDPIO_SLOT_MAX || !is_valid_address(to, to_len)) {
		tx->stats.drop_bad++;
		return;
	}
	if (!tx->nmsg || !joins(tx, to, to_len, len))
		start_message(tx, to, to_len, len);
	append(tx, len);
	tx->used += len;
	if (tx->nmsg == UDPIO_TX_MSGS || UDPIO_TX_ARENA_BYTES - tx->used < UDPIO_SLOT_MAX)
		(void)udpio_tx_flush(tx);
}

static bool is_busy(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
}

/* Sends msgs[0..n) in as few calls as it can; returns how many went, *err why the rest did not. */
static unsigned send_some(struct udpio_tx *tx, struct mmsghdr *msgs, unsigned n, int *err)
{
	unsigned done = 0;

	*err = 0;
	while (done < n) {
		int sent = tx->send(tx->fd, msgs + done, n - done, MSG_DONTWAIT);

		tx->stats.sendmmsg_calls++;
		if (sent > 0) {
			done += (unsigned)sent;
		} else if (sent < 0 && errno == EINTR) {
			continue;
		} else {
			*err = sent < 0 ? errno : EAGAIN;
			break;
		}
	}
	return done;
}

static void dropped(struct udpio_tx *tx, uint64_t n, int err)
{
	if (is_busy(err))
		tx->stats.drop_busy += n;
	else
		tx->stats.drop_error += n;
	tx->stats.last_errno = err;
}

/*
 * Whether err is the kernel refusing message i's GSO, so that its datagrams
 * may still go one by one. EIO: the egress device cannot offload checksums
 * (or the route is IPsec); EINVAL: the socket sends without UDP checksums
 * (SO_NO_CHECK), or an older kernel found a segment over the path MTU;
 * either way GSO is off for good. EMSGSIZE: a segment over the path MTU, so
 * datagrams of this size no longer join runs; smaller ones still do.
 */
static bool gso_refused(struct udpio_tx *tx, unsigned i, int err)
{
	if (tx->run[i].nseg < 2)
		return false;
	if (err == EIO || err == EINVAL) {
		if (!tx->stats.gso_disabled)
			tx->stats.gso_disabled_errno = err;
		tx->stats.gso_disabled = 1;
		tx->gso = false;
		return true;
	}
	if (err == EMSGSIZE) {
		tx->stats.gso_too_big++;
		if (tx->run[i].seg < tx->gso_seg_max)
			tx->gso_seg_max = tx->run[i].seg;
		return true;
	}
	return false;
}

/* Sends message i's datagrams one by one; returns the busy errno that stopped it, else 0. */
static int resend_singly(struct udpio_tx *tx, unsigned i)
{
	const struct run *r = &tx->run[i];
	const struct msghdr *h = &tx->msgs[i].msg_hdr;
	uint8_t *base = tx->iov[i].iov_base;
	unsigned k = 0, sent;
	int err;

	for (unsigned s = 0; s < r->nseg; s++) {
		size_t off = r->seg * s, left = r->bytes - off;

		tx->single_iov[s] = (struct iovec){ base + off, left < r->seg ? left : r->seg };
		tx->single[s].msg_hdr = (struct msghdr){ .msg_name = h->msg_name,
							 .msg_namelen = h->msg_namelen,
							 .msg_iov = &tx->single_iov[s],
							 .msg_iovlen = 1 };
	}
	while (k < r->nseg) {
		sent = send_some(tx, tx->single + k, r->nseg - k, &err);
		tx->stats.datagrams_out += sent;
		k += sent;
		if (k == r->nseg)
			break;
		if (is_busy(err)) {
			dropped(tx, r->nseg - k, err);
			return err;
		}
		dropped(tx, 1, err);
		k++;
	}
	return 0;
}

static void count_sent(struct udpio_tx *tx, unsigned from, unsigned n)
{
	for (unsigned i = from; i < from + n; i++) {
		tx->stats.datagrams_out += tx->run[i].nseg;
		tx->stats.gso_messages += tx->run[i].nseg > 1;
	}
}

static void drop_messages(struct udpio_tx *tx, unsigned from, unsigned to, int err)
{
	uint64_t n = 0;

	for (unsigned i = from; i < to; i++)
		n += tx->run[i].nseg;
	dropped(tx, n, err);
}

int udpio_tx_flush(struct udpio_tx *tx)
{
	uint64_t drops = tx->stats.drop_busy + tx->stats.drop_error;
	unsigned i = 0, sent;
	int err;

	while (i < tx->nmsg) {
		sent = send_some(tx, tx->msgs + i, tx->nmsg - i, &err);
		count_sent(tx, i, sent);
		i += sent;
		if (i == tx->nmsg)
			break;
		if (is_busy(err)) {
			drop_messages(tx, i, tx->nmsg, err);
			break;
		}
		if (gso_refused(tx, i, err)) {
			if (resend_singly(tx, i)) {
				drop_messages(tx, i + 1, tx->nmsg, tx->stats.last_errno);
				break;
			}
		} else {
			drop_messages(tx, i, i + 1, err);
		}
		i++;
	}
	tx->nmsg = 0;
	tx->used = 0;
	return tx->stats.drop_busy + tx->stats.drop_error > drops ? -tx->stats.last_errno : 0;
}

const struct udpio_tx_stats *udpio_tx_stats(const struct udpio_tx *tx)
{
	return &tx->stats;
}
