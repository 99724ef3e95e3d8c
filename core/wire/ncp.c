// SPDX-License-Identifier: MIT
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ncp.h"

enum { NCP_LIST_MAX = 512 };

/* True when name is one of the ':'-separated names in list (case-insensitive). */
static bool in_list(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; *p;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);

		if (n == len && strncasecmp(p, name, n) == 0)
			return true;
		if (!colon)
			break;
		p = colon + 1;
	}
	return false;
}

/* The cipher named by a "cipher X" item of the options string, into out. */
static bool options_cipher(const struct km2_string *options, char *out, size_t cap)
{
	const char *p = options->text, *end = p ? p + options->len : NULL;

	while (p && p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *item_end = comma ? comma : end;

		if ((size_t)(item_end - p) > 7 && strncmp(p, "cipher ", 7) == 0 &&
		    (size_t)(item_end - p - 7) < cap) {
			memcpy(out, p + 7, (size_t)(item_end - p - 7));
			out[item_end - p - 7] = '\0';
			return true;
		}
		p = comma ? comma + 1 : end;
	}
	return false;
}

const char *ncp_select(const char *const *server_ciphers, size_t n,
		       const struct km2_string *peer_info, const struct km2_string *options)
{
	char client[NCP_LIST_MAX], ncp[8];

	if (km2_peer_info_get(peer_info, "IV_CIPHERS", client, sizeof(client))) {
		/* the list as sent */
	} else if (km2_peer_info_get(peer_info, "IV_NCP", ncp, sizeof(ncp)) && atoi(ncp) >= 2) {
		strcpy(client, "AES-256-GCM:AES-128-GCM");
	} else if (!options_cipher(options, client, sizeof(client))) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (in_list(client, server_ciphers[i]))
			return server_ciphers[i];
	return NULL;
}
