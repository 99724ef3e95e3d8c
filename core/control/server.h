/* SPDX-License-Identifier: MIT */
/*
 * The server's front door on its UDP socket: every datagram is unwrapped
 * (tls-auth/tls-crypt), decoded and either answered statelessly (a hard
 * reset gets the HMAC cookie reply, section 3.2 of the protocol guide) or
 * counted and dropped, before any per-client state exists. A packet that
 * echoes a valid cookie starts a session (session.c), and later packets
 * from that address go to it. Owns the socket, its watcher, the cookie key,
 * the sessions and the drop counters.
 */
#ifndef MOONVPN_SERVER_H
#define MOONVPN_SERVER_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addrindex.h"
#include "crypto.h"
#include "filter.h"
#include "ip.h"
#include "log.h"
#include "policy.h"
#include "route.h"
#include "session.h"
#include "tls.h"
#include "udp.h"
#include "udpio.h"
#include "vnet.h"
#include "wrap.h"

enum {
	SERVER_PACKET_MAX = 2048, /* larger control packets are dropped, as 2.6 does */
	SERVER_HAND_WINDOW_SECONDS = 60,
	/*
	 * Clients at once (max_clients; peer-ids are below it): the default, as
	 * before it was configurable, and the most the configuration may say.
	 * Every table by peer-id is allocated for max_clients at start; the
	 * limit keeps them (about 2 KiB a client, most never touched) bounded.
	 * Peer-ids are 24 bits on the wire: the limit is well below.
	 */
	SERVER_CLIENTS_DEFAULT = 1024,
	SERVER_CLIENTS_LIMIT = 65535,
	/*
	 * Sessions still in their handshake (half-open). In all: one in
	 * SERVER_HALF_OPEN_SHARE of the client slots, at least
	 * SERVER_HALF_OPEN_MIN (server_half_open_max); when they are all taken,
	 * or no client slot is left, a stalled one makes room for a newcomer, or
	 * else one from a network holding more of them than the newcomer's
	 * (make_room in server.c), so a flood cannot hold every slot, stalling
	 * or not; without one, the newcomer waits. Each costs about 50 KB
	 * while it runs, and the machine's time: with every slot open to one,
	 * 10,000 clients at once on two shared cores had 9,999 in after 280 s,
	 * handshakes outliving their clients' patience. At least 64, as it was,
	 * throttled a reconnect storm: after a restart 200 clients churned
	 * through 64 places, each newcomer evicting a handshake in progress, and
	 * all were back after 72 s against 19 s with stock OpenVPN 2.6.
	 * From one source (IPv4 address or IPv6 /64): enough for an office of clients behind one
	 * NAT address to connect at once, as they do with a stock server, and few enough that one
	 * host cannot hold the table. Each echoed our cookie, so it can receive at its address;
	 * what tells a host that fills its share from an office is progress: a session that sent
	 * nothing for SERVER_HALF_OPEN_STALL_SECONDS (a stock client retransmits after 2 s) makes
	 * room for a newcomer, and without one the newcomer is refused. Whoever is evicted or
	 * refused is told (session_give_up).
	 */
	SERVER_HALF_OPEN_MIN = 256,
	SERVER_HALF_OPEN_SHARE = 4,
	SERVER_HALF_OPEN_PER_SOURCE_MAX = 64,
	SERVER_HALF_OPEN_STALL_SECONDS = 5,
	/* The heap is trimmed once no session opened or ended for this long (server_trim.c). */
	SERVER_TRIM_QUIET_SECONDS = 5,
	/*
	 * Stateless reset replies. Per source (IPv4 address, IPv6 /64) a rate a
	 * second and at most a burst saved up: that bounds what a forged source
	 * can reflect onto its owner. In all, a share of the loop's time (per
	 * mille, and a burst in ms): a reply costs an HMAC and a sendto, a few
	 * microseconds, so the share answers tens of thousands of resets a second
	 * and a flood from many forged sources cannot starve a real client's.
	 * A source's burst is its whole share of half-open handshakes, so that an
	 * office starting at once is answered at once (with 10 and 5 a second, 20
	 * clients behind one address waited 2.7 s; a stock server, 0.6 s).
	 */
	SERVER_RESET_SOURCE_RATE = 16,
	SERVER_RESET_SOURCE_BURST = SERVER_HALF_OPEN_PER_SOURCE_MAX,
	SERVER_RESET_TIME_PERMILLE = 250,
	SERVER_RESET_TIME_BURST_MS = 50,
	/* A reply measured as taking longer was preempted: it is charged this much. */
	SERVER_RESET_COST_MAX_US = 100,
};

/* Half-open handshakes at once for a server of max_clients clients (see above). */
static inline size_t server_half_open_max(size_t max_clients)
{
	size_t n = max_clients / SERVER_HALF_OPEN_SHARE;

	return n > SERVER_HALF_OPEN_MIN ? n : SERVER_HALF_OPEN_MIN;
}

/* What the engine decides for the server: admission (Lua) and the end of a client. */
struct server_hooks {
	/* A client finished its key exchange: server_admit or session_refuse, now or later. */
	void (*connect)(void *ctx, struct session *s);
	void (*ended)(void *ctx, struct session *s, const char *reason);
	/* A decrypted packet from client peer_id, for the device (written on its worker's queue).
	 * packet has DATA_OVERHEAD writable bytes in front (a header may be written there). */
	void (*deliver)(void *ctx, uint32_t peer_id, uint8_t *packet, size_t len);
	/*
	 * A subnet behind a client appears (add) or goes: its route into the
	 * device. Returns whether the route is ours to remove later (false when
	 * one was there already, such as a configured route).
	 */
	bool (*subnet)(void *ctx, const struct ip_prefix *prefix, bool add);
	/*
	 * A new flow of this client for on.flow: answer with server_flow_decided,
	 * now or later (the key is the flow's; flow says what it is).
	 */
	void (*flow)(void *ctx, struct session *s, const struct flow_key *key,
		     const struct packet_flow *flow);
	/* The client answered a challenge of deferred authentication (base64, as sent). */
	void (*cr_response)(void *ctx, struct session *s, const char *response);
	/*
	 * A tls-crypt-v2 client echoed the cookie and has a session: true when
	 * on.tls_crypt_v2 is asked about its key (its packets wait for
	 * server_tls_crypt_v2_decided), false to go on at once. NULL: no hook.
	 */
	bool (*tls_crypt_v2)(void *ctx, struct session *s);
	/*
	 * An admitted client renegotiated: true holds the new key until
	 * session_reauth_decide (session_ops.reauth). NULL: never held.
	 */
	bool (*reauth)(void *ctx, struct session *s, uint8_t key_id, const char *password);
	/*
	 * Handshakes are over (server_trim.c): what they left behind may go
	 * (the hooks' garbage), before the heap is trimmed. NULL: nothing.
	 */
	void (*quiet)(void *ctx);
	void *ctx;
};

struct server_params {
	/* Clients at once, peer-ids below it: 1 to SERVER_CLIENTS_LIMIT (0: the default). */
	uint32_t max_clients;
	/* Data-path workers, each with its UDP socket and class of peer-ids (docs/workers.md):
	 * 1 to STEER_SOCKETS_MAX (0: one). */
	uint32_t workers;
	/* With workers >= 2: the workers' threads, one per worker, whose loops the dataplanes run
	 * on (loopgroup.h); the caller parks them while its own loop runs. NULL: one loop. */
	struct loop_group *group;
	struct udp_addr listen, listen_tcp; /* where we listen, when udp and tcp say so */
	bool udp, tcp;
	const struct wrap *wrap; /* copied */
	struct tls_ctx *tls; /* borrowed: outlives the server or is replaced by server_set_tls */
	const char *const *ciphers; /* borrowed, the server's preference order */
	size_t n_ciphers;
	unsigned ping_interval, ping_timeout; /* our keepalive towards clients, seconds */
	bool client_to_client; /* clients reach each other inside the server, not via the kernel */
	bool tap;	       /* the device carries Ethernet frames: switch them (server_tap.c) */
	struct ip_addr gateway4, gateway6; /* our VPN addresses: the source of ICMP answers */
	struct filter_settings filter;	   /* the flow table and on.flow's limits */
	unsigned reneg_seconds;		   /* our own renegotiation; 0 leaves it to the client */
	uint64_t reneg_bytes;
	struct tokens *tokens; /* auth tokens, borrowed: outlives the server and its sessions */
	/* The device's MTU: a packet (a frame: plus its Ethernet header) a client sends
	 * that is larger is dropped, as the device would refuse it; 0: no check. */
	unsigned device_mtu;
	bool udp_gso, udp_gro; /* the UDP offloads the configuration allows */
	unsigned mssfix;       /* TCP SYNs clamped to fit outer packets this large; 0: off */
	struct server_hooks hooks;
};

struct server_stats {
	uint64_t packets_in;
	uint64_t bytes_in;
	uint64_t dropped_unwrap;     /* failed the tls-auth/tls-crypt check */
	uint64_t dropped_malformed;  /* not a valid control packet */
	uint64_t dropped_no_session; /* valid, but for no session (stale or forged cookie) */
	uint64_t resets_answered;    /* stateless cookie replies sent */
	uint64_t cookies_accepted;   /* packets echoing a valid cookie */
	uint64_t dropped_full;	     /* a valid cookie while max_clients clients are connected */
	uint64_t data_in, data_bytes_in;   /* data packets opened (pings included) */
	uint64_t data_out, data_bytes_out; /* data packets sealed and sent */
	uint64_t dropped_data_auth;	   /* data packets whose tag failed, or for no key */
	uint64_t dropped_replay;	   /* replayed or too old data packets */
	uint64_t dropped_spoofed;  /* data from a client with a source address not its own */
	uint64_t dropped_no_route; /* device packets to an address no client has */
	uint64_t dropped_device_malformed; /* superpackets from the device that do not split */
	uint64_t dropped_tcp_queue;	   /* for a TCP client reading slower than we send */
	uint64_t dropped_subnets;	   /* client subnets not routed: the table was full */
	uint64_t dropped_policy;	   /* packets a drop verdict stopped */
	uint64_t rejected_policy;   /* packets a reject verdict stopped (answered when due) */
	uint64_t dropped_unparsed;  /* packets the policy could not read while it was on */
	uint64_t dropped_pending;   /* packets of flows waiting for on.flow */
	uint64_t dropped_mac_spoof; /* TAP: frames from another client's Ethernet address */
	uint64_t dropped_flood;	    /* TAP: broadcast/unknown frames past the client's rate */
	uint64_t dropped_float;	    /* data from another live client's address and port */
	uint64_t evicted_half_open; /* ended for server_half_open_max or no free slot */
	/* For SERVER_HALF_OPEN_PER_SOURCE_MAX: stalled ones ended, and newcomers refused. */
	uint64_t evicted_half_open_source, refused_half_open_source;
	/* Newcomers given no session for now: the half-open table was full, none to evict. */
	uint64_t deferred_half_open;
	uint64_t
		dropped_reset_rate; /* resets not answered: over SERVER_RESET_SOURCE_RATE or TIME */
	uint64_t dropped_too_big;   /* over TCP_FRAME_MAX to or from a TCP client, or the MTU */
	uint64_t dropped_compression; /* a compression header the client's framing lacks, or data
					 that does not decompress */
	uint64_t tcp_evicted_source;  /* connections without a session closed for
					 TCP_SOURCE_CONNS_MAX */
	uint64_t tcp_evicted;	      /* ... for TCP_CONNS_MAX or the open-files limit */
	uint64_t tcp_refused;	      /* connections refused: every slot had a session */
	uint64_t tcp_accept_paused;   /* accepting paused: out of descriptors, none to close */
	/* tls-crypt-v2 client keys refused: revoked, or older than the maximum age */
	uint64_t refused_tls_crypt_v2;
	uint64_t renegotiations; /* data moved to a new key (session_params.renegotiations) */
	uint64_t heap_trims;	 /* times malloc_trim gave memory back (server_trim.c) */
	uint64_t handoffs; /* packets for a client of another worker, handed to its dataplane */
	/* What workers handed to the main thread (the policy, TAP, a TCP client, another worker's
	 * client, a float), and what they could not (the ring was full). */
	uint64_t to_main, dropped_to_main;
};

struct server;

/* Opens the UDP socket and the TCP listener and starts serving; c must outlive the server. */
int server_open(struct server **out, struct ev_loop *loop, const struct log *lg,
		const struct crypto *c, const struct server_params *params, char *err,
		size_t errlen) __attribute__((warn_unused_result));

/*
 * Lets a client that is SESSION_AUTH in with its addresses, the subnets
 * behind it and its PUSH_REPLY (taken from push).
 */
/* False when the session is no longer waiting for the decision (it is closing). */
bool server_admit(struct server *s, struct session *sess, struct session_push *push);

/*
 * The global policy (a reference is taken; NULL: none) and whether on.flow
 * is set, swapped in between packets: every cached verdict goes.
 */
void server_set_policy(struct server *s, struct policy *p, bool flow_hook);
/* on.flow was set or replaced: every cached verdict goes. */
void server_set_flow_hook(struct server *s, bool flow_hook);
/* on.flow's answer for a flow (ok false: it failed; the fallback applies). */
void server_flow_decided(struct server *s, const struct flow_key *key, bool ok,
			 enum policy_verdict verdict, double lifetime);
/* The flow tables, one for each worker's clients, for flows() (read only): k below the count. */
uint32_t server_flow_tables(const struct server *s);
const struct flow_table *server_flows(const struct server *s, uint32_t k);
/* The flow tables and on.flow's questions, added up over the workers. */
struct server_flow_totals {
	uint64_t capacity, cached, inserted, evicted, expired, full; /* the tables' */
	uint64_t asked, overflow, over_share;			     /* filter_stats' */
};
void server_flow_totals(const struct server *s, struct server_flow_totals *out);
/* A client's new flows given the fallback because it was past its share of on.flow. */
uint64_t server_client_over_share(const struct server *s, uint32_t peer_id);
/* The global policy in force, or NULL. */
const struct policy *server_policy(const struct server *s);
/* A connected client's groups, after the policy changed (group bits are per policy). */
void server_set_client_groups(struct server *s, uint32_t peer_id, uint64_t groups);

/* The client that has this VPN address, or NULL. */
struct session *server_find_by_vpn_addr(const struct server *s, const struct ip_addr *addr);

/*
 * Sends a packet read from the device's queue (worker) queue, len bytes at
 * pkt + DATA_OVERHEAD, to the client that owns its destination; counts it as
 * unroutable otherwise. A client of another worker is handed over to that
 * worker's dataplane, and counted (server_worker_stats' handoffs).
 */
void server_route_from_device(struct server *s, uint32_t queue, uint8_t *pkt, size_t len);

/*
 * A TSO/USO superpacket read from an offloading device's queue (its IP
 * packet, with its virtio-net header h): routed and judged once, then cut
 * into segments that are sealed and sent as ordinary data packets.
 */
void server_route_superpacket(struct server *s, uint32_t queue, const struct vnet_hdr *h,
			      const uint8_t *pkt, size_t len);

/* The worker a peer belongs to (docs/workers.md): its device queue and its dataplane. */
uint32_t server_worker_of(const struct server *s, uint32_t peer_id);

/*
 * In TAP mode, the device's own Ethernet address (the clients' gateway): no
 * client may send from it. Call again when the device is recreated.
 */
void server_set_device_mac(struct server *s, const uint8_t mac[6]);

/* The session with this peer-id, or NULL. */
struct session *server_find(const struct server *s, uint32_t peer_id);

/* The subnets routed to the client with this peer-id (its iroutes): how many, at *prefixes. */
size_t server_client_subnets(const struct server *s, uint32_t peer_id,
			     const struct ip_prefix **prefixes);

/* The connected clients: sessions[0..n), each in O(1); the order changes as clients come and go. */
size_t server_session_count(const struct server *s);
struct session *server_session(const struct server *s, size_t i);
/* max_clients as the server was opened with: every peer-id is below it. */
uint32_t server_max_clients(const struct server *s);

/* The counters into out: the server's own and every packet loop's (docs/workers.md), added up. */
void server_stats(const struct server *s, struct server_stats *out);

/* What the UDP socket's batches use (GSO, GRO, segments); NULL without UDP. */
const struct udpio_caps *server_udp_caps(const struct server *s);
/* What the UDP sockets received, summed over the workers' sockets; false without UDP. */
bool server_udp_rx_stats(const struct server *s, struct udpio_rx_stats *out);
/* One data-path worker's share (docs/workers.md). */
struct server_worker_stats {
	uint32_t peers;	       /* live peer-ids of its class */
	uint64_t datagrams_in; /* received on its UDP socket (socket 0: the main thread's) */
	uint64_t handoffs;     /* packets it read for a client of another worker (device,
				  client_to_client) */
	uint64_t to_main;      /* packets it handed to the main thread */
	uint64_t data_in;      /* its clients' data packets it opened (UDP or TCP) */
};

/* The workers (server_params.workers), and worker k's figures (k below it). */
uint32_t server_workers(const struct server *s);
void server_worker_stats(const struct server *s, uint32_t k, struct server_worker_stats *out);
/* What the UDP sockets sent, summed over the workers' sockets; false without UDP. */
bool server_udp_tx_stats(const struct server *s, struct udpio_tx_stats *out);

/* on.tls_crypt_v2's answer for sess: its first packet goes on, or it ends (refused). */
void server_tls_crypt_v2_decided(struct server *s, struct session *sess, bool ok,
				 const char *reason);

/*
 * After a reload: p's keepalive, renegotiation, client_to_client, device MTU,
 * mssfix, VPN addresses, the filter's limits and the flow table's size replace
 * the running ones; connected clients' renegotiation too, and their keepalive
 * where it does not ask more of them than their push did (a shorter ping
 * interval, a longer timeout), from their next timer tick. Its other fields (listen, tap, offloads)
 * need a new server. On error (the flow table cannot be resized: err says why) nothing changed.
 */
int server_reconfigure(struct server *s, const struct server_params *p, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* After a reload: new clients get the new key, TLS context and ciphers. */

void server_set_credentials(struct server *s, const struct wrap *wrap, struct tls_ctx *tls,
			    const char *const *ciphers, size_t n_ciphers);

/* Closes the socket. NULL is a no-op. */
void server_free(struct server *s);

#endif
