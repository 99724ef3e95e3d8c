/* SPDX-License-Identifier: MIT */
/*
 * One OpenVPN session, server or client side: its key states (the
 * reliability layer and TLS session of each key_id), the key-method-2
 * exchange, key derivation (TLS-EKM or the legacy PRF), cipher
 * negotiation, PUSH_REQUEST/PUSH_REPLY or AUTH_FAILED, renegotiation,
 * keepalive, the data channel and the explicit exit. A server session
 * starts from the packet that echoed its cookie; a client session sends
 * its own hard reset. Sockets and Lua stay outside: datagrams go out
 * through ops->send, a server's decision to let a client in comes from
 * ops->connect, and a client's pushed options go to ops->pushed.
 */
#ifndef MOONVPN_SESSION_H
#define MOONVPN_SESSION_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto.h"
#include "datakey.h"
#include "dchan.h"
#include "ip.h"
#include "keys.h"
#include "log.h"
#include "proto.h"
#include "tls.h"
#include "wrap.h"

struct tlscryptv2_client;

enum {
	SESSION_HAND_WINDOW_SECONDS = 60, /* handshake to PUSH_REPLY, as 2.6's hand-window */
	SESSION_PUSH_MESSAGES_MAX = 8,
	SESSION_CIPHER_MAX = 64,
	SESSION_CIPHERS_MAX = 8, /* the server's list; the config allows three */
	SESSION_ADDR_MAX = 64,
	SESSION_REASON_MAX = 160,
	SESSION_ROUTES_MAX = 64, /* subnets behind one client (client:route) */
};

/* X-macro: state, name shown by clients(). */
#define SESSION_STATE_MAP(X)                    \
	X(SESSION_RESET, "reset")               \
	X(SESSION_TLS, "tls-handshake")         \
	X(SESSION_KEY_EXCHANGE, "key-exchange") \
	X(SESSION_AUTH, "authenticating")       \
	X(SESSION_ACTIVE, "active")             \
	X(SESSION_CLOSING, "closing")

enum session_state {
#define SESSION_STATE_ENUM(e, s) e,
	SESSION_STATE_MAP(SESSION_STATE_ENUM)
#undef SESSION_STATE_ENUM
};

struct session;
struct push_options;
struct tokens;
struct policy;

enum session_role {
	SESSION_ROLE_SERVER,
	SESSION_ROLE_CLIENT,
};

/* What session_admit gets to let a client in (session_refuse only needs reason). */
struct session_push {
	char *messages[SESSION_PUSH_MESSAGES_MAX]; /* malloc'd PUSH_REPLY texts, owned by the
						      session after */
	size_t n_messages;
	char address[SESSION_ADDR_MAX];	 /* the VPN address given to the client */
	char address6[SESSION_ADDR_MAX]; /* its IPv6 address, "" without network6 */
	char reason[SESSION_REASON_MAX]; /* when refused: sent as AUTH_FAILED,<reason> */
	struct ip_prefix routes[SESSION_ROUTES_MAX]; /* subnets behind the client */
	size_t n_routes;
	/* For the server's packet filter (the session ignores them): the client's own
	 * rules (a reference, or NULL) and its groups. */
	struct policy *policy;
	uint64_t groups;
};

enum {
	SESSION_PENDING_MAX = 1024, /* bytes of an INFO_PRE payload, NUL included */
};

struct session_ops {
	void (*send)(void *ctx, struct session *s, const uint8_t *wire, size_t len);
	/*
	 * TLS and key exchange are done: decide, now or later, with session_admit
	 * or session_refuse. Until then the session is SESSION_AUTH: the client's
	 * PUSH_REQUESTs wait and its data is dropped (2.6's deferred auth).
	 */
	void (*connect)(void *ctx, struct session *s);
	/* The session ended (freed right after); reason for the log. */
	void (*ended)(void *ctx, struct session *s, const char *reason);
	/* Server: the client answered a challenge (CR_RESPONSE,<base64>): the base64 text. */
	void (*cr_response)(void *ctx, struct session *s, const char *response);
	/*
	 * Server, optional: an admitted client renegotiated key key_id with
	 * password (its auth-token, its password, or ""). True holds the new
	 * key until session_reauth_decide (OpenVPN's REAUTH); the old key
	 * carries the data meanwhile, and a hold past the hand-window gives
	 * the renegotiation up.
	 */
	bool (*reauth)(void *ctx, struct session *s, uint8_t key_id, const char *password);
	/* Client: the server's PUSH_REPLY, complete; return 0 once applied, -1 to give up. */
	int (*pushed)(void *ctx, struct session *s, const struct push_options *o);
	/* Optional: the session's state (session_state) changed; it must not call the session. */
	void (*state)(void *ctx, struct session *s);
};

struct session_params {
	struct ev_loop *loop;
	const struct log *log;
	const struct crypto *crypto;
	struct tls_ctx *tls;	    /* the session takes a reference */
	const struct wrap *wrap;    /* copied */
	const char *const *ciphers; /* the server's list, in preference order; copied */
	size_t n_ciphers;
	uint32_t replay_time; /* the "time" of our wrapped packets, as in the stateless reset */
	const struct session_ops *ops;
	void *ctx;
	enum session_role role;
	/*
	 * Client with a tls-crypt-v2 key (wrap is its Kc): the wrapped key WKc,
	 * sent after our hard reset and, when the server asks, after our first
	 * packet that follows its reset; borrowed, it must outlive the session.
	 * NULL: not a tls-crypt-v2 client.
	 */
	const uint8_t *wkc;
	size_t wkc_len;
	struct tokens *tokens; /* server: auth tokens (NULL or disabled: none); borrowed */
	/* Client: the options string and peer-info of our key-method-2 messages (copied). */
	const char *options;
	const char *peer_info;
	const char *pull_filter; /* client: pushopts.h's filter lines (copied); NULL: none */
	/* Client: auth-user-pass, sent in every key-method-2 message (NULL: none); borrowed,
	 * they must outlive the session. */
	const char *username;
	const char *password;
	/* Server: a tls-crypt-v2 client's unwrapped key, for its id and metadata (copied
	 * without Kc, which wrap holds); NULL: not a tls-crypt-v2 client. */
	const struct tlscryptv2_client *tls_crypt_v2;
	uint64_t *renegotiations; /* counted when data moves to a new key; NULL: not counted */
};

/*
 * A session for the peer that echoed cookie (our session id) from client_sid.
 * Its reset exchange is already done: message ids continue at 1 both ways and
 * our wrapped replay ids at 2. NULL when out of memory.
 */
struct session *session_new(const struct session_params *p, const struct sockaddr *peer,
			    socklen_t peer_len, const struct proto_sid *cookie,
			    const struct proto_sid *client_sid, uint32_t peer_id)
	__attribute__((warn_unused_result));

/*
 * A client session towards the server at peer: sends its hard reset at once.
 * NULL when out of memory or the random number generator fails.
 */
struct session *session_new_client(const struct session_params *p, const struct sockaddr *peer,
				   socklen_t peer_len) __attribute__((warn_unused_result));

/* A control packet from the peer, unwrapped and decoded, with its wrap replay id and time. */
void session_receive(struct session *s, const struct proto_control *ctl, uint32_t replay_id,
		     uint32_t replay_time);

/* Closes the TLS session and stops timers; NULL is a no-op. Does not call ops->ended. */
void session_free(struct session *s);

/*
 * The admission decision for a SESSION_AUTH session (ignored otherwise, e.g.
 * for one that already ended). session_admit takes push->messages; a refused
 * client gets AUTH_FAILED,<reason> and the session ends a few seconds later.
 * Either may be called from ops->connect itself.
 */
void session_admit(struct session *s, struct session_push *push);
void session_refuse(struct session *s, const char *reason);
/*
 * The server gives up on the handshake (evicted, or refused for a limit) and
 * tells the client so, that it restarts at once instead of waiting out its
 * hand-window: see session.c. The caller ends the session next.
 */
void session_give_up(struct session *s);

/*
 * Ends the hold of a renegotiation (session_ops.reauth): refusal NULL lets
 * key key_id in, else the client is told AUTH_FAILED,<refusal> and the
 * session ends. False when key key_id is not held.
 */
bool session_reauth_decide(struct session *s, uint8_t key_id, const char *refusal);

/*
 * Deferred authentication, while the decision waits (SESSION_AUTH): the
 * client is told to wait up to timeout seconds (AUTH_PENDING) and what to
 * do meanwhile, info being OpenVPN's INFO_PRE payload: "WEB_AUTH::URL",
 * "OPEN_URL:URL" or "CR_TEXT:FLAGS:TEXT". Sent once the client acknowledged
 * our key-method-2 message. Undecided after timeout seconds, the client is
 * refused ("authentication timed out"). False when not deciding or info is
 * longer than SESSION_PENDING_MAX - 1.
 */
bool session_auth_pending(struct session *s, const char *info, unsigned timeout);

/*
 * What the client sent in its first key-method-2 message: "" when absent.
 * The username stays the session's (a renegotiation cannot change it); the
 * password is wiped once admitted or refused.
 */
const char *session_username(const struct session *s);
const char *session_password(const struct session *s);
/*
 * What the client's first key exchange presented as its password: "none"
 * (a password, or nothing), or an auth-token found "valid" (admitted
 * without on.auth), "expired", "invalid" or "revoked" (refused).
 */
const char *session_token_state(const struct session *s);
/* The compression framing of its packets (enum compframe), from its first key exchange. */
uint8_t session_framing(const struct session *s);
/* Its peer-info text, "NAME=value\n..." ("" when absent). */
const char *session_peer_info(const struct session *s);
/* A tls-crypt-v2 client's key id and metadata (its Kc zeroed); NULL for other clients. */
const struct tlscryptv2_client *session_tls_crypt_v2(const struct session *s);
/* The wrapping of the session's control packets. */
const struct wrap *session_wrap(const struct session *s);
/*
 * The wrapping of its control packets of key_id: with dynamic tls-crypt
 * negotiated (IV_PROTO bit 9, protocol-flags dyn-tls-crypt) the
 * renegotiations' own key for key_id > 0, else session_wrap.
 */
const struct wrap *session_control_wrap(const struct session *s, uint8_t key_id);
/* Whether dynamic tls-crypt is on (renegotiations use their own key). */
bool session_dyn_tls_crypt(const struct session *s);
/* The client certificate: subject (RFC 2253), serial (hex), SHA-256 (NULL before TLS). */
const char *session_peer_subject(const struct session *s);
const char *session_peer_serial(const struct session *s);
const uint8_t *session_peer_fingerprint(const struct session *s);

bool session_is_peer(const struct session *s, const struct sockaddr *addr, socklen_t len);
enum session_state session_state(const struct session *s);
const char *session_state_name(enum session_state st);
const char *session_cn(const struct session *s);      /* "" until TLS verified it */
const char *session_cipher(const struct session *s);  /* "" until negotiated */
const char *session_address(const struct session *s); /* the VPN address, "" until pushed */
const struct sockaddr *session_peer(const struct session *s);
uint32_t session_peer_id(const struct session *s);
const struct proto_sid *session_remote_sid(const struct session *s); /* the client's session id */
uint32_t session_iv_proto(const struct session *s);
bool session_iv_mtu(const struct session *s);
bool session_ncp(const struct session *s);	      /* the client negotiates ciphers */
bool session_epoch_data(const struct session *s);     /* OpenVPN 2.7's epoch data format */
double session_connected_at(const struct session *s); /* ev time */
/* When the peer's last control packet arrived (ev time; the session's start until one). */
double session_last_received(const struct session *s);
/* The data-channel key block (valid once the state is active). */
const uint8_t *session_key_block(const struct session *s);

/*
 * Bytes its control channel holds for the handshake: payloads waiting in
 * the reliability layer and TLS ciphertext buffers. 0 once a connected
 * session is quiet (they are allocated again when a packet comes or goes).
 */
size_t session_control_bytes(const struct session *s);

/* The VPN addresses as values (family 0 when absent), for routing. */
const struct ip_addr *session_vpn_addr(const struct session *s);
const struct ip_addr *session_vpn_addr6(const struct session *s);

/* True when an IP packet from the client carries one of its own source addresses. */
bool session_owns_source(const struct session *s, const uint8_t *ip, size_t len);

/*
 * The session's data channel (keys, counters, the peer's address): what the
 * data path seals and opens with, without touching the rest of the session.
 */
struct dchan *session_dchan(struct session *s);

/*
 * The data path saw an authenticated packet from a new address: a server's
 * session moves there (float) and logs it. A client session never floats.
 * The server keeps its own peer index in step (server.c).
 */
void session_float(struct session *s, const struct sockaddr *from, socklen_t from_len);

/* Seals len payload bytes at pkt + DATA_OVERHEAD and sends them. 0 or a DATA_E* code. */
int session_data_send(struct session *s, uint8_t *pkt, size_t len);

/* Data-channel traffic of this client (pings excluded). */
const struct dchan_counters *session_counters(const struct session *s);

/*
 * Tells the peer we are going away, sent immediately: a server sends
 * RESTART (as 2.6's explicit-exit-notify) so the client reconnects at once
 * instead of waiting out its ping-restart (RESTART,[P] to one with an auth
 * token, so it comes back on it); a client sends EXIT when the
 * server negotiated cc-exit, so the server frees its address at once.
 */
void session_notify_exit(struct session *s);

/*
 * The operator ends this client's session: HALT,<reason> (the client
 * stops) or, with reconnect, RESTART (it comes back at once), then the
 * session closes.
 */
void session_kick(struct session *s, const char *reason, bool reconnect);

/*
 * The TLS context renegotiations use from now on (a reload's); the session
 * takes a reference. The peer's certificate is verified against it at once
 * (for a handshake still running: when it is done); one that no longer
 * verifies (revoked by a new CRL, expired) ends the session with HALT and
 * a log line naming the reason.
 */
void session_set_tls(struct session *s, struct tls_ctx *tls);

/* Renegotiate when the current key is older than seconds or has carried bytes (0: never). */
void session_set_renegotiation(struct session *s, unsigned seconds, uint64_t bytes);

/* Client: the server refused us (AUTH_FAILED); the caller waits longer before retrying. */
bool session_auth_failed(const struct session *s);
/* Client: the server's refusal as it came ("AUTH_FAILED,reason", "HALT"), else "". */
const char *session_client_refusal(const struct session *s);

/*
 * Client: the auth-token the server gave us ("" for none), and in *sent
 * whether our last key exchange carried it; a reconnect sends it in place
 * of the password.
 */
const char *session_client_token(const struct session *s, bool *sent);

/* Client: the options the server pushed (valid once active), else NULL. */
const struct push_options *session_pushed(const struct session *s);

/* The key_id data is currently sent with. */
uint8_t session_key_id(const struct session *s);

/* The keepalive: ping the client after interval s of silence, end it after timeout s. */
void session_set_keepalive(struct session *s, unsigned interval, unsigned timeout);
/* The keepalive in force (0: none). */
void session_keepalive(const struct session *s, unsigned *interval, unsigned *timeout);

#endif
