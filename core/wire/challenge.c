// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>

#include "authtoken.h"
#include "challenge.h"

static const char PREFIX[] = "AUTH_FAILED,CRV1:";

static int b64_value(char ch)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = ch ? strchr(alphabet, ch) : NULL;

	return p ? (int)(p - alphabet) : -1;
}

/* Padded or unpadded base64 text of len bytes into NUL-terminated out; false if not text. */
static bool b64_decode_text(const char *in, size_t len, char *out, size_t cap)
{
	unsigned acc = 0, bits = 0;
	size_t n = 0;

	while (len && in[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(in[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits < 8)
			continue;
		bits -= 8;
		if (n + 1 >= cap || ((acc >> bits) & 0xff) == 0)
			return false; /* too long, or a NUL inside a username */
		out[n++] = (char)((acc >> bits) & 0xff);
	}
	out[n] = '\0';
	return true;
}

/* The part of *p up to the next ':' into out (cap with NUL); *p moves past the ':'. */
static bool next_field(const char **p, char *out, size_t cap)
{
	const char *colon = strchr(*p, ':');
	size_t len = colon ? (size_t)(colon - *p) : 0;

	if (!colon || len >= cap)
		return false;
	memcpy(out, *p, len);
	out[len] = '\0';
	*p = colon + 1;
	return true;
}

bool challenge_parse(struct challenge *out, const char *message)
{
	const char *p = message;
	char flags[16], user64[CHALLENGE_USERNAME_MAX * 4 / 3 + 4];

	memset(out, 0, sizeof(*out));
	if (strncmp(p, PREFIX, strlen(PREFIX)) != 0)
		return false;
	p += strlen(PREFIX);
	if (!next_field(&p, flags, sizeof(flags)) ||
	    !next_field(&p, out->state_id, sizeof(out->state_id)) ||
	    !next_field(&p, user64, sizeof(user64)) ||
	    !b64_decode_text(user64, strlen(user64), out->username, sizeof(out->username)) ||
	    strlen(p) >= sizeof(out->text))
		return false;
	out->echo = strchr(flags, 'E') != NULL;
	out->response = strchr(flags, 'R') != NULL;
	memcpy(out->text, p, strlen(p) + 1);
	return true;
}

bool challenge_static_password(char *out, size_t cap, const char *password, const char *response)
{
	static const char prefix[] = "SCRV1:";
	size_t off = strlen(prefix), n;

	if (cap <= off)
		return false;
	memcpy(out, prefix, off);
	n = authtoken_base64((const uint8_t *)password, strlen(password), out + off, cap - off);
	if (!n && password[0])
		return false;
	off += n;
	if (off + 2 > cap)
		return false;
	out[off++] = ':';
	out[off] = '\0';
	n = authtoken_base64((const uint8_t *)response, strlen(response), out + off, cap - off);
	return n || !response[0];
}

bool challenge_dynamic_password(char *out, size_t cap, const struct challenge *c,
				const char *response)
{
	int n = snprintf(out, cap, "CRV1::%s::%s", c->state_id, response);

	return n >= 0 && (size_t)n < cap;
}
