// SPDX-License-Identifier: MIT
#include <netinet/in.h>
#include <string.h>

#include "cookie.h"

int cookie_key_init(struct cookie_key *k, unsigned hand_window_seconds)
{
	k->slot_seconds = (hand_window_seconds + 1) / 2;
	if (k->slot_seconds == 0)
		k->slot_seconds = 1;
	return crypto_random(k->bytes, sizeof(k->bytes));
}

/*
 * The MAC input: slot (8 bytes), family (1), address (4 or 16), port (2),
 * client sid (8). Built from the address fields, not the raw sockaddr, so
 * that padding bytes cannot change the cookie.
 */
static size_t mac_input(uint8_t *buf, uint64_t slot, const struct sockaddr *peer,
			const struct proto_sid *sid)
{
	size_t n = 0;

	for (int i = 7; i >= 0; i--)
		buf[n++] = (uint8_t)(slot >> (8 * i));
	buf[n++] = (uint8_t)peer->sa_family;
	if (peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)peer;

		memcpy(buf + n, &in6->sin6_addr, 16);
		n += 16;
		memcpy(buf + n, &in6->sin6_port, 2);
	} else {
		const struct sockaddr_in *in = (const struct sockaddr_in *)peer;

		memcpy(buf + n, &in->sin_addr, 4);
		n += 4;
		memcpy(buf + n, &in->sin_port, 2);
	}
	n += 2;
	memcpy(buf + n, sid->bytes, PROTO_SID_LEN);
	return n + PROTO_SID_LEN;
}

static int make_for_slot(const struct crypto *c, const struct cookie_key *k, uint64_t slot,
			 const struct sockaddr *peer, const struct proto_sid *sid,
			 struct proto_sid *cookie)
{
	uint8_t input[8 + 1 + 16 + 2 + PROTO_SID_LEN], mac[CRYPTO_SHA256_LEN];
	size_t n = mac_input(input, slot, peer, sid);

	if (crypto_hmac_sha256(c, k->bytes, sizeof(k->bytes), input, n, mac) < 0)
		return -1;
	memcpy(cookie->bytes, mac, PROTO_SID_LEN);
	/* An all-zero session id means "undefined" on the wire; never hand one out. */
	if (proto_sid_is_zero(cookie))
		cookie->bytes[0] = 1;
	return 0;
}

int cookie_make(const struct crypto *c, const struct cookie_key *k, uint64_t now,
		const struct sockaddr *peer, const struct proto_sid *client_sid,
		struct proto_sid *cookie)
{
	return make_for_slot(c, k, now / k->slot_seconds, peer, client_sid, cookie);
}

bool cookie_check(const struct crypto *c, const struct cookie_key *k, uint64_t now,
		  const struct sockaddr *peer, const struct proto_sid *client_sid,
		  const struct proto_sid *cookie)
{
	uint64_t slot = now / k->slot_seconds;
	struct proto_sid expected;

	for (int64_t d = -COOKIE_SLOTS_BEFORE; d <= COOKIE_SLOTS_AFTER; d++) {
		if (d < 0 && slot < (uint64_t)-d)
			continue;
		/* In constant time: a byte-by-byte early exit would tell a forger, by
		 * timing, how many leading bytes of its guess were right. */
		if (make_for_slot(c, k, slot + (uint64_t)d, peer, client_sid, &expected) == 0 &&
		    crypto_equal(expected.bytes, cookie->bytes, PROTO_SID_LEN))
			return true;
	}
	return false;
}

void cookie_reply(struct proto_control *reply, const struct proto_control *client_reset,
		  const struct proto_sid *cookie)
{
	memset(reply, 0, sizeof(*reply));
	reply->opcode = P_CONTROL_HARD_RESET_SERVER_V2;
	reply->key_id = 0;
	reply->sid = *cookie;
	reply->n_acks = 1;
	reply->acks[0] = 0;
	reply->remote_sid = client_reset->sid;
	reply->msg_id = 0;
}

bool cookie_opens_session(const struct proto_control *p)
{
	return (p->opcode == P_CONTROL_V1 || p->opcode == P_ACK_V1 ||
		p->opcode == P_CONTROL_WKC_V1) &&
	       p->key_id == 0 && p->n_acks > 0;
}
