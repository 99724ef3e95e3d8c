/* SPDX-License-Identifier: MIT */
/*
 * Per-packet policy, compiled: an immutable list of rules (direction,
 * protocol, source and destination prefixes, port ranges, ICMP type, the
 * client's groups) with a verdict each, checked first match wins, and a
 * default. Lua validates the operator's rules (moonvpn.policy) and hands
 * them over once; the data path only matches. A policy is reference
 * counted, so a new one is swapped in between packets while sessions
 * still hold the old; its hit counters are the only thing that changes.
 */
#ifndef MOONVPN_POLICY_H
#define MOONVPN_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip.h"
#include "packet.h"

enum {
	POLICY_RULES_MAX = 65536,
	POLICY_PREFIXES_MAX = 262144, /* in all the rules of a policy */
	POLICY_GROUPS_MAX = 64,	      /* distinct group names (and common names) in a policy */
};

#define POLICY_VERDICT_MAP(X)      \
	X(POLICY_ACCEPT, "accept") \
	X(POLICY_DROP, "drop")     \
	X(POLICY_REJECT, "reject")

enum policy_verdict {
#define POLICY_VERDICT_ENUM(e, s) e,
	POLICY_VERDICT_MAP(POLICY_VERDICT_ENUM)
#undef POLICY_VERDICT_ENUM
};

enum policy_direction {
	POLICY_IN = 1,	/* from a client into the network */
	POLICY_OUT = 2, /* from the network to a client */
};

struct policy_rule {
	enum policy_verdict verdict;
	uint8_t directions; /* POLICY_IN | POLICY_OUT */
	int proto;	    /* -1: any */
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	int icmp_type;	 /* -1: any */
	uint64_t groups; /* 0: any client; else one of these group bits */
	/* Source and destination networks: prefixes[src .. src + n_src) of the
	 * policy's prefixes, and the same for dst; none means any address. */
	uint32_t src, n_src, dst, n_dst;
};

struct policy_counter {
	uint64_t packets, bytes;
};

struct policy;

/*
 * A policy of n rules and the n_prefixes networks they refer to (both
 * copied), and a default verdict. NULL when out of memory, over a limit, or
 * when a rule refers past the prefixes.
 */
struct policy *policy_new(const struct policy_rule *rules, size_t n,
			  const struct ip_prefix *prefixes, size_t n_prefixes,
			  enum policy_verdict dflt) __attribute__((warn_unused_result));
struct policy *policy_get(struct policy *p);
void policy_put(struct policy *p); /* NULL is a no-op */

/*
 * The verdict for a packet of flow f going direction dir, for a client in
 * groups; counts the hit (len bytes) on the matching rule. *rule is set to
 * the rule's index, or -1 when none matched (the default applied).
 */
enum policy_verdict policy_match(struct policy *p, const struct packet_flow *f,
				 enum policy_direction dir, uint64_t groups, size_t len,
				 int32_t *rule);

/* Counts a packet of len bytes on rule i (a flow whose verdict was cached). */
void policy_count(struct policy *p, size_t i, size_t len);

size_t policy_rule_count(const struct policy *p);
const struct policy_rule *policy_rule(const struct policy *p, size_t i);
const struct policy_counter *policy_counter(const struct policy *p, size_t i);
enum policy_verdict policy_default(const struct policy *p);
const char *policy_verdict_name(enum policy_verdict v);
/* "accept", "drop" or "reject" into *v; false for anything else (NULL too). */
bool policy_verdict_parse(const char *name, enum policy_verdict *v)
	__attribute__((warn_unused_result));

#endif
