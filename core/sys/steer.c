// SPDX-License-Identifier: MIT
/*
 * A reuseport program sees the datagram from its UDP payload on: UDP hands
 * reuseport_select_sock() the UDP header's length, and the kernel pulls that
 * off before it runs the program and pushes it back after
 * (net/core/sock_reuseport.c); spec/c/test_steer.c shows it for IPv4 and
 * IPv6 (a program reading the UDP header would steer otherwise). Offset 0 is
 * the OpenVPN packet's first byte: opcode in the high five bits, key id in
 * the low three (OpenVPN's ssl_pkt.h), then for P_DATA_V2 the 24-bit peer-id
 * in network order. An index at or past the group's size would make the
 * kernel fall back to its hash and so to any worker: the program never
 * returns one. A load past the end would end the program with 0, socket 0;
 * the length is checked first all the same.
 */
#include <errno.h>
#include <sys/socket.h>

#include "proto.h"
#include "steer.h"

enum {
	OPCODE_SHIFT = 3,
	PEER_ID_MASK = 0xffffff,
};

int steer_program(struct sock_filter prog[STEER_PROG_LEN], unsigned n)
{
	/* The workers' sockets are 1..n-1 (a group of one has socket 0 alone). */
	unsigned workers = n > 1 ? n - 1 : 1, first = n > 1 ? 1 : 0;
	/* Jump offsets count from the next instruction; 11 answers socket 0. */
	const struct sock_filter p[STEER_PROG_LEN] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, PROTO_DATA_V2_HEADER_LEN, 0, 9),
		/* 2 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
		/* 3 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, OPCODE_SHIFT),
		/* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, P_DATA_V2, 0, 6),
		/* 5 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0), /* opcode byte and peer-id */
		/* 6 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, PEER_ID_MASK),
		/* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PROTO_PEER_ID_UNDEF, 3, 0),
		/* 8 */ BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, workers),
		/* 9 */ BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, first),
		/* 10 */ BPF_STMT(BPF_RET | BPF_A, 0),
		/* 11 */ BPF_STMT(BPF_RET | BPF_K, 0),
	};

	if (n < 1 || n > STEER_SOCKETS_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < STEER_PROG_LEN; i++)
		prog[i] = p[i];
	return 0;
}

int steer_attach(int fd, unsigned n)
{
	struct sock_filter prog[STEER_PROG_LEN];
	struct sock_fprog fprog = { .len = STEER_PROG_LEN, .filter = prog };
	int r = steer_program(prog, n);

	if (r < 0)
		return r;
	/* On any socket of the group: the program is the group's. */
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof(fprog)) < 0)
		return -errno;
	return 0;
}

unsigned steer_index(const uint8_t *payload, size_t len, unsigned n)
{
	uint32_t peer_id;

	if (n < 1 || len < PROTO_DATA_V2_HEADER_LEN || payload[0] >> OPCODE_SHIFT != P_DATA_V2)
		return 0;
	peer_id = (uint32_t)payload[1] << 16 | (uint32_t)payload[2] << 8 | payload[3];
	if (peer_id == PROTO_PEER_ID_UNDEF || n == 1)
		return 0;
	return 1 + peer_id % (n - 1);
}
