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

/* /dev/net/tun, opened for an interface; -errno with err written. */
static int open_dev(char *err, size_t errlen)
{
	int fd = open(tun_path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	int e;

	if (fd >= 0)
		return fd;
	e = errno;
	snprintf(err, errlen, "cannot open %s: %s%s", tun_path, strerror(e), hint(e));
	return -e;
}

static short iff_flags(enum tun_layer layer, unsigned flags)
{
	short f = (layer == TUN_LAYER2 ? IFF_TAP : IFF_TUN) | IFF_NO_PI;

	if (flags & TUN_VNET)
		f |= IFF_VNET_HDR;
	if (flags & TUN_MULTI_QUEUE)
		f |= IFF_MULTI_QUEUE;
	return f;
}

int tun_open(enum tun_layer layer, const char *name, unsigned flags, char actual[IFNAMSIZ],
	     char *err, size_t errlen)
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

	fd = open_dev(err, errlen);
	if (fd < 0)
		return fd;
	/* IFF_TUN_EXCL closes the race with someone creating the same name since the check. */
	ifr.ifr_flags = iff_flags(layer, flags) | IFF_TUN_EXCL;
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

int tun_open_queue(enum tun_layer layer, const char name[IFNAMSIZ], unsigned flags, char *err,
		   size_t errlen)
{
	struct ifreq ifr = { 0 };
	int fd, e;

	if (!(flags & TUN_MULTI_QUEUE)) {
		snprintf(err, errlen, "the interface has one queue (not created multi-queue)");
		return -EINVAL;
	}
	fd = open_dev(err, errlen);
	if (fd < 0)
		return fd;
	/* No IFF_TUN_EXCL: attaching to the existing interface is the point. */
	ifr.ifr_flags = iff_flags(layer, flags);
	memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		e = errno;
		close(fd);
		snprintf(err, errlen, "cannot add a queue: %s%s", strerror(e), hint(e));
		return -e;
	}
	return fd;
}

int tun_detach_queue(int fd)
{
	struct ifreq ifr = { .ifr_flags = IFF_DETACH_QUEUE };

	return ioctl(fd, TUNSETQUEUE, &ifr) < 0 ? -errno : 0;
}
