// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "engine_dns.h"
#include "pushopts.h"
#include "script.h"

static const char *dns_destination(enum resolver_method used)
{
	switch (used) {
	case RESOLVER_RESOLVED:
		return "given to systemd-resolved for the tunnel's link";
	case RESOLVER_RESOLVCONF:
		return "given to resolvconf";
	case RESOLVER_FILE:
		return "written to /etc/resolv.conf (the previous one comes back at exit)";
	default:
		return "not given to the resolver (dns = \"show\")";
	}
}

/* dns to the system's resolver as the configuration's `dns` says. */
static void apply(struct engine *e, const struct resolver_dns *dns, const char *whose)
{
	enum resolver_method method = RESOLVER_AUTO, used;
	char err[512], text[IP_PREFIX_TEXT_MAX + 8];
	size_t skipped = 0;

	(void)resolver_method_parse(e->cfg->dns ? e->cfg->dns : "auto", &method);
	if (resolver_apply(&e->resolver, method, device_name(e->device), dns, e->dns.all_traffic,
			   &used, err, sizeof(err)) < 0) {
		log_error(&e->log, "dns", "the %s DNS servers are not used: %s", whose, err);
		return;
	}
	if (dns->n || dns->domains[0])
		log_info(&e->log, "dns", "%zu server(s)%s%s%s%s: %s", dns->n,
			 dns->n ? ", the first " : "",
			 dns->n ? resolver_server_format(dns, 0, text, sizeof(text)) : "",
			 dns->domains[0] ? ", search " : "", dns->domains, dns_destination(used));
	for (size_t i = 0; i < dns->n; i++)
		skipped += dns->ports[i] && dns->ports[i] != 53;
	if (skipped && (used == RESOLVER_FILE || used == RESOLVER_RESOLVCONF))
		log_warnx(&e->log, "dns",
			  "%zu server(s) on a port other than 53 left out: resolv.conf has no "
			  "ports (dns = \"resolved\" takes them)",
			  skipped);
}

static void answered(void *ctx, enum script_dns_verdict v, const struct resolver_dns *changed)
{
	struct engine *e = ctx;

	if (e->dns.ending)
		return;
	switch (v) {
	case SCRIPT_DNS_CHANGED:
		apply(e, changed, "on.dns's");
		break;
	case SCRIPT_DNS_HANDLED:
		resolver_revert(&e->resolver);
		log_info(&e->log, "dns", "on.dns applied the pushed DNS settings itself");
		break;
	case SCRIPT_DNS_REFUSED:
		resolver_revert(&e->resolver);
		log_info(&e->log, "dns", "on.dns refused the pushed DNS settings: none applied");
		break;
	case SCRIPT_DNS_FAILED:
		log_warnx(&e->log, "dns",
			  "on.dns failed (see above): the pushed DNS settings are applied as `dns` "
			  "says");
		apply(e, &e->dns.given, "pushed");
		break;
	default:
		apply(e, &e->dns.given, "pushed");
	}
}

static void of_push(const struct push_options *o, struct resolver_dns *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < o->n_dns && i < RESOLVER_SERVERS_MAX; i++) {
		out->servers[i] = o->dns[i];
		out->ports[i] = o->dns_port[i];
		out->n++;
	}
	snprintf(out->domains, sizeof(out->domains), "%s", o->domain);
}

void engine_dns_up(struct engine *e, const struct push_options *o, bool all_traffic)
{
	of_push(o, &e->dns.given);
	e->dns.all_traffic = all_traffic;
	e->dns.ending = false;
	if (!e->script || !script_has_dns_hook(e->script)) {
		apply(e, &e->dns.given, "pushed");
		return;
	}
	e->dns.told = true;
	script_client_dns(e->script, "up", &e->dns.given, device_name(e->device), all_traffic,
			  answered, e);
}

static void down_answered(void *ctx, enum script_dns_verdict v, const struct resolver_dns *changed)
{
	(void)ctx, (void)v, (void)changed;
}

void engine_dns_down(struct engine *e)
{
	e->dns.ending = true;
	if (e->dns.told && e->script && e->device) {
		e->dns.told = false;
		script_client_dns(e->script, "down", &e->dns.given, device_name(e->device),
				  e->dns.all_traffic, down_answered, e);
		/* A hook that waits (vpn.exec) needs the loop; its deadline ends it at the latest.
		 */
		while (script_dns_pending(e->script) && ev_run(e->loop, EVRUN_ONCE))
			;
	}
	resolver_revert(&e->resolver);
}
