// SPDX-License-Identifier: MIT
#include <string.h>

#include "srclimit.h"

void srclimit_init(struct srclimit *l, const struct siphash_key *key, double rate, double burst)
{
	memset(l->e, 0, sizeof(l->e));
	l->key = *key;
	l->rate = rate;
	l->burst = burst;
}

static void refill(const struct srclimit *l, struct srclimit_entry *e, double now)
{
	bucket_refill(&e->bucket, now, l->rate, l->burst);
}

static bool is_source(const struct srclimit_entry *e, const uint8_t *src, size_t len)
{
	return e->len == len && memcmp(e->src, src, len) == 0;
}

/*
 * src's entry in its set, or the one it takes over: an unused one, else
 * the fullest after refilling (a full one remembers nothing).
 */
static struct srclimit_entry *entry_for(struct srclimit *l, const uint8_t *src, size_t len,
					double now)
{
	struct srclimit_entry *set = l->e[siphash(&l->key, src, len) & (SRCLIMIT_SETS - 1)];
	struct srclimit_entry *victim = NULL;

	for (int i = 0; i < SRCLIMIT_WAYS; i++) {
		struct srclimit_entry *e = &set[i];

		if (e->len && is_source(e, src, len))
			return e;
		if (!e->len) {
			if (!victim || victim->len)
				victim = e;
			continue;
		}
		refill(l, e, now);
		if (!victim || (victim->len && e->bucket.tokens > victim->bucket.tokens))
			victim = e;
	}
	memcpy(victim->src, src, len);
	victim->len = (uint8_t)len;
	victim->bucket = (struct bucket){ 0 }; /* full at its first refill */
	return victim;
}

bool srclimit_take(struct srclimit *l, const uint8_t *src, size_t len, double now)
{
	struct srclimit_entry *e;

	if (len == 0 || len > SRCLIMIT_SOURCE_MAX)
		return false;
	e = entry_for(l, src, len, now);
	return bucket_take(&e->bucket, now, l->rate, l->burst);
}
