/* SPDX-License-Identifier: MIT */
/*
 * Child processes that never block the loop: a program is started with
 * posix_spawn in a process group of its own, its stdin is fed and its
 * stdout and stderr are read through non-blocking pipes (libev io
 * watchers), and its exit is seen through a pidfd (an io watcher too, so
 * any loop works, not only libev's default one). A child that outlives its
 * timeout is killed with its whole group. Output beyond the cap is read
 * and discarded, so a chatty program cannot stall or grow memory.
 *
 * A set owns its children: a cancelled child is killed and reaped in the
 * background, and child_set_free kills and reaps whatever is left. Lua and
 * the hook that asked for the program stay outside (lua_hook.c).
 */
#ifndef MOONVPN_CHILD_H
#define MOONVPN_CHILD_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

enum {
	CHILD_OUTPUT_MAX_BYTES = 1024 * 1024, /* per stream; the rest is discarded */
	CHILD_ARGS_MAX = 256,
	CHILD_ENV_MAX = 256,
};

struct child_params {
	const char *const *argv; /* argv[0] is run as given, or looked up on PATH */
	const char *const *envp; /* NULL: the engine's own environment */
	const char *input;	 /* written to stdin, which is then closed; NULL: empty */
	size_t input_len;
	double timeout; /* seconds; the group gets SIGKILL after it */
};

struct child_result {
	int exit_code; /* the exit status, or -1 when killed by a signal */
	int signal;    /* the signal that ended it, or 0 */
	bool timed_out;
	const char *out, *err; /* NUL-terminated; valid during the callback only */
	size_t out_len, err_len;
	bool out_truncated, err_truncated;
};

typedef void (*child_done_fn)(void *ctx, const struct child_result *r);

struct child_set;
struct child;

struct child_set *child_set_new(struct ev_loop *loop) __attribute__((warn_unused_result));
/* Kills every child still running and waits for it. NULL is a no-op. */
void child_set_free(struct child_set *set);
size_t child_set_running(const struct child_set *set);

/*
 * Starts p->argv. done is called once from the loop when the child has
 * exited and its output is read, unless the child is cancelled first.
 * 0, or -errno with err saying why (no such program, too many open files).
 */
int child_spawn(struct child_set *set, const struct child_params *p, child_done_fn done, void *ctx,
		struct child **out, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Kills the child's group; done is not called. The set reaps it. */
void child_cancel(struct child *c);

#endif
