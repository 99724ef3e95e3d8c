/* SPDX-License-Identifier: MIT */
/*
 * OpenVPN's static key file ("OpenVPN Static key V1": 256 bytes as 16 lines
 * of hex between BEGIN/END lines), as used by tls-auth and tls-crypt and
 * written by `openvpn --genkey secret` and `moonvpn genkey`. Pure parsing
 * and formatting; reading the file and choosing keys are the caller's.
 */
#ifndef MOONVPN_STATICKEY_H
#define MOONVPN_STATICKEY_H

#include <stddef.h>
#include <stdint.h>

enum {
	STATIC_KEY_LEN = 256,
	STATIC_KEY_TEXT_MAX = 1024, /* room for the formatted file */
};

struct static_key {
	uint8_t bytes[STATIC_KEY_LEN];
};

/* Parses the text of a key file. 0, or -1 with a one-line reason in err. */
int static_key_parse(struct static_key *out, const char *text, size_t len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Writes the file text (NUL-terminated) in the format stock OpenVPN reads; its length. */
size_t static_key_format(const struct static_key *k, char *out, size_t cap);

#endif
