// SPDX-License-Identifier: MIT
/*
 * A reload's new settings for a running server (moonvpn.config's RELOAD
 * table says which fields are live): what the server reads per packet
 * changes at once, and connected clients get the new keepalive and
 * renegotiation limits, in force from their next timer tick.
 */
#include "epochdata.h"
#include "server.h"
#include "server_impl.h"

/* The filter's limits; the flow table's size stays (policy.flows needs a restart). */
static void reconfigure_filter(struct filter *f, const struct server_params *p)
{
	f->settings.idle_timeout = p->filter.idle_timeout;
	f->settings.pending_max = p->filter.pending_max;
	f->settings.fallback = p->filter.fallback;
	f->flows.idle_timeout = p->filter.idle_timeout;
	f->gateway4 = p->gateway4;
	f->gateway6 = p->gateway6;
}

void server_reconfigure(struct server *s, const struct server_params *p)
{
	s->params.ping_interval = p->ping_interval;
	s->params.ping_timeout = p->ping_timeout;
	s->params.reneg_seconds = p->reneg_seconds;
	s->params.reneg_bytes = p->reneg_bytes;
	s->params.client_to_client = p->client_to_client;
	s->params.device_mtu = p->device_mtu;
	s->params.mssfix = p->mssfix;
	s->params.gateway4 = p->gateway4;
	s->params.gateway6 = p->gateway6;
	for (int epoch = 0; epoch < 2; epoch++)
		for (int v6 = 0; v6 < 2; v6++)
			mssfix_init(&s->mss[epoch][v6], p->mssfix, v6, s->params.tap,
				    epoch ? EPOCH_OVERHEAD : DATA_OVERHEAD);
	reconfigure_filter(&s->filter, p);
	for (uint32_t id = 0; id < SERVER_SESSIONS_MAX; id++) {
		struct session *sess = s->sessions[id];

		if (!sess)
			continue;
		session_set_keepalive(sess, p->ping_interval, p->ping_timeout);
		session_set_renegotiation(sess, p->reneg_seconds, p->reneg_bytes);
	}
}
