// SPDX-License-Identifier: MIT
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

/* Room for "client " or "server " before a problem in the error text. */
enum { PROBLEM_MAX = TLS_ERR_MAX - 16 };

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

struct tls_session {
	struct tls_ctx *ctx; /* a reference: verify_cb reads its pins */
	SSL *ssl;
	BIO *in;  /* ciphertext from the peer, read by OpenSSL */
	BIO *out; /* ciphertext for the peer, written by OpenSSL */
	enum tls_role role;
	char peer_cn[TLS_CN_MAX];
	char peer_subject[TLS_SUBJECT_MAX];
	char peer_serial[TLS_SERIAL_MAX];
	uint8_t peer_fingerprint[TLS_FINGERPRINT_LEN];
	bool has_fingerprint;
	char problem[PROBLEM_MAX]; /* why verify_cb refused a certificate that verified */
	bool cert_refused;	   /* the handshake failed on the peer's certificate */
	char error[TLS_ERR_MAX];
};

/* Writes what and the first queued OpenSSL reason into err, emptying the queue. */
static void openssl_error(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	snprintf(err, errlen, "%s%s%s", what, reason ? ": " : "", reason ? reason : "");
	ERR_clear_error();
}

/* "tls: cannot load the CA certificate from PATH: reason", emptying OpenSSL's queue. */
static int file_error(char *err, size_t errlen, const char *what, const char *path)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	snprintf(err, errlen, "tls: cannot load %s from %s%s%s", what, path, reason ? ": " : "",
		 reason ? reason : "");
	ERR_clear_error();
	return -EINVAL;
}

static int load_ca(SSL_CTX *ctx, const struct tls_config *cfg, char *err, size_t errlen)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	X509_LOOKUP *lookup;

	if (SSL_CTX_load_verify_file(ctx, cfg->ca) != 1)
		return file_error(err, errlen, "the CA certificate", cfg->ca);
	if (!cfg->crl)
		return 0;
	lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
	if (!lookup || X509_load_crl_file(lookup, cfg->crl, X509_FILETYPE_PEM) < 1)
		return file_error(err, errlen, "the CRL", cfg->crl);
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	return 0;
}

static int load_identity(SSL_CTX *ctx, const struct tls_config *cfg, char *err, size_t errlen)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1)
		return file_error(err, errlen, "the certificate", cfg->cert);
	/* OpenSSL already compares the key with the certificate while loading it. */
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1 &&
	    ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH)
		return file_error(err, errlen, "the private key", cfg->key);
	if (ERR_peek_last_error() || SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "tls: the key in %s does not belong to the certificate in %s",
			 cfg->key, cfg->cert);
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
	int n = 0;

	if (mem && X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(mem, s->peer_subject, sizeof(s->peer_subject) - 1);
	s->peer_subject[n > 0 ? n : 0] = '\0';
	sanitize(s->peer_subject);
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

	return strcmp(s->peer_cn, name) == 0 ||
	       X509_check_host(cert, name, strlen(name),
			       X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_WILDCARDS,
			       NULL) == 1;
}

/* Writes what is wrong with the peer's certificate beyond its chain into s->problem. */
static bool leaf_problem(struct tls_session *s, X509 *cert)
{
	const char *problem = read_cn(cert, s->peer_cn, sizeof(s->peer_cn));
	const struct tls_ctx *ctx = s->ctx;

	if (!problem && s->role == TLS_CLIENT && !has_server_auth(cert))
		problem = "certificate lacks the serverAuth extended key usage";
	if (problem) {
		snprintf(s->problem, sizeof(s->problem), "%s", problem);
	} else if (s->role == TLS_CLIENT && ctx->server_name[0] && !name_matches(s, cert)) {
		snprintf(s->problem, sizeof(s->problem),
			 "certificate name \"%.64s\" does not match tls.server_name \"%.64s\"",
			 s->peer_cn, ctx->server_name);
	} else if (s->role == TLS_CLIENT && ctx->pin_fingerprint &&
		   (!s->has_fingerprint ||
		    CRYPTO_memcmp(s->peer_fingerprint, ctx->server_fingerprint,
				  TLS_FINGERPRINT_LEN) != 0)) {
		snprintf(s->problem, sizeof(s->problem),
			 "certificate does not have the SHA-256 fingerprint of "
			 "tls.server_fingerprint");
	} else {
		return false;
	}
	return true;
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
}

int tls_ctx_new(struct tls_ctx **out, const struct tls_config *cfg, char *err, size_t errlen)
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
	    ((cfg->cert || cfg->role == TLS_SERVER) &&
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
	if (!s->ssl || !s->in || !s->out) {
		BIO_free(s->in);
		BIO_free(s->out);
		SSL_free(s->ssl);
		tls_ctx_free(s->ctx);
		free(s);
		return NULL;
	}
	SSL_set_bio(s->ssl, s->in, s->out); /* the SSL owns both BIOs now */
	SSL_set_app_data(s->ssl, s);
	if (ctx->role == TLS_SERVER)
		SSL_set_accept_state(s->ssl);
	else
		SSL_set_connect_state(s->ssl);
	return s;
}

void tls_session_free(struct tls_session *s)
{
	if (!s)
		return;
	SSL_free(s->ssl);
	tls_ctx_free(s->ctx);
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
	return capacity(s->in) + capacity(s->out);
}

void tls_session_trim(struct tls_session *s)
{
	BIO *in, *out;

	if (BIO_ctrl_pending(s->in) || BIO_ctrl_pending(s->out) || tls_session_buffered(s) == 0 ||
	    !(in = new_mem_bio()))
		return;
	if (!(out = new_mem_bio())) {
		BIO_free(in);
		return;
	}
	SSL_set_bio(s->ssl, in, out); /* frees the old pair */
	s->in = in;
	s->out = out;
}

int tls_session_put_ciphertext(struct tls_session *s, const uint8_t *data, size_t len)
{
	if (len > INT32_MAX || BIO_write(s->in, data, (int)len) != (int)len)
		return -1;
	return 0;
}

size_t tls_session_pending_ciphertext(struct tls_session *s)
{
	return BIO_ctrl_pending(s->out);
}

size_t tls_session_get_ciphertext(struct tls_session *s, uint8_t *out, size_t cap)
{
	int n = BIO_read(s->out, out, cap > INT32_MAX ? INT32_MAX : (int)cap);

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
	if (result == X509_V_ERR_APPLICATION_VERIFICATION && s->problem[0]) {
		snprintf(s->error, sizeof(s->error), "%s %s", peer, s->problem);
	} else if (reason) {
		snprintf(s->error, sizeof(s->error), "%s %s", peer, reason);
	} else if (result != X509_V_OK) {
		snprintf(s->error, sizeof(s->error), "%s certificate refused: %s", peer,
			 X509_verify_cert_error_string(result));
	} else {
		unsigned long e = ERR_peek_last_error();
		int r = e ? ERR_GET_REASON(e) : 0;

		s->cert_refused = r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE;
		if (r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
			snprintf(s->error, sizeof(s->error), "%s sent no certificate", peer);
		else
			openssl_error(s->error, sizeof(s->error), "TLS handshake failed");
	}
	ERR_clear_error();
}

int tls_session_handshake(struct tls_session *s)
{
	int rc;

	if (SSL_is_init_finished(s->ssl))
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

int tls_session_reverify(const struct tls_session *s, struct tls_ctx *ctx, char *why, size_t len)
{
	X509 *leaf = SSL_get0_peer_certificate(s->ssl);
	X509_STORE_CTX *v;
	long result;

	if (!leaf)
		return 0; /* a client let in without a certificate has none to revoke */
	v = X509_STORE_CTX_new();
	if (!v || X509_STORE_CTX_init(v, SSL_CTX_get_cert_store(ctx->ssl_ctx), leaf,
				      SSL_get_peer_cert_chain(s->ssl)) != 1) {
		X509_STORE_CTX_free(v);
		snprintf(why, len, "out of memory verifying the peer certificate again");
		ERR_clear_error();
		return -1;
	}
	/* The purpose and flags the handshake used, as OpenSSL's own verification sets them. */
	X509_STORE_CTX_set_default(v, s->role == TLS_SERVER ? "ssl_client" : "ssl_server");
	X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(v), SSL_CTX_get0_param(ctx->ssl_ctx));
	result = X509_verify_cert(v) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(v);
	X509_STORE_CTX_free(v);
	ERR_clear_error();
	if (result == X509_V_OK)
		return 0;
	reverify_failure(s, result, why, len);
	return -1;
}

int tls_session_write(struct tls_session *s, const uint8_t *data, size_t len)
{
	size_t written;

	if (SSL_write_ex(s->ssl, data, len, &written) != 1 || written != len) {
		openssl_error(s->error, sizeof(s->error), "TLS write failed");
		return -1;
	}
	return 0;
}

ssize_t tls_session_read(struct tls_session *s, uint8_t *out, size_t cap)
{
	size_t n;
	int rc = SSL_read_ex(s->ssl, out, cap, &n);

	if (rc == 1)
		return (ssize_t)n;
	switch (SSL_get_error(s->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	}
	openssl_error(s->error, sizeof(s->error), "TLS read failed");
	return -1;
}

int tls_session_export(struct tls_session *s, const char *label, uint8_t *out, size_t len)
{
	return SSL_export_keying_material(s->ssl, out, len, label, strlen(label), NULL, 0, 0) == 1
		       ? 0
		       : -1;
}

const char *tls_session_peer_cn(const struct tls_session *s)
{
	return s->peer_cn;
}

const char *tls_session_peer_subject(const struct tls_session *s)
{
	return s->peer_subject;
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
	return s->error[0] ? s->error : "no error";
}

const char *tls_session_version(const struct tls_session *s)
{
	return SSL_get_version(s->ssl);
}

const char *tls_session_cipher(const struct tls_session *s)
{
	return SSL_get_cipher_name(s->ssl);
}
