// SPDX-License-Identifier: MIT
/*
 * The main <-> worker messages and their link: on one thread, every kind
 * goes through in order with its data; a full ring queues the control
 * kinds on the overflow list in order and drops the droppable ones, and
 * each owned pointer is released exactly once, by whoever holds it then
 * (the receiver that took it, wmsg_free, a drop, or workerlink_free). On
 * two threads, each with its own libev loop and ring_wake, a main thread
 * sends 100,000 messages of every kind over a small ring and the worker
 * answers each: no control message is lost or reordered either way, the
 * overflow lists drain through the sender wake-ups, and every owned object
 * is freed once. make tsan runs it under ThreadSanitizer.
 */
#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "unit.h"
#include "workerlink.h"

static atomic_ulong freed; /* owned objects released */

static void count_free(void *p)
{
	free(p);
	atomic_fetch_add(&freed, 1);
}

/* A message of kind whose own[0] is an owned object holding seq, and seq in cookie and data. */
static struct wmsg *msg(enum wmsg_kind kind, uint64_t seq)
{
	struct wmsg *m = wmsg_new(kind, sizeof(seq));
	uint64_t *obj = malloc(sizeof(*obj));

	if (!m || !obj) {
		free(obj);
		free(m);
		return NULL;
	}
	*obj = seq;
	m->cookie = seq;
	m->peer_id = (uint32_t)seq & 0xffffff;
	memcpy(m->data, &seq, sizeof(seq));
	m->own[0] = obj;
	m->own_free[0] = count_free;
	return m;
}

/* Every kind through a roomy ring: in order, intact; the taken object is the receiver's. */
static void test_every_kind(void)
{
	struct workerlink *l = workerlink_new(16);
	struct wmsg *got[16];
	size_t n;
	int bad = 0;

	atomic_store(&freed, 0);
	CHECK(l != NULL, "link");
	for (int k = 1; k < WMSG_KIND_END; k++)
		bad += workerlink_send(l, msg((enum wmsg_kind)k, (uint64_t)k * 7)) !=
		       WORKERLINK_SENT;
	CHECK(bad == 0, "all sent: %d not", bad);
	n = workerlink_recv(l, got, 16);
	CHECK(n == WMSG_KIND_END - 1, "%zu received", n);
	for (size_t i = 0; i < n; i++) {
		uint64_t seq;
		uint64_t *obj = wmsg_take(got[i], 0);

		memcpy(&seq, got[i]->data, sizeof(seq));
		bad += got[i]->kind != (enum wmsg_kind)(i + 1) || seq != (i + 1) * 7 ||
		       got[i]->cookie != seq || !obj || *obj != seq;
		wmsg_free(got[i]);
		bad += atomic_load(&freed) != 0; /* taken: not the message's to free */
		free(obj);
	}
	CHECK(bad == 0, "kinds, order and data: %d wrong", bad);
	CHECK(workerlink_empty(l), "empty after");
	CHECK(strcmp(wmsg_kind_name(WMSG_FLOAT), "float") == 0, "names");
	workerlink_free(l);
}

/* A ring of 2: control kinds wait in order, droppable kinds are freed, the list drains. */
static void test_overflow(void)
{
	struct workerlink *l = workerlink_new(2);
	struct wmsg *got[8];
	struct workerlink_stats st;
	size_t n;

	atomic_store(&freed, 0);
	CHECK(workerlink_send(l, msg(WMSG_PEER_INSTALL, 1)) == WORKERLINK_SENT, "1 in the ring");
	CHECK(workerlink_send(l, msg(WMSG_PEER_INSTALL, 2)) == WORKERLINK_SENT, "2 in the ring");
	CHECK(workerlink_send(l, msg(WMSG_KEY_RETIRE, 3)) == WORKERLINK_QUEUED, "3 waits");
	CHECK(workerlink_send(l, msg(WMSG_COUNTERS, 4)) == WORKERLINK_DROPPED, "counters dropped");
	CHECK(atomic_load(&freed) == 1, "the dropped message's object freed");
	CHECK(workerlink_send(l, msg(WMSG_PEER_REMOVE, 5)) == WORKERLINK_QUEUED, "5 waits");
	CHECK(workerlink_backlog(l), "a backlog");
	CHECK(!workerlink_flush(l), "no room yet");
	n = workerlink_recv(l, got, 1);
	CHECK(n == 1 && got[0]->cookie == 1, "1 first");
	wmsg_free(got[0]);
	/* Room for one: a droppable kind still may not overtake the backlog. */
	CHECK(workerlink_send(l, msg(WMSG_FLOW_QUESTION, 6)) == WORKERLINK_DROPPED, "6 dropped");
	n = workerlink_recv(l, got, 8);
	CHECK(n == 2 && got[0]->cookie == 2 && got[1]->cookie == 3, "2 then 3 (flushed by send)");
	wmsg_free(got[0]);
	wmsg_free(got[1]);
	CHECK(workerlink_flush(l), "the backlog went in");
	CHECK(workerlink_send(l, msg(WMSG_SETTINGS, 7)) == WORKERLINK_SENT, "7 in the ring");
	n = workerlink_recv(l, got, 8);
	CHECK(n == 2 && got[0]->cookie == 5 && got[1]->cookie == 7, "5 then 7");
	wmsg_free(got[0]);
	wmsg_free(got[1]);
	st = workerlink_stats(l);
	CHECK(st.sent == 5 && st.queued == 2 && st.dropped == 2 && st.queued_max == 2,
	      "stats %lu %lu %lu %lu", st.sent, st.queued, st.dropped, st.queued_max);
	CHECK(atomic_load(&freed) == 7, "each object freed once: %lu", atomic_load(&freed));
	/* What is still in the ring or waiting is the link's to free. */
	(void)workerlink_send(l, msg(WMSG_QUERY, 8));
	(void)workerlink_send(l, msg(WMSG_QUERY, 9));
	(void)workerlink_send(l, msg(WMSG_QUERY, 10));
	workerlink_free(l);
	CHECK(atomic_load(&freed) == 10, "freed with the link: %lu", atomic_load(&freed));
}

enum {
	TWO_MESSAGES = 100 * 1000,
	TWO_RING = 16,
	TWO_BURST = 100,
	TWO_BATCH = 8,
	/* Below libev's longest wait (about 60 s), which would rescue a lost wake-up: it fails
	 * instead. The run takes well under a second. */
	TWO_TIMEOUT_S = 45,
};

/* One thread's end: its loop, its wake, the link it receives on and the one it sends on. */
struct side {
	struct ev_loop *loop;
	struct ring_wake *wake;
	struct workerlink *in, *out;
	ev_timer timeout;
	uint64_t next_send;    /* main: messages sent so far */
	uint64_t last_control; /* the last control message's cookie received, plus one */
	unsigned long received[WMSG_KIND_END];
	int bad;
	bool done, timed_out;
};

static struct side main_side, worker_side;

/* The worker answers each message with one of the same kind and cookie. */
static void answer(struct side *s, struct wmsg *m)
{
	uint64_t *obj = wmsg_take(m, 0);

	s->bad += !obj || *obj != m->cookie;
	count_free(obj);
	if (s == &worker_side)
		(void)workerlink_send(s->out, msg(m->kind, m->cookie));
}

static void receive(struct side *s, struct wmsg *m)
{
	s->received[m->kind]++;
	if (!wmsg_droppable(m->kind)) {
		s->bad += m->cookie + 1 <= s->last_control; /* control messages in order */
		s->last_control = m->cookie + 1;
	}
	answer(s, m);
	/* The last message is a control one: after it, nothing more comes. */
	if (m->cookie == TWO_MESSAGES - 1)
		s->done = true;
	wmsg_free(m);
}

/* Every kind in turn; the last one a control kind, which cannot be dropped. */
static enum wmsg_kind kind_of(uint64_t seq)
{
	if (seq == TWO_MESSAGES - 1)
		return WMSG_PEER_REMOVE;
	return (enum wmsg_kind)(1 + seq % (WMSG_KIND_END - 1));
}

static bool side_drain(void *ctx)
{
	struct side *s = ctx;
	struct wmsg *got[TWO_BATCH];
	size_t n;

	workerlink_flush(s->out);
	if (s == &main_side)
		for (int i = 0; i < TWO_BURST && s->next_send < TWO_MESSAGES; i++, s->next_send++)
			(void)workerlink_send(s->out, msg(kind_of(s->next_send), s->next_send));
	n = workerlink_recv(s->in, got, TWO_BATCH);
	for (size_t i = 0; i < n; i++)
		receive(s, got[i]);
	if (s->done && !workerlink_backlog(s->out)) {
		ev_break(s->loop, EVBREAK_ALL);
		return false;
	}
	return n == TWO_BATCH || (s == &main_side && s->next_send < TWO_MESSAGES);
}

/* Asleep only with nothing to receive and nothing to send but a backlog the receiver will wake. */
static bool side_empty(void *ctx)
{
	struct side *s = ctx;

	return workerlink_empty(s->in) && !workerlink_flushable(s->out) &&
	       !(s == &main_side && s->next_send < TWO_MESSAGES);
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct side *s = t->data;

	(void)revents;
	s->timed_out = true;
	ev_break(loop, EVBREAK_ALL);
}

static int side_init(struct side *s, struct workerlink *in, struct workerlink *out)
{
	memset(s, 0, sizeof(*s));
	s->in = in;
	s->out = out;
	s->loop = ev_loop_new(EVFLAG_AUTO);
	s->wake = s->loop ? ring_wake_new(s->loop, side_drain, side_empty, s) : NULL;
	if (!s->wake)
		return -1;
	ev_timer_init(&s->timeout, on_timeout, TWO_TIMEOUT_S, 0);
	s->timeout.data = s;
	ev_timer_start(s->loop, &s->timeout);
	return 0;
}

static void side_fini(struct side *s)
{
	ev_timer_stop(s->loop, &s->timeout);
	ring_wake_free(s->wake);
	ev_loop_destroy(s->loop);
}

static void *worker_main(void *arg)
{
	struct side *s = arg;

	ev_run(s->loop, 0);
	return NULL;
}

static void test_two_threads(void)
{
	struct workerlink *to = workerlink_new(TWO_RING), *from = workerlink_new(TWO_RING);
	unsigned long control = 0, answered = 0, lost;
	struct workerlink_stats st_to, st_from;
	pthread_t t;

	atomic_store(&freed, 0);
	CHECK(to && from, "links");
	/* Built here, before the worker starts: pthread_create hands them over. */
	CHECK(side_init(&main_side, from, to) == 0 && side_init(&worker_side, to, from) == 0,
	      "loops");
	workerlink_set_wakes(to, worker_side.wake, main_side.wake);
	workerlink_set_wakes(from, main_side.wake, worker_side.wake);
	CHECK(pthread_create(&t, NULL, worker_main, &worker_side) == 0, "worker thread");
	ev_run(main_side.loop, 0);
	pthread_join(t, NULL);
	CHECK(!main_side.timed_out && !worker_side.timed_out, "no lost wake-up");
	CHECK(main_side.bad == 0 && worker_side.bad == 0, "order and objects: %d %d", main_side.bad,
	      worker_side.bad);
	for (uint64_t i = 0; i < TWO_MESSAGES; i++)
		control += !wmsg_droppable(kind_of(i));
	for (int k = 1; k < WMSG_KIND_END; k++)
		answered += wmsg_droppable((enum wmsg_kind)k) ? 0 : main_side.received[k];
	CHECK(answered == control, "every control message answered: %lu of %lu", answered, control);
	st_to = workerlink_stats(to);
	st_from = workerlink_stats(from);
	lost = st_to.dropped + st_from.dropped;
	CHECK(st_to.sent + st_to.dropped == TWO_MESSAGES, "main: %lu sent, %lu dropped", st_to.sent,
	      st_to.dropped);
	CHECK(st_to.queued > 0, "the overflow list was used: %lu, longest %lu", st_to.queued,
	      st_to.queued_max);
	workerlink_free(to);
	workerlink_free(from);
	CHECK(atomic_load(&freed) == 2 * TWO_MESSAGES - st_to.dropped,
	      "every object freed once: %lu (%lu dropped)", atomic_load(&freed), lost);
	printf("workerlink: %lu messages, %lu + %lu queued (longest %lu), %lu + %lu dropped\n",
	       (unsigned long)TWO_MESSAGES, st_to.queued, st_from.queued, st_to.queued_max,
	       st_to.dropped, st_from.dropped);
	side_fini(&main_side);
	side_fini(&worker_side);
}

int main(void)
{
	test_every_kind();
	test_overflow();
	test_two_threads();
	return unit_report("test_workerlink");
}
