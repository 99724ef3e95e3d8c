/* SPDX-License-Identifier: MIT */
/*
 * The virtual network device: a kernel TUN or TAP interface (no packet-info
 * header), brought up with its MTU, addresses and routes through rtnetlink.
 * Owns the device file descriptor; closing it makes the kernel remove the
 * interface and every route through it. Does not read or write packets
 * (the data path does that on device_fd()) and does not log: failures come
 * back as -errno with a one-line message in the caller's buffer. A TUN
 * device may be opened with offloads: then every read and write carries a
 * virtio-net header (vnet.h says what the data path does with it).
 */
#ifndef MOONVPN_DEVICE_H
#define MOONVPN_DEVICE_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include "ip.h"

enum device_type {
	DEVICE_TUN, /* layer 3: IP packets */
	DEVICE_TAP, /* layer 2: Ethernet frames */
};

enum {
	DEVICE_MTU_MIN = 576,
	DEVICE_MTU_MAX = 65535,
	DEVICE_ERR_MAX = 256, /* size for the err buffers below */
};

/* Offloads a TUN device may take: the TUN_F_* values of linux/if_tun.h. */
enum {
	DEVICE_OFFLOAD_CSUM = 0x01, /* partial checksums (required by all below) */
	DEVICE_OFFLOAD_TSO4 = 0x02, /* TCP superpackets over IPv4 */
	DEVICE_OFFLOAD_TSO6 = 0x04,
	DEVICE_OFFLOAD_USO4 = 0x20, /* UDP superpackets (kernel 6.2 and later); Debian 12's */
	DEVICE_OFFLOAD_USO6 = 0x40, /* linux-libc-dev (6.1) lacks TUN_F_USO4/6 */
	DEVICE_OFFLOAD_ALL = 0x67,
};

struct device_config {
	enum device_type type;
	char name[IFNAMSIZ]; /* "" lets the kernel choose (tun0, tap0, ...) */
	unsigned mtu;
	/* Interface addresses with their on-link prefix length, e.g. 10.8.0.1/24. */
	const struct ip_prefix *addrs;
	size_t n_addrs;
	/* Extra routes through the device (network prefixes). */
	const struct ip_prefix *routes;
	size_t n_routes;
	/*
	 * The offloads wanted (DEVICE_OFFLOAD_*), 0 for none. When non-zero, a
	 * TUN device is opened with a 10-byte virtio-net header on every read
	 * and write and takes the largest of CSUM|TSO4|TSO6|USO4|USO6,
	 * CSUM|TSO4|TSO6 and CSUM (each masked by this) that the kernel
	 * accepts; if it accepts none, the device is opened as with 0.
	 * device_offload() and device_vnet() say what is in force. A TAP
	 * device ignores it: its frames would need the Ethernet header parsed
	 * in front of every superpacket, and the TAP path is per frame.
	 */
	unsigned offload;
	/*
	 * Created with IFF_MULTI_QUEUE, so that device_open_queue() can add
	 * queues (one a data-path worker, docs/workers.md). Off by default:
	 * with one queue nothing changes.
	 */
	bool multi_queue;
};

struct device;

/*
 * Creates the interface, sets MTU, addresses and routes and sets it up.
 * On failure nothing is left behind: the interface is removed again.
 * The config is copied; the caller keeps ownership of it.
 */
int device_open(struct device **out, const struct device_config *cfg, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Applies a changed MTU, address set and route set to an open device
 * (for reload). Type and name cannot change; the caller recreates the
 * device for that (device_needs_recreate). On failure the device may be
 * partly reconfigured; the message says which step failed.
 */
int device_reconfigure(struct device *dev, const struct device_config *cfg, char *err,
		       size_t errlen) __attribute__((warn_unused_result));

/*
 * True when going from the device's current config to cfg needs a new device:
 * a new type or name, multi_queue changed, or for TUN other offloads (the vnet
 * header is chosen when the device is created).
 */
int device_needs_recreate(const struct device *dev, const struct device_config *cfg);

int device_fd(const struct device *dev);
const char *device_name(const struct device *dev);
unsigned device_ifindex(const struct device *dev);
const struct device_config *device_config(const struct device *dev);

/* The offloads in force (DEVICE_OFFLOAD_*): 0 unless device_vnet(). */
unsigned device_offload(const struct device *dev);

/* Whether every read and write of device_fd() carries the 10-byte virtio-net header. */
bool device_vnet(const struct device *dev);

/*
 * Another queue of a multi_queue device: a descriptor (O_NONBLOCK, O_CLOEXEC)
 * read and written as device_fd() is, with the same vnet header. The kernel
 * spreads the packets it sends out of the device over the queues by flow
 * hash; a packet written to any queue enters the stack. The caller closes it
 * (before device_free), which removes the queue. -EINVAL with err set for a
 * device not opened multi_queue, or another -errno.
 */
int device_open_queue(const struct device *dev, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Detaches the device's own first queue (device_fd()), whose packets then go
 * to the queues device_open_queue() added only; it can no longer be read or
 * written. 0, or -errno (-EINVAL: not multi_queue, or detached already).
 */
int device_detach_first_queue(struct device *dev) __attribute__((warn_unused_result));

/* A TAP device's Ethernet address: 0, or -errno (a TUN device has none: -EINVAL). */
int device_mac(const struct device *dev, uint8_t mac[6]) __attribute__((warn_unused_result));

/*
 * Adds or removes a route to prefix through the device, outside its
 * configuration (subnets behind clients). 0 when done, 1 when adding found
 * a route to that prefix there already (it is left alone), or -errno with
 * err set.
 */
int device_route_change(struct device *dev, const struct ip_prefix *prefix, bool add, char *err,
			size_t errlen) __attribute__((warn_unused_result));

/* Closes the device; the kernel removes it with its addresses and routes. NULL is a no-op. */
void device_free(struct device *dev);

#endif
