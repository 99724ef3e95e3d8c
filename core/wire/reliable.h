/* SPDX-License-Identifier: MIT */
/*
 * The control channel's reliability layer for one key state (one key_id)
 * of one peer: message packet-ids, in-order delivery, acks to send
 * (piggy-backed or in P_ACK_V1, newest first, with re-acks of recent ids),
 * retransmission with a doubling timeout plus fast retransmit, and bounded
 * send and receive windows, as OpenVPN 2.6 behaves (protocol guide
 * section 2). Pure: time is passed in as milliseconds and packets are
 * queued and fetched by the caller; it does not build packets, wrap them
 * or touch sockets. Payloads are copied into buffers of their own size,
 * allocated while they wait (to be acknowledged, or delivered in order)
 * and freed as soon as they are not, and so is the window of slots that
 * track them: a key state whose control channel is quiet holds no memory
 * beyond its message ids and recent acks, so it still re-acknowledges a
 * packet the peer resends (our ack was lost).
 */
#ifndef MOONVPN_RELIABLE_H
#define MOONVPN_RELIABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	RELIABLE_SEND_WINDOW = 6,    /* unacknowledged packets in flight */
	RELIABLE_RECV_WINDOW = 12,   /* packets accepted ahead of the next expected id */
	RELIABLE_ACKS_KEPT = 12,     /* recently received ids kept for (re-)acking */
	RELIABLE_PAYLOAD_MAX = 2048, /* largest payload of one control packet */
	RELIABLE_TIMEOUT_MS = 2000,  /* first retransmission; doubles after each */
	/* 2.6 doubles without limit; within a 60 s hand-window a cap gives a lossy
	 * link more attempts (2, 4, 8, 8, ... s) instead of waiting 32 s for one. */
	RELIABLE_TIMEOUT_MAX_MS = 8000,
	RELIABLE_FAST_RETRANSMIT_ACKS = 3, /* acks of later packets that trigger a resend */
};

struct reliable_out {
	uint32_t msg_id;
	uint8_t opcode;
	size_t len;
	uint64_t due_ms; /* next (re)transmission */
	uint32_t timeout_ms;
	unsigned later_acks;
	bool used;
	bool fast_retransmitted;
	uint8_t *payload; /* len bytes of our own (NULL when empty) */
};

struct reliable_in {
	uint8_t opcode;
	uint8_t *payload; /* len bytes of our own (NULL when empty) */
	size_t len;
	bool used;
};

struct reliable_ack {
	uint32_t msg_id;
	bool sent; /* sent at least once: only re-acked from now on */
};

/* The packets in flight either way: allocated while any is. */
struct reliable_window {
	struct reliable_out out[RELIABLE_SEND_WINDOW];
	struct reliable_in in[RELIABLE_RECV_WINDOW]; /* a ring: slot msg_id % window */
};

struct reliable {
	uint32_t next_send_id;
	uint32_t next_recv_id; /* the next id to deliver */
	struct reliable_window *w;
	struct reliable_ack acks[RELIABLE_ACKS_KEPT]; /* newest first */
	size_t n_acks;
	uint8_t *delivered; /* the payload reliable_deliver handed out last */
	size_t delivered_len;
};

enum reliable_verdict {
	RELIABLE_ACCEPTED,	/* new: buffered for delivery, will be acked */
	RELIABLE_DUPLICATE,	/* seen before: not delivered again, but acked again */
	RELIABLE_OUT_OF_WINDOW, /* too far ahead: dropped without an ack */
	RELIABLE_TOO_BIG,	/* payload larger than RELIABLE_PAYLOAD_MAX: dropped */
	RELIABLE_NO_MEMORY,	/* no room for its payload: dropped without an ack (resent) */
};

void reliable_init(struct reliable *r);

/* Frees every payload still held; r is empty (reliable_init) after. */
void reliable_free(struct reliable *r);

/* Bytes held now (payloads and their window): 0 once everything was acknowledged and delivered. */
size_t reliable_held_bytes(const struct reliable *r);

/* Room for one more outgoing packet in the send window. */
bool reliable_can_queue(const struct reliable *r);

/*
 * Queues one packet for reliable sending, due at now_ms. Returns its
 * message packet-id, or -1 when the window is full, len is too big or
 * there is no memory for the payload.
 */
int64_t reliable_queue(struct reliable *r, uint8_t opcode, const uint8_t *payload, size_t len,
		       uint64_t now_ms) __attribute__((warn_unused_result));

/*
 * Queues a byte stream (TLS ciphertext) cut into packets of at most
 * fragment bytes, as many as the window allows. Returns the bytes taken.
 */
size_t reliable_queue_stream(struct reliable *r, uint8_t opcode, const uint8_t *data, size_t len,
			     size_t fragment, uint64_t now_ms);

/* The peer acknowledged msg_id (unknown ids are ignored). */
void reliable_on_ack(struct reliable *r, uint32_t msg_id);

/* A reliable packet arrived; what became of it. Accepted and duplicate ids get acked. */
enum reliable_verdict reliable_on_receive(struct reliable *r, uint32_t msg_id, uint8_t opcode,
					  const uint8_t *payload, size_t len);

/*
 * The next in-order payload, if it has arrived: sets *opcode, *payload and
 * *len and returns true. The payload stays valid until the next
 * reliable_deliver() or reliable_free(); a call that finds nothing more in
 * order frees it, so a loop that delivers until false leaves nothing held.
 */
bool reliable_deliver(struct reliable *r, uint8_t *opcode, const uint8_t **payload, size_t *len);

/*
 * The queued packet to (re)transmit now, lowest id first, or NULL. Each
 * call counts as one transmission: the packet's timeout doubles.
 */
const struct reliable_out *reliable_next_transmit(struct reliable *r, uint64_t now_ms);

/* Milliseconds until a packet is due (0: now), or -1 with nothing in flight. */
int64_t reliable_next_due(const struct reliable *r, uint64_t now_ms);

/* True while a received id has not been acked yet (send a P_ACK_V1 if nothing else goes). */
bool reliable_has_unsent_acks(const struct reliable *r);

/*
 * Fills ids with at most max acks, newest unsent first, then recent ones
 * again; returns how many. They count as sent.
 */
size_t reliable_take_acks(struct reliable *r, uint32_t *ids, size_t max);

/* Packets sent and not yet acknowledged. */
size_t reliable_in_flight(const struct reliable *r);

#endif
