// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ip.h"

size_t ip_addr_size(const struct ip_addr *a)
{
	return a->family == AF_INET6 ? 16 : 4;
}

bool ip_addr_parse(struct ip_addr *out, const char *text)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, out->bytes) == 1) {
		out->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text, out->bytes) == 1) {
		out->family = AF_INET6;
		return true;
	}
	return false;
}

/* Parses a decimal prefix length with no sign, spaces or leading zeros. */
static bool parse_len(const char *text, unsigned max, uint8_t *out)
{
	unsigned v = 0;

	if (!*text || (text[0] == '0' && text[1]) || strlen(text) > 3)
		return false;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v > max)
		return false;
	*out = (uint8_t)v;
	return true;
}

bool ip_prefix_parse(struct ip_prefix *out, const char *text)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!slash)
		return false;
	n = (size_t)(slash - text);
	if (n == 0 || n >= sizeof(addr))
		return false;
	memcpy(addr, text, n);
	addr[n] = '\0';
	if (!ip_addr_parse(&out->addr, addr))
		return false;
	return parse_len(slash + 1, out->addr.family == AF_INET ? 32 : 128, &out->len);
}

bool ip_prefix_is_network(const struct ip_prefix *p)
{
	size_t size = ip_addr_size(&p->addr);

	for (size_t bit = p->len; bit < size * 8; bit++)
		if (p->addr.bytes[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

void ip_prefix_mask(struct ip_prefix *p)
{
	size_t size = ip_addr_size(&p->addr);

	for (size_t bit = p->len; bit < size * 8; bit++)
		p->addr.bytes[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
}

bool ip_prefix_host(struct ip_addr *out, const struct ip_prefix *p, uint64_t n)
{
	size_t size = ip_addr_size(&p->addr);
	unsigned host_bits = (unsigned)(size * 8) - p->len;
	uint64_t carry = n;

	/* Reject n beyond the host part; for IPv4 also the broadcast address. */
	if (host_bits < 64 && n >= (UINT64_C(1) << host_bits))
		return false;
	if (p->addr.family == AF_INET && host_bits >= 2 && n == (UINT64_C(1) << host_bits) - 1)
		return false;
	*out = p->addr;
	for (size_t i = size; i-- > 0 && carry;) {
		uint64_t sum = out->bytes[i] + (carry & 0xff);

		out->bytes[i] = (uint8_t)sum;
		carry = (carry >> 8) + (sum >> 8);
	}
	return true;
}

const char *ip_addr_format(const struct ip_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family, a->bytes, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

const char *ip_prefix_format(const struct ip_prefix *p, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	snprintf(buf, len, "%s/%u", ip_addr_format(&p->addr, addr, sizeof(addr)), p->len);
	return buf;
}

bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, ip_addr_size(a)) == 0;
}

bool ip_prefix_equal(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->len == b->len && ip_addr_equal(&a->addr, &b->addr);
}

bool ip_prefix_contains(const struct ip_prefix *p, const struct ip_addr *a)
{
	size_t full = p->len / 8;
	unsigned rest = p->len % 8;

	if (p->addr.family != a->family || p->len > 8 * ip_addr_size(a))
		return false;
	if (memcmp(p->addr.bytes, a->bytes, full) != 0)
		return false;
	return !rest || ((p->addr.bytes[full] ^ a->bytes[full]) & (0xff00 >> rest) & 0xff) == 0;
}

bool ip_packet_addr(const uint8_t *ip, size_t len, bool source, struct ip_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (len >= 20 && ip[0] >> 4 == 4) {
		out->family = AF_INET;
		memcpy(out->bytes, ip + (source ? 12 : 16), 4);
		return true;
	}
	if (len >= 40 && ip[0] >> 4 == 6) {
		out->family = AF_INET6;
		memcpy(out->bytes, ip + (source ? 8 : 24), 16);
		return true;
	}
	return false;
}
