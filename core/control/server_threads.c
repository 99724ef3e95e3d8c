// SPDX-License-Identifier: MIT
/*
 * The workers' threads (docs/workers.md, loopgroup.h). With workers >= 2
 * each dataplane runs on a thread of its own and the main thread keeps the
 * control plane; the main thread runs only while every worker is parked, so
 * it reads and writes the workers' state directly. A worker writes only its
 * own dataplane and its own clients' data channels, and reads the tables
 * the main thread keeps (which do not change while it runs).
 *
 * A worker judges its own clients' packets with its own filter (its verdict
 * cache and flows); a new flow's question for on.flow waits in that filter
 * and the worker wakes the main thread, which asks (the Lua state is the
 * main thread's) and records the answer while the worker is parked.
 *
 * What a worker may not do itself goes to the main thread as a handoff: a
 * copy of the packet on the worker's ring (ring.h, one producer, one
 * consumer), and an ev_async wake-up of the main loop. The main thread then
 * handles it as the single loop does, with the worker's dataplane: sealing
 * for another worker's client (on that worker's socket), TAP mode's switch,
 * a TCP client's control packets (its connection is its worker's, the
 * handshake the main thread's), a float (the peer index and the session). A
 * client whose packets arrive on its own worker's queue and socket costs no
 * cross-thread operation, the policy's included.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loopgroup.h"
#include "ring.h"
#include "server_impl.h"

enum {
	HANDOFF_RING = 4096,	    /* packets a worker may have waiting for the main thread */
	HANDOFFS_PER_WAKEUP = 1024, /* taken per worker per wake-up: the control plane runs too */
};

struct handoff {
	enum handoff_kind kind;
	uint32_t id, generation; /* the client's slot, and its session (dp_peer.generation) */
	struct tcp_conn *conn;	 /* HANDOFF_CONTROL's: compared, never followed, until checked */
	struct vnet_hdr h;
	struct sockaddr_storage from;
	socklen_t from_len;
	size_t len;
	uint8_t buf[]; /* a packet at DATA_OVERHEAD (a superpacket at 0), room behind it */
};

bool server_on_worker(void)
{
	return loop_group_current() >= 0;
}

bool server_worker_cannot(const struct server *s, const struct dataplane *dp, uint32_t id)
{
	if (!server_on_worker())
		return false;
	return s->params.tap || &s->dps[server_worker_of(s, id)] != dp;
}

/* A handoff of kind about client id, with room for len bytes at at; NULL: out of memory. */
static struct handoff *handoff_new(const struct dataplane *dp, enum handoff_kind kind, uint32_t id,
				   size_t at, size_t len)
{
	struct handoff *o = malloc(sizeof(*o) + at + len + DATA_TAILROOM);
	const struct dp_peer *peer = server_peer(dp->s, id);

	if (o) {
		memset(o, 0, sizeof(*o));
		o->kind = kind;
		o->id = id;
		o->generation = peer ? peer->generation : 0;
		o->len = len;
	}
	return o;
}

/* Onto the worker's ring, the main thread woken; false (freed, counted) when it is full. */
static bool push(struct dataplane *dp, struct handoff *o)
{
	void *item = o;

	if (!o || ring_push(dp->to_main, &item, 1) != 1) {
		free(o);
		dp->stats.dropped_to_main++;
		return false;
	}
	dp->stats.to_main++;
	ev_async_send(dp->s->loop, &dp->s->handoffs);
	return true;
}

bool server_hand_to_main(struct dataplane *dp, enum handoff_kind kind, uint32_t id,
			 const uint8_t *pkt, size_t len, const struct vnet_hdr *h,
			 const struct sockaddr *from, socklen_t from_len)
{
	size_t at = kind == HANDOFF_SUPERPACKET ? 0 : DATA_OVERHEAD;
	struct handoff *o = handoff_new(dp, kind, id, DATA_OVERHEAD, len);

	if (o && h)
		o->h = *h;
	if (o && from) {
		memcpy(&o->from, from, from_len);
		o->from_len = from_len;
	}
	if (o && len)
		memcpy(o->buf + at, pkt + at, len);
	return push(dp, o);
}

bool server_hand_control_to_main(struct dataplane *dp, const struct arrival *a, const uint8_t *pkt,
				 size_t len)
{
	int32_t id = tcp_conn_tag(a->via);
	struct handoff *o = id < 0 ? NULL : handoff_new(dp, HANDOFF_CONTROL, (uint32_t)id, 0, len);

	if (id < 0) { /* a worker's connections all have sessions (set_tag(-1) moves them back) */
		dp->stats.dropped_to_main++;
		return false;
	}
	if (o) {
		o->conn = a->via;
		memcpy(&o->from, a->from, a->from_len);
		o->from_len = a->from_len;
		memcpy(o->buf, pkt, len);
	}
	return push(dp, o);
}

/* A TCP client's control packet, if its connection is still its session's. */
static void handle_control(struct server *s, const struct handoff *o, struct dp_peer *peer)
{
	struct arrival a = { (const struct sockaddr *)&o->from, o->from_len, o->conn };

	if (!peer || o->id >= s->max_clients || s->conns[o->id] != o->conn)
		return; /* the client or its connection is gone (o->conn may be freed) */
	server_handle_control_packet(s, server_main_dp(s), &a, (uint8_t *)o->buf, o->len);
}

/* The main thread, workers parked: as the single loop would have handled it. */
static void handle(struct server *s, uint32_t k, struct handoff *o)
{
	struct dp_peer *peer = server_peer(s, o->id);

	if (peer && peer->generation != o->generation)
		peer = NULL; /* the client it was about left, and its slot has a new one */

	switch (o->kind) {
	case HANDOFF_FROM_CLIENT:
		if (peer)
			server_client_packet(s, &s->dps[k], peer, o->buf, o->len);
		break;
	case HANDOFF_FROM_DEVICE:
		server_route_from_device(s, k, o->buf, o->len);
		break;
	case HANDOFF_SUPERPACKET:
		server_route_superpacket(s, k, &o->h, o->buf, o->len);
		break;
	case HANDOFF_FLOAT:
		if (peer)
			server_follow_float(s, peer, (struct sockaddr *)&o->from, o->from_len);
		break;
	case HANDOFF_CONTROL:
		handle_control(s, o, peer);
		break;
	}
}

static void on_handoffs(struct ev_loop *loop, ev_async *w, int revents)
{
	struct server *s = w->data;
	bool more = false;

	(void)revents;
	for (uint32_t k = 0; k < s->n_dps; k++) {
		void *items[64];
		size_t n, taken = 0;

		while (taken < HANDOFFS_PER_WAKEUP &&
		       (n = ring_pop(s->dps[k].to_main, items, sizeof(items) / sizeof(items[0])))) {
			for (size_t i = 0; i < n; i++) {
				handle(s, k, items[i]);
				free(items[i]);
			}
			taken += n;
		}
		more = more || !ring_empty(s->dps[k].to_main);
	}
	if (more)
		ev_async_send(loop, w); /* the rest at the next turn */
	if (server_has_questions(s))
		batch_wake(&s->asker); /* a worker's filter has questions for on.flow */
}

int server_threads_open(struct server *s)
{
	ev_async_init(&s->handoffs, on_handoffs);
	s->handoffs.data = s;
	for (uint32_t k = 0; k < s->n_dps; k++)
		if (!(s->dps[k].to_main = ring_new(HANDOFF_RING)))
			return -ENOMEM;
	ev_async_start(s->loop, &s->handoffs);
	ev_unref(s->loop); /* the server's other watchers keep the loop running */
	return 0;
}

void server_threads_free(struct server *s)
{
	if (!s->group)
		return;
	if (ev_is_active(&s->handoffs)) {
		ev_ref(s->loop);
		ev_async_stop(s->loop, &s->handoffs);
	}
	for (uint32_t k = 0; k < s->n_dps; k++) {
		void *item;

		if (!s->dps[k].to_main)
			continue;
		while (ring_pop(s->dps[k].to_main, &item, 1))
			free(item);
		ring_free(s->dps[k].to_main);
		s->dps[k].to_main = NULL;
	}
}
