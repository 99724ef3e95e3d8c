// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "authtoken.h"
#include "crypto.h"

static const char PREFIX[] = "SESS_ID_AT_";
static const char BEGIN[] = "-----BEGIN " AUTHTOKEN_PEM_NAME "-----";
static const char END[] = "-----END " AUTHTOKEN_PEM_NAME "-----";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char c)
{
	const char *at = c ? strchr(B64, c) : NULL;

	return at ? (int)(at - B64) : -1;
}

size_t authtoken_base64(const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t n = 0;

	if ((len + 2) / 3 * 4 + 1 > cap)
		return 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[n++] = B64[v >> 18 & 63];
		out[n++] = B64[v >> 12 & 63];
		out[n++] = i + 1 < len ? B64[v >> 6 & 63] : '=';
		out[n++] = i + 2 < len ? B64[v & 63] : '=';
	}
	out[n] = '\0';
	return n;
}

/*
 * Decodes base64 from text[0, len) into out: whitespace is skipped when
 * spaces is set, '=' ends the data. The number of bytes, or -1 for another
 * character, too much data or bits left over.
 */
static int b64_decode(const char *text, size_t len, bool spaces, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0, i;

	for (i = 0; i < len && text[i] != '='; i++) {
		int v = b64_value(text[i]);

		if (v < 0 && spaces && isspace((unsigned char)text[i]))
			continue;
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	for (; i < len; i++) /* only padding and (in a file) whitespace may follow */
		if (text[i] != '=' && !(spaces && isspace((unsigned char)text[i])))
			return -1;
	return bits < 6 && (acc & ((1u << bits) - 1)) == 0 ? (int)n : -1;
}

int authtoken_key_parse(struct authtoken_key *out, const char *text, size_t len, char *err,
			size_t errlen)
{
	const char *begin = memmem(text, len, BEGIN, strlen(BEGIN)), *end;
	uint8_t key[AUTHTOKEN_FILE_KEY_LEN + 3];
	int n;

	if (!begin) {
		snprintf(err, errlen, "not an auth-token key: no \"%s\" line", BEGIN);
		return -1;
	}
	begin += strlen(BEGIN);
	end = memmem(begin, len - (size_t)(begin - text), END, strlen(END));
	if (!end) {
		snprintf(err, errlen, "the auth-token key is cut short: no \"%s\" line", END);
		return -1;
	}
	n = b64_decode(begin, (size_t)(end - begin), true, key, sizeof(key));
	if (n != AUTHTOKEN_FILE_KEY_LEN) {
		snprintf(err, errlen,
			 n < 0 ? "the auth-token key is not valid base64"
			       : "the auth-token key holds %d bytes, expected %d",
			 n, AUTHTOKEN_FILE_KEY_LEN);
		crypto_wipe(key, sizeof(key));
		return -1;
	}
	memcpy(out->hmac, key + AUTHTOKEN_FILE_HMAC_OFFSET, sizeof(out->hmac));
	crypto_wipe(key, sizeof(key));
	return 0;
}

int authtoken_key_generate(struct authtoken_key *out)
{
	return crypto_random(out->hmac, sizeof(out->hmac));
}

bool authtoken_looks_like(const char *password)
{
	return strlen(password) == AUTHTOKEN_TEXT_LEN &&
	       strncmp(password, PREFIX, AUTHTOKEN_PREFIX_LEN) == 0;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* HMAC-SHA256 over username || data[0, 28): the token's own HMAC. */
static int token_hmac(const struct authtoken_key *k, const char *username,
		      const uint8_t data[AUTHTOKEN_DATA_LEN], uint8_t out[AUTHTOKEN_HMAC_LEN])
{
	enum { SIGNED = AUTHTOKEN_DATA_LEN - AUTHTOKEN_HMAC_LEN };
	uint8_t buf[AUTHTOKEN_USERNAME_MAX + SIGNED];
	size_t ulen = strlen(username), n = 0;
	int rc;

	if (ulen > AUTHTOKEN_USERNAME_MAX)
		return -1;
	memcpy(buf, username, ulen);
	memcpy(buf + ulen, data, SIGNED);
	rc = crypto_hmac_oneshot("SHA256", k->hmac, sizeof(k->hmac), buf, ulen + SIGNED, out,
				 AUTHTOKEN_HMAC_LEN, &n);
	return rc == 0 && n == AUTHTOKEN_HMAC_LEN ? 0 : -1;
}

int authtoken_make(const struct authtoken_key *k, const char *username, const struct authtoken *t,
		   char out[AUTHTOKEN_TEXT_MAX])
{
	uint8_t data[AUTHTOKEN_DATA_LEN];

	memcpy(data, t->sessid, AUTHTOKEN_SESSID_LEN);
	put_be64(data + AUTHTOKEN_SESSID_LEN, t->initial);
	put_be64(data + AUTHTOKEN_SESSID_LEN + 8, t->timestamp);
	if (token_hmac(k, username, data, data + AUTHTOKEN_DATA_LEN - AUTHTOKEN_HMAC_LEN) < 0)
		return -1;
	memcpy(out, PREFIX, AUTHTOKEN_PREFIX_LEN);
	return authtoken_base64(data, sizeof(data), out + AUTHTOKEN_PREFIX_LEN,
				AUTHTOKEN_TEXT_MAX - AUTHTOKEN_PREFIX_LEN) ==
			       AUTHTOKEN_TEXT_LEN - AUTHTOKEN_PREFIX_LEN
		       ? 0
		       : -1;
}

static bool hmac_matches(const struct authtoken_key *k, const char *username,
			 const uint8_t data[AUTHTOKEN_DATA_LEN])
{
	uint8_t mac[AUTHTOKEN_HMAC_LEN];

	return token_hmac(k, username, data, mac) == 0 &&
	       crypto_equal(mac, data + AUTHTOKEN_DATA_LEN - AUTHTOKEN_HMAC_LEN, sizeof(mac));
}

/* The time checks of OpenVPN's verify_auth_token (auth_token.c). */
static bool expired(const struct authtoken *t, uint64_t now, const struct authtoken_limits *lim)
{
	uint64_t window = 2 * (uint64_t)lim->renew_seconds;

	if (now < t->timestamp || now - t->timestamp >= window || t->timestamp < t->initial)
		return true;
	return lim->lifetime_seconds && now > t->initial &&
	       now - t->initial > lim->lifetime_seconds;
}

unsigned authtoken_verify(const struct authtoken_key *k, const char *username, const char *text,
			  uint64_t now, const struct authtoken_limits *lim, struct authtoken *out)
{
	uint8_t data[AUTHTOKEN_DATA_LEN];
	unsigned flags;

	if (!authtoken_looks_like(text) ||
	    b64_decode(text + AUTHTOKEN_PREFIX_LEN, AUTHTOKEN_TEXT_LEN - AUTHTOKEN_PREFIX_LEN,
		       false, data, sizeof(data)) != AUTHTOKEN_DATA_LEN)
		return 0;
	if (hmac_matches(k, username, data))
		flags = AUTHTOKEN_HMAC_OK;
	else if (username[0] && hmac_matches(k, "", data))
		flags = AUTHTOKEN_HMAC_OK | AUTHTOKEN_EMPTY_USER;
	else
		return 0;
	memcpy(out->sessid, data, AUTHTOKEN_SESSID_LEN);
	out->initial = get_be64(data + AUTHTOKEN_SESSID_LEN);
	out->timestamp = get_be64(data + AUTHTOKEN_SESSID_LEN + 8);
	if (expired(out, now, lim))
		flags |= AUTHTOKEN_EXPIRED;
	return flags;
}
