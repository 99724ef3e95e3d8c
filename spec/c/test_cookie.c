// SPDX-License-Identifier: MIT
/*
 * The stateless server cookie: the same inputs give the same cookie, each
 * input changes it, it is accepted for the time slots -2..+1 and no others,
 * and the stateless reply and the session-opening rule match the guide.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "cookie.h"
#include "unit.h"

static struct sockaddr_in v4(const char *addr, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, addr, &sa.sin_addr);
	return sa;
}

static struct sockaddr_in6 v6(const char *addr, uint16_t port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

	inet_pton(AF_INET6, addr, &sa.sin6_addr);
	return sa;
}

static void test_inputs(const struct crypto *c, const struct cookie_key *k)
{
	struct sockaddr_in a = v4("10.0.0.2", 40000), b = v4("10.0.0.3", 40000),
			   d = v4("10.0.0.2", 40001);
	struct sockaddr_in6 e = v6("fd00::2", 40000);
	struct proto_sid sid = { { 1, 2, 3, 4, 5, 6, 7, 8 } },
			 sid2 = { { 1, 2, 3, 4, 5, 6, 7, 9 } };
	struct proto_sid x, y;
	struct cookie_key other = *k;

	CHECK(cookie_make(c, k, 1000, (struct sockaddr *)&a, &sid, &x) == 0 &&
		      cookie_make(c, k, 1000, (struct sockaddr *)&a, &sid, &y) == 0 &&
		      proto_sid_equal(&x, &y),
	      "deterministic");
	CHECK(!proto_sid_is_zero(&x), "never zero");
	CHECK(cookie_make(c, k, 1000, (struct sockaddr *)&b, &sid, &y) == 0 &&
		      !proto_sid_equal(&x, &y),
	      "address matters");
	CHECK(cookie_make(c, k, 1000, (struct sockaddr *)&d, &sid, &y) == 0 &&
		      !proto_sid_equal(&x, &y),
	      "port matters");
	CHECK(cookie_make(c, k, 1000, (struct sockaddr *)&e, &sid, &y) == 0 &&
		      !proto_sid_equal(&x, &y),
	      "family matters");
	CHECK(cookie_make(c, k, 1000, (struct sockaddr *)&a, &sid2, &y) == 0 &&
		      !proto_sid_equal(&x, &y),
	      "client sid matters");
	other.bytes[0] ^= 1;
	CHECK(cookie_make(c, &other, 1000, (struct sockaddr *)&a, &sid, &y) == 0 &&
		      !proto_sid_equal(&x, &y),
	      "key matters");
	CHECK(cookie_check(c, k, 1000, (struct sockaddr *)&a, &sid, &x), "accepted");
	CHECK(!cookie_check(c, k, 1000, (struct sockaddr *)&b, &sid, &x), "other address refused");
	CHECK(!cookie_check(c, k, 1000, (struct sockaddr *)&a, &sid2, &x), "other sid refused");
}

/* Made at `made`, checked at `now`: slots of 30 s, accepted for -2..+1. */
static const struct {
	uint64_t made, now;
	bool accepted;
} slots[] = {
	{ 3000, 3000, true },  { 3000, 3029, true }, { 3000, 3030, true },  { 3000, 3089, true },
	{ 3000, 3090, false }, { 3030, 3000, true }, { 3060, 3000, false }, { 10, 0, true },
	{ 0, 89, true },       { 0, 90, false },
};

static void test_slots(const struct crypto *c, const struct cookie_key *k)
{
	struct sockaddr_in a = v4("10.0.0.2", 40000);
	struct proto_sid sid = { { 9, 9, 9, 9, 9, 9, 9, 9 } }, x;

	CHECK(k->slot_seconds == 30, "30 s slots for a 60 s hand-window");
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		CHECK(cookie_make(c, k, slots[i].made, (struct sockaddr *)&a, &sid, &x) == 0,
		      "make");
		CHECK(cookie_check(c, k, slots[i].now, (struct sockaddr *)&a, &sid, &x) ==
			      slots[i].accepted,
		      "made at %llu, checked at %llu", (unsigned long long)slots[i].made,
		      (unsigned long long)slots[i].now);
	}
}

/* A cookie with any one bit of any byte changed is refused (crypto_equal compares all). */
static void test_compare(const struct crypto *c, const struct cookie_key *k)
{
	struct sockaddr_in a = v4("10.0.0.2", 40000);
	struct proto_sid sid = { { 7, 7, 7, 7, 7, 7, 7, 7 } }, x;
	int refused = 0;

	CHECK(cookie_make(c, k, 500, (struct sockaddr *)&a, &sid, &x) == 0, "make");
	for (int byte = 0; byte < PROTO_SID_LEN; byte++)
		for (int bit = 0; bit < 8; bit++) {
			struct proto_sid y = x;

			y.bytes[byte] ^= (uint8_t)(1 << bit);
			refused += !cookie_check(c, k, 500, (struct sockaddr *)&a, &sid, &y);
		}
	CHECK(refused == PROTO_SID_LEN * 8, "%d of %d one-bit changes refused", refused,
	      PROTO_SID_LEN * 8);
	CHECK(cookie_check(c, k, 500, (struct sockaddr *)&a, &sid, &x), "the cookie itself");
}

static void test_reply_and_open(void)
{
	const uint8_t client_reset[] = { 0x38, 0x21, 0x9c, 0xf6, 0x02, 0xf5, 0xd8,
					 0xed, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00 };
	const uint8_t server_reset[] = { 0x40, 0x15, 0xb3, 0x54, 0x44, 0x7a, 0x76, 0x4d, 0x3e,
					 0x01, 0x00, 0x00, 0x00, 0x00, 0x21, 0x9c, 0xf6, 0x02,
					 0xf5, 0xd8, 0xed, 0x02, 0x00, 0x00, 0x00, 0x00 };
	const struct proto_sid cookie = { { 0x15, 0xb3, 0x54, 0x44, 0x7a, 0x76, 0x4d, 0x3e } };
	struct proto_control reset, reply, p = { 0 };
	uint8_t out[64];

	CHECK(proto_decode_control(&reset, client_reset, sizeof(client_reset)) == 0, "decode");
	cookie_reply(&reply, &reset, &cookie);
	/* Byte for byte the 2.6.14 server's reset from the guide (section 1.6). */
	CHECK(proto_encode_control(out, sizeof(out), &reply) == sizeof(server_reset) &&
		      memcmp(out, server_reset, sizeof(server_reset)) == 0,
	      "stateless reply");
	p.opcode = P_CONTROL_V1;
	p.n_acks = 1;
	CHECK(cookie_opens_session(&p), "control with acks");
	p.opcode = P_ACK_V1;
	CHECK(cookie_opens_session(&p), "ack");
	p.opcode = P_CONTROL_WKC_V1;
	CHECK(cookie_opens_session(&p), "wkc");
	p.n_acks = 0;
	CHECK(!cookie_opens_session(&p), "no acks: cannot echo the cookie");
	p.n_acks = 1;
	p.key_id = 1;
	CHECK(!cookie_opens_session(&p), "key id 1");
	p.key_id = 0;
	p.opcode = P_CONTROL_HARD_RESET_CLIENT_V2;
	CHECK(!cookie_opens_session(&p), "another reset");
}

int main(void)
{
	char err[256];
	struct crypto *c = crypto_new(err, sizeof(err));
	struct cookie_key k;

	CHECK(c != NULL, "crypto: %s", err);
	CHECK(cookie_key_init(&k, 60) == 0, "key");
	if (c) {
		test_inputs(c, &k);
		test_slots(c, &k);
		test_compare(c, &k);
	}
	test_reply_and_open();
	crypto_free(c);
	return unit_report("test_cookie");
}
