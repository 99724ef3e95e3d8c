/* SPDX-License-Identifier: MIT */
/*
 * Steering UDP datagrams by peer-id among a group of n sockets bound with
 * SO_REUSEPORT to one address (docs/workers.md): socket 0 is the main
 * thread's, sockets 1 to n - 1 are the data-path workers'. A classic BPF
 * program, attached to the group with SO_ATTACH_REUSEPORT_CBPF (no bpf()
 * system call, no libbpf), picks the socket for each datagram: a P_DATA_V2
 * packet goes to socket 1 + peer-id % (n - 1), worker peer-id % (n - 1)'s,
 * whatever address it comes from (so a client that floats stays on its
 * worker); everything else, control packets, P_DATA_V1, the undefined
 * peer-id and datagrams shorter than the 4-byte P_DATA_V2 header, goes to
 * socket 0, the control plane's. (A group of one sends all to socket 0.)
 * The server allocates peer-ids so that peer-id % workers is the peer's
 * worker.
 *
 * The index is the socket's place in the kernel's reuseport group: the order
 * the sockets were bound in (closing one moves the last into its place, so a
 * group is closed whole, never one socket of it).
 */
#ifndef MOONVPN_STEER_H
#define MOONVPN_STEER_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

enum {
	STEER_SOCKETS_MAX = 256,
	STEER_PROG_LEN = 12, /* instructions in the program */
};

/* The program for n sockets (1..STEER_SOCKETS_MAX) into prog; -EINVAL for another n. */
int steer_program(struct sock_filter prog[STEER_PROG_LEN], unsigned n)
	__attribute__((warn_unused_result));

/* Attaches the program for n sockets to the reuseport group of fd (bound, with SO_REUSEPORT). */
int steer_attach(int fd, unsigned n) __attribute__((warn_unused_result));

/* The socket the program picks for a datagram's payload, computed here (tests, peer-id choice). */
unsigned steer_index(const uint8_t *payload, size_t len, unsigned n);

#endif
