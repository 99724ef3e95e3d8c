// SPDX-License-Identifier: MIT
/*
 * Work in batches from the loop: with more work queued than one batch and
 * nothing else happening, every batch runs at once, one a loop turn, not
 * when the next event comes (here a timer far away); and the watchers stop
 * when no work is left, so the loop can end.
 */
#include "batch.h"
#include "unit.h"

enum {
	ITEMS = 200,
	PER_BATCH = 64,
	FAR_AWAY_SECONDS = 10, /* the only other event: without the idle watcher, the next turn */
};

struct work {
	struct ev_loop *loop;
	unsigned left, batches;
	bool timed_out;
};

static bool run(void *ctx)
{
	struct work *w = ctx;

	w->left -= w->left < PER_BATCH ? w->left : PER_BATCH;
	w->batches++;
	if (!w->left)
		ev_break(w->loop, EVBREAK_ALL);
	return w->left > 0;
}

static void on_far_away(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct work *w = t->data;

	(void)revents;
	w->timed_out = true;
	ev_break(loop, EVBREAK_ALL);
}

int main(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct work w = { loop, ITEMS, 0, false };
	struct batch b;
	ev_timer far;

	batch_init(&b, loop, run, &w);
	ev_timer_init(&far, on_far_away, FAR_AWAY_SECONDS, 0);
	far.data = &w;
	ev_timer_start(loop, &far);
	batch_wake(&b);
	ev_run(loop, 0);
	CHECK(w.left == 0 && !w.timed_out, "all %u items done before the next event: %u left",
	      ITEMS, w.left);
	CHECK(w.batches == (ITEMS + PER_BATCH - 1) / PER_BATCH, "one batch a turn: %u", w.batches);
	CHECK(!ev_is_active(&b.prepare) && !ev_is_active(&b.idle),
	      "nothing left: the watchers stop");
	ev_timer_stop(loop, &far);
	batch_wake(&b);
	w.left = 1;
	ev_run(loop, 0);
	CHECK(w.left == 0 && !ev_is_active(&b.idle), "woken again, one batch, and stopped");
	batch_stop(&b);
	ev_loop_destroy(loop);
	return unit_report("test_batch");
}
