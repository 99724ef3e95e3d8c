/* SPDX-License-Identifier: MIT */
/*
 * The TCP transport of a server: a listening socket and its connections,
 * each carrying OpenVPN packets framed by a 2-byte big-endian length
 * (protocol guide 1.1). Everything is non-blocking and bounded: a frame
 * length of 0, a peer that starts no session in time (tcp_conn_set_tag)
 * or stops reading until its output queue overflows is closed, and no
 * connection can hold up another. A packet too large for a frame is
 * dropped, never a reason to close: one that a session sends us is
 * skipped, one sent to it is not sent. What the packets mean belongs to the
 * server (server.c), which hands us its replies per connection.
 *
 * Connections without a session cost an attacker nothing to open, so they
 * are the ones that make room: past TCP_SOURCE_CONNS_MAX from one source
 * (source.h), past TCP_CONNS_MAX, or when the process is out of
 * descriptors, the oldest of them (the source's own first) is closed for the
 * newcomer. The last TCP_FDS_RESERVED descriptors below the limit are never
 * a connection's, so that the console and hooks keep working through a
 * flood. With no connection to close, accepting pauses for
 * TCP_ACCEPT_PAUSE_SECONDS (or until a connection ends) rather than spin on
 * a listener that stays readable. Closed connections are freed at the top
 * of the next loop iteration, however busy the loop is.
 *
 * System calls are what a userspace tunnel spends its time on, so both
 * directions batch: one read takes up to TCP_READ_MAX bytes (dozens of
 * frames) into a buffer shared by the connections, and what is sent during
 * a loop iteration goes out with one write per connection before the loop
 * waits again (an ev_prepare), not one per packet.
 */
#ifndef MOONVPN_TCP_H
#define MOONVPN_TCP_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "log.h"
#include "udp.h"

enum {
	TCP_FRAME_MAX = 4096, /* larger than any control or data packet we accept */
	TCP_CONNS_MAX = 1280, /* connections at once, unless tcp_handlers.conns_max says */
	/* A server's bound is its max_clients and these: handshakes, and some to spare. */
	TCP_CONNS_SPARE = 256,
	TCP_SOURCE_CONNS_MAX = 16,     /* connections without a session from one source */
	TCP_QUEUE_MAX = 512 * 1024,    /* bytes waiting to be sent on one connection */
	TCP_FIRST_PACKET_SECONDS = 10, /* a new connection must start a session this soon */
	TCP_ACCEPT_PAUSE_SECONDS = 1,  /* out of descriptors with nothing to close: wait */
	TCP_ACCEPT_BATCH = 64,	       /* accepts per wake-up: others' packets go on */
	TCP_FDS_RESERVED = 64,	 /* the open-files limit's last descriptors: never connections */
	TCP_READ_MAX = 65536,	 /* bytes one read takes: many frames per system call */
	TCP_FLUSH_BYTES = 65536, /* queued bytes written at once, not at the end of the turn */
	TCP_STALL_SECONDS = 30,	 /* a full queue that long unread closes the connection */
};

/* Why tcp.c dropped something, for the server's counters. */
enum tcp_event {
	TCP_TOO_BIG,	    /* a packet over TCP_FRAME_MAX, either way: dropped */
	TCP_QUEUE_FULL,	    /* a packet for a peer that reads slower than we send: dropped */
	TCP_EVICTED_SOURCE, /* a connection without a session made room in its source */
	TCP_EVICTED,	    /* ... made room under TCP_CONNS_MAX or the descriptor limit */
	TCP_REFUSED,	    /* a connection closed at once: every slot has a session */
	TCP_ACCEPT_PAUSED,  /* accepting paused: out of descriptors, nothing to close */
};

struct tcp_server;
struct tcp_conn;

struct tcp_handlers {
	/* A whole packet (unframed) from conn; buf is writable and valid during the call. */
	void (*packet)(void *ctx, struct tcp_conn *conn, uint8_t *buf, size_t len);
	/* conn is closing (the peer left, broke the framing or fell behind); why for the log. */
	void (*closed)(void *ctx, struct tcp_conn *conn, const char *why);
	void *ctx;
	/* Something was dropped, for counting; NULL: not counted. */
	void (*event)(void *ctx, enum tcp_event ev);
	const struct log *log; /* for rate-limited warnings; NULL: none */
	unsigned conns_max;    /* connections at once; 0: TCP_CONNS_MAX */
};

/* Listens on addr (from "tcp://ADDRESS:PORT"); 0, or -errno with err set. */
int tcp_server_open(struct tcp_server **out, struct ev_loop *loop, const struct udp_addr *addr,
		    const struct tcp_handlers *h, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/*
 * A client's connection to addr, started without blocking: packets sent
 * before it is established wait in its queue; a failure to connect comes
 * as closed ("cannot connect: ..."). Freed with tcp_server_free, never from
 * inside one of its own handlers.
 */
int tcp_client_open(struct tcp_server **out, struct ev_loop *loop, const struct udp_addr *addr,
		    const struct tcp_handlers *h, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* The connection of tcp_client_open (NULL once it was reaped). */
struct tcp_conn *tcp_client_conn(const struct tcp_server *t);

/* Closes every connection (closed is not called) and the socket. NULL is a no-op. */
void tcp_server_free(struct tcp_server *t);

/*
 * Frames and queues a packet; false when it was not: over TCP_FRAME_MAX
 * (dropped, counted, the connection stays) or the connection is closed or
 * had to be (its queue is full).
 */
bool tcp_conn_send(struct tcp_conn *c, const uint8_t *pkt, size_t len);
/* Closes the connection now; closed is not called. */
void tcp_conn_close(struct tcp_conn *c);
const struct sockaddr *tcp_conn_peer(const struct tcp_conn *c, socklen_t *len);
/* The server's own tag for the connection (a peer-id, or -1); a tag >= 0 means its
 * session started, and the connection may stay. */
/* The session's tag (a slot); -1: none (any more), and a connection on a worker's hub goes
 * back to the server's loop, with TCP_FIRST_PACKET_SECONDS to start a session again. */
void tcp_conn_set_tag(struct tcp_conn *c, int32_t tag);
int32_t tcp_conn_tag(const struct tcp_conn *c);

/*
 * The data-path workers (docs/workers.md): a hub reads and writes
 * connections on another loop, a worker's. The server's own loop still
 * accepts, evicts and reaps: a connection that dies on a worker's hub wakes
 * it, and it closes the connection and calls closed while the worker is
 * parked. So everything here but a hub's own connections' reads, writes and
 * packet callbacks runs on the server's loop's thread, with the workers
 * parked. NULL when out of memory; freed with the server.
 */
struct tcp_hub;
struct tcp_hub *tcp_hub_new(struct tcp_server *t, struct ev_loop *loop)
	__attribute__((warn_unused_result));
/* c is read and written on hub's loop from now on (its queued output too). */
void tcp_conn_move(struct tcp_conn *c, struct tcp_hub *hub);

#endif
