/* SPDX-License-Identifier: MIT */
/*
 * Session tokens in the format of OpenVPN 2.5+'s --auth-gen-token, so stock
 * 2.x clients and the OpenVPN 3 core present them back as their password:
 * "SESS_ID_AT_" followed by the base64 of a 12-byte session id, the initial
 * and the current timestamp (8 bytes each, big-endian, Unix seconds) and an
 * HMAC-SHA256 over username || those 28 bytes. The key file is the PEM one
 * `openvpn --genkey auth-token FILE` writes. Pure: reading the file, the
 * clock, and what a session does with a verdict are the caller's.
 */
#ifndef MOONVPN_AUTHTOKEN_H
#define MOONVPN_AUTHTOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	AUTHTOKEN_SESSID_LEN = 12,
	AUTHTOKEN_HMAC_LEN = 32,
	AUTHTOKEN_DATA_LEN = AUTHTOKEN_SESSID_LEN + 2 * 8 + AUTHTOKEN_HMAC_LEN, /* 60 bytes */
	AUTHTOKEN_PREFIX_LEN = 11,						/* SESS_ID_AT_ */
	AUTHTOKEN_TEXT_LEN = AUTHTOKEN_PREFIX_LEN + AUTHTOKEN_DATA_LEN / 3 * 4, /* 91 chars */
	AUTHTOKEN_TEXT_MAX = AUTHTOKEN_TEXT_LEN + 1,
	/* The file holds OpenVPN's 128-byte struct key: 64 cipher bytes (unused
	 * here), then 64 HMAC bytes of which SHA-256 takes the first 32. */
	AUTHTOKEN_FILE_KEY_LEN = 128,
	AUTHTOKEN_FILE_HMAC_OFFSET = 64,
	AUTHTOKEN_FILE_MAX = 4096,
	AUTHTOKEN_USERNAME_MAX = 256, /* bytes of username the HMAC covers at most */
};

/* The PEM name of the key file (OpenVPN's auth_token_pem_name). */
#define AUTHTOKEN_PEM_NAME "OpenVPN auth-token server key"

/* What authtoken_verify found; 0 means not a token of ours at all. */
enum authtoken_flags {
	AUTHTOKEN_HMAC_OK = 1,	  /* made with our key for this username (or the empty one) */
	AUTHTOKEN_EXPIRED = 2,	  /* outside its renewal window or past its lifetime */
	AUTHTOKEN_EMPTY_USER = 4, /* the HMAC matched only with the empty username */
};

struct authtoken_key {
	uint8_t hmac[AUTHTOKEN_HMAC_LEN];
};

/* A token's contents. */
struct authtoken {
	uint8_t sessid[AUTHTOKEN_SESSID_LEN];
	uint64_t initial;   /* when the session first authenticated */
	uint64_t timestamp; /* when this token was made */
};

/* The token policy: renew and lifetime in seconds (lifetime 0: no limit). */
struct authtoken_limits {
	unsigned renew_seconds, lifetime_seconds;
};

/* Parses the PEM key file text. 0, or -1 with a one-line reason in err. */
int authtoken_key_parse(struct authtoken_key *out, const char *text, size_t len, char *err,
			size_t errlen) __attribute__((warn_unused_result));

/* A random key (no secret file: tokens die with the process, as OpenVPN's). 0 or -1. */
int authtoken_key_generate(struct authtoken_key *out) __attribute__((warn_unused_result));

/* True when password has a token's prefix and length (then it is verified, never a password). */
bool authtoken_looks_like(const char *password);

/*
 * Writes t as a token for username (NUL-terminated) into out; 0, or -1 when
 * the HMAC fails or the username is longer than AUTHTOKEN_USERNAME_MAX.
 */
int authtoken_make(const struct authtoken_key *k, const char *username, const struct authtoken *t,
		   char out[AUTHTOKEN_TEXT_MAX]) __attribute__((warn_unused_result));

/*
 * Checks text as a token for username at Unix time now: enum authtoken_flags
 * (0 for anything not made with our key). With AUTHTOKEN_HMAC_OK, *out holds
 * its contents. It is valid when the flags are exactly AUTHTOKEN_HMAC_OK:
 * now within [timestamp, timestamp + 2 * renew), initial <= timestamp, and
 * now <= initial + lifetime when there is a lifetime.
 */
unsigned authtoken_verify(const struct authtoken_key *k, const char *username, const char *text,
			  uint64_t now, const struct authtoken_limits *lim, struct authtoken *out);

/* base64 (RFC 4648, padded) of len bytes into out (cap includes the NUL); its length or 0. */
size_t authtoken_base64(const uint8_t *in, size_t len, char *out, size_t cap);

#endif
