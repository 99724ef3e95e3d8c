// SPDX-License-Identifier: MIT
/*
 * A tls-crypt-v2 client session's first packets, as a 2.6+ server expects
 * them: its hard reset is P_CONTROL_HARD_RESET_CLIENT_V3, wrapped with its
 * own key Kc, with the wrapped key WKc after it and the early-negotiation
 * marker in its replay id; when the server's reset asks for the key again
 * (the TLV of a server that kept no state), message 1 goes as
 * P_CONTROL_WKC_V1 with WKc after it, within the same size as any control
 * packet even with the longest WKc; without the TLV it goes as
 * P_CONTROL_V1; malformed TLVs end the session before any TLS; a client without a v2 key
 * sends the V2 reset as before.
 */
#include <arpa/inet.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proto.h"
#include "session.h"
#include "tls.h"
#include "tlscryptv2.h"
#include "unit.h"
#include "wrap.h"

enum {
	WIRE_MAX = 4096,
	OUTBOX_MAX = 16,
	CONTROL_PACKET_MAX = 1250 - 48, /* session.c's bound on a control packet */
	WRAPPED_HEADER = PROTO_HEADER_LEN + WRAP_REPLAY_LEN + WRAP_TLS_CRYPT_TAG_LEN,
};

struct packet {
	uint8_t wire[WIRE_MAX];
	size_t len;
};

static struct ev_loop *loop;
static struct log lg;
static struct crypto *crypto;
static struct packet out[OUTBOX_MAX];
static size_t n_out;
static bool ended;
static char pki[64];
static struct static_key kc;
static struct wrap client_wrap, server_wrap; /* Kc, each side's directions */
static uint8_t wkc[TLSCRYPTV2_WKC_MAX];
static size_t wkc_len;

static void on_send(void *ctx, struct session *s, const uint8_t *wire, size_t len)
{
	(void)ctx;
	(void)s;
	if (n_out < OUTBOX_MAX && len <= WIRE_MAX) {
		memcpy(out[n_out].wire, wire, len);
		out[n_out++].len = len;
	}
}

static void on_ended(void *ctx, struct session *s, const char *reason)
{
	(void)ctx;
	(void)reason;
	ended = true;
	session_free(s);
}

static const struct session_ops ops = { .send = on_send, .ended = on_ended };

/* A WKc of metadata_len bytes of metadata, wrapped with a server key of the test's. */
static void make_wkc(size_t metadata_len)
{
	struct tlscryptv2_server_key server;
	uint8_t metadata[TLSCRYPTV2_METADATA_MAX];
	int n;

	for (size_t i = 0; i < sizeof(server.bytes); i++)
		server.bytes[i] = (uint8_t)(i * 7 + 1);
	memset(metadata, 'm', sizeof(metadata));
	n = tlscryptv2_wrap(crypto, &server, &kc, metadata, metadata_len, wkc, sizeof(wkc));
	CHECK(n > 0, "wrap a client key with %zu bytes of metadata", metadata_len);
	wkc_len = n > 0 ? (size_t)n : 0;
}

/*
 * Opens a packet as the server does: the WKc at its end when expect_wkc
 * (which must be ours), the rest with the client's key. False when it
 * does not open or does not end as expected.
 */
static bool server_opens(const struct packet *p, bool expect_wkc, struct proto_control *ctl,
			 uint8_t *plain, uint32_t *pid)
{
	size_t len = p->len;
	uint32_t t;
	int n;

	if (expect_wkc) {
		int at = tlscryptv2_locate(p->wire, p->len, WRAPPED_HEADER);

		if (at < 0 || p->len - (size_t)at != wkc_len ||
		    memcmp(p->wire + at, wkc, wkc_len) != 0)
			return false;
		len = (size_t)at;
	}
	n = wrap_open(&server_wrap, p->wire, len, plain, WIRE_MAX, pid, &t);
	return n > 0 && proto_decode_control(ctl, plain, (size_t)n) == 0;
}

static struct session *start_client(struct tls_ctx *tls, bool v2)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(1194) };
	static const char *const ciphers[] = { "AES-256-GCM" };
	struct session_params p = {
		.loop = loop,
		.log = &lg,
		.crypto = crypto,
		.tls = tls,
		.wrap = &client_wrap,
		.ciphers = ciphers,
		.n_ciphers = 1,
		.ops = &ops,
		.role = SESSION_ROLE_CLIENT,
		.wkc = v2 ? wkc : NULL,
		.wkc_len = v2 ? wkc_len : 0,
	};

	to.sin_addr.s_addr = htonl(0x0a000001);
	n_out = 0;
	ended = false;
	return session_new_client(&p, (struct sockaddr *)&to, sizeof(to));
}

/* The server's reset to the client's (acking its message 0), with payload as its TLVs. */
static void server_reset(struct session *s, const struct proto_control *client_reset,
			 const uint8_t *payload, size_t len)
{
	struct proto_control reply = { .opcode = P_CONTROL_HARD_RESET_SERVER_V2,
				       .n_acks = 1,
				       .remote_sid = client_reset->sid,
				       .payload = payload,
				       .payload_len = len };

	memset(reply.sid.bytes, 0x5a, sizeof(reply.sid.bytes));
	n_out = 0;
	session_receive(s, &reply, 1, 0);
}

/* The client's first packets: its reset, and after the server's, what follows. */
static void test_exchange(struct tls_ctx *tls, size_t metadata_len, bool tlv)
{
	uint8_t plain[WIRE_MAX], request[TLSCRYPTV2_RESEND_TLV_LEN];
	struct proto_control reset, next;
	struct session *s;
	uint32_t pid;

	make_wkc(metadata_len);
	s = start_client(tls, true);
	CHECK(s && n_out == 1, "a client session sends its reset at once");
	if (!s || n_out != 1)
		return;
	CHECK(server_opens(&out[0], true, &reset, plain, &pid),
	      "the reset opens with Kc and ends with our WKc (%zu bytes)", wkc_len);
	CHECK(reset.opcode == P_CONTROL_HARD_RESET_CLIENT_V3 && reset.msg_id == 0,
	      "it is P_CONTROL_HARD_RESET_CLIENT_V3, message 0 (got %s)",
	      proto_opcode_name(reset.opcode));
	CHECK(pid == TLSCRYPTV2_EARLY_NEG_FIRST_ID && tlscryptv2_resends_wkc(pid),
	      "its replay id 0x%08x announces early negotiation", pid);
	tlscryptv2_resend_tlv(request);
	server_reset(s, &reset, tlv ? request : NULL, tlv ? sizeof(request) : 0);
	CHECK(n_out >= 1, "the client answers the server's reset");
	if (n_out < 1) {
		session_free(s);
		return;
	}
	CHECK(server_opens(&out[0], tlv, &next, plain, &pid), "message 1 %s",
	      tlv ? "opens with Kc and ends with our WKc" : "opens with Kc alone");
	CHECK(next.opcode == (tlv ? P_CONTROL_WKC_V1 : P_CONTROL_V1) && next.msg_id == 1 &&
		      next.n_acks == 1 && next.acks[0] == 0 && next.payload_len > 0,
	      "message 1 is %s with the ClientHello and acks the reset (got %s, msg %u)",
	      tlv ? "P_CONTROL_WKC_V1" : "P_CONTROL_V1", proto_opcode_name(next.opcode),
	      next.msg_id);
	CHECK(pid == TLSCRYPTV2_EARLY_NEG_FIRST_ID + 1, "the replay ids go on from there");
	CHECK(out[0].len <= CONTROL_PACKET_MAX,
	      "with a WKc of %zu bytes message 1 keeps within %d bytes (%zu)", wkc_len,
	      CONTROL_PACKET_MAX, out[0].len);
	for (size_t i = 1; i < n_out; i++)
		CHECK(server_opens(&out[i], false, &next, plain, &pid) &&
			      next.opcode == P_CONTROL_V1,
		      "packet %zu after it is P_CONTROL_V1 without WKc", i);
	session_free(s);
}

static void test_malformed_tlv(struct tls_ctx *tls)
{
	static const uint8_t bad[] = { 0, 1, 0, 4, 0, 1 }; /* flags said 4 bytes, 2 there */
	uint8_t plain[WIRE_MAX];
	struct proto_control reset;
	struct session *s;
	uint32_t pid;

	make_wkc(9);
	s = start_client(tls, true);
	if (!s || n_out != 1 || !server_opens(&out[0], true, &reset, plain, &pid)) {
		CHECK(0, "a v2 client's reset");
		session_free(s);
		return;
	}
	server_reset(s, &reset, bad, sizeof(bad));
	CHECK(session_state(s) == SESSION_CLOSING, "malformed TLVs end the session");
	for (size_t i = 0; i < n_out; i++)
		CHECK(server_opens(&out[i], false, &reset, plain, &pid) && reset.opcode == P_ACK_V1,
		      "no TLS follows them (packet %zu: at most an ack)", i);
	session_free(s);
}

static void test_without_v2(struct tls_ctx *tls)
{
	struct session *s = start_client(tls, false);
	uint8_t plain[WIRE_MAX];
	uint32_t pid, t;
	int n = s && n_out == 1 ? wrap_open(&server_wrap, out[0].wire, out[0].len, plain,
					    sizeof(plain), &pid, &t)
				: -1;

	CHECK(n > 0 && proto_opcode(plain[0]) == P_CONTROL_HARD_RESET_CLIENT_V2 && pid == 1,
	      "without a v2 key: P_CONTROL_HARD_RESET_CLIENT_V2 with replay id 1, nothing after");
	session_free(s);
}

int main(void)
{
	char cmd[160], err[256], ca[128], crt[128], key[128];
	struct tls_ctx *tls = NULL;
	struct tls_config cfg = { .role = TLS_CLIENT, .peer_cert = TLS_PEER_CERT_REQUIRED };

	log_init(&lg, LOG_ERROR, stderr);
	loop = ev_loop_new(0);
	crypto = crypto_new(err, sizeof(err));
	snprintf(pki, sizeof(pki), "/tmp/mvtest-sessv2-XXXXXX");
	if (!crypto || !mkdtemp(pki)) {
		CHECK(0, "setup");
		return unit_report("test_session_v2");
	}
	snprintf(cmd, sizeof(cmd), "scripts/make-pki %s 1 > /dev/null", pki);
	CHECK(system(cmd) == 0, "scripts/make-pki (needs openssl)");
	snprintf(ca, sizeof(ca), "%s/ca.crt", pki);
	snprintf(crt, sizeof(crt), "%s/client1.crt", pki);
	snprintf(key, sizeof(key), "%s/client1.key", pki);
	cfg.ca = ca;
	cfg.cert = crt;
	cfg.key = key;
	CHECK(tls_ctx_new(&tls, &cfg, err, sizeof(err)) == 0, "TLS context: %s", err);
	for (size_t i = 0; i < sizeof(kc.bytes); i++)
		kc.bytes[i] = (uint8_t)(i * 11 + 3);
	wrap_init_tls_crypt(&client_wrap, crypto, &kc, false);
	wrap_init_tls_crypt(&server_wrap, crypto, &kc, true);
	if (tls) {
		test_exchange(tls, 9, true); /* a timestamp, as genkey writes by default */
		test_exchange(tls, 9, false);
		test_exchange(tls, TLSCRYPTV2_METADATA_MAX, true); /* the longest WKc */
		test_malformed_tlv(tls);
		test_without_v2(tls);
	}
	tls_ctx_free(tls);
	wrap_clear(&client_wrap);
	wrap_clear(&server_wrap);
	crypto_free(crypto);
	ev_loop_destroy(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
	CHECK(system(cmd) == 0, "cleanup");
	return unit_report("test_session_v2");
}
