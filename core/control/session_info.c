// SPDX-License-Identifier: MIT
/*
 * What the rest of the engine may read of a session: its identity, state,
 * addresses, counters and the client's credentials, certificate and
 * peer-info. Read-only; the protocol itself is session.c.
 */
#include <string.h>
#include <sys/socket.h>

#include "session_impl.h"

const char *session_client_token(const struct session *s, bool *sent)
{
	*sent = s->client && s->client->sent_token;
	return s->client ? s->client->token : "";
}

bool session_auth_failed(const struct session *s)
{
	return s->client && s->client->auth_failed;
}

const char *session_client_refusal(const struct session *s)
{
	return s->client && s->client->refused_with ? s->client->refused_with : "";
}

const struct push_options *session_pushed(const struct session *s)
{
	return s->client && s->state == SESSION_ACTIVE ? &s->client->pushed : NULL;
}

const struct dchan_counters *session_counters(const struct session *s)
{
	return &s->dc->counters;
}

static const char *km2_text(const struct km2_string *str)
{
	return str->text ? str->text : "";
}

const char *session_username(const struct session *s)
{
	return s->username ? s->username : "";
}

const char *session_password(const struct session *s)
{
	/* A token is no password: no hook gets to see it. */
	if (s->token_state != TOKEN_NONE)
		return "";
	return km2_text(&s->ks[s->current].client_km.password);
}

const char *session_token_state(const struct session *s)
{
	return token_state_name(s->token_state);
}

uint8_t session_framing(const struct session *s)
{
	return s->dc->framing;
}

const char *session_peer_info(const struct session *s)
{
	return km2_text(&s->ks[s->current].client_km.peer_info);
}

const struct tlscryptv2_client *session_tls_crypt_v2(const struct session *s)
{
	return s->tls_crypt_v2;
}

const struct wrap *session_wrap(const struct session *s)
{
	return &s->wrap;
}

const char *session_peer_subject(const struct session *s)
{
	const struct tls_session *t = s->ks[s->current].tls;

	return t ? tls_session_peer_subject(t) : "";
}

const char *session_peer_serial(const struct session *s)
{
	const struct tls_session *t = s->ks[s->current].tls;

	return t ? tls_session_peer_serial(t) : "";
}

const uint8_t *session_peer_fingerprint(const struct session *s)
{
	const struct tls_session *t = s->ks[s->current].tls;

	return t ? tls_session_peer_fingerprint(t) : NULL;
}

bool session_is_peer(const struct session *s, const struct sockaddr *addr, socklen_t len)
{
	return len == s->peer_len && memcmp(&s->peer, addr, len) == 0;
}

enum session_state session_state(const struct session *s)
{
	return s->state;
}

const char *session_state_name(enum session_state st)
{
	static const char *const names[] = {
#define SESSION_STATE_NAME(e, name) [e] = name,
		SESSION_STATE_MAP(SESSION_STATE_NAME)
#undef SESSION_STATE_NAME
	};

	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

const char *session_cn(const struct session *s)
{
	const struct key_state *ks = &s->ks[s->current];

	return ks->phase != KEY_PHASE_EMPTY ? tls_session_peer_cn(ks->tls) : "";
}

const char *session_cipher(const struct session *s)
{
	return s->cipher;
}

const char *session_address(const struct session *s)
{
	return s->address;
}

const struct sockaddr *session_peer(const struct session *s)
{
	return (const struct sockaddr *)&s->peer;
}

const struct proto_sid *session_remote_sid(const struct session *s)
{
	return &s->remote_sid;
}

uint32_t session_peer_id(const struct session *s)
{
	return s->peer_id;
}

uint32_t session_iv_proto(const struct session *s)
{
	return s->iv_proto;
}

bool session_iv_mtu(const struct session *s)
{
	return s->iv_mtu;
}

bool session_ncp(const struct session *s)
{
	return s->ncp;
}

bool session_epoch_data(const struct session *s)
{
	return s->epoch_data;
}

void session_keepalive(const struct session *s, unsigned *interval, unsigned *timeout)
{
	*interval = s->ping_interval;
	*timeout = s->ping_timeout;
}

double session_connected_at(const struct session *s)
{
	return s->connected_at;
}

double session_last_received(const struct session *s)
{
	return s->last_received;
}

const uint8_t *session_key_block(const struct session *s)
{
	return s->ks[s->current].key_block;
}

uint8_t session_key_id(const struct session *s)
{
	return s->ks[s->current].key_id;
}

const struct ip_addr *session_vpn_addr(const struct session *s)
{
	return &s->vpn_addr;
}

const struct ip_addr *session_vpn_addr6(const struct session *s)
{
	return &s->vpn_addr6;
}

bool session_owns_source(const struct session *s, const uint8_t *ip, size_t len)
{
	if (len >= 20 && ip[0] >> 4 == 4)
		return s->vpn_addr.family == AF_INET && memcmp(ip + 12, s->vpn_addr.bytes, 4) == 0;
	if (len >= 40 && ip[0] >> 4 == 6)
		return s->vpn_addr6.family == AF_INET6 &&
		       memcmp(ip + 8, s->vpn_addr6.bytes, 16) == 0;
	return false;
}

size_t session_control_bytes(const struct session *s)
{
	size_t n = 0;

	for (int i = 0; i < 2; i++) {
		const struct key_state *ks = &s->ks[i];

		if (ks->phase != KEY_PHASE_EMPTY)
			n += reliable_held_bytes(&ks->rel) + tls_session_buffered(ks->tls);
	}
	return n;
}
