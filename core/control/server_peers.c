// SPDX-License-Identifier: MIT
/*
 * The dataplanes' clients (server_impl.h, docs/workers.md): each dataplane
 * keeps the clients it owns (peer-id % workers) in a table by peer-id /
 * workers, which the control plane fills and clears here only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server_impl.h"

int dataplane_peers_init(struct dataplane *dp, uint32_t index, uint32_t workers,
			 uint32_t max_clients)
{
	uint32_t n = max_clients / workers + (index < max_clients % workers);

	dp->n_peers = n;
	dp->peers = calloc(n ? n : 1, sizeof(*dp->peers));
	return dp->peers ? 0 : -ENOMEM;
}

void dataplane_peers_free(struct dataplane *dp)
{
	free(dp->peers);
	dp->peers = NULL;
	dp->n_peers = 0;
}

/* Slot id's entry, whether a client has it or not. */
static struct dp_peer *slot_of(const struct server *s, uint32_t id)
{
	const struct dataplane *dp = &s->dps[id % s->n_dps];

	return &dp->peers[id / s->n_dps];
}

struct dp_peer *server_peer(const struct server *s, uint32_t id)
{
	struct dp_peer *p;

	if (id >= s->max_clients)
		return NULL;
	p = slot_of(s, id);
	return p->sess ? p : NULL;
}

void server_peer_open(struct server *s, uint32_t id, struct session *sess)
{
	struct dp_peer *p = slot_of(s, id);
	uint32_t generation = p->generation + 1;

	memset(p, 0, sizeof(*p));
	p->sess = sess;
	p->dc = session_dchan(sess);
	p->generation = generation;
}

void server_peer_admit(struct server *s, uint32_t id)
{
	struct dp_peer *p = slot_of(s, id);

	p->vpn[0] = *session_vpn_addr(p->sess);
	p->vpn[1] = *session_vpn_addr6(p->sess);
	p->epoch_data = session_epoch_data(p->sess);
}

void server_peer_close(struct server *s, uint32_t id)
{
	struct dp_peer *p = slot_of(s, id);
	uint32_t generation = p->generation;

	memset(p, 0, sizeof(*p));
	p->generation = generation;
}

bool dp_peer_owns_source(const struct dp_peer *p, const uint8_t *ip, size_t len)
{
	if (len >= 20 && ip[0] >> 4 == 4)
		return p->vpn[0].family == AF_INET && memcmp(ip + 12, p->vpn[0].bytes, 4) == 0;
	if (len >= 40 && ip[0] >> 4 == 6)
		return p->vpn[1].family == AF_INET6 && memcmp(ip + 8, p->vpn[1].bytes, 16) == 0;
	return false;
}

int32_t server_routes_find(const struct server *s, const struct ip_addr *addr)
{
	int32_t id = server_addr_index_get(&s->routes.vpn, addr);

	if (id >= 0 || !s->routes.subnets.n)
		return id;
	return route_table_lookup(&s->routes.subnets, addr);
}
