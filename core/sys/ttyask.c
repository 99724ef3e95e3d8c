// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ttyask.h"

bool ttyask_possible(void)
{
	return isatty(STDIN_FILENO) == 1;
}

/* The signal that stopped the question (SIGINT, SIGTERM), 0 while none came. */
static volatile sig_atomic_t stopped_by;

static void on_stop(int sig)
{
	stopped_by = sig;
}

/*
 * One line from fd into out, byte by byte (a terminal in canonical mode gives
 * lines). End of input after some bytes ends the line (Ctrl-D after typing
 * it); a read error fails, rather than pass half a password on. The stop
 * signals are blocked but while ppoll waits with waitmask: one that comes
 * ends the wait (-EINTR) at once, not at the next Enter.
 */
static int read_line(int fd, char *out, size_t cap, const sigset_t *waitmask)
{
	size_t n = 0;
	char ch;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (ppoll(&p, 1, NULL, waitmask) < 0 && errno != EINTR)
			return -errno;
		if (stopped_by)
			return -EINTR;
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = read(fd, &ch, 1);
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

/*
 * While asking, SIGINT and SIGTERM are ours (no SA_RESTART: the loop's own
 * handler would let the read go on until Enter); the one that came is
 * raised again for the loop once its handler and mask are back.
 */
static int read_stoppable(int fd, const char *prompt, char *out, size_t cap)
{
	static const int sigs[] = { SIGINT, SIGTERM };
	struct sigaction ours = { .sa_handler = on_stop }, theirs[2];
	sigset_t stop, saved, waitmask;
	int rc;

	sigemptyset(&stop);
	sigemptyset(&ours.sa_mask);
	for (size_t i = 0; i < 2; i++)
		sigaddset(&stop, sigs[i]);
	pthread_sigmask(SIG_BLOCK, &stop, &saved);
	waitmask = saved;
	stopped_by = 0;
	for (size_t i = 0; i < 2; i++) {
		sigdelset(&waitmask, sigs[i]);
		sigaction(sigs[i], &ours, &theirs[i]);
	}
	/* Prompted once ours are in place: a Ctrl-C at the prompt is ours to see. */
	(void)!write(fd, prompt, strlen(prompt));
	rc = read_line(fd, out, cap, &waitmask);
	for (size_t i = 0; i < 2; i++)
		sigaction(sigs[i], &theirs[i], NULL);
	if (stopped_by)
		raise(stopped_by); /* pending until the mask is back: then the loop's */
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	return rc;
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
	rc = read_stoppable(fd, prompt, out, cap);
	if (restore)
		(void)tcsetattr(fd, TCSANOW, &saved);
	close(fd);
	if (rc < 0)
		explicit_bzero(out, cap); /* part of a secret may be in it */
	return rc;
}

const char *ttyask_strerror(int rc)
{
	switch (rc) {
	case -ENOTTY:
		return "standard input is not a terminal";
	case -EPIPE: /* Ctrl-D, or the terminal went away */
		return "standard input was closed, so there is no terminal to ask on";
	case -EMSGSIZE:
		return "the answer is too long";
	default:
		return strerror(-rc);
	}
}
