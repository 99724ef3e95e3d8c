// SPDX-License-Identifier: MIT
/*
 * The server's TCP transport: frames from a connection go through the same
 * front door as UDP datagrams (server_handle_datagram, arriving via it), a
 * session started on a connection keeps it for every packet it sends, and
 * the session and its connection end together. With workers, a session's
 * connection moves to its client's worker (docs/workers.md): the worker reads
 * and writes it, and hands its control packets to the main thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "loopgroup.h"
#include "server_impl.h"

/* The dataplane of the thread a connection's frames are read on. */
static struct dataplane *reading_dp(struct server *s)
{
	int k = loop_group_current();

	return k >= 0 ? &s->dps[k] : server_main_dp(s);
}

static void on_tcp_packet(void *ctx, struct tcp_conn *c, uint8_t *buf, size_t len)
{
	struct server *s = ctx;
	struct arrival a = { .via = c };

	a.from = tcp_conn_peer(c, &a.from_len);
	server_handle_datagram(s, reading_dp(s), &a, buf, len);
}

static void on_tcp_closed(void *ctx, struct tcp_conn *c, const char *why)
{
	struct server *s = ctx;
	int32_t id = tcp_conn_tag(c);
	char reason[SESSION_REASON_MAX];

	if (id < 0 || (uint32_t)id >= s->max_clients || s->conns[id] != c || !s->sessions[id])
		return;
	s->conns[id] = NULL; /* closing already: not again */
	snprintf(reason, sizeof(reason), "TCP: %s", why);
	server_end_session(s, s->sessions[id], reason);
}

static void on_tcp_event(void *ctx, enum tcp_event ev)
{
	struct server *s = ctx;
	struct server_stats *st = server_on_worker() ? &reading_dp(s)->stats : &s->stats;

	switch (ev) {
	case TCP_TOO_BIG:
		st->dropped_too_big++;
		break;
	case TCP_QUEUE_FULL:
		st->dropped_tcp_queue++;
		break;
	case TCP_EVICTED_SOURCE:
		st->tcp_evicted_source++;
		break;
	case TCP_EVICTED:
		st->tcp_evicted++;
		break;
	case TCP_REFUSED:
		st->tcp_refused++;
		break;
	case TCP_ACCEPT_PAUSED:
		st->tcp_accept_paused++;
		break;
	}
}

int server_tcp_open(struct server *s, const struct udp_addr *addr, char *err, size_t errlen)
{
	struct tcp_handlers h = {
		.packet = on_tcp_packet,
		.closed = on_tcp_closed,
		.ctx = s,
		.event = on_tcp_event,
		.log = s->log,
		.conns_max = s->max_clients + TCP_CONNS_SPARE, /* one for each client */
	};

	int rc = tcp_server_open(&s->tcp, s->loop, addr, &h, err, errlen);

	if (rc < 0 || !s->group)
		return rc;
	if (!(s->tcp_hubs = calloc(s->n_dps, sizeof(*s->tcp_hubs)))) {
		snprintf(err, errlen, "server: out of memory");
		return -ENOMEM;
	}
	for (uint32_t k = 0; k < s->n_dps; k++)
		if (!(s->tcp_hubs[k] = tcp_hub_new(s->tcp, loop_group_loop(s->group, k)))) {
			snprintf(err, errlen, "server: out of memory");
			return -ENOMEM;
		}
	return 0;
}

void server_tcp_free(struct server *s)
{
	tcp_server_free(s->tcp); /* and its hubs */
	s->tcp = NULL;
	free(s->tcp_hubs);
	s->tcp_hubs = NULL;
}

void server_tcp_attach(struct server *s, uint32_t id, struct tcp_conn *via)
{
	s->conns[id] = via;
	if (!via)
		return;
	tcp_conn_set_tag(via, (int32_t)id);
	if (s->tcp_hubs) /* read and written by the client's worker from now on */
		tcp_conn_move(via, s->tcp_hubs[server_worker_of(s, id)]);
}

void server_tcp_detach(struct server *s, uint32_t id)
{
	struct tcp_conn *c = s->conns[id];

	s->conns[id] = NULL;
	if (c)
		tcp_conn_close(c);
}

bool server_tcp_send(struct server *s, uint32_t id, const uint8_t *wire, size_t len)
{
	if (id >= s->max_clients || !s->conns[id])
		return false;
	/* Too big (counted) is dropped; a full queue closes it, later. */
	(void)tcp_conn_send(s->conns[id], wire, len);
	return true;
}
