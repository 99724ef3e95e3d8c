// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"

static int temporary_fd(const char *path, char *tmp, size_t tmplen, mode_t mode)
{
	if (snprintf(tmp, tmplen, "%s.tmp", path) >= (int)tmplen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* O_NOFOLLOW: a link planted at the temporary name is refused, not written through. */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);

	/* mode whatever the umask: a CRL must stay readable by the server after it drops root. */
	if (fd >= 0 && fchmod(fd, mode) < 0) {
		int e = errno;

		close(fd);
		(void)unlink(tmp);
		errno = e;
		return -1;
	}
	return fd;
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

	errno = 0;
	ok = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;

	ok = fclose(f) == 0 && ok;
	return finish(ok, tmp, path);
}
