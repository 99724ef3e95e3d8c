// SPDX-License-Identifier: MIT
/*
 * The server's tls-crypt-v2 door (OpenVPN's doc/tls-crypt-v2.txt): a
 * client's hard reset (P_CONTROL_HARD_RESET_CLIENT_V3) and the packet that
 * echoes the cookie (P_CONTROL_WKC_V1) carry the client's key wrapped with
 * the server key; it is unwrapped and checked here, the packet opened with
 * it, and the packet goes on through the stateless door of server.c. Also
 * the recheck of running tls-crypt-v2 sessions after a reload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server_impl.h"
#include "tlscryptv2.h"

/* A packet of a tls-crypt-v2 client, wrapped with key; false to drop it, with why. */
static bool open_v2(const struct wrap *w, const uint8_t *buf, size_t len, struct proto_control *ctl,
		    uint8_t *plain, uint32_t *pid, uint32_t *t, const char **why)
{
	int n = wrap_open(w, buf, len, plain, SERVER_PACKET_MAX, pid, t);

	*why = wrap_failure(w);
	if (n < 0)
		return false;
	*why = "not a valid control packet";
	if (proto_decode_control(ctl, plain, (size_t)n) != 0)
		return false;
	/* P_CONTROL_WKC_V1 is P_CONTROL_V1 with the key appended (2.6 reads it so too). */
	if (ctl->opcode == P_CONTROL_WKC_V1)
		ctl->opcode = P_CONTROL_V1;
	return true;
}

/*
 * A P_CONTROL_WKC_V1 its session's client sent again (ours was not acked yet):
 * the session's key opens it and the WKc at its end is not read again.
 */
static bool resend_to_session(struct server *s, struct session *sess, const uint8_t *buf,
			      size_t len)
{
	uint8_t plain[SERVER_PACKET_MAX];
	struct proto_control ctl;
	const char *why;
	uint32_t pid, t;

	if (!session_wrap(sess)->client_key ||
	    !open_v2(session_wrap(sess), buf, len, &ctl, plain, &pid, &t, &why) ||
	    !proto_sid_equal(&ctl.sid, session_remote_sid(sess)))
		return false;
	if (!server_tls_crypt_v2_waits(s, sess))
		server_session_receive(s, sess, &ctl, pid, t);
	return true;
}

/* Whether a v2 client key is taken; refused ones are counted and logged. */
static bool accepts_v2(struct server *s, const struct arrival *a,
		       const struct tlscryptv2_client *key)
{
	char who[UDP_ADDR_TEXT_MAX], why[200];

	if (tlscryptv2_accepts(s->wrap.v2, key, (int64_t)time(NULL), why, sizeof(why)))
		return true;
	s->stats.refused_tls_crypt_v2++;
	log_ratelimited(s->log, LOG_INFO, "server", "%s: refused: %s",
			udp_addr_format(a->from, who, sizeof(who)), why);
	return false;
}

/*
 * A tls-crypt-v2 client's hard reset (P_CONTROL_HARD_RESET_CLIENT_V3) or
 * the packet that echoes our cookie (P_CONTROL_WKC_V1): both end with the
 * client's key wrapped with the server key (WKc). It is unwrapped, the
 * packet opened with it, the key checked, and then the packet goes through
 * the stateless door as any other: nothing is kept before the cookie comes
 * back, and the session is given the key then.
 */
void server_tls_crypt_v2_handle(struct server *s, const struct arrival *a, struct session *sess,
				const uint8_t *buf, size_t len)
{
	uint8_t plain[SERVER_PACKET_MAX];
	struct tlscryptv2_client key;
	struct proto_control ctl;
	struct wrap w;
	const char *why;
	uint32_t pid, t;
	int at, rc;

	if (!s->wrap.v2) {
		server_drop_unwrap(
			s, a,
			"looks like a tls-crypt-v2 client, but no tls_crypt_v2 key is configured");
		return;
	}
	at = tlscryptv2_locate(buf, len,
			       PROTO_HEADER_LEN + WRAP_REPLAY_LEN + WRAP_TLS_CRYPT_TAG_LEN);
	if (at < 0) {
		server_drop_unwrap(s, a, tlscryptv2_error_name(at));
		return;
	}
	if (sess && proto_opcode(buf[0]) == P_CONTROL_WKC_V1 &&
	    resend_to_session(s, sess, buf, (size_t)at))
		return;
	rc = tlscryptv2_unwrap(s->crypto, &s->wrap.v2->key, buf + at, len - (size_t)at, &key);
	if (rc < 0) {
		server_drop_unwrap(s, a, tlscryptv2_error_name(rc));
		return;
	}
	wrap_init_tls_crypt(&w, s->crypto, &key.key, true);
	w.client_key = true;
	if (!open_v2(&w, buf, (size_t)at, &ctl, plain, &pid, &t, &why))
		server_drop_unwrap(s, a, why);
	else if (ctl.opcode == P_CONTROL_HARD_RESET_CLIENT_V3 && !tlscryptv2_resends_wkc(pid))
		server_drop_unwrap(
			s, a,
			"a tls-crypt-v2 client that cannot resend its key (OpenVPN 2.5 or older) "
			"would need state before its address is proven: upgrade it to 2.6 or "
			"later");
	else if (accepts_v2(s, a, &key))
		server_handle_control(s, &ctl, a, pid, t, &w, &key);
	wrap_clear(&w);
	crypto_wipe(&key, sizeof(key));
}

/*
 * After a reload, tls-crypt-v2 clients whose keys the new settings refuse
 * (revoked, or over a new maximum age) are ended, as clients whose
 * certificates a new CRL revokes are. Without a tls-crypt-v2 key now, the
 * running ones stay, as clients of a replaced tls-crypt key do.
 */
void server_tls_crypt_v2_recheck(struct server *s)
{
	char who[UDP_ADDR_TEXT_MAX], why[200];

	for (uint32_t id = 0; s->wrap.v2 && id < s->max_clients; id++) {
		struct session *sess = s->sessions[id];

		if (!sess || !session_tls_crypt_v2(sess) ||
		    tlscryptv2_accepts(s->wrap.v2, session_tls_crypt_v2(sess), (int64_t)time(NULL),
				       why, sizeof(why)))
			continue;
		log_info(s->log, "server", "%s: ended after the reload: %s",
			 udp_addr_format(session_peer(sess), who, sizeof(who)), why);
		session_kick(sess, "tls-crypt-v2 client key refused", false);
	}
}

/* A packet waiting for on.tls_crypt_v2: the decoded header, its payload copied. */
struct server_held {
	struct proto_control ctl;
	uint32_t replay_id, replay_time;
	uint8_t payload[SERVER_PACKET_MAX];
};

bool server_tls_crypt_v2_hold(struct server *s, struct session *sess,
			      const struct proto_control *ctl, uint32_t replay_id,
			      uint32_t replay_time)
{
	uint32_t id = session_peer_id(sess);
	struct server_held *h;

	if (!s->params.hooks.tls_crypt_v2 || s->held[id])
		return false;
	h = malloc(sizeof(*h));
	if (!h) {
		server_end_session(s, sess, "out of memory for on.tls_crypt_v2");
		return true;
	}
	h->ctl = *ctl;
	h->replay_id = replay_id;
	h->replay_time = replay_time;
	if (ctl->payload_len)
		memcpy(h->payload, ctl->payload, ctl->payload_len);
	h->ctl.payload = ctl->payload_len ? h->payload : NULL;
	s->held[id] = h;
	/* The hook may answer at once, and end the session: nothing of it is used after. */
	if (!s->params.hooks.tls_crypt_v2(s->params.hooks.ctx, sess))
		server_tls_crypt_v2_decided(s, sess, true, NULL);
	return true;
}

bool server_tls_crypt_v2_waits(const struct server *s, const struct session *sess)
{
	return s->held[session_peer_id(sess)] != NULL;
}

void server_tls_crypt_v2_forget(struct server *s, uint32_t id)
{
	free(s->held[id]);
	s->held[id] = NULL;
}

void server_tls_crypt_v2_decided(struct server *s, struct session *sess, bool ok,
				 const char *reason)
{
	uint32_t id = session_peer_id(sess);
	struct server_held *h = s->held[id];
	char who[UDP_ADDR_TEXT_MAX], key[TLSCRYPTV2_ID_TEXT_LEN + 1];

	if (id >= s->max_clients || s->sessions[id] != sess || !h)
		return; /* it ended meanwhile */
	s->held[id] = NULL;
	if (ok) {
		server_session_receive(s, sess, &h->ctl, h->replay_id, h->replay_time);
		free(h);
		return;
	}
	free(h);
	s->stats.refused_tls_crypt_v2++;
	tlscryptv2_id_format(session_tls_crypt_v2(sess)->id, key);
	log_info(s->log, "server", "%s: refused: client key %s: %s",
		 udp_addr_format(session_peer(sess), who, sizeof(who)), key,
		 reason ? reason : "refused by on.tls_crypt_v2");
	server_end_session(s, sess, "tls-crypt-v2 client key refused by on.tls_crypt_v2");
}
