/* SPDX-License-Identifier: MIT */
/*
 * Files replaced whole or not at all: written to a temporary file beside
 * the target (PATH.tmp) and renamed over it, so a reader
 * (a server reading a CRL, a resolver, a status poller) or a crash between
 * two writes finds the old file or the new one, never half of one.
 */
#ifndef MOONVPN_ATOMICFILE_H
#define MOONVPN_ATOMICFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

enum { ATOMICFILE_SUFFIX_MAX = 8 }; /* what the temporary file's name adds to path's */

/*
 * len bytes of data as path, with mode for a new file (as open(2): the
 * umask applies, so a service's UMask=0077 keeps it private); 0, or -errno
 * (the temporary file gone). sync: flushed to disk before the rename, for a file that must
 * survive a crash (not for a report rewritten every few seconds: each sync
 * would stall the event loop).
 */
int atomicfile_write(const char *path, const void *data, size_t len, mode_t mode, bool sync)
	__attribute__((warn_unused_result));

/*
 * For a writer that prints: a stream on path's temporary file, created with
 * mode as above (its name into tmp, of tmplen bytes); NULL with errno set.
 */
FILE *atomicfile_open(const char *path, char *tmp, size_t tmplen, mode_t mode)
	__attribute__((warn_unused_result));

/*
 * Closes f (from atomicfile_open) and, if everything written reached the
 * file, flushes it to disk and renames tmp over path; 0, or -errno with tmp
 * removed.
 */
int atomicfile_commit(FILE *f, const char *tmp, const char *path)
	__attribute__((warn_unused_result));

/* Closes f (from atomicfile_open) and removes tmp: path stays as it was. */
void atomicfile_abort(FILE *f, const char *tmp);

#endif
