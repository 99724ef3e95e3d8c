// SPDX-License-Identifier: MIT
#include <string.h>

#include "proto.h"

/* A bounded big-endian reader: every get fails instead of reading past the end. */
struct reader {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static bool get_u8(struct reader *r, uint8_t *v)
{
	if (r->len - r->off < 1)
		return false;
	*v = r->p[r->off++];
	return true;
}

static bool get_u32(struct reader *r, uint32_t *v)
{
	if (r->len - r->off < 4)
		return false;
	*v = (uint32_t)r->p[r->off] << 24 | (uint32_t)r->p[r->off + 1] << 16 |
	     (uint32_t)r->p[r->off + 2] << 8 | r->p[r->off + 3];
	r->off += 4;
	return true;
}

static bool get_sid(struct reader *r, struct proto_sid *sid)
{
	if (r->len - r->off < PROTO_SID_LEN)
		return false;
	memcpy(sid->bytes, r->p + r->off, PROTO_SID_LEN);
	r->off += PROTO_SID_LEN;
	return true;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

const char *proto_opcode_name(uint8_t opcode)
{
	switch (opcode) {
#define PROTO_OPCODE_CASE(name, value, text) \
	case value:                          \
		return text;
		PROTO_OPCODE_MAP(PROTO_OPCODE_CASE)
#undef PROTO_OPCODE_CASE
	}
	return "unknown";
}

bool proto_is_control(uint8_t opcode)
{
	switch (opcode) {
	case P_CONTROL_SOFT_RESET_V1:
	case P_CONTROL_V1:
	case P_ACK_V1:
	case P_CONTROL_HARD_RESET_CLIENT_V2:
	case P_CONTROL_HARD_RESET_SERVER_V2:
	case P_CONTROL_HARD_RESET_CLIENT_V3:
	case P_CONTROL_WKC_V1:
		return true;
	}
	return false; /* data opcodes, and the obsolete key-method-1 resets */
}

bool proto_has_msg_id(uint8_t opcode)
{
	return proto_is_control(opcode) && opcode != P_ACK_V1;
}

/* Opcodes whose payload must be empty (P_ACK_V1: no payload field at all). */
static bool allows_payload(uint8_t opcode)
{
	return opcode != P_ACK_V1 && opcode != P_CONTROL_SOFT_RESET_V1;
}

bool proto_sid_is_zero(const struct proto_sid *sid)
{
	static const struct proto_sid zero;

	return memcmp(sid->bytes, zero.bytes, PROTO_SID_LEN) == 0;
}

bool proto_sid_equal(const struct proto_sid *a, const struct proto_sid *b)
{
	return memcmp(a->bytes, b->bytes, PROTO_SID_LEN) == 0;
}

const char *proto_error_name(int error)
{
	switch (error) {
	case 0:
		return "ok";
	case PROTO_ETRUNC:
		return "truncated packet";
	case PROTO_EOPCODE:
		return "unexpected opcode";
	case PROTO_EACKS:
		return "too many acks";
	case PROTO_ENOACKS:
		return "ack packet without acks";
	case PROTO_EPAYLOAD:
		return "unexpected payload";
	case PROTO_EZEROSID:
		return "undefined (zero) session id";
	}
	return "unknown error";
}

int proto_decode_control_body(struct proto_control *out, const uint8_t *body, size_t len)
{
	struct reader r = { body, len, 0 };

	if (!get_u8(&r, &out->n_acks))
		return PROTO_ETRUNC;
	if (out->n_acks > PROTO_ACKS_MAX)
		return PROTO_EACKS;
	for (unsigned i = 0; i < out->n_acks; i++)
		if (!get_u32(&r, &out->acks[i]))
			return PROTO_ETRUNC;
	memset(&out->remote_sid, 0, sizeof(out->remote_sid));
	if (out->n_acks && !get_sid(&r, &out->remote_sid))
		return PROTO_ETRUNC;
	out->msg_id = 0;
	if (out->opcode == P_ACK_V1 && out->n_acks == 0)
		return PROTO_ENOACKS;
	if (proto_has_msg_id(out->opcode) && !get_u32(&r, &out->msg_id))
		return PROTO_ETRUNC;
	out->payload_len = r.len - r.off;
	out->payload = out->payload_len ? body + r.off : NULL;
	if (out->payload_len && !allows_payload(out->opcode))
		return PROTO_EPAYLOAD;
	return 0;
}

int proto_decode_control(struct proto_control *out, const uint8_t *buf, size_t len)
{
	struct reader r = { buf, len, 0 };
	uint8_t first;

	if (!get_u8(&r, &first) || !get_sid(&r, &out->sid))
		return PROTO_ETRUNC;
	out->opcode = proto_opcode(first);
	out->key_id = proto_key_id(first);
	if (!proto_is_control(out->opcode))
		return PROTO_EOPCODE;
	if (proto_sid_is_zero(&out->sid))
		return PROTO_EZEROSID;
	return proto_decode_control_body(out, buf + r.off, len - r.off);
}

size_t proto_control_body_len(const struct proto_control *c)
{
	return 1 + 4 * (size_t)c->n_acks + (c->n_acks ? PROTO_SID_LEN : 0) +
	       (proto_has_msg_id(c->opcode) ? 4 : 0) + c->payload_len;
}

size_t proto_control_len(const struct proto_control *c)
{
	return PROTO_HEADER_LEN + proto_control_body_len(c);
}

static bool is_encodable(const struct proto_control *c)
{
	if (!proto_is_control(c->opcode) || c->key_id > PROTO_KEY_ID_MAX)
		return false;
	if (c->n_acks > PROTO_ACKS_MAX || (c->opcode == P_ACK_V1 && c->n_acks == 0))
		return false;
	return !c->payload_len || (allows_payload(c->opcode) && c->payload);
}

size_t proto_encode_control_body(uint8_t *out, size_t cap, const struct proto_control *c)
{
	size_t len = proto_control_body_len(c);
	size_t off = 0;

	if (!is_encodable(c) || cap < len)
		return 0;
	out[off++] = c->n_acks;
	for (unsigned i = 0; i < c->n_acks; i++, off += 4)
		put_u32(out + off, c->acks[i]);
	if (c->n_acks) {
		memcpy(out + off, c->remote_sid.bytes, PROTO_SID_LEN);
		off += PROTO_SID_LEN;
	}
	if (proto_has_msg_id(c->opcode)) {
		put_u32(out + off, c->msg_id);
		off += 4;
	}
	if (c->payload_len)
		memcpy(out + off, c->payload, c->payload_len);
	return len;
}

size_t proto_encode_control(uint8_t *out, size_t cap, const struct proto_control *c)
{
	size_t body;

	if (cap < PROTO_HEADER_LEN || proto_sid_is_zero(&c->sid))
		return 0;
	body = proto_encode_control_body(out + PROTO_HEADER_LEN, cap - PROTO_HEADER_LEN, c);
	if (!body)
		return 0;
	out[0] = (uint8_t)(c->opcode << 3 | c->key_id);
	memcpy(out + 1, c->sid.bytes, PROTO_SID_LEN);
	return PROTO_HEADER_LEN + body;
}

int proto_decode_data(struct proto_data *out, const uint8_t *buf, size_t len)
{
	if (len < 1)
		return PROTO_ETRUNC;
	out->opcode = proto_opcode(buf[0]);
	out->key_id = proto_key_id(buf[0]);
	if (out->opcode == P_DATA_V1) {
		out->peer_id = PROTO_PEER_ID_UNDEF;
		out->header_len = 1;
		return 0;
	}
	if (out->opcode != P_DATA_V2)
		return PROTO_EOPCODE;
	if (len < PROTO_DATA_V2_HEADER_LEN)
		return PROTO_ETRUNC;
	out->peer_id = (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
	out->header_len = PROTO_DATA_V2_HEADER_LEN;
	return 0;
}

void proto_encode_data_v2(uint8_t out[PROTO_DATA_V2_HEADER_LEN], uint8_t key_id, uint32_t peer_id)
{
	out[0] = (uint8_t)(P_DATA_V2 << 3 | (key_id & 7));
	out[1] = (uint8_t)(peer_id >> 16);
	out[2] = (uint8_t)(peer_id >> 8);
	out[3] = (uint8_t)peer_id;
}
