/* SPDX-License-Identifier: MIT */
/*
 * IP addresses and prefixes as plain values: parsing and formatting of
 * "10.8.0.0/24" and "fd00::1/64" text, and the small arithmetic the engine
 * needs (network base, host n of a prefix). Pure: no I/O, no allocation.
 * Does not know about devices, routes or peers.
 */
#ifndef MOONVPN_IP_H
#define MOONVPN_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { IP_PREFIX_TEXT_MAX = 64 /* "ffff:...:ffff/128" plus NUL, with room */ };

struct ip_addr {
	int family;	   /* AF_INET or AF_INET6 */
	uint8_t bytes[16]; /* network byte order; IPv4 uses the first 4 */
};

struct ip_prefix {
	struct ip_addr addr;
	uint8_t len; /* prefix length in bits */
};

/* Parses a literal IPv4 or IPv6 address. Returns false on anything else. */
bool ip_addr_parse(struct ip_addr *out, const char *text) __attribute__((warn_unused_result));

/*
 * Parses "address/len". Host bits may be set ("10.8.0.1/24" is the address
 * 10.8.0.1 on a /24); use ip_prefix_is_network() to require a clean base.
 */
bool ip_prefix_parse(struct ip_prefix *out, const char *text) __attribute__((warn_unused_result));

/* True when no bit beyond the prefix length is set. */
bool ip_prefix_is_network(const struct ip_prefix *p);

/* Clears the host bits: 10.8.0.1/24 becomes 10.8.0.0/24. */
void ip_prefix_mask(struct ip_prefix *p);

/* The n-th address of the prefix (n = 1 is the first host); false if out of range. */
bool ip_prefix_host(struct ip_addr *out, const struct ip_prefix *p, uint64_t n)
	__attribute__((warn_unused_result));

/* Address length in bytes: 4 or 16. */
size_t ip_addr_size(const struct ip_addr *a);

/* Formats into buf (at least IP_PREFIX_TEXT_MAX bytes); returns buf. */
const char *ip_addr_format(const struct ip_addr *a, char *buf, size_t len);
const char *ip_prefix_format(const struct ip_prefix *p, char *buf, size_t len);

bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b);
bool ip_prefix_equal(const struct ip_prefix *a, const struct ip_prefix *b);

/*
 * Backward-shift deletion in a linear-probing table (Knuth 6.4, algorithm R):
 * true when an entry at slot j whose home slot is home must stay behind the
 * hole (home lies cyclically in (hole, j]).
 */
static inline bool ip_hash_slot_stays(size_t hole, size_t home, size_t j)
{
	return hole <= j ? hole < home && home <= j : hole < home || home <= j;
}

/* The source (or destination) address of an IPv4 or IPv6 packet; false for anything else. */
bool ip_packet_addr(const uint8_t *ip, size_t len, bool source, struct ip_addr *out)
	__attribute__((warn_unused_result));

/* True when a lies inside the network p (same family, first p->len bits equal). */
bool ip_prefix_contains(const struct ip_prefix *p, const struct ip_addr *a);

#endif
