/* SPDX-License-Identifier: MIT */
/*
 * The Lua VM of an engine: creating it with the moonvpn library on its
 * path, running and validating configuration files, and evaluating console
 * input. The only C module besides the lua_*.c bindings that includes
 * lua.h. It does not open devices or sockets; the engine does that with
 * the struct config it gets back.
 */
#ifndef MOONVPN_SCRIPT_H
#define MOONVPN_SCRIPT_H

#include <stddef.h>

#include "config.h"
#include "console.h"
#include "flow.h"
#include "resolver.h"
#include "session.h"

/* Registry keys of the normalized configuration tables (read by lua_engine.c). */
#define SCRIPT_REG_PENDING_CONFIG "moonvpn.config.pending"
#define SCRIPT_REG_ACTIVE_CONFIG  "moonvpn.config.active"
#define SCRIPT_REG_ACTIVE_OBJECT  "moonvpn.config.active_object" /* what vpn.server returned */

struct engine;
struct script;

/*
 * A new VM whose Lua library lives under root (root/lua/moonvpn/,
 * root/plugins/). engine may be NULL (for --check): then the console
 * built-ins that need a running engine raise an error.
 */
struct script *script_new(struct engine *engine, const char *root, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Closes the VM. NULL is a no-op. */
void script_free(struct script *s);

/*
 * Room for the hooks of max_clients clients (by peer-id), before the first
 * client: once, for good (a second call with another size is -EBUSY); -ENOMEM.
 */
int script_set_max_clients(struct script *s, uint32_t max_clients)
	__attribute__((warn_unused_result));

/* A full collection of the VM's garbage: once a storm of handshakes is over, not per client. */
void script_collect(struct script *s);

/*
 * Runs and validates the configuration file at path. On success *out is a
 * new struct config (owned by the caller) and the normalized table is kept
 * as pending; on failure err holds one line "file:line: field: problem".
 */
int script_load_config(struct script *s, const char *path, struct config **out, char *err,
		       size_t errlen) __attribute__((warn_unused_result));

/*
 * Whether the configuration last loaded may replace the active one: -EPERM with
 * err "reload refused: `FIELD` changed ...; this needs a restart" when it changes a
 * field moonvpn.config's RELOAD table marks "restart", 0 when every change applies.
 */
int script_check_reload(struct script *s, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The configuration last loaded becomes the active one (what config() shows). */
void script_commit_config(struct script *s);

/*
 * The active configuration's policy, compiled for the data path (a new
 * reference; the caller puts it), and now the one new clients' groups are
 * reckoned against. NULL with err set on failure.
 */
struct policy *script_policy(struct script *s, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* A connected client's group bits under the policy last made active. */
uint64_t script_client_groups(struct script *s, uint32_t peer_id);

/* on.flow's answer for the flow key (ok false: it failed), for lifetime seconds (0: no limit). */
typedef void (*script_flow_fn)(void *ctx, const struct flow_key *key, bool ok,
			       enum policy_verdict verdict, double lifetime);

/*
 * Asks the active server's on.flow about a new flow of sess, in a hook
 * coroutine; done is called once, now or later, unless the session ends
 * first (script_client_disconnect cancels the question).
 */
void script_flow(struct script *s, struct session *sess, const struct flow_key *key,
		 const struct packet_flow *flow, script_flow_fn done, void *ctx);
/* True while a hook runs. */
bool script_in_hook(struct script *s);
/* Whether the active server has an on.flow hook. */
bool script_has_flow_hook(struct script *s);

/*
 * Whether the configuration last loaded makes clients send a username and
 * password: it has on.auth, and auth.password "required" (or no certificates).
 */
bool script_asks_password(struct script *s);

/* on.tls_crypt_v2's answer on a client's key: ok, or the reason it is refused. */
typedef void (*script_key_fn)(void *ctx, struct session *sess, bool ok, const char *reason);

/* Whether the active server has an on.tls_crypt_v2 hook. */
bool script_has_key_hook(struct script *s);
/*
 * Asks on.tls_crypt_v2 about a tls-crypt-v2 client's key (sess's), in a hook
 * coroutine; done is called once, now or later, unless the session ends
 * first (script_client_disconnect withdraws the question).
 */
void script_tls_crypt_v2(struct script *s, struct session *sess, script_key_fn done, void *ctx);

/* The answer of a client's auth.ask function: first and second NULL when it failed (logged). */
typedef void (*script_answer_fn)(void *ctx, const char *first, const char *second);

/*
 * Calls the active client configuration's auth.ask function in a hook
 * coroutine: with nil for the username and password (first, second), or
 * with a challenge's text and kind ("static", "dynamic") for its response
 * (first). done is called once, now or later; a new question cancels one
 * in flight (done is not called for that one).
 */
void script_client_ask(struct script *s, const char *text, const char *kind, script_answer_fn done,
		       void *ctx);

/* Whether the active client configuration has on.dns. */
bool script_has_dns_hook(struct script *s);

/* What a client's on.dns made of the pushed DNS settings. */
enum script_dns_verdict {
	SCRIPT_DNS_AS_GIVEN, /* nothing or true returned (or no hook): apply them */
	SCRIPT_DNS_CHANGED,  /* a table returned: apply that instead */
	SCRIPT_DNS_HANDLED,  /* "handled": the hook applied them itself */
	SCRIPT_DNS_REFUSED,  /* false: nothing is applied */
	SCRIPT_DNS_FAILED,   /* an error, or a wrong answer (logged) */
};

/* changed: the hook's table, with SCRIPT_DNS_CHANGED only. */
typedef void (*script_dns_fn)(void *ctx, enum script_dns_verdict v,
			      const struct resolver_dns *changed);

/*
 * Calls the active client configuration's on.dns(settings, event) in a hook
 * coroutine; event is "up" (dns as pushed) or "down" (the end: dns as last
 * given). done is called once, now or later; a new call cancels one in
 * flight (done is not called for that one).
 */
void script_client_dns(struct script *s, const char *event, const struct resolver_dns *dns,
		       const char *device, bool all_traffic, script_dns_fn done, void *ctx);

/* Whether an on.dns call is in flight. */
bool script_dns_pending(struct script *s);

/* The configuration last loaded is not going to be committed (the engine could not apply it). */
void script_discard_config(struct script *s);

/*
 * The decision on a client: push (its address and PUSH_REPLY, to be taken
 * by session_admit) when let in, else NULL and the reason it is told.
 * Returns whether the client was let in (false: it had ended meanwhile).
 */
typedef bool (*script_decided_fn)(void *ctx, struct session *sess, struct session_push *push,
				  const char *reason);

/*
 * A client finished its key exchange: moonvpn.clients.admit runs the
 * operator's on.auth and on.connect in a hook coroutine, leases its
 * address and builds its PUSH_REPLY. decided is called once, now or from
 * the loop later, unless the session ends first (script_client_disconnect).
 */
/* A client answered a challenge (CR_RESPONSE, base64): for the hook in client:wait(). */
void script_client_cr_response(struct script *s, struct session *sess, const char *response);

void script_client_connect(struct script *s, struct session *sess, script_decided_fn decided,
			   void *ctx);

/*
 * A client's session ended: hooks still deciding on it are cancelled, its
 * addresses go back to the pool and, if it had been admitted, on.disconnect
 * runs with the reason.
 */
void script_client_disconnect(struct script *s, struct session *sess, const char *reason);

/* Undoes an admission the hooks made that did not happen after all (the management client
 * refused it): on.disconnect does not run for it. */
void script_client_revoke(struct script *s, uint32_t peer_id);

/*
 * What a management client's client-auth adds to a client the hooks let in
 * (core/engine_mgmt.c): text as moonvpn.clients.amend takes it.
 */
struct script_amend {
	const char *address, *netmask; /* ifconfig-push LOCAL NETMASK, or NULL */
	const char *address6;	       /* ifconfig-ipv6-push ADDRESS/LEN, or NULL */
	unsigned len6;
	const char *const *push; /* push "OPTION" lines */
	size_t n_push;
	const char *const *routes; /* iroute lines, as prefixes: "10.9.0.0/24" */
	size_t n_routes;
};

/*
 * Applies a's lines to the admission of peer_id (moonvpn.clients.amend):
 * its leases move, its PUSH_REPLY is built again, and push receives the
 * admission as script_client_connect's decided does. 0, or -1 with push->reason
 * saying why (nothing changed then).
 */
int script_client_amend(struct script *s, uint32_t peer_id, const struct script_amend *a,
			struct session_push *push);

/* Console sessions, one per connected client. */
void script_console_open(struct script *s, unsigned id);
void script_console_close(struct script *s, unsigned id);
/* Evaluates one line; *text is a malloc'd reply for the client. */
enum console_reply script_console_feed(struct script *s, unsigned id, const char *line, size_t len,
				       char **text, size_t *text_len);

#endif
