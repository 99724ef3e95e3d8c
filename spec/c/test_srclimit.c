// SPDX-License-Identifier: MIT
/*
 * Per-source token buckets: a source gets its burst, then its rate; a
 * flood from 200,000 forged sources, far more than the table holds, never
 * refuses a real client retrying every 2 s (a bucket shared by hash would
 * be drained by the sources colliding with it), and a source being limited
 * stays limited through that flood (a drained bucket is not the one a new
 * source takes over).
 */
#include <string.h>

#include "srclimit.h"
#include "unit.h"

enum { RATE = 5, BURST = 10 };

static struct srclimit lim;
static const struct siphash_key key = { 1, 2 };

static void v4(uint8_t out[4], uint32_t n)
{
	out[0] = (uint8_t)(n >> 24);
	out[1] = (uint8_t)(n >> 16);
	out[2] = (uint8_t)(n >> 8);
	out[3] = (uint8_t)n;
}

static void test_one_source(void)
{
	uint8_t a[4] = { 10, 0, 0, 2 }, b6[8] = { 0xfd, 0, 0, 0, 0, 0, 0, 2 };
	int allowed = 0;

	srclimit_init(&lim, &key, RATE, BURST);
	for (int i = 0; i < 100; i++)
		allowed += srclimit_take(&lim, a, sizeof(a), 100.0);
	CHECK(allowed == BURST, "%d at once, want the burst %d", allowed, BURST);
	CHECK(!srclimit_take(&lim, a, sizeof(a), 100.1), "0.1 s later: half a token");
	CHECK(srclimit_take(&lim, a, sizeof(a), 100.2), "0.2 s later: one");
	CHECK(srclimit_take(&lim, b6, sizeof(b6), 100.2), "another source has its own");
	CHECK(srclimit_take(&lim, a, 3, 100.2), "a 3-byte source is another one");
	CHECK(!srclimit_take(&lim, a, 0, 100.2), "no source");
	CHECK(!srclimit_take(&lim, a, SRCLIMIT_SOURCE_MAX + 1, 100.2), "too long");
}

/* 200,000 forged sources at 20,000 a second, a client every 2 s, and one source at 100/s. */
static void test_flood(void)
{
	uint8_t client[4] = { 192, 0, 2, 7 }, hot[4] = { 198, 51, 100, 9 }, src[4];
	int client_refused = 0, hot_allowed = 0, forged_refused = 0;
	double now = 1000.0;

	srclimit_init(&lim, &key, RATE, BURST);
	for (uint32_t i = 0; i < 200000; i++) {
		now += 1.0 / 20000;
		v4(src, 0x0a000000 + i); /* 10.0.0.0/8, each once */
		forged_refused += !srclimit_take(&lim, src, sizeof(src), now);
		if (i % 40000 == 0)
			client_refused += !srclimit_take(&lim, client, sizeof(client), now);
		if (i % 200 == 0)
			hot_allowed += srclimit_take(&lim, hot, sizeof(hot), now);
	}
	CHECK(client_refused == 0, "the client was refused %d times of 5", client_refused);
	CHECK(forged_refused == 0, "%d forged first resets refused", forged_refused);
	/* 10 s at 100/s: its burst and 5 a second, not the 1,000 it sent. */
	CHECK(hot_allowed <= BURST + RATE * 10 + 1, "the limited source got %d", hot_allowed);
	CHECK(hot_allowed >= RATE * 10, "the limited source got only %d", hot_allowed);
}

int main(void)
{
	test_one_source();
	test_flood();
	return unit_report("srclimit");
}
