// SPDX-License-Identifier: MIT
#include <errno.h>
#include <linux/if_tun.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device.h"
#include "netlink.h"
#include "tun.h"
#include "vnet.h"

/* Below this the kernel turns IPv6 off on the interface and drops its IPv6 addresses and routes. */
enum { IPV6_MTU_MIN_BYTES = 1280 };

_Static_assert(DEVICE_OFFLOAD_CSUM == TUN_F_CSUM && DEVICE_OFFLOAD_TSO4 == TUN_F_TSO4 &&
		       DEVICE_OFFLOAD_TSO6 == TUN_F_TSO6,
	       "DEVICE_OFFLOAD_* are the TUN_F_* values");

/*
 * Offload sets to try, best first: USO needs kernel 6.2, TSO any. TSO_ECN is
 * never asked for: vnet_split refuses the ECN GSO flag (CWR on one segment).
 */
static const unsigned offload_ladder[] = {
	DEVICE_OFFLOAD_CSUM | DEVICE_OFFLOAD_TSO4 | DEVICE_OFFLOAD_TSO6 | DEVICE_OFFLOAD_USO4 |
		DEVICE_OFFLOAD_USO6,
	DEVICE_OFFLOAD_CSUM | DEVICE_OFFLOAD_TSO4 | DEVICE_OFFLOAD_TSO6,
	DEVICE_OFFLOAD_CSUM,
};

/* What is configured on the interface, as far as we know; order does not matter. */
struct prefix_list {
	struct ip_prefix *v;
	size_t n;
	size_t cap;
};

struct device {
	int fd;
	unsigned ifindex;
	unsigned offload; /* in force; cfg.offload is what was asked for */
	/* name is the interface's actual name; the arrays point into addrs and routes. */
	struct device_config cfg;
	struct prefix_list addrs;
	struct prefix_list routes;
};

/* Writes "device "NAME": <what failed>" into err and returns r. */
static int fail(int r, char *err, size_t errlen, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(int r, char *err, size_t errlen, const char *name, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errlen)
		return r;
	if (name[0])
		n = snprintf(err, errlen, "device \"%s\": ", name);
	else
		n = snprintf(err, errlen, "device: ");
	if (n < 0 || (size_t)n >= errlen)
		return r;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return r;
}

static const char *hint(int r)
{
	return r == -EPERM || r == -EACCES ? " (moonvpn needs root or CAP_NET_ADMIN)" : "";
}

static bool contains(const struct ip_prefix *v, size_t n, const struct ip_prefix *p)
{
	for (size_t i = 0; i < n; i++)
		if (ip_prefix_equal(&v[i], p))
			return true;
	return false;
}

static bool has_family(const struct ip_prefix *v, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].addr.family == family)
			return true;
	return false;
}

static bool valid_prefix(const struct ip_prefix *p)
{
	return (p->addr.family == AF_INET && p->len <= 32) ||
	       (p->addr.family == AF_INET6 && p->len <= 128);
}

/*
 * Whether v[i] repeats an earlier entry. An address counts once whatever its
 * prefix length: IPv6 keys addresses without it, and sync_addrs() relies on that.
 */
static bool repeats(const struct ip_prefix *v, size_t i, bool routes)
{
	for (size_t j = 0; j < i; j++)
		if (routes ? ip_prefix_equal(&v[j], &v[i]) : ip_addr_equal(&v[j].addr, &v[i].addr))
			return true;
	return false;
}

static int check_prefixes(const struct ip_prefix *v, size_t n, const char *what, bool routes,
			  const char *name, char *err, size_t errlen)
{
	char text[IP_PREFIX_TEXT_MAX];

	if (n && !v)
		return fail(-EINVAL, err, errlen, name, "%zu %s entries but no array", n, what);
	for (size_t i = 0; i < n; i++) {
		if (!valid_prefix(&v[i]))
			return fail(-EINVAL, err, errlen, name,
				    "%s #%zu is not an IPv4 or IPv6 prefix", what, i + 1);
		ip_prefix_format(&v[i], text, sizeof(text));
		/* The kernel refuses such routes; say so before anything is changed. */
		if (routes && !ip_prefix_is_network(&v[i]))
			return fail(-EINVAL, err, errlen, name,
				    "%s %s is not a network prefix (host bits are set)", what,
				    text);
		if (repeats(v, i, routes))
			return fail(-EINVAL, err, errlen, name, "%s %s is listed twice", what,
				    text);
	}
	return 0;
}

/* name prefixes the messages: the interface's name, or the requested one before it exists. */
static int validate(const struct device_config *cfg, const char *name, char *err, size_t errlen)
{
	int r;

	if (strnlen(cfg->name, IFNAMSIZ) == IFNAMSIZ)
		return fail(-EINVAL, err, errlen, "", "name longer than %d characters",
			    IFNAMSIZ - 1);
	if (cfg->type != DEVICE_TUN && cfg->type != DEVICE_TAP)
		return fail(-EINVAL, err, errlen, name, "unknown type %d", (int)cfg->type);
	if (cfg->offload & ~(unsigned)DEVICE_OFFLOAD_ALL)
		return fail(-EINVAL, err, errlen, name,
			    "unknown offload flags %#x (known: %#x, csum, tso4/6, uso4/6)",
			    cfg->offload & ~(unsigned)DEVICE_OFFLOAD_ALL, DEVICE_OFFLOAD_ALL);
	/* The kernel refuses segmentation offloads without checksum offload. */
	if (cfg->offload && !(cfg->offload & DEVICE_OFFLOAD_CSUM))
		return fail(-EINVAL, err, errlen, name,
			    "offload %#x: segmentation offloads need checksum offload (%#x) too",
			    cfg->offload, DEVICE_OFFLOAD_CSUM);
	r = check_prefixes(cfg->addrs, cfg->n_addrs, "address", false, name, err, errlen);
	if (r < 0)
		return r;
	r = check_prefixes(cfg->routes, cfg->n_routes, "route", true, name, err, errlen);
	if (r < 0)
		return r;
	/* The kernel would turn IPv6 off on the link and refuse the IPv6 addresses. */
	if (cfg->mtu < IPV6_MTU_MIN_BYTES && (has_family(cfg->addrs, cfg->n_addrs, AF_INET6) ||
					      has_family(cfg->routes, cfg->n_routes, AF_INET6)))
		return fail(-EINVAL, err, errlen, name,
			    "MTU %u is below %d, the minimum for IPv6 addresses and routes",
			    cfg->mtu, IPV6_MTU_MIN_BYTES);
	return 0;
}

static int list_reserve(struct prefix_list *l, size_t more)
{
	struct ip_prefix *v;

	if (more > SIZE_MAX / sizeof(*v) - l->n)
		return -ENOMEM;
	if (l->n + more <= l->cap)
		return 0;
	v = reallocarray(l->v, l->n + more, sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	l->cap = l->n + more;
	return 0;
}

static void list_remove(struct prefix_list *l, size_t i)
{
	memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(l->v[0]));
	l->n--;
}

static void list_forget_family(struct prefix_list *l, int family)
{
	for (size_t i = l->n; i-- > 0;)
		if (l->v[i].addr.family == family)
			list_remove(l, i);
}

static size_t find_addr(const struct prefix_list *l, const struct ip_addr *a)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (ip_addr_equal(&l->v[i].addr, a))
			break;
	return i;
}

/* The arrays of dev->cfg show what the interface has, also after a failed step. */
static void sync_view(struct device *dev)
{
	dev->cfg.addrs = dev->addrs.v;
	dev->cfg.n_addrs = dev->addrs.n;
	dev->cfg.routes = dev->routes.v;
	dev->cfg.n_routes = dev->routes.n;
}

/* Takes the caller's order once the sets are equal; the lists have the room (reserve()). */
static void commit(struct device *dev, const struct device_config *cfg)
{
	if (cfg->n_addrs)
		memcpy(dev->addrs.v, cfg->addrs, cfg->n_addrs * sizeof(cfg->addrs[0]));
	dev->addrs.n = cfg->n_addrs;
	if (cfg->n_routes)
		memcpy(dev->routes.v, cfg->routes, cfg->n_routes * sizeof(cfg->routes[0]));
	dev->routes.n = cfg->n_routes;
	sync_view(dev);
}

/* Room for every entry to be added before any is removed, so no step fails for memory. */
static int reserve(struct device *dev, const struct device_config *cfg, char *err, size_t errlen)
{
	if (list_reserve(&dev->addrs, cfg->n_addrs) < 0 ||
	    list_reserve(&dev->routes, cfg->n_routes) < 0)
		return fail(-ENOMEM, err, errlen, dev->cfg.name, "out of memory");
	return 0;
}

static int set_mtu(struct device *dev, struct netlink *nl, unsigned mtu, char *err, size_t errlen)
{
	int r = netlink_set_mtu(nl, dev->ifindex, mtu);

	if (r < 0)
		return fail(r, err, errlen, dev->cfg.name, "MTU %u rejected by the kernel: %s%s",
			    mtu, strerror(-r), hint(r));
	dev->cfg.mtu = mtu;
	/* The kernel has just turned IPv6 off on the link, with its addresses and routes. */
	if (mtu < IPV6_MTU_MIN_BYTES) {
		list_forget_family(&dev->addrs, AF_INET6);
		list_forget_family(&dev->routes, AF_INET6);
	}
	return 0;
}

static int del_addr(struct device *dev, struct netlink *nl, size_t i, char *err, size_t errlen)
{
	struct ip_prefix p = dev->addrs.v[i];
	char text[IP_PREFIX_TEXT_MAX];
	int r = netlink_addr_del(nl, dev->ifindex, &p);

	/* Already gone is as good as removed. */
	if (r < 0 && r != -EADDRNOTAVAIL)
		return fail(r, err, errlen, dev->cfg.name, "cannot remove address %s: %s%s",
			    ip_prefix_format(&p, text, sizeof(text)), strerror(-r), hint(r));
	list_remove(&dev->addrs, i);
	/* With its last IPv4 address the kernel flushes every IPv4 route through the link. */
	if (p.addr.family == AF_INET && !has_family(dev->addrs.v, dev->addrs.n, AF_INET))
		list_forget_family(&dev->routes, AF_INET);
	return 0;
}

/* Adds before it removes, so that swapping IPv4 addresses does not flush the IPv4 routes. */
static int sync_addrs(struct device *dev, struct netlink *nl, const struct device_config *cfg,
		      char *err, size_t errlen)
{
	struct prefix_list *l = &dev->addrs;
	char text[IP_PREFIX_TEXT_MAX];
	size_t i, j;
	int r;

	for (i = 0; i < cfg->n_addrs; i++) {
		const struct ip_prefix *p = &cfg->addrs[i];

		if (contains(l->v, l->n, p))
			continue;
		/* IPv6 keys an address without its prefix length: a new length replaces it. */
		j = find_addr(l, &p->addr);
		if (p->addr.family == AF_INET6 && j < l->n) {
			r = del_addr(dev, nl, j, err, errlen);
			if (r < 0)
				return r;
		}
		r = netlink_addr_add(nl, dev->ifindex, p);
		if (r < 0)
			return fail(r, err, errlen, dev->cfg.name, "cannot add address %s: %s%s",
				    ip_prefix_format(p, text, sizeof(text)), strerror(-r), hint(r));
		l->v[l->n++] = *p;
	}
	for (j = l->n; j-- > 0;) {
		if (contains(cfg->addrs, cfg->n_addrs, &l->v[j]))
			continue;
		r = del_addr(dev, nl, j, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

static int sync_routes(struct device *dev, struct netlink *nl, const struct device_config *cfg,
		       char *err, size_t errlen)
{
	struct prefix_list *l = &dev->routes;
	char text[IP_PREFIX_TEXT_MAX];
	int r;

	for (size_t j = l->n; j-- > 0;) {
		if (contains(cfg->routes, cfg->n_routes, &l->v[j]))
			continue;
		r = netlink_route_del(nl, dev->ifindex, &l->v[j]);
		if (r < 0 && r != -ESRCH)
			return fail(r, err, errlen, dev->cfg.name, "cannot remove route %s: %s%s",
				    ip_prefix_format(&l->v[j], text, sizeof(text)), strerror(-r),
				    hint(r));
		list_remove(l, j);
	}
	for (size_t i = 0; i < cfg->n_routes; i++) {
		const struct ip_prefix *p = &cfg->routes[i];

		if (contains(l->v, l->n, p))
			continue;
		r = netlink_route_add(nl, dev->ifindex, p);
		if (r < 0)
			return fail(r, err, errlen, dev->cfg.name, "cannot add route %s: %s%s",
				    ip_prefix_format(p, text, sizeof(text)), strerror(-r), hint(r));
		l->v[l->n++] = *p;
	}
	return 0;
}

/* Moves the interface from what dev records to cfg; fresh for a just-created interface. */
static int apply(struct device *dev, struct netlink *nl, const struct device_config *cfg,
		 bool fresh, char *err, size_t errlen)
{
	int r;

	if (fresh || cfg->mtu != dev->cfg.mtu) {
		r = set_mtu(dev, nl, cfg->mtu, err, errlen);
		if (r < 0)
			return r;
	}
	r = sync_addrs(dev, nl, cfg, err, errlen);
	if (r < 0)
		return r;
	/* The kernel refuses IPv4 routes through a link that is down. */
	if (fresh) {
		r = netlink_set_up(nl, dev->ifindex);
		if (r < 0)
			return fail(r, err, errlen, dev->cfg.name, "cannot set the link up: %s%s",
				    strerror(-r), hint(r));
	}
	return sync_routes(dev, nl, cfg, err, errlen);
}

/* The first rung of the ladder (masked by want) the kernel takes; 0 if none. */
static unsigned probe_offload(int fd, unsigned want)
{
	unsigned tried = 0;

	for (size_t i = 0; i < sizeof(offload_ladder) / sizeof(offload_ladder[0]); i++) {
		unsigned f = offload_ladder[i] & want;

		if (!f || f == tried)
			continue;
		tried = f;
		/* TUNSETOFFLOAD takes the flags themselves, not a pointer to them. */
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)f) == 0)
			return f;
	}
	return 0;
}

/* Sets up the vnet header on fd; the offloads in force, 0 when the header is not worth it. */
static unsigned start_vnet(int fd, unsigned want)
{
	int size = VNET_HDR_LEN;

	/* 10 is the kernel's default; say it, as the data path counts on it. Takes a pointer. */
	if (ioctl(fd, TUNSETVNETHDRSZ, &size) < 0)
		return 0;
	return probe_offload(fd, want);
}

static enum tun_layer layer_of(enum device_type type)
{
	return type == DEVICE_TAP ? TUN_LAYER2 : TUN_LAYER3;
}

/* The tun_open() flags of a device, with or without the vnet header. */
static unsigned tun_flags(const struct device_config *cfg, bool vnet)
{
	return (vnet ? TUN_VNET : 0) | (cfg->multi_queue ? TUN_MULTI_QUEUE : 0);
}

static int create(struct device *dev, const struct device_config *cfg, char *err, size_t errlen)
{
	enum tun_layer layer = layer_of(cfg->type);
	bool vnet = cfg->type == DEVICE_TUN && cfg->offload;
	char why[DEVICE_ERR_MAX];
	int fd, r;

	fd = tun_open(layer, cfg->name, tun_flags(cfg, vnet), dev->cfg.name, why, sizeof(why));
	if (fd >= 0 && vnet) {
		dev->offload = start_vnet(fd, cfg->offload);
		/* None taken: a header on every packet would only cost. Closing removes it. */
		if (!dev->offload) {
			close(fd);
			fd = -EINVAL;
		}
	}
	/* Offloads are a wish: the device works without them (and without IFF_VNET_HDR). */
	if (fd < 0 && fd != -EEXIST && vnet)
		fd = tun_open(layer, cfg->name, tun_flags(cfg, false), dev->cfg.name, why,
			      sizeof(why));
	if (fd == -EEXIST)
		return fail(fd, err, errlen, cfg->name,
			    "%s; choose another device.name or remove it", why);
	if (fd < 0)
		return fail(fd, err, errlen, cfg->name, "%s", why);
	dev->ifindex = if_nametoindex(dev->cfg.name);
	if (!dev->ifindex) {
		r = errno ? -errno : -ENODEV;
		close(fd);
		return fail(r, err, errlen, dev->cfg.name, "cannot find the new interface: %s",
			    strerror(-r));
	}
	dev->fd = fd;
	return 0;
}

int device_open(struct device **out, const struct device_config *cfg, char *err, size_t errlen)
{
	struct device *dev;
	struct netlink nl;
	int r;

	*out = NULL;
	r = validate(cfg, cfg->name, err, errlen);
	if (r < 0)
		return r;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return fail(-ENOMEM, err, errlen, cfg->name, "out of memory");
	dev->cfg.type = cfg->type;
	dev->cfg.offload = cfg->offload;
	dev->cfg.multi_queue = cfg->multi_queue;
	r = reserve(dev, cfg, err, errlen);
	if (r < 0)
		goto err_free;
	r = create(dev, cfg, err, errlen);
	if (r < 0)
		goto err_free;
	r = netlink_open(&nl);
	if (r < 0) {
		fail(r, err, errlen, dev->cfg.name, "cannot open rtnetlink: %s", strerror(-r));
		goto err_close;
	}
	r = apply(dev, &nl, cfg, true, err, errlen);
	netlink_close(&nl);
	if (r < 0)
		goto err_close;
	commit(dev, cfg);
	*out = dev;
	return 0;

err_close:
	close(dev->fd);
err_free:
	free(dev->routes.v);
	free(dev->addrs.v);
	free(dev);
	return r;
}

int device_reconfigure(struct device *dev, const struct device_config *cfg, char *err,
		       size_t errlen)
{
	struct netlink nl;
	int r;

	if (device_needs_recreate(dev, cfg))
		return fail(-EINVAL, err, errlen, dev->cfg.name,
			    "type, name, offloads or multi-queue changed; the device must be "
			    "recreated");
	r = validate(cfg, dev->cfg.name, err, errlen);
	if (r < 0)
		return r;
	r = reserve(dev, cfg, err, errlen);
	if (r < 0)
		return r;
	r = netlink_open(&nl);
	if (r < 0)
		return fail(r, err, errlen, dev->cfg.name, "cannot open rtnetlink: %s",
			    strerror(-r));
	r = apply(dev, &nl, cfg, false, err, errlen);
	netlink_close(&nl);
	if (r < 0)
		sync_view(dev);
	else
		commit(dev, cfg);
	return r;
}

int device_route_change(struct device *dev, const struct ip_prefix *prefix, bool add, char *err,
			size_t errlen)
{
	struct netlink nl = { 0 };
	char text[IP_PREFIX_TEXT_MAX];
	int r = netlink_open(&nl);

	if (r == 0)
		r = add ? netlink_route_add(&nl, dev->ifindex, prefix)
			: netlink_route_del(&nl, dev->ifindex, prefix);
	netlink_close(&nl);
	if (add && r == -EEXIST)
		return 1;
	if (r < 0)
		return fail(r, err, errlen, device_name(dev), "cannot %s the route to %s: %s",
			    add ? "add" : "remove", ip_prefix_format(prefix, text, sizeof(text)),
			    strerror(-r));
	return 0;
}

int device_needs_recreate(const struct device *dev, const struct device_config *cfg)
{
	if (cfg->type != dev->cfg.type || cfg->multi_queue != dev->cfg.multi_queue)
		return 1;
	if (cfg->type == DEVICE_TUN && cfg->offload != dev->cfg.offload)
		return 1;
	/* An empty name accepts whatever name the kernel gave the device. */
	return cfg->name[0] && strncmp(cfg->name, dev->cfg.name, IFNAMSIZ) != 0;
}

int device_open_queue(const struct device *dev, char *err, size_t errlen)
{
	char why[DEVICE_ERR_MAX];
	int fd = tun_open_queue(layer_of(dev->cfg.type), dev->cfg.name,
				tun_flags(&dev->cfg, device_vnet(dev)), why, sizeof(why));

	if (fd < 0)
		return fail(fd, err, errlen, dev->cfg.name, "%s", why);
	return fd;
}

int device_detach_first_queue(struct device *dev)
{
	return tun_detach_queue(dev->fd);
}

int device_fd(const struct device *dev)
{
	return dev->fd;
}

const char *device_name(const struct device *dev)
{
	return dev->cfg.name;
}

unsigned device_ifindex(const struct device *dev)
{
	return dev->ifindex;
}

int device_mac(const struct device *dev, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };

	if (dev->cfg.type != DEVICE_TAP)
		return -EINVAL;
	/* The tun driver answers this on the device's own descriptor. */
	if (ioctl(dev->fd, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

const struct device_config *device_config(const struct device *dev)
{
	return &dev->cfg;
}

unsigned device_offload(const struct device *dev)
{
	return dev->offload;
}

bool device_vnet(const struct device *dev)
{
	return dev->offload != 0;
}

void device_free(struct device *dev)
{
	if (!dev)
		return;
	close(dev->fd);
	free(dev->routes.v);
	free(dev->addrs.v);
	free(dev);
}
