// SPDX-License-Identifier: MIT
/*
 * Dynamic tls-crypt (OpenVPN 2.6+, IV_PROTO bit 9 and protocol-flags
 * dyn-tls-crypt; tls_session_generate_dynamic_tls_crypt_key in OpenVPN's
 * tls_crypt.c, tls_session_get_tls_wrap in ssl_pkt.h). Once the first key
 * state has its data keys, both sides export keying material from its TLS
 * session and, mixed with the session's static key (wrap_init_dynamic),
 * use it as a tls-crypt key for every control packet of a renegotiation,
 * key_id > 0, with replay ids of its own. A renegotiation's handshake is
 * then hidden and authenticated by a key no other client holds, even on a
 * server without tls-crypt.
 */
#include <string.h>

#include "session_impl.h"

static const char DYN_TLS_CRYPT_LABEL[] = "EXPORTER-OpenVPN-dynamic-tls-crypt";

int session_dyn_tls_crypt_start(struct session *s)
{
	uint8_t ekm[WRAP_DYNAMIC_KEY_LEN];

	if (!s->ks[0].tls || s->ks[0].key_id != 0 ||
	    tls_session_export(s->ks[0].tls, DYN_TLS_CRYPT_LABEL, ekm, sizeof(ekm)) < 0) {
		log_error(s->p.log, "session",
			  "%s: cannot export the dynamic tls-crypt key from the first TLS session",
			  s->who);
		return -1;
	}
	wrap_init_dynamic(&s->dyn.wrap, s->p.crypto, &s->wrap, ekm, s->client == NULL);
	crypto_wipe(ekm, sizeof(ekm));
	replay_timed_init(&s->dyn.replay);
	s->dyn.next_replay_id = 1;
	s->dyn.on = true;
	log_info(s->p.log, "session", "%s: dynamic tls-crypt: renegotiations use their own key%s",
		 s->who, s->wrap.mode == WRAP_NONE ? "" : " (mixed with the static key)");
	return 0;
}

static bool dynamic(const struct session *s, uint8_t key_id)
{
	return s->dyn.on && key_id > 0;
}

const struct wrap *session_control_wrap(const struct session *s, uint8_t key_id)
{
	return dynamic(s, key_id) ? &s->dyn.wrap : &s->wrap;
}

bool session_dyn_tls_crypt(const struct session *s)
{
	return s->dyn.on;
}

/*
 * The renegotiations' window honours the time beside the id, as OpenVPN's
 * packet_id.c does for control packets. The OpenVPN 3 core derives the key
 * again at each renegotiation that starts while key 0 is still its primary,
 * its ids starting again at 1 with a new time (proto.hpp,
 * set_dynamic_tls_crypt): a window of ids alone dropped them as replays
 * until its retransmissions climbed past the old ones.
 */
bool session_control_replay_ok(struct session *s, uint8_t key_id, uint32_t id, uint32_t time)
{
	if (dynamic(s, key_id))
		return replay_timed_accept(&s->dyn.replay, id, time);
	if (s->wrap.mode == WRAP_NONE)
		return true;
	if (replay_check(&s->replay, id) != REPLAY_OK)
		return false;
	replay_record(&s->replay, id);
	return true;
}

uint32_t session_control_next_id(struct session *s, uint8_t key_id)
{
	return dynamic(s, key_id) ? s->dyn.next_replay_id++ : s->next_replay_id++;
}
