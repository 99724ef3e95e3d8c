/* SPDX-License-Identifier: MIT */
/*
 * The key-method-2 message, the first plaintext each side writes into TLS
 * (protocol guide section 5): randoms, the pre-master secret (client only),
 * the options ("OCC") string, username, password and peer-info. Also the
 * helpers around its strings: reading a peer-info variable, and the options
 * string a server echoes. Pure: decoded strings point into the caller's
 * buffer; no allocation, no I/O. Key derivation from these randoms is
 * crypto.c's; deciding what to accept is the session's.
 */
#ifndef MOONVPN_KEYMETHOD_H
#define MOONVPN_KEYMETHOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	KM2_PRE_MASTER_LEN = 48,
	KM2_RANDOM_LEN = 32,
	KM2_OPTIONS_MAX = 512,	   /* bytes including the NUL, as 2.6 reads it */
	KM2_CREDENTIAL_MAX = 4096, /* username and password, including the NUL */
	KM2_PEER_INFO_MAX = 4096,
	KM2_MESSAGE_MAX = 2047, /* 2.6 reads the whole message with one 2048-byte read */
	KM2_METHOD = 2,
};

enum km2_error {
	KM2_ETRUNC = -1,    /* shorter than its fields say */
	KM2_EHEADER = -2,   /* no leading zero u32, or a key method other than 2 */
	KM2_ESTRING = -3,   /* a string without its NUL, or with a NUL inside */
	KM2_ETOOLONG = -4,  /* a string over its limit */
	KM2_ETRAILING = -5, /* bytes after the peer-info */
};

/* A string of the message: text (NUL-terminated, in the buffer) and its length without NUL. */
struct km2_string {
	const char *text; /* NULL when absent or empty */
	size_t len;
};

struct km2 {
	bool from_client; /* the client's message carries the pre-master secret */
	uint8_t pre_master[KM2_PRE_MASTER_LEN];
	uint8_t random1[KM2_RANDOM_LEN];
	uint8_t random2[KM2_RANDOM_LEN];
	struct km2_string options, username, password, peer_info;
};

/* Decodes a message written by a client (from_client) or a server. 0 or a KM2_E* code. */
int km2_decode(struct km2 *out, const uint8_t *buf, size_t len, bool from_client)
	__attribute__((warn_unused_result));

/* Encodes m; returns the length, or 0 when a string is too long or cap too small. */
size_t km2_encode(uint8_t *out, size_t cap, const struct km2 *m)
	__attribute__((warn_unused_result));

const char *km2_error_name(int error);

/*
 * Copies the value of peer-info variable name ("IV_PROTO") into out
 * (NUL-terminated, cut to cap). Returns false when it is absent.
 */
bool km2_peer_info_get(const struct km2_string *info, const char *name, char *out, size_t cap);

/*
 * The IV_PROTO bits moonvpn reads or sends, as OpenVPN's ssl.h numbers them
 * (protocol guide 5.4); client and server share them.
 */
enum km2_iv_proto {
	IV_PROTO_DATA_V2 = 1 << 1,
	IV_PROTO_REQUEST_PUSH = 1 << 2,
	IV_PROTO_TLS_KEY_EXPORT = 1 << 3,
	IV_PROTO_AUTH_PENDING_KW = 1 << 4, /* AUTH_PENDING,timeout N is understood */
	IV_PROTO_DNS_OPTION = 1 << 6,	   /* 2.6's `dns server`/`dns search-domains` are read */
	IV_PROTO_CC_EXIT_NOTIFY = 1 << 7,
	IV_PROTO_DYN_TLS_CRYPT = 1 << 9,
	IV_PROTO_DATA_EPOCH = 1 << 10, /* 2.7's epoch data format */
	/* `dns` after 2.6's incompatible changes (ssl.h): `dns server N address` with
	 * several addresses and their ports, no exclude-domains. 2.7 sends only this one. */
	IV_PROTO_DNS_OPTION_V2 = 1 << 11,
};

/* IV_PROTO as a number (0 when absent or not a number). */
uint32_t km2_peer_info_proto(const struct km2_string *info);

/*
 * The name of IV_PROTO bit number bit ("data-v2", "dyn-tls-crypt", ...), as
 * OpenVPN's ssl.h defines them; NULL for a bit without one.
 */
const char *km2_iv_proto_name(unsigned bit);

/*
 * The options string a server sends back for a client's: the same items
 * with tls-client -> tls-server, TCPv4_CLIENT -> TCPv4_SERVER (v6 too) and
 * keydir 0 <-> 1, so that no consistency warning is triggered. Returns
 * false when it does not fit in cap.
 */
bool km2_options_reply(const char *client, char *out, size_t cap);

#endif
