// SPDX-License-Identifier: MIT
/*
 * Questions on a terminal (ttyask.c), asked in a child whose controlling
 * terminal is a pseudo-terminal that this test types into: a line ended
 * by Ctrl-D without a newline is a whole, NUL-terminated answer, and a line
 * too long leaves nothing of itself for the next question.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ttyask.h"
#include "unit.h"

enum {
	PROMPT_WAIT_MS = 30000, /* for the child's prompt: generous, the machine may be busy */
	ANSWER_CAP = 16,
};

/* What the child read: each question's return code and answer, over a pipe. */
struct answers {
	int rc[2];
	char text[2][ANSWER_CAP];
};

/* Reads the master until the terminal output so far holds want; false on timeout. */
static bool wait_for(int master, const char *want)
{
	static char seen[4096];
	static size_t n;

	for (int waited = 0; waited < PROMPT_WAIT_MS; waited += 10) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		char *hit;

		if (poll(&p, 1, 10) > 0) {
			ssize_t r = read(master, seen + n, sizeof(seen) - n - 1);

			if (r > 0)
				n += (size_t)r;
			seen[n] = '\0';
		}
		hit = strstr(seen, want);
		if (hit) {
			/* What came after the prompt stays for the next wait. */
			size_t rest = n - (size_t)(hit + strlen(want) - seen);

			memmove(seen, hit + strlen(want), rest + 1);
			n = rest;
			return true;
		}
	}
	return false;
}

/* The child: the pseudo-terminal's slave as its controlling terminal and stdin. */
static void ask_twice(const char *slave, int out)
{
	struct answers a;
	int fd;

	memset(&a, 'X', sizeof(a)); /* what an unterminated answer would show */
	if (setsid() < 0 || (fd = open(slave, O_RDWR)) < 0 || dup2(fd, STDIN_FILENO) < 0)
		_exit(2);
	a.rc[0] = ttyask_read("Q1: ", true, a.text[0], sizeof(a.text[0]));
	a.rc[1] = ttyask_read("Q2: ", true, a.text[1], sizeof(a.text[1]));
	_exit(write(out, &a, sizeof(a)) == (ssize_t)sizeof(a) ? 0 : 3);
}

/* Types first after the prompt Q1, then second after Q2; the child's answers in a. */
static bool converse(const char *first, const char *second, struct answers *a)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY), pipefd[2], status = -1;
	bool ok = false;
	pid_t pid;

	memset(a, 0, sizeof(*a));
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || pipe(pipefd) < 0)
		return false;
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		ask_twice(ptsname(master), pipefd[1]);
	}
	close(pipefd[1]);
	if (pid > 0 && wait_for(master, "Q1: ") &&
	    write(master, first, strlen(first)) == (ssize_t)strlen(first) &&
	    wait_for(master, "Q2: ") &&
	    write(master, second, strlen(second)) == (ssize_t)strlen(second))
		ok = read(pipefd[0], a, sizeof(*a)) == (ssize_t)sizeof(*a);
	if (pid > 0) {
		if (!ok)
			kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	close(pipefd[0]);
	close(master);
	return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_eof_ends_the_line(void)
{
	struct answers a;

	/* Ctrl-D after "abc" hands it over; Ctrl-D again on an empty line is end of input. */
	CHECK(converse("abc\004\004", "second\n", &a), "the child answered");
	CHECK(a.rc[0] == 0, "rc %d", a.rc[0]);
	CHECK(memchr(a.text[0], '\0', sizeof(a.text[0])) && strcmp(a.text[0], "abc") == 0, "%.*s",
	      (int)sizeof(a.text[0]), a.text[0]);
	CHECK(a.rc[1] == 0 && strcmp(a.text[1], "second") == 0, "rc %d", a.rc[1]);
}

static void test_too_long_is_dropped(void)
{
	struct answers a;

	CHECK(converse("0123456789abcdefghijKLMNOP\n", "second\n", &a), "the child answered");
	CHECK(a.rc[0] == -EMSGSIZE, "rc %d", a.rc[0]);
	CHECK(a.text[0][0] == '\0', "wiped");
	/* Not "ghijKLMNOP", the rest of the first line. */
	CHECK(a.rc[1] == 0 && memchr(a.text[1], '\0', sizeof(a.text[1])) &&
		      strcmp(a.text[1], "second") == 0,
	      "rc %d, %.*s", a.rc[1], (int)sizeof(a.text[1]), a.text[1]);
}

static volatile sig_atomic_t interrupted;

static void on_int(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* The child: asks once under a SIGINT handler with SA_RESTART, as libev installs its own. */
static void ask_interrupted(const char *slave, int out)
{
	struct sigaction sa = { .sa_handler = on_int, .sa_flags = SA_RESTART };
	char answer[ANSWER_CAP];
	int fd, result[2];

	sigemptyset(&sa.sa_mask);
	if (setsid() < 0 || (fd = open(slave, O_RDWR)) < 0 || dup2(fd, STDIN_FILENO) < 0 ||
	    sigaction(SIGINT, &sa, NULL) < 0)
		_exit(2);
	result[0] = ttyask_read("Q1: ", false, answer, sizeof(answer));
	result[1] = interrupted;
	_exit(write(out, result, sizeof(result)) == (ssize_t)sizeof(result) ? 0 : 3);
}

/* Ctrl-C at the prompt ends the question at once (no Enter), and the process's handler runs. */
static void test_ctrl_c_stops_at_once(void)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY), pipefd[2], result[2] = { 0, 0 };
	struct pollfd p;
	bool answered = false;
	pid_t pid;

	CHECK(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0 && pipe(pipefd) == 0,
	      "a pseudo-terminal");
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		ask_interrupted(ptsname(master), pipefd[1]);
	}
	close(pipefd[1]);
	p = (struct pollfd){ .fd = pipefd[0], .events = POLLIN };
	if (wait_for(master, "Q1: ") && write(master, "\003", 1) == 1 &&
	    poll(&p, 1, PROMPT_WAIT_MS) == 1)
		answered = read(pipefd[0], result, sizeof(result)) == (ssize_t)sizeof(result);
	CHECK(answered, "the question ended without an Enter");
	CHECK(result[0] == -EINTR && result[1] == 1, "rc %d, the handler ran: %d", result[0],
	      result[1]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pipefd[0]);
	close(master);
}

int main(void)
{
	test_ctrl_c_stops_at_once();
	test_eof_ends_the_line();
	test_too_long_is_dropped();
	return unit_report("test_ttyask");
}
