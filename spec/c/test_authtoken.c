// SPDX-License-Identifier: MIT
/*
 * Session tokens in OpenVPN's --auth-gen-token format: a key file and a
 * token made by a stock OpenVPN 2.6.14 server (`openvpn --genkey auth-token`,
 * then --auth-gen-token-secret with that file, token read from its verb 7
 * log) verify here, so the HMAC key is the right 32 bytes of the file; the
 * renewal window and lifetime as OpenVPN judges them; tokens we make verify
 * and tampered ones do not; malformed key files say why.
 */
#include <string.h>

#include "authtoken.h"
#include "unit.h"

static const char OPENVPN_KEY[] =
	"-----BEGIN OpenVPN auth-token server key-----\n"
	"TQblrl1DbiWPMlnjcWyCnJ3lDgE1u7weT8Su/9qp1E4OjM0iblRWmmCdM9QjTL9Z\n"
	"VlJTkB6lLHhTR54qN6nF94Q722l1foQLUnvTS2lLJhYKyZxyMUs+Y76W1rSCbQXY\n"
	"zTTBYUFWyitB2VSCzgMqZX5irz75b1P/IowTNNmjOJg=\n"
	"-----END OpenVPN auth-token server key-----\n";

/* Made by that server for username "alice" at 1796251309 (2026-12-02 22:41:49 UTC). */
static const char OPENVPN_TOKEN[] =
	"SESS_ID_AT_K2zpd9Zmr0vzLb+cAAAAAGsQnq0AAAAAaxCerRC98Js+H4pgrZmd"
	"4TfBTNBvhVE5GkqkZcgSeVVvzjbG";
enum { MADE_AT = 1796251309 };

static void test_openvpn_token(void)
{
	struct authtoken_key k;
	struct authtoken t;
	struct authtoken_limits lim = { 3600, 0 };
	char err[160];

	CHECK(authtoken_key_parse(&k, OPENVPN_KEY, strlen(OPENVPN_KEY), err, sizeof(err)) == 0,
	      "%s", err);
	CHECK(authtoken_looks_like(OPENVPN_TOKEN), "prefix and length");
	CHECK(authtoken_verify(&k, "alice", OPENVPN_TOKEN, MADE_AT + 10, &lim, &t) ==
		      AUTHTOKEN_HMAC_OK,
	      "OpenVPN's token verifies");
	CHECK(t.initial == MADE_AT && t.timestamp == MADE_AT, "timestamps %llu %llu",
	      (unsigned long long)t.initial, (unsigned long long)t.timestamp);
	CHECK(authtoken_verify(&k, "bob", OPENVPN_TOKEN, MADE_AT + 10, &lim, &t) == 0,
	      "another username");
	/* Made again from its contents, it is the same text: our HMAC input is OpenVPN's. */
	char again[AUTHTOKEN_TEXT_MAX];
	CHECK(authtoken_make(&k, "alice", &t, again) == 0 && strcmp(again, OPENVPN_TOKEN) == 0,
	      "remade: %s", again);
}

static const struct {
	uint64_t now;
	unsigned renew, lifetime;
	unsigned flags;
} windows[] = {
	{ MADE_AT, 60, 0, AUTHTOKEN_HMAC_OK },
	{ MADE_AT + 119, 60, 0, AUTHTOKEN_HMAC_OK },
	{ MADE_AT + 120, 60, 0, AUTHTOKEN_HMAC_OK | AUTHTOKEN_EXPIRED }, /* 2 * renew, excluded */
	{ MADE_AT - 1, 60, 0, AUTHTOKEN_HMAC_OK | AUTHTOKEN_EXPIRED },	 /* from the future */
	{ MADE_AT + 30, 60, 30, AUTHTOKEN_HMAC_OK },			 /* lifetime, included */
	{ MADE_AT + 31, 60, 30, AUTHTOKEN_HMAC_OK | AUTHTOKEN_EXPIRED },
};

static void test_windows(void)
{
	struct authtoken_key k;
	struct authtoken t;
	char err[160];

	CHECK(authtoken_key_parse(&k, OPENVPN_KEY, strlen(OPENVPN_KEY), err, sizeof(err)) == 0,
	      "%s", err);
	for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
		struct authtoken_limits lim = { windows[i].renew, windows[i].lifetime };
		unsigned f = authtoken_verify(&k, "alice", OPENVPN_TOKEN, windows[i].now, &lim, &t);

		CHECK(f == windows[i].flags, "case %zu: flags %u", i, f);
	}
}

static void test_made(void)
{
	struct authtoken_key k, other;
	struct authtoken t = { .initial = 1000, .timestamp = 1500 }, got;
	struct authtoken_limits lim = { 600, 0 };
	char text[AUTHTOKEN_TEXT_MAX];

	CHECK(authtoken_key_generate(&k) == 0 && authtoken_key_generate(&other) == 0, "keys");
	memcpy(t.sessid, "0123456789ab", AUTHTOKEN_SESSID_LEN);
	CHECK(authtoken_make(&k, "carol", &t, text) == 0 && strlen(text) == AUTHTOKEN_TEXT_LEN,
	      "made: %s", text);
	CHECK(authtoken_verify(&k, "carol", text, 1600, &lim, &got) == AUTHTOKEN_HMAC_OK &&
		      memcmp(got.sessid, t.sessid, sizeof(t.sessid)) == 0 && got.initial == 1000 &&
		      got.timestamp == 1500,
	      "ours verifies with its contents");
	CHECK(authtoken_verify(&other, "carol", text, 1600, &lim, &got) == 0, "another key");
	/* initial after timestamp: a broken clock or a forged token, never valid */
	struct authtoken bad = t;
	bad.initial = 2000;
	CHECK(authtoken_make(&k, "carol", &bad, text) == 0 &&
		      authtoken_verify(&k, "carol", text, 1600, &lim, &got) ==
			      (AUTHTOKEN_HMAC_OK | AUTHTOKEN_EXPIRED),
	      "initial later than timestamp");
	/* made for the empty username: valid for any, flagged */
	CHECK(authtoken_make(&k, "", &t, text) == 0 &&
		      authtoken_verify(&k, "carol", text, 1600, &lim, &got) ==
			      (AUTHTOKEN_HMAC_OK | AUTHTOKEN_EMPTY_USER),
	      "the empty username");
	/* every character changed in turn fails (the prefix: not a token at all) */
	CHECK(authtoken_make(&k, "carol", &t, text) == 0, "remade");
	int accepted = 0;
	for (size_t i = 0; i < AUTHTOKEN_TEXT_LEN; i++) {
		char copy[AUTHTOKEN_TEXT_MAX];

		memcpy(copy, text, sizeof(copy));
		copy[i] = copy[i] == 'A' ? 'B' : 'A';
		accepted += authtoken_verify(&k, "carol", copy, 1600, &lim, &got) != 0;
	}
	CHECK(accepted == 0, "%d tampered tokens accepted", accepted);
	CHECK(authtoken_verify(&k, "carol", "SESS_ID_AT_short", 1600, &lim, &got) == 0 &&
		      !authtoken_looks_like("hunter2"),
	      "short and plain passwords");
}

static const struct {
	const char *text, *why;
} bad_keys[] = {
	{ "nothing here", "no \"-----BEGIN" },
	{ "-----BEGIN OpenVPN auth-token server key-----\nAAAA\n", "cut short" },
	{ "-----BEGIN OpenVPN auth-token server key-----\nAAAA\n"
	  "-----END OpenVPN auth-token server key-----\n",
	  "holds 3 bytes, expected 128" },
	{ "-----BEGIN OpenVPN auth-token server key-----\nAA*A\n"
	  "-----END OpenVPN auth-token server key-----\n",
	  "not valid base64" },
};

static void test_bad_keys(void)
{
	for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
		struct authtoken_key k;
		char err[160] = "";

		CHECK(authtoken_key_parse(&k, bad_keys[i].text, strlen(bad_keys[i].text), err,
					  sizeof(err)) < 0 &&
			      strstr(err, bad_keys[i].why),
		      "case %zu: %s", i, err);
	}
}

static void test_base64(void)
{
	char out[16];

	CHECK(authtoken_base64((const uint8_t *)"alice", 5, out, sizeof(out)) == 8 &&
		      strcmp(out, "YWxpY2U=") == 0,
	      "alice: %s", out);
	CHECK(authtoken_base64((const uint8_t *)"abcdefghijkl", 12, out, sizeof(out)) == 0,
	      "no room");
}

int main(void)
{
	test_openvpn_token();
	test_windows();
	test_made();
	test_bad_keys();
	test_base64();
	return unit_report("test_authtoken");
}
