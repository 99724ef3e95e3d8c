// SPDX-License-Identifier: MIT
/*
 * The handshakes' heap (slab.h): through random allocations and frees of
 * every size up to SLAB_OBJECT_MAX, blocks are 16-byte aligned, hold their
 * size, never overlap (each keeps a pattern until freed), and are the
 * heap's own; larger ones are refused; the bytes in use add up; once all
 * are freed, slab_trim gives every slab back; slab_zalloc and
 * slab_release fall back to malloc for what the slabs do not take.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slab.h"
#include "unit.h"

enum { BLOCKS = 4000, ROUNDS = 200000 };

static struct {
	uint8_t *p;
	size_t n;
	uint8_t mark;
} blocks[BLOCKS];

static bool intact(int i)
{
	for (size_t k = 0; k < blocks[i].n; k++)
		if (blocks[i].p[k] != blocks[i].mark)
			return false;
	return true;
}

static void test_random(void)
{
	struct slab_stats st;
	size_t in_use = 0;
	int bad = unit_counts.failed;

	srand(15);
	for (int r = 0; r < ROUNDS && unit_counts.failed == bad; r++) {
		int i = rand() % BLOCKS;

		if (blocks[i].p) {
			CHECK_STEP(intact(i), "round %d: block %d of %zu bytes kept its bytes", r,
				   i, blocks[i].n);
			in_use -= slab_usable(blocks[i].p);
			slab_free(blocks[i].p);
			blocks[i].p = NULL;
			continue;
		}
		blocks[i].n = (size_t)(rand() % 8 ? rand() % 300 : rand() % SLAB_OBJECT_MAX) + 1;
		blocks[i].p = slab_alloc(blocks[i].n);
		blocks[i].mark = (uint8_t)r;
		CHECK_STEP(blocks[i].p && slab_owns(blocks[i].p) &&
				   ((uintptr_t)blocks[i].p & 15) == 0 &&
				   slab_usable(blocks[i].p) >= blocks[i].n,
			   "round %d: %zu bytes", r, blocks[i].n);
		if (!blocks[i].p)
			return;
		memset(blocks[i].p, blocks[i].mark, blocks[i].n);
		in_use += slab_usable(blocks[i].p);
	}
	CHECK(unit_counts.failed == bad,
	      "%d rounds of allocations and frees kept every block's bytes", ROUNDS);
	slab_stats(&st);
	CHECK(st.in_use == in_use, "%zu bytes in use, %zu counted", st.in_use, in_use);
	for (int i = 0; i < BLOCKS; i++) {
		if (blocks[i].p) {
			CHECK(intact(i), "block %d at the end", i);
			slab_free(blocks[i].p);
		}
	}
	slab_trim();
	slab_stats(&st);
	CHECK(st.in_use == 0 && st.resident == 0, "all given back: %zu in use, %zu resident",
	      st.in_use, st.resident);
}

static void test_fallback(void)
{
	int on_stack;
	uint8_t *big = slab_zalloc(SLAB_OBJECT_MAX + 1), *small = slab_zalloc(100);

	CHECK(!slab_alloc(SLAB_OBJECT_MAX + 1), "too large for a slab");
	CHECK(!slab_owns(NULL) && !slab_owns(&on_stack), "not the heap's");
	CHECK(big && !slab_owns(big) && big[SLAB_OBJECT_MAX] == 0, "malloc'd, zeroed");
	CHECK(small && slab_owns(small) && small[99] == 0, "from a slab, zeroed");
	slab_release(big);
	slab_release(small);
	slab_release(NULL);
}

int main(void)
{
	CHECK(slab_init(64u << 20) == 0, "64 MB reserved");
	test_random();
	test_fallback();
	return unit_report("test_slab");
}
