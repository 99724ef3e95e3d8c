// SPDX-License-Identifier: MIT
/*
 * The data channel's key slots: a renegotiated key opens before it seals,
 * the previous key opens until it is retired, gates and the hard lifetime
 * stop sealing and opening, keepalives are recognised and not counted, and
 * floating is only reported (the address changes only when told).
 */
#include <netinet/in.h>
#include <string.h>

#include "compframe.h"
#include "dchan.h"
#include "unit.h"

enum { PAYLOAD = 100 };

/* A key block of one byte value: both ends derive the same keys from it. */
static void make_keys(const struct crypto *c, uint8_t fill, uint8_t key_id, struct data_key *server,
		      struct data_key *client)
{
	uint8_t block[KEYS_BLOCK_LEN];
	char err[128];

	memset(block, fill, sizeof(block));
	CHECK(data_key_init(server, c, "AES-256-GCM", block, true, false, key_id, err,
			    sizeof(err)) == 0 &&
		      data_key_init(client, c, "AES-256-GCM", block, false, false, key_id, err,
				    sizeof(err)) == 0,
	      "keys: %s", err);
}

/* Seals a packet on the client's channel and opens it on the server's: the opened length. */
static int carry(struct dchan *from, struct dchan *to, double now, bool *ping)
{
	uint8_t pkt[DATA_OVERHEAD + PAYLOAD + DATA_TAILROOM];
	int n;

	memset(pkt + DATA_OVERHEAD, 0x42, PAYLOAD);
	n = dchan_seal(from, pkt, PAYLOAD, now);
	if (n < 0)
		return n;
	return dchan_open(to, pkt, (size_t)n, now, ping);
}

static void open_both(struct dchan *a, struct dchan *b)
{
	dchan_set_gates(a, true, true);
	dchan_set_gates(b, true, true);
}

static void test_slots(const struct crypto *c)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(1194) };
	struct dchan srv, cli;
	struct data_key ks, kc;
	bool ping;

	dchan_init(&srv, 7, (struct sockaddr *)&addr, sizeof(addr));
	dchan_init(&cli, 7, (struct sockaddr *)&addr, sizeof(addr));
	CHECK(carry(&cli, &srv, 1, &ping) == DATA_EAUTH, "no key, no sealing");
	make_keys(c, 1, 0, &ks, &kc);
	dchan_install(&srv, DCHAN_CURRENT, &ks, 0);
	dchan_install(&cli, DCHAN_CURRENT, &kc, 0);
	CHECK(ks.seal == NULL && kc.open == NULL, "install takes the contexts over");
	CHECK(carry(&cli, &srv, 1, &ping) == DATA_EAUTH, "closed gates: no sealing");
	open_both(&srv, &cli);
	CHECK(carry(&cli, &srv, 1, &ping) == PAYLOAD && !ping, "key 0 carries");
	CHECK(srv.counters.packets_in == 1 && srv.counters.bytes_in == PAYLOAD &&
		      cli.counters.packets_out == 1 && srv.keys[DCHAN_CURRENT].bytes == PAYLOAD,
	      "counted");

	/* Renegotiation: the client switches to key 1 first; the server opens it from NEXT. */
	make_keys(c, 2, 1, &ks, &kc);
	dchan_install(&srv, DCHAN_NEXT, &ks, 10);
	dchan_install(&cli, DCHAN_NEXT, &kc, 10);
	dchan_promote(&cli);
	CHECK(carry(&cli, &srv, 11, &ping) == PAYLOAD, "a renegotiated key opens before promotion");
	CHECK(dchan_find(&srv, 1) == DCHAN_NEXT && dchan_find(&srv, 0) == DCHAN_CURRENT,
	      "found by key_id");
	dchan_promote(&srv);
	CHECK(dchan_find(&srv, 1) == DCHAN_CURRENT && dchan_find(&srv, 0) == DCHAN_PREVIOUS,
	      "promotion moves current to previous");
	CHECK(carry(&srv, &cli, 12, &ping) == PAYLOAD, "the new key seals after promotion");

	/* A packet still sealed with key 0 (in flight) opens with the previous key. */
	{
		uint8_t pkt[DATA_OVERHEAD + PAYLOAD + DATA_TAILROOM];
		struct dchan old = cli;
		int n;

		old.keys[DCHAN_CURRENT] = cli.keys[DCHAN_PREVIOUS];
		n = dchan_seal(&old, pkt, PAYLOAD, 12);
		CHECK(n > 0 && dchan_open(&srv, pkt, (size_t)n, 12, &ping) == PAYLOAD,
		      "the previous key still opens");
		CHECK(dchan_opened_within(&srv, DCHAN_PREVIOUS, 14, 5) &&
			      !dchan_opened_within(&srv, DCHAN_PREVIOUS, 17.5, 5) &&
			      dchan_opened_within(&srv, DCHAN_CURRENT, 14, 5),
		      "each key tells when it last opened a packet (the peer's switch)");
		cli.keys[DCHAN_PREVIOUS].key.next_packet_id =
			old.keys[DCHAN_CURRENT].key.next_packet_id;
		dchan_retire(&srv, DCHAN_PREVIOUS);
		n = dchan_seal(&old, pkt, PAYLOAD, 13);
		CHECK(n > 0 && dchan_open(&srv, pkt, (size_t)n, 13, &ping) == DATA_EAUTH,
		      "a retired key opens nothing");
	}
	dchan_clear(&srv);
	dchan_clear(&cli);
}

static void test_gates_and_lifetime(const struct crypto *c)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(1194) };
	struct sockaddr_in moved = addr;
	struct dchan srv, cli;
	struct data_key ks, kc;
	uint8_t pkt[DATA_OVERHEAD + DCHAN_PING_MAX + DATA_TAILROOM];
	bool ping;
	int n;

	dchan_init(&srv, 3, (struct sockaddr *)&addr, sizeof(addr));
	dchan_init(&cli, 3, (struct sockaddr *)&addr, sizeof(addr));
	make_keys(c, 3, 0, &ks, &kc);
	dchan_install(&srv, DCHAN_CURRENT, &ks, 100);
	dchan_install(&cli, DCHAN_CURRENT, &kc, 100);
	open_both(&srv, &cli);
	dchan_set_gates(&srv, false, true);
	CHECK(carry(&srv, &cli, 101, &ping) == DATA_EAUTH, "the seal gate holds");
	CHECK(carry(&cli, &srv, 101, &ping) == PAYLOAD, "while opening goes on");
	dchan_set_gates(&srv, true, false);
	CHECK(carry(&cli, &srv, 101, &ping) == DATA_EAUTH, "the open gate holds");
	dchan_set_gates(&srv, true, true);

	n = dchan_seal_ping(&cli, pkt, 102);
	CHECK(n > 0 && dchan_open(&srv, pkt, (size_t)n, 102, &ping) == 0 && ping,
	      "a keepalive is recognised");
	CHECK(srv.counters.packets_in == 1 && srv.last_received == 102, "not counted, but heard");
	/* A comp-lzo peer's keepalive carries its framing byte, both ways. */
	dchan_set_framing(&cli, COMPFRAME_LZO);
	dchan_set_framing(&srv, COMPFRAME_LZO);
	n = dchan_seal_ping(&cli, pkt, 102);
	CHECK(n == DATA_OVERHEAD + DCHAN_PING_MAX &&
		      dchan_open(&srv, pkt, (size_t)n, 102, &ping) == 0 && ping,
	      "a framed keepalive is sealed with its byte and recognised: %d", n);
	dchan_set_framing(&srv, COMPFRAME_NONE);
	n = dchan_seal_ping(&cli, pkt, 102);
	CHECK(dchan_open(&srv, pkt, (size_t)n, 102, &ping) == DCHAN_PING_MAX && !ping,
	      "without framing, 17 bytes are no keepalive");
	dchan_set_framing(&cli, COMPFRAME_NONE);
	CHECK(srv.counters.packets_in == 2, "counted as data then");

	dchan_set_lifetime(&srv, 60);
	CHECK(carry(&cli, &srv, 159, &ping) == PAYLOAD, "within the lifetime");
	CHECK(carry(&cli, &srv, 160, &ping) == DATA_EAUTH, "past the lifetime: nothing opens");
	CHECK(carry(&srv, &cli, 160, &ping) == DATA_EAUTH, "nor seals");

	moved.sin_port = htons(4000);
	CHECK(dchan_is_peer(&srv, (struct sockaddr *)&addr, sizeof(addr)) &&
		      !dchan_is_peer(&srv, (struct sockaddr *)&moved, sizeof(moved)),
	      "a new address is seen");
	dchan_set_peer(&srv, (struct sockaddr *)&moved, sizeof(moved));
	CHECK(dchan_is_peer(&srv, (struct sockaddr *)&moved, sizeof(moved)),
	      "and followed only when told");
	dchan_clear(&srv);
	dchan_clear(&cli);
}

int main(void)
{
	char err[128];
	struct crypto *c = crypto_new(err, sizeof(err));

	CHECK(c != NULL, "crypto: %s", err);
	if (!c)
		return unit_report("dchan");
	test_slots(c);
	test_gates_and_lifetime(c);
	crypto_free(c);
	return unit_report("dchan");
}
