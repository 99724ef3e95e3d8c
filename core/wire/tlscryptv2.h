/* SPDX-License-Identifier: MIT */
/*
 * tls-crypt-v2 client keys (OpenVPN's doc/tls-crypt-v2.txt): each client
 * has its own tls-crypt key Kc, and carries it wrapped under the servers'
 * shared server key (WKc = tag | AES-256-CTR(Kc | metadata) | length, the
 * tag an HMAC-SHA256 that is also the counter's IV) to the server in its
 * first packets. This module owns the key files (the PEM-like formats
 * `openvpn --genkey tls-crypt-v2-server|tls-crypt-v2-client` write),
 * wrapping and unwrapping a client key, locating WKc at the end of a
 * packet, and the server's checks on an unwrapped key (maximum age,
 * revoked ids). Using Kc to wrap packets is wrap.c's; the packet flow and
 * the cookie exchange are the server's.
 */
#ifndef MOONVPN_TLSCRYPTV2_H
#define MOONVPN_TLSCRYPTV2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "statickey.h"

enum {
	/* A server key holds a cipher key (64 bytes) and an HMAC key (64); the first 32
	 * bytes of each are used: AES-256-CTR and HMAC-SHA256. */
	TLSCRYPTV2_SERVER_KEY_LEN = 128,
	TLSCRYPTV2_SERVER_HMAC_AT = 64,
	TLSCRYPTV2_CLIENT_KEY_LEN = STATIC_KEY_LEN, /* Kc is a tls-crypt (v1) key */
	TLSCRYPTV2_TAG_LEN = 32,
	TLSCRYPTV2_WKC_MAX = 1024, /* OpenVPN's limit on the wrapped key */
	TLSCRYPTV2_WKC_MIN = TLSCRYPTV2_TAG_LEN + TLSCRYPTV2_CLIENT_KEY_LEN + 2,
	TLSCRYPTV2_METADATA_MAX = TLSCRYPTV2_WKC_MAX - TLSCRYPTV2_WKC_MIN, /* 734 bytes */
	/* The first metadata byte says what follows: free-form bytes, or the 64-bit
	 * creation time `openvpn --genkey tls-crypt-v2-client` writes by default. */
	TLSCRYPTV2_METADATA_USER = 0,
	TLSCRYPTV2_METADATA_TIMESTAMP = 1,
	/* A key's id: the first bytes of WKc's tag. Public (it crosses the network in
	 * clear), different for every wrapped key, known to both ends. */
	TLSCRYPTV2_ID_LEN = 16,
	TLSCRYPTV2_ID_TEXT_LEN = 2 * TLSCRYPTV2_ID_LEN,
	TLSCRYPTV2_KEY_TEXT_MAX = 2048, /* room for either key file */
	/*
	 * A 2.6+ client's hard reset carries EARLY_NEG_START in the top byte of its
	 * replay packet-id: it will resend WKc after the cookie when asked to by a
	 * TLV in the server's reply (type, length, flags; ssl_pkt.h in OpenVPN).
	 * A 2.6 client starts its replay packet-ids there, and its reset is the
	 * first of them (ssl.c, tls_session_init).
	 */
	TLSCRYPTV2_EARLY_NEG_MASK = 0xff000000,
	TLSCRYPTV2_EARLY_NEG_START = 0x0f000000,
	TLSCRYPTV2_EARLY_NEG_FIRST_ID = TLSCRYPTV2_EARLY_NEG_START + 1,
	TLSCRYPTV2_TLV_EARLY_NEG_FLAGS = 1,
	TLSCRYPTV2_TLV_HEADER_LEN = 4,
	TLSCRYPTV2_FLAG_RESEND_WKC = 1,
	TLSCRYPTV2_RESEND_TLV_LEN = 6,
	TLSCRYPTV2_MAX_AGE_DAYS_MAX = 36500,
};

enum tlscryptv2_error {
	TLSCRYPTV2_ELEN = -1,	 /* WKc's length field does not fit the packet or the limits */
	TLSCRYPTV2_EAUTH = -2,	 /* WKc does not authenticate under the server key */
	TLSCRYPTV2_ECRYPTO = -3, /* OpenSSL failed */
	TLSCRYPTV2_ESPACE = -4,	 /* the output buffer is too small */
};

struct tlscryptv2_server_key {
	uint8_t bytes[TLSCRYPTV2_SERVER_KEY_LEN];
};

/* What a server knows about tls-crypt-v2: its key and which client keys it refuses. */
struct tlscryptv2_server {
	struct tlscryptv2_server_key key;
	unsigned max_age_days; /* 0: no limit */
	size_t n_revoked;
	uint8_t (*revoked)[TLSCRYPTV2_ID_LEN]; /* owned; sorted by tlscryptv2_server_sort */
};

/* An unwrapped client key. */
struct tlscryptv2_client {
	struct static_key key; /* Kc */
	uint8_t id[TLSCRYPTV2_ID_LEN];
	size_t metadata_len; /* type byte included; 0 when the key has none */
	uint8_t metadata[TLSCRYPTV2_METADATA_MAX];
};

/* Parses a server key file. 0, or -1 with a one-line reason in err. */
int tlscryptv2_server_key_parse(struct tlscryptv2_server_key *out, const char *text, size_t len,
				char *err, size_t errlen) __attribute__((warn_unused_result));
/* The server key file's text (NUL-terminated); its length, 0 if cap is too small. */
size_t tlscryptv2_server_key_format(const struct tlscryptv2_server_key *k, char *out, size_t cap);

/*
 * Parses a client key file into Kc and WKc (wkc: TLSCRYPTV2_WKC_MAX bytes).
 * 0, or -1 with a one-line reason in err.
 */
int tlscryptv2_client_key_parse(struct static_key *kc, uint8_t *wkc, size_t *wkc_len,
				const char *text, size_t len, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* The client key file's text (NUL-terminated); its length, 0 if cap is too small. */
size_t tlscryptv2_client_key_format(const struct static_key *kc, const uint8_t *wkc, size_t wkc_len,
				    char *out, size_t cap);

/* Wraps Kc and metadata into WKc (at most TLSCRYPTV2_WKC_MAX bytes); its length or an error. */
int tlscryptv2_wrap(const struct crypto *c, const struct tlscryptv2_server_key *server,
		    const struct static_key *kc, const uint8_t *metadata, size_t metadata_len,
		    uint8_t *wkc, size_t cap) __attribute__((warn_unused_result));

/* Unwraps and authenticates WKc; 0 or an error (out is wiped then). */
int tlscryptv2_unwrap(const struct crypto *c, const struct tlscryptv2_server_key *server,
		      const uint8_t *wkc, size_t len, struct tlscryptv2_client *out)
	__attribute__((warn_unused_result));

/*
 * Where WKc starts in a packet that ends with one (P_CONTROL_HARD_RESET_CLIENT_V3,
 * P_CONTROL_WKC_V1), read from its length field; the part before must keep at
 * least min_before bytes (the wrapped packet's own headers). The offset, or
 * TLSCRYPTV2_ELEN.
 */
int tlscryptv2_locate(const uint8_t *packet, size_t len, size_t min_before)
	__attribute__((warn_unused_result));

/* True when a V3 hard reset's replay packet-id says the client resends WKc on request. */
bool tlscryptv2_resends_wkc(uint32_t replay_id);

/* The TLV a stateless reply carries to ask for WKc again: TLSCRYPTV2_RESEND_TLV_LEN bytes. */
void tlscryptv2_resend_tlv(uint8_t out[TLSCRYPTV2_RESEND_TLV_LEN]);

/*
 * A client reads the TLVs (type, length, value; 16-bit big-endian fields)
 * of the server's hard reset, as 2.6 clients do (ssl.c,
 * parse_early_negotiation_tlvs): *resend_wkc tells whether the flags ask
 * for WKc again, with P_CONTROL_WKC_V1. Types it does not know are skipped.
 * 0, or -1 when a TLV does not fit the payload (or the flags are not 2 bytes).
 */
int tlscryptv2_early_neg_parse(const uint8_t *payload, size_t len, bool *resend_wkc)
	__attribute__((warn_unused_result));

/* The key's creation time (unix seconds) when its metadata is a timestamp. */
bool tlscryptv2_created(const struct tlscryptv2_client *k, int64_t *when);

/*
 * Whether the server takes this client key at time now: not revoked (a
 * binary search: a revoked key's owner cannot make each packet cost a scan
 * of a long list), and
 * not older than max_age_days (a key without a timestamp is refused then,
 * as OpenVPN 2.7 does). False with the reason in why.
 */
bool tlscryptv2_accepts(const struct tlscryptv2_server *s, const struct tlscryptv2_client *k,
			int64_t now, char *why, size_t whylen);

/* A key id as lower-case hex (TLSCRYPTV2_ID_TEXT_LEN + 1 bytes); false if text is not one. */
void tlscryptv2_id_format(const uint8_t id[TLSCRYPTV2_ID_LEN], char *out);
bool tlscryptv2_id_parse(const char *text, uint8_t id[TLSCRYPTV2_ID_LEN]);

const char *tlscryptv2_error_name(int error);

/* Sorts the revoked ids, for the binary search of tlscryptv2_accepts. */
void tlscryptv2_server_sort(struct tlscryptv2_server *s);

/* Frees the revoked list and wipes the key; a zeroed struct is fine. */
void tlscryptv2_server_clear(struct tlscryptv2_server *s);

#endif
