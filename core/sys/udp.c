// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "steer.h"
#include "udp.h"

bool udp_parse_endpoint(struct udp_addr *out, const char *text)
{
	return udp_parse_endpoint_of(out, text, "udp");
}

bool udp_split_endpoint(const char *text, const char *scheme, char *host, size_t cap,
			uint16_t *port)
{
	const char *rest, *colon;
	char *end;
	unsigned long value;
	size_t n, slen = strlen(scheme);

	if (strncmp(text, scheme, slen) != 0 || strncmp(text + slen, "://", 3) != 0)
		return false;
	rest = text + slen + 3;
	colon = strrchr(rest, ':');
	if (!colon || (n = (size_t)(colon - rest)) == 0 || n >= cap)
		return false;
	value = strtoul(colon + 1, &end, 10);
	if (*end || !colon[1] || value == 0 || value > 65535)
		return false;
	memcpy(host, rest, n);
	host[n] = '\0';
	*port = (uint16_t)value;
	return true;
}

bool udp_parse_endpoint_of(struct udp_addr *out, const char *text, const char *scheme)
{
	char host[INET6_ADDRSTRLEN + 2];
	uint16_t port;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!udp_split_endpoint(text, scheme, host, sizeof(host), &port))
		return false;
	n = strlen(host);
	if (host[0] == '[' && host[n - 1] == ']') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;

		host[n - 1] = '\0';
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		out->len = sizeof(*in6);
		return inet_pton(AF_INET6, host + 1, &in6->sin6_addr) == 1;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)&out->ss;

	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	out->len = sizeof(*in);
	return inet_pton(AF_INET, host, &in->sin_addr) == 1;
}

const char *udp_addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
	}
	return buf;
}

/* One bound socket of a server; reuseport: it joins addr's SO_REUSEPORT group. */
static int listen_one(const struct udp_addr *addr, bool reuseport, char *err, size_t errlen)
{
	char text[UDP_ADDR_TEXT_MAX];
	int family = addr->ss.ss_family, off = 0, on = 1, rc;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "udp: cannot create a socket: %s", strerror(-rc));
		return rc;
	}
	/* [::] serves IPv4 clients too, as mapped addresses. */
	if (family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0) ||
	    bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
		rc = -errno;
		snprintf(err, errlen, "udp: cannot listen on %s: %s%s",
			 udp_addr_format((const struct sockaddr *)&addr->ss, text, sizeof(text)),
			 strerror(-rc),
			 rc == -EADDRINUSE	? " (another program uses this port; change listen)"
			 : rc == -EADDRNOTAVAIL ? " (no interface has this address; change listen)"
						: "");
		close(fd);
		return rc;
	}
	return fd;
}

int udp_listen(const struct udp_addr *addr, char *err, size_t errlen)
{
	return listen_one(addr, false, err, errlen);
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

int udp_listen_group(const struct udp_addr *addr, int *fds, unsigned n, char *err, size_t errlen)
{
	int rc;

	if (n == 1) {
		fds[0] = udp_listen(addr, err, errlen);
		return fds[0] < 0 ? fds[0] : 0;
	}
	/*
	 * Any process of our user that sets SO_REUSEPORT may join a group and
	 * take a share of its datagrams. A plain bind first makes sure the port
	 * is free (an old moonvpn still running is refused, as with one socket).
	 */
	if ((rc = udp_listen(addr, err, errlen)) < 0)
		return rc;
	close(rc);
	for (unsigned i = 0; i < n; i++) {
		if ((fds[i] = listen_one(addr, true, err, errlen)) < 0) {
			rc = fds[i];
			close_fds(fds, i);
			return rc;
		}
	}
	if ((rc = steer_attach(fds[0], n)) < 0) {
		snprintf(err, errlen, "udp: cannot steer datagrams among %u sockets: %s", n,
			 strerror(-rc));
		close_fds(fds, n);
		return rc;
	}
	return 0;
}

int udp_connect(const struct udp_addr *addr, char *err, size_t errlen)
{
	return udp_connect_from(NULL, addr, err, errlen);
}

int udp_connect_from(const struct udp_addr *local, const struct udp_addr *addr, char *err,
		     size_t errlen)
{
	char text[UDP_ADDR_TEXT_MAX];
	int fd = socket(addr->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "udp: cannot create a socket: %s", strerror(-rc));
		return rc;
	}
	if (local && local->len && bind(fd, (const struct sockaddr *)&local->ss, local->len) < 0) {
		rc = -errno;
		snprintf(err, errlen, "udp: cannot send from %s: %s%s",
			 udp_addr_format((const struct sockaddr *)&local->ss, text, sizeof(text)),
			 strerror(-rc),
			 rc == -EADDRNOTAVAIL ? " (no interface has this address)"
			 : rc == -EADDRINUSE  ? " (no free local port left on it)"
					      : "");
		close(fd);
		return rc;
	}
	if (connect(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
		rc = -errno;
		snprintf(err, errlen, "udp: cannot reach %s: %s%s",
			 udp_addr_format((const struct sockaddr *)&addr->ss, text, sizeof(text)),
			 strerror(-rc),
			 rc == -ENETUNREACH ? " (no route to the server: check remote)" : "");
		close(fd);
		return rc;
	}
	return fd;
}
