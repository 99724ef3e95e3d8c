/* SPDX-License-Identifier: MIT */
/*
 * UDP transport endpoints: parsing "udp://ADDRESS:PORT" into a socket
 * address, opening the non-blocking socket a server listens on (dual-stack
 * for [::]) or a client's connected one, and formatting peer addresses for
 * logs. Sending and receiving are plain sendto/recvfrom (send/recv for a
 * client) on the returned descriptor; batching comes with the data path.
 */
#ifndef MOONVPN_UDP_H
#define MOONVPN_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum { UDP_ADDR_TEXT_MAX = 64 /* "[ffff:...:ffff]:65535" */ };

struct udp_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* "udp://0.0.0.0:1194" or "udp://[::]:1194"; false when it is not one. */
bool udp_parse_endpoint(struct udp_addr *out, const char *text) __attribute__((warn_unused_result));
/*
 * "SCHEME://HOST:PORT" split: HOST as written (brackets kept) into host (cap
 * bytes) and the port (1-65535); false when text is not of that form.
 */
bool udp_split_endpoint(const char *text, const char *scheme, char *host, size_t cap,
			uint16_t *port) __attribute__((warn_unused_result));
/* The same for another scheme: "tcp://0.0.0.0:443" with scheme "tcp". */
bool udp_parse_endpoint_of(struct udp_addr *out, const char *text, const char *scheme)
	__attribute__((warn_unused_result));

/* A bound, non-blocking, close-on-exec UDP socket; the fd, or -errno with err set. */
int udp_listen(const struct udp_addr *addr, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * n such sockets (1 to STEER_SOCKETS_MAX) into fds, for n data-path workers
 * (docs/workers.md): with n > 1 bound with SO_REUSEPORT in order, a group
 * whose datagrams are steered by peer-id (steer.h): fds[0] gets everything
 * but P_DATA_V2, which goes to fds[peer-id % n]. 0, or -errno with err set
 * and nothing left open. The group is closed whole (steer.h says why).
 */
int udp_listen_group(const struct udp_addr *addr, int *fds, unsigned n, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A non-blocking UDP socket connected to addr (a client's, on a fresh local port). */
int udp_connect(const struct udp_addr *addr, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * The same from a given source: bound to local first (its port 0: a fresh
 * one), so one host can speak from many addresses (the load generator).
 * local NULL or of length 0: the kernel picks, as udp_connect.
 */
int udp_connect_from(const struct udp_addr *local, const struct udp_addr *addr, char *err,
		     size_t errlen) __attribute__((warn_unused_result));

/* "10.0.0.2:40000" or "[fd00::2]:40000" into buf; returns buf. */
const char *udp_addr_format(const struct sockaddr *sa, char *buf, size_t len);

#endif
