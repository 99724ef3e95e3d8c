// SPDX-License-Identifier: MIT
/*
 * Creates real TUN/TAP interfaces, so it runs only as root and only inside a
 * network namespace of its own (unshare(CLONE_NEWNET)): it never sees or
 * touches the host's interfaces and routes. The namespace, and whatever is
 * left in it, disappears when the program exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "device.h"
#include "netns.h"
#include "packet.h"
#include "unit.h"
#include "vnet.h"

enum {
	OUTPUT_MAX_BYTES = 32768,
	PACKET_MAX_BYTES = 2048,
	FRAME_MAX_BYTES = VNET_FRAME_MAX_BYTES,
	USO_SEGMENT_BYTES = 1000,
	USO_SEGMENTS = 4,
	USO_LAST_BYTES = 500,
	PACKET_WAIT_MS = 1000,
	PACKETS_DRAIN_MAX = 64,
	PREFIXES_MAX = 6,
	CMD_MAX_BYTES = 256,
};

/* A device_config written as text, for the tables below. */
struct cfg_text {
	enum device_type type;
	const char *name;
	unsigned mtu;
	const char *addrs[PREFIXES_MAX];
	const char *routes[PREFIXES_MAX];
};

struct cfg_buf {
	struct device_config cfg;
	struct ip_prefix addrs[PREFIXES_MAX];
	struct ip_prefix routes[PREFIXES_MAX];
};

static size_t parse_list(struct ip_prefix *out, const char *const *text)
{
	size_t n;

	for (n = 0; n < PREFIXES_MAX && text[n]; n++)
		CHECK(ip_prefix_parse(&out[n], text[n]), "bad test prefix %s", text[n]);
	return n;
}

static const struct device_config *make_config(struct cfg_buf *b, const struct cfg_text *t)
{
	size_t len = strnlen(t->name, IFNAMSIZ);

	memset(b, 0, sizeof(*b));
	b->cfg.type = t->type;
	memcpy(b->cfg.name, t->name, len); /* a name of IFNAMSIZ characters stays unterminated */
	b->cfg.mtu = t->mtu;
	b->cfg.addrs = b->addrs;
	b->cfg.n_addrs = parse_list(b->addrs, t->addrs);
	b->cfg.routes = b->routes;
	b->cfg.n_routes = parse_list(b->routes, t->routes);
	return &b->cfg;
}

static const struct device_config *with_offload(struct cfg_buf *b, const struct cfg_text *t,
						unsigned offload)
{
	make_config(b, t);
	b->cfg.offload = offload;
	return &b->cfg;
}

/*
 * TUNSETOFFLOAD fails with EINVAL for any flag set asking for one of these,
 * as an older kernel would: this program's ioctl() stands in for libc's.
 */
static unsigned refused_offloads;

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req == TUNSETOFFLOAD && ((unsigned long)arg & refused_offloads)) {
		errno = EINVAL;
		return -1;
	}
	return (int)syscall(SYS_ioctl, fd, req, arg);
}

/* The output of a command, run in this process's private namespace, after a newline. */
static const char *run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *run(const char *fmt, ...)
{
	static char out[OUTPUT_MAX_BYTES];
	char cmd[CMD_MAX_BYTES];
	size_t n = 1;
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	out[0] = '\n';
	out[1] = '\0';
	f = popen(cmd, "r");
	CHECK(f != NULL, "popen %s", cmd);
	if (!f)
		return out;
	while (n < sizeof(out) - 1) {
		size_t got = fread(out + n, 1, sizeof(out) - 1 - n, f);

		if (!got)
			break;
		n += got;
	}
	out[n] = '\0';
	pclose(f);
	return out;
}

/* What `ip` prints for an address or a route of ours, to look for in its output. */
static const char *needle(char *buf, size_t len, const struct ip_prefix *p, bool route,
			  const char *dev)
{
	char text[IP_PREFIX_TEXT_MAX];

	ip_prefix_format(p, text, sizeof(text));
	if (!route)
		snprintf(buf, len, " %s %s ", p->addr.family == AF_INET ? "inet" : "inet6", text);
	else if (p->addr.family == AF_INET)
		snprintf(buf, len, "\n%s dev %s proto static scope link", text, dev);
	else
		snprintf(buf, len, "\n%s dev %s proto static", text, dev);
	return buf;
}

static bool kernel_has(const char *dev, const struct ip_prefix *p, bool route)
{
	char want[CMD_MAX_BYTES];
	const char *out;

	needle(want, sizeof(want), p, route, dev);
	if (!route)
		out = run("ip -o addr show dev %s 2>&1", dev);
	else
		out = run("ip %s route 2>&1", p->addr.family == AF_INET ? "-4" : "-6");
	return strstr(out, want) != NULL;
}

static void check_list(const char *dev, const struct ip_prefix *v, size_t n, bool route, bool want,
		       const char *what)
{
	char text[IP_PREFIX_TEXT_MAX];

	for (size_t i = 0; i < n; i++)
		CHECK(kernel_has(dev, &v[i], route) == want, "%s: %s %s should be %s", what,
		      route ? "route" : "address", ip_prefix_format(&v[i], text, sizeof(text)),
		      want ? "there" : "gone");
}

static bool link_has(const char *dev, const char *text)
{
	return strstr(run("ip -o link show dev %s 2>&1", dev), text) != NULL;
}

static bool routes_mention(const char *dev)
{
	char want[CMD_MAX_BYTES];

	snprintf(want, sizeof(want), "dev %s ", dev);
	return strstr(run("ip -4 route; ip -6 route"), want) != NULL;
}

/* The kernel matches what the device says it configured. */
static void check_matches(const struct device *dev, const char *what)
{
	const struct device_config *c = device_config(dev);
	char mtu[32];

	snprintf(mtu, sizeof(mtu), " mtu %u ", c->mtu);
	CHECK(link_has(device_name(dev), mtu), "%s: %s", what, mtu);
	CHECK(link_has(device_name(dev), ",UP"), "%s: link up", what);
	check_list(device_name(dev), c->addrs, c->n_addrs, false, true, what);
	check_list(device_name(dev), c->routes, c->n_routes, true, true, what);
}

static void check_gone(const char *name, const char *what)
{
	CHECK(if_nametoindex(name) == 0, "%s: %s still exists", what, name);
	CHECK(!strstr(run("ip -o link"), name), "%s: ip link still shows %s", what, name);
	CHECK(!routes_mention(name), "%s: routes through %s left behind", what, name);
}

static void check_tun_flags(const struct device *dev, short want)
{
	struct ifreq ifr = { 0 };
	int fd = device_fd(dev);

	CHECK(fd >= 0, "fd %d", fd);
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK, "O_NONBLOCK");
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "FD_CLOEXEC");
	CHECK(ioctl(fd, TUNGETIFF, &ifr) == 0, "TUNGETIFF: %s", strerror(errno));
	CHECK((ifr.ifr_flags & (IFF_TUN | IFF_TAP)) == want, "type flags %#x", ifr.ifr_flags);
	CHECK(!(ifr.ifr_flags & IFF_PERSIST), "not persistent");
	CHECK(strcmp(ifr.ifr_name, device_name(dev)) == 0, "name %s", ifr.ifr_name);
}

/* The kernel's view of the vnet header matches device_vnet(). */
static void check_vnet_flag(const struct device *dev, bool want, const char *what)
{
	struct ifreq ifr = { 0 };
	int size = 0;

	CHECK(device_vnet(dev) == want, "%s: device_vnet %d", what, device_vnet(dev));
	CHECK(want || device_offload(dev) == 0, "%s: offload %#x without a header", what,
	      device_offload(dev));
	CHECK(ioctl(device_fd(dev), TUNGETIFF, &ifr) == 0, "%s: TUNGETIFF: %s", what,
	      strerror(errno));
	CHECK(!!(ifr.ifr_flags & IFF_VNET_HDR) == want, "%s: IFF_VNET_HDR in %#x", what,
	      ifr.ifr_flags);
	if (want)
		CHECK(ioctl(device_fd(dev), TUNGETVNETHDRSZ, &size) == 0 && size == VNET_HDR_LEN,
		      "%s: vnet header size %d", what, size);
}

/*
 * Without IFF_NO_PI every packet read would start with a 4-byte header
 * (TUNGETIFF cannot tell: it reuses that flag bit for IFF_NOFILTER). A
 * datagram to a routed address goes into the device and nowhere else: the
 * namespace has no other link.
 */
static void check_no_packet_info(const struct device *dev, uint32_t to_addr)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct pollfd pfd = { .fd = device_fd(dev), .events = POLLIN };
	unsigned char pkt[PACKET_MAX_BYTES];
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool seen = false;
	ssize_t n = 0;

	to.sin_addr.s_addr = htonl(to_addr);
	/* Drain what the kernel sent on its own (IPv6 router solicitations and the like). */
	for (int i = 0; i < PACKETS_DRAIN_MAX && n >= 0; i++)
		n = read(pfd.fd, pkt, sizeof(pkt));
	CHECK(n < 0 && errno == EAGAIN, "non-blocking read: %zd %s", n, strerror(errno));
	CHECK(s >= 0 && sendto(s, "moonvpn", 7, 0, (struct sockaddr *)&to, sizeof(to)) == 7,
	      "send: %s", strerror(errno));
	while (!seen && poll(&pfd, 1, PACKET_WAIT_MS) == 1) {
		n = read(pfd.fd, pkt, sizeof(pkt));
		if (n < 20)
			break;
		seen = pkt[0] == 0x45 && memcmp(&pkt[16], &to.sin_addr, 4) == 0;
	}
	CHECK(seen, "read the datagram as a bare IPv4 packet");
	if (s >= 0)
		close(s);
}

static const struct cfg_text full = {
	DEVICE_TUN,
	"mvtest0",
	1400,
	{ "10.8.0.1/24", "fd00:8::1/64" },
	{ "192.168.70.0/24", "fd00:70::/64" },
};

static struct device *test_open_full(void)
{
	char err[DEVICE_ERR_MAX] = "";
	struct device *dev = NULL;
	struct cfg_buf b;
	const struct device_config *c;
	int r;

	r = device_open(&dev, make_config(&b, &full), err, sizeof(err));
	CHECK(r == 0 && dev, "open: %d %s", r, err);
	if (!dev)
		return NULL;
	CHECK(strcmp(device_name(dev), "mvtest0") == 0, "name %s", device_name(dev));
	CHECK(device_ifindex(dev) == if_nametoindex("mvtest0"), "ifindex %u", device_ifindex(dev));
	check_tun_flags(dev, IFF_TUN);
	check_vnet_flag(dev, false, "offload 0");
	CHECK(link_has("mvtest0", "link/none"), "a layer 3 link");
	check_matches(dev, "open");
	check_no_packet_info(dev, 0xc0a84601); /* 192.168.70.1 */
	CHECK(!strstr(run("ip -o addr show dev mvtest0"), "tentative"), "IPv6 skips DAD");

	/* The device keeps its own copy of the arrays. */
	CHECK(ip_prefix_parse(&b.addrs[0], "1.2.3.4/32"), "parse");
	b.cfg.n_routes = 0;
	c = device_config(dev);
	CHECK(c->addrs != b.addrs && c->routes != b.routes, "arrays copied");
	CHECK(c->n_addrs == 2 && c->n_routes == 2 && c->mtu == 1400, "config copied");
	CHECK(c->n_addrs &&
		      strcmp(ip_prefix_format(&c->addrs[0], err, sizeof(err)), "10.8.0.1/24") == 0,
	      "first address %s", err);
	return dev;
}

static const struct {
	enum device_type type;
	const char *name;
} taken_cases[] = {
	{ DEVICE_TUN, "mvtest0" }, /* our own device: still not to be shared */
	{ DEVICE_TAP, "mvtest0" },
	{ DEVICE_TUN, "lo" },
};

static void test_name_taken(void)
{
	for (size_t i = 0; i < sizeof(taken_cases) / sizeof(taken_cases[0]); i++) {
		struct cfg_text t = {
			taken_cases[i].type, taken_cases[i].name, 1400, { NULL }, { NULL }
		};
		char err[DEVICE_ERR_MAX] = "", want[DEVICE_ERR_MAX];
		struct device *dev = NULL;
		struct cfg_buf b;
		int r = device_open(&dev, make_config(&b, &t), err, sizeof(err));

		snprintf(want, sizeof(want),
			 "device \"%s\": an interface with this name already exists; choose "
			 "another device.name or remove it",
			 t.name);
		CHECK(r == -EEXIST && !dev, "case %zu: %d", i, r);
		CHECK(strcmp(err, want) == 0, "case %zu: %s", i, err);
		device_free(dev);
	}
	CHECK(link_has("mvtest0", " mtu 1400 ") && link_has("mvtest0", ",UP"),
	      "the existing device is untouched");
}

static const struct {
	struct cfg_text cfg;
	int r;
	const char *msg;
} bad_cases[] = {
	{ { DEVICE_TUN, "mvbad0", 70000, { "10.8.0.1/24" }, { NULL } },
	  -EINVAL,
	  "device \"mvbad0\": MTU 70000 rejected by the kernel: Invalid argument" },
	{ { DEVICE_TAP, "mvbad0", 0, { NULL }, { NULL } },
	  -EINVAL,
	  "device \"mvbad0\": MTU 0 rejected by the kernel: Invalid argument" },
	{ { DEVICE_TUN, "mvbad1", 1400, { "10.8.0.1/24" }, { "192.168.70.0/24", "10.8.0.0/24" } },
	  -EEXIST,
	  "device \"mvbad1\": cannot add route 10.8.0.0/24: File exists" },
	{ { DEVICE_TUN, "mvbad2", 1400, { "fd00:8::1/64" }, { "192.168.70.1/24" } },
	  -EINVAL,
	  "device \"mvbad2\": route 192.168.70.1/24 is not a network prefix (host bits are set)" },
	{ { DEVICE_TUN, "mvbad3", 1000, { "10.8.0.1/24", "fd00:8::1/64" }, { NULL } },
	  -EINVAL,
	  "device \"mvbad3\": MTU 1000 is below 1280, the minimum for IPv6 addresses and routes" },
	{ { DEVICE_TUN, "mvbad4", 1400, { "10.8.0.1/24", "10.8.0.1/24" }, { NULL } },
	  -EINVAL,
	  "device \"mvbad4\": address 10.8.0.1/24 is listed twice" },
	{ { DEVICE_TUN, "mvbad4", 1400, { "fd00:8::1/64", "fd00:8::1/48" }, { NULL } },
	  -EINVAL,
	  "device \"mvbad4\": address fd00:8::1/48 is listed twice" },
	{ { DEVICE_TUN, "mvbad5", 1400, { NULL }, { "fd00:70::/64", "fd00:70::/64" } },
	  -EINVAL,
	  "device \"mvbad5\": route fd00:70::/64 is listed twice" },
	{ { DEVICE_TUN, "mvbad/6", 1400, { NULL }, { NULL } },
	  -EINVAL,
	  "device \"mvbad/6\": cannot create tun device: Invalid argument" },
	{ { DEVICE_TUN, "mvbad7890123456", 1400, { NULL }, { NULL } }, 0, NULL },
	{ { DEVICE_TUN, "mvbad78901234567", 1400, { NULL }, { NULL } },
	  -EINVAL,
	  "device: name longer than 15 characters" },
};

static void test_bad_config(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		char err[DEVICE_ERR_MAX] = "", name[IFNAMSIZ + 1] = "";
		struct device *dev = NULL;
		struct cfg_buf b;
		int r = device_open(&dev, make_config(&b, &bad_cases[i].cfg), err, sizeof(err));

		memcpy(name, b.cfg.name, IFNAMSIZ);
		CHECK(r == bad_cases[i].r, "case %zu: %d %s", i, r, err);
		CHECK(!bad_cases[i].msg || strcmp(err, bad_cases[i].msg) == 0, "case %zu: %s", i,
		      err);
		CHECK(!bad_cases[i].msg == (dev != NULL), "case %zu: device only on success", i);
		device_free(dev);
		/* Failing halfway leaves nothing behind. */
		check_gone(name, bad_cases[i].cfg.name);
	}
}

static void test_tap(void)
{
	static const struct cfg_text tap = {
		DEVICE_TAP,
		"mvtap0",
		1500,
		{ "10.9.0.1/24", "fd00:9::1/64" },
		{ "192.168.80.0/24" },
	};
	char err[DEVICE_ERR_MAX] = "";
	struct device *dev = NULL;
	struct cfg_buf b;
	int r = device_open(&dev, make_config(&b, &tap), err, sizeof(err));

	CHECK(r == 0 && dev, "tap: %d %s", r, err);
	if (!dev)
		return;
	check_tun_flags(dev, IFF_TAP);
	CHECK(link_has("mvtap0", "link/ether"), "a layer 2 link");
	check_matches(dev, "tap");
	device_free(dev);
	check_gone("mvtap0", "tap freed");
}

static const struct {
	enum device_type type;
	const char *prefix;
} chosen_cases[] = {
	{ DEVICE_TUN, "tun" },
	{ DEVICE_TUN, "tun" },
	{ DEVICE_TAP, "tap" },
};

static void test_kernel_chosen_name(void)
{
	enum { N = sizeof(chosen_cases) / sizeof(chosen_cases[0]) };
	struct device *devs[N] = { NULL };
	char names[N][IFNAMSIZ];

	for (size_t i = 0; i < N; i++) {
		struct cfg_text t = {
			chosen_cases[i].type, "", 1500, { NULL }, { "10.20.0.0/16" }
		};
		char err[DEVICE_ERR_MAX] = "";
		struct cfg_buf b;
		int r;

		/* Two devices cannot both route 10.20.0.0/16 in the main table. */
		if (i)
			t.routes[0] = NULL;
		r = device_open(&devs[i], make_config(&b, &t), err, sizeof(err));
		CHECK(r == 0 && devs[i], "case %zu: %d %s", i, r, err);
		if (!devs[i])
			continue;
		snprintf(names[i], IFNAMSIZ, "%s", device_name(devs[i]));
		CHECK(strncmp(names[i], chosen_cases[i].prefix, 3) == 0, "case %zu: %s", i,
		      names[i]);
		CHECK(if_nametoindex(names[i]) == device_ifindex(devs[i]), "case %zu: index", i);
		CHECK(strcmp(device_config(devs[i])->name, names[i]) == 0, "case %zu: config name",
		      i);
		CHECK(i == 0 || strcmp(names[i], names[0]) != 0, "case %zu: a new name", i);
		CHECK(!device_needs_recreate(devs[i], &b.cfg), "case %zu: empty name kept", i);
		check_matches(devs[i], names[i]);
	}
	for (size_t i = 0; i < N; i++) {
		if (!devs[i])
			continue;
		device_free(devs[i]);
		check_gone(names[i], "kernel-chosen name freed");
	}
}

static const struct {
	enum device_type type;
	const char *name;
	int recreate;
} recreate_cases[] = {
	{ DEVICE_TUN, "mvtest0", 0 }, { DEVICE_TUN, "", 0 },	    { DEVICE_TAP, "mvtest0", 1 },
	{ DEVICE_TAP, "", 1 },	      { DEVICE_TUN, "mvtest1", 1 },
};

static void test_needs_recreate(struct device *dev)
{
	for (size_t i = 0; i < sizeof(recreate_cases) / sizeof(recreate_cases[0]); i++) {
		struct cfg_text t = full;
		char err[DEVICE_ERR_MAX] = "";
		struct cfg_buf b;
		int r;

		t.type = recreate_cases[i].type;
		t.name = recreate_cases[i].name;
		make_config(&b, &t);
		CHECK(!!device_needs_recreate(dev, &b.cfg) == recreate_cases[i].recreate,
		      "case %zu", i);
		if (!recreate_cases[i].recreate)
			continue;
		r = device_reconfigure(dev, &b.cfg, err, sizeof(err));
		CHECK(r == -EINVAL && strstr(err, "must be recreated"), "case %zu: %d %s", i, r,
		      err);
	}
}

/* Each step starts from the previous one's result. */
static const struct {
	const char *what;
	struct cfg_text cfg;
	int r;
	const char *msg; /* NULL: succeeds */
	const char *gone_addrs[PREFIXES_MAX];
	const char *gone_routes[PREFIXES_MAX];
} steps[] = {
	{ "nothing changes", full, 0, NULL, { NULL }, { NULL } },
	{ "swap everything",
	  { DEVICE_TUN,
	    "mvtest0",
	    1300,
	    { "10.9.0.1/24", "fd00:9::1/64" },
	    { "192.168.71.0/24", "fd00:71::/64", "172.16.0.0/16" } },
	  0,
	  NULL,
	  { "10.8.0.1/24", "fd00:8::1/64" },
	  { "192.168.70.0/24", "fd00:70::/64" } },
	/* The kernel flushes IPv4 routes with the last IPv4 address; the kept one must return. */
	{ "drop all IPv4 addresses",
	  { DEVICE_TUN, "", 1300, { "fd00:9::1/64" }, { "172.16.0.0/16", "fd00:71::/64" } },
	  0,
	  NULL,
	  { "10.9.0.1/24" },
	  { "192.168.71.0/24" } },
	{ "IPv4 back",
	  { DEVICE_TUN,
	    "",
	    1300,
	    { "10.9.0.1/24", "fd00:9::1/64" },
	    { "172.16.0.0/16", "fd00:71::/64" } },
	  0,
	  NULL,
	  { NULL },
	  { NULL } },
	{ "new prefix lengths",
	  { DEVICE_TUN,
	    "",
	    1300,
	    { "fd00:9::1/48", "10.9.0.1/16" },
	    { "172.16.0.0/16", "fd00:71::/64" } },
	  0,
	  NULL,
	  { "10.9.0.1/24", "fd00:9::1/64" },
	  { NULL } },
	{ "route clashes with an address",
	  { DEVICE_TUN, "", 1300, { "10.10.0.1/24" }, { "10.10.0.0/24" } },
	  -EEXIST,
	  "device \"mvtest0\": cannot add route 10.10.0.0/24: File exists",
	  { "10.9.0.1/16", "fd00:9::1/48" },
	  { "172.16.0.0/16", "fd00:71::/64", "10.10.0.0/24" } },
	{ "back after the failure",
	  { DEVICE_TUN,
	    "",
	    1300,
	    { "fd00:9::1/48", "10.9.0.1/16" },
	    { "172.16.0.0/16", "fd00:71::/64" } },
	  0,
	  NULL,
	  { "10.10.0.1/24" },
	  { NULL } },
	{ "MTU too big",
	  { DEVICE_TUN,
	    "",
	    70000,
	    { "fd00:9::1/48", "10.9.0.1/16" },
	    { "172.16.0.0/16", "fd00:71::/64" } },
	  -EINVAL,
	  "device \"mvtest0\": MTU 70000 rejected by the kernel: Invalid argument",
	  { NULL },
	  { NULL } },
	/* Below 1280 the kernel drops IPv6 from the link. */
	{ "IPv4 only, small MTU",
	  { DEVICE_TUN, "", 1000, { "10.9.0.1/16" }, { "172.16.0.0/16" } },
	  0,
	  NULL,
	  { "fd00:9::1/48" },
	  { "fd00:71::/64" } },
	{ "IPv6 refused with a small MTU",
	  { DEVICE_TUN, "", 1000, { "10.9.0.1/16", "fd00:9::1/64" }, { "172.16.0.0/16" } },
	  -EINVAL,
	  "device \"mvtest0\": MTU 1000 is below 1280, the minimum for IPv6 addresses and routes",
	  { "fd00:9::1/64" },
	  { NULL } },
	{ "IPv6 back",
	  { DEVICE_TUN,
	    "",
	    1420,
	    { "10.9.0.1/16", "fd00:9::1/64" },
	    { "172.16.0.0/16", "fd00:71::/64", "0.0.0.0/1", "::/1" } },
	  0,
	  NULL,
	  { NULL },
	  { NULL } },
};

static void test_reconfigure(struct device *dev)
{
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char err[DEVICE_ERR_MAX] = "";
		struct ip_prefix gone_a[PREFIXES_MAX], gone_r[PREFIXES_MAX];
		size_t n_gone_a = parse_list(gone_a, steps[i].gone_addrs);
		size_t n_gone_r = parse_list(gone_r, steps[i].gone_routes);
		struct cfg_buf b;
		const struct device_config *c = make_config(&b, &steps[i].cfg);
		int r = device_reconfigure(dev, c, err, sizeof(err));

		CHECK(r == steps[i].r, "%s: %d %s", steps[i].what, r, err);
		CHECK(!steps[i].msg || strcmp(err, steps[i].msg) == 0, "%s: %s", steps[i].what,
		      err);
		if (!steps[i].msg) {
			CHECK(device_config(dev)->mtu == c->mtu, "%s: mtu", steps[i].what);
			CHECK(device_config(dev)->n_addrs == c->n_addrs &&
				      device_config(dev)->n_routes == c->n_routes,
			      "%s: counts", steps[i].what);
		}
		/* Also after a failure, the device's record matches the kernel. */
		check_matches(dev, steps[i].what);
		check_list("mvtest0", gone_a, n_gone_a, false, false, steps[i].what);
		check_list("mvtest0", gone_r, n_gone_r, true, false, steps[i].what);
	}
}

/* ---- offloads: the virtio-net header ---- */

/* Whether the L4 checksum of an IPv4 UDP packet verifies. */
static bool udp_sum_ok(const uint8_t *ip, size_t len)
{
	uint32_t sum = PACKET_PROTO_UDP + (uint32_t)(len - 20);

	for (int i = 12; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	return len > 28 && packet_checksum(ip + 20, len - 20, sum) == 0;
}

/* Reads frames from the vnet device until one carries UDP to dst; its length, 0 if none came. */
static size_t read_udp_frame(const struct device *dev, const struct sockaddr_in *dst,
			     uint8_t *frame)
{
	struct pollfd pfd = { .fd = device_fd(dev), .events = POLLIN };

	while (poll(&pfd, 1, PACKET_WAIT_MS) == 1) {
		ssize_t n = read(pfd.fd, frame, FRAME_MAX_BYTES);

		if (n < VNET_HDR_LEN + 28)
			continue;
		if (frame[VNET_HDR_LEN] >> 4 == 4 && frame[VNET_HDR_LEN + 9] == PACKET_PROTO_UDP &&
		    memcmp(frame + VNET_HDR_LEN + 16, &dst->sin_addr, 4) == 0)
			return (size_t)n;
	}
	return 0;
}

/* A small datagram comes with the header in front, its checksum complete or completable. */
static void check_vnet_read(const struct device *dev, int s, const struct sockaddr_in *to)
{
	static uint8_t frame[FRAME_MAX_BYTES];
	struct vnet_hdr h;
	size_t n;

	CHECK(sendto(s, "moonvpn", 7, 0, (const struct sockaddr *)to, sizeof(*to)) == 7, "send: %s",
	      strerror(errno));
	n = read_udp_frame(dev, to, frame);
	CHECK(n == VNET_HDR_LEN + 20 + 8 + 7, "datagram behind a 10-byte header: %zu bytes", n);
	if (n != VNET_HDR_LEN + 35 || !vnet_hdr_read(frame, n, &h))
		return;
	CHECK(h.gso_type == VNET_GSO_NONE, "gso type %u", h.gso_type);
	CHECK(!(h.flags & VNET_F_NEEDS_CSUM) || (h.csum_start == 20 && h.csum_offset == 6),
	      "partial checksum at %u+%u", h.csum_start, h.csum_offset);
	CHECK(vnet_complete_csum(frame + VNET_HDR_LEN, n - VNET_HDR_LEN, &h) == 0 &&
		      udp_sum_ok(frame + VNET_HDR_LEN, n - VNET_HDR_LEN),
	      "checksum (flags %u)", h.flags);
	CHECK(memcmp(frame + n - 7, "moonvpn", 7) == 0, "payload");
}

/* With USO, a UDP GSO send comes out of the device as one superpacket that splits back. */
static void check_uso_read(const struct device *dev, int s, const struct sockaddr_in *to)
{
	static uint8_t frame[FRAME_MAX_BYTES], seg[FRAME_MAX_BYTES];
	static uint8_t data[USO_SEGMENTS * USO_SEGMENT_BYTES];
	size_t len = (USO_SEGMENTS - 1) * USO_SEGMENT_BYTES + USO_LAST_BYTES, n, off = 0;
	int gso = USO_SEGMENT_BYTES, count;
	struct vnet_split sp;
	struct vnet_hdr h;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + 5);
	CHECK(setsockopt(s, SOL_UDP, UDP_SEGMENT, &gso, sizeof(gso)) == 0, "UDP_SEGMENT: %s",
	      strerror(errno));
	CHECK(sendto(s, data, len, 0, (const struct sockaddr *)to, sizeof(*to)) == (ssize_t)len,
	      "gso send: %s", strerror(errno));
	n = read_udp_frame(dev, to, frame);
	CHECK(n == VNET_HDR_LEN + 28 + len, "one superpacket: %zu bytes", n);
	if (n != VNET_HDR_LEN + 28 + len || !vnet_hdr_read(frame, n, &h))
		return;
	CHECK(h.gso_type == VNET_GSO_UDP_L4 && h.gso_size == USO_SEGMENT_BYTES,
	      "gso type %u size %u", h.gso_type, h.gso_size);
	count = vnet_split_init(&sp, &h, frame + VNET_HDR_LEN, n - VNET_HDR_LEN);
	CHECK(count == USO_SEGMENTS, "%d segments (%s)", count, vnet_strerror(count));
	while ((n = vnet_split_next(&sp, seg, sizeof(seg))) != 0) {
		CHECK(udp_sum_ok(seg, n) && off + n - 28 <= len &&
			      memcmp(seg + 28, data + off, n - 28) == 0,
		      "segment at %zu", off);
		off += n - 28;
	}
	CHECK(off == len, "payload split back: %zu of %zu", off, len);
}

/* The far end of a TCP connection through the vnet device, played by the test. */
struct tcp_peer {
	uint32_t seq; /* ours, next to send */
	uint32_t ack; /* the server's ISN + 1 */
	uint16_t id;
};

enum {
	TCP_PEER_PORT = 40000,
	TCP_SERVER_PORT = 5555,
	TCP_MSS_BYTES = 1000,
	TCP_SEND_BYTES = 8000,
	TCP_GRO_SEGMENTS = 3,
};

static void be16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	be16(p, v >> 16);
	be16(p + 2, v & 0xffff);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t tcp_pseudo(const uint8_t *ip, size_t l4len)
{
	uint32_t sum = PACKET_PROTO_TCP + (uint32_t)l4len;

	for (int i = 12; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	return sum;
}

/* An IPv4 TCP segment from the peer (10.10.0.2) to the server (10.10.0.1); its length. */
static size_t peer_segment(struct tcp_peer *p, uint8_t *ip, uint8_t flags, const uint8_t *opts,
			   size_t olen, const uint8_t *data, size_t dlen)
{
	static const uint8_t src[4] = { 10, 10, 0, 2 }, dst[4] = { 10, 10, 0, 1 };
	size_t thl = 20 + olen, len = 20 + thl + dlen;
	uint8_t *t = ip + 20;

	memset(ip, 0, 20 + thl);
	ip[0] = 0x45;
	be16(ip + 2, len);
	be16(ip + 4, p->id++);
	be16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = PACKET_PROTO_TCP;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	be16(ip + 10, packet_checksum(ip, 20, 0));
	be16(t, TCP_PEER_PORT);
	be16(t + 2, TCP_SERVER_PORT);
	be32(t + 4, p->seq);
	be32(t + 8, p->ack);
	t[12] = (uint8_t)(thl / 4 << 4);
	t[13] = flags;
	be16(t + 14, 512); /* scaled by 2^7 */
	if (olen)
		memcpy(t + 20, opts, olen);
	if (dlen)
		memcpy(t + thl, data, dlen);
	be16(t + 16, packet_checksum(t, thl + dlen, tcp_pseudo(ip, thl + dlen)));
	p->seq += (uint32_t)dlen + (flags & 0x02 ? 1 : 0);
	return len;
}

/* Writes a peer segment to the device behind a zero vnet header. */
static void peer_write(const struct device *dev, struct tcp_peer *p, uint8_t flags,
		       const uint8_t *opts, size_t olen)
{
	uint8_t frame[VNET_HDR_LEN + 60] = { 0 };
	size_t len =
		VNET_HDR_LEN + peer_segment(p, frame + VNET_HDR_LEN, flags, opts, olen, NULL, 0);

	CHECK(write(device_fd(dev), frame, len) == (ssize_t)len, "write: %s", strerror(errno));
}

/* The next frame the server sends to the peer with the given flags (any payload if 0x10). */
static size_t server_frame(const struct device *dev, uint8_t *frame, bool with_data)
{
	struct pollfd pfd = { .fd = device_fd(dev), .events = POLLIN };

	while (poll(&pfd, 1, PACKET_WAIT_MS) == 1) {
		ssize_t n = read(pfd.fd, frame, FRAME_MAX_BYTES);
		const uint8_t *ip = frame + VNET_HDR_LEN;

		if (n < VNET_HDR_LEN + 40 || ip[0] != 0x45 || ip[9] != PACKET_PROTO_TCP ||
		    (ip[20] << 8 | ip[21]) != TCP_SERVER_PORT)
			continue;
		if (!with_data || (size_t)n > VNET_HDR_LEN + 20 + (size_t)(ip[32] >> 4) * 4)
			return (size_t)n;
	}
	return 0;
}

static void write_frame(void *ctx, uint8_t *frame, size_t len)
{
	const struct device *dev = ctx;

	CHECK(write(device_fd(dev), frame, len) == (ssize_t)len, "gro write %zu: %s", len,
	      strerror(errno));
}

/* Handshake with the listening socket l; the accepted socket, or -1. */
static int tcp_connect(const struct device *dev, int l, struct tcp_peer *p, uint8_t *frame)
{
	static const uint8_t syn_opts[8] = { 2, 4, TCP_MSS_BYTES >> 8, TCP_MSS_BYTES & 0xff, 1, 3,
					     3, 7 }; /* MSS, NOP, window scale 7 */
	struct pollfd pfd = { .fd = l, .events = POLLIN };
	size_t n;

	peer_write(dev, p, 0x02, syn_opts, sizeof(syn_opts));
	n = server_frame(dev, frame, false);
	CHECK(n && frame[VNET_HDR_LEN + 33] == 0x12 && rd32(frame + VNET_HDR_LEN + 28) == p->seq,
	      "syn-ack: %zu bytes", n);
	if (!n)
		return -1;
	p->ack = rd32(frame + VNET_HDR_LEN + 24) + 1;
	peer_write(dev, p, 0x10, NULL, 0);
	if (poll(&pfd, 1, PACKET_WAIT_MS) != 1)
		return -1;
	return accept4(l, NULL, NULL, SOCK_CLOEXEC);
}

/* A TSO superpacket read from the device splits into segments that carry what was sent. */
static void check_tso_read(const struct device *dev, int c, const struct tcp_peer *p,
			   uint8_t *frame)
{
	static uint8_t data[TCP_SEND_BYTES], seg[FRAME_MAX_BYTES];
	struct vnet_split sp;
	struct vnet_hdr h;
	size_t n, got = 0;
	int count;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 11 + 1);
	CHECK(write(c, data, sizeof(data)) == (ssize_t)sizeof(data), "server send");
	n = server_frame(dev, frame, true);
	CHECK(n && vnet_hdr_read(frame, n, &h), "server data: %zu bytes", n);
	if (!n)
		return;
	CHECK(h.gso_type == VNET_GSO_TCPV4 && h.gso_size <= TCP_MSS_BYTES, "tso: type %u size %u",
	      h.gso_type, h.gso_size);
	count = vnet_split_init(&sp, &h, frame + VNET_HDR_LEN, n - VNET_HDR_LEN);
	CHECK(count >= 2, "tso: %d segments (%s)", count, vnet_strerror(count));
	while ((n = vnet_split_next(&sp, seg, sizeof(seg))) != 0) {
		size_t off = rd32(seg + 24) - p->ack, plen = n - 40;

		CHECK(packet_checksum(seg, 20, 0) == 0 &&
			      packet_checksum(seg + 20, n - 20, tcp_pseudo(seg, n - 20)) == 0,
		      "tso segment at %zu: checksums", off);
		CHECK(plen <= h.gso_size && off + plen <= sizeof(data) &&
			      memcmp(seg + 40, data + off, plen) == 0,
		      "tso segment at %zu: payload", off);
		got += plen;
	}
	CHECK(got > h.gso_size, "tso: %zu bytes split", got);
}

/* Reads want bytes from c (up to PACKET_WAIT_MS between pieces) and compares them. */
static void check_received(int c, const uint8_t *want, size_t len, const char *what)
{
	static uint8_t buf[TCP_GRO_SEGMENTS * TCP_MSS_BYTES];
	struct pollfd pfd = { .fd = c, .events = POLLIN };
	size_t got = 0;

	while (got < len && poll(&pfd, 1, PACKET_WAIT_MS) == 1) {
		ssize_t n = recv(c, buf + got, len - got, MSG_DONTWAIT);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	CHECK(got == len && memcmp(buf, want, len) == 0, "%s: %zu of %zu bytes", what, got, len);
}

/* Coalesced segments written as one GSO frame reach the socket whole and in order. */
static void check_gro_write(struct device *dev, int c, struct tcp_peer *p)
{
	static uint8_t in[TCP_GRO_SEGMENTS][VNET_HDR_LEN + 20 + 20 + TCP_MSS_BYTES];
	static uint8_t data[TCP_GRO_SEGMENTS * TCP_MSS_BYTES];
	struct vnet_gro *g = vnet_gro_new(true, write_frame, dev);

	CHECK(g != NULL, "gro");
	if (!g)
		return;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 3 + 7);
	for (int i = 0; i < TCP_GRO_SEGMENTS; i++) {
		uint8_t *ip = in[i] + VNET_HDR_LEN;
		size_t len =
			peer_segment(p, ip, 0x10, NULL, 0, data + i * TCP_MSS_BYTES, TCP_MSS_BYTES);

		vnet_gro_add(g, ip, len);
	}
	vnet_gro_flush(g);
	CHECK(vnet_gro_stats(g)->groups == 1 && vnet_gro_stats(g)->coalesced == TCP_GRO_SEGMENTS,
	      "one gso frame");
	check_received(c, data, sizeof(data), "gso frame");
	/* One alone (PSH): passed in place behind a zero header, the kernel checks its sum. */
	vnet_gro_add(g, in[0] + VNET_HDR_LEN,
		     peer_segment(p, in[0] + VNET_HDR_LEN, 0x18, NULL, 0, data, TCP_MSS_BYTES));
	CHECK(vnet_gro_stats(g)->passed == 1, "passed");
	check_received(c, data, TCP_MSS_BYTES, "single segment");
	vnet_gro_free(g);
}

/* A TCP connection through the device: TSO superpackets out, GRO frames in. */
static void check_tcp_offloads(struct device *dev)
{
	static uint8_t frame[FRAME_MAX_BYTES];
	struct sockaddr_in at = { .sin_family = AF_INET, .sin_port = htons(TCP_SERVER_PORT) };
	struct tcp_peer p = { .seq = 1000, .id = 1 };
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c = -1;

	CHECK(l >= 0 && bind(l, (struct sockaddr *)&at, sizeof(at)) == 0 && listen(l, 1) == 0,
	      "listen: %s", strerror(errno));
	if (l >= 0)
		c = tcp_connect(dev, l, &p, frame);
	CHECK(c >= 0, "accept: %s", strerror(errno));
	if (c >= 0) {
		check_tso_read(dev, c, &p, frame);
		check_gro_write(dev, c, &p);
		close(c);
	}
	if (l >= 0)
		close(l);
}

static void test_vnet(void)
{
	static const struct cfg_text vt = {
		DEVICE_TUN, "mvvnet0", 1500, { "10.10.0.1/24" }, { 0 },
	};
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	char err[DEVICE_ERR_MAX] = "";
	struct device *dev = NULL;
	struct cfg_buf b;
	int r = device_open(&dev, with_offload(&b, &vt, DEVICE_OFFLOAD_ALL), err, sizeof(err));
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	CHECK(r == 0 && dev, "vnet open: %d %s", r, err);
	if (!dev || s < 0)
		goto out;
	/* USO came with kernel 6.2; this one is newer (6.18): all of it must be taken. */
	CHECK(device_offload(dev) == DEVICE_OFFLOAD_ALL, "offload %#x", device_offload(dev));
	check_vnet_flag(dev, true, "vnet");
	to.sin_addr.s_addr = htonl(0x0a0a0002); /* 10.10.0.2, through the device */
	check_vnet_read(dev, s, &to);
	if (device_offload(dev) & DEVICE_OFFLOAD_USO4)
		check_uso_read(dev, s, &to);
	check_tcp_offloads(dev);

	/* A reload that changes neither type, name nor offloads keeps the header. */
	b.cfg.mtu = 1400;
	CHECK(!device_needs_recreate(dev, &b.cfg), "same offloads: no recreate");
	r = device_reconfigure(dev, &b.cfg, err, sizeof(err));
	CHECK(r == 0, "reconfigure: %s", err);
	check_vnet_flag(dev, true, "reconfigured");
	check_matches(dev, "vnet reconfigured");
	b.cfg.offload = DEVICE_OFFLOAD_CSUM;
	CHECK(device_needs_recreate(dev, &b.cfg), "other offloads: recreate");
	CHECK(device_reconfigure(dev, &b.cfg, err, sizeof(err)) == -EINVAL &&
		      strstr(err, "must be recreated"),
	      "reconfigure refuses other offloads: %s", err);
	b.cfg.offload = 0;
	CHECK(device_needs_recreate(dev, &b.cfg), "offloads off: recreate");
	device_free(dev);
	check_gone("mvvnet0", "vnet freed");

	/* The mask limits the ladder: checksum offload alone. */
	b.cfg.offload = DEVICE_OFFLOAD_CSUM;
	r = device_open(&dev, &b.cfg, err, sizeof(err));
	CHECK(r == 0 && device_offload(dev) == DEVICE_OFFLOAD_CSUM, "csum only: %d %s", r, err);
	if (r == 0) {
		check_vnet_flag(dev, true, "csum only");
		check_vnet_read(dev, s, &to);
		device_free(dev);
	}
out:
	if (s >= 0)
		close(s);
}

/* Down the ladder as the kernel refuses, and no header at all when it takes nothing. */
static void test_vnet_ladder(void)
{
	static const struct cfg_text vt = {
		DEVICE_TUN, "mvladder0", 1500, { "10.11.0.1/24" }, { 0 },
	};
	static const struct {
		unsigned refused, want;
	} cases[] = {
		{ DEVICE_OFFLOAD_USO6,
		  DEVICE_OFFLOAD_CSUM | DEVICE_OFFLOAD_TSO4 | DEVICE_OFFLOAD_TSO6 },
		{ DEVICE_OFFLOAD_TSO4, DEVICE_OFFLOAD_CSUM },
		{ DEVICE_OFFLOAD_CSUM, 0 },
	};
	char err[DEVICE_ERR_MAX] = "";
	struct cfg_buf b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct device *dev = NULL;
		int r;

		refused_offloads = cases[i].refused;
		r = device_open(&dev, with_offload(&b, &vt, DEVICE_OFFLOAD_ALL), err, sizeof(err));
		refused_offloads = 0;
		CHECK(r == 0 && dev, "ladder %zu: %d %s", i, r, err);
		if (!dev)
			continue;
		CHECK(device_offload(dev) == cases[i].want, "ladder %zu: offload %#x", i,
		      device_offload(dev));
		check_vnet_flag(dev, cases[i].want != 0, "ladder");
		check_matches(dev, "ladder");
		if (!cases[i].want)
			check_no_packet_info(dev, 0x0a0b0002); /* 10.11.0.2 */
		device_free(dev);
		check_gone("mvladder0", "ladder");
	}
}

/* TAP takes no vnet header; bad offload values are refused with a reason. */
static void test_vnet_refused(void)
{
	static const struct cfg_text tap = {
		DEVICE_TAP, "mvvtap0", 1500, { 0 }, { 0 },
	};
	static const struct {
		unsigned offload;
		const char *msg;
	} bad[] = {
		{ 0x08, "device \"mvbad0\": unknown offload flags 0x8 (known: 0x67, csum, tso4/6, "
			"uso4/6)" },
		{ DEVICE_OFFLOAD_TSO4, "device \"mvbad0\": offload 0x2: segmentation offloads need "
				       "checksum offload (0x1) too" },
	};
	char err[DEVICE_ERR_MAX] = "";
	struct device *dev = NULL;
	struct cfg_buf b;
	int r = device_open(&dev, with_offload(&b, &tap, DEVICE_OFFLOAD_ALL), err, sizeof(err));

	CHECK(r == 0 && dev, "tap with offloads: %d %s", r, err);
	if (dev) {
		check_vnet_flag(dev, false, "tap");
		b.cfg.offload = 0;
		CHECK(!device_needs_recreate(dev, &b.cfg), "tap ignores offloads");
		device_free(dev);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		static const struct cfg_text t = { DEVICE_TUN, "mvbad0", 1500, { 0 }, { 0 } };

		dev = NULL;
		r = device_open(&dev, with_offload(&b, &t, bad[i].offload), err, sizeof(err));
		CHECK(r == -EINVAL && !dev && strcmp(err, bad[i].msg) == 0, "offload %#x: %d %s",
		      bad[i].offload, r, err);
	}
	check_gone("mvbad0", "refused");
}

static int count_lines(const char *s)
{
	int n = 0;

	for (s = strchr(s, '\n'); s && s[1]; s = strchr(s + 1, '\n'))
		n++;
	return n;
}

int main(void)
{
	struct device *dev;
	const char *links;

	if (!unit_netns("test_device", "creates interfaces in a private network namespace",
			UNIT_NETNS_TUN))
		return unit_report("test_device");
	/* A fresh namespace has only a loopback; anything else means it is not ours. */
	links = run("ip -o link");
	CHECK(strstr(links, " lo: ") && count_lines(links) == 1, "fresh namespace: %s", links);
	if (unit_counts.failed)
		return unit_report("test_device");

	device_free(NULL);
	dev = test_open_full();
	if (dev) {
		test_name_taken();
		test_needs_recreate(dev);
		test_reconfigure(dev);
		device_free(dev);
		check_gone("mvtest0", "freed");
	}
	test_bad_config();
	test_tap();
	test_kernel_chosen_name();
	test_vnet();
	test_vnet_ladder();
	test_vnet_refused();
	links = run("ip -o link");
	CHECK(count_lines(links) == 1, "only the loopback is left: %s", links);
	return unit_report("test_device");
}
