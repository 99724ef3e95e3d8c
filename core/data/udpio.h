/* SPDX-License-Identifier: MIT */
/*
 * Batched UDP socket I/O for the data path: one recvmmsg fills a batch of
 * receive buffers (64 KiB ones when the socket has UDP GRO, whose coalesced
 * buffers are split back into datagrams here), and datagrams queued for
 * sending go out with as few sendmmsg calls as possible, runs of equal-size
 * datagrams to one address as one UDP GSO (UDP_SEGMENT) message each.
 * Everything is preallocated by _new; nothing here allocates per packet or
 * logs: failures are counters and return codes, the caller logs once.
 * It does not own the socket (the caller opens and closes it, see udp.h),
 * and knows nothing of what the datagrams carry.
 */
#ifndef MOONVPN_UDPIO_H
#define MOONVPN_UDPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
	UDPIO_SLOT_MAX = 2048,		/* bytes: the largest datagram udpio_tx_slot takes */
	UDPIO_RX_BATCH = 64,		/* datagram buffers (of UDPIO_RX_BUF_BYTES) per recvmmsg */
	UDPIO_RX_BUF_BYTES = 2048,	/* bytes: a larger datagram is truncated and dropped */
	UDPIO_RX_GRO_BATCH = 16,	/* GRO buffers (of UDPIO_RX_GRO_BUF_BYTES) per recvmmsg */
	UDPIO_RX_GRO_BUF_BYTES = 65536, /* bytes: the most a coalesced UDP buffer can hold */
	UDPIO_TX_MSGS = 256,		/* messages (GSO runs or single datagrams) per flush */
	UDPIO_TX_ARENA_BYTES = 512 * 1024, /* bytes of datagrams queued before a flush */
	UDPIO_GSO_SEGS_SAFE = 64,	   /* the kernel's UDP_MAX_SEGMENTS until 2024 */
	UDPIO_GSO_SEGS_MAX = 128, /* UDP_MAX_SEGMENTS since 2024, backported to stable kernels */
	UDPIO_GSO_BYTES_IPV4 = 65507,  /* bytes: 65535 - 20 (IPv4 header) - 8 (UDP header) */
	UDPIO_GSO_BYTES_IPV6 = 65527,  /* bytes: 65535 - 8 (UDP header; payload length) */
	UDPIO_SOCKBUF_BYTES = 4 << 20, /* bytes asked for SO_SNDBUF and SO_RCVBUF */
};

/* What the socket and kernel offer, from udpio_probe. */
struct udpio_caps {
	bool gso, gro;
	unsigned gso_max_segs; /* UDPIO_GSO_SEGS_SAFE or UDPIO_GSO_SEGS_MAX */
	int sndbuf, rcvbuf;    /* bytes the kernel reports for the socket after raising them */
};

/*
 * Turns on UDP GRO (when want_gro) and checks UDP GSO (when want_gso) on
 * fd, and raises its buffers to UDPIO_SOCKBUF_BYTES (the *FORCE options need
 * CAP_NET_ADMIN; without it net.core.[rw]mem_max caps them). Never fails:
 * what is missing is false in caps.
 */
void udpio_probe(int fd, bool want_gso, bool want_gro, struct udpio_caps *caps);

/* --- receive ----------------------------------------------------------- */

struct udpio_rx;

/* One datagram received; data stays valid until the next udpio_receive. */
struct udpio_datagram {
	uint8_t *data; /* writable: the caller opens it in place */
	size_t len;
	const struct sockaddr *from;
	socklen_t from_len;
};

struct udpio_rx_stats {
	uint64_t recvmmsg_calls;
	uint64_t datagrams_in;	 /* yielded by udpio_receive's counts */
	uint64_t gro_buffers;	 /* received buffers that held more than one datagram */
	uint64_t drop_truncated; /* messages dropped: larger than a buffer, or control data cut */
	uint64_t errors;	 /* recvmmsg failures other than EAGAIN */
};

/*
 * gro must match the socket's caps.gro: a GRO socket hands over up to
 * 64 KiB at a time, which 2 KiB buffers would truncate. NULL on ENOMEM.
 */
struct udpio_rx *udpio_rx_new(bool gro) __attribute__((warn_unused_result));
void udpio_rx_free(struct udpio_rx *rx);

/*
 * One non-blocking recvmmsg on fd into rx's buffers (datagrams of the last
 * batch not yet taken are gone). Returns the number of datagrams now
 * available through udpio_rx_next, 0 when none was waiting, or -errno.
 */
int udpio_receive(struct udpio_rx *rx, int fd) __attribute__((warn_unused_result));

/*
 * Whether the last udpio_receive found the socket empty before its buffers
 * were full, or failed: another receive now would most likely find
 * nothing. A caller whose poll is level-triggered can go back to it
 * instead, and the poll says when more has come: that saves a recvmmsg per
 * wake-up, one in two when a peer's datagrams come one or a few at a time.
 */
bool udpio_rx_drained(const struct udpio_rx *rx);

/* The next datagram of the batch into *d; false when the batch is done. */
bool udpio_rx_next(struct udpio_rx *rx, struct udpio_datagram *d);

const struct udpio_rx_stats *udpio_rx_stats(const struct udpio_rx *rx);

/* --- send -------------------------------------------------------------- */

struct udpio_tx;

struct udpio_tx_stats {
	uint64_t sendmmsg_calls;
	uint64_t datagrams_out;
	uint64_t gso_messages;	/* messages sent that carried more than one datagram */
	uint64_t drop_busy;	/* datagrams dropped on EAGAIN or ENOBUFS (overload) */
	uint64_t drop_error;	/* datagrams dropped on any other send error */
	uint64_t drop_bad;	/* commits refused: length 0 or over UDPIO_SLOT_MAX, bad address */
	uint64_t gso_disabled;	/* 1 once GSO was turned off (EIO or EINVAL on a GSO send) */
	uint64_t gso_too_big;	/* GSO sends refused with EMSGSIZE (segment over path MTU) */
	int gso_disabled_errno; /* why GSO was turned off */
	int last_errno;		/* the last send error that dropped datagrams */
};

/*
 * A send queue for fd, using GSO when caps->gso (up to caps->gso_max_segs
 * segments a message). NULL on ENOMEM. fd must stay open while tx lives;
 * for a connected fd (commits with to NULL) connect it before this call.
 */
struct udpio_tx *udpio_tx_new(int fd, const struct udpio_caps *caps)
	__attribute__((warn_unused_result));
/* Frees tx; what is queued and not flushed is dropped uncounted. */
void udpio_tx_free(struct udpio_tx *tx);

/*
 * Room for the next datagram: UDPIO_SLOT_MAX writable bytes, right after the
 * previous committed datagram. Valid until the next commit or flush.
 */
uint8_t *udpio_tx_slot(struct udpio_tx *tx);

/*
 * Queues the len bytes written at the slot for to (NULL: fd's connected
 * peer; to is copied). Joins the previous message as a GSO segment when it
 * goes to the same address, every earlier segment has the previous size and
 * this one is not larger; flushes by itself when the queue is full.
 */
void udpio_tx_commit(struct udpio_tx *tx, const struct sockaddr *to, socklen_t to_len, size_t len);

/*
 * Sends everything queued. A VPN never blocks on its socket: on EAGAIN or
 * ENOBUFS the rest is dropped and counted. Returns 0 when all went, else
 * -errno of the last failure (the drops are in the stats).
 */
int udpio_tx_flush(struct udpio_tx *tx);

const struct udpio_tx_stats *udpio_tx_stats(const struct udpio_tx *tx);

/*
 * Test seam: the function flush sends with (sendmmsg by default), so a unit
 * test can make a GSO send fail with EIO as a device without checksum
 * offload does. Not for use outside tests.
 */
typedef int (*udpio_sendmmsg_fn)(int fd, struct mmsghdr *msgs, unsigned n, int flags);
void udpio_tx_set_sendmmsg(struct udpio_tx *tx, udpio_sendmmsg_fn fn);

#endif
