// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tun.h"

static const char tun_path[] = "/dev/net/tun";

static const char *hint(int e)
{
	if (e == EPERM || e == EACCES)
		return " (moonvpn needs root or CAP_NET_ADMIN)";
	if (e == ENOENT || e == ENODEV || e == ENXIO)
		return " (is the tun kernel module available?)";
	return "";
}

static int refuse_existing(char *err, size_t errlen)
{
	snprintf(err, errlen, "an interface with this name already exists");
	return -EEXIST;
}

int tun_open(enum tun_layer layer, const char *name, bool vnet, char actual[IFNAMSIZ], char *err,
	     size_t errlen)
{
	const char *kind = layer == TUN_LAYER2 ? "tap" : "tun";
	size_t len = strnlen(name, IFNAMSIZ);
	struct ifreq ifr = { 0 };
	int fd, e;

	if (len == IFNAMSIZ) {
		snprintf(err, errlen, "interface name longer than %d characters", IFNAMSIZ - 1);
		return -EINVAL;
	}
	/* TUNSETIFF would attach to an existing tun device of that name, which is not ours. */
	if (len && if_nametoindex(name))
		return refuse_existing(err, errlen);

	fd = open(tun_path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "cannot open %s: %s%s", tun_path, strerror(e), hint(e));
		return -e;
	}
	/* IFF_TUN_EXCL closes the race with someone creating the same name since the check. */
	ifr.ifr_flags = (layer == TUN_LAYER2 ? IFF_TAP : IFF_TUN) | IFF_NO_PI | IFF_TUN_EXCL;
	if (vnet)
		ifr.ifr_flags |= IFF_VNET_HDR;
	if (len)
		memcpy(ifr.ifr_name, name, len);
	else
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s%%d", kind);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		e = errno;
		close(fd);
		if (len && if_nametoindex(name))
			return refuse_existing(err, errlen);
		snprintf(err, errlen, "cannot create %s device: %s%s", kind, strerror(e), hint(e));
		return -e;
	}
	memcpy(actual, ifr.ifr_name, IFNAMSIZ);
	actual[IFNAMSIZ - 1] = '\0';
	return fd;
}
