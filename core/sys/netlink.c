// SPDX-License-Identifier: MIT
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include "netlink.h"

int netlink_open(struct netlink *nl)
{
	int e;

	memset(nl, 0, sizeof(*nl));
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock)
		return -errno;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		e = errno;
		mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return -e;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	return 0;
}

void netlink_close(struct netlink *nl)
{
	if (!nl->sock)
		return;
	mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

static int errno_or(int fallback)
{
	return errno ? -errno : -fallback;
}

/* Sends one request and waits for its acknowledgement, which carries the kernel's verdict;
 * an answer's messages go to cb (NULL: none expected). */
static int request_cb(struct netlink *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	_Alignas(8) unsigned char buf[NETLINK_RECV_BYTES];
	ssize_t n;
	int r;

	if (!nlh)
		return -EINVAL;
	if (!nl->sock)
		return -EBADF;
	nlh->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		errno = 0;
		r = mnl_cb_run(buf, (size_t)n, nl->seq, nl->portid, cb, data);
		if (r == MNL_CB_STOP)
			return 0;
		if (r < 0)
			return errno_or(EPROTO);
	}
}

static int request(struct netlink *nl, struct nlmsghdr *nlh)
{
	return request_cb(nl, nlh, NULL, NULL);
}

static struct nlmsghdr *put_header(struct netlink_msg *msg, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	memset(msg, 0, sizeof(*msg));
	nlh = mnl_nlmsg_put_header(msg->bytes);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	return nlh;
}

/* Address bytes of a valid prefix, 0 for anything the kernel would not take. */
static size_t prefix_bytes(const struct ip_prefix *p)
{
	if (p->addr.family == AF_INET && p->len <= 32)
		return 4;
	if (p->addr.family == AF_INET6 && p->len <= 128)
		return 16;
	return 0;
}

struct nlmsghdr *netlink_build_mtu(struct netlink_msg *msg, unsigned ifindex, unsigned mtu)
{
	struct nlmsghdr *nlh = put_header(msg, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nlh;
}

struct nlmsghdr *netlink_build_up(struct netlink_msg *msg, unsigned ifindex)
{
	struct nlmsghdr *nlh = put_header(msg, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nlh;
}

struct nlmsghdr *netlink_build_addr(struct netlink_msg *msg, uint16_t type, unsigned ifindex,
				    const struct ip_prefix *addr)
{
	size_t size = prefix_bytes(addr);
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;

	if (!size || (type != RTM_NEWADDR && type != RTM_DELADDR))
		return NULL;
	nlh = put_header(msg, type, type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)addr->addr.family;
	ifa->ifa_prefixlen = addr->len;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	/* A VPN address has no one to collide with; DAD would keep it unusable for a second. */
	if (addr->addr.family == AF_INET6)
		ifa->ifa_flags = IFA_F_NODAD;
	/* IFA_ADDRESS equal to IFA_LOCAL: a plain address with no point-to-point peer. */
	mnl_attr_put(nlh, IFA_LOCAL, size, addr->addr.bytes);
	mnl_attr_put(nlh, IFA_ADDRESS, size, addr->addr.bytes);
	return nlh;
}

struct nlmsghdr *netlink_build_route(struct netlink_msg *msg, uint16_t type, unsigned ifindex,
				     const struct ip_prefix *dst)
{
	size_t size = prefix_bytes(dst);
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	if (!size || (type != RTM_NEWROUTE && type != RTM_DELROUTE))
		return NULL;
	nlh = put_header(msg, type, type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)dst->addr.family;
	rtm->rtm_dst_len = dst->len;
	rtm->rtm_table = RT_TABLE_MAIN;
	/* Deleting with a protocol set never removes the kernel's own prefix routes. */
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, size, dst->addr.bytes);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	return nlh;
}

static size_t addr_bytes(const struct ip_addr *a)
{
	return a->family == AF_INET ? 4 : a->family == AF_INET6 ? 16 : 0;
}

struct nlmsghdr *netlink_build_host_route(struct netlink_msg *msg, uint16_t type,
					  const struct ip_addr *dst,
					  const struct netlink_path *path, uint8_t protocol)
{
	struct ip_prefix p = { .addr = *dst, .len = (uint8_t)(addr_bytes(dst) * 8) };

	return netlink_build_path_route(msg, type, &p, path, protocol);
}

struct nlmsghdr *netlink_build_path_route(struct netlink_msg *msg, uint16_t type,
					  const struct ip_prefix *dst,
					  const struct netlink_path *path, uint8_t protocol)
{
	size_t size = addr_bytes(&dst->addr);
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	if (!size || dst->len > size * 8 ||
	    (type != RTM_NEWROUTE && type != RTM_DELROUTE && type != RTM_GETROUTE) ||
	    (type == RTM_NEWROUTE && !path) ||
	    (path && path->gateway.family && path->gateway.family != dst->addr.family))
		return NULL;
	nlh = put_header(msg, type, type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)dst->addr.family;
	rtm->rtm_dst_len = dst->len;
	mnl_attr_put(nlh, RTA_DST, size, dst->addr.bytes);
	if (type == RTM_GETROUTE)
		return nlh;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = protocol;
	rtm->rtm_type = RTN_UNICAST;
	/* A delete matches a route of any scope, as ip route del does. */
	rtm->rtm_scope = type == RTM_DELROUTE		? RT_SCOPE_NOWHERE
			 : path && path->gateway.family ? RT_SCOPE_UNIVERSE
							: RT_SCOPE_LINK;
	if (path && path->gateway.family)
		mnl_attr_put(nlh, RTA_GATEWAY, size, path->gateway.bytes);
	if (path)
		mnl_attr_put_u32(nlh, RTA_OIF, path->ifindex);
	return nlh;
}

/* RTM_GETROUTE's answer: its output interface and gateway. */
static int parse_path(const struct nlmsghdr *nlh, void *data)
{
	struct netlink_path *out = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*rtm))
	{
		uint16_t len = mnl_attr_get_payload_len(attr);

		if (mnl_attr_get_type(attr) == RTA_OIF && len == sizeof(uint32_t))
			out->ifindex = mnl_attr_get_u32(attr);
		if (mnl_attr_get_type(attr) == RTA_GATEWAY && (len == 4 || len == 16)) {
			out->gateway.family = len == 4 ? AF_INET : AF_INET6;
			memcpy(out->gateway.bytes, mnl_attr_get_payload(attr), len);
		}
	}
	return MNL_CB_OK;
}

int netlink_route_get(struct netlink *nl, const struct ip_addr *dst, struct netlink_path *out)
{
	struct netlink_msg msg;
	int r;

	memset(out, 0, sizeof(*out));
	r = request_cb(nl, netlink_build_host_route(&msg, RTM_GETROUTE, dst, NULL, 0), parse_path,
		       out);
	return r < 0 ? r : out->ifindex ? 0 : -ENETUNREACH;
}

struct addr_dump {
	unsigned ifindex;
	int family;
	struct ip_prefix *out;
	size_t cap, n;
};

/* One RTM_NEWADDR of the dump: kept when it is on the interface and of the family asked. */
static int parse_addr(const struct nlmsghdr *nlh, void *data)
{
	struct addr_dump *d = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	size_t size = d->family == AF_INET ? 4 : 16;

	if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_index != d->ifindex ||
	    ifa->ifa_family != d->family || d->n == d->cap)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*ifa))
	{
		/* IFA_LOCAL is the address itself on a point-to-point link; IFA_ADDRESS elsewhere.
		 */
		if ((mnl_attr_get_type(attr) == IFA_ADDRESS ||
		     mnl_attr_get_type(attr) == IFA_LOCAL) &&
		    mnl_attr_get_payload_len(attr) == size) {
			struct ip_prefix *p = &d->out[d->n];

			memset(p, 0, sizeof(*p));
			p->addr.family = d->family;
			memcpy(p->addr.bytes, mnl_attr_get_payload(attr), size);
			p->len = ifa->ifa_prefixlen;
		}
	}
	if (d->out[d->n].addr.family == d->family)
		d->n++;
	return MNL_CB_OK;
}

int netlink_link_addrs(struct netlink *nl, unsigned ifindex, int family, struct ip_prefix *out,
		       size_t cap)
{
	struct netlink_msg msg;
	struct nlmsghdr *nlh = put_header(&msg, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	struct addr_dump d = { ifindex, family, out, cap, 0 };
	int r;

	if (cap)
		memset(out, 0, cap * sizeof(*out));
	/* No ACK: NLMSG_DONE ends a dump, and an ACK after it would be read by the next request. */
	nlh->nlmsg_flags &= (uint16_t)~NLM_F_ACK;
	ifa->ifa_family = (uint8_t)family;
	r = request_cb(nl, nlh, parse_addr, &d);
	return r < 0 ? r : (int)d.n;
}

int netlink_path_route_add(struct netlink *nl, const struct ip_prefix *dst,
			   const struct netlink_path *path, uint8_t protocol)
{
	struct netlink_msg msg;

	return request(nl, netlink_build_path_route(&msg, RTM_NEWROUTE, dst, path, protocol));
}

int netlink_path_route_del(struct netlink *nl, const struct ip_prefix *dst,
			   const struct netlink_path *path, uint8_t protocol)
{
	struct netlink_msg msg;

	return request(nl, netlink_build_path_route(&msg, RTM_DELROUTE, dst, path, protocol));
}

int netlink_set_mtu(struct netlink *nl, unsigned ifindex, unsigned mtu)
{
	struct netlink_msg msg;

	return request(nl, netlink_build_mtu(&msg, ifindex, mtu));
}

int netlink_set_up(struct netlink *nl, unsigned ifindex)
{
	struct netlink_msg msg;

	return request(nl, netlink_build_up(&msg, ifindex));
}

int netlink_addr_add(struct netlink *nl, unsigned ifindex, const struct ip_prefix *addr)
{
	struct netlink_msg msg;

	return request(nl, netlink_build_addr(&msg, RTM_NEWADDR, ifindex, addr));
}

int netlink_addr_del(struct netlink *nl, unsigned ifindex, const struct ip_prefix *addr)
{
	struct netlink_msg msg;

	return request(nl, netlink_build_addr(&msg, RTM_DELADDR, ifindex, addr));
}

int netlink_route_add(struct netlink *nl, unsigned ifindex, const struct ip_prefix *dst)
{
	struct netlink_msg msg;

	return request(nl, netlink_build_route(&msg, RTM_NEWROUTE, ifindex, dst));
}

int netlink_route_del(struct netlink *nl, unsigned ifindex, const struct ip_prefix *dst)
{
	struct netlink_msg msg;

	return request(nl, netlink_build_route(&msg, RTM_DELROUTE, ifindex, dst));
}
