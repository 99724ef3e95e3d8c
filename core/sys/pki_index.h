/* SPDX-License-Identifier: MIT */
/*
 * index.txt, the certificate database of OpenSSL's `ca` command that
 * easy-rsa keeps in its pki/ directory: one line per certificate issued,
 * six tab-separated fields: status (V valid, R revoked, E expired), expiry
 * (ASN.1 time, YYMMDDHHMMSSZ), revocation time[,reason] (empty unless R),
 * serial (hex), file name ("unknown") and subject ("/CN=alice"). Read
 * whole, changed in memory, written back through a rename.
 */
#ifndef MOONVPN_PKI_INDEX_H
#define MOONVPN_PKI_INDEX_H

#include <stddef.h>

enum {
	PKI_INDEX_TIME_MAX = 40,
	PKI_INDEX_SERIAL_MAX = 80, /* hex digits of a serial of up to 20 bytes, and room */
	PKI_INDEX_SUBJECT_MAX = 512,
	PKI_INDEX_ENTRIES_MAX = 1000000,
};

struct pki_index_entry {
	char status; /* 'V', 'R' or 'E' */
	char expires[PKI_INDEX_TIME_MAX];
	char revoked[PKI_INDEX_TIME_MAX]; /* "" unless revoked */
	char serial[PKI_INDEX_SERIAL_MAX];
	char subject[PKI_INDEX_SUBJECT_MAX];
};

struct pki_index {
	struct pki_index_entry *e;
	size_t n, cap;
};

/* Reads path (a missing file is an empty index). */
int pki_index_read(const char *path, struct pki_index *ix, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Writes ix to path, through path.tmp and a rename. */
int pki_index_write(const char *path, const struct pki_index *ix, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Appends a copy of e; -ENOMEM. */
int pki_index_add(struct pki_index *ix, const struct pki_index_entry *e)
	__attribute__((warn_unused_result));
/* The CN in an entry's subject ("/CN=alice/..." -> "alice"), in out; "" when none. */
void pki_index_cn(const struct pki_index_entry *e, char *out, size_t len);
/* The entry with this serial (hex, any case), or NULL. */
struct pki_index_entry *pki_index_find(struct pki_index *ix, const char *serial);
void pki_index_free(struct pki_index *ix);

#endif
