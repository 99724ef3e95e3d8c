// SPDX-License-Identifier: MIT
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include "ip.h"
#include "netlink.h"
#include "unit.h"

enum { ATTR_SLOTS = 64 };

struct attrs {
	const struct nlattr *tb[ATTR_SLOTS];
	int count;
};

static int collect(const struct nlattr *attr, void *data)
{
	struct attrs *a = data;
	uint16_t type = mnl_attr_get_type(attr);

	a->count++;
	if (type < ATTR_SLOTS)
		a->tb[type] = attr;
	return MNL_CB_OK;
}

/* Checks the header and framing every request shares, and collects the attributes. */
static void check_frame(const struct nlmsghdr *nlh, const struct netlink_msg *msg, uint16_t type,
			uint16_t extra_flags, size_t hdr_size, struct attrs *a, const char *what)
{
	memset(a, 0, sizeof(*a));
	CHECK(nlh == (const void *)msg->bytes, "%s: message at the start of the buffer", what);
	CHECK(nlh->nlmsg_type == type, "%s: type %u", what, nlh->nlmsg_type);
	CHECK(nlh->nlmsg_flags == (NLM_F_REQUEST | NLM_F_ACK | extra_flags), "%s: flags %#x", what,
	      nlh->nlmsg_flags);
	CHECK(nlh->nlmsg_seq == 0, "%s: seq left to the sender", what);
	CHECK(nlh->nlmsg_len <= NETLINK_MSG_BYTES, "%s: len %u", what, nlh->nlmsg_len);
	CHECK(mnl_nlmsg_ok(nlh, (int)nlh->nlmsg_len), "%s: well formed", what);
	CHECK(mnl_attr_parse(nlh, (unsigned)hdr_size, collect, a) == MNL_CB_OK, "%s: attributes",
	      what);
}

static void check_bytes(const struct nlattr *attr, const struct ip_prefix *p, const char *what)
{
	size_t size = ip_addr_size(&p->addr);

	CHECK(attr != NULL, "%s: attribute present", what);
	if (!attr)
		return;
	CHECK(mnl_attr_get_payload_len(attr) == size, "%s: %u bytes", what,
	      mnl_attr_get_payload_len(attr));
	CHECK(memcmp(mnl_attr_get_payload(attr), p->addr.bytes, size) == 0, "%s: bytes", what);
}

static const struct {
	const char *prefix;
	uint16_t type;
	unsigned ifindex;
} addr_cases[] = {
	{ "10.8.0.1/24", RTM_NEWADDR, 7 },   { "10.8.0.1/24", RTM_DELADDR, 7 },
	{ "fd00:8::1/64", RTM_NEWADDR, 42 }, { "fd00:8::1/64", RTM_DELADDR, 42 },
	{ "10.8.0.1/32", RTM_NEWADDR, 1 },   { "fd00::1/128", RTM_NEWADDR, 65535 },
};

static void test_addr(void)
{
	for (size_t i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		struct netlink_msg msg;
		struct ip_prefix p;
		struct nlmsghdr *nlh;
		struct ifaddrmsg *ifa;
		struct attrs a;
		bool add = addr_cases[i].type == RTM_NEWADDR;
		bool v6;

		CHECK(ip_prefix_parse(&p, addr_cases[i].prefix), "case %zu", i);
		v6 = p.addr.family == AF_INET6;
		nlh = netlink_build_addr(&msg, addr_cases[i].type, addr_cases[i].ifindex, &p);
		CHECK(nlh != NULL, "case %zu: built", i);
		if (!nlh)
			continue;
		check_frame(nlh, &msg, addr_cases[i].type, add ? NLM_F_CREATE | NLM_F_EXCL : 0,
			    sizeof(*ifa), &a, addr_cases[i].prefix);
		ifa = mnl_nlmsg_get_payload(nlh);
		CHECK(ifa->ifa_family == p.addr.family, "case %zu: family", i);
		CHECK(ifa->ifa_prefixlen == p.len, "case %zu: prefix length %u", i,
		      ifa->ifa_prefixlen);
		CHECK(ifa->ifa_index == addr_cases[i].ifindex, "case %zu: index", i);
		CHECK(ifa->ifa_scope == RT_SCOPE_UNIVERSE, "case %zu: scope", i);
		CHECK(ifa->ifa_flags == (v6 ? IFA_F_NODAD : 0), "case %zu: flags %#x", i,
		      ifa->ifa_flags);
		check_bytes(a.tb[IFA_LOCAL], &p, "IFA_LOCAL");
		check_bytes(a.tb[IFA_ADDRESS], &p, "IFA_ADDRESS");
		CHECK(a.count == 2, "case %zu: %d attributes", i, a.count);
	}
}

static const struct {
	const char *prefix;
	uint16_t type;
	unsigned ifindex;
} route_cases[] = {
	{ "192.168.70.0/24", RTM_NEWROUTE, 3 }, { "192.168.70.0/24", RTM_DELROUTE, 3 },
	{ "fd00:70::/64", RTM_NEWROUTE, 9 },	{ "fd00:70::/64", RTM_DELROUTE, 9 },
	{ "0.0.0.0/0", RTM_NEWROUTE, 3 },	{ "::/0", RTM_NEWROUTE, 3 },
	{ "10.1.2.3/32", RTM_NEWROUTE, 3 },
};

static void test_route(void)
{
	for (size_t i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
		struct netlink_msg msg;
		struct ip_prefix p;
		struct nlmsghdr *nlh;
		struct rtmsg *rtm;
		struct attrs a;
		bool add = route_cases[i].type == RTM_NEWROUTE;

		CHECK(ip_prefix_parse(&p, route_cases[i].prefix), "case %zu", i);
		nlh = netlink_build_route(&msg, route_cases[i].type, route_cases[i].ifindex, &p);
		CHECK(nlh != NULL, "case %zu: built", i);
		if (!nlh)
			continue;
		check_frame(nlh, &msg, route_cases[i].type, add ? NLM_F_CREATE | NLM_F_EXCL : 0,
			    sizeof(*rtm), &a, route_cases[i].prefix);
		rtm = mnl_nlmsg_get_payload(nlh);
		CHECK(rtm->rtm_family == p.addr.family, "case %zu: family", i);
		CHECK(rtm->rtm_dst_len == p.len, "case %zu: dst len", i);
		CHECK(rtm->rtm_src_len == 0, "case %zu: src len", i);
		CHECK(rtm->rtm_table == RT_TABLE_MAIN, "case %zu: table", i);
		CHECK(rtm->rtm_protocol == RTPROT_STATIC, "case %zu: protocol", i);
		CHECK(rtm->rtm_scope == RT_SCOPE_LINK, "case %zu: scope", i);
		CHECK(rtm->rtm_type == RTN_UNICAST, "case %zu: type", i);
		check_bytes(a.tb[RTA_DST], &p, "RTA_DST");
		CHECK(a.tb[RTA_OIF] && mnl_attr_get_u32(a.tb[RTA_OIF]) == route_cases[i].ifindex,
		      "case %zu: RTA_OIF", i);
		CHECK(a.count == 2, "case %zu: %d attributes", i, a.count);
	}
}

static void test_link(void)
{
	static const unsigned mtus[] = { 576, 1400, 65535, 70000 };
	struct netlink_msg msg;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct attrs a;

	for (size_t i = 0; i < sizeof(mtus) / sizeof(mtus[0]); i++) {
		nlh = netlink_build_mtu(&msg, 5, mtus[i]);
		check_frame(nlh, &msg, RTM_NEWLINK, 0, sizeof(*ifi), &a, "mtu");
		ifi = mnl_nlmsg_get_payload(nlh);
		CHECK(ifi->ifi_index == 5 && ifi->ifi_change == 0, "mtu %u: ifinfomsg", mtus[i]);
		CHECK(a.tb[IFLA_MTU] && mnl_attr_get_u32(a.tb[IFLA_MTU]) == mtus[i], "mtu %u",
		      mtus[i]);
		CHECK(a.count == 1, "mtu %u: %d attributes", mtus[i], a.count);
	}
	nlh = netlink_build_up(&msg, 6);
	check_frame(nlh, &msg, RTM_NEWLINK, 0, sizeof(*ifi), &a, "up");
	ifi = mnl_nlmsg_get_payload(nlh);
	CHECK(ifi->ifi_index == 6, "up: index");
	CHECK(ifi->ifi_flags == IFF_UP && ifi->ifi_change == IFF_UP, "up: only IFF_UP changes");
	CHECK(a.count == 0, "up: %d attributes", a.count);
}

static void test_refused(void)
{
	struct netlink_msg msg;
	struct ip_prefix p;
	struct netlink nl = { 0 };

	CHECK(ip_prefix_parse(&p, "10.8.0.0/24"), "parse");
	CHECK(!netlink_build_addr(&msg, RTM_NEWROUTE, 1, &p), "route type for an address");
	CHECK(!netlink_build_route(&msg, RTM_NEWADDR, 1, &p), "address type for a route");
	p.addr.family = AF_UNIX;
	CHECK(!netlink_build_addr(&msg, RTM_NEWADDR, 1, &p), "unknown family");
	CHECK(!netlink_build_route(&msg, RTM_NEWROUTE, 1, &p), "unknown family");
	p.addr.family = AF_INET;
	p.len = 33;
	CHECK(!netlink_build_addr(&msg, RTM_NEWADDR, 1, &p), "IPv4 /33");
	p.addr.family = AF_INET6;
	p.len = 129;
	CHECK(!netlink_build_route(&msg, RTM_NEWROUTE, 1, &p), "IPv6 /129");
	CHECK(netlink_set_up(&nl, 1) == -EBADF, "request on a closed handle");
	netlink_close(&nl); /* no-op on a zeroed handle */
	CHECK(nl.sock == NULL, "still closed");
}

int main(void)
{
	test_addr();
	test_route();
	test_link();
	test_refused();
	return unit_report("test_netlink");
}
