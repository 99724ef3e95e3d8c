/* SPDX-License-Identifier: MIT */
/*
 * The session's insides, shared by session.c (the protocol: control
 * channel, key exchange, push, data, keepalive, renegotiation) and
 * session_info.c (what the rest of the engine may read of a session).
 * Nothing else includes this.
 */
#ifndef MOONVPN_SESSION_IMPL_H
#define MOONVPN_SESSION_IMPL_H

#include "dchan.h"
#include "keystate.h"
#include "pushopts.h"
#include "replay.h"
#include "session.h"
#include "tokens.h"
#include "udp.h"

/*
 * Dynamic tls-crypt (session_dyntls.c): once on, control packets of
 * renegotiations (key_id > 0) are wrapped with its own tls-crypt key, with
 * their own replay ids both ways; key_id 0 keeps the session's wrapping.
 */
struct dyn_tls_crypt {
	bool on;
	struct wrap wrap;
	struct replay_timed replay;
	uint32_t next_replay_id;
};

/* What only a client session has: its own key-method strings and the server's push. */
struct client_side {
	char options[KM2_OPTIONS_MAX];
	char peer_info[KM2_PEER_INFO_MAX];
	struct push_options pushed;
	char pull_filter[PUSH_FILTER_MAX]; /* "accept|ignore|reject TEXT\n" lines; "": none */
	ev_tstamp next_push_request;
	bool auth_failed, cc_exit;
	char *refused_with; /* the server's AUTH_FAILED or HALT message, whole (CRV1 needs it) */
	/* The server's auth-token (pushed, or renewed by AUTH_TOKEN): our password from then on. */
	char token[PUSH_TOKEN_MAX];
	bool sent_token; /* the last key exchange carried it */
	/* tls-crypt-v2: our wrapped key (borrowed; wkc_len 0: none), and whether the
	 * server's reset asked for it again with our next packet (P_CONTROL_WKC_V1). */
	const uint8_t *wkc;
	size_t wkc_len;
	bool resend_wkc;
};

struct session {
	struct session_params p; /* p.tls is a reference of ours, p.ciphers our copy */
	char *cipher_names;	 /* the server's list, NUL-separated, in one allocation */
	const char *cipher_list[SESSION_CIPHERS_MAX]; /* into cipher_names */
	struct wrap wrap;
	struct tlscryptv2_client *tls_crypt_v2; /* a tls-crypt-v2 client's key id, metadata */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	struct proto_sid local_sid, remote_sid;
	uint32_t peer_id;
	enum session_state state;
	struct dchan *dc; /* the data channel: keys, counters, peer address */
	struct key_state ks[2];
	int current; /* the key state data is sent with */
	int next;    /* a renegotiation in progress, or NO_KEY */
	uint32_t next_replay_id;
	struct replay replay;
	struct dyn_tls_crypt dyn;
	char cipher[SESSION_CIPHER_MAX];
	char address[SESSION_ADDR_MAX];
	char *who; /* "1.2.3.4:5 (cn)" for logs, as long as it is */
	uint32_t iv_proto;
	bool iv_mtu, ncp, refused;
	bool use_ekm;		    /* data keys by TLS-EKM (else the PRF), for every key_id */
	bool epoch_data;	    /* OpenVPN 2.7's epoch data format, for every key_id */
	struct client_side *client; /* NULL on a server */
	/* What the session keeps of session_admit's push: its messages (malloc'd), to
	 * send and to send again; the addresses go to address/vpn_addr, the rest is
	 * the server's. */
	struct {
		char *messages[SESSION_PUSH_MESSAGES_MAX];
		size_t n_messages;
	} push;
	ev_timer timer;
	ev_tstamp deadline; /* hand-window, or the end of a closing session */
	ev_tstamp connected_at;
	struct ip_addr vpn_addr, vpn_addr6;
	ev_timer keepalive;
	unsigned ping_interval, ping_timeout;
	unsigned reneg_seconds;
	uint64_t reneg_bytes;
	ev_tstamp last_sent, last_received; /* control packets (data ones: dc) */
	/* The answer to the client's key exchange: PUSH_REPLY or AUTH_FAILED. It waits
	 * until the client acknowledged our key-method-2 message (answer_due). */
	bool answer_due, answer_sent;
	/* Deferred authentication: AUTH_PENDING and INFO_PRE,<pending> (once acked, as the
	 * answer), and when the decision is due at the latest (auth_deadline, 0: none). */
	char *pending; /* NULL: never pending (a client that waits is rare) */
	bool pending_due;
	ev_tstamp auth_deadline;
	char *refusal;				  /* "AUTH_FAILED,<reason>" once refused */
	ev_tstamp lame_duck_until;		  /* the non-current key state is cleared then */
	uint8_t fingerprint[TLS_FINGERPRINT_LEN]; /* the peer's certificate, fixed by key 0 */
	bool certless;				  /* key 0 came without a certificate */
	bool reauth_held;			  /* the next key waits for session_reauth_decide */
	/* Without a certificate the username and password are the identity: their MAC
	 * under a key of the session's, which every renegotiation must match. */
	uint8_t cred_key[32], cred_mac[CRYPTO_SHA256_LEN];
	char *username; /* a server's client's, fixed by key 0 (NULL before) */
	/* Auth tokens (session_token.c): what the client's first key exchange presented,
	 * whether it sent credentials at all, and the session's own token once issued
	 * or accepted (its id and initial time stay across renewals and reconnects). */
	enum token_state token_state;
	bool sent_credentials, has_token;
	struct authtoken token;
	ev_tstamp next_token; /* the next renewal */
	char *end_reason;     /* once closing (NULL when out of memory) */
};

/* session_dyntls.c: dynamic tls-crypt, OpenVPN's protocol-flags dyn-tls-crypt. */

/* Derives the renegotiations' key from key state 0's TLS session; 0 or -1. */
int session_dyn_tls_crypt_start(struct session *s);
/* Checks and records the replay id and time of an authenticated control packet of key_id. */
bool session_control_replay_ok(struct session *s, uint8_t key_id, uint32_t id, uint32_t time);
/* The next replay id of our control packets of key_id. */
uint32_t session_control_next_id(struct session *s, uint8_t key_id);

/* session_token.c: auth tokens as OpenVPN's auth-gen-token server keeps them. */

/* The first key exchange: judges a token sent as the password (sets token_state). */
void session_token_first(struct session *s, const struct km2 *km);
/* A renegotiation's password: TOKEN_NONE, or the state of the token it carries. */
enum token_state session_token_again(struct session *s, const struct km2 *km);
/* Admission: a token for the client, added to the push's last message (or, when it
 * does not fit, returned in extra as a message of its own; "" otherwise). */
void session_token_attach(struct session *s, char *extra, size_t cap);
/* The renewal "PUSH_REPLY,auth-token ..." into msg when one is due; false otherwise. */
bool session_token_renewal(struct session *s, char *msg, size_t cap);
/* The operator ended the session: its tokens are no good from now on. */
void session_token_revoke(struct session *s);

#endif
