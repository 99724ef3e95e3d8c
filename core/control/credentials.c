// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "credentials.h"
#include "ttyask.h"

enum { KEY_FILE_MAX = 8192 };

/* A path-or-text field's name in messages: its path, or "the inline text". */
static const char *origin(const char *value)
{
	return tls_is_inline(value) ? "the inline text" : value;
}

/*
 * A key field's text into text (cap bytes, NUL-terminated; *n without the
 * NUL): the file's, or the value itself when it is inline (a .ovpn profile's
 * <tls-crypt> block), so that key material never needs a file on disk. The
 * caller wipes text.
 */
static int read_material(const char *field, const char *value, char *text, size_t cap, size_t *n,
			 char *err, size_t errlen)
{
	FILE *f;

	if (tls_is_inline(value)) {
		*n = strlen(value);
		if (*n >= cap) {
			snprintf(err, errlen,
				 "%s: the inline text is %zu bytes, more than a key's %zu", field,
				 *n, cap - 1);
			return -EINVAL;
		}
		memcpy(text, value, *n + 1);
		return 0;
	}
	if (!(f = fopen(value, "r"))) {
		snprintf(err, errlen, "%s: cannot read %s: %s", field, value, strerror(errno));
		return -errno;
	}
	*n = fread(text, 1, cap - 1, f);
	fclose(f);
	text[*n] = '\0';
	return 0;
}

/* Reads and parses a static key file; messages start with the config field. */
static int load_static_key(struct static_key *key, const char *field, const char *path, char *err,
			   size_t errlen)
{
	char text[KEY_FILE_MAX], why[160];
	size_t n;
	int rc;

	if ((rc = read_material(field, path, text, sizeof(text), &n, err, errlen)) < 0)
		return rc;
	if (static_key_parse(key, text, n, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s: %s (make a key with: moonvpn genkey FILE)", field,
			 origin(path), why);
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

/*
 * The tls-crypt-v2 server key and the server's checks on client keys, for
 * wrap.v2: new clients of either kind are taken beside the ones of wrap's mode.
 */
static int load_tls_crypt_v2(struct credentials *cr, const struct config *cfg, char *err,
			     size_t errlen)
{
	char text[KEY_FILE_MAX], why[200];
	struct tlscryptv2_server *v2;
	size_t n;
	int rc = read_material("tls.tls_crypt_v2", cfg->tls_crypt_v2_key, text, sizeof(text), &n,
			       err, errlen);

	if (rc < 0)
		goto out;
	v2 = calloc(1, sizeof(*v2));
	if (v2 && cfg->n_tls_crypt_v2_revoked)
		v2->revoked = calloc(cfg->n_tls_crypt_v2_revoked, sizeof(*v2->revoked));
	if (!v2 || (cfg->n_tls_crypt_v2_revoked && !v2->revoked)) {
		free(v2);
		snprintf(err, errlen, "tls.tls_crypt_v2: out of memory");
		rc = -ENOMEM;
		goto out;
	}
	cr->tls_crypt_v2 = v2;
	cr->wrap.v2 = v2;
	v2->max_age_days = cfg->tls_crypt_v2_max_age;
	for (size_t i = 0; i < cfg->n_tls_crypt_v2_revoked; i++)
		if (tlscryptv2_id_parse(cfg->tls_crypt_v2_revoked[i], v2->revoked[v2->n_revoked]))
			v2->n_revoked++; /* config.lua checked them */
	tlscryptv2_server_sort(v2);
	if (tlscryptv2_server_key_parse(&v2->key, text, n, why, sizeof(why)) < 0) {
		snprintf(err, errlen,
			 "tls.tls_crypt_v2: %s: %s (make a key with: moonvpn genkey "
			 "--tls-crypt-v2-server FILE)",
			 origin(cfg->tls_crypt_v2_key), why);
		rc = -EINVAL;
	}
out:
	/* The key's text, whatever became of it: a file's or an inline block's (review s3 L9). */
	crypto_wipe(text, sizeof(text));
	return rc;
}

/*
 * A client's tls-crypt-v2 client key (Kc and WKc, the file `moonvpn genkey
 * --tls-crypt-v2-client` or `openvpn --genkey tls-crypt-v2-client` writes):
 * its control packets are tls-crypt with Kc, and WKc goes to the server.
 */
static int load_client_key(struct credentials *cr, const struct crypto *c, const char *path,
			   char *err, size_t errlen)
{
	char text[KEY_FILE_MAX], why[200];
	struct static_key kc;
	size_t n;
	int rc = read_material("tls.tls_crypt_v2", path, text, sizeof(text), &n, err, errlen);

	if (rc < 0)
		return rc;
	if (tlscryptv2_client_key_parse(&kc, cr->wkc, &cr->wkc_len, text, n, why, sizeof(why)) <
	    0) {
		snprintf(err, errlen,
			 "tls.tls_crypt_v2: %s: %s (a client needs its own client key, made from "
			 "the server's key: moonvpn genkey --tls-crypt-v2-client FILE --server-key "
			 "SERVER.key, or openvpn --tls-crypt-v2 SERVER.key --genkey "
			 "tls-crypt-v2-client FILE)",
			 origin(path), why);
		rc = -EINVAL;
	} else {
		wrap_init_tls_crypt(&cr->wrap, c, &kc, false);
		cr->wrap.client_key = true;
	}
	crypto_wipe(text, sizeof(text));
	crypto_wipe(&kc, sizeof(kc));
	return rc;
}

/* auth.token.secret: the PEM file `openvpn --genkey auth-token FILE` writes. */
static int load_token_key(struct credentials *out, const char *path, char *err, size_t errlen)
{
	char text[AUTHTOKEN_FILE_MAX], why[160];
	FILE *f = fopen(path, "r");
	size_t n;
	int rc = 0;

	if (!f) {
		snprintf(err, errlen, "auth.token.secret: cannot read %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	if (authtoken_key_parse(&out->token_key, text, n, why, sizeof(why)) < 0) {
		snprintf(err, errlen,
			 "auth.token.secret: %s: %s (make one with: moonvpn genkey --auth-token "
			 "FILE, or openvpn --genkey auth-token FILE)",
			 path, why);
		rc = -EINVAL;
	}
	crypto_wipe(text, sizeof(text));
	out->has_token_key = rc == 0;
	return rc;
}

/* tls.server_fingerprint: 64 hex digits (config.lua normalized them) into bytes. */
static int parse_fingerprint(const char *hex, uint8_t out[TLS_FINGERPRINT_LEN], char *err,
			     size_t errlen)
{
	bool ok = strlen(hex) == 2 * TLS_FINGERPRINT_LEN;

	for (size_t i = 0; ok && i < TLS_FINGERPRINT_LEN; i++) {
		unsigned byte = 0;

		ok = isxdigit((unsigned char)hex[2 * i]) &&
		     isxdigit((unsigned char)hex[2 * i + 1]) &&
		     sscanf(hex + 2 * i, "%2x", &byte) == 1;
		out[i] = (uint8_t)byte;
	}
	if (ok)
		return 0;
	snprintf(err, errlen,
		 "tls.server_fingerprint: \"%s\" is not a SHA-256 fingerprint (64 hex digits, as "
		 "openssl x509 -noout -fingerprint -sha256 prints them)",
		 hex);
	return -EINVAL;
}

/* One line of text (its end cut off at CR or LF) from the start of *p, which moves past it. */
static char *next_line(char **p)
{
	char *line = *p;
	size_t len = strcspn(line, "\r\n");

	*p = line + len;
	*p += strspn(*p, "\r\n") ? (**p == '\r' && (*p)[1] == '\n' ? 2 : 1) : 0;
	line[len] = '\0';
	return line;
}

/*
 * auth.file: the username on its first line, the password on its second, as
 * OpenVPN reads it. Without a password (no second line, or an empty one)
 * cr->password stays NULL: it is asked, as OpenVPN's get_user_pass_cr does
 * (misc.c, password_from_stdin).
 */
static int load_client_auth_file(struct credentials *cr, const char *path, char *err, size_t errlen)
{
	char text[KEY_FILE_MAX], *p = text, *user, *pass;
	size_t n;
	int rc = read_material("auth.file", path, text, sizeof(text), &n, err, errlen);

	if (rc < 0)
		return rc;
	user = next_line(&p);
	pass = next_line(&p);
	if (!user[0] || n == sizeof(text) - 1) {
		snprintf(err, errlen,
			 "auth.file: %s needs the username on its first line and the password on "
			 "its second",
			 origin(path));
		rc = -EINVAL;
	} else if (!(cr->username = strdup(user)) || (pass[0] && !(cr->password = strdup(pass)))) {
		snprintf(err, errlen, "auth.file: out of memory");
		rc = -ENOMEM;
	}
	crypto_wipe(text, sizeof(text));
	return rc;
}

static int load_client_auth(struct credentials *cr, const struct config *cfg, char *err,
			    size_t errlen)
{
	if (cfg->auth_file)
		return load_client_auth_file(cr, cfg->auth_file, err, errlen);
	if (!cfg->auth_username)
		return 0;
	cr->username = strdup(cfg->auth_username);
	cr->password = strdup(cfg->auth_password ? cfg->auth_password : "");
	if (cr->username && cr->password)
		return 0;
	snprintf(err, errlen, "auth: out of memory");
	return -ENOMEM;
}

/*
 * The password asked on the terminal at start (asked: there is one, even
 * empty), kept for the reloads that load the same key again. A reload never
 * asks (credentials_reload): while it waited, the loop and the tunnel would
 * stand still, and a Ctrl-C there would stop the client. Wiped at exit with
 * the process.
 */
static char asked_key_password[TTYASK_ANSWER_MAX];
static bool asked;

/* askpass FILE: the password on the file's first line, into out. */
static int read_key_password_file(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
	char text[KEY_FILE_MAX], *p = text;
	size_t n;
	int rc = read_material("tls.key_password.file", path, text, sizeof(text), &n, err, errlen);

	if (rc == 0 && snprintf(out, cap, "%s", next_line(&p)) >= (int)cap) {
		snprintf(err, errlen, "tls.key_password.file: %s: the password is too long",
			 origin(path));
		rc = -EINVAL;
	}
	crypto_wipe(text, sizeof(text));
	return rc;
}

/* Why the terminal could not be asked (ttyask_read's rc), in the auth prompt's words. */
static int ask_error(int rc, char *err, size_t errlen)
{
	if (rc == -EINTR) /* Ctrl-C, or SIGTERM: the signal goes on to stop moonvpn */
		snprintf(err, errlen, "tls.key_password: asking on the terminal was interrupted");
	else
		snprintf(err, errlen,
			 "tls.key_password: cannot ask on the terminal: %s (give the password, or "
			 "{ file = PATH })",
			 ttyask_strerror(rc));
	return rc;
}

/* The remembered answer into out, asking for it first unless reloading. */
static int ask_key_password(bool reloading, char *out, size_t cap, char *err, size_t errlen)
{
	int rc;

	if (!asked && reloading) {
		snprintf(err, errlen,
			 "tls.key_password: the key needs a password: it cannot be asked during a "
			 "reload (the tunnel would stand still while it waits): the running "
			 "credentials stay; restart moonvpn to be asked, or give tls.key_password "
			 "(askpass in a profile)");
		return -EAGAIN; /* not -ENOKEY: "run on a terminal" would be wrong advice */
	}
	if (!asked) {
		rc = ttyask_read("Enter Private Key Password: ", false, asked_key_password,
				 sizeof(asked_key_password));
		if (rc < 0)
			return ask_error(rc, err, errlen);
		asked = true;
	}
	snprintf(out, cap, "%s", asked_key_password);
	return 0;
}

/*
 * The key's password into out ("" and *none: none to give): the configured
 * one, its file's, or the one asked on the terminal, once, when asked for
 * (tls.key_password = true) or when the key turned out encrypted (encrypted)
 * and a person is there to ask, as OpenVPN asks at its console.
 */
static int key_password(const struct config *cfg, bool encrypted, bool reloading, char *out,
			size_t cap, bool *none, char *err, size_t errlen)
{
	*none = false;
	if (cfg->tls_key_password && snprintf(out, cap, "%s", cfg->tls_key_password) >= (int)cap) {
		snprintf(err, errlen, "tls.key_password: the password is too long");
		return -EINVAL;
	}
	if (cfg->tls_key_password)
		return 0;
	if (cfg->tls_key_password_file)
		return read_key_password_file(cfg->tls_key_password_file, out, cap, err, errlen);
	if (!cfg->tls_key_password_ask && !(encrypted && ttyask_possible())) {
		*none = true;
		return 0;
	}
	return ask_key_password(reloading, out, cap, err, errlen);
}

static void append(char *err, size_t errlen, const char *text)
{
	size_t n = strlen(err);

	if (n < errlen)
		snprintf(err + n, errlen - n, "%s", text);
}

/* The TLS context, with the key's password when one is needed (key_password). */
static int load_tls(struct credentials *out, struct tls_config *tc, const struct config *cfg,
		    bool reloading, char *err, size_t errlen)
{
	char password[TTYASK_ANSWER_MAX];
	bool none;
	int rc =
		key_password(cfg, false, reloading, password, sizeof(password), &none, err, errlen);

	tc->key_password = none ? NULL : password;
	if (rc == 0)
		rc = tls_ctx_new(&out->tls, tc, err, errlen);
	/* A client's key encrypted, and nothing said the password: a person at the terminal
	 * is asked. A server's is given (config.lua refuses true): it runs as a service. */
	if (rc == -ENOKEY && cfg->role == CONFIG_CLIENT && ttyask_possible() &&
	    (rc = key_password(cfg, true, reloading, password, sizeof(password), &none, err,
			       errlen)) == 0) {
		tc->key_password = password;
		rc = tls_ctx_new(&out->tls, tc, err, errlen);
	}
	if (rc == -ENOKEY)
		append(err, errlen,
		       cfg->role == CONFIG_CLIENT ? ": give tls.key_password (askpass in a "
						    "profile), or run moonvpn on a "
						    "terminal to be asked"
						  : ": give tls.key_password (the password or "
						    "{ file = PATH }): a server never asks");
	/* Asked again at the next start; a reload's wrong password is for another key. */
	if (rc == -EKEYREJECTED && !reloading) {
		crypto_wipe(asked_key_password, sizeof(asked_key_password));
		asked = false;
	}
	crypto_wipe(password, sizeof(password));
	return rc;
}

static int load(struct credentials *out, const struct crypto *c, const struct config *cfg,
		bool reloading, char *err, size_t errlen)
{
	uint8_t fingerprint[TLS_FINGERPRINT_LEN];
	struct tls_config tc = {
		.role = cfg->role == CONFIG_CLIENT ? TLS_CLIENT : TLS_SERVER,
		.ca = cfg->tls_ca,
		.cert = cfg->tls_cert,
		.key = cfg->tls_key,
		.crl = cfg->tls_crl,
		.peer_cert = cfg->client_cert,
		.server_name = cfg->tls_server_name[0] ? cfg->tls_server_name : NULL,
		.pkcs12 = cfg->tls_pkcs12,
	};
	int rc;

	memset(out, 0, sizeof(*out));
	if (cfg->tls_server_fingerprint[0]) {
		if (parse_fingerprint(cfg->tls_server_fingerprint, fingerprint, err, errlen) < 0)
			return -EINVAL;
		tc.server_fingerprint = fingerprint;
	}
	rc = load_tls(out, &tc, cfg, reloading, err, errlen);
	if (rc == 0)
		rc = load_wrap(&out->wrap, c, cfg, err, errlen);
	if (rc == 0 && cfg->tls_crypt_v2_key)
		rc = cfg->role == CONFIG_CLIENT
			     ? load_client_key(out, c, cfg->tls_crypt_v2_key, err, errlen)
			     : load_tls_crypt_v2(out, cfg, err, errlen);
	if (rc == 0 && cfg->token && cfg->token_secret)
		rc = load_token_key(out, cfg->token_secret, err, errlen);
	if (rc == 0 && cfg->role == CONFIG_CLIENT)
		rc = load_client_auth(out, cfg, err, errlen);
	if (rc < 0)
		credentials_clear(out);
	return rc;
}

int credentials_load(struct credentials *out, const struct crypto *c, const struct config *cfg,
		     char *err, size_t errlen)
{
	return load(out, c, cfg, false, err, errlen);
}

int credentials_reload(struct credentials *out, const struct crypto *c, const struct config *cfg,
		       char *err, size_t errlen)
{
	return load(out, c, cfg, true, err, errlen);
}

void credentials_clear(struct credentials *cr)
{
	tls_ctx_free(cr->tls);
	cr->tls = NULL;
	if (cr->tls_crypt_v2)
		tlscryptv2_server_clear(cr->tls_crypt_v2);
	free(cr->tls_crypt_v2);
	cr->tls_crypt_v2 = NULL;
	wrap_clear(&cr->wrap);
	crypto_wipe(&cr->token_key, sizeof(cr->token_key));
	cr->has_token_key = false;
	free(cr->username);
	if (cr->password)
		crypto_wipe(cr->password, strlen(cr->password));
	free(cr->password);
	cr->username = cr->password = NULL;
}
