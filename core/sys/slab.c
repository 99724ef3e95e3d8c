// SPDX-License-Identifier: MIT
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "slab.h"

enum {
	SLAB_SIZE = 16 * 1024,
	CLASSES = 28,
	NONE = UINT32_MAX,
};

/* 16-byte steps to 128, then four classes per power of two to 4096. */
static const uint32_t class_size[CLASSES] = {
	16,  32,  48,  64,  80,	 96,   112,  128,  160,	 192,  224,  256,  320,	 384,
	448, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096,
};

struct slab_meta {
	uint32_t cls;
	uint32_t used;	     /* blocks allocated */
	uint32_t bump;	     /* bytes carved so far: blocks past it were never used */
	uint32_t prev, next; /* its class's partial list, or the empty list */
	void *free;	     /* blocks given back */
	bool partial, released;
};

static struct {
	pthread_mutex_t lock;
	uint8_t *base;
	size_t n_slabs, fresh;
	struct slab_meta *meta;
	uint32_t partial[CLASSES]; /* slabs of the class with room */
	uint32_t empty;		   /* empty slabs, any class's next */
	size_t in_use, resident;
} heap = { .lock = PTHREAD_MUTEX_INITIALIZER };

int slab_init(size_t reserve)
{
	void *p;

	if (heap.base)
		return 0;
	heap.n_slabs = reserve / SLAB_SIZE;
	/* Aligned to a slab: map one more and skip to the boundary. */
	p = mmap(NULL, (heap.n_slabs + 1) * SLAB_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	heap.meta = calloc(heap.n_slabs, sizeof(*heap.meta));
	if (p == MAP_FAILED || !heap.meta) {
		if (p != MAP_FAILED)
			munmap(p, (heap.n_slabs + 1) * SLAB_SIZE);
		free(heap.meta);
		heap.meta = NULL;
		return -1;
	}
	heap.base = (uint8_t *)(((uintptr_t)p + SLAB_SIZE - 1) & ~(uintptr_t)(SLAB_SIZE - 1));
	for (int c = 0; c < CLASSES; c++)
		heap.partial[c] = NONE;
	heap.empty = NONE;
	return 0;
}

static int class_of(size_t n)
{
	for (int c = 0; c < CLASSES; c++)
		if (n <= class_size[c])
			return c;
	return -1;
}

static uint32_t capacity(uint32_t cls)
{
	return SLAB_SIZE / class_size[cls];
}

/* Puts slab s at the head of list *head. */
static void push(uint32_t *head, uint32_t s)
{
	heap.meta[s].prev = NONE;
	heap.meta[s].next = *head;
	if (*head != NONE)
		heap.meta[*head].prev = s;
	*head = s;
}

static void unlink_from(uint32_t *head, uint32_t s)
{
	struct slab_meta *m = &heap.meta[s];

	if (m->prev != NONE)
		heap.meta[m->prev].next = m->next;
	else
		*head = m->next;
	if (m->next != NONE)
		heap.meta[m->next].prev = m->prev;
}

/* A slab for class cls, on its partial list; NONE when the range is used up. */
static uint32_t new_slab(uint32_t cls)
{
	uint32_t s;

	if (heap.empty != NONE) {
		s = heap.empty;
		unlink_from(&heap.empty, s);
		if (heap.meta[s].released)
			heap.resident += SLAB_SIZE;
	} else if (heap.fresh < heap.n_slabs) {
		s = (uint32_t)heap.fresh++;
		heap.resident += SLAB_SIZE;
	} else {
		return NONE;
	}
	heap.meta[s] = (struct slab_meta){ .cls = cls, .partial = true };
	push(&heap.partial[cls], s);
	return s;
}

void *slab_alloc(size_t n)
{
	int cls = class_of(n ? n : 1);
	struct slab_meta *m;
	uint32_t s;
	void *p;

	if (cls < 0 || !heap.base)
		return NULL;
	pthread_mutex_lock(&heap.lock);
	s = heap.partial[cls];
	if (s == NONE && (s = new_slab((uint32_t)cls)) == NONE) {
		pthread_mutex_unlock(&heap.lock);
		return NULL;
	}
	m = &heap.meta[s];
	if (m->free) {
		p = m->free;
		m->free = *(void **)p;
	} else {
		p = heap.base + (size_t)s * SLAB_SIZE + m->bump;
		m->bump += class_size[cls];
	}
	if (++m->used == capacity((uint32_t)cls)) {
		unlink_from(&heap.partial[cls], s);
		m->partial = false;
	}
	heap.in_use += class_size[cls];
	pthread_mutex_unlock(&heap.lock);
	return p;
}

bool slab_owns(const void *p)
{
	const uint8_t *b = p;

	return heap.base && b >= heap.base && b < heap.base + heap.n_slabs * SLAB_SIZE;
}

size_t slab_usable(const void *p)
{
	return class_size[heap.meta[((const uint8_t *)p - heap.base) / SLAB_SIZE].cls];
}

void slab_free(void *p)
{
	uint32_t s = (uint32_t)(((uint8_t *)p - heap.base) / SLAB_SIZE);
	struct slab_meta *m = &heap.meta[s];

	pthread_mutex_lock(&heap.lock);
	*(void **)p = m->free;
	m->free = p;
	heap.in_use -= class_size[m->cls];
	if (!m->partial) {
		push(&heap.partial[m->cls], s);
		m->partial = true;
	}
	if (--m->used == 0) {
		/* Empty: any class may have it; its pages stay until slab_trim. */
		unlink_from(&heap.partial[m->cls], s);
		m->partial = false;
		m->released = false;
		push(&heap.empty, s);
	}
	pthread_mutex_unlock(&heap.lock);
}

void *slab_zalloc(size_t n)
{
	void *p = slab_alloc(n);

	if (!p)
		return calloc(1, n ? n : 1);
	memset(p, 0, n);
	return p;
}

void slab_release(void *p)
{
	if (slab_owns(p))
		slab_free(p);
	else
		free(p);
}

void slab_trim(void)
{
	if (!heap.base)
		return; /* never set up (AddressSanitizer builds, osslmem.c): nothing to give back
			 */
	pthread_mutex_lock(&heap.lock);
	for (uint32_t s = heap.empty; s != NONE; s = heap.meta[s].next) {
		if (heap.meta[s].released)
			continue;
		(void)madvise(heap.base + (size_t)s * SLAB_SIZE, SLAB_SIZE, MADV_DONTNEED);
		heap.meta[s].released = true;
		heap.resident -= SLAB_SIZE;
	}
	pthread_mutex_unlock(&heap.lock);
}

void slab_stats(struct slab_stats *st)
{
	pthread_mutex_lock(&heap.lock);
	st->in_use = heap.in_use;
	st->resident = heap.resident;
	pthread_mutex_unlock(&heap.lock);
}
