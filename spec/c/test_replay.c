// SPDX-License-Identifier: MIT
/*
 * The replay window's edges as numbered cases, in the manner of WireGuard's
 * counter self-test: each step checks an id, and records it when accepted.
 */
#include "replay.h"
#include "unit.h"

#define W REPLAY_WINDOW

static const struct {
	uint64_t id;
	enum replay_verdict verdict;
} steps[] = {
	/* 0 */ { 0, REPLAY_ZERO },
	/* 1 */ { 1, REPLAY_OK },
	/* 2 */ { 1, REPLAY_DUPLICATE },
	/* 3 */ { 9, REPLAY_OK },
	/* 4 */ { 2, REPLAY_OK }, /* reordered, inside the window */
	/* 5 */ { 2, REPLAY_DUPLICATE },
	/* 6 */ { 8, REPLAY_OK },
	/* 7 */ { 9, REPLAY_DUPLICATE },
	/* 8 */ { W + 9, REPLAY_OK }, /* jump: id 9 is now exactly W behind */
	/* 9 */ { 9, REPLAY_TOO_OLD },
	/* 10 */ { 10, REPLAY_OK }, /* W - 1 behind: the oldest accepted */
	/* 11 */ { 10, REPLAY_DUPLICATE },
	/* 12 */ { W + 8, REPLAY_OK },
	/* 13 */ { 3 * W, REPLAY_OK }, /* jump past the whole window: all words recycled */
	/* 14 */ { 3 * W - 1, REPLAY_OK },
	/* 15 */ { 2 * W + 1, REPLAY_OK }, /* W - 1 behind */
	/* 16 */ { 2 * W, REPLAY_TOO_OLD },
	/* 17 */ { 2 * W + 1, REPLAY_DUPLICATE },
	/* 18 */ { 3 * W + 64, REPLAY_OK }, /* one word forward: the recycled word is clean */
	/* 19 */ { 3 * W + 63, REPLAY_OK },
	/* 20 */ { 2 * W + 65, REPLAY_OK },
	/* 21 */ { 2 * W + 64, REPLAY_TOO_OLD },
	/* 22 */ { UINT64_C(0xffffffff), REPLAY_OK }, /* the last 32-bit id */
	/* 23 */ { UINT64_C(0xfffffffe), REPLAY_OK },
	/* 24 */ { UINT64_C(0xffffffff), REPLAY_DUPLICATE },
};

static void test_steps(void)
{
	struct replay r;

	replay_init(&r);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		enum replay_verdict v = replay_check(&r, steps[i].id);

		CHECK(v == steps[i].verdict, "step %zu (id %llu): %s, want %s", i,
		      (unsigned long long)steps[i].id, replay_verdict_name(v),
		      replay_verdict_name(steps[i].verdict));
		if (v == REPLAY_OK)
			replay_record(&r, steps[i].id);
	}
}

/* Every id of a shuffled run inside the window is accepted exactly once. */
static void test_reordered_run(void)
{
	struct replay r;
	uint64_t x = 88172645463325252ULL;
	uint64_t ids[4096];
	int accepted = 0, refused = 0;

	replay_init(&r);
	for (uint64_t i = 0; i < 4096; i++)
		ids[i] = i + 1;
	/* Shuffle within blocks of 512 so that nothing falls behind the window. */
	for (size_t b = 0; b < 4096; b += 512) {
		for (size_t i = 511; i > 0; i--) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t j = x % (i + 1);
			uint64_t t = ids[b + i];
			ids[b + i] = ids[b + j];
			ids[b + j] = t;
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < 4096; i++) {
			if (replay_check(&r, ids[i]) == REPLAY_OK) {
				replay_record(&r, ids[i]);
				accepted++;
			} else {
				refused++;
			}
		}
	}
	CHECK(accepted == 4096 && refused == 4096, "accepted %d, refused %d", accepted, refused);
}

/* Ids with a time: a later time starts a new window, an earlier one is refused. */
static void test_timed(void)
{
	struct replay_timed r;

	replay_timed_init(&r);
	CHECK(!replay_timed_accept(&r, 0, 100), "id 0");
	CHECK(replay_timed_accept(&r, 1, 100) && replay_timed_accept(&r, 3, 100) &&
		      replay_timed_accept(&r, 2, 100),
	      "1, 3, 2 at time 100");
	CHECK(!replay_timed_accept(&r, 2, 100), "2 again at time 100");
	CHECK(!replay_timed_accept(&r, 9, 99), "an earlier time");
	CHECK(replay_timed_accept(&r, 1, 200), "ids start again with a later time");
	CHECK(!replay_timed_accept(&r, 1, 200) && !replay_timed_accept(&r, 3, 100),
	      "then its duplicates and the old time are refused");
	CHECK(replay_timed_accept(&r, 2, 200), "and its next id taken");
}

int main(void)
{
	test_steps();
	test_reordered_run();
	test_timed();
	return unit_report("test_replay");
}
