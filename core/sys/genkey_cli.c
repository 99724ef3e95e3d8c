// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authtoken.h"
#include "crypto.h"
#include "genkey_cli.h"
#include "pem.h"
#include "statickey.h"
#include "tlscryptv2.h"

static const char USAGE[] =
	"usage: moonvpn genkey FILE\n"
	"       moonvpn genkey --tls-crypt-v2-server FILE\n"
	"       moonvpn genkey --tls-crypt-v2-client FILE --server-key FILE [--metadata TEXT]\n"
	"       moonvpn genkey --auth-token FILE\n";

/* Writes text to a new file (mode 0600); an existing one is never replaced. 0 or 1. */
static int write_new(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f;

	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, "moonvpn genkey: cannot create %s: %s%s\n", path, strerror(errno),
			errno == EEXIST ? " (remove it first if you really mean to replace the key)"
					: "");
		if (fd >= 0)
			close(fd);
		return 1;
	}
	int ok = fwrite(text, 1, len, f) == len;
	ok = (fclose(f) == 0) && ok;
	if (!ok) {
		fprintf(stderr, "moonvpn genkey: cannot write %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

static int random_failed(void)
{
	fprintf(stderr, "moonvpn genkey: the random number generator failed\n");
	return 1;
}

/* A static key for tls-auth or tls-crypt. */
static int static_key(const char *path)
{
	struct static_key key;
	char text[STATIC_KEY_TEXT_MAX];
	size_t len;
	int rc;

	if (crypto_random(key.bytes, sizeof(key.bytes)) < 0)
		return random_failed();
	len = static_key_format(&key, text, sizeof(text));
	crypto_wipe(&key, sizeof(key));
	rc = write_new(path, text, len);
	crypto_wipe(text, sizeof(text));
	return rc;
}

/*
 * An auth-token secret (auth.token.secret): 128 random bytes in the PEM file
 * `openvpn --genkey auth-token` writes, so either server reads either's.
 */
static int auth_token_key(const char *path)
{
	uint8_t key[AUTHTOKEN_FILE_KEY_LEN];
	char text[AUTHTOKEN_FILE_MAX];
	size_t len;
	int rc;

	if (crypto_random(key, sizeof(key)) < 0)
		return random_failed();
	len = pem_encode(AUTHTOKEN_PEM_NAME, key, sizeof(key), text, sizeof(text));
	crypto_wipe(key, sizeof(key));
	rc = len ? write_new(path, text, len) : 1;
	crypto_wipe(text, sizeof(text));
	return rc;
}

static int server_key(const char *path)
{
	struct tlscryptv2_server_key key;
	char text[TLSCRYPTV2_KEY_TEXT_MAX];
	size_t len;
	int rc;

	if (crypto_random(key.bytes, sizeof(key.bytes)) < 0)
		return random_failed();
	len = tlscryptv2_server_key_format(&key, text, sizeof(text));
	crypto_wipe(&key, sizeof(key));
	rc = write_new(path, text, len);
	crypto_wipe(text, sizeof(text));
	return rc;
}

/* Reads the server key to wrap client keys with (who: what the message names). 0 or 1. */
static int read_server_key(const char *who, const char *path, struct tlscryptv2_server_key *key)
{
	char text[TLSCRYPTV2_KEY_TEXT_MAX * 2], why[200];
	FILE *f = fopen(path, "r");
	size_t n;
	int rc = 0;

	if (!f) {
		fprintf(stderr, "%s: cannot read %s: %s\n", who, path, strerror(errno));
		return 1;
	}
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	if (tlscryptv2_server_key_parse(key, text, n, why, sizeof(why)) < 0) {
		fprintf(stderr,
			"%s: %s: %s (make one with: moonvpn genkey --tls-crypt-v2-server FILE)\n",
			who, path, why);
		rc = 1;
	}
	crypto_wipe(text, sizeof(text));
	return rc;
}

/*
 * The metadata: the type byte, then the text (USER), or by default the
 * creation time as 8 big-endian bytes (TIMESTAMP), as openvpn writes it.
 */
static int make_metadata(const char *text, uint8_t *out, size_t *len)
{
	if (!text) {
		uint64_t now = (uint64_t)time(NULL);

		out[0] = TLSCRYPTV2_METADATA_TIMESTAMP;
		for (int i = 0; i < 8; i++)
			out[1 + i] = (uint8_t)(now >> (56 - 8 * i));
		*len = 9;
		return 0;
	}
	if (strlen(text) > TLSCRYPTV2_METADATA_MAX - 1) {
		fprintf(stderr, "moonvpn genkey: --metadata: %zu bytes is too long (at most %d)\n",
			strlen(text), TLSCRYPTV2_METADATA_MAX - 1);
		return 1;
	}
	out[0] = TLSCRYPTV2_METADATA_USER;
	memcpy(out + 1, text, strlen(text));
	*len = 1 + strlen(text);
	return 0;
}

int genkey_tls_crypt_v2_client(const char *who, const char *server_path, const char *metadata,
			       char *text, size_t text_max, size_t *text_len,
			       char id[TLSCRYPTV2_ID_TEXT_LEN + 1])
{
	struct tlscryptv2_server_key sk;
	struct static_key kc;
	uint8_t meta[TLSCRYPTV2_METADATA_MAX], wkc[TLSCRYPTV2_WKC_MAX];
	struct crypto *c;
	size_t meta_len, len = 0;
	int n = -1;

	if (make_metadata(metadata, meta, &meta_len) || read_server_key(who, server_path, &sk))
		return 1;
	c = crypto_new(text, text_max);
	if (!c) {
		fprintf(stderr, "moonvpn genkey: %s\n", text);
		crypto_wipe(&sk, sizeof(sk));
		return 1;
	}
	if (crypto_random(kc.bytes, sizeof(kc.bytes)) == 0)
		n = tlscryptv2_wrap(c, &sk, &kc, meta, meta_len, wkc, sizeof(wkc));
	if (n > 0)
		len = tlscryptv2_client_key_format(&kc, wkc, (size_t)n, text, text_max);
	crypto_free(c);
	crypto_wipe(&sk, sizeof(sk));
	crypto_wipe(&kc, sizeof(kc));
	if (!len) {
		fprintf(stderr, "%s: cannot wrap the client key: %s\n", who,
			n < 0 ? tlscryptv2_error_name(n) : "no room");
		return 1;
	}
	tlscryptv2_id_format(wkc, id); /* the id: WKc's tag, at its start */
	*text_len = len;
	return 0;
}

static int client_key(const char *path, const char *server_path, const char *metadata)
{
	char text[TLSCRYPTV2_KEY_TEXT_MAX], id[TLSCRYPTV2_ID_TEXT_LEN + 1];
	size_t len;
	int rc = genkey_tls_crypt_v2_client("moonvpn genkey: --server-key", server_path, metadata,
					    text, sizeof(text), &len, id);

	if (rc == 0)
		rc = write_new(path, text, len);
	crypto_wipe(text, sizeof(text));
	if (rc == 0)
		printf("%s: tls-crypt-v2 client key %s\n", path, id);
	return rc;
}

int genkey_cli_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tls-crypt-v2-server", required_argument, NULL, 's' },
		{ "tls-crypt-v2-client", required_argument, NULL, 'c' },
		{ "server-key", required_argument, NULL, 'k' },
		{ "metadata", required_argument, NULL, 'm' },
		{ "auth-token", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *server = NULL, *client = NULL, *server_key_path = NULL, *metadata = NULL;
	const char *auth_token = NULL;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			server = optarg;
			break;
		case 'c':
			client = optarg;
			break;
		case 'k':
			server_key_path = optarg;
			break;
		case 'm':
			metadata = optarg;
			break;
		case 'a':
			auth_token = optarg;
			break;
		case 'h':
			fputs(USAGE, stdout);
			return 0;
		default:
			fputs(USAGE, stderr);
			return 2;
		}
	}
	if (auth_token && !server && !client && !server_key_path && !metadata && optind == argc)
		return auth_token_key(auth_token);
	if (auth_token)
		goto usage;
	if (server && !client && !server_key_path && !metadata && optind == argc)
		return server_key(server);
	if (client && !server && optind == argc) {
		if (server_key_path)
			return client_key(client, server_key_path, metadata);
		fprintf(stderr, "moonvpn genkey: --tls-crypt-v2-client needs --server-key FILE "
				"(the tls-crypt-v2 server key it is wrapped with)\n");
		return 2;
	}
	if (!server && !client && !server_key_path && !metadata && optind == argc - 1)
		return static_key(argv[optind]);
usage:
	fputs(USAGE, stderr);
	return 2;
}
