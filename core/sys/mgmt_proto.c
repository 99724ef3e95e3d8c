// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mgmt_proto.h"

static bool buf_reserve(struct mgmt_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	if (b->len + more + 1 > MGMT_BUF_MAX_BYTES) {
		b->failed = true;
		return false;
	}
	for (cap = b->cap ? b->cap : 1024; cap < b->len + more + 1;)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void mgmt_buf_printf(struct mgmt_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void mgmt_buf_free(struct mgmt_buf *b)
{
	free(b->data);
	*b = (struct mgmt_buf){ 0 };
}

int mgmt_split(char *line, char **argv, size_t max)
{
	char *r = line, *w = line;
	size_t argc = 0;

	for (;;) {
		char quote = 0;

		while (*r == ' ' || *r == '\t')
			r++;
		if (!*r)
			return (int)argc;
		if (argc == max)
			return -1;
		argv[argc++] = w;
		while (*r && (quote || (*r != ' ' && *r != '\t'))) {
			if (*r == '\\' && quote != '\'' && r[1]) {
				*w++ = r[1];
				r += 2;
			} else if (!quote && (*r == '"' || *r == '\'')) {
				quote = *r++;
			} else if (quote && *r == quote) {
				quote = 0;
				r++;
			} else {
				*w++ = *r++;
			}
		}
		if (quote)
			return -1;
		if (*r)
			r++;
		*w++ = '\0';
		/* w never passes r: every byte written was read at or after it. */
	}
}

void mgmt_time_string(int64_t t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) || !strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(out, outlen, "%lld", (long long)t);
}

static const char *undef(const char *s)
{
	return s && *s ? s : "UNDEF";
}

static const char *str(const char *s)
{
	return s ? s : "";
}

static void status_v1(struct mgmt_buf *b, const struct mgmt_status *st)
{
	const char *e = st->eol;
	char t[32];

	mgmt_time_string(st->now, t, sizeof(t));
	mgmt_buf_printf(b, "OpenVPN CLIENT LIST%sUpdated,%s%s", e, t, e);
	mgmt_buf_printf(b, "Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since%s",
			e);
	for (size_t i = 0; i < st->n_clients; i++) {
		const struct mgmt_client *c = &st->clients[i];

		mgmt_time_string(c->connected_since, t, sizeof(t));
		mgmt_buf_printf(b, "%s,%s,%llu,%llu,%s%s", undef(c->cn), str(c->real_address),
				(unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
				t, e);
	}
	mgmt_buf_printf(b, "ROUTING TABLE%sVirtual Address,Common Name,Real Address,Last Ref%s", e,
			e);
	for (size_t i = 0; i < st->n_clients; i++) {
		const struct mgmt_client *c = &st->clients[i];
		const char *addrs[2] = { c->vaddr4, c->vaddr6 };

		/* Last Ref: we do not track a per-route reference time; now is what a
		 * route of a live client would show. */
		mgmt_time_string(st->now, t, sizeof(t));
		for (size_t a = 0; a < 2; a++)
			if (addrs[a] && *addrs[a])
				mgmt_buf_printf(b, "%s,%s,%s,%s%s", addrs[a], undef(c->cn),
						str(c->real_address), t, e);
		for (size_t r = 0; r < c->n_routes; r++)
			mgmt_buf_printf(b, "%s,%s,%s,%s%s", c->routes[r], undef(c->cn),
					str(c->real_address), t, e);
	}
	/* Broadcasts are never queued here (they go out as they come): the longest queue is 0. */
	mgmt_buf_printf(b, "GLOBAL STATS%sMax bcast/mcast queue length,0%sEND%s", e, e, e);
}

static void route_v2(struct mgmt_buf *b, const struct mgmt_status *st, char sep,
		     const struct mgmt_client *c, const char *addr)
{
	char t[32];

	mgmt_time_string(st->now, t, sizeof(t));
	mgmt_buf_printf(b, "ROUTING_TABLE%c%s%c%s%c%s%c%s%c%lld%s", sep, addr, sep, undef(c->cn),
			sep, str(c->real_address), sep, t, sep, (long long)st->now, st->eol);
}

static void status_v2(struct mgmt_buf *b, const struct mgmt_status *st, char sep)
{
	const char *e = st->eol;
	char t[32];

	mgmt_time_string(st->now, t, sizeof(t));
	mgmt_buf_printf(b, "TITLE%c%s%s", sep, st->title, e);
	mgmt_buf_printf(b, "TIME%c%s%c%lld%s", sep, t, sep, (long long)st->now, e);
	mgmt_buf_printf(b,
			"HEADER%cCLIENT_LIST%cCommon Name%cReal Address%cVirtual Address%c"
			"Virtual IPv6 Address%cBytes Received%cBytes Sent%cConnected Since%c"
			"Connected Since (time_t)%cUsername%cClient ID%cPeer ID%c"
			"Data Channel Cipher%s",
			sep, sep, sep, sep, sep, sep, sep, sep, sep, sep, sep, sep, sep, e);
	for (size_t i = 0; i < st->n_clients; i++) {
		const struct mgmt_client *c = &st->clients[i];

		mgmt_time_string(c->connected_since, t, sizeof(t));
		mgmt_buf_printf(
			b, "CLIENT_LIST%c%s%c%s%c%s%c%s%c%llu%c%llu%c%s%c%lld%c%s%c%llu%c%u%c%s%s",
			sep, undef(c->cn), sep, str(c->real_address), sep, str(c->vaddr4), sep,
			str(c->vaddr6), sep, (unsigned long long)c->bytes_in, sep,
			(unsigned long long)c->bytes_out, sep, t, sep,
			(long long)c->connected_since, sep, undef(c->username), sep,
			(unsigned long long)c->cid, sep, (unsigned)c->peer_id, sep, str(c->cipher),
			e);
	}
	mgmt_buf_printf(b,
			"HEADER%cROUTING_TABLE%cVirtual Address%cCommon Name%cReal Address%c"
			"Last Ref%cLast Ref (time_t)%s",
			sep, sep, sep, sep, sep, sep, e);
	for (size_t i = 0; i < st->n_clients; i++) {
		const struct mgmt_client *c = &st->clients[i];

		if (c->vaddr4 && *c->vaddr4)
			route_v2(b, st, sep, c, c->vaddr4);
		if (c->vaddr6 && *c->vaddr6)
			route_v2(b, st, sep, c, c->vaddr6);
		for (size_t r = 0; r < c->n_routes; r++)
			route_v2(b, st, sep, c, c->routes[r]);
	}
	/* dco_enabled: the data channel is ours, in user space, never the kernel's. */
	mgmt_buf_printf(b, "GLOBAL_STATS%cMax bcast/mcast queue length%c0%s", sep, sep, e);
	mgmt_buf_printf(b, "GLOBAL_STATS%cdco_enabled%c0%sEND%s", sep, sep, e, e);
}

int mgmt_format_status(struct mgmt_buf *b, const struct mgmt_status *st, int version)
{
	switch (version) {
	case 1:
		status_v1(b, st);
		return 0;
	case 2:
		status_v2(b, st, ',');
		return 0;
	case 3:
		status_v2(b, st, '\t');
		return 0;
	default:
		return -1;
	}
}

void mgmt_format_env(struct mgmt_buf *b, const char *name, const char *value)
{
	char clean[MGMT_ENV_VALUE_MAX + 1];
	size_t n = 0;

	for (const char *p = value ? value : ""; *p && n < MGMT_ENV_VALUE_MAX; p++)
		clean[n++] = ((unsigned char)*p < 0x20 || *p == 0x7f) ? '_' : *p;
	clean[n] = '\0';
	mgmt_buf_printf(b, ">CLIENT:ENV,%s=%s\r\n", name, clean);
}
