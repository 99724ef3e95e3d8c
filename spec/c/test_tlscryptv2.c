// SPDX-License-Identifier: MIT
/*
 * tls-crypt-v2 key files and client-key wrapping: PEM round trips and
 * malformed files, wrap/unwrap with and without metadata, tampering, the
 * length field, locating WKc at a packet's end, the client's reading of
 * the server's early-negotiation TLVs, the server's checks
 * (revoked ids, maximum age). With openvpn installed, keys made by
 * `openvpn --genkey` unwrap here (and its metadata reads as OpenVPN meant
 * it), and openvpn wraps a client key with a server key made here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pem.h"
#include "tlscryptv2.h"
#include "unit.h"

static struct crypto *crypto;

static struct tlscryptv2_server_key server_key(uint8_t seed)
{
	struct tlscryptv2_server_key k;

	for (int i = 0; i < TLSCRYPTV2_SERVER_KEY_LEN; i++)
		k.bytes[i] = (uint8_t)(i * 29 + seed);
	return k;
}

static struct static_key client_key(void)
{
	struct static_key k;

	for (int i = 0; i < STATIC_KEY_LEN; i++)
		k.bytes[i] = (uint8_t)(i * 13 + 5);
	return k;
}

static void test_pem(void)
{
	static const struct {
		const char *data;
		const char *b64;
	} cases[] = {
		{ "", "" },	   { "f", "Zg==" },	   { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
	};
	char text[256], err[160];
	uint8_t out[64];
	size_t n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[128];

		CHECK(pem_encode("T", (const uint8_t *)cases[i].data, strlen(cases[i].data), text,
				 sizeof(text)) > 0,
		      "encode %zu", i);
		snprintf(want, sizeof(want), "-----BEGIN T-----\n%s%s-----END T-----\n",
			 cases[i].b64, *cases[i].b64 ? "\n" : "");
		CHECK(strcmp(text, want) == 0, "RFC 4648 vector %zu: %s", i, text);
		CHECK(pem_decode("T", text, strlen(text), out, sizeof(out), &n, err, sizeof(err)) ==
				      0 &&
			      n == strlen(cases[i].data) && memcmp(out, cases[i].data, n) == 0,
		      "decode %zu: %s", i, err);
	}
	static const struct {
		const char *text;
		const char *why;
	} bad[] = {
		{ "nothing", "no \"-----BEGIN T-----\"" },
		{ "-----BEGIN U-----\nZm9v\n-----END U-----\n", "this is a \"U\", not a \"T\"" },
		{ "-----BEGIN T-----\nZm9v\n", "cut short" },
		{ "-----BEGIN T-----\nZm9*\n-----END T-----\n", "not base64" },
		{ "-----BEGIN T-----\nZm9\n-----END T-----\n", "cut short (3 characters)" },
		{ "-----BEGIN T-----\nZg==Zg==\n-----END T-----\n", "not base64" },
		{ "-----BEGIN T-----\nZ===\n-----END T-----\n", "not base64" },
		{ "-----BEGIN "
		  "T-----\nZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v"
		  "Zm9vZm9vZm9vZm9vZm9vZm9vZm9v\n-----END T-----\n",
		  "longer than expected" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(pem_decode("T", bad[i].text, strlen(bad[i].text), out, sizeof(out), &n, err,
				 sizeof(err)) < 0 &&
			      strstr(err, bad[i].why),
		      "bad %zu: %s", i, err);
	/* Text before the block (comments) is skipped, CRLF line ends are fine. */
	static const char crlf[] = "# a key\r\n-----BEGIN T-----\r\nZm9v\r\n-----END T-----\r\n";
	CHECK(pem_decode("T", crlf, strlen(crlf), out, sizeof(out), &n, err, sizeof(err)) == 0 &&
		      n == 3,
	      "crlf: %s", err);
}

static void test_key_files(void)
{
	struct tlscryptv2_server_key k = server_key(1), back;
	struct static_key kc = client_key(), kc2;
	uint8_t wkc[TLSCRYPTV2_WKC_MAX], wkc2[TLSCRYPTV2_WKC_MAX];
	char text[TLSCRYPTV2_KEY_TEXT_MAX], err[160];
	size_t len = tlscryptv2_server_key_format(&k, text, sizeof(text)), wkc2_len;
	int n;

	CHECK(len > 0 && strstr(text, "-----BEGIN OpenVPN tls-crypt-v2 server key-----\n"),
	      "server format");
	CHECK(tlscryptv2_server_key_parse(&back, text, len, err, sizeof(err)) == 0 &&
		      memcmp(&back, &k, sizeof(k)) == 0,
	      "server round trip: %s", err);
	CHECK(tlscryptv2_client_key_parse(&kc2, wkc2, &wkc2_len, text, len, err, sizeof(err)) < 0 &&
		      strstr(err, "not a \"OpenVPN tls-crypt-v2 client key\""),
	      "a server key is not a client key: %s", err);
	n = tlscryptv2_wrap(crypto, &k, &kc, (const uint8_t *)"\0alice", 6, wkc, sizeof(wkc));
	CHECK(n == TLSCRYPTV2_WKC_MIN + 6, "wrap: %d", n);
	len = tlscryptv2_client_key_format(&kc, wkc, (size_t)n, text, sizeof(text));
	CHECK(len > 0 && strstr(text, "-----BEGIN OpenVPN tls-crypt-v2 client key-----\n"),
	      "client format");
	CHECK(tlscryptv2_client_key_parse(&kc2, wkc2, &wkc2_len, text, len, err, sizeof(err)) ==
			      0 &&
		      memcmp(&kc2, &kc, sizeof(kc)) == 0 && wkc2_len == (size_t)n &&
		      memcmp(wkc2, wkc, wkc2_len) == 0,
	      "client round trip: %s", err);
	CHECK(tlscryptv2_server_key_parse(&back, text, len, err, sizeof(err)) < 0 &&
		      strstr(err, "not a \"OpenVPN tls-crypt-v2 server key\""),
	      "a client key is not a server key: %s", err);
	static const char short_key[] = "-----BEGIN OpenVPN tls-crypt-v2 server key-----\nZm9v\n"
					"-----END OpenVPN tls-crypt-v2 server key-----\n";
	CHECK(tlscryptv2_server_key_parse(&back, short_key, strlen(short_key), err, sizeof(err)) <
			      0 &&
		      strstr(err, "has 128 bytes, this one 3"),
	      "short server key: %s", err);
}

static void test_wrap(void)
{
	struct tlscryptv2_server_key k = server_key(1), other = server_key(2);
	struct static_key kc = client_key();
	struct tlscryptv2_client out;
	uint8_t wkc[TLSCRYPTV2_WKC_MAX], meta[TLSCRYPTV2_METADATA_MAX + 1];
	int n;

	memset(meta, 'm', sizeof(meta));
	meta[0] = TLSCRYPTV2_METADATA_USER;
	static const size_t lens[] = { 0, 1, 9, 100, TLSCRYPTV2_METADATA_MAX };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		n = tlscryptv2_wrap(crypto, &k, &kc, meta, lens[i], wkc, sizeof(wkc));
		CHECK(n == (int)(TLSCRYPTV2_WKC_MIN + lens[i]), "wrap %zu: %d", lens[i], n);
		CHECK(tlscryptv2_unwrap(crypto, &k, wkc, (size_t)n, &out) == 0 &&
			      memcmp(&out.key, &kc, sizeof(kc)) == 0 &&
			      out.metadata_len == lens[i] &&
			      memcmp(out.metadata, meta, lens[i]) == 0 &&
			      memcmp(out.id, wkc, TLSCRYPTV2_ID_LEN) == 0,
		      "unwrap %zu", lens[i]);
		CHECK(tlscryptv2_unwrap(crypto, &other, wkc, (size_t)n, &out) == TLSCRYPTV2_EAUTH,
		      "another server key %zu", lens[i]);
	}
	CHECK(tlscryptv2_wrap(crypto, &k, &kc, meta, TLSCRYPTV2_METADATA_MAX + 1, wkc,
			      sizeof(wkc)) == TLSCRYPTV2_ELEN,
	      "metadata over the limit");
	CHECK(tlscryptv2_wrap(crypto, &k, &kc, meta, 1, wkc, TLSCRYPTV2_WKC_MIN) ==
		      TLSCRYPTV2_ESPACE,
	      "no room");
	n = tlscryptv2_wrap(crypto, &k, &kc, meta, 9, wkc, sizeof(wkc));
	/* Every byte flipped makes it fail: tag, ciphertext, the length field. */
	for (int i = 0; i < n; i++) {
		int rc;

		wkc[i] ^= 0x40;
		rc = tlscryptv2_unwrap(crypto, &k, wkc, (size_t)n, &out);
		CHECK(rc == (i >= n - 2 ? TLSCRYPTV2_ELEN : TLSCRYPTV2_EAUTH), "flip %d: %d", i,
		      rc);
		CHECK(out.metadata_len == 0 && out.key.bytes[0] == 0, "wiped on failure %d", i);
		wkc[i] ^= 0x40;
	}
	CHECK(tlscryptv2_unwrap(crypto, &k, wkc, (size_t)n - 1, &out) == TLSCRYPTV2_ELEN,
	      "one byte short");
	CHECK(tlscryptv2_unwrap(crypto, &k, wkc, 10, &out) == TLSCRYPTV2_ELEN, "far too short");
}

static void test_locate(void)
{
	uint8_t pkt[2048] = { 0 };
	static const struct {
		size_t len, before;
		uint16_t field;
		int expected;
	} cases[] = {
		{ 100 + 290, 100, 290, 100 },
		{ 100 + 290, 100, 289, TLSCRYPTV2_ELEN }, /* below the minimum */
		{ 100 + 290, 101, 290, TLSCRYPTV2_ELEN }, /* eats into the header */
		{ 100 + 290, 100, 391, TLSCRYPTV2_ELEN }, /* longer than the packet */
		{ 2000, 17, 1024, 976 },
		{ 2000, 17, 1025, TLSCRYPTV2_ELEN }, /* over the maximum */
		{ 1, 0, 0, TLSCRYPTV2_ELEN },
		{ 0, 0, 0, TLSCRYPTV2_ELEN },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].len >= 2) {
			pkt[cases[i].len - 2] = (uint8_t)(cases[i].field >> 8);
			pkt[cases[i].len - 1] = (uint8_t)cases[i].field;
		}
		CHECK(tlscryptv2_locate(pkt, cases[i].len, cases[i].before) == cases[i].expected,
		      "case %zu", i);
	}
	CHECK(tlscryptv2_resends_wkc(0x0f000000) && tlscryptv2_resends_wkc(0x0f000001) &&
		      !tlscryptv2_resends_wkc(1) && !tlscryptv2_resends_wkc(0x1f000000),
	      "early negotiation marker");
}

/* The client's reading of the server's reset TLVs: what our server sends, and malformed ones. */
static void test_early_neg(void)
{
	static const struct {
		const char *name;
		uint8_t bytes[16];
		size_t len;
		int rc;
		bool resend;
	} cases[] = {
		{ "no TLV (a server that does not ask)", { 0 }, 0, 0, false },
		{ "resend flag", { 0, 1, 0, 2, 0, 1 }, 6, 0, true },
		{ "other flags only", { 0, 1, 0, 2, 0, 2 }, 6, 0, false },
		{ "unknown type skipped, then the flag",
		  { 0, 9, 0, 3, 7, 7, 7, 0, 1, 0, 2, 0, 3 },
		  13,
		  0,
		  true },
		{ "unknown type with no value", { 0, 9, 0, 0 }, 4, 0, false },
		{ "cut in the header", { 0, 1, 0 }, 3, -1, false },
		{ "value longer than the payload", { 0, 9, 0, 5, 1, 2 }, 6, -1, false },
		{ "flags of 4 bytes", { 0, 1, 0, 4, 0, 0, 0, 1 }, 8, -1, false },
		{ "flag TLV then garbage", { 0, 1, 0, 2, 0, 1, 0xff }, 7, -1, true },
	};
	uint8_t tlv[TLSCRYPTV2_RESEND_TLV_LEN];
	bool resend;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		resend = !cases[i].resend;
		CHECK(tlscryptv2_early_neg_parse(cases[i].bytes, cases[i].len, &resend) ==
				      cases[i].rc &&
			      (cases[i].rc < 0 || resend == cases[i].resend),
		      "early negotiation: %s", cases[i].name);
	}
	tlscryptv2_resend_tlv(tlv);
	CHECK(tlscryptv2_early_neg_parse(tlv, sizeof(tlv), &resend) == 0 && resend,
	      "the client reads the server's own request");
}

static void test_accepts(void)
{
	uint8_t revoked[5][TLSCRYPTV2_ID_LEN];
	struct tlscryptv2_server s = { .key = server_key(1) };
	struct tlscryptv2_client k = { 0 };
	char why[200], id[TLSCRYPTV2_ID_TEXT_LEN + 1];
	int64_t now = 1800000000, created;

	memset(k.id, 0xab, sizeof(k.id));
	CHECK(tlscryptv2_accepts(&s, &k, now, why, sizeof(why)), "no checks");
	tlscryptv2_id_format(k.id, id);
	CHECK(strcmp(id, "abababababababababababababababab") == 0, "id text %s", id);
	CHECK(tlscryptv2_id_parse("ABABABABABABABABABABABABABABABAB", revoked[0]) &&
		      !tlscryptv2_id_parse("abab", revoked[0]) &&
		      !tlscryptv2_id_parse("zbababababababababababababababab", revoked[0]),
	      "id parse");
	/* Among others, before and after it once sorted. */
	static const char *ids[] = { "ffffffffffffffffffffffffffffffff",
				     "00000000000000000000000000000000",
				     "abababababababababababababababac",
				     "abababababababababababababababaa" };
	for (size_t i = 0; i < 4; i++)
		(void)tlscryptv2_id_parse(ids[i], revoked[i]);
	s.revoked = revoked;
	s.n_revoked = 4;
	tlscryptv2_server_sort(&s);
	CHECK(tlscryptv2_accepts(&s, &k, now, why, sizeof(why)), "not among the revoked");
	(void)tlscryptv2_id_parse(id, revoked[4]);
	s.n_revoked = 5;
	tlscryptv2_server_sort(&s);
	CHECK(!tlscryptv2_accepts(&s, &k, now, why, sizeof(why)) && strstr(why, "is revoked"),
	      "revoked: %s", why);
	s.n_revoked = 0;
	s.max_age_days = 30;
	CHECK(!tlscryptv2_accepts(&s, &k, now, why, sizeof(why)) &&
		      strstr(why, "has no creation time"),
	      "no timestamp: %s", why);
	k.metadata_len = 9;
	k.metadata[0] = TLSCRYPTV2_METADATA_TIMESTAMP;
	created = now - 31 * 86400;
	for (int i = 0; i < 8; i++)
		k.metadata[1 + i] = (uint8_t)((uint64_t)created >> (56 - 8 * i));
	CHECK(tlscryptv2_created(&k, &created) && created == now - 31 * 86400, "created");
	CHECK(!tlscryptv2_accepts(&s, &k, now, why, sizeof(why)) && strstr(why, "31 days old"),
	      "too old: %s", why);
	s.max_age_days = 31;
	CHECK(tlscryptv2_accepts(&s, &k, now, why, sizeof(why)), "just in time");
}

/* Reads a whole file into buf (NUL-terminated); its length, or 0. */
static size_t slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n;
}

static bool write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");
	bool ok = f && fwrite(text, 1, len, f) == len;

	return (f && fclose(f) == 0) && ok;
}

/* Keys made by `openvpn --genkey` unwrap here; openvpn wraps with our server key. */
static void test_openvpn_keys(void)
{
	char dir[] = "/tmp/test_tlscryptv2.XXXXXX", cmd[1024], path[256], path2[256];
	char text[TLSCRYPTV2_KEY_TEXT_MAX], err[160];
	struct tlscryptv2_server_key sk;
	struct static_key kc;
	struct tlscryptv2_client out;
	uint8_t wkc[TLSCRYPTV2_WKC_MAX];
	size_t wkc_len, len;
	int64_t created;

	if (system("openvpn --version >/dev/null 2>&1") != 0 || !mkdtemp(dir)) {
		printf("test_tlscryptv2: openvpn is not installed: interop cases skipped\n");
		return;
	}
	snprintf(cmd, sizeof(cmd),
		 "cd %s && openvpn --genkey tls-crypt-v2-server s.key >/dev/null && "
		 "openvpn --tls-crypt-v2 s.key --genkey tls-crypt-v2-client c.key >/dev/null && "
		 "openvpn --tls-crypt-v2 s.key --genkey tls-crypt-v2-client u.key "
		 "$(printf 'user 42' | base64) >/dev/null",
		 dir);
	CHECK(system(cmd) == 0, "openvpn --genkey: %s", cmd);
	snprintf(path, sizeof(path), "%s/s.key", dir);
	len = slurp(path, text, sizeof(text));
	CHECK(tlscryptv2_server_key_parse(&sk, text, len, err, sizeof(err)) == 0,
	      "openvpn's server key: %s", err);
	snprintf(path, sizeof(path), "%s/c.key", dir);
	len = slurp(path, text, sizeof(text));
	CHECK(tlscryptv2_client_key_parse(&kc, wkc, &wkc_len, text, len, err, sizeof(err)) == 0,
	      "openvpn's client key: %s", err);
	CHECK(tlscryptv2_unwrap(crypto, &sk, wkc, wkc_len, &out) == 0 &&
		      memcmp(&out.key, &kc, sizeof(kc)) == 0,
	      "openvpn's client key unwraps");
	CHECK(tlscryptv2_created(&out, &created) && llabs(created - (int64_t)time(NULL)) < 3600,
	      "openvpn's default metadata is the creation time: %lld",
	      (long long)(tlscryptv2_created(&out, &created) ? created : 0));
	snprintf(path, sizeof(path), "%s/u.key", dir);
	len = slurp(path, text, sizeof(text));
	CHECK(tlscryptv2_client_key_parse(&kc, wkc, &wkc_len, text, len, err, sizeof(err)) == 0 &&
		      tlscryptv2_unwrap(crypto, &sk, wkc, wkc_len, &out) == 0 &&
		      out.metadata_len == 8 && out.metadata[0] == TLSCRYPTV2_METADATA_USER &&
		      memcmp(out.metadata + 1, "user 42", 7) == 0,
	      "openvpn's user metadata: %s", err);

	/* Our server key, openvpn's client key made with it, unwrapped here. */
	sk = server_key(7);
	len = tlscryptv2_server_key_format(&sk, text, sizeof(text));
	snprintf(path, sizeof(path), "%s/ours.key", dir);
	snprintf(path2, sizeof(path2), "%s/theirs.key", dir);
	CHECK(write_file(path, text, len), "write %s", path);
	snprintf(cmd, sizeof(cmd),
		 "openvpn --tls-crypt-v2 %s --genkey tls-crypt-v2-client %s >/dev/null", path,
		 path2);
	CHECK(system(cmd) == 0, "openvpn takes our server key: %s", cmd);
	len = slurp(path2, text, sizeof(text));
	CHECK(tlscryptv2_client_key_parse(&kc, wkc, &wkc_len, text, len, err, sizeof(err)) == 0 &&
		      tlscryptv2_unwrap(crypto, &sk, wkc, wkc_len, &out) == 0 &&
		      memcmp(&out.key, &kc, sizeof(kc)) == 0,
	      "openvpn wraps with our server key as we do: %s", err);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

int main(void)
{
	char err[256];

	crypto = crypto_new(err, sizeof(err));
	if (!crypto) {
		fprintf(stderr, "crypto_new: %s\n", err);
		return 1;
	}
	test_pem();
	test_key_files();
	test_wrap();
	test_locate();
	test_early_neg();
	test_accepts();
	test_openvpn_keys();
	crypto_free(crypto);
	return unit_report("test_tlscryptv2");
}
