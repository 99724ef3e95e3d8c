// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>

#include "policy.h"

struct policy {
	unsigned refs;
	size_t n;
	enum policy_verdict dflt;
	struct policy_rule *rules;
	struct policy_counter *counters;
	struct ip_prefix *prefixes;
};

static bool refs_ok(const struct policy_rule *r, size_t n_prefixes)
{
	return (uint64_t)r->src + r->n_src <= n_prefixes &&
	       (uint64_t)r->dst + r->n_dst <= n_prefixes;
}

struct policy *policy_new(const struct policy_rule *rules, size_t n,
			  const struct ip_prefix *prefixes, size_t n_prefixes,
			  enum policy_verdict dflt)
{
	struct policy *p;

	if (n > POLICY_RULES_MAX || n_prefixes > POLICY_PREFIXES_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!refs_ok(&rules[i], n_prefixes))
			return NULL;
	if (!(p = calloc(1, sizeof(*p))))
		return NULL;
	p->refs = 1;
	p->n = n;
	p->dflt = dflt;
	p->rules = malloc((n ? n : 1) * sizeof(*rules));
	p->counters = calloc(n ? n : 1, sizeof(*p->counters));
	p->prefixes = malloc((n_prefixes ? n_prefixes : 1) * sizeof(*prefixes));
	if (!p->rules || !p->counters || !p->prefixes) {
		policy_put(p);
		return NULL;
	}
	if (n)
		memcpy(p->rules, rules, n * sizeof(*rules));
	if (n_prefixes)
		memcpy(p->prefixes, prefixes, n_prefixes * sizeof(*prefixes));
	return p;
}

struct policy *policy_get(struct policy *p)
{
	p->refs++;
	return p;
}

void policy_put(struct policy *p)
{
	if (!p || --p->refs > 0)
		return;
	free(p->rules);
	free(p->counters);
	free(p->prefixes);
	free(p);
}

static bool any_contains(const struct ip_prefix *v, size_t n, const struct ip_addr *a)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (ip_prefix_contains(&v[i], a))
			return true;
	return false;
}

/* Ports and ICMP types match only packets that carry them (not later fragments). */
static bool l4_matches(const struct policy_rule *r, const struct packet_flow *f)
{
	bool ports = r->sport_lo != 0 || r->sport_hi != 65535 || r->dport_lo != 0 ||
		     r->dport_hi != 65535;

	if (ports && (!f->has_ports || f->icmp_type >= 0 || f->sport < r->sport_lo ||
		      f->sport > r->sport_hi || f->dport < r->dport_lo || f->dport > r->dport_hi))
		return false;
	return r->icmp_type < 0 || (f->has_ports && f->icmp_type == r->icmp_type);
}

static bool matches(const struct policy *p, const struct policy_rule *r,
		    const struct packet_flow *f, enum policy_direction dir, uint64_t groups)
{
	return (r->directions & dir) && (r->proto < 0 || r->proto == f->proto) &&
	       (!r->groups || (r->groups & groups)) && l4_matches(r, f) &&
	       any_contains(p->prefixes + r->src, r->n_src, &f->src) &&
	       any_contains(p->prefixes + r->dst, r->n_dst, &f->dst);
}

enum policy_verdict policy_match(struct policy *p, const struct packet_flow *f,
				 enum policy_direction dir, uint64_t groups, size_t len,
				 int32_t *rule)
{
	for (size_t i = 0; i < p->n; i++) {
		if (!matches(p, &p->rules[i], f, dir, groups))
			continue;
		policy_count(p, i, len);
		*rule = (int32_t)i;
		return p->rules[i].verdict;
	}
	*rule = -1;
	return p->dflt;
}

void policy_count(struct policy *p, size_t i, size_t len)
{
	if (i < p->n) {
		p->counters[i].packets++;
		p->counters[i].bytes += len;
	}
}

size_t policy_rule_count(const struct policy *p)
{
	return p->n;
}

const struct policy_rule *policy_rule(const struct policy *p, size_t i)
{
	return &p->rules[i];
}

const struct policy_counter *policy_counter(const struct policy *p, size_t i)
{
	return &p->counters[i];
}

enum policy_verdict policy_default(const struct policy *p)
{
	return p->dflt;
}

const char *policy_verdict_name(enum policy_verdict v)
{
	static const char *const names[] = {
#define POLICY_VERDICT_NAME(e, s) [e] = s,
		POLICY_VERDICT_MAP(POLICY_VERDICT_NAME)
#undef POLICY_VERDICT_NAME
	};

	return (size_t)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

bool policy_verdict_parse(const char *name, enum policy_verdict *v)
{
	for (int i = POLICY_ACCEPT; i <= POLICY_REJECT; i++)
		if (name && strcmp(name, policy_verdict_name((enum policy_verdict)i)) == 0) {
			*v = (enum policy_verdict)i;
			return true;
		}
	return false;
}
