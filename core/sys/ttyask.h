/* SPDX-License-Identifier: MIT */
/*
 * Questions asked on the controlling terminal (a password, a one-time
 * code): the prompt goes to /dev/tty and the answer is read from it, with
 * echo off unless asked otherwise (termios), as OpenVPN's console
 * get_console_input does. Only for a person at a terminal: never when
 * standard input is not one.
 */
#ifndef MOONVPN_TTYASK_H
#define MOONVPN_TTYASK_H

#include <stdbool.h>
#include <stddef.h>

enum {
	TTYASK_ANSWER_MAX = 1024, /* bytes of an answer, NUL included */
};

/* Whether standard input is a terminal, so that a person may be asked. */
bool ttyask_possible(void);

/*
 * Prints prompt and reads one line into out (cap with its NUL, the line
 * end cut off; end of input after some bytes ends it too). 0, or -errno:
 * no terminal (-ENOTTY), end of input before any byte (-EPIPE), a line
 * longer than cap (-EMSGSIZE: the rest of it is discarded, not left for the
 * next question), SIGINT or SIGTERM while waiting (-EINTR, at once: the
 * signal is raised again for the process's own handler), a read error. On failure out is wiped. The
 * terminal's modes are restored.
 */
int ttyask_read(const char *prompt, bool echo, char *out, size_t cap)
	__attribute__((warn_unused_result));

/* Why ttyask_read failed with rc, in words a user acts on ("standard input is not a terminal"). */
const char *ttyask_strerror(int rc);

#endif
