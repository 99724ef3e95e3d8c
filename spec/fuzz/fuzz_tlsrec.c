// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for a parked session's records (tlsrec.c): the input's
 * first byte picks the suite; the rest, read as records from a peer, must
 * never crash tlsrec_record_len or tlsrec_open; and cut into messages, each
 * sealed by one side must open on the other, content and type intact.
 */
#include <openssl/obj_mac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int suites[] = { NID_aes_128_gcm, NID_aes_256_gcm, NID_chacha20_poly1305 };

/* The peer's stream as records: whatever frames, none opens without the keys. */
static void read_as_records(struct tlsrec *r, const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	size_t at = 0, n;
	long len;

	if (!copy)
		return;
	memcpy(copy, data, size);
	while ((len = tlsrec_record_len(copy + at, size - at)) > 0) {
		if (tlsrec_open(r, copy + at, (size_t)len, &n) >= 0)
			abort(); /* forged without the key */
		at += (size_t)len;
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t rec[TLSREC_PLAIN_MAX + TLSREC_OVERHEAD];
	uint8_t a_secret[48], b_secret[48];
	struct tlsrec a, b;
	size_t at = 1, n;

	if (size < 1)
		return 0;
	for (int i = 0; i < 48; i++) {
		a_secret[i] = (uint8_t)i;
		b_secret[i] = (uint8_t)(0xa0 ^ i);
	}
	if (tlsrec_init(&a, suites[data[0] % 3], data[0] & 4 ? "SHA384" : "SHA256", a_secret,
			b_secret, data[0] & 4 ? 48 : 32, data[0] >> 3, 7) < 0 ||
	    tlsrec_init(&b, suites[data[0] % 3], data[0] & 4 ? "SHA384" : "SHA256", b_secret,
			a_secret, data[0] & 4 ? 48 : 32, 7, data[0] >> 3) < 0)
		abort();
	read_as_records(&b, data + 1, size - 1);
	b.rx.seq = data[0] >> 3;
	while (at < size) {
		size_t len = data[at] % 64 < size - at - 1 ? data[at] % 64 : size - at - 1;
		size_t sealed = tlsrec_seal(&a, data + at + 1, len, rec);

		if (!sealed || tlsrec_record_len(rec, sealed) != (long)sealed ||
		    tlsrec_open(&b, rec, sealed, &n) != TLSREC_TYPE_APPLICATION_DATA || n != len ||
		    memcmp(rec + TLSREC_HEADER_LEN, data + at + 1, len) != 0)
			abort();
		at += 1 + len;
	}
	tlsrec_wipe(&a);
	tlsrec_wipe(&b);
	return 0;
}
