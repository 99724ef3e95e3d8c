/* SPDX-License-Identifier: MIT */
/*
 * For the C unit tests that create interfaces or send on a loopback: moves
 * the test program into a network namespace of its own (unshare(CLONE_NEWNET)),
 * so that it never sees or touches the host's interfaces and routes; what it
 * leaves there goes when it exits. Root only: otherwise the test is skipped.
 */
#ifndef MOONVPN_NETNS_H
#define MOONVPN_NETNS_H

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"

enum {
	UNIT_NETNS_LO_UP = 0x1, /* bring the namespace's loopback up */
	UNIT_NETNS_TUN = 0x2,	/* /dev/net/tun must be usable */
};

static inline bool unit_netns_lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool up;

	strcpy(ifr.ifr_name, "lo");
	up = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP;
	up = up && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
	CHECK(up, "bring lo up: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	return up;
}

/*
 * In a private namespace, with what needs asks (UNIT_NETNS_*): true; else
 * false after printing "<test>: skipped: ..." (why says what root is needed for).
 */
static inline bool unit_netns(const char *test, const char *why, unsigned needs)
{
	if (geteuid() != 0) {
		printf("%s: skipped: needs root (%s)\n", test, why);
		return false;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		printf("%s: skipped: cannot create a network namespace: %s\n", test,
		       strerror(errno));
		return false;
	}
	if ((needs & UNIT_NETNS_TUN) && access("/dev/net/tun", R_OK | W_OK) < 0) {
		printf("%s: skipped: /dev/net/tun: %s\n", test, strerror(errno));
		return false;
	}
	return !(needs & UNIT_NETNS_LO_UP) || unit_netns_lo_up();
}

#endif
