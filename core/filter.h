/* SPDX-License-Identifier: MIT */
/*
 * The server's packet filter: the global policy, each client's own rules
 * and groups, the on.flow hook, and the flow table that caches their
 * verdicts, applied to packets from a client (in) and to it (out).
 *
 * A packet's flow is looked up first: one hash lookup for every packet
 * after a flow's first. A new flow is checked against the client's rules,
 * then the global rules; when none matches and there is an on.flow hook,
 * the flow becomes pending and the caller asks the hook (filter->ask), whose
 * answer comes back through filter_decided. Meanwhile the flow's packets
 * are dropped; a hook that answers at once loses none. Pending flows are
 * bounded; beyond the bound a new flow gets the fallback verdict for a
 * short while. A rejected packet's answer is built here for the caller to
 * send. With no rules, no hook and an accepting default the filter is off
 * and packets are not even parsed. Pure: no I/O.
 */
#ifndef MOONVPN_FILTER_H
#define MOONVPN_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datakey.h"
#include "flow.h"
#include "ip.h"
#include "packet.h"
#include "policy.h"

enum {
	FILTER_CLIENTS_MAX = 1024,   /* = SERVER_SESSIONS_MAX, by peer-id */
	FILTER_OVERFLOW_SECONDS = 2, /* how long an overflowing flow keeps its fallback verdict */
	FILTER_ETH_HEADER = 14,
};

enum filter_result {
	FILTER_PASS,
	FILTER_DROP,	 /* a drop verdict */
	FILTER_REJECT,	 /* a reject verdict: answered when an answer is due */
	FILTER_UNPARSED, /* not an IP packet the policy can read: dropped while it is on */
	FILTER_ASK,	 /* a new flow for on.flow: ask the hook about f->ask, then check again */
	FILTER_PENDING,	 /* its flow waits for on.flow: dropped */
};

struct filter_settings {
	size_t max_flows;
	double idle_timeout;	      /* seconds a flow is remembered without packets */
	size_t pending_max;	      /* flows waiting for on.flow at once */
	enum policy_verdict fallback; /* when on.flow fails, or too many flows wait */
};

struct filter_stats {
	uint64_t asked, overflow; /* flows handed to on.flow; flows past pending_max */
};

struct filter {
	struct policy *global; /* NULL: accept everything */
	struct policy *client[FILTER_CLIENTS_MAX];
	uint64_t groups[FILTER_CLIENTS_MAX];
	bool had_flows[FILTER_CLIENTS_MAX]; /* a flow was cached for the slot: a sweep is due */
	bool flow_hook;			    /* on.flow is set */
	struct filter_settings settings;
	struct flow_table flows;
	size_t pending;
	struct filter_stats stats;
	struct ip_addr gateway4, gateway6; /* the server's VPN addresses: ICMP answers' source */
	/* The flow to ask on.flow about after FILTER_ASK. */
	struct {
		struct flow_key key;
		struct packet_flow flow;
	} ask;
	/* A rejected packet's answer, with room in front to seal it in place. */
	uint8_t answer[DATA_OVERHEAD + PACKET_REJECT_MAX];
};

int filter_init(struct filter *f, const struct filter_settings *settings, uint64_t seed)
	__attribute__((warn_unused_result));
/* Drops every policy held and the flow table. */
void filter_free(struct filter *f);

/* Takes a reference to p (NULL: none) and whether on.flow is set; cached verdicts go. */
void filter_set_policy(struct filter *f, struct policy *p, bool flow_hook);
/*
 * A client's own rules (NULL: none) and groups; both go when the client does
 * (NULL, 0). Either way the slot's flows go, pending ones too (the caller
 * cancels their hooks).
 */
void filter_set_client(struct filter *f, uint32_t id, struct policy *p, uint64_t groups);

/*
 * Whether the packet ip (len bytes) of client id going direction dir may
 * pass, at time now. For a rejected one, *answer_len is the length of the
 * answer at f->answer + DATA_OVERHEAD (0: none is due).
 */
enum filter_result filter_pass(struct filter *f, uint32_t id, const uint8_t *ip, size_t len,
			       enum policy_direction dir, double now, size_t *answer_len);

/*
 * The same for an Ethernet frame of TAP mode (at least FILTER_ETH_HEADER
 * bytes): its flow has the frame's addresses and type too. IP frames meet
 * the rules; other frames (ARP) only on.flow, and pass without it. A
 * reject is a drop (FILTER_DROP): there is no Ethernet answer to build.
 */
enum filter_result filter_pass_frame(struct filter *f, uint32_t id, const uint8_t *frame,
				     size_t len, enum policy_direction dir, double now);

/*
 * on.flow's verdict for a pending flow (ok false: the hook failed, the
 * fallback applies), for lifetime seconds (0: as long as the flow lives).
 */
void filter_decided(struct filter *f, const struct flow_key *key, bool ok,
		    enum policy_verdict verdict, double lifetime, double now);

#endif
