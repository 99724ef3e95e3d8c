// SPDX-License-Identifier: MIT
/*
 * The packet filter: off without rules, verdicts cached per flow with the
 * rules' counters still counting packets, on.flow asked once per new flow
 * (pending flows hold their first packet and drop the others until the
 * answer), the fallback when
 * the hook fails or too many flows wait, a client's flows gone with it, and
 * each client's share of on.flow: a client past it gets the fallback while
 * the others are still asked, in turn.
 */
#include <string.h>
#include <sys/socket.h>

#include "filter.h"
#include "unit.h"

static uint8_t pkt[64];

/* A UDP packet 10.8.0.2:sport -> 192.0.2.1:dport. */
static size_t udp(unsigned sport, unsigned dport)
{
	static const uint8_t hdr[28] = { 0x45, 0, 0,  28, 0, 0, 0,   0, 64, 17,
					 0,    0, 10, 8,  0, 2, 192, 0, 2,  1 };

	memcpy(pkt, hdr, sizeof(hdr));
	pkt[20] = (uint8_t)(sport >> 8);
	pkt[21] = (uint8_t)sport;
	pkt[22] = (uint8_t)(dport >> 8);
	pkt[23] = (uint8_t)dport;
	return 28;
}

static enum filter_result pass(struct filter *f, uint32_t id, unsigned sport, unsigned dport,
			       double now)
{
	struct filter_answer answer;

	return filter_pass(f, id, pkt, udp(sport, dport), POLICY_IN, now, &answer);
}

static struct policy *drop_port(uint16_t port)
{
	struct policy_rule r = {
		POLICY_DROP, POLICY_IN, 17, 0, 65535, port, port, -1, 0, 0, 0, 0, 0
	};

	return policy_new(&r, 1, NULL, 0, POLICY_ACCEPT);
}

/* The next question's client and source port (answered: accept); -1 when none is queued. */
static long next(struct filter *f, struct filter_question *q)
{
	if (!filter_next_question(f, q))
		return -1;
	filter_decided(f, &q->key, true, POLICY_ACCEPT, 0, 1);
	return (long)q->key.peer_id * 100000 + q->key.sport;
}

/* Asks every queued question and answers accept. */
static void answer_all(struct filter *f, double now)
{
	struct filter_question q;

	while (filter_next_question(f, &q))
		filter_decided(f, &q.key, true, POLICY_ACCEPT, 0, now);
}

/* Client 0 opens flows as fast as it can; client 1 opens a few, and is never past its share. */
/*
 * A reject's answer (ICMP port unreachable, from the gateway, quoting the
 * packet) is written to the caller's buffer, which is the only scratch a
 * packet needs: two callers with two buffers get an answer each.
 */
static void test_reject_answer(void)
{
	struct policy_rule r = {
		POLICY_REJECT, POLICY_IN, 17, 0, 65535, 53, 53, -1, 0, 0, 0, 0, 0
	};
	struct policy *p = policy_new(&r, 1, NULL, 0, POLICY_ACCEPT);
	struct filter_settings set = { 1000, 60, 2, POLICY_DROP };
	struct filter_answer a, b;
	size_t len = udp(1000, 53);
	struct filter f;

	CHECK(filter_init(&f, &set, 1024, &(struct siphash_key){ 1, 3 }) == 0, "init");
	filter_set_policy(&f, p, false);
	f.gateway4 = (struct ip_addr){ .family = AF_INET, .bytes = { 10, 8, 0, 1 } };
	CHECK(filter_pass(&f, 0, pkt, len, POLICY_IN, 1, &a) == FILTER_REJECT, "rejected");
	CHECK(filter_pass(&f, 0, pkt, len, POLICY_IN, 1, &b) == FILTER_REJECT, "again");
	CHECK(a.len == 20 + 8 + len && a.len == b.len, "ICMP quoting the packet: %zu", a.len);
	CHECK(a.buf[DATA_OVERHEAD + 9] == 1 && a.buf[DATA_OVERHEAD + 20] == 3 &&
		      memcmp(a.buf + DATA_OVERHEAD + 12, (uint8_t[]){ 10, 8, 0, 1 }, 4) == 0 &&
		      memcmp(a.buf + DATA_OVERHEAD + 16, (uint8_t[]){ 10, 8, 0, 2 }, 4) == 0,
	      "ICMP unreachable from the gateway to the sender");
	CHECK(memcmp(a.buf + DATA_OVERHEAD + 28, pkt, len) == 0, "quoting the packet");
	CHECK(memcmp(a.buf + DATA_OVERHEAD, b.buf + DATA_OVERHEAD, a.len) == 0,
	      "each caller's buffer holds its own answer");
	udp(1000, 80);
	a.len = 99;
	CHECK(filter_pass(&f, 0, pkt, len, POLICY_IN, 1, &a) == FILTER_PASS && a.len == 0,
	      "a packet that passes has no answer");
	policy_put(p);
	filter_free(&f);
}

static void test_shares(void)
{
	struct filter_settings set = { 100000, 60, 256, POLICY_DROP };
	struct filter_question q;
	struct filter f;
	int asked = 0, fell_back = 0;

	CHECK(filter_init(&f, &set, 1024, &(struct siphash_key){ 2, 3 }) == 0, "init");
	filter_set_policy(&f, NULL, true);
	for (unsigned i = 0; i < 1000; i++) {
		enum filter_result r = pass(&f, 0, 10000 + i, 80, 1);

		asked += r == FILTER_ASK;
		fell_back += r == FILTER_DROP;
	}
	CHECK(asked == FILTER_CLIENT_PENDING_MAX && f.clients[0].pending == (uint32_t)asked,
	      "a client's pending questions are bounded: %d", asked);
	int held = 0;

	for (size_t i = 0; i < FILTER_CLIENT_HELD_MAX; i++)
		held += f.clients[0].held[i].len > 0;
	CHECK(held == FILTER_CLIENT_HELD_MAX, "and the first packets it holds: %d", held);
	CHECK(fell_back == 1000 - asked && f.clients[0].over_share == (uint64_t)fell_back &&
		      f.stats.over_share == (uint64_t)fell_back,
	      "past its share: the fallback, counted for it: %d", fell_back);
	CHECK(pass(&f, 1, 5000, 80, 1) == FILTER_ASK && pass(&f, 1, 5001, 80, 1) == FILTER_ASK,
	      "another client is still asked");
	CHECK(next(&f, &q) == 10000 && next(&f, &q) == 100000 + 5000 && next(&f, &q) == 10001 &&
		      next(&f, &q) == 100000 + 5001 && next(&f, &q) == 10002,
	      "questions are taken in turn, one client's at a time");
	answer_all(&f, 1);
	CHECK(f.pending == 0 && f.clients[0].pending == 0 && f.clients[1].pending == 0,
	      "answers end the pending");
	CHECK(f.clients[1].over_share == 0, "the other client was never past its share");
	/* The bucket: FILTER_CLIENT_ASK_BURST at first, then FILTER_CLIENT_ASKS_PER_SECOND. */
	asked = FILTER_CLIENT_PENDING_MAX;
	for (unsigned i = 0; i < 2 * FILTER_CLIENT_ASK_BURST; i++) {
		asked += pass(&f, 0, 20000 + i, 80, 1) == FILTER_ASK;
		answer_all(&f, 1);
	}
	CHECK(asked == FILTER_CLIENT_ASK_BURST, "a burst of new questions, then none: %d", asked);
	asked = 0;
	for (unsigned i = 0; i < 2 * FILTER_CLIENT_ASKS_PER_SECOND; i++) {
		asked += pass(&f, 0, 30000 + i, 80, 2) == FILTER_ASK;
		answer_all(&f, 2);
	}
	CHECK(asked == FILTER_CLIENT_ASKS_PER_SECOND, "then so many a second: %d", asked);
	filter_free(&f);
}

/* All clients' pending questions at pending_max: a client with none waiting may still ask one. */
static void test_pending_max(void)
{
	struct filter_settings set = { 1000, 60, 4, POLICY_DROP };
	struct filter f;

	CHECK(filter_init(&f, &set, 1024, &(struct siphash_key){ 3, 3 }) == 0, "init");
	filter_set_policy(&f, NULL, true);
	for (unsigned i = 0; i < 4; i++)
		CHECK(pass(&f, 0, 100 + i, 80, 0) == FILTER_ASK, "ask %u", i);
	CHECK(pass(&f, 0, 200, 80, 0) == FILTER_DROP && f.clients[0].over_share == 1,
	      "the client at pending_max (and its own bound) is past its share");
	CHECK(pass(&f, 1, 300, 80, 0) == FILTER_ASK && pass(&f, 1, 301, 80, 0) == FILTER_DROP,
	      "another client asks one");
	filter_set_client(&f, 0, NULL, 0);
	CHECK(f.pending == 1 && f.clients[0].pending == 0 && f.clients[0].queued == 0,
	      "a client's questions go with it");
	struct filter_question q;

	CHECK(next(&f, &q) == 100000 + 300 && next(&f, &q) == -1, "only the other's is asked");
	filter_free(&f);
}

/*
 * A filter for two clients (max_clients = 2): both take turns at on.flow
 * through a ring of two, and an id at max_clients has no state to keep
 * (its packets are not judged: no such client can exist).
 */
static void test_sized(void)
{
	struct filter_settings set = { 1000, 60, 8, POLICY_DROP };
	struct filter_question q;
	struct filter f;

	CHECK(filter_init(&f, &set, 2, &(struct siphash_key){ 4, 3 }) == 0, "init for 2");
	filter_set_policy(&f, NULL, true);
	CHECK(pass(&f, 0, 100, 80, 0) == FILTER_ASK && pass(&f, 0, 101, 80, 0) == FILTER_ASK &&
		      pass(&f, 1, 200, 80, 0) == FILTER_ASK &&
		      pass(&f, 1, 201, 80, 0) == FILTER_ASK,
	      "both clients ask");
	CHECK(next(&f, &q) == 100 && next(&f, &q) == 100000 + 200 && next(&f, &q) == 101 &&
		      next(&f, &q) == 100000 + 201 && next(&f, &q) == -1,
	      "in turn, through a ring of two");
	CHECK(pass(&f, 2, 300, 80, 0) == FILTER_PASS && f.pending == 0, "no client 2");
	filter_set_client(&f, 2, NULL, 0); /* ignored, not written past the arrays */
	filter_free(&f);
}

int main(void)
{
	struct filter_settings set = { 1000, 60, 2, POLICY_DROP };
	struct filter f;
	struct policy *p = drop_port(53);
	struct filter_question q;

	CHECK(filter_init(&f, &set, 1024, &(struct siphash_key){ 1, 3 }) == 0, "init");
	CHECK(pass(&f, 0, 1, 53, 0) == FILTER_PASS && f.flows.n == 0, "off: not even parsed");
	filter_set_policy(&f, p, false);
	for (int i = 0; i < 5; i++)
		CHECK(pass(&f, 0, 1000, 53, i) == FILTER_DROP, "dropped %d", i);
	CHECK(pass(&f, 0, 1000, 80, 0) == FILTER_PASS, "other ports pass");
	CHECK(f.flows.n == 2, "two flows cached: %zu", f.flows.n);
	CHECK(policy_counter(p, 0)->packets == 5, "the rule counts every packet of its flow: %llu",
	      (unsigned long long)policy_counter(p, 0)->packets);
	/* on.flow */
	filter_set_policy(&f, p, true);
	CHECK(pass(&f, 0, 2000, 80, 10) == FILTER_ASK && f.pending == 1,
	      "a new flow is asked about");
	CHECK(pass(&f, 0, 2000, 80, 10) == FILTER_PENDING, "its packets wait (dropped)");
	CHECK(pass(&f, 0, 2000, 53, 10) == FILTER_DROP, "a rule still decides without the hook");
	CHECK(filter_next_question(&f, &q) && q.key.sport == 2000 && q.flow.dport == 80,
	      "the question");
	CHECK(!filter_next_question(&f, &q), "asked once");
	filter_decided(&f, &q.key, true, POLICY_ACCEPT, 0, 11);
	struct filter_held *h = filter_take_held(&f, &q.key);

	CHECK(h && h->len == 28 && h->dir == POLICY_IN && !h->frame &&
		      memcmp(h->buf + DATA_OVERHEAD, pkt, 20) == 0 &&
		      h->buf[DATA_OVERHEAD + 23] == 80,
	      "the flow's first packet was held, to go on once accepted");
	filter_release_held(h);
	CHECK(!filter_take_held(&f, &q.key), "once");
	CHECK(f.pending == 0 && pass(&f, 0, 2000, 80, 12) == FILTER_PASS,
	      "then its verdict applies");
	CHECK(f.stats.asked == 1, "asked once per flow");
	CHECK(pass(&f, 0, 2001, 80, 12) == FILTER_ASK && filter_next_question(&f, &q), "ask");
	filter_decided(&f, &q.key, false, POLICY_ACCEPT, 0, 12);
	CHECK(!filter_take_held(&f, &q.key), "a flow not accepted lets its first packet go");
	CHECK(pass(&f, 0, 2001, 80, 13) == FILTER_DROP, "a failed hook: the fallback (drop)");
	CHECK(pass(&f, 0, 2002, 80, 12) == FILTER_ASK && filter_next_question(&f, &q), "ask");
	filter_decided(&f, &q.key, true, POLICY_REJECT, 5, 12);
	CHECK(pass(&f, 0, 2002, 80, 14) == FILTER_REJECT, "a verdict with a lifetime");
	CHECK(pass(&f, 0, 2002, 80, 18) == FILTER_ASK, "asked again once it ran out");
	CHECK(pass(&f, 0, 3000, 80, 18) == FILTER_ASK && f.pending == 2, "two wait");
	CHECK(pass(&f, 0, 3001, 80, 18) == FILTER_DROP && f.stats.over_share == 1,
	      "beyond pending_max: the fallback, counted");
	filter_set_client(&f, 0, NULL, 0);
	CHECK(f.pending == 0 && f.flows.n == 0, "the client's flows go with it: %zu", f.flows.n);
	filter_set_policy(&f, p, false);
	CHECK(pass(&f, 1, 1, 53, 20) == FILTER_DROP && pass(&f, 2, 1, 53, 20) == FILTER_DROP &&
		      f.flows.n == 2,
	      "flows are per client");
	filter_set_policy(&f, NULL, false);
	CHECK(pass(&f, 1, 1, 53, 21) == FILTER_PASS, "a new policy applies at once");
	policy_put(p);
	filter_free(&f);
	test_shares();
	test_pending_max();
	test_sized();
	test_reject_answer();
	return unit_report("test_filter");
}
