// SPDX-License-Identifier: MIT
/*
 * The reliability layer: windows, fragmentation, retransmission timing,
 * fast retransmit, ack lists, and two endpoints exchanging byte streams
 * through a channel that loses, duplicates and reorders packets. Payloads
 * are held only while they wait: a quiet layer holds none, and still
 * re-acks a packet the peer resends, and the window of slots goes too.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "reliable.h"
#include "unit.h"

/* What the window of slots costs while anything is in flight. */
#define W sizeof(struct reliable_window)

static void test_window_and_fragments(void)
{
	struct reliable r;
	uint8_t data[5000];
	const struct reliable_out *o;
	size_t lens[8], n = 0;

	reliable_init(&r);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	CHECK(reliable_queue_stream(&r, P_CONTROL_V1, data, sizeof(data), 1200, 0) == 5000,
	      "stream queued");
	while ((o = reliable_next_transmit(&r, 0)) && n < 8) {
		CHECK(o->msg_id == n, "ids in order: %u", o->msg_id);
		CHECK(memcmp(o->payload, data + 1200 * n, o->len) == 0, "fragment %zu content", n);
		lens[n++] = o->len;
	}
	CHECK(n == 5 && lens[0] == 1200 && lens[3] == 1200 && lens[4] == 200, "5 fragments");
	CHECK(reliable_queue(&r, P_CONTROL_V1, data, 10, 0) == 5, "sixth fits");
	CHECK(!reliable_can_queue(&r), "window full at %d", RELIABLE_SEND_WINDOW);
	CHECK(reliable_queue(&r, P_CONTROL_V1, data, 10, 0) == -1, "seventh refused");
	CHECK(reliable_queue_stream(&r, P_CONTROL_V1, data, 10, 1200, 0) == 0, "stream refused");
	reliable_on_ack(&r, 2);
	CHECK(reliable_in_flight(&r) == 5 && reliable_can_queue(&r), "ack frees a slot");
	reliable_on_ack(&r, 2);
	reliable_on_ack(&r, 99);
	CHECK(reliable_in_flight(&r) == 5, "re-ack and unknown ack are ignored");
	CHECK(reliable_queue(&r, P_CONTROL_V1, data, RELIABLE_PAYLOAD_MAX + 1, 0) == -1, "too big");
	CHECK(reliable_held_bytes(&r) == W + 4 * 1200 + 200 + 10 - 1200,
	      "held: what waits for acks");
	reliable_free(&r);
	CHECK(reliable_held_bytes(&r) == 0 && reliable_in_flight(&r) == 0, "freed");
}

/* { time of the call, expected id or -1 for none } */
static const struct {
	uint64_t now;
	int id;
	int64_t next_due;
} timing[] = {
	{ 0, 0, 2000 },	   { 1999, -1, 1 },    { 2000, 0, 4000 },  { 5999, -1, 1 },
	{ 6000, 0, 8000 }, { 14000, 0, 8000 }, { 22000, 0, 8000 },
};

static void test_retransmit_timing(void)
{
	struct reliable r;

	reliable_init(&r);
	CHECK(reliable_next_due(&r, 0) == -1, "nothing in flight");
	CHECK(reliable_queue(&r, P_CONTROL_V1, (const uint8_t *)"x", 1, 0) == 0, "queue");
	for (size_t i = 0; i < sizeof(timing) / sizeof(timing[0]); i++) {
		const struct reliable_out *o = reliable_next_transmit(&r, timing[i].now);

		CHECK((o ? (int)o->msg_id : -1) == timing[i].id, "step %zu at %llu", i,
		      (unsigned long long)timing[i].now);
		CHECK(reliable_next_due(&r, timing[i].now) == timing[i].next_due,
		      "step %zu: next due %lld", i,
		      (long long)reliable_next_due(&r, timing[i].now));
	}
	reliable_on_ack(&r, 0);
	CHECK(reliable_next_due(&r, 20000) == -1, "acked: nothing due");
	CHECK(reliable_held_bytes(&r) == 0, "acked: its payload is freed");
}

static void test_fast_retransmit(void)
{
	struct reliable r;

	reliable_init(&r);
	for (int i = 0; i < 5; i++)
		CHECK(reliable_queue(&r, P_CONTROL_V1, (const uint8_t *)"x", 1, 0) == i, "queue %d",
		      i);
	while (reliable_next_transmit(&r, 0))
		;
	reliable_on_ack(&r, 1);
	reliable_on_ack(&r, 2);
	CHECK(reliable_next_transmit(&r, 100) == NULL, "two later acks: wait");
	reliable_on_ack(&r, 3);
	const struct reliable_out *o = reliable_next_transmit(&r, 100);
	CHECK(o && o->msg_id == 0, "three later acks: id 0 resent early");
	CHECK(reliable_next_transmit(&r, 100) == NULL, "only once");
	/* A slot used again starts clean: its new packet can be fast-retransmitted too. */
	reliable_on_ack(&r, 0);
	reliable_on_ack(&r, 4);
	for (int i = 5; i < 9; i++)
		CHECK(reliable_queue(&r, P_CONTROL_V1, (const uint8_t *)"y", 1, 200) == i,
		      "queue %d", i);
	while (reliable_next_transmit(&r, 200))
		;
	for (uint32_t id = 6; id < 9; id++)
		reliable_on_ack(&r, id);
	o = reliable_next_transmit(&r, 300);
	CHECK(o && o->msg_id == 5, "a reused slot: id 5 resent early");
	reliable_free(&r);
}

/* { id received, verdict, ids the next take_acks(8) returns } */
static const struct {
	uint32_t id;
	enum reliable_verdict verdict;
	int delivered; /* payloads deliverable after this packet */
} receives[] = {
	{ 0, RELIABLE_ACCEPTED, 1 },	   { 2, RELIABLE_ACCEPTED, 0 },
	{ 2, RELIABLE_DUPLICATE, 0 },	   { 1, RELIABLE_ACCEPTED, 2 },
	{ 0, RELIABLE_DUPLICATE, 0 },	   { 15, RELIABLE_OUT_OF_WINDOW, 0 },
	{ 16, RELIABLE_OUT_OF_WINDOW, 0 }, { 14, RELIABLE_ACCEPTED, 0 },
};

static void test_receive(void)
{
	struct reliable r;
	uint32_t acks[RELIABLE_ACKS_KEPT];
	uint8_t opcode;
	const uint8_t *payload;
	size_t len;

	reliable_init(&r);
	for (size_t i = 0; i < sizeof(receives) / sizeof(receives[0]); i++) {
		uint8_t byte = (uint8_t)receives[i].id;
		int delivered = 0;

		CHECK(reliable_on_receive(&r, receives[i].id, P_CONTROL_V1, &byte, 1) ==
			      receives[i].verdict,
		      "packet %zu (id %u)", i, receives[i].id);
		while (reliable_deliver(&r, &opcode, &payload, &len)) {
			CHECK(len == 1 && payload[0] == r.next_recv_id - 1, "in order");
			delivered++;
		}
		CHECK(delivered == receives[i].delivered, "packet %zu: delivered %d", i, delivered);
	}
	CHECK(r.next_recv_id == 3, "next expected 3");
	/* Acked: 0,2,2,1,0,14 -> newest first, each once: 14, 0, 1, 2 */
	CHECK(reliable_has_unsent_acks(&r), "acks pending");
	CHECK(reliable_take_acks(&r, acks, 4) == 4 && acks[0] == 14 && acks[1] == 0 &&
		      acks[2] == 1 && acks[3] == 2,
	      "newest first: %u %u %u %u", acks[0], acks[1], acks[2], acks[3]);
	CHECK(!reliable_has_unsent_acks(&r), "all sent");
	CHECK(reliable_take_acks(&r, acks, 2) == 2 && acks[0] == 14, "re-acks of recent ids");
	CHECK(reliable_on_receive(&r, 5, P_CONTROL_V1, NULL, RELIABLE_PAYLOAD_MAX + 1) ==
		      RELIABLE_TOO_BIG,
	      "too big");
	CHECK(reliable_held_bytes(&r) == W + 1, "held: id 14, waiting for 3..13");
	reliable_free(&r);
}

/*
 * Once everything sent is acked and everything received delivered, no
 * payload is held; a resent packet (our ack was lost) is acked again all
 * the same, without being kept or delivered twice.
 */
static void test_quiet_holds_nothing(void)
{
	struct reliable r;
	uint8_t big[RELIABLE_PAYLOAD_MAX], opcode;
	const uint8_t *payload;
	uint32_t acks[RELIABLE_ACKS_KEPT];
	size_t len;

	memset(big, 0xa5, sizeof(big));
	reliable_init(&r);
	CHECK(reliable_queue(&r, P_CONTROL_V1, big, sizeof(big), 0) == 0, "queued");
	CHECK(reliable_on_receive(&r, 0, P_CONTROL_V1, big, sizeof(big)) == RELIABLE_ACCEPTED,
	      "received");
	CHECK(reliable_held_bytes(&r) == W + 2 * sizeof(big), "both held while they wait");
	CHECK(reliable_deliver(&r, &opcode, &payload, &len) && len == sizeof(big) &&
		      payload[len - 1] == 0xa5,
	      "delivered");
	CHECK(reliable_held_bytes(&r) == W + 2 * sizeof(big),
	      "the delivered one until the next call");
	CHECK(!reliable_deliver(&r, &opcode, &payload, &len), "nothing more in order");
	reliable_on_ack(&r, 0);
	CHECK(reliable_held_bytes(&r) == 0 && !r.w, "quiet: nothing held, not even the window");
	CHECK(reliable_take_acks(&r, acks, 4) == 1 && acks[0] == 0, "our ack of id 0");
	CHECK(reliable_on_receive(&r, 0, P_CONTROL_V1, big, sizeof(big)) == RELIABLE_DUPLICATE,
	      "resent: a duplicate");
	CHECK(reliable_has_unsent_acks(&r) && reliable_take_acks(&r, acks, 4) == 1 && acks[0] == 0,
	      "acked again");
	CHECK(!reliable_deliver(&r, &opcode, &payload, &len) && reliable_held_bytes(&r) == 0,
	      "not kept, not delivered again");
	reliable_free(&r);
}

static void test_ack_list_bounded(void)
{
	struct reliable r;
	uint32_t acks[RELIABLE_ACKS_KEPT];
	size_t n;

	reliable_init(&r);
	for (uint32_t id = 0; id < 40; id++) {
		CHECK(reliable_on_receive(&r, id, P_CONTROL_V1, NULL, 0) == RELIABLE_ACCEPTED,
		      "id %u", id);
		uint8_t op;
		const uint8_t *p;
		size_t l;
		while (reliable_deliver(&r, &op, &p, &l))
			;
	}
	n = reliable_take_acks(&r, acks, RELIABLE_ACKS_KEPT);
	CHECK(n == RELIABLE_ACKS_KEPT && acks[0] == 39 && acks[n - 1] == 40 - RELIABLE_ACKS_KEPT,
	      "kept the newest %d", RELIABLE_ACKS_KEPT);
	CHECK(reliable_take_acks(&r, acks, PROTO_ACKS_MAX) == PROTO_ACKS_MAX, "max respected");
	reliable_free(&r);
}

/* --- two endpoints over a channel that loses, duplicates and reorders --- */

enum { SIM_STREAM = 20000, SIM_FRAGMENT = 100, SIM_IN_TRANSIT = 512, SIM_STEP_MS = 50 };

struct sim_packet {
	int to;
	bool has_msg;
	uint32_t msg_id;
	uint32_t acks[PROTO_ACKS_MAX];
	size_t n_acks;
	uint8_t payload[SIM_FRAGMENT];
	size_t len;
};

struct sim_endpoint {
	struct reliable r;
	uint8_t stream[SIM_STREAM];
	size_t queued;
	uint8_t received[SIM_STREAM];
	size_t n_received;
};

struct sim {
	struct sim_endpoint ep[2];
	struct sim_packet transit[SIM_IN_TRANSIT];
	size_t n_transit;
	uint64_t rng;
	unsigned loss_pct, dup_pct;
	size_t max_in_flight;
};

static unsigned sim_rand(struct sim *s, unsigned n)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return (unsigned)(s->rng % n);
}

static void sim_send(struct sim *s, const struct sim_packet *p)
{
	int copies = sim_rand(s, 100) < s->loss_pct ? 0 : (sim_rand(s, 100) < s->dup_pct ? 2 : 1);

	for (int i = 0; i < copies && s->n_transit < SIM_IN_TRANSIT; i++)
		s->transit[s->n_transit++] = *p;
}

static void sim_transmit(struct sim *s, int from, uint64_t now)
{
	struct sim_endpoint *e = &s->ep[from];
	const struct reliable_out *o;
	struct sim_packet p;

	e->queued += reliable_queue_stream(&e->r, P_CONTROL_V1, e->stream + e->queued,
					   SIM_STREAM - e->queued, SIM_FRAGMENT, now);
	if (reliable_in_flight(&e->r) > s->max_in_flight)
		s->max_in_flight = reliable_in_flight(&e->r);
	while ((o = reliable_next_transmit(&e->r, now))) {
		memset(&p, 0, sizeof(p));
		p.to = !from;
		p.has_msg = true;
		p.msg_id = o->msg_id;
		memcpy(p.payload, o->payload, o->len);
		p.len = o->len;
		p.n_acks = reliable_take_acks(&e->r, p.acks, 4);
		sim_send(s, &p);
	}
	if (reliable_has_unsent_acks(&e->r)) {
		memset(&p, 0, sizeof(p));
		p.to = !from;
		p.n_acks = reliable_take_acks(&e->r, p.acks, PROTO_ACKS_MAX);
		sim_send(s, &p);
	}
}

static void sim_receive(struct sim *s, const struct sim_packet *p)
{
	struct sim_endpoint *e = &s->ep[p->to];
	uint8_t opcode;
	const uint8_t *payload;
	size_t len;

	for (size_t i = 0; i < p->n_acks; i++)
		reliable_on_ack(&e->r, p->acks[i]);
	if (!p->has_msg)
		return;
	(void)reliable_on_receive(&e->r, p->msg_id, P_CONTROL_V1, p->payload, p->len);
	while (reliable_deliver(&e->r, &opcode, &payload, &len)) {
		CHECK(e->n_received + len <= SIM_STREAM, "no more than was sent");
		if (e->n_received + len > SIM_STREAM)
			return;
		memcpy(e->received + e->n_received, payload, len);
		e->n_received += len;
	}
}

/* Delivers a random subset of the packets in transit, in random order. */
static void sim_deliver(struct sim *s)
{
	size_t n = s->n_transit;

	for (size_t k = 0; k < n && s->n_transit; k++) {
		size_t i = sim_rand(s, (unsigned)s->n_transit);
		struct sim_packet p = s->transit[i];

		if (sim_rand(s, 2))
			continue; /* stays in transit: overtaken by later packets */
		s->transit[i] = s->transit[--s->n_transit];
		sim_receive(s, &p);
	}
}

static bool sim_done(const struct sim *s)
{
	for (int i = 0; i < 2; i++)
		if (s->ep[i].n_received < SIM_STREAM || reliable_in_flight(&s->ep[i].r))
			return false;
	return true;
}

static void run_sim(unsigned loss, unsigned dup, uint64_t seed)
{
	struct sim *s = calloc(1, sizeof(*s));
	uint64_t now = 0;

	s->rng = seed;
	s->loss_pct = loss;
	s->dup_pct = dup;
	for (int i = 0; i < 2; i++) {
		reliable_init(&s->ep[i].r);
		for (size_t b = 0; b < SIM_STREAM; b++)
			s->ep[i].stream[b] = (uint8_t)(b * 7 + (size_t)i * 13 + b / 251);
	}
	for (; now < 3600 * 1000 && !sim_done(s); now += SIM_STEP_MS) {
		sim_transmit(s, 0, now);
		sim_transmit(s, 1, now);
		sim_deliver(s);
	}
	CHECK(sim_done(s), "loss %u%% dup %u%% seed %llu: finished (%zu/%zu received)", loss, dup,
	      (unsigned long long)seed, s->ep[1].n_received, s->ep[0].n_received);
	for (int i = 0; i < 2; i++)
		CHECK(memcmp(s->ep[i].received, s->ep[!i].stream, SIM_STREAM) == 0,
		      "loss %u%%: stream %d intact and in order", loss, i);
	CHECK(s->max_in_flight <= RELIABLE_SEND_WINDOW, "window respected: %zu", s->max_in_flight);
	for (int i = 0; i < 2; i++) {
		CHECK(!sim_done(s) || reliable_held_bytes(&s->ep[i].r) == 0,
		      "loss %u%%: done, endpoint %d holds %zu bytes", loss, i,
		      reliable_held_bytes(&s->ep[i].r));
		reliable_free(&s->ep[i].r);
	}
	free(s);
}

static void test_lossy_channel(void)
{
	static const struct {
		unsigned loss, dup;
	} channels[] = { { 0, 0 }, { 10, 10 }, { 30, 10 }, { 50, 30 } };

	for (size_t i = 0; i < sizeof(channels) / sizeof(channels[0]); i++)
		for (uint64_t seed = 1; seed <= 3; seed++)
			run_sim(channels[i].loss, channels[i].dup, seed * 0x9e3779b97f4a7c15ULL);
}

int main(void)
{
	test_window_and_fragments();
	test_retransmit_timing();
	test_fast_retransmit();
	test_receive();
	test_quiet_holds_nothing();
	test_ack_list_bounded();
	test_lossy_channel();
	return unit_report("test_reliable");
}
