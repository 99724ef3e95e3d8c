// SPDX-License-Identifier: MIT
/*
 * Epoch data keys against numbers computed elsewhere: the values in
 * OpenVPN's own unit tests (tests/unit_tests/openvpn/test_crypto.c:
 * "unit test" label, the data key of epoch 17), and HKDF-Expand by the
 * openssl command line with the HKDF label bytes built here by hand, so a
 * wrong prefix, length field, label or chain step fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epoch.h"
#include "unit.h"

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = 0;

	for (const char *p = hex; p[0] && p[1] && n < cap;) {
		if (p[0] == ':' || p[0] == ' ' || p[0] == '\n') {
			p++;
			continue;
		}
		char byte[3] = { p[0], p[1], 0 };
		out[n++] = (uint8_t)strtoul(byte, NULL, 16);
		p += 2;
	}
	return n;
}

static void tohex(char *out, const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

/* HKDF-Expand-SHA256 by `openssl kdf`; returns the bytes read (0 if the CLI failed). */
static size_t openssl_expand(const uint8_t *secret, size_t secret_len, const uint8_t *info,
			     size_t info_len, uint8_t *out, size_t out_len)
{
	char key[2 * 64 + 1], inf[2 * 300 + 1], cmd[1200], line[4096] = "";

	tohex(key, secret, secret_len);
	tohex(inf, info, info_len);
	snprintf(cmd, sizeof(cmd),
		 "openssl kdf -keylen %zu -kdfopt digest:SHA256 -kdfopt mode:EXPAND_ONLY "
		 "-kdfopt hexkey:%s -kdfopt hexinfo:%s HKDF 2>/dev/null",
		 out_len, key, inf);
	FILE *f = popen(cmd, "r");
	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	pclose(f);
	return unhex(out, out_len, line);
}

/* The HKDF label, written out byte by byte as the format says. */
static size_t hand_info(uint8_t *info, uint16_t out_len, const char *label)
{
	size_t n = 0, l = strlen(label);

	info[n++] = (uint8_t)(out_len >> 8);
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)(5 + l);
	memcpy(info + n, "ovpn ", 5);
	n += 5;
	memcpy(info + n, label, l);
	n += l;
	info[n++] = 0; /* empty context */
	return n;
}

static const char OVPN_SECRET[] =
	"077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5";

static void test_openvpn_vectors(struct crypto *c)
{
	uint8_t secret[32], out[27], want[27];

	unhex(secret, sizeof(secret), OVPN_SECRET);
	/* test_crypto.c, crypto_test_ovpn_label_expand: 16 bytes of "unit test" */
	unhex(want, 16, "185eaa1c7f228ab8eb29773214d92046");
	CHECK(epoch_expand_label(c, secret, "unit test", NULL, 0, out, 16) == 0, "expand");
	CHECK(memcmp(out, want, 16) == 0, "\"unit test\" 16 bytes differ from OpenVPN's");

	/* crypto_test_hkdf_expand_test_ovpn: info 001b 0e "ovpn unit test" 00, 27 bytes */
	unhex(want, 27, "875a8eec18556380b8d933ed323c2df8e8eccf4972e683f06a83ac");
	CHECK(epoch_expand_label(c, secret, "unit test", NULL, 0, out, 27) == 0, "expand");
	CHECK(memcmp(out, want, 27) == 0, "\"unit test\" 27 bytes differ from OpenVPN's");

	/* epoch_test_derive_data_key: E_17 = 19, 12, 0..., AES-192-GCM */
	struct epoch_key e17 = { .key = { 19, 12 }, .epoch = 17 };
	uint8_t key[24], iv[EPOCH_IV_LEN], want_key[24], want_iv[EPOCH_IV_LEN];
	unhex(want_key, 24, "ed8533db1c28ace418e9006ab29c17417d60ebe6cd90bf0a");
	unhex(want_iv, 12, "86890aabf032cb59f4cfa34e");
	CHECK(epoch_data_key(c, &e17, key, sizeof(key), iv) == 0, "data key");
	CHECK(memcmp(key, want_key, 24) == 0, "epoch 17 data key differs from OpenVPN's");
	CHECK(memcmp(iv, want_iv, 12) == 0, "epoch 17 implicit IV differs from OpenVPN's");
}

/* Every label and length the module uses, and a multi-block output, against the CLI. */
static void test_against_openssl(struct crypto *c)
{
	static const struct {
		const char *label;
		uint16_t len;
	} cases[] = {
		{ "datakey upd", 32 }, { "data_key", 32 },  { "data_key", 16 },
		{ "data_iv", 12 },     { "unit test", 80 }, { "x", 1 },
	};
	uint8_t secret[32], info[300], got[80], want[80];

	for (int i = 0; i < 32; i++)
		secret[i] = (uint8_t)(0xa0 + i);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = hand_info(info, cases[i].len, cases[i].label);
		size_t got_n = openssl_expand(secret, 32, info, n, want, cases[i].len);

		CHECK(got_n == cases[i].len, "openssl kdf gave %zu bytes for %s", got_n,
		      cases[i].label);
		CHECK(epoch_expand_label(c, secret, cases[i].label, NULL, 0, got, cases[i].len) ==
			      0,
		      "expand %s", cases[i].label);
		CHECK(memcmp(got, want, cases[i].len) == 0, "%s/%u differs from openssl kdf",
		      cases[i].label, cases[i].len);
	}
}

/* E_1 -> E_2 -> E_3, then the data key of E_3, each step by the CLI. */
static void test_chain(struct crypto *c)
{
	uint8_t block[KEYS_BLOCK_LEN], info[64], e[32], next[32], want_key[32], want_iv[12];
	struct epoch_key send, recv;

	for (int i = 0; i < KEYS_BLOCK_LEN; i++)
		block[i] = (uint8_t)i;
	epoch_first_keys(block, true, &send, &recv);
	CHECK(send.epoch == 1 && recv.epoch == 1, "E_1 epochs %u %u", send.epoch, recv.epoch);
	CHECK(memcmp(send.key, block + 128, 32) == 0, "server sends with block[128..159]");
	CHECK(memcmp(recv.key, block, 32) == 0, "server receives with block[0..31]");
	struct epoch_key csend, crecv;
	epoch_first_keys(block, false, &csend, &crecv);
	CHECK(memcmp(csend.key, recv.key, 32) == 0 && memcmp(crecv.key, send.key, 32) == 0,
	      "client keys mirror the server's");

	memcpy(e, send.key, 32);
	for (int step = 0; step < 2; step++) {
		size_t n = hand_info(info, 32, "datakey upd");
		CHECK(openssl_expand(e, 32, info, n, next, 32) == 32, "openssl kdf");
		memcpy(e, next, 32);
		CHECK(epoch_key_next(c, &send) == 0, "next");
	}
	CHECK(send.epoch == 3, "epoch %u after two steps", send.epoch);
	CHECK(memcmp(send.key, e, 32) == 0, "E_3 differs from two datakey upd steps");

	size_t n = hand_info(info, 32, "data_key");
	CHECK(openssl_expand(e, 32, info, n, want_key, 32) == 32, "openssl kdf");
	n = hand_info(info, 12, "data_iv");
	CHECK(openssl_expand(e, 32, info, n, want_iv, 12) == 12, "openssl kdf");
	uint8_t key[32], iv[12];
	CHECK(epoch_data_key(c, &send, key, 32, iv) == 0, "data key");
	CHECK(memcmp(key, want_key, 32) == 0, "AES-256 key of E_3 differs");
	CHECK(memcmp(iv, want_iv, 12) == 0, "implicit IV of E_3 differs");

	struct epoch_key last = { .key = { 1 }, .epoch = EPOCH_MAX };
	CHECK(epoch_key_next(c, &last) < 0 && last.epoch == EPOCH_MAX, "no epoch after 65535");
	struct epoch_key unset = { .epoch = 0 };
	CHECK(epoch_data_key(c, &unset, key, 32, iv) < 0, "unset epoch key refused");
	CHECK(epoch_data_key(c, &send, key, 33, iv) < 0, "key longer than E_n refused");
}

static void test_limits(struct crypto *c)
{
	uint8_t secret[32] = { 0 }, out[8];
	char label[EPOCH_LABEL_MAX + 2];

	memset(label, 'a', sizeof(label) - 1);
	label[sizeof(label) - 1] = 0;
	CHECK(epoch_expand_label(c, secret, label, NULL, 0, out, 8) < 0, "251-byte label refused");
	label[EPOCH_LABEL_MAX] = 0;
	CHECK(epoch_expand_label(c, secret, label, NULL, 0, out, 8) == 0, "250-byte label ok");
	CHECK(epoch_expand_label(c, secret, "", NULL, 0, out, 8) < 0, "empty label refused");
}

static void test_packet_id(void)
{
	uint8_t pid[8], want[8], iv[12], nonce[12];
	uint64_t counter = 0;

	epoch_packet_id_put(pid, 0x1234, 0x56789abcdef0);
	unhex(want, 8, "123456789abcdef0");
	CHECK(memcmp(pid, want, 8) == 0, "epoch then 48-bit counter, big-endian");
	CHECK(epoch_packet_id_get(pid, &counter) == 0x1234 && counter == 0x56789abcdef0,
	      "read back %llx", (unsigned long long)counter);
	epoch_packet_id_put(pid, 1, EPOCH_COUNTER_MAX);
	CHECK(epoch_packet_id_get(pid, &counter) == 1 && counter == EPOCH_COUNTER_MAX,
	      "counter max keeps the epoch");
	memset(pid, 0, 8);
	pid[7] = 9;
	CHECK(epoch_packet_id_get(pid, &counter) == 0, "epoch 0 is reported as 0 (invalid)");

	unhex(pid, 8, "0002000000000005");
	unhex(iv, 12, "0102030405060708090a0b0c");
	epoch_nonce(nonce, pid, iv);
	unhex(want, 8, "010003040506070d");
	CHECK(memcmp(nonce, want, 8) == 0, "nonce = pid xor iv[0..7] at position 0");
	CHECK(nonce[7] == (0x08 ^ 0x05) && memcmp(nonce + 8, iv + 8, 4) == 0,
	      "last 4 nonce bytes are the IV's");
}

static void test_usage(void)
{
	const uint64_t L = EPOCH_AES_GCM_LIMIT_BLOCKS;
	struct epoch_usage fresh = { 0 }, at = { .blocks = L - 10, .packets = 10 };
	struct epoch_usage over = { .blocks = L - 10, .packets = 11 };
	struct epoch_usage forged = { .failed = EPOCH_FAILED_WARN + 1 };
	struct epoch_usage counter = { .packets = EPOCH_COUNTER_MAX };

	CHECK(L == 68719476735ull, "AES-GCM limit 2^36 - 1 blocks");
	CHECK(epoch_blocks(0) == 0 && epoch_blocks(1) == 1 && epoch_blocks(16) == 1 &&
		      epoch_blocks(17) == 2,
	      "blocks round up");
	CHECK(!epoch_usage_reached(L, &at) && epoch_usage_reached(L, &over), "q + s > limit");
	CHECK(!epoch_usage_reached(0, &over), "no limit for ChaCha20-Poly1305");
	CHECK(!epoch_send_due(L, 3, &fresh, 3, &fresh), "fresh keys stay");
	CHECK(epoch_send_due(L, 3, &over, 3, &fresh), "send limit moves the send key");
	CHECK(epoch_send_due(L, 3, &fresh, 3, &over), "receive limit at the same epoch moves it");
	CHECK(!epoch_send_due(L, 4, &fresh, 3, &over), "not again once ahead of the peer");
	CHECK(epoch_send_due(L, 3, &fresh, 3, &forged), "many forgeries move it");
	CHECK(epoch_send_due(0, 3, &counter, 3, &fresh), "48-bit counter end moves it, any cipher");
	CHECK(!epoch_send_due(L, EPOCH_MAX, &over, 3, &fresh), "nothing after epoch 65535");
}

int main(void)
{
	char err[256];
	struct crypto *c = crypto_new(err, sizeof(err));

	if (!c) {
		fprintf(stderr, "crypto_new: %s\n", err);
		return 1;
	}
	test_openvpn_vectors(c);
	test_against_openssl(c);
	test_chain(c);
	test_limits(c);
	test_packet_id();
	test_usage();
	crypto_free(c);
	return unit_report("test_epoch");
}
