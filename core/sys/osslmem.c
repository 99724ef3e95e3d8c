// SPDX-License-Identifier: MIT
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "osslmem.h"
#include "slab.h"

/* Address space for handshake objects (untouched, it costs nothing): the 16,384 half-open
 * handshakes of max_clients = 65,535 hold about 650 MB. */
enum { OSSLMEM_RESERVE_MB = 2048 };

static pthread_t owner;
static bool on;
static _Thread_local unsigned keeping; /* each thread's own: only the owner's counts */

static bool to_slab(void)
{
	return on && pthread_equal(pthread_self(), owner) && !keeping;
}

static void *ossl_malloc(size_t n, const char *file, int line)
{
	void *p = to_slab() ? slab_alloc(n) : NULL;

	(void)file;
	(void)line;
	return p ? p : malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
	size_t have;
	void *q;

	if (!p)
		return ossl_malloc(n, file, line);
	if (!slab_owns(p))
		return realloc(p, n);
	if (!n) {
		slab_free(p);
		return NULL;
	}
	have = slab_usable(p);
	if (n <= have)
		return p;
	if (!(q = ossl_malloc(n, file, line)))
		return NULL;
	memcpy(q, p, have);
	slab_free(p);
	return q;
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (slab_owns(p))
		slab_free(p);
	else
		free(p);
}

bool osslmem_init(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return false; /* AddressSanitizer checks OpenSSL's blocks only if malloc has them */
#endif		      /* the rest stays compiled: it is what uses the functions above */
	/* The functions first: if the slab heap cannot be had, they send everything to malloc. */
	owner = pthread_self();
	if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) ||
	    slab_init((size_t)OSSLMEM_RESERVE_MB << 20) < 0)
		return false;
	on = true;
	return true;
}

void osslmem_keep_begin(void)
{
	keeping++;
}

void osslmem_keep_end(void)
{
	keeping--;
}
