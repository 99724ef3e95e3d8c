// SPDX-License-Identifier: MIT
#include <netinet/in.h>
#include <string.h>

#include "source.h"

void source_of(const struct sockaddr *a, struct source *src)
{
	memset(src, 0, sizeof(*src));
	if (a->sa_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)a)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(in6)) {
			memcpy(src->bytes, in6->s6_addr + 12, 4);
			src->len = 4;
		} else {
			memcpy(src->bytes, in6->s6_addr, 8);
			src->len = 8;
		}
		return;
	}
	memcpy(src->bytes, &((const struct sockaddr_in *)a)->sin_addr, 4);
	src->len = 4;
}

bool source_equal(const struct source *a, const struct source *b)
{
	return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

bool source_same_net(const struct source *a, const struct source *b)
{
	return a->len == b->len && memcmp(a->bytes, b->bytes, a->len == 4 ? 3 : 6) == 0;
}
