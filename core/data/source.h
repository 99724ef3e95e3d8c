/* SPDX-License-Identifier: MIT */
/*
 * Where a peer comes from, for per-source limits: its IPv4 address, or the
 * /64 of an IPv6 one (one host often holds a whole /64). A v4-mapped address
 * on a dual-stack socket counts as its IPv4 address. Ports never count: one
 * host has all of them.
 */
#ifndef MOONVPN_SOURCE_H
#define MOONVPN_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct source {
	uint8_t bytes[8];
	size_t len;
};

void source_of(const struct sockaddr *a, struct source *src);
bool source_equal(const struct source *a, const struct source *b);
/*
 * The same network, for fair eviction: an IPv4 /24, an IPv6 /48. Whoever
 * can answer for one source address usually can for its neighbours (a LAN,
 * a delegated prefix).
 */
bool source_same_net(const struct source *a, const struct source *b);

#endif
