// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pushopts.h"

/* OpenVPN's MAX_PARMS (options.h): words past it are ignored, with a warning */
enum { ARGS_MAX = 16, OPTION_MAX = 256 };

void push_options_init(struct push_options *o)
{
	memset(o, 0, sizeof(*o));
}

/* What was ignored: the first one's text is kept for the log, the others counted. */
static void __attribute__((format(printf, 2, 3))) warn(struct push_options *o, const char *fmt, ...)
{
	va_list ap;

	if (o->warnings++)
		return;
	va_start(ap, fmt);
	vsnprintf(o->warning, sizeof(o->warning), fmt, ap);
	va_end(ap);
}

bool push_domain_valid(const char *d)
{
	if (!*d || *d == '-')
		return false;
	for (const unsigned char *c = (const unsigned char *)d; *c; c++)
		if (!(isalnum(*c) || *c == '.' || *c == '-' || *c == '_' || *c >= 0x80))
			return false;
	return true;
}

/* One more DNS server, or a warning past PUSH_DNS_MAX: the push goes on without it. */
static bool dns_room(struct push_options *o, const char *addr)
{
	if (o->n_dns < PUSH_DNS_MAX)
		return true;
	warn(o, "more than %d DNS servers: %.64s and those after it ignored", PUSH_DNS_MAX, addr);
	return false;
}

int push_netmask_len(const char *mask)
{
	struct ip_addr a;
	uint32_t v;
	int len = 0;

	if (!ip_addr_parse(&a, mask) || a.family != AF_INET)
		return -1;
	v = (uint32_t)a.bytes[0] << 24 | (uint32_t)a.bytes[1] << 16 | (uint32_t)a.bytes[2] << 8 |
	    a.bytes[3];
	while (len < 32 && (v & (0x80000000u >> len)))
		len++;
	/* Contiguous: nothing set after the first zero bit. */
	return len == 32 || (v << len) == 0 ? len : -1;
}

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-')
		return false;
	v = strtoul(s, &end, 10);
	if (*end || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

/* The prefix length that puts two IPv4 addresses in one /30 (net30), else 32 (p2p). */
static int peer_prefix_len(const struct ip_addr *local, const struct ip_addr *peer)
{
	return memcmp(local->bytes, peer->bytes, 3) == 0 &&
			       (local->bytes[3] & 0xfc) == (peer->bytes[3] & 0xfc)
		       ? 30
		       : 32;
}

/*
 * "ifconfig ADDR MASK" (topology subnet) or "ifconfig ADDR PEER" (net30 and
 * p2p, where the second address is the server's end of the link).
 */
static bool opt_ifconfig(struct push_options *o, char **a, int n)
{
	int len = n == 3 ? push_netmask_len(a[2]) : -1;

	if (n != 3 || !ip_addr_parse(&o->ifconfig.addr, a[1]) || o->ifconfig.addr.family != AF_INET)
		return false;
	if (len < 0) {
		if (o->topology_subnet || !ip_addr_parse(&o->ifconfig_peer, a[2]) ||
		    o->ifconfig_peer.family != AF_INET)
			return false;
		o->has_ifconfig_peer = true;
		len = peer_prefix_len(&o->ifconfig.addr, &o->ifconfig_peer);
	}
	o->ifconfig.len = (uint8_t)len;
	o->has_ifconfig = true;
	return true;
}

/* "route NET MASK [GW [METRIC]]" and "route-ipv6 NET/LEN [GW]" */
static bool opt_route(struct push_options *o, char **a, int n, bool v6)
{
	struct ip_prefix p;
	int len;

	if (o->n_routes >= PUSH_ROUTES_MAX)
		return false;
	if (v6) {
		if (n < 2 || !ip_prefix_parse(&p, a[1]) || p.addr.family != AF_INET6)
			return false;
	} else {
		len = n >= 3 ? push_netmask_len(a[2]) : (n == 2 ? 32 : -1);
		if (len < 0 || !ip_addr_parse(&p.addr, a[1]) || p.addr.family != AF_INET)
			return false;
		p.len = (uint8_t)len;
	}
	ip_prefix_mask(&p);
	o->routes[o->n_routes++] = p;
	return true;
}

static bool opt_dhcp(struct push_options *o, char **a, int n)
{
	struct ip_addr addr;

	if (n == 3 && strcmp(a[1], "DNS") == 0) {
		if (!ip_addr_parse(&addr, a[2]))
			return false;
		if (!o->dns_structured && dns_room(o, a[2])) { /* `dns` won: these are ignored */
			o->dns_port[o->n_dns] = 0;
			o->dns_priority[o->n_dns] = 0;
			o->dns[o->n_dns++] = addr;
		}
		return true;
	}
	if (n == 3 && strcmp(a[1], "DOMAIN") == 0 && strlen(a[2]) < sizeof(o->domain)) {
		if (!push_domain_valid(a[2])) /* as OpenVPN: an options error, ignored */
			warn(o, "dhcp-option DOMAIN with characters a domain cannot have: ignored");
		else if (!o->domains_structured)
			snprintf(o->domain, sizeof(o->domain), "%s", a[2]);
		return true;
	}
	o->unknown++; /* other DHCP options (NTP, WINS, ...) are for other platforms */
	return true;
}

/* "ADDR", "ADDR:PORT" (IPv4) or "[ADDR]:PORT" (IPv6), as dns.c's dns_server_addr_parse. */
static bool dns_address(const char *text, struct ip_addr *addr, uint16_t *port)
{
	char host[IP_PREFIX_TEXT_MAX];
	const char *colon = strrchr(text, ':'), *end = NULL;
	unsigned p = 0;

	if (text[0] == '[') {
		end = strchr(text, ']');
		if (!end || (end[1] && (end[1] != ':' || !parse_uint(end + 2, 65535, &p))))
			return false;
		text++;
	} else if (colon && strchr(text, ':') == colon) {
		end = colon; /* one colon: IPv4 with a port */
		if (!parse_uint(colon + 1, 65535, &p))
			return false;
	}
	if ((end && (size_t)(end - text) >= sizeof(host)) || strlen(text) >= sizeof(host))
		return false;
	snprintf(host, sizeof(host), "%.*s", end ? (int)(end - text) : (int)strlen(text), text);
	*port = (uint16_t)p;
	return ip_addr_parse(addr, host);
}

/* One address of `dns server PRIORITY`, kept in the order of the priorities (lowest first). */
static void dns_insert(struct push_options *o, long priority, const struct ip_addr *addr,
		       uint16_t port)
{
	size_t at = o->n_dns;

	while (at > 0 && o->dns_priority[at - 1] > priority) {
		o->dns[at] = o->dns[at - 1];
		o->dns_port[at] = o->dns_port[at - 1];
		o->dns_priority[at] = o->dns_priority[at - 1];
		at--;
	}
	o->dns[at] = *addr;
	o->dns_port[at] = port;
	o->dns_priority[at] = priority;
	o->n_dns++;
}

/* "dns search-domains D [D...]": all of them, or none when one is no domain (OpenVPN's dns.c). */
static bool dns_search_domains(struct push_options *o, char **a, int n)
{
	size_t len = 0;

	for (int i = 2; i < n; i++)
		if (!push_domain_valid(a[i])) { /* OpenVPN: an options error, ignored */
			warn(o, "dns search-domains with characters a domain cannot have: ignored");
			return true;
		}
	o->domain[0] = '\0';
	o->domains_structured = true;
	for (int i = 2; i < n; i++) {
		size_t more = strlen(a[i]) + (i > 2);

		if (len + more >= sizeof(o->domain)) {
			warn(o,
			     "dns search-domains past %d bytes: %.64s and those after it ignored",
			     PUSH_DOMAINS_MAX - 1, a[i]);
			break;
		}
		len += (size_t)snprintf(o->domain + len, sizeof(o->domain) - len, "%s%s",
					i > 2 ? " " : "", a[i]);
	}
	return true;
}

/*
 * 2.6's "dns server N address A [A...]" and "dns search-domains D [D...]"
 * (options.c, check_dns_option). They win over dhcp-option's, as 2.6's
 * dns_options_postprocess_pull has it. The server's other settings
 * (resolve-domains, dnssec, transport, sni) are counted as unknown.
 */
static bool opt_dns(struct push_options *o, char **a, int n)
{
	struct ip_addr addr;
	uint16_t port;
	char *end;
	long priority;

	if (n >= 3 && strcmp(a[1], "search-domains") == 0)
		return dns_search_domains(o, a, n);
	if (n < 5 || strcmp(a[1], "server") != 0 || strcmp(a[3], "address") != 0) {
		o->unknown++;
		return true;
	}
	priority = strtol(a[2], &end, 10);
	if (*end || end == a[2] || priority < -128 || priority > 127)
		return false;
	if (!o->dns_structured)
		o->n_dns = 0; /* dhcp-option's go: these are the servers */
	o->dns_structured = true;
	for (int i = 4; i < n; i++) {
		if (!dns_address(a[i], &addr, &port))
			return false;
		if (dns_room(o, a[i]))
			dns_insert(o, priority, &addr, port);
	}
	return true;
}

static bool opt_flags(struct push_options *o, char **a, int n)
{
	for (int i = 1; i < n; i++) {
		if (strcmp(a[i], "tls-ekm") == 0)
			o->tls_ekm = true;
		else if (strcmp(a[i], "cc-exit") == 0)
			o->cc_exit = true;
		else if (strcmp(a[i], "dyn-tls-crypt") == 0)
			o->dyn_tls_crypt = true;
		else if (strcmp(a[i], "aead-epoch") == 0) /* options.c, as 2.7 pushes it */
			o->epoch_data = true;
		else
			o->unknown++;
	}
	return true;
}

static bool opt_ifconfig6(struct push_options *o, char **a, int n)
{
	o->has_ifconfig6 = n >= 2 && ip_prefix_parse(&o->ifconfig6, a[1]) &&
			   o->ifconfig6.addr.family == AF_INET6;
	return o->has_ifconfig6;
}

static bool opt_route_gateway(struct push_options *o, char **a, int n)
{
	o->has_route_gateway = n == 2 && ip_addr_parse(&o->route_gateway, a[1]);
	return o->has_route_gateway;
}

static bool opt_peer_id(struct push_options *o, char **a, int n)
{
	unsigned id;

	/* 0xffffff means "no peer-id" on the wire, so it cannot be assigned. */
	o->has_peer_id = n == 2 && parse_uint(a[1], 0xfffffe, &id);
	o->peer_id = o->has_peer_id ? id : 0;
	return o->has_peer_id;
}

static bool opt_cipher(struct push_options *o, char **a, int n)
{
	if (n != 2 || strlen(a[1]) >= sizeof(o->cipher))
		return false;
	snprintf(o->cipher, sizeof(o->cipher), "%s", a[1]);
	return true;
}

static bool opt_ping(struct push_options *o, char **a, int n)
{
	return n == 2 && parse_uint(a[1], 86400, &o->ping);
}

static bool opt_ping_restart(struct push_options *o, char **a, int n)
{
	return n == 2 && parse_uint(a[1], 86400, &o->ping_restart);
}

static bool opt_tun_mtu(struct push_options *o, char **a, int n)
{
	return n == 2 && parse_uint(a[1], 65535, &o->tun_mtu) && o->tun_mtu >= 68;
}

static bool opt_topology(struct push_options *o, char **a, int n)
{
	o->topology_subnet = n == 2 && strcmp(a[1], "subnet") == 0;
	return n == 2;
}

static bool opt_redirect_gateway(struct push_options *o, char **a, int n)
{
	static const struct {
		const char *word;
		unsigned set, clear;
	} words[] = {
		{ "def1", PUSH_REDIRECT_DEF1, 0 },
		{ "local", PUSH_REDIRECT_LOCAL, 0 },
		{ "ipv6", PUSH_REDIRECT_IPV6, 0 },
		{ "!ipv4", 0, PUSH_REDIRECT_IPV4 },
		{ "block-local", PUSH_REDIRECT_BLOCK_LOCAL, 0 },
		{ "bypass-dhcp", PUSH_REDIRECT_BYPASS, 0 },
		{ "bypass-dns", PUSH_REDIRECT_BYPASS, 0 },
		{ "autolocal", 0, 0 }, /* OpenVPN decides local from the route; so do we */
	};

	o->redirect = PUSH_REDIRECT_ON | PUSH_REDIRECT_IPV4;
	for (int i = 1; i < n; i++) {
		size_t w = 0;

		while (w < sizeof(words) / sizeof(words[0]) && strcmp(a[i], words[w].word) != 0)
			w++;
		if (w == sizeof(words) / sizeof(words[0]))
			o->unknown++; /* as OpenVPN, which warns and goes on */
		else
			o->redirect = (o->redirect | words[w].set) & ~words[w].clear;
	}
	return true;
}

/* auth-token: what the client sends as its password from now on (OpenVPN's --auth-gen-token). */
static bool opt_auth_token(struct push_options *o, char **a, int n)
{
	if (n != 2 || strlen(a[1]) >= sizeof(o->auth_token))
		return false;
	snprintf(o->auth_token, sizeof(o->auth_token), "%s", a[1]);
	return true;
}

/* auth-token-user: the username the token goes with; ours already is (we sent it). */
static bool opt_auth_token_user(struct push_options *o, char **a, int n)
{
	(void)o;
	(void)a;
	return n == 2;
}

static bool opt_key_derivation(struct push_options *o, char **a, int n)
{
	o->tls_ekm = n == 2 && strcmp(a[1], "tls-ekm") == 0;
	return n == 2;
}

static bool opt_continuation(struct push_options *o, char **a, int n)
{
	o->more = n == 2 && strcmp(a[1], "2") == 0;
	return n == 2;
}

static bool opt_route4(struct push_options *o, char **a, int n)
{
	return opt_route(o, a, n, false);
}

static bool opt_route6(struct push_options *o, char **a, int n)
{
	return opt_route(o, a, n, true);
}

static bool opt_comp_lzo(struct push_options *o, char **a, int n)
{
	(void)a, (void)n;
	o->compress = PUSH_COMPRESS_LZO;
	return true;
}

static bool opt_compress(struct push_options *o, char **a, int n)
{
	bool v2 = n > 1 && (strcmp(a[1], "stub-v2") == 0 || strcmp(a[1], "lz4-v2") == 0);

	o->compress = v2 ? PUSH_COMPRESS_V2 : PUSH_COMPRESS_V1;
	return true;
}

static const struct {
	const char *name;
	bool (*parse)(struct push_options *o, char **a, int n);
} options[] = {
	{ "comp-lzo", opt_comp_lzo },
	{ "compress", opt_compress },
	{ "ifconfig", opt_ifconfig },
	{ "ifconfig-ipv6", opt_ifconfig6 },
	{ "route-gateway", opt_route_gateway },
	{ "route", opt_route4 },
	{ "route-ipv6", opt_route6 },
	{ "dhcp-option", opt_dhcp },
	{ "dns", opt_dns },
	{ "protocol-flags", opt_flags },
	{ "key-derivation", opt_key_derivation },
	{ "peer-id", opt_peer_id },
	{ "cipher", opt_cipher },
	{ "ping", opt_ping },
	{ "ping-restart", opt_ping_restart },
	{ "tun-mtu", opt_tun_mtu },
	{ "topology", opt_topology },
	{ "redirect-gateway", opt_redirect_gateway },
	{ "auth-token", opt_auth_token },
	{ "auth-token-user", opt_auth_token_user },
	{ "push-continuation", opt_continuation },
};

/* One option, split at spaces into its words. */
static int parse_option(struct push_options *o, char *text, char *err, size_t errlen)
{
	char *a[ARGS_MAX], *save = NULL, *w;
	int n = 0;
	size_t i;
	bool ok;

	for (w = strtok_r(text, " ", &save); w && n < ARGS_MAX; w = strtok_r(NULL, " ", &save))
		a[n++] = w;
	if (n == 0)
		return 0;
	if (w)
		warn(o, "\"%.64s\" has more than %d words: \"%.64s\" and those after it ignored",
		     a[0], ARGS_MAX, w);
	ok = true;
	for (i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (strcmp(a[0], options[i].name) == 0)
			break;
	if (i < sizeof(options) / sizeof(options[0]))
		ok = options[i].parse(o, a, n);
	else
		o->unknown++;
	if (!ok)
		snprintf(err, errlen, "PUSH_REPLY: malformed option \"%.64s%s\"", a[0],
			 n > 1 ? " ..." : "");
	return ok ? 0 : -1;
}

unsigned push_redirect_parse(const char *words)
{
	struct push_options o;
	char buf[256], name[] = "redirect-gateway", *a[ARGS_MAX], *save = NULL;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", words);
	a[n++] = name;
	for (char *w = strtok_r(buf, " ", &save); w && n < ARGS_MAX; w = strtok_r(NULL, " ", &save))
		a[n++] = w;
	push_options_init(&o);
	opt_redirect_gateway(&o, a, n);
	return o.redirect;
}

/* The filter line deciding option text ('a', 'i' or 'r'), or 0 when none matches. */
static char filter_verdict(const char *filter, const char *text, const char **rule,
			   size_t *rule_len)
{
	for (const char *line = filter; line && *line;) {
		const char *end = strchr(line, '\n'), *pattern = strchr(line, ' ');
		size_t len;

		if (!end)
			end = line + strlen(line);
		if (pattern && pattern < end) {
			pattern++;
			len = (size_t)(end - pattern);
			if (strncmp(text, pattern, len) == 0) {
				*rule = line;
				*rule_len = (size_t)(end - line);
				return line[0];
			}
		}
		line = *end ? end + 1 : end;
	}
	return 0;
}

int push_parse_filtered(struct push_options *o, const char *message, const char *filter, char *err,
			size_t errlen)
{
	char buf[2048], *save = NULL;
	static const char prefix[] = "PUSH_REPLY";

	if (strncmp(message, prefix, sizeof(prefix) - 1) != 0 ||
	    (message[sizeof(prefix) - 1] != ',' && message[sizeof(prefix) - 1] != '\0')) {
		snprintf(err, errlen, "not a PUSH_REPLY");
		return -1;
	}
	if (strlen(message) >= sizeof(buf)) {
		snprintf(err, errlen, "PUSH_REPLY too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", message + sizeof(prefix) - 1);
	o->more = false;
	for (char *opt = strtok_r(buf, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		const char *rule = NULL;
		size_t rule_len = 0;
		char verdict = filter_verdict(filter, opt, &rule, &rule_len);

		if (verdict == 'r') {
			snprintf(err, errlen, "option \"%.64s\" refused by pull-filter %.*s", opt,
				 (int)(rule_len > 80 ? 80 : rule_len), rule);
			return -1;
		}
		if (verdict == 'i' && strncmp(opt, "push-continuation", 17) != 0) {
			o->filtered++;
			continue;
		}
		if (parse_option(o, opt, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int push_parse(struct push_options *o, const char *message, char *err, size_t errlen)
{
	return push_parse_filtered(o, message, NULL, err, errlen);
}
