/* SPDX-License-Identifier: MIT */
/*
 * The server's packet filter: the global policy, each client's own rules
 * and groups, the on.flow hook, and the flow table that caches their
 * verdicts, applied to packets from a client (in) and to it (out).
 *
 * A packet's flow is looked up first: one hash lookup for every packet
 * after a flow's first. A new flow is checked against the client's rules,
 * then the global rules; when none matches and there is an on.flow hook,
 * the flow becomes pending and a question about it is queued; the caller
 * takes the questions with filter_next_question outside its packet loop,
 * asks the hook, and the answer comes back through filter_decided.
 * Meanwhile the flow's first packet is held (a few per client, small ones)
 * and passed once on.flow accepts the flow (filter_take_held); its other
 * packets are dropped.
 *
 * One client must not starve the others of on.flow: each client has its own
 * share, a token bucket of new questions a second and a bound on its pending
 * ones (each pending question is at most one hook call), and the queued
 * questions are handed out round-robin over the clients. A new flow past its
 * client's share gets the fallback verdict for a short while, counted for
 * that client only. A rejected packet's answer is built here for the caller
 * to send. With no rules, no hook and an accepting default the filter is off
 * and packets are not even parsed. Pure: no I/O.
 */
#ifndef MOONVPN_FILTER_H
#define MOONVPN_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bucket.h"
#include "datakey.h"
#include "flow.h"
#include "ip.h"
#include "packet.h"
#include "policy.h"

enum {
	FILTER_OVERFLOW_SECONDS = 2, /* how long an overflowing flow keeps its fallback verdict */
	FILTER_ETH_HEADER = 14,
	/* A client's share of on.flow (issue 11 item 10): a burst, then so many a second. */
	FILTER_CLIENT_ASKS_PER_SECOND = 100,
	FILTER_CLIENT_ASK_BURST = 200,
	FILTER_CLIENT_PENDING_MAX = 64, /* its flows waiting for on.flow (and its hook calls) */
	FILTER_ASKS_PER_TURN = 64,	/* questions asked per loop turn, all clients */
	FILTER_CLIENT_HELD_MAX = 8,	/* first packets of a client's pending flows kept */
	FILTER_HELD_BYTES_MAX = 1600,	/* longer first packets are dropped, not kept */
};

enum filter_result {
	FILTER_PASS,
	FILTER_DROP,	 /* a drop verdict */
	FILTER_REJECT,	 /* a reject verdict: answered when an answer is due */
	FILTER_UNPARSED, /* not an IP packet the policy can read: dropped while it is on */
	FILTER_ASK,	 /* a new flow for on.flow, queued: dropped; take the questions later */
	FILTER_PENDING,	 /* its flow waits for on.flow: dropped */
};

struct filter_settings {
	size_t max_flows;
	double idle_timeout; /* seconds a flow is remembered without packets */
	size_t pending_max; /* flows waiting for on.flow at once, all clients (each may have one) */
	enum policy_verdict fallback; /* when on.flow fails, or too many flows wait */
};

struct filter_stats {
	uint64_t asked, overflow; /* flows queued for on.flow; flows with no room to wait */
	uint64_t over_share;	  /* new flows of clients past their share: the fallback */
};

/* A question for on.flow: the flow (key) and what it is (flow; zeroed when not IP). */
struct filter_question {
	struct flow_key key;
	struct packet_flow flow;
};

/* The first packet of a pending flow, kept until on.flow answers. */
struct filter_held {
	struct flow_key key;
	size_t len; /* 0: a free slot */
	uint8_t dir;
	bool frame; /* a TAP frame, not an IP packet */
	uint8_t buf[DATA_OVERHEAD + FILTER_HELD_BYTES_MAX +
		    DATA_TAILROOM]; /* the packet at DATA_OVERHEAD */
};

/* A client's share of on.flow. */
struct filter_client {
	struct bucket asks;	       /* of new questions */
	uint32_t pending;	       /* its flows waiting for on.flow, asked or queued */
	uint64_t over_share;	       /* its new flows given the fallback: past its share */
	struct filter_question *queue; /* not yet asked: a ring of FILTER_CLIENT_PENDING_MAX */
	uint32_t head, queued;
	bool in_turn;		  /* its id is in the round-robin turn */
	struct filter_held *held; /* FILTER_CLIENT_HELD_MAX, allocated with the queue */
};

/* Each client's state is by peer-id, in arrays of n_clients allocated at init. */
struct filter {
	struct policy *global; /* NULL: accept everything */
	uint32_t n_clients;    /* the server's max_clients: peer-ids are below it */
	struct policy **client;
	uint64_t *groups;
	bool *had_flows; /* a flow was cached for the slot: a sweep is due */
	bool flow_hook;	 /* on.flow is set */
	struct filter_settings settings;
	struct flow_table flows;
	size_t pending;
	struct filter_stats stats;
	struct ip_addr gateway4, gateway6; /* the server's VPN addresses: ICMP answers' source */
	struct filter_client *clients;
	/* Clients with queued questions, in turn: a ring of n_clients ids, each at most once. */
	uint32_t *turn;
	size_t turn_head, turn_n;
};

/*
 * A rejected packet's answer, with room in front to seal it in place. The
 * caller's own (on its stack): the filter keeps no per-packet scratch, so
 * that more than one packet loop can use it.
 */
struct filter_answer {
	size_t len; /* of the answer at buf + DATA_OVERHEAD; 0: none is due */
	uint8_t buf[DATA_OVERHEAD + PACKET_REJECT_MAX + DATA_TAILROOM];
};

/* For clients 0..n_clients-1 (the server's max_clients); -ENOMEM. */
int filter_init(struct filter *f, const struct filter_settings *settings, uint32_t n_clients,
		const struct siphash_key *key) __attribute__((warn_unused_result));
/* The flow table's new size (flow_table_resize: pending flows stay); f unchanged on error. */
int filter_resize(struct filter *f, size_t max_flows, double now)
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
 * Whether the filter lets every packet of client id pass without a look (no
 * rules, no client policy, no on.flow): filter_pass() would then change
 * nothing. It only reads the filter.
 */
bool filter_is_off(const struct filter *f, uint32_t id);

/*
 * Whether the packet ip (len bytes) of client id going direction dir may
 * pass, at time now. For a rejected one, the answer due (if any) is
 * written to *answer.
 */
enum filter_result filter_pass(struct filter *f, uint32_t id, const uint8_t *ip, size_t len,
			       enum policy_direction dir, double now, struct filter_answer *answer);

/*
 * The same for an Ethernet frame of TAP mode (at least FILTER_ETH_HEADER
 * bytes): its flow has the frame's addresses and type too. IP frames meet
 * the rules; other frames (ARP) only on.flow, and pass without it. A
 * reject is a drop (FILTER_DROP): there is no Ethernet answer to build.
 */
enum filter_result filter_pass_frame(struct filter *f, uint32_t id, const uint8_t *frame,
				     size_t len, enum policy_direction dir, double now);

/*
 * The next question for on.flow, clients in turn, into *q; false when none
 * is queued. The caller asks the hook and answers with filter_decided.
 */
bool filter_next_question(struct filter *f, struct filter_question *q);
static inline bool filter_has_questions(const struct filter *f)
{
	return f->turn_n > 0;
}

/*
 * on.flow's verdict for a pending flow (ok false: the hook failed, the
 * fallback applies), for lifetime seconds (0: as long as the flow lives).
 * A packet held for the flow is let go unless the flow is accepted; then the
 * caller takes it with filter_take_held.
 */
void filter_decided(struct filter *f, const struct flow_key *key, bool ok,
		    enum policy_verdict verdict, double lifetime, double now);

/*
 * The packet held for an accepted flow key, or NULL. The caller sends it on
 * (it may seal it in place: DATA_OVERHEAD bytes are free in front) and then
 * frees the slot with filter_release_held; meanwhile it may use the filter.
 */
struct filter_held *filter_take_held(struct filter *f, const struct flow_key *key);
static inline void filter_release_held(struct filter_held *h)
{
	h->len = 0;
}

#endif
