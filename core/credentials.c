// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "credentials.h"

enum { KEY_FILE_MAX = 8192 };

/* Reads and parses a static key file; messages start with the config field. */
static int load_static_key(struct static_key *key, const char *field, const char *path, char *err,
			   size_t errlen)
{
	char text[KEY_FILE_MAX], why[160];
	FILE *f = fopen(path, "r");
	size_t n;
	int rc = 0;

	if (!f) {
		snprintf(err, errlen, "%s: cannot read %s: %s", field, path, strerror(errno));
		return -errno;
	}
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	if (static_key_parse(key, text, n, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s: %s (make a key with: moonvpn genkey FILE)", field,
			 path, why);
		rc = -EINVAL;
	}
	crypto_wipe(text, sizeof(text));
	return rc;
}

static int load_wrap(struct wrap *w, const struct crypto *c, const struct config *cfg, char *err,
		     size_t errlen)
{
	struct static_key key;
	int rc = 0;

	if (cfg->tls_crypt_key) {
		rc = load_static_key(&key, "tls.tls_crypt", cfg->tls_crypt_key, err, errlen);
		if (rc == 0)
			wrap_init_tls_crypt(w, c, &key, cfg->role == CONFIG_SERVER);
	} else if (cfg->tls_auth_key) {
		rc = load_static_key(&key, "tls.tls_auth.key", cfg->tls_auth_key, err, errlen);
		/* OpenVPN's default `auth` digest is SHA1; so is every stock profile's tls-auth. */
		if (rc == 0 && wrap_init_tls_auth(w, c, &key, cfg->tls_auth_direction, "SHA1", err,
						  errlen) < 0)
			rc = -EINVAL;
	} else {
		wrap_init_none(w);
	}
	crypto_wipe(&key, sizeof(key));
	return rc;
}

int credentials_load(struct credentials *out, const struct crypto *c, const struct config *cfg,
		     char *err, size_t errlen)
{
	struct tls_config tc = { cfg->role == CONFIG_CLIENT ? TLS_CLIENT : TLS_SERVER,
				 cfg->tls_ca,
				 cfg->tls_cert,
				 cfg->tls_key,
				 cfg->tls_crl,
				 cfg->client_cert };
	int rc;

	memset(out, 0, sizeof(*out));
	rc = tls_ctx_new(&out->tls, &tc, err, errlen);
	if (rc == 0)
		rc = load_wrap(&out->wrap, c, cfg, err, errlen);
	if (rc < 0)
		credentials_clear(out);
	return rc;
}

void credentials_clear(struct credentials *cr)
{
	tls_ctx_free(cr->tls);
	cr->tls = NULL;
	wrap_clear(&cr->wrap);
}
