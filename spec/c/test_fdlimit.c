// SPDX-License-Identifier: MIT
/* The open-files limit at start-up: raised to what the server's bounds need, never lowered. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fdlimit.h"
#include "tcp.h"
#include "unit.h"

static char logged[4096];

static void run(struct log *lg, FILE *f)
{
	rewind(f);
	if (ftruncate(fileno(f), 0) < 0)
		return;
	fdlimit_raise(lg, TCP_CONNS_MAX);
	fflush(f);
	memset(logged, 0, sizeof(logged));
	rewind(f);
	(void)!fread(logged, 1, sizeof(logged) - 1, f);
}

int main(void)
{
	FILE *f = tmpfile();
	struct log lg;
	struct rlimit rl, now;
	rlim_t want = (rlim_t)fdlimit_wanted(TCP_CONNS_MAX);

	if (!f || getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1;
	log_init(&lg, LOG_DEBUG, f);
	CHECK(want > TCP_CONNS_MAX + TCP_FDS_RESERVED, "wanted %llu", (unsigned long long)want);
	CHECK(fdlimit_wanted(65535 + TCP_CONNS_SPARE) > 65535 + TCP_CONNS_SPARE + TCP_FDS_RESERVED,
	      "a server with room for 65,535 clients wants a descriptor for each");

	/* A low soft limit under a high enough hard one: raised to what is wanted. */
	if (rl.rlim_max >= want) {
		now.rlim_cur = 64;
		now.rlim_max = rl.rlim_max;
		CHECK(setrlimit(RLIMIT_NOFILE, &now) == 0, "lowering the soft limit");
		run(&lg, f);
		CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0 && now.rlim_cur == want,
		      "soft limit %llu", (unsigned long long)now.rlim_cur);
		CHECK(strstr(logged, "raised from 64") != NULL, "logged: %s", logged);
	}
	/* Already enough: nothing changes, nothing is said. */
	run(&lg, f);
	CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0 && now.rlim_cur >= want, "still raised");
	CHECK(logged[0] == '\0', "logged: %s", logged);
	/* A hard limit below what is wanted, unprivileged or not raisable: the soft limit goes
	 * up to it and the log says how to get more. Only testable where we may lower it. */
	now.rlim_cur = now.rlim_max = 128;
	if (getuid() != 0 && setrlimit(RLIMIT_NOFILE, &now) == 0) {
		run(&lg, f);
		CHECK(strstr(logged, "ulimit -n") != NULL, "logged: %s", logged);
	}
	fclose(f);
	return unit_report("fdlimit");
}
