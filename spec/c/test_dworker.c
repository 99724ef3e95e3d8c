// SPDX-License-Identifier: MIT
/*
 * Data-path worker skeletons: two workers, each a thread with its own loop,
 * get peers from the main thread's peer-id allocator (the least-loaded
 * worker, peer_id % 2), installs with a data channel and a policy, a key
 * retired, a renegotiation's new data channel, removals, settings, a peer
 * sent to the wrong worker; then each worker's table, asked for with a
 * query, matches what the main thread expects, and after stop and free
 * every owned object was released exactly once. The main thread's side is
 * a libev loop with a ring_wake over both workers' links, as the server's
 * will be. make tsan runs it under ThreadSanitizer.
 */
#include <ev.h>
#include <stdatomic.h>
#include <string.h>

#include "dworker.h"
#include "peerids.h"
#include "unit.h"

enum {
	WORKERS = 2,
	CAP = 64,
	PEERS = 40,
	RING = 8, /* smaller than a burst: the overflow lists are used */
	/* Below libev's longest wait (about 60 s), which would rescue a lost wake-up. */
	TIMEOUT_S = 45,
};

static atomic_ulong made, freed;

static void count_free(void *p)
{
	free(p);
	atomic_fetch_add(&freed, 1);
}

static void give(struct wmsg *m, unsigned i)
{
	m->own[i] = malloc(16);
	m->own_free[i] = count_free;
	atomic_fetch_add(&made, 1);
}

struct main_side {
	struct ev_loop *loop;
	struct ring_wake *wake;
	struct dworker *w[WORKERS];
	struct wmsg *table[WORKERS], *counters[WORKERS];
	ev_timer timeout;
	bool timed_out;
};

static bool answered(struct main_side *s)
{
	for (int i = 0; i < WORKERS; i++)
		if (!s->table[i] || !s->counters[i])
			return false;
	return true;
}

static bool main_drain(void *ctx)
{
	struct main_side *s = ctx;
	struct wmsg *m;
	bool more = false;

	for (int i = 0; i < WORKERS; i++) {
		workerlink_flush(dworker_outbox(s->w[i]));
		while (workerlink_recv(dworker_inbox(s->w[i]), &m, 1)) {
			struct wmsg **keep = m->kind == WMSG_TABLE ? &s->table[i] : &s->counters[i];

			wmsg_free(*keep);
			*keep = m;
		}
		more |= workerlink_flushable(dworker_outbox(s->w[i]));
	}
	if (answered(s))
		ev_break(s->loop, EVBREAK_ALL);
	return more;
}

static bool main_idle(void *ctx)
{
	struct main_side *s = ctx;

	for (int i = 0; i < WORKERS; i++)
		if (!workerlink_empty(dworker_inbox(s->w[i])) ||
		    workerlink_flushable(dworker_outbox(s->w[i])))
			return false;
	return true;
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)revents;
	((struct main_side *)t->data)->timed_out = true;
	ev_break(loop, EVBREAK_ALL);
}

static struct wmsg *peer_msg(enum wmsg_kind kind, uint32_t peer_id, uint8_t key_id)
{
	struct wmsg *m = wmsg_new(kind, 0);

	if (m) {
		m->peer_id = peer_id;
		m->key_id = key_id;
	}
	return m;
}

static void send_to(struct main_side *s, uint32_t peer_id, struct wmsg *m)
{
	if (m)
		(void)dworker_send(s->w[peer_id % WORKERS], m);
}

/* What each peer should look like: its key bits, or 0 when removed. */
static uint8_t expect[CAP];

/* Installs PEERS peers (key 0), renegotiates every third (key 1, a new data channel) and retires
 * its key 0, removes every fifth, and sends a settings snapshot. */
static void send_changes(struct main_side *s, struct peer_ids *ids)
{
	for (int i = 0; i < PEERS; i++) {
		int32_t id = peer_ids_take(ids);
		struct wmsg *m = peer_msg(WMSG_PEER_INSTALL, (uint32_t)id, 0);

		CHECK(id >= 0 && id < CAP, "an id: %d", id);
		give(m, 0);
		give(m, 1);
		send_to(s, (uint32_t)id, m);
		expect[id] = 1;
	}
	for (uint32_t id = 0; id < CAP; id++) {
		if (!expect[id])
			continue;
		if (id % 3 == 0) {
			struct wmsg *m = peer_msg(WMSG_PEER_INSTALL, id, 1);

			give(m, 0); /* the old data channel is the worker's to free */
			send_to(s, id, m);
			send_to(s, id, peer_msg(WMSG_KEY_RETIRE, id, 0));
			expect[id] = 2;
		}
		if (id % 5 == 0) {
			send_to(s, id, peer_msg(WMSG_PEER_REMOVE, id, 0));
			peer_ids_put(ids, id);
			expect[id] = 0;
		}
	}
	for (int i = 0; i < WORKERS; i++) {
		struct wmsg *m = wmsg_new(WMSG_SETTINGS, 0);

		give(m, 0);
		(void)dworker_send(s->w[i], m);
	}
}

/* The wrong worker for a peer, an unknown peer, and then the query. */
static void send_mistakes_and_query(struct main_side *s)
{
	for (int i = 0; i < WORKERS; i++) {
		struct wmsg *m = peer_msg(WMSG_PEER_INSTALL, (uint32_t)(i + 1) % WORKERS, 0);

		give(m, 0); /* rejected: released with the message */
		(void)dworker_send(s->w[i], m);
		(void)dworker_send(s->w[i], peer_msg(WMSG_PEER_REMOVE, CAP + (uint32_t)i, 0));
		m = peer_msg(WMSG_QUERY, 0, 0);
		m->cookie = 100 + (uint64_t)i;
		(void)dworker_send(s->w[i], m);
	}
}

static void check_table(struct main_side *s, int w)
{
	struct wmsg *t = s->table[w], *c = s->counters[w];
	const struct wmsg_peer *rows = t->own[0];
	uint32_t want = 0;
	int bad = 0;

	for (uint32_t id = (uint32_t)w; id < CAP; id += WORKERS)
		want += expect[id] != 0;
	CHECK(t->cookie == 100 + (uint64_t)w && c->cookie == t->cookie, "worker %d's answers", w);
	CHECK(t->count == want, "worker %d holds %u peers, %u expected", w, t->count, want);
	for (uint32_t i = 0; i < t->count; i++)
		bad += rows[i].peer_id % WORKERS != (uint32_t)w ||
		       rows[i].keys != expect[rows[i].peer_id] ||
		       (i && rows[i].peer_id <= rows[i - 1].peer_id);
	CHECK(bad == 0, "worker %d: peers, keys and order: %d wrong", w, bad);
	CHECK(c->counters[DWORKER_PEERS] == want && c->counters[DWORKER_REJECTED] == 2,
	      "worker %d's counters: %lu peers, %lu rejected", w,
	      (unsigned long)c->counters[DWORKER_PEERS],
	      (unsigned long)c->counters[DWORKER_REJECTED]);
}

static void test_two_workers(void)
{
	struct main_side s;
	struct peer_ids ids;

	memset(&s, 0, sizeof(s));
	CHECK(peer_ids_init_workers(&ids, CAP, WORKERS) == 0, "ids");
	s.loop = ev_loop_new(EVFLAG_AUTO);
	s.wake = s.loop ? ring_wake_new(s.loop, main_drain, main_idle, &s) : NULL;
	CHECK(s.wake != NULL, "the main loop");
	for (uint32_t i = 0; i < WORKERS; i++) {
		s.w[i] = dworker_new(i, WORKERS, CAP, RING);
		CHECK(s.w[i] != NULL, "worker %u", i);
	}
	ev_timer_init(&s.timeout, on_timeout, TIMEOUT_S, 0);
	s.timeout.data = &s;
	ev_timer_start(s.loop, &s.timeout);
	/* Before the threads run: more than a ring's worth waits on the overflow lists. */
	send_changes(&s, &ids);
	CHECK(workerlink_backlog(dworker_outbox(s.w[0])), "more than a ring's worth waits");
	for (uint32_t i = 0; i < WORKERS; i++)
		CHECK(dworker_start(s.w[i], s.wake) == 0, "worker %u started", i);
	send_mistakes_and_query(&s);
	ev_run(s.loop, 0);
	CHECK(!s.timed_out, "both answered without a lost wake-up");
	for (int i = 0; i < WORKERS && !s.timed_out; i++)
		check_table(&s, i);
	for (int i = 0; i < WORKERS; i++) {
		dworker_stop(s.w[i]);
		dworker_free(s.w[i]);
		wmsg_free(s.table[i]);
		wmsg_free(s.counters[i]);
	}
	CHECK(atomic_load(&freed) == atomic_load(&made), "%lu of %lu objects freed",
	      atomic_load(&freed), atomic_load(&made));
	ev_timer_stop(s.loop, &s.timeout);
	ring_wake_free(s.wake);
	ev_loop_destroy(s.loop);
	peer_ids_free(&ids);
}

/* A worker stopped while messages wait for it: they go with its links. Never started: freed. */
static void test_stop_with_backlog(void)
{
	struct dworker *w = dworker_new(0, 1, 4, 2), *idle = dworker_new(0, 3, 2, 2);

	atomic_store(&made, 0);
	atomic_store(&freed, 0);
	CHECK(w && idle, "workers");
	CHECK(dworker_start(w, NULL) == 0, "started");
	for (uint32_t i = 0; i < 20; i++) {
		struct wmsg *m = peer_msg(WMSG_PEER_INSTALL, i % 4, 0);

		give(m, 0);
		(void)dworker_send(w, m);
	}
	dworker_stop(w);
	dworker_free(w);
	dworker_free(idle);
	CHECK(atomic_load(&freed) == atomic_load(&made), "%lu of %lu objects freed",
	      atomic_load(&freed), atomic_load(&made));
	CHECK(dworker_new(2, 2, 4, 2) == NULL, "no worker 2 of 2");
}

int main(void)
{
	test_two_workers();
	test_stop_with_backlog();
	return unit_report("dworker");
}
