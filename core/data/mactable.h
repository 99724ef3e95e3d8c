/* SPDX-License-Identifier: MIT */
/*
 * The switch of a TAP server: Ethernet addresses learned from the source of
 * each client's frames, so that a frame for that address goes to that
 * client. Entries age out; each client may hold at most a set number (a
 * client cannot fill the table by inventing addresses); a client's entries
 * go with it. A live address belongs to the client that has it: another
 * client's frames from it are refused (the caller drops them), so one client
 * cannot take another's traffic by taking its address; only once it has
 * aged out may the address move. Each client also has a token bucket for
 * the frames the switch must flood (broadcast, multicast, unknown unicast).
 * The device side (the server's own TAP address and, on a bridge, the hosts
 * behind it) is one more owner, MAC_TABLE_DEVICE, with a larger share: no
 * client may take those addresses either. The device's own address is
 * pinned: it never ages out.
 * Open addressing under a keyed hash, never more than half full. Pure: no
 * I/O; one allocation, at creation.
 */
#ifndef MOONVPN_MACTABLE_H
#define MOONVPN_MACTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bucket.h"
#include "siphash.h"

enum {
	MAC_LEN = 6,
	/* The owner of the device side's addresses: above every peer-id (24 bits). */
	MAC_TABLE_DEVICE = 1 << 24,
	MAC_TABLE_DEVICE_MAX = 1024, /* addresses behind the device (a bridged LAN) */
	/* Addresses at once, all owners: every owner's full share up to this many (the table
	 * for 65,535 clients' shares would reserve half a GiB). */
	MAC_TABLE_ADDRS_MAX = 1 << 20,
	/* Frames a client may have flooded: a burst, then so many a second (issue 11 item 11). */
	MAC_FLOOD_FRAMES_PER_SECOND = 200,
	MAC_FLOOD_BURST = 400,
};

enum mac_learned {
	MAC_LEARNED,
	MAC_NOT_LEARNED, /* a group address, or the client has its share: the frame may pass */
	MAC_TAKEN,	 /* a live address of another client: the frame must be dropped */
};

struct mac_entry {
	uint8_t mac[MAC_LEN];
	bool used;
	bool pinned; /* the device's own address: never ages out */
	uint32_t id;
	double last_seen;
};

struct mac_table {
	size_t cap;    /* a power of two */
	size_t n, max; /* addresses held, and at most (half of cap at most) */
	struct mac_entry *e;
	struct siphash_key key; /* of the hash: peers choose the addresses */
	double age;		/* seconds an address is remembered without frames */
	unsigned per_client_max;
	uint32_t clients; /* the server's max_clients: client ids are below it */
	unsigned *count;  /* by owner: the clients, then the device (at [clients]) */
	/* Each client's addresses, per_client_max a client, then the device's
	 * MAC_TABLE_DEVICE_MAX: making room for one of an owner's addresses, or
	 * forgetting them, looks at its own, never the whole table. */
	uint8_t (*own)[MAC_LEN];
	uint64_t refused; /* addresses not learned: the client had its share */
	uint64_t taken;	  /* frames from another owner's live address */
	uint8_t pinned[MAC_LEN];
	bool has_pinned;
	struct bucket *flood; /* each client's frames to flood */
};

/* For clients 0..clients-1 (the server's max_clients) and the device; -ENOMEM. */
int mac_table_init(struct mac_table *t, uint32_t clients, unsigned per_client_max, double age,
		   const struct siphash_key *key) __attribute__((warn_unused_result));
/* How many addresses owner id (a client, or MAC_TABLE_DEVICE) has. */
unsigned mac_table_count(const struct mac_table *t, uint32_t id);
void mac_table_free(struct mac_table *t);

/*
 * A frame from owner id (a client, or MAC_TABLE_DEVICE) came from mac at
 * now: learned, not learned, or another owner's (drop it).
 */
enum mac_learned mac_table_learn(struct mac_table *t, const uint8_t mac[MAC_LEN], uint32_t id,
				 double now);

/*
 * The device's own address (the server's side of the TAP): the device's
 * from now on, for good; a previous one pinned ages like a learned one.
 * A client that held it loses it.
 */
void mac_table_pin_device(struct mac_table *t, const uint8_t mac[MAC_LEN], double now);

/* Whether client id may have one more frame flooded at now (and then takes a token). */
bool mac_table_may_flood(struct mac_table *t, uint32_t id, double now);

/* The owner of mac (a client's id, or MAC_TABLE_DEVICE), or -1 (unknown, or aged out). */
int32_t mac_table_lookup(const struct mac_table *t, const uint8_t mac[MAC_LEN], double now);

/* Client id left: its addresses go, and its flood bucket is full again. */
void mac_table_forget(struct mac_table *t, uint32_t id);

/* Broadcast and multicast addresses (the group bit of the first byte). */
static inline bool mac_is_group(const uint8_t mac[MAC_LEN])
{
	return mac[0] & 1;
}

#endif
