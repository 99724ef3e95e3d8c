// SPDX-License-Identifier: MIT
/* Cipher negotiation: the server's order wins among what the client has. */
#include <string.h>

#include "ncp.h"
#include "unit.h"

static const char *const defaults[] = { "AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305" };
static const char *const chacha_first[] = { "CHACHA20-POLY1305", "AES-256-GCM" };
static const char *const only_128[] = { "AES-128-GCM" };

static const struct {
	const char *name;
	const char *const *server;
	size_t n;
	const char *peer_info, *options, *want; /* want NULL: no shared cipher */
} cases[] = {
	{ "2.6 defaults", defaults, 3,
	  "IV_VER=2.6.14\nIV_CIPHERS=AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305\nIV_PROTO=990\n",
	  "V4", "AES-256-GCM" },
	{ "server order wins (observed in the guide)", chacha_first, 2,
	  "IV_CIPHERS=AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305\n", "V4", "CHACHA20-POLY1305" },
	{ "client has one", defaults, 3, "IV_CIPHERS=CHACHA20-POLY1305\n", "V4",
	  "CHACHA20-POLY1305" },
	{ "names are case-insensitive", defaults, 3, "IV_CIPHERS=aes-128-gcm\n", "V4",
	  "AES-128-GCM" },
	{ "a legacy cipher appended by an old config", only_128, 1,
	  "IV_CIPHERS=AES-256-GCM:AES-128-GCM:AES-256-CBC\n", "V4", "AES-128-GCM" },
	{ "nothing shared", only_128, 1, "IV_CIPHERS=AES-256-GCM:CHACHA20-POLY1305\n", "V4", NULL },
	{ "IV_NCP=2 without IV_CIPHERS", chacha_first, 2, "IV_NCP=2\n", "V4", "AES-256-GCM" },
	{ "IV_NCP=1 falls back to the options string", defaults, 3, "IV_NCP=1\n",
	  "V4,dev-type tun,cipher AES-128-GCM,auth SHA1", "AES-128-GCM" },
	{ "IV_CIPHERS wins over the options string", only_128, 1, "IV_CIPHERS=AES-256-GCM\n",
	  "V4,cipher AES-128-GCM", NULL },
	{ "no information at all", defaults, 3, "", "V4,dev-type tun", NULL },
	{ "prefix of a name is not the name", defaults, 3, "IV_CIPHERS=AES-256\n", "V4", NULL },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct km2_string info = { cases[i].peer_info, strlen(cases[i].peer_info) };
		struct km2_string opts = { cases[i].options, strlen(cases[i].options) };
		const char *got = ncp_select(cases[i].server, cases[i].n, &info, &opts);

		CHECK((got == NULL) == (cases[i].want == NULL) &&
			      (!got || strcmp(got, cases[i].want) == 0),
		      "%s: got %s", cases[i].name, got ? got : "(none)");
	}
	return unit_report("test_ncp");
}
