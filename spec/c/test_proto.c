// SPDX-License-Identifier: MIT
/*
 * The packet codec against the real packets of a 2.6.14 handshake
 * (openvpn-protocol.md section 1.6), round trips, every truncation, and
 * each decoding error.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "unit.h"

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = 0;

	for (const char *p = hex; *p && n < cap;) {
		if (*p == ' ' || *p == '|') {
			p++;
			continue;
		}
		char byte[3] = { p[0], p[1], 0 };
		out[n++] = (uint8_t)strtoul(byte, NULL, 16);
		p += 2;
	}
	return n;
}

#define CLIENT_SID "21 9c f6 02 f5 d8 ed 02"
#define SERVER_SID "15 b3 54 44 7a 76 4d 3e"

static const struct {
	const char *name;
	const char *hex;
	uint8_t opcode, key_id, n_acks;
	uint32_t acks[4];
	const char *sid, *remote_sid;
	uint32_t msg_id;
	size_t payload_len;
} real_packets[] = {
	{ "client hard reset",
	  "38 " CLIENT_SID " 00 00 00 00 00",
	  P_CONTROL_HARD_RESET_CLIENT_V2,
	  0,
	  0,
	  { 0 },
	  CLIENT_SID,
	  NULL,
	  0,
	  0 },
	{ "server hard reset",
	  "40 " SERVER_SID " 01 00 00 00 00 " CLIENT_SID " 00 00 00 00",
	  P_CONTROL_HARD_RESET_SERVER_V2,
	  0,
	  1,
	  { 0 },
	  SERVER_SID,
	  CLIENT_SID,
	  0,
	  0 },
	{ "first control packet (ClientHello start)",
	  "20 " CLIENT_SID " 01 00 00 00 00 " SERVER_SID
	  " 00 00 00 01 16 03 01 01 10 01 00 01 0c 03 03",
	  P_CONTROL_V1,
	  0,
	  1,
	  { 0 },
	  CLIENT_SID,
	  SERVER_SID,
	  1,
	  11 },
	{ "dedicated ack",
	  "28 " CLIENT_SID " 02 00 00 00 01 00 00 00 00 " SERVER_SID,
	  P_ACK_V1,
	  0,
	  2,
	  { 1, 0 },
	  CLIENT_SID,
	  SERVER_SID,
	  0,
	  0 },
	{ "client reset seen over TCP",
	  "38 54 2c a9 be 2a 68 ad 8a 00 00 00 00 00",
	  P_CONTROL_HARD_RESET_CLIENT_V2,
	  0,
	  0,
	  { 0 },
	  "54 2c a9 be 2a 68 ad 8a",
	  NULL,
	  0,
	  0 },
	{ "soft reset of key 1",
	  "19 " CLIENT_SID " 00 00 00 00 00",
	  P_CONTROL_SOFT_RESET_V1,
	  1,
	  0,
	  { 0 },
	  CLIENT_SID,
	  NULL,
	  0,
	  0 },
};

static void check_fields(size_t i, const struct proto_control *c)
{
	uint8_t sid[PROTO_SID_LEN];

	CHECK(c->opcode == real_packets[i].opcode, "%s: opcode %u", real_packets[i].name,
	      c->opcode);
	CHECK(c->key_id == real_packets[i].key_id, "%s: key id", real_packets[i].name);
	CHECK(c->n_acks == real_packets[i].n_acks, "%s: n_acks %u", real_packets[i].name,
	      c->n_acks);
	for (unsigned a = 0; a < c->n_acks && a < 4; a++)
		CHECK(c->acks[a] == real_packets[i].acks[a], "%s: ack %u", real_packets[i].name, a);
	unhex(sid, sizeof(sid), real_packets[i].sid);
	CHECK(memcmp(c->sid.bytes, sid, PROTO_SID_LEN) == 0, "%s: sid", real_packets[i].name);
	if (real_packets[i].remote_sid) {
		unhex(sid, sizeof(sid), real_packets[i].remote_sid);
		CHECK(memcmp(c->remote_sid.bytes, sid, PROTO_SID_LEN) == 0, "%s: remote sid",
		      real_packets[i].name);
	}
	CHECK(c->msg_id == real_packets[i].msg_id, "%s: msg id", real_packets[i].name);
	CHECK(c->payload_len == real_packets[i].payload_len, "%s: payload %zu",
	      real_packets[i].name, c->payload_len);
}

static void test_real_packets(void)
{
	for (size_t i = 0; i < sizeof(real_packets) / sizeof(real_packets[0]); i++) {
		uint8_t pkt[256], again[256];
		size_t len = unhex(pkt, sizeof(pkt), real_packets[i].hex);
		struct proto_control c;
		int rc = proto_decode_control(&c, pkt, len);

		CHECK(rc == 0, "%s: %s", real_packets[i].name, proto_error_name(rc));
		if (rc)
			continue;
		check_fields(i, &c);
		CHECK(proto_control_len(&c) == len, "%s: length", real_packets[i].name);
		CHECK(proto_encode_control(again, sizeof(again), &c) == len, "%s: encode",
		      real_packets[i].name);
		CHECK(memcmp(again, pkt, len) == 0, "%s: round trip", real_packets[i].name);
		CHECK(proto_encode_control(again, len - 1, &c) == 0, "%s: no room",
		      real_packets[i].name);
		/* Without a payload, every shorter prefix is a truncated packet. */
		for (size_t cut = 0; !real_packets[i].payload_len && cut < len; cut++)
			CHECK(proto_decode_control(&c, pkt, cut) == PROTO_ETRUNC, "%s: prefix %zu",
			      real_packets[i].name, cut);
	}
}

static const struct {
	const char *name;
	const char *hex;
	int error;
} bad_packets[] = {
	{ "empty", "", PROTO_ETRUNC },
	{ "obsolete client reset v1", "08 " CLIENT_SID " 00 00 00 00 00", PROTO_EOPCODE },
	{ "obsolete server reset v1", "10 " CLIENT_SID " 00 00 00 00 00", PROTO_EOPCODE },
	{ "data v1 as control", "30 " CLIENT_SID " 00 00 00 00 00", PROTO_EOPCODE },
	{ "data v2 as control", "48 " CLIENT_SID " 00 00 00 00 00", PROTO_EOPCODE },
	{ "opcode 0", "00 " CLIENT_SID " 00 00 00 00 00", PROTO_EOPCODE },
	{ "opcode 12", "60 " CLIENT_SID " 00 00 00 00 00", PROTO_EOPCODE },
	{ "opcode 31", "f8 " CLIENT_SID " 00 00 00 00 00", PROTO_EOPCODE },
	{ "nine acks", "20 " CLIENT_SID " 09", PROTO_EACKS },
	{ "ack without acks", "28 " CLIENT_SID " 00", PROTO_ENOACKS },
	{ "ack with a trailing byte", "28 " CLIENT_SID " 01 00 00 00 00 " SERVER_SID " 00",
	  PROTO_EPAYLOAD },
	{ "soft reset with payload", "18 " CLIENT_SID " 00 00 00 00 00 ff", PROTO_EPAYLOAD },
	{ "zero session id", "38 00 00 00 00 00 00 00 00 00 00 00 00 00", PROTO_EZEROSID },
	{ "ack count beyond the data", "20 " CLIENT_SID " 02 00 00 00 00", PROTO_ETRUNC },
	{ "remote sid cut", "20 " CLIENT_SID " 01 00 00 00 00 15 b3", PROTO_ETRUNC },
};

static void test_bad_packets(void)
{
	for (size_t i = 0; i < sizeof(bad_packets) / sizeof(bad_packets[0]); i++) {
		uint8_t pkt[256];
		size_t len = unhex(pkt, sizeof(pkt), bad_packets[i].hex);
		struct proto_control c;
		int rc = proto_decode_control(&c, pkt, len);

		CHECK(rc == bad_packets[i].error, "%s: got %s, want %s", bad_packets[i].name,
		      proto_error_name(rc), proto_error_name(bad_packets[i].error));
	}
}

static void test_encode_refuses(void)
{
	struct proto_control c = { .opcode = P_ACK_V1, .n_acks = 0 };
	uint8_t out[128];

	memset(c.sid.bytes, 1, PROTO_SID_LEN);
	CHECK(proto_encode_control(out, sizeof(out), &c) == 0, "ack without acks");
	c.opcode = P_CONTROL_V1;
	c.n_acks = PROTO_ACKS_MAX + 1;
	CHECK(proto_encode_control(out, sizeof(out), &c) == 0, "too many acks");
	c.n_acks = 0;
	c.key_id = 8;
	CHECK(proto_encode_control(out, sizeof(out), &c) == 0, "key id 8");
	c.key_id = 0;
	c.opcode = P_DATA_V2;
	CHECK(proto_encode_control(out, sizeof(out), &c) == 0, "data opcode");
	c.opcode = P_CONTROL_V1;
	memset(c.sid.bytes, 0, PROTO_SID_LEN);
	CHECK(proto_encode_control(out, sizeof(out), &c) == 0, "zero sid");
	memset(c.sid.bytes, 1, PROTO_SID_LEN);
	c.opcode = P_CONTROL_SOFT_RESET_V1;
	c.payload = out;
	c.payload_len = 1;
	CHECK(proto_encode_control(out + 64, 64, &c) == 0, "soft reset payload");
}

static void test_data_header(void)
{
	uint8_t hdr[PROTO_DATA_V2_HEADER_LEN];
	struct proto_data d;
	const uint8_t v1[] = { 0x31, 0xaa };

	proto_encode_data_v2(hdr, 2, 0x123456);
	CHECK(hdr[0] == 0x4a && hdr[1] == 0x12 && hdr[2] == 0x34 && hdr[3] == 0x56, "encode v2");
	CHECK(proto_decode_data(&d, hdr, sizeof(hdr)) == 0, "decode v2");
	CHECK(d.opcode == P_DATA_V2 && d.key_id == 2 && d.peer_id == 0x123456 && d.header_len == 4,
	      "v2 fields");
	CHECK(proto_decode_data(&d, hdr, 3) == PROTO_ETRUNC, "v2 truncated");
	CHECK(proto_decode_data(&d, v1, sizeof(v1)) == 0 && d.opcode == P_DATA_V1 &&
		      d.key_id == 1 && d.peer_id == PROTO_PEER_ID_UNDEF && d.header_len == 1,
	      "v1");
	CHECK(proto_decode_data(&d, (const uint8_t *)"\x20", 1) == PROTO_EOPCODE,
	      "control as data");
	CHECK(proto_decode_data(&d, NULL, 0) == PROTO_ETRUNC, "empty");
}

static void test_names(void)
{
	CHECK(strcmp(proto_opcode_name(P_DATA_V2), "P_DATA_V2") == 0, "name");
	CHECK(strcmp(proto_opcode_name(0), "unknown") == 0, "unknown name");
	CHECK(proto_has_msg_id(P_CONTROL_V1) && !proto_has_msg_id(P_ACK_V1) &&
		      !proto_has_msg_id(P_DATA_V2),
	      "msg id presence");
}

int main(void)
{
	test_real_packets();
	test_bad_packets();
	test_encode_refuses();
	test_data_header();
	test_names();
	return unit_report("test_proto");
}
