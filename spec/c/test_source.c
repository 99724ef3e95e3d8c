// SPDX-License-Identifier: MIT
/* Per-source limits: which peers count as one source. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "source.h"
#include "unit.h"

static struct sockaddr_storage addr(const char *text, unsigned short port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		inet_pton(AF_INET6, text, &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, text, &a->sin_addr);
	}
	return ss;
}

static const struct {
	const char *a, *b;
	bool same, same_net;
} cases[] = {
	{ "10.0.0.1", "10.0.0.1", true, true },	  /* ports differ below: still one host */
	{ "10.0.0.1", "10.0.0.2", false, true },  /* IPv4: the whole address; one /24 */
	{ "10.0.0.1", "10.0.1.1", false, false }, /* the next /24 */
	{ "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true, true }, /* one /64 */
	{ "2001:db8:1:2::1", "2001:db8:1:3::1", false, true },	   /* the next /64, one /48 */
	{ "2001:db8:1:2::1", "2001:db8:2:2::1", false, false },	   /* the next /48 */
	{ "::ffff:10.0.0.1", "10.0.0.1", true, true }, /* v4-mapped is its IPv4 address */
	{ "::ffff:10.0.0.1", "10.0.0.2", false, true },
	{ "::a00:1", "10.0.0.1", false, false }, /* v4-compatible is an IPv6 address */
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage a = addr(cases[i].a, 1000), b = addr(cases[i].b, 2000);
		struct source sa, sb;

		source_of((struct sockaddr *)&a, &sa);
		source_of((struct sockaddr *)&b, &sb);
		CHECK(source_equal(&sa, &sb) == cases[i].same, "case %zu: %s and %s", i, cases[i].a,
		      cases[i].b);
		CHECK(source_same_net(&sa, &sb) == cases[i].same_net,
		      "case %zu: %s and %s's networks", i, cases[i].a, cases[i].b);
	}
	return unit_report("source");
}
