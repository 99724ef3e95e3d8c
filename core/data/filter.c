// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "filter.h"

int filter_init(struct filter *f, const struct filter_settings *settings, uint32_t n_clients,
		const struct siphash_key *key)
{
	size_t n = n_clients ? n_clients : 1;

	memset(f, 0, sizeof(*f));
	f->settings = *settings;
	f->client = calloc(n, sizeof(*f->client));
	f->groups = calloc(n, sizeof(*f->groups));
	f->had_flows = calloc(n, sizeof(*f->had_flows));
	f->clients = calloc(n, sizeof(*f->clients));
	f->turn = calloc(n, sizeof(*f->turn));
	if (!f->client || !f->groups || !f->had_flows || !f->clients || !f->turn) {
		filter_free(f);
		return -ENOMEM;
	}
	f->n_clients = n_clients;
	if (flow_table_init(&f->flows, settings->max_flows, settings->idle_timeout, key) < 0 ||
	    flow_table_chain_peers(&f->flows, n_clients) < 0) {
		filter_free(f);
		return -ENOMEM;
	}
	return 0;
}

int filter_resize(struct filter *f, size_t max_flows, double now)
{
	int rc = flow_table_resize(&f->flows, max_flows, now);

	if (rc == 0)
		f->settings.max_flows = max_flows;
	return rc;
}

void filter_free(struct filter *f)
{
	policy_put(f->global);
	f->global = NULL;
	flow_table_free(&f->flows);
	for (uint32_t i = 0; i < f->n_clients; i++)
		filter_set_client(f, i, NULL, 0);
	free(f->client);
	free(f->groups);
	free(f->had_flows);
	free(f->clients);
	free(f->turn);
	f->client = NULL;
	f->groups = NULL;
	f->had_flows = NULL;
	f->clients = NULL;
	f->turn = NULL;
	f->n_clients = 0;
}

void filter_set_policy(struct filter *f, struct policy *p, bool flow_hook)
{
	policy_put(f->global);
	f->global = p ? policy_get(p) : NULL;
	f->flow_hook = flow_hook;
	flow_table_flush(&f->flows);
}

/* Removes every flow of client id, pending ones included: its own, not the table's. */
static void drop_client_flows(struct filter *f, uint32_t id)
{
	f->pending -= flow_table_remove_peer(&f->flows, id);
}

/* A fresh share for the slot; its id may stay in the turn ring, skipped while nothing is queued. */
static void reset_share(struct filter_client *c)
{
	bool in_turn = c->in_turn;

	free(c->queue);
	free(c->held);
	memset(c, 0, sizeof(*c));
	c->in_turn = in_turn;
}

void filter_set_client(struct filter *f, uint32_t id, struct policy *p, uint64_t groups)
{
	if (id >= f->n_clients)
		return;
	policy_put(f->client[id]);
	f->client[id] = p ? policy_get(p) : NULL;
	f->groups[id] = groups;
	if (f->flows.e && f->had_flows[id])
		drop_client_flows(f, id); /* a new client in the slot, or the old one gone */
	f->had_flows[id] = false;
	reset_share(&f->clients[id]);
}

/* Nothing to check: no rules anywhere, no hook, and everything passes by default. */
static bool is_off(const struct filter *f, uint32_t id)
{
	return !f->client[id] && !f->flow_hook &&
	       (!f->global ||
		(policy_rule_count(f->global) == 0 && policy_default(f->global) == POLICY_ACCEPT));
}

bool filter_is_off(const struct filter *f, uint32_t id)
{
	return id >= f->n_clients || is_off(f, id);
}

/* The rules' verdict for a new flow, and whose rule it was (FLOW_RULE_NONE: none matched). */
static enum policy_verdict decide(struct filter *f, uint32_t id, const struct packet_flow *flow,
				  enum policy_direction dir, size_t len, struct flow_entry *e)
{
	int32_t rule = -1;
	enum policy_verdict v;

	e->owner = FLOW_RULE_NONE;
	if (!flow) /* not IP: the rules are about IP; on.flow (if set) decides */
		return POLICY_ACCEPT;
	if (f->client[id]) {
		v = policy_match(f->client[id], flow, dir, f->groups[id], len, &rule);
		if (rule >= 0) {
			e->owner = FLOW_RULE_CLIENT;
			e->rule = (uint32_t)rule;
			return v;
		}
	}
	if (!f->global)
		return POLICY_ACCEPT;
	v = policy_match(f->global, flow, dir, f->groups[id], len, &rule);
	if (rule >= 0) {
		e->owner = FLOW_RULE_GLOBAL;
		e->rule = (uint32_t)rule;
	}
	return v;
}

/* A packet of a known flow: counted on the flow and on the rule that decided it. */
static void count(struct filter *f, uint32_t id, struct flow_entry *e, size_t len, double now)
{
	e->last_seen = now;
	e->packets++;
	e->bytes += len;
	if (e->owner == FLOW_RULE_CLIENT && f->client[id])
		policy_count(f->client[id], e->rule, len);
	else if (e->owner == FLOW_RULE_GLOBAL && f->global)
		policy_count(f->global, e->rule, len);
}

/*
 * Whether client c may ask on.flow about one more flow now (and then takes a
 * token): its bucket is not empty, its pending questions are under its bound,
 * and all clients' pending ones under pending_max, unless c has none waiting
 * (each client may always have one).
 */
static bool take_share(struct filter *f, struct filter_client *c, double now)
{
	size_t cap = f->settings.pending_max < FILTER_CLIENT_PENDING_MAX
			     ? f->settings.pending_max
			     : FILTER_CLIENT_PENDING_MAX;

	bucket_refill(&c->asks, now, FILTER_CLIENT_ASKS_PER_SECOND, FILTER_CLIENT_ASK_BURST);
	if (c->asks.tokens < 1 || c->pending >= cap ||
	    (f->pending >= f->settings.pending_max && c->pending > 0))
		return false;
	c->asks.tokens -= 1;
	return true;
}

/* Queues the question about key for client id's turn; false without memory for its queue. */
static bool enqueue(struct filter *f, uint32_t id, const struct flow_key *key,
		    const struct packet_flow *flow)
{
	struct filter_client *c = &f->clients[id];
	struct filter_question *q;

	if (!c->queue && !(c->queue = calloc(FILTER_CLIENT_PENDING_MAX, sizeof(*c->queue))))
		return false;
	if (!c->held && !(c->held = calloc(FILTER_CLIENT_HELD_MAX, sizeof(*c->held))))
		return false;
	/* queued <= pending < FILTER_CLIENT_PENDING_MAX (take_share): the ring has room. */
	q = &c->queue[(c->head + c->queued) % FILTER_CLIENT_PENDING_MAX];
	q->key = *key;
	if (flow)
		q->flow = *flow;
	else
		memset(&q->flow, 0, sizeof(q->flow));
	c->queued++;
	if (!c->in_turn) {
		c->in_turn = true;
		f->turn[(f->turn_head + f->turn_n) % f->n_clients] = id;
		f->turn_n++;
	}
	return true;
}

bool filter_next_question(struct filter *f, struct filter_question *q)
{
	while (f->turn_n > 0) {
		uint32_t id = f->turn[f->turn_head];
		struct filter_client *c = &f->clients[id];

		f->turn_head = (f->turn_head + 1) % f->n_clients;
		f->turn_n--;
		if (c->queued == 0) {
			c->in_turn = false; /* its flows went with it since it queued */
			continue;
		}
		*q = c->queue[c->head];
		c->head = (c->head + 1) % FILTER_CLIENT_PENDING_MAX;
		c->queued--;
		/* To the back of the turn: one question per client per round. */
		if (c->queued > 0) {
			f->turn[(f->turn_head + f->turn_n) % f->n_clients] = id;
			f->turn_n++;
		} else {
			c->in_turn = false;
		}
		return true;
	}
	return false;
}

/* Keeps the first packet of client id's new pending flow key, when small and a slot is free. */
static void hold(struct filter_client *c, const struct flow_key *key, const uint8_t *p, size_t len,
		 enum policy_direction dir, bool frame)
{
	if (len == 0 || len > FILTER_HELD_BYTES_MAX)
		return;
	for (size_t i = 0; i < FILTER_CLIENT_HELD_MAX; i++) {
		struct filter_held *h = &c->held[i];

		if (h->len)
			continue;
		h->key = *key;
		h->len = len;
		h->dir = (uint8_t)dir;
		h->frame = frame;
		memcpy(h->buf + DATA_OVERHEAD, p, len);
		return;
	}
}

/* The slot holding a packet of flow key, or NULL. */
static struct filter_held *held_of(struct filter *f, const struct flow_key *key)
{
	struct filter_client *c;

	if (key->peer_id >= f->n_clients || !(c = &f->clients[key->peer_id])->held)
		return NULL;
	for (size_t i = 0; i < FILTER_CLIENT_HELD_MAX; i++)
		if (c->held[i].len && memcmp(&c->held[i].key, key, sizeof(*key)) == 0)
			return &c->held[i];
	return NULL;
}

struct filter_held *filter_take_held(struct filter *f, const struct flow_key *key)
{
	return held_of(f, key);
}

/* A new flow that gets the fallback verdict for a while instead of on.flow. */
static enum filter_result fall_back(struct filter *f, struct flow_entry *e, double now,
				    enum policy_verdict *v)
{
	e->verdict = *v = f->settings.fallback;
	e->expires = now + FILTER_OVERFLOW_SECONDS;
	return FILTER_PASS;
}

/* A new flow: its verdict from the rules, or pending for on.flow. NULL entry: not cached. */
static enum filter_result new_flow(struct filter *f, uint32_t id, const struct flow_key *key,
				   const struct packet_flow *flow, enum policy_direction dir,
				   const uint8_t *p, size_t len, bool frame, double now,
				   enum policy_verdict *v)
{
	struct flow_entry scratch, *e = flow_table_insert(&f->flows, key, now);

	*v = decide(f, id, flow, dir, len, e ? e : &scratch);
	if (!e) {
		/* The table is full of pending flows: not cached, and not for on.flow. */
		f->stats.overflow++;
		if (scratch.owner == FLOW_RULE_NONE && f->flow_hook)
			*v = f->settings.fallback;
		return FILTER_PASS;
	}
	f->had_flows[id] = true;
	e->verdict = *v;
	e->packets = 1;
	e->bytes = len;
	if (e->owner != FLOW_RULE_NONE || !f->flow_hook)
		return FILTER_PASS;
	if (!take_share(f, &f->clients[id], now)) {
		f->stats.over_share++;
		f->clients[id].over_share++;
		return fall_back(f, e, now, v);
	}
	if (!enqueue(f, id, key, flow)) {
		f->stats.overflow++;
		return fall_back(f, e, now, v);
	}
	e->state = FLOW_PENDING;
	e->packets = e->bytes = 0; /* its packets are dropped until the answer */
	f->pending++;
	f->clients[id].pending++;
	f->stats.asked++;
	hold(&f->clients[id], key, p, len, dir, frame);
	return FILTER_ASK;
}

static enum filter_result apply(struct filter *f, const uint8_t *ip, size_t len,
				const struct packet_flow *flow, enum policy_verdict v,
				struct filter_answer *answer)
{
	if (v == POLICY_ACCEPT)
		return FILTER_PASS;
	if (v == POLICY_DROP)
		return FILTER_DROP;
	answer->len = packet_reject(ip, len, flow,
				    flow->src.family == AF_INET ? &f->gateway4 : &f->gateway6,
				    answer->buf + DATA_OVERHEAD);
	return FILTER_REJECT;
}

/*
 * The verdict for a packet of the flow key (flow: what it is, NULL when not
 * IP): cached, or new. FILTER_PASS with *v set, or FILTER_ASK / _PENDING.
 */
static enum filter_result judge(struct filter *f, uint32_t id, const struct flow_key *key,
				const struct packet_flow *flow, enum policy_direction dir,
				const uint8_t *p, size_t len, bool frame, double now,
				enum policy_verdict *v)
{
	struct flow_entry *e = flow_table_lookup(&f->flows, key, now);

	if (e && e->state == FLOW_PENDING)
		return FILTER_PENDING;
	if (e) {
		count(f, id, e, len, now);
		*v = e->verdict;
		return FILTER_PASS;
	}
	return new_flow(f, id, key, flow, dir, p, len, frame, now, v);
}

enum filter_result filter_pass(struct filter *f, uint32_t id, const uint8_t *ip, size_t len,
			       enum policy_direction dir, double now, struct filter_answer *answer)
{
	struct packet_flow flow;
	struct flow_key key;
	enum policy_verdict v;
	enum filter_result r;

	answer->len = 0;
	if (id >= f->n_clients || is_off(f, id))
		return FILTER_PASS;
	if (!packet_parse(ip, len, &flow))
		return FILTER_UNPARSED;
	flow_key_of(&key, &flow, id, dir);
	r = judge(f, id, &key, &flow, dir, ip, len, false, now, &v);
	return r == FILTER_PASS ? apply(f, ip, len, &flow, v, answer) : r;
}

enum filter_result filter_pass_frame(struct filter *f, uint32_t id, const uint8_t *frame,
				     size_t len, enum policy_direction dir, double now)
{
	uint16_t type = len >= FILTER_ETH_HEADER ? (uint16_t)(frame[12] << 8 | frame[13]) : 0;
	bool ip = type == 0x0800 || type == 0x86dd;
	struct packet_flow flow;
	struct flow_key key;
	enum policy_verdict v;
	enum filter_result r;

	if (len < FILTER_ETH_HEADER)
		return FILTER_UNPARSED;
	if (id >= f->n_clients || is_off(f, id) || (!ip && !f->flow_hook))
		return FILTER_PASS; /* rules are about IP: other frames pass unless on.flow says */
	if (ip && !packet_parse(frame + FILTER_ETH_HEADER, len - FILTER_ETH_HEADER, &flow))
		return FILTER_UNPARSED;
	if (ip) {
		flow_key_of(&key, &flow, id, dir);
	} else {
		memset(&key, 0, sizeof(key));
		key.peer_id = id;
		key.direction = (uint8_t)dir;
		key.icmp_type = -1;
	}
	flow_key_set_l2(&key, frame);
	r = judge(f, id, &key, ip ? &flow : NULL, dir, frame, len, true, now, &v);
	if (r != FILTER_PASS)
		return r;
	return v == POLICY_ACCEPT ? FILTER_PASS : FILTER_DROP; /* no Ethernet reject answer */
}

void filter_decided(struct filter *f, const struct flow_key *key, bool ok,
		    enum policy_verdict verdict, double lifetime, double now)
{
	struct flow_entry *e = flow_table_lookup(&f->flows, key, now);
	struct filter_held *h = held_of(f, key);

	if (h && (!e || e->state != FLOW_PENDING ||
		  (ok ? verdict : f->settings.fallback) != POLICY_ACCEPT))
		filter_release_held(h); /* only an accepted flow's first packet goes on */
	if (!e || e->state != FLOW_PENDING)
		return;
	f->pending--;
	if (key->peer_id < f->n_clients && f->clients[key->peer_id].pending > 0)
		f->clients[key->peer_id].pending--;
	/* Its generation stays the one it was asked under: a policy changed since outdates it. */
	e->state = FLOW_DECIDED;
	e->verdict = ok ? verdict : f->settings.fallback;
	e->expires = ok && lifetime > 0 ? now + lifetime : 0;
	e->last_seen = now;
	if (h && e->verdict == POLICY_ACCEPT) { /* its first packet, held, goes on */
		e->packets = 1;
		e->bytes = h->len;
	}
}
