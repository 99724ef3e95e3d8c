// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ttyask.h"

bool ttyask_possible(void)
{
	return isatty(STDIN_FILENO) == 1;
}

/*
 * One line from fd into out, byte by byte (a terminal in canonical mode gives
 * lines). End of input after some bytes ends the line (Ctrl-D after typing
 * it); a read error fails, rather than pass half a password on.
 */
static int read_line(int fd, char *out, size_t cap)
{
	size_t n = 0;
	char ch;

	for (;;) {
		ssize_t r = read(fd, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0 && !n)
			return -EPIPE;
		if (r == 0 || ch == '\n' || ch == '\r')
			break;
		if (n + 1 >= cap) {
			/* The rest of the line would be the next question's answer. */
			(void)tcflush(fd, TCIFLUSH);
			return -EMSGSIZE;
		}
		out[n++] = ch;
	}
	out[n] = '\0';
	return 0;
}

int ttyask_read(const char *prompt, bool echo, char *out, size_t cap)
{
	struct termios saved, quiet;
	bool restore = false;
	int fd, rc;

	if (!ttyask_possible())
		return -ENOTTY;
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (!echo && tcgetattr(fd, &saved) == 0) {
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
		quiet.c_lflag |= ECHONL;
		restore = tcsetattr(fd, TCSANOW, &quiet) == 0;
	}
	(void)!write(fd, prompt, strlen(prompt));
	rc = read_line(fd, out, cap);
	if (restore)
		(void)tcsetattr(fd, TCSANOW, &saved);
	close(fd);
	if (rc < 0)
		explicit_bzero(out, cap); /* part of a secret may be in it */
	return rc;
}
