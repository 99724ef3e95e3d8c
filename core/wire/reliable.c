// SPDX-License-Identifier: MIT
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "reliable.h"
#include "slab.h"

void reliable_init(struct reliable *r)
{
	memset(r, 0, sizeof(*r));
}

void reliable_free(struct reliable *r)
{
	for (size_t i = 0; r->w && i < RELIABLE_SEND_WINDOW; i++)
		slab_release(r->w->out[i].payload);
	for (size_t i = 0; r->w && i < RELIABLE_RECV_WINDOW; i++)
		slab_release(r->w->in[i].payload);
	slab_release(r->w);
	slab_release(r->delivered);
	reliable_init(r);
}

/* The window, allocated on first use; NULL when out of memory. */
static struct reliable_window *window(struct reliable *r)
{
	if (!r->w)
		r->w = slab_zalloc(sizeof(*r->w));
	return r->w;
}

/* Frees the window once no slot is in use either way (quiet). */
static void release_window(struct reliable *r)
{
	for (size_t i = 0; r->w && i < RELIABLE_SEND_WINDOW; i++)
		if (r->w->out[i].used)
			return;
	for (size_t i = 0; r->w && i < RELIABLE_RECV_WINDOW; i++)
		if (r->w->in[i].used)
			return;
	slab_release(r->w);
	r->w = NULL;
}

size_t reliable_held_bytes(const struct reliable *r)
{
	size_t n = r->w ? sizeof(*r->w) : 0;

	for (size_t i = 0; r->w && i < RELIABLE_SEND_WINDOW; i++)
		n += r->w->out[i].used ? r->w->out[i].len : 0;
	for (size_t i = 0; r->w && i < RELIABLE_RECV_WINDOW; i++)
		n += r->w->in[i].used ? r->w->in[i].len : 0;
	return n + r->delivered_len;
}

/* A copy of len bytes of payload, or NULL for none; false when out of memory. */
static bool copy_payload(uint8_t **to, const uint8_t *payload, size_t len)
{
	*to = NULL;
	if (!len)
		return true;
	*to = slab_zalloc(len);
	if (!*to)
		return false;
	memcpy(*to, payload, len);
	return true;
}

static struct reliable_out *free_out_slot(struct reliable *r)
{
	for (size_t i = 0; window(r) && i < RELIABLE_SEND_WINDOW; i++)
		if (!r->w->out[i].used)
			return &r->w->out[i];
	return NULL;
}

bool reliable_can_queue(const struct reliable *r)
{
	return reliable_in_flight(r) < RELIABLE_SEND_WINDOW;
}

size_t reliable_in_flight(const struct reliable *r)
{
	size_t n = 0;

	for (size_t i = 0; r->w && i < RELIABLE_SEND_WINDOW; i++)
		n += r->w->out[i].used;
	return n;
}

int64_t reliable_queue(struct reliable *r, uint8_t opcode, const uint8_t *payload, size_t len,
		       uint64_t now_ms)
{
	struct reliable_out *o = free_out_slot(r);
	uint8_t *copy;

	if (!o || len > RELIABLE_PAYLOAD_MAX || !copy_payload(&copy, payload, len)) {
		release_window(r);
		return -1;
	}
	*o = (struct reliable_out){ .used = true, .payload = copy, .len = len };
	o->msg_id = r->next_send_id++;
	o->opcode = opcode;
	o->due_ms = now_ms;
	o->timeout_ms = RELIABLE_TIMEOUT_MS;
	return o->msg_id;
}

size_t reliable_queue_stream(struct reliable *r, uint8_t opcode, const uint8_t *data, size_t len,
			     size_t fragment, uint64_t now_ms)
{
	size_t taken = 0;

	if (fragment == 0 || fragment > RELIABLE_PAYLOAD_MAX)
		fragment = RELIABLE_PAYLOAD_MAX;
	while (taken < len && reliable_can_queue(r)) {
		size_t n = len - taken < fragment ? len - taken : fragment;

		if (reliable_queue(r, opcode, data + taken, n, now_ms) < 0)
			break;
		taken += n;
	}
	return taken;
}

void reliable_on_ack(struct reliable *r, uint32_t msg_id)
{
	struct reliable_out *acked = NULL;

	for (size_t i = 0; r->w && i < RELIABLE_SEND_WINDOW; i++)
		if (r->w->out[i].used && r->w->out[i].msg_id == msg_id)
			acked = &r->w->out[i];
	if (!acked)
		return; /* a re-ack, or an id we never sent: harmless */
	acked->used = false;
	slab_release(acked->payload);
	acked->payload = NULL;
	/* Earlier packets still unacked after this many later acks were probably lost. */
	for (size_t i = 0; i < RELIABLE_SEND_WINDOW; i++) {
		struct reliable_out *o = &r->w->out[i];

		if (!o->used || o->msg_id > msg_id || o->fast_retransmitted)
			continue;
		if (++o->later_acks >= RELIABLE_FAST_RETRANSMIT_ACKS) {
			o->fast_retransmitted = true;
			o->due_ms = 0;
		}
	}
	release_window(r);
}

/* Remembers msg_id as the newest id to ack; an id already listed moves to the front unsent. */
static void remember_ack(struct reliable *r, uint32_t msg_id)
{
	size_t i;

	for (i = 0; i < r->n_acks && r->acks[i].msg_id != msg_id; i++)
		;
	if (i == r->n_acks && r->n_acks < RELIABLE_ACKS_KEPT)
		r->n_acks++;
	if (i == RELIABLE_ACKS_KEPT)
		i--; /* the oldest falls off */
	memmove(&r->acks[1], &r->acks[0], i * sizeof(r->acks[0]));
	r->acks[0] = (struct reliable_ack){ .msg_id = msg_id, .sent = false };
}

enum reliable_verdict reliable_on_receive(struct reliable *r, uint32_t msg_id, uint8_t opcode,
					  const uint8_t *payload, size_t len)
{
	struct reliable_in *in;

	if (len > RELIABLE_PAYLOAD_MAX)
		return RELIABLE_TOO_BIG;
	if (msg_id < r->next_recv_id) {
		remember_ack(r, msg_id); /* our ack was lost: send it again */
		return RELIABLE_DUPLICATE;
	}
	if (msg_id - r->next_recv_id >= RELIABLE_RECV_WINDOW)
		return RELIABLE_OUT_OF_WINDOW;
	if (!window(r))
		return RELIABLE_NO_MEMORY;
	in = &r->w->in[msg_id % RELIABLE_RECV_WINDOW];
	if (in->used) {
		remember_ack(r, msg_id);
		return RELIABLE_DUPLICATE;
	}
	/* Unacked, the peer sends it again: better than acking what we did not keep. */
	if (!copy_payload(&in->payload, payload, len)) {
		release_window(r);
		return RELIABLE_NO_MEMORY;
	}
	remember_ack(r, msg_id);
	in->used = true;
	in->opcode = opcode;
	in->len = len;
	return RELIABLE_ACCEPTED;
}

bool reliable_deliver(struct reliable *r, uint8_t *opcode, const uint8_t **payload, size_t *len)
{
	struct reliable_in *in = r->w ? &r->w->in[r->next_recv_id % RELIABLE_RECV_WINDOW] : NULL;

	slab_release(r->delivered);
	r->delivered = NULL;
	r->delivered_len = 0;
	if (!in || !in->used) {
		release_window(r);
		return false;
	}
	in->used = false;
	r->next_recv_id++;
	*opcode = in->opcode;
	*payload = r->delivered = in->payload;
	in->payload = NULL;
	*len = r->delivered_len = in->len;
	return true;
}

const struct reliable_out *reliable_next_transmit(struct reliable *r, uint64_t now_ms)
{
	struct reliable_out *best = NULL;

	for (size_t i = 0; r->w && i < RELIABLE_SEND_WINDOW; i++) {
		struct reliable_out *o = &r->w->out[i];

		if (o->used && o->due_ms <= now_ms && (!best || o->msg_id < best->msg_id))
			best = o;
	}
	if (!best)
		return NULL;
	best->due_ms = now_ms + best->timeout_ms;
	best->timeout_ms *= 2;
	if (best->timeout_ms > RELIABLE_TIMEOUT_MAX_MS)
		best->timeout_ms = RELIABLE_TIMEOUT_MAX_MS;
	return best;
}

int64_t reliable_next_due(const struct reliable *r, uint64_t now_ms)
{
	int64_t best = -1;

	for (size_t i = 0; r->w && i < RELIABLE_SEND_WINDOW; i++) {
		const struct reliable_out *o = &r->w->out[i];
		int64_t wait;

		if (!o->used)
			continue;
		wait = o->due_ms <= now_ms ? 0 : (int64_t)(o->due_ms - now_ms);
		if (best < 0 || wait < best)
			best = wait;
	}
	return best;
}

bool reliable_has_unsent_acks(const struct reliable *r)
{
	for (size_t i = 0; i < r->n_acks; i++)
		if (!r->acks[i].sent)
			return true;
	return false;
}

size_t reliable_take_acks(struct reliable *r, uint32_t *ids, size_t max)
{
	size_t n = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < r->n_acks && n < max; i++) {
			if (r->acks[i].sent != (pass == 1))
				continue;
			ids[n++] = r->acks[i].msg_id;
		}
	}
	for (size_t i = 0; i < r->n_acks; i++)
		for (size_t k = 0; k < n; k++)
			if (r->acks[i].msg_id == ids[k])
				r->acks[i].sent = true;
	return n;
}
