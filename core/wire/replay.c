// SPDX-License-Identifier: MIT
#include <string.h>

#include "replay.h"

enum { BITS = REPLAY_WORDS * 64 };

void replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
}

static uint64_t bit_of(uint64_t id)
{
	return (uint64_t)1 << (id % 64);
}

static uint64_t *word_of(struct replay *r, uint64_t id)
{
	return &r->words[(id / 64) % REPLAY_WORDS];
}

enum replay_verdict replay_check(const struct replay *r, uint64_t id)
{
	if (id == 0)
		return REPLAY_ZERO;
	if (id > r->highest)
		return REPLAY_OK;
	if (r->highest - id >= REPLAY_WINDOW)
		return REPLAY_TOO_OLD;
	return r->words[(id / 64) % REPLAY_WORDS] & bit_of(id) ? REPLAY_DUPLICATE : REPLAY_OK;
}

void replay_record(struct replay *r, uint64_t id)
{
	if (id > r->highest) {
		uint64_t from = r->highest / 64, to = id / 64;
		uint64_t steps = to - from < REPLAY_WORDS ? to - from : REPLAY_WORDS;

		/* Words that the window slides over start empty. */
		for (uint64_t i = 1; i <= steps; i++)
			r->words[(from + i) % REPLAY_WORDS] = 0;
		r->highest = id;
	}
	*word_of(r, id) |= bit_of(id);
}

void replay_timed_init(struct replay_timed *r)
{
	memset(r, 0, sizeof(*r));
}

bool replay_timed_accept(struct replay_timed *r, uint32_t id, uint32_t time)
{
	bool fresh = !r->started || time > r->time;

	if (id == 0 || (!fresh && (time < r->time || replay_check(&r->window, id) != REPLAY_OK)))
		return false;
	if (fresh) {
		replay_init(&r->window);
		r->time = time;
		r->started = true;
	}
	replay_record(&r->window, id);
	return true;
}

const char *replay_verdict_name(enum replay_verdict v)
{
	switch (v) {
	case REPLAY_OK:
		return "ok";
	case REPLAY_ZERO:
		return "packet-id 0";
	case REPLAY_DUPLICATE:
		return "replayed";
	case REPLAY_TOO_OLD:
		return "too old";
	}
	return "?";
}
