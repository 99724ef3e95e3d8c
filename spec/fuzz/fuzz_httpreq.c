// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the metrics responder's request parser: no crash,
 * no read past len, only a GET of /metrics is OK, and a head that is
 * complete keeps its verdict whatever follows it (the parser stops at its
 * blank line, as the responder stops reading there).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1); /* exactly size bytes: ASan sees any overread */
	enum httpreq_verdict v, shorter;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	v = httpreq_parse(copy, size, "/metrics");
	if (v == HTTPREQ_OK && (size < 13 || memcmp(copy, "GET /metrics", 12) != 0))
		abort();
	if (size > 0) {
		shorter = httpreq_parse(copy, size - 1, "/metrics");
		if (shorter != HTTPREQ_INCOMPLETE && shorter != v)
			abort();
	}
	free(copy);
	return 0;
}
