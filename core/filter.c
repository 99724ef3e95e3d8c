// SPDX-License-Identifier: MIT
#include <string.h>
#include <sys/socket.h>

#include "filter.h"

void filter_init(struct filter *f)
{
	memset(f, 0, sizeof(*f));
}

void filter_clear(struct filter *f)
{
	policy_put(f->global);
	f->global = NULL;
	for (size_t i = 0; i < FILTER_CLIENTS_MAX; i++)
		filter_set_client(f, (uint32_t)i, NULL, 0);
}

void filter_set_policy(struct filter *f, struct policy *p)
{
	policy_put(f->global);
	f->global = p ? policy_get(p) : NULL;
}

void filter_set_client(struct filter *f, uint32_t id, struct policy *p, uint64_t groups)
{
	if (id >= FILTER_CLIENTS_MAX)
		return;
	policy_put(f->client[id]);
	f->client[id] = p ? policy_get(p) : NULL;
	f->groups[id] = groups;
}

/* Nothing to check: no rules anywhere, and everything is let through by default. */
static bool is_off(const struct filter *f, uint32_t id)
{
	return !f->client[id] && (!f->global || (policy_rule_count(f->global) == 0 &&
						 policy_default(f->global) == POLICY_ACCEPT));
}

static enum policy_verdict decide(struct filter *f, uint32_t id, const struct packet_flow *flow,
				  enum policy_direction dir, size_t len)
{
	bool matched = false;
	enum policy_verdict v;

	if (f->client[id]) {
		v = policy_match(f->client[id], flow, dir, f->groups[id], len, &matched);
		if (matched)
			return v;
	}
	return f->global ? policy_match(f->global, flow, dir, f->groups[id], len, &matched)
			 : POLICY_ACCEPT;
}

enum filter_result filter_pass(struct filter *f, uint32_t id, const uint8_t *ip, size_t len,
			       enum policy_direction dir, size_t *answer_len)
{
	struct packet_flow flow;
	enum policy_verdict v;

	*answer_len = 0;
	if (id >= FILTER_CLIENTS_MAX || is_off(f, id))
		return FILTER_PASS;
	if (!packet_parse(ip, len, &flow))
		return FILTER_UNPARSED;
	v = decide(f, id, &flow, dir, len);
	if (v == POLICY_ACCEPT)
		return FILTER_PASS;
	if (v == POLICY_DROP)
		return FILTER_DROP;
	*answer_len = packet_reject(ip, len, &flow,
				    flow.src.family == AF_INET ? &f->gateway4 : &f->gateway6,
				    f->answer + DATA_OVERHEAD);
	return FILTER_REJECT;
}
