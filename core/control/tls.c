// SPDX-License-Identifier: MIT
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "osslmem.h"
#include "slab.h"
#include "tls.h"
#include "tlsrec.h"

enum {
	PROBLEM_MAX = TLS_ERR_MAX - 16, /* room for "client " or "server " before a problem */
	/* A parked session's ciphertext either way: control messages are small, and
	 * the reliability layer's window bounds what the peer can have in flight. */
	PARKED_BUFFER_MAX = 4 * (TLSREC_PLAIN_MAX + TLSREC_OVERHEAD),
};

struct tls_ctx {
	SSL_CTX *ssl_ctx;
	enum tls_role role;
	unsigned refs; /* the owner's, one per session that may start key states, one per
			  TLS session */
	/* A client's pins on the server's certificate (empty / false: none). */
	char server_name[TLS_CN_MAX];
	uint8_t server_fingerprint[TLS_FINGERPRINT_LEN];
	bool pin_fingerprint;
};

/*
 * What a parked session (tls_session_park) has instead of its SSL: the
 * record keys, the ciphertext in each direction while it waits, the rest
 * of a record longer than the reader's buffer, and the peer's certificate
 * chain as DER for tls_session_reverify.
 */
struct parked {
	struct tlsrec rec;
	uint8_t *in, *out, *plain;
	size_t in_len, out_len, plain_len, plain_off;
	uint8_t *chain; /* DER certificates, the leaf first */
	size_t chain_len;
	const char *version, *cipher; /* OpenSSL's static names */
};

/*
 * Until parked: the TLS 1.3 application traffic secrets (from the key log
 * callback) and the records each direction sent under them (from the
 * message callback), which is where tlsrec takes over.
 */
struct app_keys {
	uint8_t client[TLSREC_SECRET_MAX], server[TLSREC_SECRET_MAX];
	size_t client_len, server_len;
	bool tx_on, rx_on; /* our Finished sent, the peer's received: records count */
	uint64_t tx_records, rx_records;
	bool key_update; /* the keys changed since: not parkable */
};

struct tls_session {
	struct tls_ctx *ctx; /* a reference: verify_cb reads its pins */
	SSL *ssl;	     /* NULL once parked */
	BIO *in;	     /* ciphertext from the peer, read by OpenSSL */
	BIO *out;	     /* ciphertext for the peer, written by OpenSSL */
	struct app_keys *keys;
	struct parked *parked;
	unsigned dropped; /* records a parked session read and dropped */
	enum tls_role role;
	char *peer_cn;	    /* as long as it is (NULL: not seen) */
	char *peer_subject; /* as long as it is (NULL: not seen) */
	char peer_serial[TLS_SERIAL_MAX];
	uint8_t peer_fingerprint[TLS_FINGERPRINT_LEN];
	bool has_fingerprint;
	bool problem;	   /* error says why verify_cb refused a certificate that verified */
	bool cert_refused; /* the handshake failed on the peer's certificate */
	char *error;	   /* TLS_ERR_MAX bytes from the first failure on (NULL: none) */
	bool error_lost;   /* a failure came, but no memory to keep its reason */
};

/* Writes what and the first queued OpenSSL reason into err, emptying the queue. */
static void openssl_error(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	snprintf(err, errlen, "%s%s%s", what, reason ? ": " : "", reason ? reason : "");
	ERR_clear_error();
}

/* Where a field's PEM came from, for messages: its path, or "the inline text". */
static const char *origin(const char *value)
{
	return tls_is_inline(value) ? "the inline text" : value;
}

/* "tls: cannot load the CA certificate from PATH: reason", emptying OpenSSL's queue. */
static int file_error(char *err, size_t errlen, const char *what, const char *path)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	snprintf(err, errlen, "tls: cannot load %s from %s%s%s", what, origin(path),
		 reason ? ": " : "", reason ? reason : "");
	ERR_clear_error();
	return -EINVAL;
}

/* A read-only BIO over inline PEM text: OpenSSL reads it where it lies. */
static BIO *text_bio(const char *text)
{
	return BIO_new_mem_buf(text, -1);
}

/*
 * Inline CA certificates, or CRLs, into the store: how many of that kind
 * were added (other blocks in the text are left alone).
 */
static int add_inline_pem(X509_STORE *store, const char *text, bool crls)
{
	BIO *bio = text_bio(text);
	STACK_OF(X509_INFO) *infos = bio ? PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL) : NULL;
	int n = 0;

	for (int i = 0; infos && i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *info = sk_X509_INFO_value(infos, i);

		if (crls ? info->crl && X509_STORE_add_crl(store, info->crl) == 1
			 : info->x509 && X509_STORE_add_cert(store, info->x509) == 1)
			n++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(bio);
	ERR_clear_error();
	return n;
}

static int load_ca(SSL_CTX *ctx, const struct tls_config *cfg, char *err, size_t errlen)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	X509_LOOKUP *lookup;

	/* Without ca, a PKCS#12 bundle's CA certificates are the trusted ones (load_pkcs12);
	 * its crl applies to them all the same. */
	if ((cfg->ca || !cfg->pkcs12) &&
	    (tls_is_inline(cfg->ca) ? add_inline_pem(store, cfg->ca, false) < 1
				    : SSL_CTX_load_verify_file(ctx, cfg->ca) != 1))
		return file_error(err, errlen, "the CA certificate", cfg->ca);
	if (!cfg->crl)
		return 0;
	if (tls_is_inline(cfg->crl)) {
		if (add_inline_pem(store, cfg->crl, true) < 1)
			return file_error(err, errlen, "the CRL", cfg->crl);
	} else {
		lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
		if (!lookup || X509_load_crl_file(lookup, cfg->crl, X509_FILETYPE_PEM) < 1)
			return file_error(err, errlen, "the CRL", cfg->crl);
	}
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	return 0;
}

/* An inline certificate and the chain after it, as SSL_CTX_use_certificate_chain_file. */
static int use_inline_chain(SSL_CTX *ctx, const char *text)
{
	BIO *bio = text_bio(text);
	X509 *leaf = bio ? PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL) : NULL, *x;
	int ok = leaf && SSL_CTX_use_certificate(ctx, leaf) == 1;

	X509_free(leaf);
	while (ok && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			ok = 0;
		}
	BIO_free(bio);
	if (ok)
		ERR_clear_error();
	return ok;
}

/* What the passphrase callback knows: the configured password, and whether it was asked. */
struct passphrase {
	const char *password; /* NULL: none given */
	bool asked;	      /* the key is encrypted */
};

/*
 * The passphrase of an encrypted key: the configured one, or none. OpenSSL's
 * default callback would ask on the terminal and block the engine there,
 * during a reload too (credentials.c asks at start instead). Notes in
 * the passphrase (if given) that the key is encrypted.
 */
static int give_passphrase(char *buf, int size, int rwflag, void *data)
{
	struct passphrase *p = data;
	size_t n;

	(void)rwflag;
	if (!p)
		return -1;
	p->asked = true;
	if (!p->password || (n = strlen(p->password)) > (size_t)size)
		return -1;
	memcpy(buf, p->password, n);
	return (int)n;
}

static int encrypted_key(char *err, size_t errlen, const char *value, const char *password)
{
	if (password)
		snprintf(err, errlen, "tls: the password for the private key in %s is wrong",
			 origin(value));
	else
		snprintf(err, errlen,
			 "tls: the private key in %s is encrypted and no password was given",
			 origin(value));
	ERR_clear_error();
	return password ? -EKEYREJECTED : -ENOKEY;
}

static int use_inline_key(SSL_CTX *ctx, const char *text, struct passphrase *pass)
{
	BIO *bio = text_bio(text);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, give_passphrase, pass) : NULL;
	int ok = key && SSL_CTX_use_PrivateKey(ctx, key) == 1;

	EVP_PKEY_free(key);
	BIO_free(bio);
	return ok;
}

/* A PKCS#12 bundle's DER: from its file, or decoded from inline base64. */
static PKCS12 *read_pkcs12(const char *value)
{
	BIO *bio, *b64 = NULL;
	PKCS12 *p12;

	if (!tls_is_inline(value))
		bio = BIO_new_file(value, "rb");
	else if ((bio = text_bio(value)) && (b64 = BIO_new(BIO_f_base64())))
		bio = BIO_push(b64, bio);
	p12 = bio ? d2i_PKCS12_bio(bio, NULL) : NULL;
	BIO_free_all(bio);
	return p12;
}

/*
 * The bundle's CA certificates. With a ca of the profile's own, they are only
 * the chain we send (intermediates our certificate may need), never trusted:
 * an enterprise export often carries the organisation's general root, which
 * would accept any server under it over the VPN's dedicated CA. Without one
 * they are the trust anchors, and a bundle with none would trust nobody.
 * OpenVPN's tls_ctx_load_pkcs12 (ssl_openssl.c) does the same.
 */
static int use_bundle_cas(SSL_CTX *ctx, STACK_OF(X509) * cas, bool has_ca, const char *value,
			  char *err, size_t errlen)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	int n = cas ? sk_X509_num(cas) : 0;

	if (!has_ca && n == 0) {
		snprintf(err, errlen,
			 "tls: the PKCS#12 bundle %s carries no CA certificate, so no server "
			 "could be verified: give ca (the CA that signs the server's certificate)",
			 origin(value));
		return -EINVAL;
	}
	for (int i = 0; i < n; i++)
		if ((has_ca ? SSL_CTX_add1_chain_cert(ctx, sk_X509_value(cas, i))
			    : X509_STORE_add_cert(store, sk_X509_value(cas, i))) != 1) {
			openssl_error(err, errlen,
				      "tls: cannot use the PKCS#12 bundle's CA certificates");
			return -EINVAL;
		}
	return 0;
}

/*
 * OpenVPN's pkcs12 (ssl_openssl.c, tls_ctx_load_pkcs12): the bundle's
 * certificate and key are ours, its other certificates as use_bundle_cas
 * says. Its password is cfg's key_password; a bundle without one has the
 * empty one or none.
 */
/*
 * Whether the bundle's MAC checks with password (NULL: the empty one or none,
 * as a bundle without a password has either), so that a wrong password is
 * told from a bundle that lacks a certificate or key. A bundle without a MAC
 * (openssl pkcs12 -export -nomac) has nothing to check: PKCS12_parse loads it
 * as it is, and so does OpenVPN (ssl_openssl.c, tls_ctx_load_pkcs12).
 */
static bool pkcs12_password_ok(PKCS12 *p12, const char *password)
{
	if (!PKCS12_mac_present(p12))
		return true;
	if (password)
		return PKCS12_verify_mac(p12, password, -1) == 1;
	return PKCS12_verify_mac(p12, "", 0) == 1 || PKCS12_verify_mac(p12, NULL, 0) == 1;
}

static int pkcs12_password_error(const char *value, const char *password, char *err, size_t errlen)
{
	if (password)
		snprintf(err, errlen, "tls: the password for the PKCS#12 bundle %s is wrong",
			 origin(value));
	else
		snprintf(err, errlen,
			 "tls: the PKCS#12 bundle %s needs a password, and none was given",
			 origin(value));
	ERR_clear_error();
	return password ? -EKEYREJECTED : -ENOKEY;
}

static int load_pkcs12(SSL_CTX *ctx, const char *value, bool has_ca, const char *password,
		       char *err, size_t errlen)
{
	PKCS12 *p12 = read_pkcs12(value);
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *cas = NULL;
	int rc = -EINVAL;
	bool parsed;

	if (!p12)
		return file_error(err, errlen, "the PKCS#12 bundle", value);
	if (!pkcs12_password_ok(p12, password)) {
		PKCS12_free(p12);
		return pkcs12_password_error(value, password, err, errlen);
	}
	parsed = password ? PKCS12_parse(p12, password, &key, &cert, &cas) == 1
			  : PKCS12_parse(p12, "", &key, &cert, &cas) == 1 ||
				    PKCS12_parse(p12, NULL, &key, &cert, &cas) == 1;
	PKCS12_free(p12);
	if (!parsed || !cert || !key)
		snprintf(err, errlen,
			 "tls: cannot read the PKCS#12 bundle %s: it lacks a certificate and key "
			 "(openssl pkcs12 -in FILE.p12 -nodes -out client.pem shows what it holds)",
			 origin(value));
	else if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
		 SSL_CTX_check_private_key(ctx) != 1)
		openssl_error(err, errlen, "tls: cannot use the PKCS#12 bundle's key");
	else
		rc = use_bundle_cas(ctx, cas, has_ca, value, err, errlen);
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(cas, X509_free);
	return rc;
}

static int load_identity(SSL_CTX *ctx, const struct tls_config *cfg, char *err, size_t errlen)
{
	struct passphrase pass = { cfg->key_password, false };
	int ok;

	ok = tls_is_inline(cfg->cert) ? use_inline_chain(ctx, cfg->cert)
				      : SSL_CTX_use_certificate_chain_file(ctx, cfg->cert);
	if (ok != 1)
		return file_error(err, errlen, "the certificate", cfg->cert);
	/* OpenSSL already compares the key with the certificate while loading it. */
	SSL_CTX_set_default_passwd_cb_userdata(ctx, &pass);
	ok = tls_is_inline(cfg->key) ? use_inline_key(ctx, cfg->key, &pass)
				     : SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
	if (ok != 1 && pass.asked)
		return encrypted_key(err, errlen, cfg->key, cfg->key_password);
	if (ok != 1 && ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH)
		return file_error(err, errlen, "the private key", cfg->key);
	if (ERR_peek_last_error() || SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "tls: the key in %s does not belong to the certificate in %s",
			 origin(cfg->key), origin(cfg->cert));
		ERR_clear_error();
		return -EINVAL;
	}
	return 0;
}

/* No control bytes from a certificate into logs or hooks. */
static void sanitize(char *text)
{
	for (char *c = text; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

/* The subject as RFC 2253 text and the serial number in hex, for hooks. */
static void remember_identity(struct tls_session *s, X509 *cert)
{
	BIO *mem = BIO_new(BIO_s_mem());
	BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = serial ? BN_bn2hex(serial) : NULL;
	char subject[TLS_SUBJECT_MAX];
	int n = 0;

	if (mem && X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(mem, subject, sizeof(subject) - 1);
	subject[n > 0 ? n : 0] = '\0';
	sanitize(subject);
	free(s->peer_subject);
	s->peer_subject = strdup(subject);
	snprintf(s->peer_serial, sizeof(s->peer_serial), "%s", hex ? hex : "");
	OPENSSL_free(hex);
	BN_free(serial);
	BIO_free(mem);
}

static bool has_control_byte(const unsigned char *text, int n)
{
	for (int i = 0; i < n; i++)
		if (text[i] < 0x20 || text[i] == 0x7f)
			return true;
	return false;
}

/*
 * The certificate's one common name as UTF-8 text into out; NULL, or why
 * the name is refused: a second CN, a NUL or control character inside, or
 * a name cut to fit out would let a name that `cn` rules, pins and logs
 * read one way be another (OpenVPN takes the last CN, we took the first).
 * Out gets a printable form even when refused.
 */
static const char *read_cn(X509 *cert, char *out, size_t len)
{
	const X509_NAME *name = X509_get_subject_name(cert);
	int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	const char *problem = NULL;
	int n;

	out[0] = '\0';
	if (at < 0)
		return NULL;
	if (X509_NAME_get_index_by_NID(name, NID_commonName, at) >= 0)
		problem = "certificate has more than one common name";
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at)));
	if (n < 0)
		return "certificate common name is not valid text";
	if (memchr(utf8, '\0', (size_t)n))
		problem = "certificate common name contains a NUL byte";
	else if (has_control_byte(utf8, n))
		problem = "certificate common name contains a control character";
	else if ((size_t)n >= len)
		problem = "certificate common name is too long";
	for (int i = 0; i < n; i++)
		if (utf8[i] == '\0')
			utf8[i] = '?';
	snprintf(out, len, "%.*s", n, (const char *)utf8);
	/* The CN goes into log lines even for a refused certificate. */
	sanitize(out);
	OPENSSL_free(utf8);
	return problem;
}

/*
 * A client requires serverAuth explicitly: X509_PURPOSE_SSL_SERVER lets a
 * certificate without extendedKeyUsage through, and in a PKI whose client
 * certificates carry none any client could pose as the server (OpenVPN's
 * remote-cert-tls server requires it too).
 */
static bool has_server_auth(X509 *cert)
{
	return (X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) &&
	       (X509_get_extended_key_usage(cert) & XKU_SSL_SERVER);
}

/* tls.server_name names the certificate's common name or one of its DNS names exactly. */
static bool name_matches(const struct tls_session *s, X509 *cert)
{
	const char *name = s->ctx->server_name;

	return (s->peer_cn && strcmp(s->peer_cn, name) == 0) ||
	       X509_check_host(cert, name, strlen(name),
			       X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_WILDCARDS,
			       NULL) == 1;
}

/*
 * Where why the session failed is written (TLS_ERR_MAX bytes), made at its
 * first failure: a session that works, as every connected client's does,
 * keeps none.
 */
static char *error_room(struct tls_session *s)
{
	static char no_memory[TLS_ERR_MAX];

	if (!s->error && !(s->error = calloc(1, TLS_ERR_MAX))) {
		s->error_lost = true; /* tls_session_error says so, not "no error" */
		return no_memory;     /* a scratch: what is written there is lost */
	}
	return s->error;
}

/* Writes what is wrong with the peer's certificate beyond its chain into s->error. */
static bool leaf_problem(struct tls_session *s, X509 *cert)
{
	char cn[TLS_CN_MAX];
	const char *problem = read_cn(cert, cn, sizeof(cn));
	const struct tls_ctx *ctx = s->ctx;

	free(s->peer_cn);
	if (!(s->peer_cn = strdup(cn)))
		problem = "out of memory";

	if (!problem && s->role == TLS_CLIENT && !has_server_auth(cert))
		problem = "certificate lacks the serverAuth extended key usage";
	s->problem = true;
	if (problem) {
		snprintf(error_room(s), PROBLEM_MAX, "%s", problem);
	} else if (s->role == TLS_CLIENT && ctx->server_name[0] && !name_matches(s, cert)) {
		snprintf(error_room(s), PROBLEM_MAX,
			 "certificate name \"%.64s\" does not match tls.server_name \"%.64s\"",
			 s->peer_cn, ctx->server_name);
	} else if (s->role == TLS_CLIENT && ctx->pin_fingerprint &&
		   (!s->has_fingerprint ||
		    CRYPTO_memcmp(s->peer_fingerprint, ctx->server_fingerprint,
				  TLS_FINGERPRINT_LEN) != 0)) {
		snprintf(error_room(s), PROBLEM_MAX,
			 "certificate does not have the SHA-256 fingerprint of "
			 "tls.server_fingerprint");
	} else {
		s->problem = false;
	}
	return s->problem;
}

/*
 * Remembers the peer's identity (depth 0) even when verification fails,
 * and refuses a certificate whose chain verified but whose names do not
 * pass leaf_problem.
 */
static int verify_cb(int preverify_ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_session *s = ssl ? SSL_get_app_data(ssl) : NULL;
	X509 *cert = X509_STORE_CTX_get_current_cert(store);
	unsigned len = 0;

	if (!s || !cert || X509_STORE_CTX_get_error_depth(store) != 0)
		return preverify_ok;
	s->has_fingerprint = X509_digest(cert, EVP_sha256(), s->peer_fingerprint, &len) == 1 &&
			     len == TLS_FINGERPRINT_LEN;
	remember_identity(s, cert);
	if (!leaf_problem(s, cert) || !preverify_ok)
		return preverify_ok;
	X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

/* Hex digits into out (at most cap bytes); the byte count, 0 when not hex. */
static size_t unhex(const char *hex, size_t n, uint8_t *out, size_t cap)
{
	size_t len = n / 2;

	if (n % 2 || len > cap)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return 0;
		out[i] = (uint8_t)v;
	}
	return len;
}

/*
 * OpenSSL's key log ("LABEL <client random> <secret>", as SSLKEYLOGFILE):
 * the only way OpenSSL 3.0 tells the TLS 1.3 application traffic secrets,
 * kept until the session is parked and wiped then.
 */
static void keylog_cb(const SSL *ssl, const char *line)
{
	struct tls_session *s = SSL_get_app_data(ssl);
	const char *secret = strrchr(line, ' ');
	struct app_keys *k = s ? s->keys : NULL;

	if (!k || !secret)
		return;
	secret++;
	if (strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0)
		k->client_len = unhex(secret, strlen(secret), k->client, sizeof(k->client));
	else if (strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0)
		k->server_len = unhex(secret, strlen(secret), k->server, sizeof(k->server));
}

enum {
	HS_FINISHED = 20,
	HS_KEY_UPDATE = 24,
};

/*
 * Counts the records each direction carried under the application keys:
 * those after its Finished (OpenSSL reports a record's header before the
 * messages inside it). A KeyUpdate changes the keys: such a session stays
 * with OpenSSL.
 */
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
		   SSL *ssl, void *arg)
{
	struct tls_session *s = SSL_get_app_data(ssl);
	struct app_keys *k = s ? s->keys : NULL;
	const uint8_t *b = buf;

	(void)version;
	(void)arg;
	if (!k)
		return;
	if (content_type == SSL3_RT_HEADER) {
		if (write_p && k->tx_on)
			k->tx_records++;
		else if (!write_p && k->rx_on)
			k->rx_records++;
	} else if (content_type == SSL3_RT_HANDSHAKE && len > 0) {
		if (b[0] == HS_FINISHED && write_p)
			k->tx_on = true;
		else if (b[0] == HS_FINISHED)
			k->rx_on = true;
		else if (b[0] == HS_KEY_UPDATE)
			k->key_update = true;
	}
}

/*
 * TLS 1.2 suites: ECDHE key exchange (forward secrecy) with an AEAD cipher
 * only; every TLS 1.3 suite already is. Stock OpenVPN 2.6 offers these.
 */
static const char TLS12_CIPHERS[] = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!PSK";

static void configure(SSL_CTX *ctx, enum tls_role role, enum tls_peer_cert peer_cert)
{
	static const int modes[] = {
		[TLS_PEER_CERT_REQUIRED] = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
		[TLS_PEER_CERT_OPTIONAL] = SSL_VERIFY_PEER,
		[TLS_PEER_CERT_NONE] = SSL_VERIFY_NONE,
	};

	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* The peer presents a certificate for our role's counterpart (a client may be let off). */
	SSL_CTX_set_verify(ctx,
			   role == TLS_CLIENT ? modes[TLS_PEER_CERT_REQUIRED] : modes[peer_cert],
			   verify_cb);
	SSL_CTX_set_purpose(ctx,
			    role == TLS_SERVER ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER);
	/*
	 * Each key state is a fresh handshake that verifies the peer's certificate
	 * again: no resumption, neither by ticket nor by session id (a resumed
	 * session would skip the CRL a reload brought).
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	/* OpenSSL keeps received plaintext (a client's password) in its record buffer
	 * until the next record overwrites it; cleansed once read instead. */
	SSL_CTX_set_options(ctx, SSL_OP_CLEANSE_PLAINTEXT);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* An established session is mostly idle: its record buffers (some 34 KB) are
	 * allocated for a record and freed after it instead of kept for ever. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_keylog_callback(ctx, keylog_cb);
	/* Certificate and key files never make OpenSSL ask on the terminal. */
	SSL_CTX_set_default_passwd_cb(ctx, give_passphrase);
}

static int ctx_new(struct tls_ctx **out, const struct tls_config *cfg, char *err, size_t errlen)
{
	struct tls_ctx *c = calloc(1, sizeof(*c));
	int rc = -ENOMEM;

	if (!c)
		goto fail;
	c->role = cfg->role;
	c->refs = 1;
	if (cfg->server_name)
		snprintf(c->server_name, sizeof(c->server_name), "%s", cfg->server_name);
	if (cfg->server_fingerprint) {
		memcpy(c->server_fingerprint, cfg->server_fingerprint, TLS_FINGERPRINT_LEN);
		c->pin_fingerprint = true;
	}
	c->ssl_ctx =
		SSL_CTX_new(cfg->role == TLS_SERVER ? TLS_server_method() : TLS_client_method());
	if (!c->ssl_ctx)
		goto fail;
	configure(c->ssl_ctx, cfg->role, cfg->peer_cert);
	if (SSL_CTX_set_cipher_list(c->ssl_ctx, TLS12_CIPHERS) != 1) {
		openssl_error(err, errlen, "tls: cannot restrict the TLS 1.2 cipher suites");
		rc = -EINVAL;
		goto fail;
	}
	/* A client may go without a certificate of its own (a server with auth.certificate). */
	if ((rc = load_ca(c->ssl_ctx, cfg, err, errlen)) < 0 ||
	    (cfg->pkcs12 && (rc = load_pkcs12(c->ssl_ctx, cfg->pkcs12, cfg->ca != NULL,
					      cfg->key_password, err, errlen)) < 0) ||
	    (!cfg->pkcs12 && (cfg->cert || cfg->role == TLS_SERVER) &&
	     (rc = load_identity(c->ssl_ctx, cfg, err, errlen)) < 0))
		goto fail;
	*out = c;
	return 0;
fail:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "tls: out of memory");
	tls_ctx_free(c);
	return rc;
}

int tls_ctx_new(struct tls_ctx **out, const struct tls_config *cfg, char *err, size_t errlen)
{
	int rc;

	osslmem_keep_begin(); /* it lives until a reload replaces it: not with handshakes */
	rc = ctx_new(out, cfg, err, errlen);
	osslmem_keep_end();
	return rc;
}

struct tls_ctx *tls_ctx_ref(struct tls_ctx *ctx)
{
	ctx->refs++;
	return ctx;
}

void tls_ctx_free(struct tls_ctx *ctx)
{
	if (!ctx || --ctx->refs > 0)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
}

/* A memory BIO that reads "wait for more", not end of file, when empty. */
static BIO *new_mem_bio(void)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (b)
		BIO_set_mem_eof_return(b, -1);
	return b;
}

struct tls_session *tls_session_new(struct tls_ctx *ctx)
{
	struct tls_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->role = ctx->role;
	s->ctx = tls_ctx_ref(ctx);
	s->ssl = SSL_new(ctx->ssl_ctx);
	s->in = new_mem_bio();
	s->out = new_mem_bio();
	s->keys = slab_zalloc(sizeof(*s->keys)); /* until the session is parked */
	if (!s->ssl || !s->in || !s->out || !s->keys) {
		BIO_free(s->in);
		BIO_free(s->out);
		SSL_free(s->ssl);
		tls_ctx_free(s->ctx);
		slab_release(s->keys);
		free(s);
		return NULL;
	}
	SSL_set_msg_callback(s->ssl, msg_cb);
	SSL_set_bio(s->ssl, s->in, s->out); /* the SSL owns both BIOs now */
	SSL_set_app_data(s->ssl, s);
	if (ctx->role == TLS_SERVER)
		SSL_set_accept_state(s->ssl);
	else
		SSL_set_connect_state(s->ssl);
	return s;
}

static void parked_free(struct parked *p)
{
	if (!p)
		return;
	tlsrec_wipe(&p->rec);
	if (p->plain)
		crypto_wipe(p->plain, p->plain_len);
	free(p->in);
	free(p->out);
	free(p->plain);
	free(p->chain);
	free(p);
}

static void keys_free(struct app_keys *k)
{
	if (!k)
		return;
	crypto_wipe(k, sizeof(*k));
	slab_release(k);
}

void tls_session_free(struct tls_session *s)
{
	if (!s)
		return;
	SSL_free(s->ssl);
	keys_free(s->keys);
	parked_free(s->parked);
	tls_ctx_free(s->ctx);
	free(s->peer_subject);
	free(s->peer_cn);
	free(s->error);
	free(s);
}

/* The bytes a memory BIO has room for (it only grows while it lives). */
static size_t capacity(BIO *b)
{
	BUF_MEM *m = NULL;

	BIO_get_mem_ptr(b, &m);
	return m ? m->max : 0;
}

size_t tls_session_buffered(const struct tls_session *s)
{
	const struct parked *p = s->parked;

	if (p)
		return p->in_len + p->out_len + p->plain_len;
	return capacity(s->in) + capacity(s->out);
}

void tls_session_trim(struct tls_session *s)
{
	BIO *in, *out;

	if (s->parked || BIO_ctrl_pending(s->in) || BIO_ctrl_pending(s->out) ||
	    tls_session_buffered(s) == 0 || !(in = new_mem_bio()))
		return;
	if (!(out = new_mem_bio())) {
		BIO_free(in);
		return;
	}
	SSL_set_bio(s->ssl, in, out); /* frees the old pair */
	s->in = in;
	s->out = out;
}

/* Appends len bytes to a parked buffer; false when out of memory or over its bound. */
static bool append(uint8_t **buf, size_t *buf_len, const uint8_t *data, size_t len)
{
	uint8_t *grown;

	if (*buf_len + len > PARKED_BUFFER_MAX || !(grown = realloc(*buf, *buf_len + len)))
		return false;
	memcpy(grown + *buf_len, data, len);
	*buf = grown;
	*buf_len += len;
	return true;
}

/* Takes n bytes off the front of a parked buffer, freeing it once empty. */
static void consume(uint8_t **buf, size_t *buf_len, size_t n)
{
	*buf_len -= n;
	if (*buf_len) {
		memmove(*buf, *buf + n, *buf_len);
		return;
	}
	free(*buf);
	*buf = NULL;
}

int tls_session_put_ciphertext(struct tls_session *s, const uint8_t *data, size_t len)
{
	if (s->parked)
		return append(&s->parked->in, &s->parked->in_len, data, len) ? 0 : -1;
	if (len > INT32_MAX || BIO_write(s->in, data, (int)len) != (int)len)
		return -1;
	return 0;
}

size_t tls_session_pending_ciphertext(struct tls_session *s)
{
	return s->parked ? s->parked->out_len : BIO_ctrl_pending(s->out);
}

size_t tls_session_get_ciphertext(struct tls_session *s, uint8_t *out, size_t cap)
{
	struct parked *p = s->parked;
	int n;

	if (p) {
		size_t k = p->out_len < cap ? p->out_len : cap;

		if (k) {
			memcpy(out, p->out, k);
			consume(&p->out, &p->out_len, k);
		}
		return k;
	}
	n = BIO_read(s->out, out, cap > INT32_MAX ? INT32_MAX : (int)cap);
	return n > 0 ? (size_t)n : 0;
}

/* The reason a peer certificate was refused, in the words an operator needs. */
static const char *verify_reason(long result)
{
	switch (result) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return "certificate signed by an unknown CA";
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "certificate expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "certificate not yet valid";
	case X509_V_ERR_CERT_REVOKED:
		return "certificate revoked";
	case X509_V_ERR_INVALID_PURPOSE:
		return "certificate has the wrong key usage";
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		return "no CRL from the certificate's CA";
	case X509_V_ERR_CRL_HAS_EXPIRED:
		return "the CRL has expired";
	}
	return NULL;
}

static void record_failure(struct tls_session *s)
{
	long result = SSL_get_verify_result(s->ssl);
	const char *reason = verify_reason(result);
	const char *peer = s->role == TLS_SERVER ? "client" : "server";

	s->cert_refused = result != X509_V_OK;
	if (result == X509_V_ERR_APPLICATION_VERIFICATION && s->problem) {
		char problem[TLS_ERR_MAX];

		memcpy(problem, error_room(s), sizeof(problem)); /* verify_cb wrote it there */
		snprintf(error_room(s), TLS_ERR_MAX, "%s %.*s", peer, PROBLEM_MAX - 1, problem);
	} else if (reason) {
		snprintf(error_room(s), TLS_ERR_MAX, "%s %s", peer, reason);
	} else if (result != X509_V_OK) {
		snprintf(error_room(s), TLS_ERR_MAX, "%s certificate refused: %s", peer,
			 X509_verify_cert_error_string(result));
	} else {
		unsigned long e = ERR_peek_last_error();
		int r = e ? ERR_GET_REASON(e) : 0;

		s->cert_refused = r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE;
		if (r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
			snprintf(error_room(s), TLS_ERR_MAX, "%s sent no certificate", peer);
		else
			openssl_error(error_room(s), TLS_ERR_MAX, "TLS handshake failed");
	}
	ERR_clear_error();
}

int tls_session_handshake(struct tls_session *s)
{
	int rc;

	if (s->parked || SSL_is_init_finished(s->ssl))
		return 1;
	rc = SSL_do_handshake(s->ssl);
	if (rc == 1)
		return 1;
	switch (SSL_get_error(s->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	}
	record_failure(s);
	return -1;
}

bool tls_session_cert_refused(const struct tls_session *s)
{
	return s->cert_refused;
}

/* why: "client certificate revoked" and the like, as a refused handshake says it. */
static void reverify_failure(const struct tls_session *s, long result, char *why, size_t len)
{
	const char *reason = verify_reason(result);
	const char *peer = s->role == TLS_SERVER ? "client" : "server";

	if (reason)
		snprintf(why, len, "%s %s", peer, reason);
	else
		snprintf(why, len, "%s certificate refused: %s", peer,
			 X509_verify_cert_error_string(result));
}

/* A parked session's certificates, parsed again: the leaf (NULL: none) and the rest. */
static X509 *parse_chain(const struct parked *p, STACK_OF(X509) * *chain)
{
	const unsigned char *at = p->chain, *end = p->chain + p->chain_len;
	X509 *leaf = NULL;

	*chain = sk_X509_new_null();
	while (*chain && at < end) {
		X509 *x = d2i_X509(NULL, &at, end - at);

		if (!x)
			break;
		if (!leaf)
			leaf = x;
		else if (!sk_X509_push(*chain, x))
			X509_free(x);
	}
	return leaf;
}

int tls_session_reverify(const struct tls_session *s, struct tls_ctx *ctx, char *why, size_t len)
{
	STACK_OF(X509) *parsed = NULL;
	X509 *leaf =
		s->parked ? parse_chain(s->parked, &parsed) : SSL_get0_peer_certificate(s->ssl);
	X509_STORE_CTX *v;
	long result;

	if (!leaf) {
		sk_X509_pop_free(parsed, X509_free);
		return 0; /* a client let in without a certificate has none to revoke */
	}
	v = X509_STORE_CTX_new();
	if (!v || X509_STORE_CTX_init(v, SSL_CTX_get_cert_store(ctx->ssl_ctx), leaf,
				      s->parked ? parsed : SSL_get_peer_cert_chain(s->ssl)) != 1) {
		X509_STORE_CTX_free(v);
		if (s->parked) {
			X509_free(leaf);
			sk_X509_pop_free(parsed, X509_free);
		}
		snprintf(why, len, "out of memory verifying the peer certificate again");
		ERR_clear_error();
		return -1;
	}
	/* The purpose and flags the handshake used, as OpenSSL's own verification sets them. */
	X509_STORE_CTX_set_default(v, s->role == TLS_SERVER ? "ssl_client" : "ssl_server");
	X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(v), SSL_CTX_get0_param(ctx->ssl_ctx));
	result = X509_verify_cert(v) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(v);
	X509_STORE_CTX_free(v);
	if (s->parked) {
		X509_free(leaf);
		sk_X509_pop_free(parsed, X509_free);
	}
	ERR_clear_error();
	if (result == X509_V_OK)
		return 0;
	reverify_failure(s, result, why, len);
	return -1;
}

/* Seals data into records of a parked session, appended to what waits to be sent. */
static int parked_write(struct tls_session *s, const uint8_t *data, size_t len)
{
	struct parked *p = s->parked;
	uint8_t rec[TLSREC_PLAIN_MAX + TLSREC_OVERHEAD];

	while (len > 0) {
		size_t n = len < TLSREC_PLAIN_MAX ? len : TLSREC_PLAIN_MAX;
		size_t r = tlsrec_seal(&p->rec, data, n, rec);

		if (!r || !append(&p->out, &p->out_len, rec, r)) {
			snprintf(error_room(s), TLS_ERR_MAX, "TLS write failed: %s",
				 r ? "out of memory" : "cannot seal a record");
			return -1;
		}
		data += n;
		len -= n;
	}
	return 0;
}

int tls_session_write(struct tls_session *s, const uint8_t *data, size_t len)
{
	size_t written;

	if (s->parked)
		return parked_write(s, data, len);
	if (SSL_write_ex(s->ssl, data, len, &written) != 1 || written != len) {
		openssl_error(error_room(s), TLS_ERR_MAX, "TLS write failed");
		return -1;
	}
	return 0;
}

/* What is left of the last record's content, into out; its byte count. */
static size_t take_plain(struct parked *p, uint8_t *out, size_t cap)
{
	size_t n = p->plain_len - p->plain_off < cap ? p->plain_len - p->plain_off : cap;

	memcpy(out, p->plain + p->plain_off, n);
	p->plain_off += n;
	if (p->plain_off == p->plain_len) {
		crypto_wipe(p->plain, p->plain_len);
		free(p->plain);
		p->plain = NULL;
		p->plain_len = p->plain_off = 0;
	}
	return n;
}

/*
 * The next application data of a parked session. Alerts (close_notify)
 * and handshake messages (a late NewSessionTicket) are dropped and counted:
 * a parked session has nothing to answer them with, and OpenVPN peers end
 * a key state by dropping it, not with an alert.
 */
static ssize_t parked_read(struct tls_session *s, uint8_t *out, size_t cap)
{
	struct parked *p = s->parked;

	for (;;) {
		long len;
		size_t n;
		int type;

		if (p->plain)
			return (ssize_t)take_plain(p, out, cap);
		len = tlsrec_record_len(p->in, p->in_len);
		if (len == 0)
			return 0;
		type = len < 0 ? -1 : tlsrec_open(&p->rec, p->in, (size_t)len, &n);
		if (type < 0) {
			snprintf(error_room(s), TLS_ERR_MAX, "TLS read failed: %s",
				 len < 0 ? "not a TLS 1.3 record"
					 : "a record did not authenticate");
			return -1;
		}
		if (type == TLSREC_TYPE_APPLICATION_DATA && n > 0 &&
		    !append(&p->plain, &p->plain_len, p->in + TLSREC_HEADER_LEN, n)) {
			snprintf(error_room(s), TLS_ERR_MAX, "TLS read failed: out of memory");
			return -1;
		}
		s->dropped += type != TLSREC_TYPE_APPLICATION_DATA;
		crypto_wipe(p->in, (size_t)len);
		consume(&p->in, &p->in_len, (size_t)len);
	}
}

ssize_t tls_session_read(struct tls_session *s, uint8_t *out, size_t cap)
{
	size_t n;
	int rc;

	if (s->parked)
		return parked_read(s, out, cap);
	rc = SSL_read_ex(s->ssl, out, cap, &n);

	if (rc == 1)
		return (ssize_t)n;
	switch (SSL_get_error(s->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	}
	openssl_error(error_room(s), TLS_ERR_MAX, "TLS read failed");
	return -1;
}

int tls_session_export(struct tls_session *s, const char *label, uint8_t *out, size_t len)
{
	if (s->parked)
		return -1;
	return SSL_export_keying_material(s->ssl, out, len, label, strlen(label), NULL, 0, 0) == 1
		       ? 0
		       : -1;
}

const char *tls_session_peer_cn(const struct tls_session *s)
{
	return s->peer_cn ? s->peer_cn : "";
}

const char *tls_session_peer_subject(const struct tls_session *s)
{
	return s->peer_subject ? s->peer_subject : "";
}

const char *tls_session_peer_serial(const struct tls_session *s)
{
	return s->peer_serial;
}

const uint8_t *tls_session_peer_fingerprint(const struct tls_session *s)
{
	return s->has_fingerprint ? s->peer_fingerprint : NULL;
}

const char *tls_session_error(const struct tls_session *s)
{
	if (!s->error && s->error_lost)
		return "failed, and out of memory for the reason";
	return s->error && s->error[0] ? s->error : "no error";
}

const char *tls_session_version(const struct tls_session *s)
{
	return s->parked ? s->parked->version : SSL_get_version(s->ssl);
}

const char *tls_session_cipher(const struct tls_session *s)
{
	return s->parked ? s->parked->cipher : SSL_get_cipher_name(s->ssl);
}

unsigned tls_session_dropped(const struct tls_session *s)
{
	return s->dropped;
}

bool tls_session_parked(const struct tls_session *s)
{
	return s->parked != NULL;
}

/* The peer's certificates as DER, the leaf first (a server's chain does not hold it). */
static bool save_chain(SSL *ssl, struct parked *p)
{
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	int n = chain ? sk_X509_num(chain) : 0;
	unsigned char *at;
	size_t total = 0;

	if (!leaf)
		return true;
	for (int i = -1; i < n; i++) {
		X509 *x = i < 0 ? leaf : sk_X509_value(chain, i);
		int len = i >= 0 && X509_cmp(x, leaf) == 0 ? 0 : i2d_X509(x, NULL);

		if (len < 0)
			return false;
		total += (size_t)len;
	}
	if (!(p->chain = malloc(total)))
		return false;
	at = p->chain;
	for (int i = -1; i < n; i++) {
		X509 *x = i < 0 ? leaf : sk_X509_value(chain, i);

		if (i < 0 || X509_cmp(x, leaf) != 0)
			(void)i2d_X509(x, &at);
	}
	p->chain_len = (size_t)(at - p->chain);
	return p->chain_len == total;
}

/* Whether OpenSSL's part is over: TLS 1.3, both directions on their first application keys. */
static bool parkable(const struct tls_session *s)
{
	const struct app_keys *k = s->keys;

	return s->ssl && k && SSL_is_init_finished(s->ssl) &&
	       SSL_version(s->ssl) == TLS1_3_VERSION && !k->key_update && k->tx_on && k->rx_on &&
	       k->client_len && k->client_len == k->server_len && !BIO_ctrl_pending(s->in) &&
	       !BIO_ctrl_pending(s->out) && !SSL_has_pending(s->ssl);
}

bool tls_session_park(struct tls_session *s)
{
	const SSL_CIPHER *c = s->ssl ? SSL_get_current_cipher(s->ssl) : NULL;
	const EVP_MD *md = c ? SSL_CIPHER_get_handshake_digest(c) : NULL;
	struct app_keys *k = s->keys;
	struct parked *p;

	if (s->ssl && SSL_is_init_finished(s->ssl) && SSL_version(s->ssl) != TLS1_3_VERSION) {
		keys_free(s->keys); /* TLS 1.2 stays with OpenSSL */
		s->keys = NULL;
	}
	if (!parkable(s) || !md || !tlsrec_supported(SSL_CIPHER_get_cipher_nid(c)) ||
	    !(p = calloc(1, sizeof(*p))))
		return false;
	if (tlsrec_init(&p->rec, SSL_CIPHER_get_cipher_nid(c), EVP_MD_get0_name(md),
			s->role == TLS_SERVER ? k->server : k->client,
			s->role == TLS_SERVER ? k->client : k->server, k->client_len, k->tx_records,
			k->rx_records) < 0 ||
	    !save_chain(s->ssl, p)) {
		parked_free(p);
		ERR_clear_error();
		return false;
	}
	p->version = SSL_get_version(s->ssl);
	p->cipher = SSL_get_cipher_name(s->ssl);
	SSL_free(s->ssl); /* and its BIOs */
	s->ssl = NULL;
	s->in = s->out = NULL;
	keys_free(k);
	s->keys = NULL;
	s->parked = p;
	return true;
}
