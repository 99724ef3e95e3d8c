// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keymethod.h"

struct cursor {
	const uint8_t *p;
	size_t len, off;
};

static bool take(struct cursor *c, void *dst, size_t n)
{
	if (c->len - c->off < n)
		return false;
	memcpy(dst, c->p + c->off, n);
	c->off += n;
	return true;
}

/*
 * A u16 length (NUL included) and the bytes. Length 0 and length 1 (a lone
 * NUL) both mean empty: 2.6 writes the first, the RFC draft the second.
 */
static int read_string(struct cursor *c, struct km2_string *s, size_t max)
{
	uint8_t be[2];
	size_t n;

	s->text = NULL;
	s->len = 0;
	if (c->off == c->len)
		return 0; /* absent trailing field: older peers stop early */
	if (!take(c, be, 2))
		return KM2_ETRUNC;
	n = (size_t)be[0] << 8 | be[1];
	if (n == 0)
		return 0;
	if (n > max)
		return KM2_ETOOLONG;
	if (c->len - c->off < n)
		return KM2_ETRUNC;
	const char *text = (const char *)c->p + c->off;
	if (text[n - 1] != '\0' || memchr(text, '\0', n - 1))
		return KM2_ESTRING;
	c->off += n;
	if (n > 1) {
		s->text = text;
		s->len = n - 1;
	}
	return 0;
}

int km2_decode(struct km2 *out, const uint8_t *buf, size_t len, bool from_client)
{
	struct cursor c = { buf, len, 0 };
	uint8_t zero[4], method;
	int rc;

	memset(out, 0, sizeof(*out));
	out->from_client = from_client;
	if (!take(&c, zero, 4) || !take(&c, &method, 1))
		return KM2_ETRUNC;
	if (memcmp(zero, "\0\0\0\0", 4) || (method & 0x0f) != KM2_METHOD)
		return KM2_EHEADER;
	if (from_client && !take(&c, out->pre_master, KM2_PRE_MASTER_LEN))
		return KM2_ETRUNC;
	if (!take(&c, out->random1, KM2_RANDOM_LEN) || !take(&c, out->random2, KM2_RANDOM_LEN))
		return KM2_ETRUNC;
	if (c.off == c.len)
		return KM2_ETRUNC; /* the options string is required */
	if ((rc = read_string(&c, &out->options, KM2_OPTIONS_MAX)) ||
	    (rc = read_string(&c, &out->username, KM2_CREDENTIAL_MAX)) ||
	    (rc = read_string(&c, &out->password, KM2_CREDENTIAL_MAX)) ||
	    (rc = read_string(&c, &out->peer_info, KM2_PEER_INFO_MAX)))
		return rc;
	return c.off == c.len ? 0 : KM2_ETRAILING;
}

static bool put(uint8_t *out, size_t cap, size_t *off, const void *src, size_t n)
{
	if (cap - *off < n)
		return false;
	memcpy(out + *off, src, n);
	*off += n;
	return true;
}

/* Empty strings are written as length 0, as 2.6 does. */
static bool write_string(uint8_t *out, size_t cap, size_t *off, const struct km2_string *s,
			 size_t max)
{
	size_t n = s->text && s->len ? s->len + 1 : 0;
	uint8_t be[2] = { (uint8_t)(n >> 8), (uint8_t)n };

	if (n > max)
		return false;
	return put(out, cap, off, be, 2) && (!n || put(out, cap, off, s->text, n - 1)) &&
	       (!n || put(out, cap, off, "", 1));
}

size_t km2_encode(uint8_t *out, size_t cap, const struct km2 *m)
{
	static const uint8_t header[5] = { 0, 0, 0, 0, KM2_METHOD };
	size_t off = 0;

	if (!put(out, cap, &off, header, sizeof(header)) ||
	    (m->from_client && !put(out, cap, &off, m->pre_master, KM2_PRE_MASTER_LEN)) ||
	    !put(out, cap, &off, m->random1, KM2_RANDOM_LEN) ||
	    !put(out, cap, &off, m->random2, KM2_RANDOM_LEN) ||
	    !write_string(out, cap, &off, &m->options, KM2_OPTIONS_MAX) ||
	    !write_string(out, cap, &off, &m->username, KM2_CREDENTIAL_MAX) ||
	    !write_string(out, cap, &off, &m->password, KM2_CREDENTIAL_MAX) ||
	    !write_string(out, cap, &off, &m->peer_info, KM2_PEER_INFO_MAX))
		return 0;
	return off;
}

const char *km2_error_name(int error)
{
	switch (error) {
	case 0:
		return "ok";
	case KM2_ETRUNC:
		return "truncated key-method-2 message";
	case KM2_EHEADER:
		return "not a key-method-2 message";
	case KM2_ESTRING:
		return "malformed string in key-method-2 message";
	case KM2_ETOOLONG:
		return "string too long in key-method-2 message";
	case KM2_ETRAILING:
		return "trailing bytes after key-method-2 message";
	}
	return "unknown error";
}

bool km2_peer_info_get(const struct km2_string *info, const char *name, char *out, size_t cap)
{
	size_t name_len = strlen(name);
	const char *p = info->text, *end = info->text ? info->text + info->len : NULL;

	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;

		if ((size_t)(line_end - p) > name_len && memcmp(p, name, name_len) == 0 &&
		    p[name_len] == '=') {
			const char *value = p + name_len + 1;
			size_t n = (size_t)(line_end - value);

			if (cap) {
				n = n < cap - 1 ? n : cap - 1;
				memcpy(out, value, n);
				out[n] = '\0';
			}
			return true;
		}
		p = nl ? nl + 1 : end;
	}
	return false;
}

uint32_t km2_peer_info_proto(const struct km2_string *info)
{
	char value[16], *end;
	unsigned long v;

	if (!km2_peer_info_get(info, "IV_PROTO", value, sizeof(value)) || !value[0])
		return 0;
	v = strtoul(value, &end, 10);
	return *end || v > UINT32_MAX ? 0 : (uint32_t)v;
}

const char *km2_iv_proto_name(unsigned bit)
{
	/* OpenVPN's ssl.h (IV_PROTO_*); bit 0 is reserved. */
	static const char *const names[] = {
		NULL,
		"data-v2",
		"request-push",
		"tls-key-export",
		"auth-pending-kw",
		"ncp-p2p",
		"dns-option",
		"cc-exit-notify",
		"auth-fail-temp",
		"dyn-tls-crypt",
		"data-epoch",
		"dns-option-v2",
		"push-update",
	};

	return bit < sizeof(names) / sizeof(names[0]) ? names[bit] : NULL;
}

/* The reply form of one comma-separated item of the client's options string. */
static const char *reply_item(const char *item, size_t len)
{
	static const struct {
		const char *client, *server;
	} swaps[] = {
		{ "tls-client", "tls-server" },
		{ "proto TCPv4_CLIENT", "proto TCPv4_SERVER" },
		{ "proto TCPv6_CLIENT", "proto TCPv6_SERVER" },
		{ "keydir 0", "keydir 1" },
		{ "keydir 1", "keydir 0" },
	};

	for (size_t i = 0; i < sizeof(swaps) / sizeof(swaps[0]); i++)
		if (strlen(swaps[i].client) == len && memcmp(item, swaps[i].client, len) == 0)
			return swaps[i].server;
	return NULL;
}

bool km2_options_reply(const char *client, char *out, size_t cap)
{
	size_t off = 0;
	const char *p = client;

	if (!cap)
		return false;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		const char *swap = reply_item(p, len);
		size_t n = swap ? strlen(swap) : len;

		if (off + n + (comma ? 1 : 0) >= cap)
			return false;
		memcpy(out + off, swap ? swap : p, n);
		off += n;
		if (!comma)
			break;
		out[off++] = ',';
		p = comma + 1;
	}
	out[off] = '\0';
	return true;
}
