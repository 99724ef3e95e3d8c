/* SPDX-License-Identifier: MIT */
/*
 * The server's insides, shared by its files only: server.c (the front door,
 * sessions, routing, policy), server_tcp.c (the TCP transport),
 * server_tap.c (TAP mode's switch) and server_tlscryptv2.c (tls-crypt-v2
 * clients at the front door). Nothing else includes this.
 */
#ifndef MOONVPN_SERVER_IMPL_H
#define MOONVPN_SERVER_IMPL_H

#include "batch.h"
#include "bucket.h"
#include "cookie.h"
#include "halfopen.h"
#include "mactable.h"
#include "mssfix.h"
#include "peerids.h"
#include "server.h"
#include "siphash.h"
#include "srclimit.h"
#include "tcp.h"
#include "udpio.h"
#include "vnet.h"

enum { SERVER_FRAME_MAX = 65536 };

/* The subnets one client was given, and which device routes are ours to remove. */
struct client_subnets {
	size_t n;
	struct ip_prefix prefix[SESSION_ROUTES_MAX];
	bool ours[SESSION_ROUTES_MAX];
};

/*
 * The scratch room of one packet loop: what handling a packet writes
 * besides the packet's own buffer, part of its dataplane (below).
 */
struct server_lane {
	uint8_t *segment;    /* a superpacket's segment, sealed in place */
	uint8_t *frame_copy; /* TAP mode: a flooded frame, sealed for one more client */
	uint8_t *framed;     /* a packet with a compression header in front (compframe.h) */
	uint8_t *inflated;   /* a packet a legacy client sent compressed, decompressed */
};

/*
 * What the packet path knows of one client, kept by the dataplane that owns
 * it (docs/workers.md): filled when the client's session takes its slot and
 * when it is admitted, cleared when it ends. The packet path reads the
 * client here, not in its session; sess is still read on the one loop for
 * what has not moved yet (floats, the TAP switch, on.flow's held packets).
 */
struct dp_peer {
	struct session *sess;  /* NULL: no client in this slot */
	struct dchan *dc;      /* its data channel (the session's) */
	struct ip_addr vpn[2]; /* its VPN addresses (IPv4, IPv6): the sources it may send from */
	bool epoch_data;       /* OpenVPN 2.7's data format: its packets are longer */
	bool float_reported;   /* its worker told the main thread of a new source address */
	uint32_t generation;   /* the slot's sessions so far: a handoff for an earlier one is
				  dropped */
};

/* Where a packet goes by its destination: the VPN addresses and the subnets behind clients. */
struct server_routes {
	struct server_addr_index vpn;
	struct route_table subnets;
};

/*
 * One packet loop's own state (docs/workers.md): its scratch and its share
 * of the counters. The server's loop has one (s->dp); each data-path worker
 * will have its own, so the packet path writes only the dataplane it is
 * given, never the server's own fields.
 */
struct dataplane {
	struct server *s;
	struct ev_loop *loop;
	/* Its UDP socket (-1: none, a TCP-only server), one of a SO_REUSEPORT group
	 * steered by peer-id (steer.h), and its batches: datagrams are opened in
	 * place in udp_rx; what a loop turn sends is queued in udp_tx and leaves
	 * before the loop waits (udp_flusher), in as few system calls as GSO and
	 * sendmmsg allow. */
	int fd;
	ev_io watcher;
	struct udpio_rx *udp_rx;
	struct udpio_tx *udp_tx;
	struct udpio_caps udp_caps;
	ev_prepare udp_flusher;
	struct server_lane lane;
	/* Its clients (peer-id % workers is its index), by peer-id / workers. */
	struct dp_peer *peers;
	uint32_t n_peers;
	/* A worker thread's (server_params.group): what it hands to the main thread
	 * (server_threads.c). NULL: the main loop's dataplane. */
	struct ring *to_main;
	/* The policy for its clients: its verdict cache, flows and on.flow questions
	 * (the main thread's own dataplane, with threads, judges with the owners'). */
	struct filter filter;
	/* The counters the packet path keeps (the data packets, their drops);
	 * server_stats() adds them to the server's own. */
	struct server_stats stats;
};

/* server_dataplane.c: a dataplane with its scratch (tap: for frames too), no socket yet. */
int dataplane_init(struct dataplane *dp, struct server *s, struct ev_loop *loop, bool tap)
	__attribute__((warn_unused_result));
/* Its UDP socket from now on (closed by dataplane_free), with the offloads allowed. */
int dataplane_take_socket(struct dataplane *dp, int fd, bool gso, bool gro)
	__attribute__((warn_unused_result));
void dataplane_start(struct dataplane *dp); /* reads its socket */
void dataplane_stop(struct dataplane *dp);
/* Sends what is queued, closes the socket, frees the batches and the scratch. */
void dataplane_free(struct dataplane *dp);
/* Queues a datagram for to; it leaves with the loop turn's others before the loop
 * waits. One larger than a queue slot goes at once, after what is queued. */
void dataplane_send(struct dataplane *dp, const struct sockaddr *to, socklen_t to_len,
		    const uint8_t *wire, size_t len);

/* Where the packet being handled came from: the peer's address, and its TCP connection. */
struct arrival {
	const struct sockaddr *from;
	socklen_t from_len;
	struct tcp_conn *via; /* NULL: a UDP datagram */
};

struct server {
	struct ev_loop *loop;
	const struct log *log;
	const struct crypto *crypto;
	struct server_params params;
	struct wrap wrap;
	struct cookie_key cookie;
	/* A dataplane for each worker (server_params.workers), dps[k] worker k's.
	 * With one loop, the first is its loop's and its socket takes the control
	 * packets too; with threads (group) there is one more, main_dp, the main
	 * thread's, whose socket takes them (steer.h). */
	struct dataplane *dps;
	uint32_t n_dps;
	struct dataplane *main_dp;
	uint32_t n_all_dps; /* n_dps, and main_dp if it is one more */
	struct loop_group *group;
	ev_async handoffs; /* workers handed something to the main thread */
	struct server_stats stats;
	uint32_t started;	       /* the replay "time" field of our wrapped packets */
	struct siphash_key hash_key;   /* of every table a peer chooses the keys of */
	struct bucket reset_time;      /* seconds of loop time for stateless replies */
	struct srclimit reset_sources; /* stateless replies per source */
	/*
	 * Clients at once; every array below by slot (= peer-id) has this many,
	 * allocated at server_open (the one place a table's size by peer-id is
	 * set: the filter's and the switch's are given it there too).
	 */
	uint32_t max_clients;
	struct peer_ids ids;			/* free and live slots, each found in O(1) */
	struct session **sessions;		/* slot = peer-id */
	struct ip_addr (*vpn_addrs)[2];		/* each slot's keys in vpn_index */
	struct server_addr_index peer_index;	/* UDP client's address -> slot */
	struct server_routes routes;		/* VPN addresses and subnets -> slot */
	struct client_subnets **client_subnets; /* each slot's, or NULL */
	struct batch
		asker; /* asks on.flow the filter's questions, after each loop turn's packets */
	struct tcp_server *tcp; /* NULL without a tcp:// listener */
	struct tcp_hub *
		*tcp_hubs; /* with workers: each worker's, where its clients' connections go */
	struct tcp_conn **conns; /* the connection of a TCP client's slot */
	struct mac_table macs;	 /* TAP mode: the switch */
	/* The MSS limits for clients of the 2.6 [0] or epoch [1] data format, over IPv4 [0] or IPv6
	 * [1]. */
	struct mssfix mss[2][2];

	/* The first packet of each tls-crypt-v2 session whose key on.tls_crypt_v2 is
	 * deciding on (NULL: none waits); its other packets are dropped meanwhile. */
	struct server_held **held;
	struct session_ops session_ops;
	/* The half-open sessions by slot, source and network, for make_room (halfopen.h). */
	struct halfopen half_open;
	ev_timer trim; /* server_trim.c: the heap given back once handshakes are quiet */
};

/* The server's own loop's dataplane: its socket takes the control packets. */
static inline struct dataplane *server_main_dp(const struct server *s)
{
	return s->main_dp;
}

/* server_threads.c: the workers' threads (docs/workers.md). */
enum handoff_kind {
	HANDOFF_FROM_CLIENT, /* a client's packet, opened: the main thread goes on from the checks
			      */
	HANDOFF_FROM_DEVICE, /* a packet read from the worker's device queue */
	HANDOFF_SUPERPACKET, /* the same, a superpacket */
	HANDOFF_FLOAT,	     /* the client's packets come from a new address */
	HANDOFF_CONTROL,     /* a control packet of a TCP client, read by its worker */
};
/* Whether the calling thread is a data-path worker (not the main thread). */
bool server_on_worker(void);
/* Worker: whether it must hand a packet for (or from) client id to the main thread: another
 * worker's client, or TAP mode's switch. */
bool server_worker_cannot(const struct server *s, const struct dataplane *dp, uint32_t id);
/*
 * Worker: hands the main thread a copy of a packet of client id (from, to or about it): for
 * a packet, len bytes at pkt + DATA_OVERHEAD (a superpacket: at pkt, with its header h); for
 * a float, the new address. Counted (to_main); false, dropped and counted, when the ring is
 * full.
 */
bool server_hand_to_main(struct dataplane *dp, enum handoff_kind kind, uint32_t id,
			 const uint8_t *pkt, size_t len, const struct vnet_hdr *h,
			 const struct sockaddr *from, socklen_t from_len);
/* Worker: a TCP client's control packet (len bytes at pkt, as it came) for the main thread. */
bool server_hand_control_to_main(struct dataplane *dp, const struct arrival *a, const uint8_t *pkt,
				 size_t len);
/* The dataplanes of a group and their rings (open), and what is left in them (free). */
int server_threads_open(struct server *s) __attribute__((warn_unused_result));
void server_threads_free(struct server *s);

/* server.c, for the main thread's side of a handoff. */
void server_client_packet(struct server *s, struct dataplane *dp, struct dp_peer *peer,
			  uint8_t *buf, size_t len);
void server_follow_float(struct server *s, struct dp_peer *peer, const struct sockaddr *from,
			 socklen_t from_len);

/* server_peers.c: the dataplanes' clients. Dataplane index's table, of its share of max_clients;
 * 0 or -ENOMEM. */
int dataplane_peers_init(struct dataplane *dp, uint32_t index, uint32_t workers,
			 uint32_t max_clients) __attribute__((warn_unused_result));
void dataplane_peers_free(struct dataplane *dp);
/* Client id's entry in its dataplane (NULL: no client has slot id). */
struct dp_peer *server_peer(const struct server *s, uint32_t id);
/* Slot id's session began (its data channel has no key yet), was admitted, or ended. */
void server_peer_open(struct server *s, uint32_t id, struct session *sess);
void server_peer_admit(struct server *s, uint32_t id);
void server_peer_close(struct server *s, uint32_t id);
/* Whether a client's packet (len bytes of IP at ip) comes from one of its VPN addresses. */
bool dp_peer_owns_source(const struct dp_peer *p, const uint8_t *ip, size_t len);
/* The client a packet to addr goes to: its VPN address, else a subnet behind it; or -1. */
int32_t server_routes_find(const struct server *s, const struct ip_addr *addr);

/*
 * Clamps the MSS of a TCP SYN to or from peer (NULL: any client; the
 * smaller limit) in an IP packet, or in an Ethernet frame in TAP mode.
 */
void server_clamp_mss(const struct server *s, const struct dp_peer *peer, uint8_t *p, size_t len);

/* Half-open handshakes now (clients waiting for their hooks' decision not counted). */
size_t server_half_open_count(const struct server *s);
/* Hands a control packet to its session, noting for make_room that its peer is alive. */
void server_session_receive(struct server *s, struct session *sess, const struct proto_control *ctl,
			    uint32_t replay_id, uint32_t replay_time);

/* server_trim.c: sessions came or went; the heap is trimmed once they are quiet. */
void server_trim_init(struct server *s);
void server_trim_arm(struct server *s);
void server_trim_stop(struct server *s);

/* A datagram (or a TCP frame) from a peer, handled with dp (counted there). */
void server_handle_datagram(struct server *s, struct dataplane *dp, const struct arrival *a,
			    uint8_t *buf, size_t len);
/* The main thread: a control packet, counted already (by the worker that handed it over). */
void server_handle_control_packet(struct server *s, struct dataplane *dp, const struct arrival *a,
				  uint8_t *buf, size_t len);
/*
 * A control packet for no session, unwrapped with w (v2: the tls-crypt-v2
 * client key it carried, for the session it may open): a hard reset gets
 * the stateless reply, a valid cookie opens a session.
 */
void server_handle_control(struct server *s, const struct proto_control *ctl,
			   const struct arrival *a, uint32_t replay_id, uint32_t replay_time,
			   const struct wrap *w, const struct tlscryptv2_client *v2);
/* Counts a control packet dropped before any session and logs why (rate-limited). */
void server_drop_unwrap(struct server *s, const struct arrival *a, const char *why);

/* server_tlscryptv2.c: a V3 hard reset or a P_CONTROL_WKC_V1 (sess: its peer's, or NULL). */
void server_tls_crypt_v2_handle(struct server *s, const struct arrival *a, struct session *sess,
				const uint8_t *buf, size_t len);
/* After a reload: tls-crypt-v2 sessions whose keys are now refused end. */
void server_tls_crypt_v2_recheck(struct server *s);
/*
 * A new tls-crypt-v2 session's first packet: held while on.tls_crypt_v2
 * decides (true), or not (false: no hook; the caller delivers it).
 */
bool server_tls_crypt_v2_hold(struct server *s, struct session *sess,
			      const struct proto_control *ctl, uint32_t replay_id,
			      uint32_t replay_time);
/* Whether sess waits for on.tls_crypt_v2 (its packets are dropped meanwhile). */
bool server_tls_crypt_v2_waits(const struct server *s, const struct session *sess);
/* Slot id's session ends: what it held goes. */
void server_tls_crypt_v2_forget(struct server *s, uint32_t id);

/*
 * The dataplane that sends to sess: its worker's. A packet read on another
 * worker's dataplane (read_on) is handed over, and counted there (handoffs).
 */
struct dataplane *server_owner_dp(struct server *s, struct dataplane *read_on, uint32_t id);

/* The filter of client id's worker (its dataplane's). */
struct filter *server_filter_of(const struct server *s, uint32_t id);
/* Whether a worker's filter has questions for on.flow. */
bool server_has_questions(const struct server *s);
/* The policy on a packet (frame: an Ethernet frame of TAP mode) of client peer going dir. */
bool server_policy_passes(struct server *s, struct dataplane *dp, const struct dp_peer *peer,
			  const uint8_t *p, size_t len, enum policy_direction dir, bool frame);
/*
 * Seals a data packet (len bytes at pkt + DATA_OVERHEAD) in place for to
 * and queues it on its transport, counted; false when no key may seal now.
 */
bool server_send_data(struct server *s, struct dataplane *dp, const struct dp_peer *to,
		      uint8_t *pkt, size_t len);
/* Ends a session: hooks, indexes, subnets, policy and its TCP connection. */
void server_end_session(struct server *s, struct session *sess, const char *reason);

/* server_tcp.c: listens on addr; 0, or -errno with err set. */
int server_tcp_open(struct server *s, const struct udp_addr *addr, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void server_tcp_free(struct server *s);
/* Slot id's session came on the connection via (UDP when NULL). */
void server_tcp_attach(struct server *s, uint32_t id, struct tcp_conn *via);
/* Slot id's session ends: its connection is closed. */
void server_tcp_detach(struct server *s, uint32_t id);
/* Sends a packet to slot id over its connection; false when it is a UDP client. */
bool server_tcp_send(struct server *s, uint32_t id, const uint8_t *wire, size_t len);

/* server_tap.c: the switch of TAP mode. */
int server_tap_init(struct server *s) __attribute__((warn_unused_result));
void server_tap_free(struct server *s);
/*
 * Whether a packet of from, opened in the buffer it arrived in, must move
 * before it is sealed again for to (client_to_client, TAP switching): an
 * epoch-format packet is DATA_TAILROOM bytes longer than a 2.6-format one,
 * and a receive buffer may end where the packet did (GRO and TCP put
 * packets back to back).
 */
bool server_reseal_must_move(const struct dp_peer *from, const struct dp_peer *to);

/* A frame from client peer (len bytes at buf + DATA_OVERHEAD), opened. */
void server_tap_from_client(struct server *s, struct dataplane *dp, const struct dp_peer *peer,
			    uint8_t *buf, size_t len);
/* A client's frame that passed the checks and the policy: switched to its destination. */
void server_tap_switch(struct server *s, struct dataplane *dp, const struct dp_peer *peer,
		       uint8_t *buf, size_t len);
/* A frame from the device (len bytes at pkt + DATA_OVERHEAD). */
void server_tap_from_device(struct server *s, struct dataplane *dp, uint8_t *pkt, size_t len);

#endif
