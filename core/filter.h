/* SPDX-License-Identifier: MIT */
/*
 * The server's packet filter: the global policy and each client's own
 * rules and groups, applied to packets from a client (in) and to it (out).
 * A client's rules are checked first; when none matches, the global
 * policy decides. A rejected packet gets its answer (policy's packet.c)
 * built here, for the server to send. Without any rules and with an
 * accepting default the filter is off, and packets are not even parsed.
 * Pure: no I/O; the server owns one.
 */
#ifndef MOONVPN_FILTER_H
#define MOONVPN_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datakey.h"
#include "ip.h"
#include "packet.h"
#include "policy.h"

enum { FILTER_CLIENTS_MAX = 1024 /* = SERVER_SESSIONS_MAX, by peer-id */ };

enum filter_result {
	FILTER_PASS,
	FILTER_DROP,	 /* a drop verdict */
	FILTER_REJECT,	 /* a reject verdict: answered when an answer is due */
	FILTER_UNPARSED, /* not an IP packet the policy can read: dropped while it is on */
};

struct filter {
	struct policy *global; /* NULL: accept everything */
	struct policy *client[FILTER_CLIENTS_MAX];
	uint64_t groups[FILTER_CLIENTS_MAX];
	struct ip_addr gateway4, gateway6; /* the server's VPN addresses: ICMP answers' source */
	/* A rejected packet's answer, with room in front to seal it in place. */
	uint8_t answer[DATA_OVERHEAD + PACKET_REJECT_MAX];
};

void filter_init(struct filter *f);
/* Drops every policy held. */
void filter_clear(struct filter *f);

/* Takes a reference to p (NULL: no global policy). */
void filter_set_policy(struct filter *f, struct policy *p);
/* A client's own rules (NULL: none) and groups; both go when the client does (NULL, 0). */
void filter_set_client(struct filter *f, uint32_t id, struct policy *p, uint64_t groups);

/*
 * Whether the packet ip (len bytes) of client id going direction dir may
 * pass. For a rejected one, *answer_len is the length of the answer at
 * f->answer + DATA_OVERHEAD (0: none is due).
 */
enum filter_result filter_pass(struct filter *f, uint32_t id, const uint8_t *ip, size_t len,
			       enum policy_direction dir, size_t *answer_len);

#endif
