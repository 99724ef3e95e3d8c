// SPDX-License-Identifier: MIT
/*
 * Files replaced whole or not at all (core/sys/atomicfile.c), in a
 * temporary directory: the new text lands with the mode asked for, the
 * umask applied; a failed or aborted write leaves the old file and no
 * temporary file; a link planted at the temporary name, or a file a crash
 * left there, is replaced, never written through.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "unit.h"

static char dir[64], path[128], tmp[160];

static const char *contents(const char *p)
{
	static char buf[256];
	FILE *f = fopen(p, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

static void test_write(void)
{
	struct stat st;
	mode_t old = umask(022);
	FILE *left;

	CHECK(atomicfile_write(path, "one\n", 4, 0644, true) == 0, "first write");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "0644 under umask 022: %o",
	      st.st_mode & 0777);
	/* A temporary file a crash left, open to all: the new one is made afresh. */
	left = fopen(tmp, "w");
	CHECK(left && fchmod(fileno(left), 0666) == 0, "a leftover temporary file");
	if (left)
		fclose(left);
	umask(077);
	CHECK(atomicfile_write(path, "two\n", 4, 0644, false) == 0, "second write");
	umask(old);
	CHECK(contents(path) && strcmp(contents(path), "two\n") == 0, "the second text");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "0600 under umask 077: %o",
	      st.st_mode & 0777);
	CHECK(!exists(tmp), "no temporary file left");
}

static void test_stream(void)
{
	char t[sizeof(tmp)];
	FILE *f = atomicfile_open(path, t, sizeof(t), 0600);

	CHECK(f && strcmp(t, tmp) == 0, "the temporary name: %s", t);
	if (!f)
		return;
	fprintf(f, "three\n");
	CHECK(strcmp(contents(path), "two\n") == 0, "the old text until the commit");
	CHECK(atomicfile_commit(f, t, path) == 0, "commit");
	CHECK(strcmp(contents(path), "three\n") == 0, "the new text after it");
	f = atomicfile_open(path, t, sizeof(t), 0600);
	CHECK(f != NULL, "open again");
	if (f) {
		fprintf(f, "never\n");
		atomicfile_abort(f, t);
	}
	CHECK(strcmp(contents(path), "three\n") == 0 && !exists(tmp),
	      "an abort keeps the old file");
}

static void test_failures(void)
{
	char missing[160], victim[160];

	snprintf(missing, sizeof(missing), "%s/no/such/file", dir);
	CHECK(atomicfile_write(missing, "x", 1, 0644, false) == -ENOENT, "no such directory");
	/* A link at the temporary name is replaced, and what it points at is untouched. */
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	CHECK(atomicfile_write(victim, "safe\n", 5, 0644, false) == 0, "the victim");
	CHECK(symlink(victim, tmp) == 0, "plant a link: %s", strerror(errno));
	CHECK(atomicfile_write(path, "four\n", 5, 0644, false) == 0, "written past the link");
	CHECK(strcmp(contents(victim), "safe\n") == 0, "the victim is untouched");
	CHECK(strcmp(contents(path), "four\n") == 0, "the file has the new text");
	CHECK(!exists(tmp), "no link or temporary file left");
	unlink(victim);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_atomicfile.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/file", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	test_write();
	test_stream();
	test_failures();
	unlink(path);
	rmdir(dir);
	return unit_report("test_atomicfile");
}
