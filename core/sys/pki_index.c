// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "atomicfile.h"
#include "pki_index.h"

enum { INDEX_LINE_MAX = 2048, INDEX_FIELDS = 6 };

int pki_index_add(struct pki_index *ix, const struct pki_index_entry *e)
{
	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? 2 * ix->cap : 16;
		struct pki_index_entry *n = realloc(ix->e, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		ix->e = n;
		ix->cap = cap;
	}
	ix->e[ix->n++] = *e;
	return 0;
}

static bool copy_field(char *dst, size_t len, const char *src)
{
	if (strlen(src) >= len)
		return false;
	strcpy(dst, src);
	return true;
}

/* Splits one line into its six fields; false when it is not an index line. */
static bool parse_line(char *line, struct pki_index_entry *e)
{
	char *f[INDEX_FIELDS];
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	f[n++] = line;
	for (char *p = line; *p && n < INDEX_FIELDS; p++) {
		if (*p == '\t') {
			*p = '\0';
			f[n++] = p + 1;
		}
	}
	if (n != INDEX_FIELDS || strlen(f[0]) != 1 || !strchr("VRE", f[0][0]))
		return false;
	e->status = f[0][0];
	return copy_field(e->expires, sizeof(e->expires), f[1]) &&
	       copy_field(e->revoked, sizeof(e->revoked), f[2]) &&
	       copy_field(e->serial, sizeof(e->serial), f[3]) &&
	       copy_field(e->subject, sizeof(e->subject), f[5]) && e->serial[0];
}

int pki_index_read(const char *path, struct pki_index *ix, char *err, size_t errlen)
{
	char line[INDEX_LINE_MAX];
	unsigned lineno = 0;
	FILE *f = fopen(path, "r");

	*ix = (struct pki_index){ 0 };
	if (!f && errno == ENOENT)
		return 0;
	if (!f) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		struct pki_index_entry e = { 0 };

		lineno++;
		if (line[0] == '\n' || line[0] == '\0')
			continue;
		if (!parse_line(line, &e) || ix->n >= PKI_INDEX_ENTRIES_MAX) {
			snprintf(err, errlen,
				 "%s:%u: not an index line (status, expiry, revocation, serial, "
				 "file, subject separated by tabs)",
				 path, lineno);
			goto fail;
		}
		if (pki_index_add(ix, &e) < 0) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto fail;
		}
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	pki_index_free(ix);
	return -EINVAL;
}

int pki_index_write(const char *path, const struct pki_index *ix, char *err, size_t errlen)
{
	char tmp[4096 + ATOMICFILE_SUFFIX_MAX];
	FILE *f = atomicfile_open(path, tmp, sizeof(tmp), 0644);
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < ix->n; i++) {
		const struct pki_index_entry *e = &ix->e[i];

		fprintf(f, "%c\t%s\t%s\t%s\tunknown\t%s\n", e->status, e->expires, e->revoked,
			e->serial, e->subject);
	}
	if ((rc = atomicfile_commit(f, tmp, path)) < 0)
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
	return rc;
}

void pki_index_cn(const struct pki_index_entry *e, char *out, size_t len)
{
	const char *p = strstr(e->subject, "/CN=");
	size_t n;

	out[0] = '\0';
	if (!p || !len)
		return;
	p += 4;
	n = strcspn(p, "/");
	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

struct pki_index_entry *pki_index_find(struct pki_index *ix, const char *serial)
{
	for (size_t i = 0; i < ix->n; i++) {
		if (strcasecmp(ix->e[i].serial, serial) == 0)
			return &ix->e[i];
	}
	return NULL;
}

void pki_index_free(struct pki_index *ix)
{
	free(ix->e);
	*ix = (struct pki_index){ 0 };
}
