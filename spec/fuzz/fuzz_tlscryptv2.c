// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for what a tls-crypt-v2 server reads from the network
 * and from key files: the input is a packet whose WKc is located, unwrapped
 * and checked with a fixed server key, and a key file's text. No crash, no
 * out-of-bounds access; a located WKc lies inside the packet; a WKc that
 * unwraps wraps back to the same bytes (the tag is a deterministic SIV);
 * a client key file that parses formats back to text that parses the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlscryptv2.h"
#include "wrap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct crypto *crypto;
static struct tlscryptv2_server server;

static void setup(void)
{
	char err[256];

	for (int i = 0; i < TLSCRYPTV2_SERVER_KEY_LEN; i++)
		server.key.bytes[i] = (uint8_t)(i * 11 + 1);
	server.max_age_days = 30;
	crypto = crypto_new(err, sizeof(err));
	if (!crypto)
		abort();
}

static void check_packet(const uint8_t *data, size_t size)
{
	enum { HEADERS = 1 + 8 + WRAP_REPLAY_LEN + WRAP_TLS_CRYPT_TAG_LEN };
	struct tlscryptv2_client k;
	uint8_t again[TLSCRYPTV2_WKC_MAX];
	char why[256];
	int64_t created;
	int at = tlscryptv2_locate(data, size, HEADERS), n;

	if (at < 0)
		return;
	if ((size_t)at < HEADERS || (size_t)at > size - TLSCRYPTV2_WKC_MIN)
		abort();
	if (tlscryptv2_unwrap(crypto, &server.key, data + at, size - (size_t)at, &k) < 0)
		return;
	n = tlscryptv2_wrap(crypto, &server.key, &k.key, k.metadata, k.metadata_len, again,
			    sizeof(again));
	if (n != (int)(size - (size_t)at) || memcmp(again, data + at, (size_t)n) != 0)
		abort();
	(void)tlscryptv2_created(&k, &created);
	(void)tlscryptv2_accepts(&server, &k, 1800000000, why, sizeof(why));
}

static void check_key_file(const uint8_t *data, size_t size)
{
	struct static_key kc, kc2;
	struct tlscryptv2_server_key sk;
	uint8_t wkc[TLSCRYPTV2_WKC_MAX], wkc2[TLSCRYPTV2_WKC_MAX];
	char text[TLSCRYPTV2_KEY_TEXT_MAX], err[256];
	size_t wkc_len, wkc2_len, len;

	(void)!tlscryptv2_server_key_parse(&sk, (const char *)data, size, err, sizeof(err));
	if (tlscryptv2_client_key_parse(&kc, wkc, &wkc_len, (const char *)data, size, err,
					sizeof(err)) < 0)
		return;
	len = tlscryptv2_client_key_format(&kc, wkc, wkc_len, text, sizeof(text));
	if (!len ||
	    tlscryptv2_client_key_parse(&kc2, wkc2, &wkc2_len, text, len, err, sizeof(err)) < 0 ||
	    memcmp(&kc, &kc2, sizeof(kc)) != 0 || wkc_len != wkc2_len ||
	    memcmp(wkc, wkc2, wkc_len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!crypto)
		setup();
	if (size > 4096)
		return 0;
	check_packet(data, size);
	check_key_file(data, size);
	return 0;
}
