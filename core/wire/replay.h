/* SPDX-License-Identifier: MIT */
/*
 * A packet-id replay window (protocol guide 7.3, used for data packets and
 * for tls-auth/tls-crypt replay ids): id 0, duplicates and ids older than
 * the window are refused, newer ids and unseen ids inside the window are
 * accepted. A ring of REPLAY_WORDS 64-bit words, as WireGuard's counter:
 * checking is separate from recording, because an id may only be recorded
 * after the packet authenticated. Pure and constant-size.
 */
#ifndef MOONVPN_REPLAY_H
#define MOONVPN_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

enum {
	REPLAY_WORDS = 16,
	/* One word is always being recycled, so the usable window is one word less.
	 * Wider than 2.6's 64: batched, multi-queue I/O reorders more than a socket. */
	REPLAY_WINDOW = (REPLAY_WORDS - 1) * 64,
};

enum replay_verdict {
	REPLAY_OK,
	REPLAY_ZERO, /* id 0 is never sent */
	REPLAY_DUPLICATE,
	REPLAY_TOO_OLD, /* older than the window */
};

struct replay {
	uint64_t highest; /* the highest id recorded, 0 before any */
	uint64_t words[REPLAY_WORDS];
};

void replay_init(struct replay *r);
enum replay_verdict replay_check(const struct replay *r, uint64_t id);
/* Records an id that passed replay_check and authenticated. */
void replay_record(struct replay *r, uint64_t id);

/*
 * Ids that come with a time, as the control channel's wrapped packet-ids
 * (OpenVPN's packet_id.c, long form): a later time starts a new window, an
 * earlier one is refused, the same time is checked by id.
 */
struct replay_timed {
	struct replay window;
	uint32_t time;
	bool started;
};

void replay_timed_init(struct replay_timed *r);
/* Checks and, when accepted, records an authenticated packet's id and time. */
bool replay_timed_accept(struct replay_timed *r, uint32_t id, uint32_t time);
const char *replay_verdict_name(enum replay_verdict v);

#endif
