/* SPDX-License-Identifier: MIT */
/*
 * The OpenVPN 2.x packet codec: the first byte (opcode and key id), the
 * session ids, the ACK array, the message packet-id and the payload of
 * control packets, and the header of data packets (P_DATA_V1/V2 with the
 * 24-bit peer-id). Pure: bytes in, a struct or a negative PROTO_E* code out;
 * decoded payloads point into the caller's buffer. No I/O, no allocation,
 * no logging. Does not unwrap tls-auth/tls-crypt (that code hands the
 * unwrapped control body to proto_decode_control_body) and does not know
 * about sessions or reliability.
 */
#ifndef MOONVPN_PROTO_H
#define MOONVPN_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X-macro: opcode value, name as OpenVPN logs it. */
#define PROTO_OPCODE_MAP(X)                                                     \
	X(P_CONTROL_HARD_RESET_CLIENT_V1, 1, "P_CONTROL_HARD_RESET_CLIENT_V1")  \
	X(P_CONTROL_HARD_RESET_SERVER_V1, 2, "P_CONTROL_HARD_RESET_SERVER_V1")  \
	X(P_CONTROL_SOFT_RESET_V1, 3, "P_CONTROL_SOFT_RESET_V1")                \
	X(P_CONTROL_V1, 4, "P_CONTROL_V1")                                      \
	X(P_ACK_V1, 5, "P_ACK_V1")                                              \
	X(P_DATA_V1, 6, "P_DATA_V1")                                            \
	X(P_CONTROL_HARD_RESET_CLIENT_V2, 7, "P_CONTROL_HARD_RESET_CLIENT_V2")  \
	X(P_CONTROL_HARD_RESET_SERVER_V2, 8, "P_CONTROL_HARD_RESET_SERVER_V2")  \
	X(P_DATA_V2, 9, "P_DATA_V2")                                            \
	X(P_CONTROL_HARD_RESET_CLIENT_V3, 10, "P_CONTROL_HARD_RESET_CLIENT_V3") \
	X(P_CONTROL_WKC_V1, 11, "P_CONTROL_WKC_V1")

enum proto_opcode {
#define PROTO_OPCODE_ENUM(name, value, text) name = value,
	PROTO_OPCODE_MAP(PROTO_OPCODE_ENUM)
#undef PROTO_OPCODE_ENUM
};

enum {
	PROTO_SID_LEN = 8,  /* session id bytes */
	PROTO_ACKS_MAX = 8, /* a receiver rejects more */
	PROTO_KEY_ID_MAX = 7,
	PROTO_PEER_ID_MAX = 0xffffff,
	PROTO_PEER_ID_UNDEF = 0xffffff,	      /* P_DATA_V2 without an assigned peer-id */
	PROTO_HEADER_LEN = 1 + PROTO_SID_LEN, /* opcode/key id and own session id */
	PROTO_DATA_V2_HEADER_LEN = 4,
};

/* Decoding errors, all negative. */
enum proto_error {
	PROTO_ETRUNC = -1, /* shorter than its fields say */
	PROTO_EOPCODE =
		-2, /* unknown or obsolete opcode, or a data opcode where control was expected */
	PROTO_EACKS = -3,    /* more than PROTO_ACKS_MAX acks */
	PROTO_ENOACKS = -4,  /* P_ACK_V1 acknowledging nothing */
	PROTO_EPAYLOAD = -5, /* bytes where the opcode allows none */
	PROTO_EZEROSID = -6, /* an all-zero (undefined) session id */
};

struct proto_sid {
	uint8_t bytes[PROTO_SID_LEN];
};

struct proto_control {
	uint8_t opcode; /* enum proto_opcode */
	uint8_t key_id;
	struct proto_sid sid; /* the sender's own session id */
	uint8_t n_acks;
	uint32_t acks[PROTO_ACKS_MAX];
	struct proto_sid remote_sid; /* echoed receiver's id; meaningful when n_acks > 0 */
	uint32_t msg_id;	     /* absent (0) in P_ACK_V1 */
	const uint8_t *payload;	     /* into the decoded buffer; NULL when empty */
	size_t payload_len;
};

/* Opcode and key id of any packet, from its first byte. */
static inline uint8_t proto_opcode(uint8_t first)
{
	return first >> 3;
}

static inline uint8_t proto_key_id(uint8_t first)
{
	return first & 7;
}

const char *proto_opcode_name(uint8_t opcode);
bool proto_is_control(uint8_t opcode);
/* True for opcodes that carry a message packet-id (every control opcode but P_ACK_V1). */
bool proto_has_msg_id(uint8_t opcode);
bool proto_sid_is_zero(const struct proto_sid *sid);
bool proto_sid_equal(const struct proto_sid *a, const struct proto_sid *b);
const char *proto_error_name(int error);

/* Decodes a whole plain (unwrapped) control packet. Returns 0 or a PROTO_E* code. */
int proto_decode_control(struct proto_control *out, const uint8_t *buf, size_t len)
	__attribute__((warn_unused_result));

/*
 * Decodes the part after the header (ack array onwards) of a control packet
 * whose opcode, key_id and sid are already set in out (tls-auth/tls-crypt
 * unwrap that part). Returns 0 or a PROTO_E* code.
 */
int proto_decode_control_body(struct proto_control *out, const uint8_t *body, size_t len)
	__attribute__((warn_unused_result));

/* Bytes an encoding of c takes: header + body. */
size_t proto_control_len(const struct proto_control *c);
size_t proto_control_body_len(const struct proto_control *c);

/* Encodes c into out; returns the length, or 0 if c is invalid or cap too small. */
size_t proto_encode_control(uint8_t *out, size_t cap, const struct proto_control *c)
	__attribute__((warn_unused_result));
size_t proto_encode_control_body(uint8_t *out, size_t cap, const struct proto_control *c)
	__attribute__((warn_unused_result));

/* Data header: P_DATA_V2 gives the peer-id, P_DATA_V1 gives PROTO_PEER_ID_UNDEF. */
struct proto_data {
	uint8_t opcode;
	uint8_t key_id;
	uint32_t peer_id;
	size_t header_len; /* 1 (V1) or 4 (V2): where the packet-id/ciphertext starts */
};

int proto_decode_data(struct proto_data *out, const uint8_t *buf, size_t len)
	__attribute__((warn_unused_result));

/* Writes the 4-byte P_DATA_V2 header. */
void proto_encode_data_v2(uint8_t out[PROTO_DATA_V2_HEADER_LEN], uint8_t key_id, uint32_t peer_id);

#endif
