// SPDX-License-Identifier: MIT
/*
 * What a reload may change once root is dropped, as numbered cases: the
 * running configuration against a new one, with and without
 * CAP_NET_BIND_SERVICE kept. (The drop itself needs root and a process of
 * its own: spec/netns/privileges_spec.lua.)
 */
#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "privdrop.h"
#include "unit.h"

#define ADMIN ((uint64_t)1 << CAP_NET_ADMIN)
#define BIND  ((uint64_t)1 << CAP_NET_BIND_SERVICE)

static const struct {
	bool active;
	uint64_t caps;
	const char *user; /* the new configuration's; NULL: none */
	unsigned gid;
	const char *console, *listen;
	const char *error; /* the start of the message, NULL: accepted */
} cases[] = {
	/* 0 */ { true, ADMIN, "nobody", 65534, "/run/m/c.sock", "udp://0.0.0.0:1194", NULL },
	/* 1 */
	{ true, ADMIN, "daemon", 65534, "/run/m/c.sock", "udp://0.0.0.0:1194", "user/group:" },
	/* 2 */ { true, ADMIN, NULL, 0, "/run/m/c.sock", "udp://0.0.0.0:1194", "user/group:" },
	/* 3 */ { true, ADMIN, "nobody", 1, "/run/m/c.sock", "udp://0.0.0.0:1194", "user/group:" },
	/* 4 */ { true, ADMIN, "nobody", 65534, "/run/m/d.sock", "udp://0.0.0.0:1194", "console:" },
	/* 5 */ { true, ADMIN, "nobody", 65534, NULL, "udp://0.0.0.0:1194", "console:" },
	/* 6 */ { true, ADMIN, "nobody", 65534, "/run/m/c.sock", "udp://0.0.0.0:443", "listen:" },
	/* 7 */
	{ true, ADMIN, "nobody", 65534, "/run/m/c.sock", "udp://0.0.0.0:1194 tcp://[::]:80",
	  "listen:" },
	/* 8 */ { true, ADMIN | BIND, "nobody", 65534, "/run/m/c.sock", "udp://0.0.0.0:443", NULL },
	/* 9 */ { true, ADMIN, "nobody", 65534, "/run/m/c.sock", "tcp://[::1]:1195", NULL },
	/* 10 */ { false, 0, "nobody", 65534, "/run/m/c.sock", "udp://0.0.0.0:1194", "user:" },
	/* 11 */ { false, 0, NULL, 0, "/run/m/d.sock", "udp://0.0.0.0:443", NULL },
};

static void test_reload(void)
{
	struct config running = { .source = "/dev/null",
				  .console_path = "/run/m/c.sock",
				  .listen = "udp://0.0.0.0:1194",
				  .user = "nobody",
				  .uid = 65534,
				  .gid = 65534 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct privdrop pd = { .active = cases[i].active, .uid = 65534, .gid = 65534 };
		struct config cfg = running;
		char err[512] = "";
		int rc;

		pd.caps = cases[i].caps;
		snprintf(pd.user, sizeof(pd.user), "%s", "nobody");
		cfg.user = (char *)cases[i].user;
		cfg.gid = cases[i].gid;
		cfg.console_path = (char *)cases[i].console;
		cfg.listen = (char *)cases[i].listen;
		rc = privdrop_check_reload(&pd, &running, &cfg, false, err, sizeof(err));
		if (!cases[i].error) {
			CHECK(rc == 0, "case %zu: refused: %s", i, err);
			continue;
		}
		CHECK(rc == -EPERM, "case %zu: rc %d, want -EPERM", i, rc);
		CHECK(strncmp(err, cases[i].error, strlen(cases[i].error)) == 0,
		      "case %zu: \"%s\", want \"%s...\"", i, err, cases[i].error);
		CHECK(strstr(err, "restart moonvpn") != NULL, "case %zu: no fix in \"%s\"", i, err);
	}
}

/* Without a user nothing happens, and the engine stays as it is. */
static void test_no_user(void)
{
	struct config cfg = { .listen = "udp://0.0.0.0:1194" };
	struct privdrop pd = { 0 };
	struct log lg;
	char err[256] = "";

	log_init(&lg, LOG_ERROR, stderr);
	CHECK(privdrop_apply(&pd, &cfg, &lg, err, sizeof(err)) == 0, "%s", err);
	CHECK(!pd.active, "dropped without a user");
	CHECK(privdrop_check_readable(&pd, "tls.key", "/nonexistent", err, sizeof(err)) == 0,
	      "checked files before any drop");
}

/* Runs fn in a child process (a drop cannot be undone); its exit status, 0 when all held. */
static int in_child(int (*fn)(void))
{
	int status = -1;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn());
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static struct config nobody = {
	.listen = "udp://0.0.0.0:1194", .user = "nobody", .uid = 65534, .gid = 65534
};

/* As root: the drop leaves the user's ids, CAP_NET_ADMIN alone and no way back. */
static int drop_as_root(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { 0 };
	struct privdrop pd = { 0 };
	struct log lg;
	char err[256] = "";
	uid_t r, e, s;

	log_init(&lg, LOG_ERROR, stderr);
	if (privdrop_apply(&pd, &nobody, &lg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (getresuid(&r, &e, &s) < 0 || r != 65534 || e != 65534 || s != 65534)
		return 2;
	if (syscall(SYS_capget, &hdr, data) < 0 || data[0].effective != ADMIN ||
	    data[0].permitted != ADMIN || data[0].inheritable || data[1].effective)
		return 3;
	if (setuid(0) == 0 || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 4;
	return pd.active && pd.caps == ADMIN ? 0 : 5;
}

/* Not root: refused with a message, nothing changed. */
static int drop_as_user(void)
{
	struct privdrop pd = { 0 };
	struct log lg;
	char err[256] = "";

	log_init(&lg, LOG_ERROR, stderr);
	if (setresuid(65534, 65534, 65534) < 0)
		return 1;
	if (privdrop_apply(&pd, &nobody, &lg, err, sizeof(err)) != -EPERM || pd.active)
		return 2;
	return strstr(err, "needs moonvpn started as root (it runs as uid 65534)") ? 0 : 3;
}

int main(void)
{
	test_reload();
	test_no_user();
	if (geteuid() == 0) {
		int rc = in_child(drop_as_root);

		CHECK(rc == 0, "the drop as root: step %d failed", rc);
		rc = in_child(drop_as_user);
		CHECK(rc == 0, "the drop as a user: step %d failed", rc);
	} else {
		printf("privdrop: not root, the drop itself is not tried\n");
	}
	return unit_report("privdrop");
}
