// SPDX-License-Identifier: MIT
#include <string.h>

#include "compframe.h"
#include "dchan.h"
#include "proto.h"

/* OpenVPN's keepalive payload (ping.c: ping_string): consumed, never delivered. */
static const uint8_t PING_MAGIC[DCHAN_PING_LEN] = {
	0x2a, 0x18, 0x7b, 0xf3, 0x64, 0x1e, 0xb4, 0xcb,
	0x07, 0xed, 0x2d, 0x0a, 0x98, 0x1f, 0xc7, 0x48
};

void dchan_init(struct dchan *dc, uint32_t peer_id, const struct sockaddr *peer, socklen_t len)
{
	memset(dc, 0, sizeof(*dc));
	dc->peer_id = peer_id;
	dchan_set_peer(dc, peer, len);
}

void dchan_retire(struct dchan *dc, enum dchan_slot slot)
{
	struct dchan_key *k = &dc->keys[slot];

	if (k->live)
		data_key_clear(&k->key);
	memset(k, 0, sizeof(*k));
}

void dchan_clear(struct dchan *dc)
{
	for (int i = 0; i < DCHAN_SLOTS; i++)
		dchan_retire(dc, (enum dchan_slot)i);
}

void dchan_install(struct dchan *dc, enum dchan_slot slot, struct data_key *k, double started)
{
	struct dchan_key *to = &dc->keys[slot];

	dchan_retire(dc, slot);
	to->key = *k;
	to->live = true;
	to->started = started;
	memset(k, 0, sizeof(*k)); /* the contexts are ours now: the caller must not free them */
}

void dchan_promote(struct dchan *dc)
{
	dchan_retire(dc, DCHAN_PREVIOUS);
	dc->keys[DCHAN_PREVIOUS] = dc->keys[DCHAN_CURRENT];
	dc->keys[DCHAN_CURRENT] = dc->keys[DCHAN_NEXT];
	memset(&dc->keys[DCHAN_NEXT], 0, sizeof(dc->keys[DCHAN_NEXT]));
}

enum dchan_slot dchan_find(const struct dchan *dc, uint8_t key_id)
{
	for (int i = 0; i < DCHAN_SLOTS; i++)
		if (dc->keys[i].live && dc->keys[i].key.key_id == key_id)
			return (enum dchan_slot)i;
	return DCHAN_SLOTS;
}

void dchan_set_gates(struct dchan *dc, bool may_seal, bool may_open)
{
	dc->may_seal = may_seal;
	dc->may_open = may_open;
}

void dchan_set_lifetime(struct dchan *dc, double seconds)
{
	dc->lifetime = seconds;
}

void dchan_set_framing(struct dchan *dc, uint8_t framing)
{
	dc->framing = framing;
}

bool dchan_usable(const struct dchan *dc, enum dchan_slot slot, double now)
{
	const struct dchan_key *k = &dc->keys[slot];

	return k->live && (!dc->lifetime || now - k->started < dc->lifetime);
}

bool dchan_opened_within(const struct dchan *dc, enum dchan_slot slot, double now, double seconds)
{
	const struct dchan_key *k = &dc->keys[slot];

	return k->live && k->last_opened > 0 && now - k->last_opened < seconds;
}

void dchan_set_peer(struct dchan *dc, const struct sockaddr *peer, socklen_t len)
{
	if (len > sizeof(dc->peer))
		len = 0;
	memset(&dc->peer, 0, sizeof(dc->peer));
	memcpy(&dc->peer, peer, len);
	dc->peer_len = len;
}

bool dchan_is_peer(const struct dchan *dc, const struct sockaddr *addr, socklen_t len)
{
	return len == dc->peer_len && memcmp(&dc->peer, addr, len) == 0;
}

static int seal(struct dchan *dc, uint8_t *pkt, size_t len, double now)
{
	struct dchan_key *k = &dc->keys[DCHAN_CURRENT];
	int n;

	if (!dc->may_seal || !dchan_usable(dc, DCHAN_CURRENT, now))
		return DATA_EAUTH;
	n = data_seal(&k->key, dc->peer_id, pkt, len);
	if (n < 0)
		return n;
	k->bytes += len;
	dc->last_sent = now;
	return n;
}

int dchan_seal(struct dchan *dc, uint8_t *pkt, size_t len, double now)
{
	int n = seal(dc, pkt, len, now);

	if (n >= 0) {
		dc->counters.packets_out++;
		dc->counters.bytes_out += len;
	}
	return n;
}

/*
 * OpenVPN frames its pings for compression like any packet (forward.c
 * seals them through the compressor): a comp-lzo peer sends and expects one
 * header byte first; under stub-v2 the magic's first byte needs none.
 */
int dchan_seal_ping(struct dchan *dc, uint8_t pkt[DATA_OVERHEAD + DCHAN_PING_MAX + DATA_TAILROOM],
		    double now)
{
	size_t head = dc->framing == COMPFRAME_LZO;

	pkt[DATA_OVERHEAD] = COMPFRAME_UNCOMPRESSED;
	memcpy(pkt + DATA_OVERHEAD + head, PING_MAGIC, DCHAN_PING_LEN);
	return seal(dc, pkt, DCHAN_PING_LEN + head, now);
}

/* A keepalive, with the one header byte a comp-lzo peer puts in front. */
static bool is_ping(const struct dchan *dc, const uint8_t *p, size_t len)
{
	if (dc->framing == COMPFRAME_LZO && len == DCHAN_PING_LEN + 1 &&
	    p[0] == COMPFRAME_UNCOMPRESSED)
		p++, len--;
	return len == DCHAN_PING_LEN && memcmp(p, PING_MAGIC, DCHAN_PING_LEN) == 0;
}

int dchan_open(struct dchan *dc, uint8_t *pkt, size_t len, double now, bool *ping)
{
	enum dchan_slot slot;
	int n;

	*ping = false;
	if (len < DATA_OVERHEAD)
		return DATA_ETRUNC;
	slot = dchan_find(dc, proto_key_id(pkt[0]));
	if (!dc->may_open || slot == DCHAN_SLOTS || !dchan_usable(dc, slot, now))
		return DATA_EAUTH;
	n = data_open(&dc->keys[slot].key, pkt, len);
	if (n < 0)
		return n;
	dc->keys[slot].bytes += (uint64_t)n;
	dc->keys[slot].last_opened = now;
	dc->last_received = now;
	*ping = is_ping(dc, pkt + DATA_OVERHEAD, (size_t)n);
	if (*ping)
		return 0;
	dc->counters.packets_in++;
	dc->counters.bytes_in += (uint64_t)n;
	return n;
}
