// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "atomicfile.h"

static int temporary_fd(const char *path, char *tmp, size_t tmplen, mode_t mode)
{
	if (snprintf(tmp, tmplen, "%s.tmp", path) >= (int)tmplen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/*
	 * Made afresh, so mode and the umask hold (a file left by a crash kept
	 * its own), and O_EXCL never follows a link planted at the name.
	 */
	(void)unlink(tmp);
	return open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
}

/* Renames tmp over path once its writing went well (ok); 0, or -errno with tmp removed. */
static int finish(bool ok, const char *tmp, const char *path)
{
	int e;

	if (ok && rename(tmp, path) == 0)
		return 0;
	e = errno ? errno : EIO; /* a short write sets none */
	(void)unlink(tmp);
	return -e;
}

int atomicfile_write(const char *path, const void *data, size_t len, mode_t mode, bool sync)
{
	char tmp[4096 + ATOMICFILE_SUFFIX_MAX];
	int fd = temporary_fd(path, tmp, sizeof(tmp), mode);
	bool ok;

	if (fd < 0)
		return -errno;
	errno = 0;
	ok = write(fd, data, len) == (ssize_t)len && (!sync || fsync(fd) == 0);
	ok = close(fd) == 0 && ok;
	return finish(ok, tmp, path);
}

FILE *atomicfile_open(const char *path, char *tmp, size_t tmplen, mode_t mode)
{
	int fd = temporary_fd(path, tmp, tmplen, mode);
	FILE *f;

	if (fd < 0)
		return NULL;
	if (!(f = fdopen(fd, "w"))) {
		int e = errno;

		close(fd);
		(void)unlink(tmp);
		errno = e;
	}
	return f;
}

void atomicfile_abort(FILE *f, const char *tmp)
{
	(void)fclose(f);
	(void)unlink(tmp);
}

int atomicfile_commit(FILE *f, const char *tmp, const char *path)
{
	bool ok;

	/* A print that failed earlier left ferror set and its errno gone: EIO for it. */
	errno = ferror(f) ? EIO : 0;
	ok = !ferror(f) && fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0 && ok)
		ok = false;
	return finish(ok, tmp, path);
}
