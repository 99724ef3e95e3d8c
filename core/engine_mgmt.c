// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "engine.h"
#include "engine_mgmt.h"
#include "metrics.h"
#include "mgmt.h"
#include "script.h"

/*
 * What `version` and the status report's TITLE call the server: OpenVPN's
 * form, first the OpenVPN release whose management output ours follows,
 * because tools take the version from the second word and choose what to
 * parse by it (openvpn-monitor expects no IPv6 column below 2.4).
 */
#define EM_TITLE "OpenVPN 2.6.14 (moonvpn " MOONVPN_VERSION ")"

enum {
	EM_ERR_MAX = 1024,
	EM_PUSH_LINES_MAX = 64, /* push lines in one client-auth */
};

/*
 * A client the hooks let in, waiting for the management client's
 * client-auth (CONNECT); or an admitted client's renegotiated key waiting
 * for it (REAUTH).
 */
struct em_pending {
	struct session *s;
	struct session_push push; /* held: its messages and a policy reference are ours */
	unsigned kid;
	bool reauth;
};

struct engine_mgmt {
	struct engine *e;
	struct mgmt *mgmt;
	struct mgmt_ops ops;
	/*
	 * The CID of the session with each peer-id: the session pointer tells a new
	 * connection on a reused peer-id apart. A CID is the peer-id plus max_clients
	 * times the CIDs its slot gave before (uses), so that a CID leads back to its
	 * slot at once (find_cid), not by a walk over the clients; peer-ids are
	 * handed out fresh first, so CIDs start at 0 and count up, as OpenVPN's.
	 */
	struct {
		const struct session *s;
		uint64_t cid, uses;
		bool notified;	      /* >CLIENT:CONNECT was sent: DISCONNECT is due when it ends */
		bool established_due; /* admitted: >CLIENT:ESTABLISHED follows client-auth's answer
				       */
	} * cids;		      /* by peer-id, max_clients of them */
	struct em_pending **pending;  /* by peer-id */
	uint32_t max_clients;	      /* 0 until engine_mgmt_set_max_clients */
	bool client_auth;	      /* management_client_auth */
	ev_timer status_timer;
	ev_timer established_timer; /* next loop turn: after the SUCCESS line of client-auth */
	uint32_t *due, n_due;	    /* peer-ids whose established_due is set, each once */
	char *status_file;
	unsigned status_version;
	char answer[EM_ERR_MAX]; /* an error to a command, when it is built */
};

static uint64_t cid_of(struct engine_mgmt *em, const struct session *s)
{
	uint32_t id = session_peer_id(s);

	if (id >= em->max_clients)
		return UINT64_MAX;
	if (em->cids[id].s != s) {
		em->cids[id].s = s;
		em->cids[id].cid = em->cids[id].uses++ * em->max_clients + id;
		em->cids[id].notified = false;
		em->cids[id].established_due = false;
	}
	return em->cids[id].cid;
}

static struct session *find_cid(struct engine_mgmt *em, uint64_t cid)
{
	struct server *srv = em->e->server;
	uint32_t id = em->max_clients ? (uint32_t)(cid % em->max_clients) : 0;
	struct session *s = srv && em->max_clients ? server_find(srv, id) : NULL;

	return s && em->cids[id].s == s && em->cids[id].cid == cid ? s : NULL;
}

/* The clients a status report lists: admitted ones. */
static bool listed(const struct session *s)
{
	return session_state(s) == SESSION_ACTIVE && session_address(s)[0];
}

struct status_strings {
	char real[UDP_ADDR_TEXT_MAX];
	char vaddr6[INET6_ADDRSTRLEN];
	char subnet[SESSION_ROUTES_MAX][IP_PREFIX_TEXT_MAX];
	const char *routes[SESSION_ROUTES_MAX];
};

/*
 * The subnets routed to the client (its iroutes) as the routing table lists
 * them: "10.9.0.0/24", and a single host without its length, as OpenVPN's
 * mroute_addr_print does.
 */
static size_t status_routes(struct server *srv, const struct session *s, struct status_strings *str)
{
	const struct ip_prefix *prefixes;
	size_t n = server_client_subnets(srv, session_peer_id(s), &prefixes);

	n = n < SESSION_ROUTES_MAX ? n : SESSION_ROUTES_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct ip_prefix *p = &prefixes[i];

		if (p->len == ip_addr_size(&p->addr) * 8)
			ip_addr_format(&p->addr, str->subnet[i], IP_PREFIX_TEXT_MAX);
		else
			ip_prefix_format(p, str->subnet[i], IP_PREFIX_TEXT_MAX);
		str->routes[i] = str->subnet[i];
	}
	return n;
}

static void em_status(void *ctx, struct mgmt_buf *out, int version, const char *eol)
{
	struct engine_mgmt *em = ctx;
	struct server *srv = em->e->server;
	size_t n = srv ? server_session_count(srv) : 0, k = 0;
	struct mgmt_client *rows = calloc(n ? n : 1, sizeof(*rows));
	struct status_strings *str = calloc(n ? n : 1, sizeof(*str));
	if (!rows || !str) {
		out->failed = true;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct session *s = server_session(srv, i);
		const struct dchan_counters *c = session_counters(s);
		const struct ip_addr *a6 = session_vpn_addr6(s);

		if (!listed(s))
			continue;
		udp_addr_format(session_peer(s), str[k].real, sizeof(str[k].real));
		if (a6->family)
			ip_addr_format(a6, str[k].vaddr6, sizeof(str[k].vaddr6));
		rows[k] = (struct mgmt_client){
			.cn = session_cn(s),
			.username = session_username(s),
			.real_address = str[k].real,
			.vaddr4 = session_address(s),
			.vaddr6 = str[k].vaddr6,
			.cipher = session_cipher(s),
			.bytes_in = c->bytes_in,
			.bytes_out = c->bytes_out,
			.connected_since = (int64_t)session_connected_at(s),
			.cid = cid_of(em, s),
			.peer_id = session_peer_id(s),
			.routes = str[k].routes,
			.n_routes = status_routes(srv, s, &str[k]),
		};
		k++;
	}
	mgmt_format_status(out,
			   &(struct mgmt_status){ .title = EM_TITLE,
						  .now = (int64_t)ev_now(em->e->loop),
						  .clients = rows,
						  .n_clients = k,
						  .eol = eol },
			   version);
out:
	free(rows);
	free(str);
}

static void em_load_stats(void *ctx, unsigned *nclients, uint64_t *in, uint64_t *out)
{
	struct engine_mgmt *em = ctx;
	struct server *srv = em->e->server;

	*nclients = 0;
	for (size_t i = 0; srv && i < server_session_count(srv); i++)
		*nclients += listed(server_session(srv, i));
	if (srv) {
		struct server_stats st;

		/* What the socket read (as OpenVPN's link bytes), and the data sent. */
		server_stats(srv, &st);
		*in = st.bytes_in;
		*out = st.data_bytes_out;
	}
}

/* "ADDRESS,PORT" of the first of "udp://A:P tcp://B:Q", or "," for a wildcard address. */
static void listen_part(struct mgmt_buf *out, const char *listen)
{
	const char *host = listen ? strstr(listen, "://") : NULL;
	size_t len = host ? strcspn(host + 3, " ") : 0;
	const char *colon;
	char addr[INET6_ADDRSTRLEN + 2];

	if (!host || len >= sizeof(addr)) {
		mgmt_buf_printf(out, ",");
		return;
	}
	memcpy(addr, host + 3, len);
	addr[len] = '\0';
	colon = strrchr(addr, ':');
	if (!colon || strncmp(addr, "0.0.0.0:", 8) == 0 || strncmp(addr, "[::]:", 5) == 0) {
		mgmt_buf_printf(out, ",");
		return;
	}
	mgmt_buf_printf(out, "%.*s,%s", (int)(colon - addr) - (addr[0] == '[' ? 2 : 0),
			addr + (addr[0] == '['), colon + 1);
}

static void em_state(void *ctx, struct mgmt_buf *out)
{
	struct engine_mgmt *em = ctx;
	const struct config *cfg = em->e->cfg;
	char local[INET6_ADDRSTRLEN] = "", local6[INET6_ADDRSTRLEN] = "";
	struct ip_addr a;

	if (cfg && ip_prefix_host(&a, &cfg->network, 1))
		ip_addr_format(&a, local, sizeof(local));
	if (cfg && cfg->has_network6 && ip_prefix_host(&a, &cfg->network6, 1))
		ip_addr_format(&a, local6, sizeof(local6));
	/* A server is connected from its start: the time it came up, its own VPN addresses,
	 * no remote, and where it listens (empty when on every address), as OpenVPN's
	 * log_entry_print with LOG_PRINT_LOCAL_IP | LOG_PRINT_REMOTE_IP. */
	mgmt_buf_printf(out, "%lld,CONNECTED,SUCCESS,%s,,,", (long long)em->e->started_at, local);
	listen_part(out, cfg ? cfg->listen : NULL);
	if (local6[0])
		mgmt_buf_printf(out, ",%s", local6);
}

static int em_kill(void *ctx, const char *cn, const char *addr, int port)
{
	struct engine_mgmt *em = ctx;
	struct server *srv = em->e->server;
	int n = 0;

	for (size_t i = 0; srv && i < server_session_count(srv); i++) {
		struct session *s = server_session(srv, i);
		const struct sockaddr *sa = session_peer(s);
		char ip[UDP_ADDR_TEXT_MAX];
		bool match;

		if (session_state(s) == SESSION_CLOSING)
			continue;
		if (cn) {
			match = strcmp(session_cn(s), cn) == 0;
		} else {
			const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

			match = sa->sa_family == AF_INET && ntohs(sin->sin_port) == port &&
				inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)) &&
				strcmp(ip, addr) == 0;
		}
		if (match) {
			session_kick(s, "killed by the management interface", true);
			n++;
		}
	}
	return n;
}

static bool em_client_kill(void *ctx, uint64_t cid, bool restart, const char *msg)
{
	struct engine_mgmt *em = ctx;
	struct session *s = find_cid(em, cid);
	const char *comma = strchr(msg, ',');
	char reason[SESSION_REASON_MAX];
	size_t j = 0;

	if (!s || session_state(s) == SESSION_CLOSING)
		return false;
	/* "HALT,text": the text travels in a control message: printable, no commas. */
	for (const char *p = comma ? comma + 1 : ""; *p && j + 1 < sizeof(reason); p++)
		reason[j++] = (*p < 0x20 || *p > 0x7e || *p == ',') ? ' ' : *p;
	reason[j] = '\0';
	session_kick(s, reason, restart);
	return true;
}

static void em_bytecount(void *ctx, struct mgmt_buf *out)
{
	struct engine_mgmt *em = ctx;
	struct server *srv = em->e->server;

	for (size_t i = 0; srv && i < server_session_count(srv); i++) {
		const struct session *s = server_session(srv, i);

		if (listed(s))
			mgmt_buf_printf(out, ">BYTECOUNT_CLI:%llu,%llu,%llu\r\n",
					(unsigned long long)cid_of(em, s),
					(unsigned long long)session_counters(s)->bytes_in,
					(unsigned long long)session_counters(s)->bytes_out);
	}
}

static void em_signal(void *ctx, int signo)
{
	struct engine_mgmt *em = ctx;
	unsigned n = 0;
	uint64_t in = 0, out = 0;

	switch (signo) {
	case SIGUSR1: /* OpenVPN's soft restart: for us, a reload keeps the clients */
	case SIGHUP:
		raise(SIGHUP);
		break;
	case SIGTERM:
		raise(SIGTERM);
		break;
	default: /* SIGUSR2: OpenVPN logs its statistics */
		em_load_stats(em, &n, &in, &out);
		log_info(&em->e->log, "mgmt", "%u clients, %llu bytes in, %llu bytes out", n,
			 (unsigned long long)in, (unsigned long long)out);
		break;
	}
}

static void pending_free(struct em_pending *p)
{
	for (size_t i = 0; i < p->push.n_messages; i++)
		free(p->push.messages[i]);
	policy_put(p->push.policy);
	free(p);
}

/* The pending admission of client cid, or NULL with *err saying why. */
static struct em_pending *find_pending(struct engine_mgmt *em, uint64_t cid, unsigned kid,
				       const char **err)
{
	struct session *s = find_cid(em, cid);
	struct em_pending *p = s ? em->pending[session_peer_id(s)] : NULL;

	*err = NULL;
	if (!em->client_auth)
		*err = "management_client_auth is not on";
	else if (!p || p->s != s)
		*err = "no client with this CID waits for a decision";
	else if (p->kid != kid)
		*err = "the KID is not the one of the client's >CLIENT:CONNECT";
	return *err ? NULL : p;
}

static void take_pending(struct engine_mgmt *em, struct em_pending *p)
{
	em->pending[session_peer_id(p->s)] = NULL;
}

static void env_addr(struct mgmt_buf *b, const char *prefix, const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN] = "", name[32];
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
	}
	snprintf(name, sizeof(name), "%s_ip%s", prefix, sa->sa_family == AF_INET6 ? "6" : "");
	mgmt_format_env(b, name, ip);
	snprintf(name, sizeof(name), "%s_port", prefix);
	mgmt_buf_printf(b, ">CLIENT:ENV,%s=%u\r\n", name, port);
}

/* The client's peer info, one IV_* (and UV_*) variable a line. */
static void env_peer_info(struct mgmt_buf *b, const char *info)
{
	while (*info) {
		size_t len = strcspn(info, "\n");
		const char *eq = memchr(info, '=', len);
		char name[64], value[MGMT_ENV_VALUE_MAX + 1];

		if (eq && (size_t)(eq - info) < sizeof(name) &&
		    (strncmp(info, "IV_", 3) == 0 || strncmp(info, "UV_", 3) == 0)) {
			snprintf(name, sizeof(name), "%.*s", (int)(eq - info), info);
			snprintf(value, sizeof(value), "%.*s", (int)(len - (size_t)(eq - info) - 1),
				 eq + 1);
			mgmt_format_env(b, name, value);
		}
		info += len + (info[len] == '\n');
	}
}

static unsigned client_count(struct engine_mgmt *em)
{
	unsigned n = 0;
	uint64_t in = 0, out = 0;

	em_load_stats(em, &n, &in, &out);
	return n;
}

static void env_common(struct engine_mgmt *em, struct mgmt_buf *b, const struct session *s)
{
	mgmt_format_env(b, "common_name", session_cn(s));
	if (session_username(s)[0])
		mgmt_format_env(b, "username", session_username(s));
	mgmt_buf_printf(b, ">CLIENT:ENV,time_unix=%lld\r\n", (long long)ev_now(em->e->loop));
}

/*
 * >CLIENT:CONNECT or REAUTH and its ENV block, as OpenVPN's
 * management_notify_client_needing_auth; password is what the client sent.
 */
static void notify_connect(struct engine_mgmt *em, struct em_pending *p, const char *password)
{
	const struct session *s = p->s;
	struct mgmt_buf b = { 0 };

	mgmt_buf_printf(&b, ">CLIENT:%s,%llu,%u\r\n", p->reauth ? "REAUTH" : "CONNECT",
			(unsigned long long)cid_of(em, s), p->kid);
	mgmt_buf_printf(&b, ">CLIENT:ENV,n_clients=%u\r\n", client_count(em));
	env_peer_info(&b, session_peer_info(s));
	env_addr(&b, "untrusted", session_peer(s));
	env_common(em, &b, s);
	/* OpenVPN hands the password over too (verify_user_pass_management): the
	 * management client is the one checking it. */
	if (password[0])
		mgmt_format_env(&b, "password", password);
	if (p->push.address[0])
		mgmt_format_env(&b, "ifconfig_pool_remote_ip", p->push.address);
	if (p->push.address6[0])
		mgmt_format_env(&b, "ifconfig_pool_remote_ip6", p->push.address6);
	mgmt_buf_printf(&b, ">CLIENT:ENV,END\r\n");
	if (!b.failed)
		mgmt_notify(em->mgmt, b.data, b.len);
	mgmt_buf_free(&b);
	em->cids[session_peer_id(s)].notified = true;
}

static void notify_established(struct engine_mgmt *em, const struct session *s)
{
	struct mgmt_buf b = { 0 };
	uint64_t cid = cid_of(em, s);

	mgmt_buf_printf(&b, ">CLIENT:ESTABLISHED,%llu\r\n", (unsigned long long)cid);
	mgmt_buf_printf(&b, ">CLIENT:ENV,n_clients=%u\r\n", client_count(em));
	env_addr(&b, "trusted", session_peer(s));
	env_common(em, &b, s);
	mgmt_format_env(&b, "ifconfig_pool_remote_ip", session_address(s));
	mgmt_buf_printf(&b, ">CLIENT:ENV,END\r\n");
	mgmt_buf_printf(&b, ">CLIENT:ADDRESS,%llu,%s,1\r\n", (unsigned long long)cid,
			session_address(s));
	if (!b.failed)
		mgmt_notify(em->mgmt, b.data, b.len);
	mgmt_buf_free(&b);
}

static void notify_disconnect(struct engine_mgmt *em, const struct session *s)
{
	struct mgmt_buf b = { 0 };
	const struct dchan_counters *c = session_counters(s);

	mgmt_buf_printf(&b, ">CLIENT:DISCONNECT,%llu\r\n", (unsigned long long)cid_of(em, s));
	env_addr(&b, "trusted", session_peer(s));
	env_common(em, &b, s);
	mgmt_buf_printf(&b, ">CLIENT:ENV,bytes_received=%llu\r\n>CLIENT:ENV,bytes_sent=%llu\r\n",
			(unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out);
	mgmt_buf_printf(&b, ">CLIENT:ENV,time_duration=%lld\r\n>CLIENT:ENV,END\r\n",
			(long long)(ev_now(em->e->loop) - session_connected_at(s)));
	if (!b.failed)
		mgmt_notify(em->mgmt, b.data, b.len);
	mgmt_buf_free(&b);
}

/* client-auth's config lines, parsed; the text stays in the command's lines. */
struct em_lines {
	struct script_amend amend;
	const char *push[EM_PUSH_LINES_MAX];
	char route_text[SESSION_ROUTES_MAX][IP_PREFIX_TEXT_MAX];
	const char *routes[SESSION_ROUTES_MAX];
};

static bool is_address(int family, const char *text)
{
	uint8_t bytes[16];

	return inet_pton(family, text, bytes) == 1;
}

/* The prefix length of a dotted netmask ("255.255.255.0": 24), or -1 when it is not one. */
static int netmask_len(const char *mask)
{
	struct in_addr a;
	uint32_t m;

	if (inet_pton(AF_INET, mask, &a) != 1)
		return -1;
	m = ntohl(a.s_addr);
	if (m & (~m >> 1)) /* a one after a zero */
		return -1;
	return __builtin_popcount(m);
}

/* `iroute NETWORK [NETMASK]` or `iroute-ipv6 NETWORK/LEN`: a subnet behind the client. */
static const char *add_iroute(struct em_lines *l, const char *net, const char *mask, bool v6)
{
	char *text = l->route_text[l->amend.n_routes];
	struct ip_prefix pfx;
	int len = mask ? netmask_len(mask) : 32;

	if (l->amend.n_routes == SESSION_ROUTES_MAX)
		return "iroute: more subnets than one client may have";
	if (len < 0)
		return "iroute: the netmask is not an IPv4 netmask";
	if (v6)
		snprintf(text, IP_PREFIX_TEXT_MAX, "%s", net);
	else
		snprintf(text, IP_PREFIX_TEXT_MAX, "%s/%d", net, len);
	if ((!v6 && !is_address(AF_INET, net)) || (v6 && !strchr(net, '/')) ||
	    !ip_prefix_parse(&pfx, text) || (v6 && pfx.addr.family != AF_INET6))
		return v6 ? "iroute-ipv6: expected an IPv6 prefix, NETWORK/LEN"
			  : "iroute: expected an IPv4 NETWORK [NETMASK]";
	ip_prefix_format(&pfx, text, IP_PREFIX_TEXT_MAX);
	l->routes[l->amend.n_routes++] = text;
	return NULL;
}

/* `ifconfig-ipv6-push ADDRESS/LEN [REMOTE]`: the client's IPv6 address. */
static const char *ifconfig_ipv6(struct em_lines *l, char *arg)
{
	char *slash = strchr(arg, '/'), *end;
	unsigned long len = slash ? strtoul(slash + 1, &end, 10) : 0;

	if (!slash || end == slash + 1 || *end || len > 128)
		return "ifconfig-ipv6-push: expected ADDRESS/LEN";
	*slash = '\0';
	if (!is_address(AF_INET6, arg))
		return "ifconfig-ipv6-push: the address is not an IPv6 address";
	l->amend.address6 = arg;
	l->amend.len6 = (unsigned)len;
	return NULL;
}

/*
 * One client-connect config line of client-auth; NULL when taken. These
 * are the lines of a --client-connect script's file that concern one
 * client's admission in moonvpn.
 */
static const char *parse_line(struct em_lines *l, char *line)
{
	char *argv[4];
	int argc = mgmt_split(line, argv, 4);

	if (argc < 0)
		return "a config line that does not parse";
	if (argc == 0 || argv[0][0] == '#' || argv[0][0] == ';')
		return NULL;
	if (strcmp(argv[0], "push") == 0 && argc == 2) {
		for (const char *c = argv[1]; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return "a push option with a control character";
		if (l->amend.n_push == EM_PUSH_LINES_MAX)
			return "more push lines than a client's PUSH_REPLY can carry";
		l->push[l->amend.n_push++] = argv[1];
		return NULL;
	}
	if (strcmp(argv[0], "iroute") == 0 && argc >= 2)
		return add_iroute(l, argv[1], argc > 2 ? argv[2] : NULL, false);
	if (strcmp(argv[0], "iroute-ipv6") == 0 && argc == 2)
		return add_iroute(l, argv[1], NULL, true);
	if (strcmp(argv[0], "ifconfig-push") == 0 && argc >= 3) {
		if (!is_address(AF_INET, argv[1]))
			return "ifconfig-push: the address is not an IPv4 address";
		l->amend.address = argv[1];
		l->amend.netmask = argv[2];
		return NULL;
	}
	if (strcmp(argv[0], "ifconfig-ipv6-push") == 0 && argc >= 2)
		return ifconfig_ipv6(l, argv[1]);
	return "unsupported config line: push \"OPTION\", iroute, iroute-ipv6, ifconfig-push and "
	       "ifconfig-ipv6-push are";
}

/* The admission with the lines' changes in, replacing p's; NULL, or why not (nothing changed). */
static const char *amend(struct engine_mgmt *em, struct em_pending *p, struct em_lines *l)
{
	struct session_push amended;
	struct script_amend *a = &l->amend;

	if (!a->address && !a->address6 && !a->n_push && !a->n_routes)
		return NULL;
	a->push = l->push;
	a->routes = l->routes;
	if (script_client_amend(em->e->script, session_peer_id(p->s), a, &amended) < 0) {
		snprintf(em->answer, sizeof(em->answer), "%s", amended.reason);
		return em->answer;
	}
	for (size_t i = 0; i < p->push.n_messages; i++)
		free(p->push.messages[i]);
	policy_put(p->push.policy);
	p->push = amended; /* its messages and its policy reference are ours */
	return NULL;
}

/*
 * A renegotiation decided: refusal NULL lets the new key in (client-auth's
 * config lines are not read: the client is connected already, as OpenVPN's
 * management_client_auth does). A refused one ends the client at once,
 * where OpenVPN lets the old key live up to tran-window.
 */
static const char *decide_reauth(struct engine_mgmt *em, struct em_pending *p, const char *refusal)
{
	bool held = session_reauth_decide(p->s, (uint8_t)p->kid, refusal);

	take_pending(em, p);
	pending_free(p);
	return held ? NULL : "the renegotiation this answers was given up (the hand-window passed)";
}

static const char *em_client_auth(void *ctx, uint64_t cid, unsigned kid, char **lines, size_t n)
{
	struct engine_mgmt *em = ctx;
	const char *err;
	struct em_pending *p = find_pending(em, cid, kid, &err);
	struct session *s;

	struct em_lines parsed = { 0 };

	if (!p)
		return err;
	if (p->reauth)
		return decide_reauth(em, p, NULL);
	/* On an error the client still waits: the management client may answer again. */
	for (size_t i = 0; i < n; i++)
		if ((err = parse_line(&parsed, lines[i])))
			return err;
	if ((err = amend(em, p, &parsed)))
		return err;
	take_pending(em, p);
	s = p->s;
	if (server_admit(em->e->server, s, &p->push)) {
		/* What on_client_decided does for a client admitted at once (engine.c). */
		notify_status_changed(&em->e->notify);
		metrics_admitted(em->e->metrics, s);
		/* At most once each: the list has room for every peer-id. */
		if (!em->cids[session_peer_id(s)].established_due) {
			em->cids[session_peer_id(s)].established_due = true;
			em->due[em->n_due++] = session_peer_id(s);
		}
		ev_timer_start(em->e->loop, &em->established_timer);
	} else
		script_client_revoke(em->e->script, session_peer_id(s));
	pending_free(p);
	return NULL;
}

static const char *em_client_deny(void *ctx, uint64_t cid, unsigned kid, const char *reason,
				  const char *client_reason)
{
	struct engine_mgmt *em = ctx;
	const char *err;
	struct em_pending *p = find_pending(em, cid, kid, &err);
	char clean[SESSION_REASON_MAX];
	size_t j = 0;

	if (!p)
		return err;
	take_pending(em, p);
	log_info(&em->e->log, "mgmt", "client %llu (%s) denied: %s", (unsigned long long)cid,
		 session_cn(p->s), reason);
	/* The client's reason travels in AUTH_FAILED: printable. */
	for (const char *c = client_reason ? client_reason : ""; *c && j + 1 < sizeof(clean); c++)
		clean[j++] = (*c < 0x20 || *c > 0x7e) ? ' ' : *c;
	clean[j] = '\0';
	if (p->reauth)
		return decide_reauth(em, p, clean);
	script_client_revoke(em->e->script, session_peer_id(p->s));
	metrics_refused(em->e->metrics, p->s);
	session_refuse(p->s, clean);
	pending_free(p);
	return NULL;
}

static const char *em_client_pending(void *ctx, uint64_t cid, unsigned kid, const char *extra,
				     unsigned timeout)
{
	struct engine_mgmt *em = ctx;
	const char *err;
	struct em_pending *p = find_pending(em, cid, kid, &err);

	if (!p)
		return err;
	if (p->reauth)
		return "the client is renegotiating (REAUTH): answer with client-auth or "
		       "client-deny";
	if (!session_auth_pending(p->s, extra, timeout))
		return "EXTRA is too long (at most 1023 bytes)";
	return NULL;
}

static void em_log_tap(void *ctx, enum log_level level, const char *line)
{
	struct engine_mgmt *em = ctx;

	if (em->mgmt)
		mgmt_log_line(em->mgmt, level, line);
}

/* Writes the status file whole (atomicfile.h): a reader never sees half a report. */
static void write_status(struct engine_mgmt *em)
{
	struct mgmt_buf b = { 0 };
	int rc;

	em_status(em, &b, (int)em->status_version, "\n");
	if (b.failed)
		log_warnx(&em->e->log, "status", "status report too large or out of memory");
	else if ((rc = atomicfile_write(em->status_file, b.data, b.len, 0644, false)) < 0)
		log_ratelimited(&em->e->log, LOG_WARN, "status", "cannot write %s: %s",
				em->status_file, strerror(-rc));
	mgmt_buf_free(&b);
}

static void on_established_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct engine_mgmt *em = w->data;
	struct server *srv = em->e->server;

	(void)loop;
	(void)revents;
	/* The clients admitted since the last turn only: not a walk over every client. */
	for (uint32_t i = 0; i < em->n_due; i++) {
		uint32_t id = em->due[i];
		const struct session *s = srv ? server_find(srv, id) : NULL;

		if (s && em->cids[id].s == s && em->cids[id].established_due) {
			em->cids[id].established_due = false;
			if (session_state(s) == SESSION_ACTIVE)
				notify_established(em, s);
		}
	}
	em->n_due = 0;
}

static void on_status_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	write_status(w->data);
}

struct engine_mgmt *engine_mgmt_new(struct engine *e)
{
	struct engine_mgmt *em = calloc(1, sizeof(*em));

	if (!em)
		return NULL;
	em->e = e;
	em->ops = (struct mgmt_ops){
		.status = em_status,
		.load_stats = em_load_stats,
		.state = em_state,
		.kill = em_kill,
		.client_kill = em_client_kill,
		.bytecount = em_bytecount,
		.signal = em_signal,
		.client_auth = em_client_auth,
		.client_deny = em_client_deny,
		.client_pending = em_client_pending,
		.ctx = em,
	};
	em->mgmt = mgmt_new(e->loop, &e->log, &em->ops, EM_TITLE);
	if (!em->mgmt) {
		free(em);
		return NULL;
	}
	ev_init(&em->status_timer, on_status_timer);
	em->status_timer.data = em;
	ev_timer_init(&em->established_timer, on_established_timer, 0, 0);
	em->established_timer.data = em;
	e->log.tap = em_log_tap;
	e->log.tap_ctx = em;
	return em;
}

/* The first line of the password file, as OpenVPN's management password file. */
static int read_password(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		snprintf(err, errlen, "management_password %s: %s", path, strerror(errno));
		return -1;
	}
	if (!fgets(out, (int)outlen, f))
		out[0] = '\0';
	fclose(f);
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	if (n == 0 || n >= outlen - 1) {
		snprintf(err, errlen,
			 "management_password %s: its first line must hold the password (1 to "
			 "%zu bytes)",
			 path, outlen - 2);
		return -1;
	}
	return 0;
}

int engine_mgmt_apply(struct engine_mgmt *em, const struct config *cfg, char *err, size_t errlen)
{
	char password[MGMT_PASSWORD_MAX + 2];
	int rc;

	if (cfg->mgmt_password_file &&
	    read_password(cfg->mgmt_password_file, password, sizeof(password), err, errlen) < 0)
		return -1;
	rc = mgmt_listen(em->mgmt, cfg->mgmt_where, cfg->mgmt_password_file ? password : NULL, err,
			 errlen);
	explicit_bzero(password, sizeof(password));
	if (rc < 0)
		return -1;
	if (cfg->mgmt_where)
		log_info(&em->e->log, "mgmt", "management interface on %s%s", cfg->mgmt_where,
			 cfg->mgmt_password_file ? " (with a password)" : "");
	em->client_auth = cfg->mgmt_client_auth;
	ev_timer_stop(em->e->loop, &em->status_timer);
	free(em->status_file);
	em->status_file = cfg->status_file ? strdup(cfg->status_file) : NULL;
	if (em->status_file) {
		em->status_version = cfg->status_version;
		ev_timer_set(&em->status_timer, 0, cfg->status_interval);
		ev_timer_start(em->e->loop, &em->status_timer);
	}
	return 0;
}

void engine_mgmt_connect(struct engine_mgmt *em, struct session *s)
{
	(void)cid_of(em, s);
}

bool engine_mgmt_hold(struct engine_mgmt *em, struct session *s, struct session_push *push)
{
	uint32_t id = session_peer_id(s);
	struct em_pending *p;

	if (!em->client_auth || id >= em->max_clients)
		return false;
	p = calloc(1, sizeof(*p));
	if (!p) {
		session_refuse(s, "the server is out of memory");
		return true;
	}
	p->s = s;
	p->push = *push;
	p->kid = session_key_id(s);
	push->n_messages = 0; /* the messages are ours now */
	if (p->push.policy)
		policy_get(p->push.policy);
	if (em->pending[id])
		pending_free(em->pending[id]);
	em->pending[id] = p;
	notify_connect(em, p, session_password(s));
	return true;
}

bool engine_mgmt_reauth(struct engine_mgmt *em, struct session *s, uint8_t key_id,
			const char *password)
{
	uint32_t id = session_peer_id(s);
	struct em_pending *p;

	if (!em->client_auth || id >= em->max_clients || !(p = calloc(1, sizeof(*p))))
		return false;
	*p = (struct em_pending){ .s = s, .kid = key_id, .reauth = true };
	snprintf(p->push.address, sizeof(p->push.address), "%s", session_address(s));
	if (em->pending[id])
		pending_free(em->pending[id]);
	em->pending[id] = p;
	notify_connect(em, p, password);
	return true;
}

bool engine_mgmt_cr_response(struct engine_mgmt *em, struct session *s, const char *response)
{
	uint32_t id = session_peer_id(s);
	struct em_pending *p = id < em->max_clients ? em->pending[id] : NULL;
	struct mgmt_buf b = { 0 };

	if (!p || p->s != s)
		return false;
	/* As OpenVPN's management_notify_client_cr_response: the base64 answer as sent. */
	mgmt_buf_printf(&b, ">CLIENT:CR_RESPONSE,%llu,%u,", (unsigned long long)cid_of(em, s),
			p->kid);
	for (const char *c = response; *c; c++)
		mgmt_buf_printf(&b, "%c", (*c < 0x20 || *c > 0x7e) ? '_' : *c);
	mgmt_buf_printf(&b, "\r\n");
	env_common(em, &b, s);
	mgmt_buf_printf(&b, ">CLIENT:ENV,END\r\n");
	if (!b.failed)
		mgmt_notify(em->mgmt, b.data, b.len);
	mgmt_buf_free(&b);
	return true;
}

void engine_mgmt_ended(struct engine_mgmt *em, struct session *s, const char *reason)
{
	uint32_t id = session_peer_id(s);

	(void)reason;
	if (id >= em->max_clients)
		return;
	if (em->pending[id] && em->pending[id]->s == s) {
		pending_free(em->pending[id]);
		em->pending[id] = NULL;
	}
	if (em->cids[id].s == s) {
		if (em->cids[id].notified)
			notify_disconnect(em, s);
		em->cids[id].s = NULL;
	}
}

int engine_mgmt_set_max_clients(struct engine_mgmt *em, uint32_t max_clients)
{
	if (em->max_clients)
		return em->max_clients == max_clients ? 0 : -EBUSY;
	em->cids = calloc(max_clients, sizeof(*em->cids));
	em->pending = calloc(max_clients, sizeof(*em->pending));
	em->due = calloc(max_clients, sizeof(*em->due));
	if (!em->cids || !em->pending || !em->due) {
		free(em->cids);
		free(em->pending);
		free(em->due);
		em->cids = NULL;
		em->pending = NULL;
		em->due = NULL;
		return -ENOMEM;
	}
	em->max_clients = max_clients;
	return 0;
}

void engine_mgmt_free(struct engine_mgmt *em)
{
	if (!em)
		return;
	ev_timer_stop(em->e->loop, &em->status_timer);
	ev_timer_stop(em->e->loop, &em->established_timer);
	em->e->log.tap = NULL;
	for (uint32_t i = 0; i < em->max_clients; i++)
		if (em->pending[i])
			pending_free(em->pending[i]);
	free(em->pending);
	free(em->cids);
	free(em->due);
	mgmt_free(em->mgmt);
	free(em->status_file);
	free(em);
}
