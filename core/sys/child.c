// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

extern char **environ;

enum { OUTPUT_CHUNK = 4096 };

struct output {
	int fd;
	ev_io watcher;
	char *data;
	size_t len, cap;
	bool truncated;
};

struct child {
	struct child_set *set;
	struct child *next;
	pid_t pid;
	int pidfd;
	ev_io exited;
	ev_timer timeout;
	ev_io input_watcher;
	int input_fd;
	const char *input; /* our copy, input_len bytes */
	size_t input_len, input_sent;
	struct output out, err;
	child_done_fn done; /* NULL once cancelled */
	void *ctx;
	bool timed_out;
};

struct child_set {
	struct ev_loop *loop;
	struct child *head;
	size_t n;
};

struct child_set *child_set_new(struct ev_loop *loop)
{
	struct child_set *set = calloc(1, sizeof(*set));

	if (set)
		set->loop = loop;
	return set;
}

size_t child_set_running(const struct child_set *set)
{
	return set->n;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void stop_io(struct child *c, ev_io *w, int *fd)
{
	ev_io_stop(c->set->loop, w);
	close_fd(fd);
}

/* Unlinks and frees c; its watchers are stopped and its process reaped. */
static void child_free(struct child *c)
{
	struct child **pp = &c->set->head;

	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	c->set->n--;
	stop_io(c, &c->input_watcher, &c->input_fd);
	stop_io(c, &c->out.watcher, &c->out.fd);
	stop_io(c, &c->err.watcher, &c->err.fd);
	stop_io(c, &c->exited, &c->pidfd);
	ev_timer_stop(c->set->loop, &c->timeout);
	free(c->out.data);
	free(c->err.data);
	free((char *)c->input);
	free(c);
}

void child_set_free(struct child_set *set)
{
	if (!set)
		return;
	while (set->head) {
		struct child *c = set->head;

		kill(-c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		child_free(c);
	}
	free(set);
}

static void append(struct output *o, const char *buf, size_t n)
{
	size_t room = CHILD_OUTPUT_MAX_BYTES - o->len;

	if (n > room) {
		o->truncated = true;
		n = room;
	}
	if (n == 0)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : OUTPUT_CHUNK;
		char *p;

		while (cap < o->len + n + 1)
			cap *= 2;
		if (cap > CHILD_OUTPUT_MAX_BYTES + 1)
			cap = CHILD_OUTPUT_MAX_BYTES + 1;
		if (!(p = realloc(o->data, cap))) {
			o->truncated = true;
			return;
		}
		o->data = p;
		o->cap = cap;
	}
	memcpy(o->data + o->len, buf, n);
	o->len += n;
}

/* Reads what the pipe holds now; false at end of file or on an error. */
static bool drain(struct output *o)
{
	char buf[OUTPUT_CHUNK];

	for (;;) {
		ssize_t n = read(o->fd, buf, sizeof(buf));

		if (n > 0) {
			append(o, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
}

static void on_output(struct ev_loop *loop, ev_io *w, int revents)
{
	struct output *o = w->data;

	(void)loop;
	(void)revents;
	if (!drain(o)) {
		ev_io_stop(loop, w);
		close_fd(&o->fd);
	}
}

static void on_input(struct ev_loop *loop, ev_io *w, int revents)
{
	struct child *c = w->data;

	(void)loop;
	(void)revents;
	while (c->input_sent < c->input_len) {
		ssize_t n =
			write(c->input_fd, c->input + c->input_sent, c->input_len - c->input_sent);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			break; /* EPIPE: the program does not read its input */
		c->input_sent += (size_t)n;
	}
	stop_io(c, &c->input_watcher, &c->input_fd);
}

static const char *text_of(struct output *o)
{
	if (!o->data)
		return "";
	o->data[o->len] = '\0';
	return o->data;
}

/* The process exited: what it wrote is all in the pipes now (grandchildren are not waited for). */
static void on_exited(struct ev_loop *loop, ev_io *w, int revents)
{
	struct child *c = w->data;
	int status = 0;
	pid_t r;

	(void)loop;
	(void)revents;
	while ((r = waitpid(c->pid, &status, WNOHANG)) < 0 && errno == EINTR)
		;
	if (r == 0)
		return; /* not yet: a spurious wakeup */
	if (r < 0)	/* reaped by someone else (SIGCHLD ignored): its status is unknown, not 0 */
		status = -1;
	if (c->done) {
		struct child_result res = { 0 };

		if (c->out.fd >= 0)
			drain(&c->out);
		if (c->err.fd >= 0)
			drain(&c->err);
		res.exit_code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		res.signal = status != -1 && WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		res.timed_out = c->timed_out;
		res.out = text_of(&c->out);
		res.out_len = c->out.len;
		res.out_truncated = c->out.truncated;
		res.err = text_of(&c->err);
		res.err_len = c->err.len;
		res.err_truncated = c->err.truncated;
		c->done(c->ctx, &res);
	}
	child_free(c);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct child *c = w->data;

	(void)loop;
	(void)revents;
	c->timed_out = true;
	kill(-c->pid, SIGKILL);
}

void child_cancel(struct child *c)
{
	c->done = NULL;
	kill(-c->pid, SIGKILL);
	stop_io(c, &c->input_watcher, &c->input_fd);
	stop_io(c, &c->out.watcher, &c->out.fd);
	stop_io(c, &c->err.watcher, &c->err.fd);
	ev_timer_stop(c->set->loop, &c->timeout);
}

/* Three pipes: ours are non-blocking; all are close-on-exec (dup2 clears it for the child). */
static int make_pipes(int fds[3][2])
{
	for (int i = 0; i < 3; i++) {
		if (pipe2(fds[i], O_CLOEXEC) < 0)
			return -errno;
		if (fcntl(fds[i][i == 0 ? 1 : 0], F_SETFL, O_NONBLOCK) < 0)
			return -errno;
	}
	return 0;
}

static void close_pipes(int fds[3][2])
{
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 2; j++)
			close_fd(&fds[i][j]);
}

/* posix_spawn in a new session (so the timeout kills the whole group), default signals. */
static int spawn(const struct child_params *p, int fds[3][2], pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_adddup2(&fa, fds[0][0], 0);
	posix_spawn_file_actions_adddup2(&fa, fds[1][1], 1);
	posix_spawn_file_actions_adddup2(&fa, fds[2][1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawnp(pid, p->argv[0], &fa, &attr, (char *const *)p->argv,
			  p->envp ? (char *const *)p->envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return -rc;
}

static void watch(struct child *c, struct child_params const *p)
{
	struct ev_loop *loop = c->set->loop;

	ev_io_init(&c->exited, on_exited, c->pidfd, EV_READ);
	c->exited.data = c;
	ev_io_start(loop, &c->exited);
	ev_io_init(&c->out.watcher, on_output, c->out.fd, EV_READ);
	c->out.watcher.data = &c->out;
	ev_io_start(loop, &c->out.watcher);
	ev_io_init(&c->err.watcher, on_output, c->err.fd, EV_READ);
	c->err.watcher.data = &c->err;
	ev_io_start(loop, &c->err.watcher);
	ev_io_init(&c->input_watcher, on_input, c->input_fd, EV_WRITE);
	c->input_watcher.data = c;
	if (c->input_len)
		ev_io_start(loop, &c->input_watcher);
	else
		close_fd(&c->input_fd);
	ev_timer_init(&c->timeout, on_timeout, p->timeout, 0);
	c->timeout.data = c;
	ev_timer_start(loop, &c->timeout);
}

static struct child *child_alloc(struct child_set *set, const struct child_params *p)
{
	struct child *c = calloc(1, sizeof(*c));
	char *input = NULL;

	if (!c || (p->input_len && !(input = malloc(p->input_len)))) {
		free(c);
		return NULL;
	}
	if (p->input_len)
		memcpy(input, p->input, p->input_len);
	c->set = set;
	c->input = input;
	c->input_len = p->input_len;
	c->pidfd = c->input_fd = c->out.fd = c->err.fd = -1;
	return c;
}

int child_spawn(struct child_set *set, const struct child_params *p, child_done_fn done, void *ctx,
		struct child **out, char *err, size_t errlen)
{
	int fds[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	struct child *c = child_alloc(set, p);
	int rc;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((rc = make_pipes(fds)) < 0 || (rc = spawn(p, fds, &c->pid)) < 0) {
		snprintf(err, errlen, "%s: %s", p->argv[0], strerror(-rc));
		goto fail;
	}
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (c->pidfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "pidfd_open: %s", strerror(-rc));
		kill(-c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		goto fail;
	}
	c->input_fd = fds[0][1];
	c->out.fd = fds[1][0];
	c->err.fd = fds[2][0];
	fds[0][1] = fds[1][0] = fds[2][0] = -1;
	close_pipes(fds); /* the child's ends */
	c->done = done;
	c->ctx = ctx;
	c->next = set->head;
	set->head = c;
	set->n++;
	watch(c, p);
	*out = c;
	return 0;
fail:
	close_pipes(fds);
	free((char *)c->input);
	free(c);
	return rc;
}
