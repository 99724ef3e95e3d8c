// SPDX-License-Identifier: MIT
/*
 * credentials_load with inline material, as a .ovpn profile gives it (a
 * value with a newline is the text itself, never a file): the CA,
 * certificate and key, a tls-crypt key and the auth-user-pass lines load
 * from memory as they do from files; a bad inline key is refused naming the
 * field and "the inline text".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "credentials.h"
#include "crypto.h"
#include "tlscryptv2.h"
#include "unit.h"

static char pki[64];

/*
 * The Makefile links this test with ld --wrap=calloc --wrap=crypto_wipe: the
 * core's calls come here. A calloc of fail_size bytes fails (0: none does),
 * and a wipe notes whether it covered text holding wiped_marker.
 */
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void __real_crypto_wipe(void *p, size_t len);
void __wrap_crypto_wipe(void *p, size_t len);

static size_t fail_size;
static const char *wiped_marker;
static bool marker_wiped;

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_size && n * size == fail_size ? NULL : __real_calloc(n, size);
}

void __wrap_crypto_wipe(void *p, size_t len)
{
	if (wiped_marker && memmem(p, len, wiped_marker, strlen(wiped_marker)))
		marker_wiped = true;
	__real_crypto_wipe(p, len);
}

static char *read_text(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", pki, name);
	return unit_read_text(path);
}

/* An OpenVPN static key's text: 256 bytes of hex, 16 bytes a line. */
static char *static_key_text(void)
{
	char *text = calloc(1, 1024);
	size_t off = 0;

	off += (size_t)snprintf(text + off, 1024 - off,
				"#\n# 2048 bit OpenVPN static key\n#\n"
				"-----BEGIN OpenVPN Static key V1-----\n");
	for (int line = 0; line < 16; line++) {
		for (int i = 0; i < 16; i++)
			off += (size_t)snprintf(text + off, 1024 - off, "%02x",
						(line * 16 + i) * 7 & 0xff);
		text[off++] = '\n';
	}
	snprintf(text + off, 1024 - off, "-----END OpenVPN Static key V1-----\n");
	return text;
}

static struct config *client_config(void)
{
	struct config *cfg = calloc(1, sizeof(*cfg));

	cfg->role = CONFIG_CLIENT;
	cfg->tls_auth_direction = -1;
	cfg->tls_ca = read_text("ca.crt");
	cfg->tls_cert = read_text("client1.crt");
	cfg->tls_key = read_text("client1.key");
	cfg->tls_crypt_key = static_key_text();
	cfg->auth_file = strdup("alice\r\nsecret\r\n");
	return cfg;
}

static void test_inline_loads(struct crypto *c)
{
	struct config *cfg = client_config();
	struct credentials cr;
	char err[512] = "";

	CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) == 0, "inline credentials: %s", err);
	CHECK(cr.tls != NULL, "the TLS context from inline PEM");
	CHECK(cr.wrap.mode == WRAP_TLS_CRYPT, "tls-crypt from the inline key");
	CHECK(cr.username && strcmp(cr.username, "alice") == 0 && cr.password &&
		      strcmp(cr.password, "secret") == 0,
	      "auth-user-pass from the inline lines");
	credentials_clear(&cr);

	/* The same key as a tls-auth key with a direction. */
	cfg->tls_auth_key = cfg->tls_crypt_key;
	cfg->tls_crypt_key = NULL;
	cfg->tls_auth_direction = 1;
	CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) == 0, "inline tls-auth: %s", err);
	CHECK(cr.wrap.mode == WRAP_TLS_AUTH, "tls-auth from the inline key");
	credentials_clear(&cr);

	free(cfg->tls_auth_key);
	cfg->tls_auth_key = strdup("-----BEGIN OpenVPN Static key V1-----\nzz\n"
				   "-----END OpenVPN Static key V1-----\n");
	CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) < 0 &&
		      strstr(err, "tls.tls_auth.key: the inline text: "),
	      "a bad inline key names the field: %s", err);
	free(cfg->tls_auth_key);
	cfg->tls_auth_key = NULL;

	/* A username alone (or an empty second line): no password, to be asked as OpenVPN does. */
	for (int i = 0; i < 2; i++) {
		free(cfg->auth_file);
		cfg->auth_file = strdup(i ? "alice\n\n" : "alice\n");
		CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) == 0 && cr.username &&
			      strcmp(cr.username, "alice") == 0 && !cr.password,
		      "a username alone: %s", err);
		credentials_clear(&cr);
	}

	free(cfg->auth_file);
	cfg->auth_file = strdup("\nsecret\n");
	CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) < 0 &&
		      strstr(err, "auth.file: the inline text needs the username"),
	      "inline auth without a username: %s", err);
	config_free(cfg);
}

/*
 * A server's tls-crypt-v2 key text is wiped on every way out of loading it,
 * the out-of-memory one too (review s3 L9): the allocation of its server
 * state fails, and a wipe must still cover the text the key was read into.
 */
static void test_v2_key_wiped_on_oom(struct crypto *c)
{
	struct config *cfg = client_config();
	struct tlscryptv2_server_key key;
	struct credentials cr;
	char err[512] = "", *text = calloc(1, 4096);

	for (size_t i = 0; i < sizeof(key.bytes); i++)
		key.bytes[i] = (uint8_t)(i * 13);
	CHECK(text && tlscryptv2_server_key_format(&key, text, 4096) > 0, "a server key's text");
	cfg->role = CONFIG_SERVER;
	cfg->tls_crypt_v2_key = text;
	CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) == 0, "inline v2 server key: %s",
	      err);
	credentials_clear(&cr);

	fail_size = sizeof(struct tlscryptv2_server);
	wiped_marker = "-----BEGIN OpenVPN tls-crypt-v2 server key-----";
	marker_wiped = false;
	CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) == -ENOMEM &&
		      strstr(err, "tls.tls_crypt_v2: out of memory"),
	      "the server state's allocation fails: %s", err);
	fail_size = 0;
	CHECK(marker_wiped, "the key's text was wiped on the out-of-memory path");
	wiped_marker = NULL;
	config_free(cfg);
}

int main(void)
{
	char cmd[160], err[256];
	struct crypto *c = crypto_new(err, sizeof(err));

	CHECK(c != NULL, "crypto_new: %s", err);
	snprintf(pki, sizeof(pki), "/tmp/mvt-cred-XXXXXX");
	if (!c || !mkdtemp(pki)) {
		CHECK(0, "mkdtemp");
		return unit_report("test_credentials");
	}
	snprintf(cmd, sizeof(cmd), "scripts/make-pki %s 1 > /dev/null", pki);
	CHECK(system(cmd) == 0, "scripts/make-pki (needs openssl)");
	test_inline_loads(c);
	test_v2_key_wiped_on_oom(c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
	CHECK(system(cmd) == 0, "cleanup");
	crypto_free(c);
	return unit_report("test_credentials");
}
