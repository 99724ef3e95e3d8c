// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "console.h"
#include "fdlimit.h"
#include "tcp.h"

unsigned long fdlimit_wanted(unsigned long tcp_conns)
{
	return FDLIMIT_BASE + tcp_conns + TCP_FDS_RESERVED + CONSOLE_CLIENTS_MAX +
	       FDLIMIT_HOOK_CHILDREN * FDLIMIT_PER_HOOK_CHILD;
}

void fdlimit_raise(const struct log *lg, unsigned long tcp_conns)
{
	rlim_t want = (rlim_t)fdlimit_wanted(tcp_conns);
	struct rlimit rl, up;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn(lg, "engine", "cannot read the open-files limit");
		return;
	}
	if (rl.rlim_cur >= want)
		return;
	/* The hard limit first, when it is in the way and we may raise it (root). */
	up.rlim_max = rl.rlim_max < want ? want : rl.rlim_max;
	up.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &up) == 0) {
		log_debug(lg, "engine", "open-files limit raised from %llu to %llu",
			  (unsigned long long)rl.rlim_cur, (unsigned long long)want);
		return;
	}
	up.rlim_max = rl.rlim_max;
	up.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	if (up.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &up) < 0)
		up.rlim_cur = rl.rlim_cur;
	log_warnx(lg, "engine",
		  "the open-files limit is %llu (hard limit %llu), below the %llu the server "
		  "may need for %lu TCP connections, its console and hooks: raise it "
		  "(ulimit -n %llu, or LimitNOFILE=%llu in the systemd unit)",
		  (unsigned long long)up.rlim_cur, (unsigned long long)rl.rlim_max,
		  (unsigned long long)want, tcp_conns, (unsigned long long)want,
		  (unsigned long long)want);
}
