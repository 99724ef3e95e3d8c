/* SPDX-License-Identifier: MIT */
/*
 * A heap apart for the short-lived small objects of TLS handshakes
 * (OpenSSL's, through osslmem.h), so that they never share pages with
 * what a connected client keeps. In glibc's one heap a storm of
 * handshakes left each idle client's few long-lived blocks (its session,
 * data keys, Lua objects) scattered over every page the handshakes had
 * used: malloc_trim gives back only whole free pages, and 10,000 idle
 * clients kept about 7 KiB each of handshake memory resident.
 *
 * Objects of up to SLAB_OBJECT_MAX bytes in size classes, each class
 * carved from 16 KiB slabs of one reserved address range (untouched pages
 * cost nothing); a slab that empties can serve any class, and slab_trim
 * gives empty slabs' pages back once handshakes are quiet. Thread-safe
 * (one lock); slab_alloc returns NULL when the request is too large or the
 * range is used up, and the caller falls back to malloc.
 */
#ifndef MOONVPN_SLAB_H
#define MOONVPN_SLAB_H

#include <stdbool.h>
#include <stddef.h>

enum { SLAB_OBJECT_MAX = 4096 };

/* Reserves reserve bytes of address space; 0, or -1 (then slab_alloc always fails). */
int slab_init(size_t reserve);
void *slab_alloc(size_t n);
/* Whether p came from slab_alloc (NULL did not). */
bool slab_owns(const void *p);
/* The bytes p's block holds (its size class). */
size_t slab_usable(const void *p);
void slab_free(void *p);
/*
 * For the engine's own handshake buffers (the reliability layer's): from
 * the slabs when they can, else malloc; zeroed; freed with slab_release,
 * which takes either (and NULL).
 */
void *slab_zalloc(size_t n);
void slab_release(void *p);
/* Gives the pages of empty slabs back to the system. */
void slab_trim(void);

struct slab_stats {
	size_t in_use;	 /* bytes of the blocks allocated */
	size_t resident; /* bytes of slabs in use, and of empty ones not given back */
};
void slab_stats(struct slab_stats *st);

#endif
