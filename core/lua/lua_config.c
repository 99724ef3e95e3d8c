// SPDX-License-Identifier: MIT
/*
 * Reads a configuration table, already validated and normalized by
 * moonvpn.config, into a struct config. A mismatch here is a bug in the
 * schema, not a user error, and says so.
 */
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compframe.h"
#include "lua_config.h"
#include "lua_core.h"
#include "pushopts.h"

struct reader {
	lua_State *L;
	char *err;
	size_t errlen;
};

static int bad(struct reader *r, const char *field)
{
	snprintf(r->err, r->errlen, "internal error: validated config has a bad %s", field);
	return -EINVAL;
}

/* Pushes t[path...] for a dotted path like "device.mtu". */
static void push_field(lua_State *L, int idx, const char *path)
{
	char key[64];
	const char *dot;

	lua_pushvalue(L, idx);
	while (lua_istable(L, -1)) {
		dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		lua_core_raw_field(L, -1, key);
		lua_remove(L, -2);
		if (!dot)
			return;
		path = dot + 1;
	}
	lua_pop(L, 1);
	lua_pushnil(L);
}

static int read_string(struct reader *r, int idx, const char *path, char **out, bool optional)
{
	push_field(r->L, idx, path);
	if (lua_isnil(r->L, -1) && optional) {
		lua_pop(r->L, 1);
		*out = NULL;
		return 0;
	}
	if (lua_type(r->L, -1) != LUA_TSTRING) {
		lua_pop(r->L, 1);
		return bad(r, path);
	}
	*out = strdup(lua_tostring(r->L, -1));
	lua_pop(r->L, 1);
	return *out ? 0 : -ENOMEM;
}

static int read_prefix(struct reader *r, int idx, const char *path, struct ip_prefix *out)
{
	char *text;
	int rc = read_string(r, idx, path, &text, false);

	if (rc)
		return rc;
	rc = ip_prefix_parse(out, text) ? 0 : bad(r, path);
	free(text);
	return rc;
}

/* Pushes the list at field and sets *n to its length; the caller pops it. */
static int push_list(struct reader *r, int idx, const char *field, size_t *n)
{
	push_field(r->L, idx, field);
	if (!lua_istable(r->L, -1)) {
		lua_pop(r->L, 1);
		return bad(r, field);
	}
	*n = (size_t)lua_core_raw_len(r->L, -1);
	return 0;
}

/* A list of CIDR prefixes at field (routes, routes_outside) into a calloc'd array. */
static int read_prefixes(struct reader *r, int idx, const char *field, struct ip_prefix **out,
			 size_t *count)
{
	lua_State *L = r->L;
	size_t n;
	int rc = push_list(r, idx, field, &n);

	if (rc)
		return rc;
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out) {
		lua_pop(L, 1);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, -1, (lua_Integer)(i + 1));
		const char *text = lua_tostring(L, -1);
		bool ok = text && ip_prefix_parse(&(*out)[i], text);
		lua_pop(L, 1);
		if (!ok) {
			lua_pop(L, 1);
			return bad(r, field);
		}
	}
	*count = n;
	lua_pop(L, 1);
	return 0;
}

static int read_routes(struct reader *r, int idx, struct config *cfg)
{
	return read_prefixes(r, idx, "routes", &cfg->routes, &cfg->n_routes);
}

/* A list of strings (ciphers, remotes) into a malloc'd array. */
static int read_string_list(struct reader *r, int idx, const char *field, char ***out,
			    size_t *count)
{
	lua_State *L = r->L;
	size_t n;
	int rc = push_list(r, idx, field, &n);

	if (rc)
		return rc;
	*out = calloc(n ? n : 1, sizeof(**out));
	for (size_t i = 0; *out && i < n; i++) {
		lua_rawgeti(L, -1, (lua_Integer)(i + 1));
		(*out)[i] = lua_isstring(L, -1) ? strdup(lua_tostring(L, -1)) : NULL;
		lua_pop(L, 1);
		if (!(*out)[i])
			break;
		(*count)++;
	}
	lua_pop(L, 1);
	return *out && *count == n ? 0 : -ENOMEM;
}

static unsigned read_unsigned(struct reader *r, int idx, const char *path)
{
	unsigned v;

	push_field(r->L, idx, path);
	v = (unsigned)lua_tointeger(r->L, -1);
	lua_pop(r->L, 1);
	return v;
}

static int read_keepalive(struct reader *r, int idx, struct config *cfg)
{
	cfg->keepalive_interval = read_unsigned(r, idx, "keepalive.interval");
	cfg->keepalive_timeout = read_unsigned(r, idx, "keepalive.timeout");
	return cfg->keepalive_interval && cfg->keepalive_timeout ? 0 : bad(r, "keepalive");
}

static void read_renegotiate(struct reader *r, int idx, struct config *cfg)
{
	cfg->reneg_seconds = read_unsigned(r, idx, "renegotiate.seconds");
	push_field(r->L, idx, "renegotiate.bytes");
	cfg->reneg_bytes = (uint64_t)lua_tointeger(r->L, -1);
	lua_pop(r->L, 1);
}

static bool read_bool(struct reader *r, int idx, const char *path)
{
	bool v;

	push_field(r->L, idx, path);
	v = lua_toboolean(r->L, -1);
	lua_pop(r->L, 1);
	return v;
}

static void read_offload(struct reader *r, int idx, struct config_offload *o)
{
	o->tun = read_bool(r, idx, "offload.tun");
	o->uso = read_bool(r, idx, "offload.uso");
	o->coalesce = read_bool(r, idx, "offload.coalesce");
	o->gso = read_bool(r, idx, "offload.gso");
	o->gro = read_bool(r, idx, "offload.gro");
}

static int read_device(struct reader *r, int idx, struct config *cfg)
{
	char *text = NULL;
	int rc = read_string(r, idx, "device.type", &text, false);

	if (rc)
		return rc;
	cfg->device.type = strcmp(text, "tap") == 0 ? DEVICE_TAP : DEVICE_TUN;
	free(text);
	rc = read_string(r, idx, "device.name", &text, true);
	if (rc)
		return rc;
	if (text && strlen(text) >= sizeof(cfg->device.name)) {
		free(text);
		return bad(r, "device.name");
	}
	snprintf(cfg->device.name, sizeof(cfg->device.name), "%s", text ? text : "");
	free(text);
	push_field(r->L, idx, "device.mtu");
	cfg->device.mtu = (unsigned)lua_tointeger(r->L, -1);
	lua_pop(r->L, 1);
	return cfg->device.mtu ? 0 : bad(r, "device.mtu");
}

static int read_log_level(struct reader *r, int idx, struct config *cfg)
{
	char *text;
	int rc = read_string(r, idx, "log_level", &text, false);

	if (rc)
		return rc;
	if (!log_level_parse(text, &cfg->log_level))
		rc = bad(r, "log_level");
	free(text);
	return rc;
}

/* An optional string into a fixed buffer ("" when absent). */
static int read_fixed(struct reader *r, int idx, const char *path, char *out, size_t size)
{
	char *text;
	int rc = read_string(r, idx, path, &text, true);

	if (rc)
		return rc;
	if (text && strlen(text) >= size)
		rc = bad(r, path);
	else
		snprintf(out, size, "%s", text ? text : "");
	free(text);
	return rc;
}

/* A client's pins on the server certificate (config.lua checked and normalized them). */
static int read_pins(struct reader *r, int idx, struct config *cfg)
{
	int rc = read_fixed(r, idx, "tls.server_name", cfg->tls_server_name,
			    sizeof(cfg->tls_server_name));

	return rc ? rc
		  : read_fixed(r, idx, "tls.server_fingerprint", cfg->tls_server_fingerprint,
			       sizeof(cfg->tls_server_fingerprint));
}

/*
 * tls.tls_crypt_v2: a server's server key, with its checks on client keys
 * (absent from a client's table), or a client's own client key.
 */
static int read_tls_crypt_v2(struct reader *r, int idx, struct config *cfg)
{
	int rc = read_string(r, idx, "tls.tls_crypt_v2", &cfg->tls_crypt_v2_key, true);

	if (rc || !cfg->tls_crypt_v2_key || cfg->role == CONFIG_CLIENT)
		return rc;
	cfg->tls_crypt_v2_max_age = read_unsigned(r, idx, "tls.tls_crypt_v2_max_age");
	return read_string_list(r, idx, "tls.tls_crypt_v2_revoked", &cfg->tls_crypt_v2_revoked,
				&cfg->n_tls_crypt_v2_revoked);
}

/* tls.key_password: the password, { file = PATH }, or true (asked on the terminal). */
static int read_key_password(struct reader *r, int idx, struct config *cfg)
{
	push_field(r->L, idx, "tls.key_password");
	cfg->tls_key_password_ask = lua_isboolean(r->L, -1) && lua_toboolean(r->L, -1);
	bool is_text = lua_type(r->L, -1) == LUA_TSTRING;

	lua_pop(r->L, 1);
	if (is_text)
		return read_string(r, idx, "tls.key_password", &cfg->tls_key_password, false);
	return read_string(r, idx, "tls.key_password.file", &cfg->tls_key_password_file, true);
}

static int read_tls(struct reader *r, int idx, struct config *cfg)
{
	int rc;

	if ((rc = read_string(r, idx, "tls.pkcs12", &cfg->tls_pkcs12, true)) ||
	    (rc = read_string(r, idx, "tls.ca", &cfg->tls_ca, cfg->tls_pkcs12 != NULL)) ||
	    /* A client may have neither (moonvpn.config checked they go together). */
	    (rc = read_string(r, idx, "tls.cert", &cfg->tls_cert, true)) ||
	    (rc = read_string(r, idx, "tls.key", &cfg->tls_key, true)) ||
	    (rc = read_string(r, idx, "tls.crl", &cfg->tls_crl, true)) ||
	    (rc = read_string(r, idx, "tls.tls_auth.key", &cfg->tls_auth_key, true)) ||
	    (rc = read_string(r, idx, "tls.tls_crypt", &cfg->tls_crypt_key, true)) ||
	    (rc = read_tls_crypt_v2(r, idx, cfg)) || (rc = read_key_password(r, idx, cfg)))
		return rc;
	push_field(r->L, idx, "tls.tls_auth.direction");
	cfg->tls_auth_direction = lua_isinteger(r->L, -1) ? (int)lua_tointeger(r->L, -1) : -1;
	lua_pop(r->L, 1);
	return read_pins(r, idx, cfg);
}

/* The flow table's size and on.flow's limits (policy.flows, .flow_idle, .pending, .fallback). */
static int read_flow_settings(struct reader *r, int idx, struct config *cfg)
{
	const char *name;
	bool ok;

	cfg->flow_max = read_unsigned(r, idx, "policy.flows");
	cfg->flow_idle = read_unsigned(r, idx, "policy.flow_idle");
	cfg->flow_pending = read_unsigned(r, idx, "policy.pending");
	push_field(r->L, idx, "policy.fallback");
	name = lua_tostring(r->L, -1);
	ok = policy_verdict_parse(name, &cfg->flow_fallback);
	lua_pop(r->L, 1);
	return ok && cfg->flow_max && cfg->flow_idle && cfg->flow_pending ? 0 : -1;
}

/* user and group, resolved to ids by moonvpn.config; no user: the engine stays root. */
static int read_identity(struct reader *r, int idx, struct config *cfg)
{
	lua_Integer uid, gid;
	int rc;

	if ((rc = read_string(r, idx, "user", &cfg->user, true)) ||
	    (rc = read_string(r, idx, "group", &cfg->group, true)) || !cfg->user)
		return rc;
	push_field(r->L, idx, "uid");
	push_field(r->L, idx, "gid");
	uid = lua_tointeger(r->L, -2);
	gid = lua_tointeger(r->L, -1);
	lua_pop(r->L, 2);
	if (uid <= 0 || uid >= (lua_Integer)UINT32_MAX || gid < 0 || gid >= (lua_Integer)UINT32_MAX)
		return bad(r, "uid or gid");
	cfg->uid = (uid_t)uid;
	cfg->gid = (gid_t)gid;
	return 0;
}

/* auth.token (moonvpn.config filled in renew); absent: no tokens. */
static int read_token(struct reader *r, int idx, struct config *cfg)
{
	push_field(r->L, idx, "auth.token");
	cfg->token = lua_istable(r->L, -1);
	lua_pop(r->L, 1);
	if (!cfg->token)
		return 0;
	cfg->token_renew = read_unsigned(r, idx, "auth.token.renew");
	cfg->token_lifetime = read_unsigned(r, idx, "auth.token.lifetime");
	if (!cfg->token_renew)
		return bad(r, "auth.token.renew");
	return read_string(r, idx, "auth.token.secret", &cfg->token_secret, true);
}

/* The server's own fields: its network, routes, listen address and keepalive. */
static int read_server(struct reader *r, int idx, struct config *cfg)
{
	char *net6 = NULL;
	int rc;

	if ((rc = read_prefix(r, idx, "network", &cfg->network)) ||
	    (rc = read_string(r, idx, "network6", &net6, true)) ||
	    (rc = read_routes(r, idx, cfg)) ||
	    (rc = read_string(r, idx, "listen", &cfg->listen, false)) ||
	    (rc = read_string_list(r, idx, "public", &cfg->public_hosts, &cfg->n_public_hosts)) ||
	    (rc = read_keepalive(r, idx, cfg)) || (rc = read_identity(r, idx, cfg)) ||
	    (rc = read_token(r, idx, cfg)) ||
	    (rc = read_string(r, idx, "management", &cfg->mgmt_where, true)) ||
	    (rc = read_string(r, idx, "management_password", &cfg->mgmt_password_file, true)) ||
	    (rc = read_string(r, idx, "status.file", &cfg->status_file, true)))
		goto out;
	cfg->mgmt_client_auth = read_bool(r, idx, "management_client_auth");
	cfg->status_interval = read_unsigned(r, idx, "status.interval");
	cfg->status_version = read_unsigned(r, idx, "status.version");
	cfg->client_to_client = read_bool(r, idx, "client_to_client");
	cfg->max_clients = read_unsigned(r, idx, "max_clients");
	cfg->workers = read_unsigned(r, idx, "workers");
	if ((rc = read_string(r, idx, "metrics.listen", &cfg->metrics_listen, true)))
		goto out;
	cfg->metrics_per_client = read_bool(r, idx, "metrics.per_client");
	cfg->metrics_per_client_max = read_unsigned(r, idx, "metrics.per_client_max");
	if (read_flow_settings(r, idx, cfg) < 0)
		rc = bad(r, "policy");
	push_field(r->L, idx, "auth.certificate");
	cfg->client_cert =
		lua_isstring(r->L, -1) && strcmp(lua_tostring(r->L, -1), "none") == 0
			? TLS_PEER_CERT_NONE
		: lua_isstring(r->L, -1) && strcmp(lua_tostring(r->L, -1), "optional") == 0
			? TLS_PEER_CERT_OPTIONAL
			: TLS_PEER_CERT_REQUIRED;
	lua_pop(r->L, 1);
	cfg->has_network6 = net6 != NULL;
	if (net6 && !ip_prefix_parse(&cfg->network6, net6))
		rc = bad(r, "network6");
out:
	free(net6);
	return rc;
}

/* redirect_gateway (OpenVPN's words, "" for none), route_nopull and pull_filter. */
static int read_pull_options(struct reader *r, int idx, struct config *cfg)
{
	char *words = NULL;
	int rc = read_string(r, idx, "compression", &words, true);

	/* A client's compression: framing only (compframe.h); config.lua checked the name. */
	if (rc == 0 && words)
		cfg->client_framing = strcmp(words, "comp-lzo") == 0  ? COMPFRAME_LZO
				      : strcmp(words, "stub-v2") == 0 ? COMPFRAME_V2
								      : COMPFRAME_NONE;
	free(words);
	words = NULL;
	if (rc == 0)
		rc = read_string(r, idx, "redirect_gateway", &words, true);

	if (rc == 0 && words && words[0])
		cfg->redirect_gateway = push_redirect_parse(words);
	free(words);
	push_field(r->L, idx, "route_nopull");
	cfg->route_nopull = lua_toboolean(r->L, -1);
	lua_pop(r->L, 1);
	return rc ? rc
		  : read_string_list(r, idx, "pull_filter", &cfg->pull_filter, &cfg->n_pull_filter);
}

/* auth_retry, auth.ask (true: the terminal; a function: the script) and auth.static_challenge. */
static int read_client_auth_asks(struct reader *r, int idx, struct config *cfg)
{
	static const char *const retries[] = { "none", "nointeract", "interact" };
	char *retry;
	int rc = read_string(r, idx, "auth_retry", &retry, false);

	for (size_t i = 0; rc == 0 && i < sizeof(retries) / sizeof(retries[0]); i++)
		if (strcmp(retry, retries[i]) == 0)
			cfg->auth_retry = (enum config_auth_retry)i;
	if (rc == 0)
		free(retry);
	push_field(r->L, idx, "auth.ask");
	cfg->auth_ask = lua_isfunction(r->L, -1)  ? AUTH_ASK_FUNCTION
			: lua_toboolean(r->L, -1) ? AUTH_ASK_TERMINAL
						  : AUTH_ASK_NONE;
	lua_pop(r->L, 1);
	if (rc == 0)
		rc = read_string(r, idx, "auth.static_challenge.text", &cfg->auth_static_challenge,
				 true);
	if (rc == 0 && cfg->auth_static_challenge)
		cfg->auth_static_echo = read_bool(r, idx, "auth.static_challenge.echo");
	return rc;
}

/* The client's own fields: its servers, the resolver and the reconnect backoff. */
static int read_client(struct reader *r, int idx, struct config *cfg)
{
	int rc = read_string_list(r, idx, "remote", &cfg->remotes, &cfg->n_remotes);

	/* Its own routes (a profile's route lines), added to the pushed ones (pushdev.h). */
	if (rc == 0)
		rc = read_routes(r, idx, cfg);
	if (rc == 0)
		rc = read_prefixes(r, idx, "routes_outside", &cfg->routes_outside,
				   &cfg->n_routes_outside);
	if (rc == 0)
		rc = read_identity(r, idx, cfg);
	if (rc == 0)
		rc = read_string(r, idx, "dns", &cfg->dns, false);
	if (rc == 0)
		rc = read_string(r, idx, "auth.username", &cfg->auth_username, true);
	if (rc == 0)
		rc = read_string(r, idx, "auth.password", &cfg->auth_password, true);
	if (rc == 0)
		rc = read_string(r, idx, "auth.file", &cfg->auth_file, true);
	if (rc == 0)
		rc = read_pull_options(r, idx, cfg);
	if (rc == 0)
		rc = read_client_auth_asks(r, idx, cfg);
	cfg->reconnect_initial = read_unsigned(r, idx, "reconnect.initial");
	cfg->reconnect_max = read_unsigned(r, idx, "reconnect.max");
	if (rc == 0 && (!cfg->reconnect_initial || !cfg->reconnect_max))
		rc = bad(r, "reconnect");
	return rc;
}

static int read_role(struct reader *r, int idx, struct config *cfg)
{
	char *role;
	int rc = read_string(r, idx, "role", &role, false);

	if (rc)
		return rc;
	cfg->role = strcmp(role, "client") == 0 ? CONFIG_CLIENT : CONFIG_SERVER;
	free(role);
	return cfg->role == CONFIG_CLIENT ? read_client(r, idx, cfg) : read_server(r, idx, cfg);
}

int lua_config_read(lua_State *L, int idx, struct config **out, char *err, size_t errlen)
{
	struct reader r = { L, err, errlen };
	struct config *cfg = config_new();
	int rc;

	idx = lua_absindex(L, idx);
	if (!cfg)
		return -ENOMEM;
	if ((rc = read_string(&r, idx, "source", &cfg->source, false)) ||
	    (rc = read_log_level(&r, idx, cfg)) ||
	    (rc = read_string(&r, idx, "console", &cfg->console_path, true)) ||
	    (rc = read_device(&r, idx, cfg)) || (rc = read_role(&r, idx, cfg)) ||
	    (rc = read_tls(&r, idx, cfg)) ||
	    (rc = read_string_list(&r, idx, "ciphers", &cfg->ciphers, &cfg->n_ciphers)))
		goto fail;
	read_renegotiate(&r, idx, cfg);
	read_offload(&r, idx, &cfg->offload);
	cfg->mssfix = read_unsigned(&r, idx, "mssfix");
	cfg->device.offload =
		!cfg->offload.tun
			? 0
			: DEVICE_OFFLOAD_CSUM | DEVICE_OFFLOAD_TSO4 | DEVICE_OFFLOAD_TSO6 |
				  (cfg->offload.uso ? DEVICE_OFFLOAD_USO4 | DEVICE_OFFLOAD_USO6
						    : 0);
	/* A queue for each data-path worker (docs/workers.md). */
	cfg->device.multi_queue = cfg->workers > 1;
	if (!config_derive_device(cfg)) {
		rc = bad(&r, "network (no host address for the server)");
		goto fail;
	}
	*out = cfg;
	return 0;
fail:
	config_free(cfg);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory reading the configuration");
	return rc;
}
