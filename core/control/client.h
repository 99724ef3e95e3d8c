/* SPDX-License-Identifier: MIT */
/*
 * Client mode's link to its server: a UDP socket connected to the current
 * remote, one client session (session.c) at a time, and the reconnect
 * loop. When a session ends (the server restarted or went silent, refused
 * us, or never answered), a new one starts after a backoff that doubles
 * from reconnect_initial to reconnect_max and starts over once a session
 * got connected; remotes are tried in turn. Each attempt uses a fresh
 * local port, so a server never mistakes it for the previous session.
 * Applying the pushed options to the device is the engine's (hooks).
 */
#ifndef MOONVPN_CLIENT_H
#define MOONVPN_CLIENT_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "log.h"
#include "nameres.h"
#include "pushopts.h"
#include "server.h"
#include "session.h"
#include "tlscryptv2.h"
#include "udp.h"
#include "vnet.h"
#include "wrap.h"

enum {
	CLIENT_REMOTES_MAX = 64,
	/* A server that does not answer our hard reset within this is given up for the next. */
	CLIENT_POLL_SECONDS = 10,
};

/* What to do when the server refuses our credentials (OpenVPN's --auth-retry). */
enum client_auth_retry {
	CLIENT_AUTH_RETRY_NONE,	      /* stop: hooks.refused (OpenVPN's default) */
	CLIENT_AUTH_RETRY_NOINTERACT, /* again after reconnect_max, with the same credentials */
	CLIENT_AUTH_RETRY_INTERACT,   /* ask for them again (hooks.ask), then again */
};

/*
 * What hooks.ask asks for, and its kind as auth.ask functions are told it:
 * the username (when none is known) and password, the response to the
 * static challenge, or the response to the server's CRV1 challenge. The
 * answer goes to client_answer.
 */
#define CLIENT_QUESTION_MAP(X)             \
	X(CLIENT_ASK_PASSWORD, "password") \
	X(CLIENT_ASK_STATIC, "static")     \
	X(CLIENT_ASK_DYNAMIC, "dynamic")

enum client_question {
#define CLIENT_QUESTION_ENUM(e, s) e,
	CLIENT_QUESTION_MAP(CLIENT_QUESTION_ENUM)
#undef CLIENT_QUESTION_ENUM
};

struct client_ask {
	enum client_question what;
	const char *text;     /* the challenge's text (NULL for CLIENT_ASK_PASSWORD) */
	bool echo;	      /* the answer may be shown as it is typed */
	const char *username; /* known already (NULL: ask it too) */
};

struct client_hooks {
	/* The server's push, complete: apply it (addresses, routes, MTU); 0 or -1. */
	int (*pushed)(void *ctx, const struct push_options *o);
	/* A decrypted packet from the server, for the device. */
	/* packet has DATA_OVERHEAD writable bytes in front (a header may be written there). */
	void (*deliver)(void *ctx, uint8_t *packet, size_t len);
	void *ctx;
	/* An attempt ended (NULL: not told), with the reason it logs; a new one follows. */
	void (*ended)(void *ctx, const char *reason);
	/* auth_retry "none": the server refused us (its message): the client stops
	 * trying; NULL: it retries as with nointeract. */
	void (*refused)(void *ctx, const char *message);
	/* Asks for credentials or a response (NULL: no one to ask); the answer comes with
	 * client_answer, during the call or later. */
	void (*ask)(void *ctx, const struct client_ask *q);
	/* An attempt is about to reach addr (NULL: not told): a redirect-gateway
	 * keeps it outside the tunnel. */
	void (*connecting)(void *ctx, const struct udp_addr *addr);
};

/*
 * One remote: a literal address, or a host name resolved when an attempt
 * comes to it (nameres.h), each of its addresses tried in turn before the
 * next remote, and resolved again when the turn comes back, so that a
 * changed answer is used.
 */
struct client_remote {
	struct udp_addr addr; /* the address; with host, only its port counts */
	const char *host;     /* a name (copied); NULL: addr */
	bool tcp;	      /* a tcp:// remote, else udp:// */
};

/*
 * "udp://ADDRESS:PORT", "tcp://[ADDRESS]:PORT" or the same with a host name
 * (letters, digits, '-', '_' and dots) into out; a name goes into host
 * (cap bytes), which out->host then points to. False when text is none of those.
 */
bool client_remote_parse(struct client_remote *out, const char *text, char *host, size_t cap)
	__attribute__((warn_unused_result));

struct client_params {
	const struct client_remote *remotes; /* copied */
	size_t n_remotes;
	const struct wrap *wrap; /* copied */
	/* A tls-crypt-v2 client key's wrapped part (wrap holds its Kc), copied; NULL: none. */
	const uint8_t *wkc;
	size_t wkc_len;
	struct tls_ctx *tls; /* the client takes a reference */
	const char *const *ciphers;
	size_t n_ciphers;
	unsigned reneg_seconds;
	uint64_t reneg_bytes;
	unsigned reconnect_initial, reconnect_max; /* seconds */
	unsigned tun_mtu;			   /* for the options string and IV_MTU */
	bool udp_gso, udp_gro;			   /* the UDP offloads the configuration allows */
	unsigned mssfix;	/* TCP SYNs clamped to fit outer packets this large; 0: off */
	bool tap;		/* the device carries Ethernet frames (for mssfix) */
	bool tls_auth;		/* for the options string */
	int tls_auth_direction; /* -1: none given */
	struct client_hooks hooks;
	/* The source of each attempt's UDP socket (its port 0: a fresh one each time);
	 * length 0: the kernel picks, as for any client. */
	struct udp_addr local;
	/*
	 * One datagram per system call and no batch buffers (udpio's are ~130 KiB a
	 * socket): for the load generator's thousands of clients in one process.
	 */
	bool unbatched;
	/* auth-user-pass (NULL: none); borrowed, they must outlive the client. */
	const char *username, *password;
	enum client_auth_retry auth_retry;
	/* Ask the password through hooks.ask before the first login (none was given). */
	bool ask_password;
	/* A static challenge (OpenVPN's static-challenge): its question, NULL for none;
	 * borrowed. Its response, asked through hooks.ask, goes with the password. */
	const char *static_challenge;
	bool static_echo;
	const char *pull_filter; /* pushopts.h's pull-filter lines (copied); NULL: none */
	/* enum compframe: the compression framing a profile's comp-lzo or compress asks
	 * for; a pushed comp-lzo or compress overrides it */
	uint8_t framing;
	uint64_t *renegotiations; /* counted when data moves to a new key; NULL: not counted */
};

struct client;

/* Starts connecting at once; c and the cipher list must outlive the client. */
int client_open(struct client **out, struct ev_loop *loop, const struct log *lg,
		const struct crypto *c, const struct client_params *params, char *err,
		size_t errlen) __attribute__((warn_unused_result));

/*
 * The answer to hooks.ask: for CLIENT_ASK_PASSWORD the username (NULL: the one
 * known) and password, for the challenges the response in first; first and
 * second NULL: no answer (the question is asked again after the backoff).
 * Copied, and wiped once used up.
 */
void client_answer(struct client *c, const char *first, const char *second);

/* Seals and sends a device packet (len bytes at pkt + DATA_OVERHEAD); dropped when not connected.
 */
/* What the current attempt's UDP batches use; NULL over TCP or between attempts. */
const struct udpio_caps *client_udp_caps(const struct client *c);
/* The current attempt's UDP batches, for their counters; NULL over TCP or between attempts. */
const struct udpio_rx *client_udp_rx(const struct client *c);
const struct udpio_tx *client_udp_tx(const struct client *c);

void client_send_from_device(struct client *c, uint8_t *pkt, size_t len);

/* A TSO/USO superpacket from an offloading device: cut into segments, each sent as one packet. */
void client_send_superpacket(struct client *c, const struct vnet_hdr *h, const uint8_t *pkt,
			     size_t len);

/* The current session (NULL between attempts). */
struct session *client_session(const struct client *c);

/* The server we talk to or try next, as text. */
const char *client_remote(const struct client *c);
/* The address of the current (or last) attempt; length 0 before the first. */
const struct udp_addr *client_address(const struct client *c);

/* Traffic and drops, with the same meaning as a server's. */
const struct server_stats *client_stats(const struct client *c);

/* Sessions started and sessions that reached the connected state. */
uint64_t client_attempts(const struct client *c);
uint64_t client_connects(const struct client *c);

/* When the current attempt started (ev time): its handshake's latency runs from here. */
double client_attempt_started(const struct client *c);

/* The attempt got its push and is still on. */
bool client_connected(const struct client *c);

/* Says EXIT to the server when it negotiated cc-exit, then closes. NULL is a no-op. */
void client_free(struct client *c);

#endif
