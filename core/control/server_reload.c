// SPDX-License-Identifier: MIT
/*
 * A reload's new settings for a running server (moonvpn.config's RELOAD
 * table says which fields are live): what the server reads per packet
 * changes at once, and connected clients get the new renegotiation limits
 * and what is safe of the new keepalive, in force from their next timer tick.
 */
#include <errno.h>
#include <stdio.h>

#include "server.h"
#include "server_impl.h"

/* A worker's filter's limits and its share of the flow table (its flows kept, when they fit). */
static int reconfigure_filter(struct server *s, struct filter *f, const struct server_params *p,
			      char *err, size_t errlen)
{
	size_t flows = (p->filter.max_flows + s->n_dps - 1) / s->n_dps;
	int rc = filter_resize(f, flows, ev_now(s->loop));

	if (rc == -ENOSPC) {
		snprintf(err, errlen,
			 "policy.flows: %zu flows cannot hold the %zu waiting for on.flow now; "
			 "reload again once fewer wait",
			 p->filter.max_flows, f->pending * s->n_dps);
		return rc;
	}
	if (rc < 0) {
		snprintf(err, errlen, "policy.flows: out of memory for %zu flows",
			 p->filter.max_flows);
		return rc;
	}
	f->settings.idle_timeout = p->filter.idle_timeout;
	f->settings.pending_max = (p->filter.pending_max + s->n_dps - 1) / s->n_dps;
	f->settings.fallback = p->filter.fallback;
	f->flows.idle_timeout = p->filter.idle_timeout;
	f->gateway4 = p->gateway4;
	f->gateway6 = p->gateway6;
	return 0;
}

/* Every worker's filter; the first refusal stops (those before it have the new limits). */
static int reconfigure_filters(struct server *s, const struct server_params *p, char *err,
			       size_t errlen)
{
	int rc = 0;

	for (uint32_t k = 0; k < s->n_dps && rc == 0; k++)
		rc = reconfigure_filter(s, &s->dps[k].filter, p, err, errlen);
	return rc;
}

/*
 * A connected client keeps the ping and ping-restart it was pushed: the server
 * may ping it more often and wait longer for it, never less (it would end a
 * healthy client, or let the client's own ping-restart fire). The new values in
 * full reach the clients that connect from now on.
 */
static void reconfigure_session(struct session *sess, const struct server_params *p)
{
	unsigned interval, timeout;

	session_keepalive(sess, &interval, &timeout);
	if (!interval || p->ping_interval < interval)
		interval = p->ping_interval;
	if (p->ping_timeout > timeout)
		timeout = p->ping_timeout;
	session_set_keepalive(sess, interval, timeout);
	session_set_renegotiation(sess, p->reneg_seconds, p->reneg_bytes);
}

int server_reconfigure(struct server *s, const struct server_params *p, char *err, size_t errlen)
{
	int rc = reconfigure_filters(s, p, err, errlen); /* first: the one step that can fail */

	if (rc < 0)
		return rc;
	s->params.ping_interval = p->ping_interval;
	s->params.ping_timeout = p->ping_timeout;
	s->params.reneg_seconds = p->reneg_seconds;
	s->params.reneg_bytes = p->reneg_bytes;
	s->params.client_to_client = p->client_to_client;
	s->params.device_mtu = p->device_mtu;
	s->params.mssfix = p->mssfix;
	s->params.gateway4 = p->gateway4;
	s->params.gateway6 = p->gateway6;
	s->params.filter = p->filter;
	for (int epoch = 0; epoch < 2; epoch++)
		for (int v6 = 0; v6 < 2; v6++)
			mssfix_init(&s->mss[epoch][v6], p->mssfix, v6, s->params.tap,
				    data_overhead(epoch));
	for (size_t i = 0; i < server_session_count(s); i++)
		reconfigure_session(server_session(s, i), p);
	return 0;
}
