// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "pki.h"
#include "pki_index.h"

enum {
	PKI_PATH_MAX = 4096,
	PKI_SERIAL_BYTES = 16, /* 128 random bits, as easy-rsa 3 */
	PKI_DAY_SECONDS = 86400,
};

/* err = the message, then what OpenSSL's error queue says (drained). */
static int fail_ssl(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_ssl(char *err, size_t errlen, const char *fmt, ...)
{
	unsigned long e = ERR_get_error();
	char why[256] = "";
	va_list ap;
	int n;

	if (e)
		ERR_error_string_n(e, why, sizeof(why));
	ERR_clear_error();
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (why[0] && n >= 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - (size_t)n, ": %s", why);
	return -EINVAL;
}

static int fail_errno(char *err, size_t errlen, const char *what, const char *path)
{
	int e = errno;

	snprintf(err, errlen, "cannot %s %s: %s", what, path, strerror(e));
	return e ? -e : -EIO;
}

bool pki_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > PKI_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-") ==
	       n;
}

/* dir/a b c; a path too long is cut short, and then names no file we made. */
static void path_of(char out[PKI_PATH_MAX], const char *dir, const char *a, const char *b,
		    const char *c)
{
	if (snprintf(out, PKI_PATH_MAX, "%s/%s%s%s", dir, a, b, c) >= PKI_PATH_MAX)
		out[0] = '\0';
}

/* Creates dir/sub with mode unless it exists. */
static int make_dir(const char *dir, const char *sub, mode_t mode, char *err, size_t errlen)
{
	char p[PKI_PATH_MAX];

	path_of(p, dir, sub, "", "");
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return fail_errno(err, errlen, "create the directory", p);
	return 0;
}

static int make_layout(const char *dir, char *err, size_t errlen)
{
	static const struct {
		const char *sub;
		mode_t mode;
	} dirs[] = {
		{ "private", 0700 },
		{ "certs_by_serial", 0755 },
		{ "issued", 0755 },
		{ "reqs", 0755 },
		{ "revoked", 0755 },
		{ "revoked/certs_by_serial", 0755 },
		{ "revoked/private_by_serial", 0700 },
	};

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return fail_errno(err, errlen, "create the directory", dir);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		int rc = make_dir(dir, dirs[i].sub, dirs[i].mode, err, errlen);

		if (rc < 0)
			return rc;
	}
	return 0;
}

static EVP_PKEY *new_key(const struct pki_options *o, char *err, size_t errlen)
{
	EVP_PKEY *k = o->rsa_bits ? EVP_RSA_gen(o->rsa_bits) : EVP_EC_gen("P-256");

	if (!k)
		fail_ssl(err, errlen, "cannot make a key");
	return k;
}

/* Writes a PEM object to a new file of that mode (never replacing one). */
static int write_new(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert, char *err,
		     size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	FILE *f;
	int ok;

	if (fd < 0)
		return fail_errno(err, errlen, "create", path);
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return fail_errno(err, errlen, "write", path);
	}
	ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
		 : PEM_write_X509(f, cert);
	ok = (fclose(f) == 0) && ok;
	if (!ok) {
		unlink(path);
		return fail_ssl(err, errlen, "cannot write %s", path);
	}
	return 0;
}

/* A random positive serial of 128 bits not in the index; its hex in hex. */
static ASN1_INTEGER *new_serial(struct pki_index *ix, char hex[PKI_INDEX_SERIAL_MAX])
{
	for (;;) {
		unsigned char b[PKI_SERIAL_BYTES];
		BIGNUM *bn;
		char *h;

		if (RAND_bytes(b, sizeof(b)) != 1)
			return NULL;
		b[0] = (b[0] & 0x7f) | 0x01; /* positive, and 16 bytes long */
		bn = BN_bin2bn(b, sizeof(b), NULL);
		h = bn ? BN_bn2hex(bn) : NULL;
		if (h && strlen(h) < PKI_INDEX_SERIAL_MAX && !pki_index_find(ix, h)) {
			ASN1_INTEGER *s = BN_to_ASN1_INTEGER(bn, NULL);

			snprintf(hex, PKI_INDEX_SERIAL_MAX, "%s", h);
			OPENSSL_free(h);
			BN_free(bn);
			return s;
		}
		OPENSSL_free(h);
		BN_free(bn);
		if (!h)
			return NULL;
	}
}

static bool add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	bool ok;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	ok = ext && X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* The extensions of a CA (issuer NULL), server or client certificate, as easy-rsa's types. */
static bool add_usages(X509 *x, X509 *issuer, int kind, const char *cn)
{
	char san[PKI_NAME_MAX + 8];

	if (!add_ext(x, issuer, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, issuer, NID_authority_key_identifier, "keyid:always"))
		return false;
	if (!issuer)
		return add_ext(x, NULL, NID_basic_constraints, "critical,CA:TRUE") &&
		       add_ext(x, NULL, NID_key_usage, "critical,cRLSign,keyCertSign");
	if (!add_ext(x, issuer, NID_basic_constraints, "CA:FALSE"))
		return false;
	if (kind == PKI_CLIENT)
		return add_ext(x, issuer, NID_ext_key_usage, "clientAuth") &&
		       add_ext(x, issuer, NID_key_usage, "digitalSignature");
	snprintf(san, sizeof(san), "DNS:%s", cn);
	return add_ext(x, issuer, NID_ext_key_usage, "serverAuth") &&
	       add_ext(x, issuer, NID_key_usage, "digitalSignature,keyEncipherment") &&
	       add_ext(x, issuer, NID_subject_alt_name, san);
}

/* A certificate for key named cn, signed by issuer/ikey (NULL: self-signed, a CA). */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, int kind,
		       unsigned days, ASN1_INTEGER *serial)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	if (!x || !name || !X509_set_version(x, 2) || !X509_set_serialNumber(x, serial) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0) ||
	    !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ||
	    !X509_set_pubkey(x, key) || !add_usages(x, issuer, kind, cn) ||
	    !X509_sign(x, issuer ? ikey : key, EVP_sha256())) {
		X509_free(x);
		x = NULL;
	}
	X509_NAME_free(name);
	return x;
}

static X509 *read_cert(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (!f) {
		fail_errno(err, errlen, "read", path);
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		fail_ssl(err, errlen, "%s: not a PEM certificate", path);
	return x;
}

/* dir's CA certificate and key (an encrypted key asks for its passphrase on the terminal). */
static int load_ca(const char *dir, X509 **ca, EVP_PKEY **key, char *err, size_t errlen)
{
	char p[PKI_PATH_MAX];
	FILE *f;

	path_of(p, dir, "ca.crt", "", "");
	if (access(p, F_OK) < 0) {
		snprintf(err, errlen,
			 "%s: no CA here (make one with: moonvpn pki --dir %s init, or point --dir "
			 "at an easy-rsa pki/ directory)",
			 p, dir);
		return -ENOENT;
	}
	*ca = read_cert(p, err, errlen);
	if (!*ca)
		return -EINVAL;
	path_of(p, dir, "private/ca.key", "", "");
	f = fopen(p, "r");
	if (!f) {
		X509_free(*ca);
		return fail_errno(err, errlen, "read the CA key", p);
	}
	*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!*key || X509_check_private_key(*ca, *key) != 1) {
		X509_free(*ca);
		EVP_PKEY_free(*key);
		return fail_ssl(err, errlen,
				"%s: not the private key of ca.crt, or a wrong passphrase", p);
	}
	return 0;
}

/* The ASN.1 time t as the index writes it (YYMMDDHHMMSSZ). */
static void time_text(const ASN1_TIME *t, char out[PKI_INDEX_TIME_MAX])
{
	int n = ASN1_STRING_length(t);

	if (n >= PKI_INDEX_TIME_MAX)
		n = PKI_INDEX_TIME_MAX - 1;
	memcpy(out, ASN1_STRING_get0_data(t), (size_t)n);
	out[n] = '\0';
}

/* Adds the issued certificate's line to dir's index. */
static int index_add(const char *dir, struct pki_index *ix, X509 *x, const char *serial,
		     const char *cn, char *err, size_t errlen)
{
	struct pki_index_entry e = { .status = 'V' };
	char p[PKI_PATH_MAX];

	time_text(X509_get0_notAfter(x), e.expires);
	snprintf(e.serial, sizeof(e.serial), "%s", serial);
	snprintf(e.subject, sizeof(e.subject), "/CN=%s", cn);
	if (pki_index_add(ix, &e) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	path_of(p, dir, "index.txt", "", "");
	return pki_index_write(p, ix, err, errlen);
}

/*
 * The serial file OpenSSL's `ca` (and so easy-rsa) reads the next serial
 * from, and index.txt.attr: we pick serials at random and never read
 * either, but easy-rsa refuses a directory without them.
 */
static int write_serial(const char *dir, struct pki_index *ix, char *err, size_t errlen)
{
	char p[PKI_PATH_MAX], hex[PKI_INDEX_SERIAL_MAX];
	ASN1_INTEGER *sn = new_serial(ix, hex);
	FILE *f;
	int ok;

	ASN1_INTEGER_free(sn);
	if (!sn)
		return fail_ssl(err, errlen, "cannot make a serial number");
	path_of(p, dir, "serial", "", "");
	if (!(f = fopen(p, "w")))
		return fail_errno(err, errlen, "write", p);
	ok = fprintf(f, "%s\n", hex) > 0;
	ok = (fclose(f) == 0) && ok;
	/* the index's attributes: one subject may have several certificates (renewals) */
	path_of(p, dir, "index.txt.attr", "", "");
	if (ok && (f = fopen(p, "w"))) {
		ok = fprintf(f, "unique_subject = no\n") > 0;
		ok = (fclose(f) == 0) && ok;
	}
	return ok && f ? 0 : fail_errno(err, errlen, "write", p);
}

int pki_init(const char *dir, const char *cn, const struct pki_options *o, char *err, size_t errlen)
{
	struct pki_index ix = { 0 };
	char p[PKI_PATH_MAX], serial[PKI_INDEX_SERIAL_MAX];
	EVP_PKEY *key = NULL;
	ASN1_INTEGER *sn = NULL;
	X509 *ca = NULL;
	int rc;

	path_of(p, dir, "ca.crt", "", "");
	if (access(p, F_OK) == 0) {
		snprintf(err, errlen,
			 "%s exists: %s holds a CA already (issue certificates with it, or choose "
			 "another --dir)",
			 p, dir);
		return -EEXIST;
	}
	if ((rc = make_layout(dir, err, errlen)) < 0)
		return rc;
	rc = -EINVAL;
	if (!(key = new_key(o, err, errlen)))
		goto out;
	if (!(sn = new_serial(&ix, serial)) ||
	    !(ca = make_cert(cn, key, NULL, NULL, 0, o->days ? o->days : PKI_CA_DAYS_DEFAULT,
			     sn))) {
		rc = fail_ssl(err, errlen, "cannot make the CA certificate");
		goto out;
	}
	path_of(p, dir, "private/ca.key", "", "");
	if ((rc = write_new(p, 0600, key, NULL, err, errlen)) < 0)
		goto out;
	path_of(p, dir, "ca.crt", "", "");
	if ((rc = write_new(p, 0644, NULL, ca, err, errlen)) < 0)
		goto out;
	path_of(p, dir, "index.txt", "", "");
	if ((rc = pki_index_write(p, &ix, err, errlen)) < 0 ||
	    (rc = write_serial(dir, &ix, err, errlen)) < 0)
		goto out;
	rc = pki_crl(dir, 0, err, errlen);
out:
	ASN1_INTEGER_free(sn);
	X509_free(ca);
	EVP_PKEY_free(key);
	return rc;
}

/* Refuses a name whose files exist already. */
static int check_free(const char *dir, const char *name, char *err, size_t errlen)
{
	static const char *const files[][2] = { { "issued/", ".crt" }, { "private/", ".key" } };
	char p[PKI_PATH_MAX];

	for (size_t i = 0; i < 2; i++) {
		path_of(p, dir, files[i][0], name, files[i][1]);
		if (access(p, F_OK) == 0) {
			snprintf(err, errlen,
				 "%s exists: %s has a certificate already (revoke it first with "
				 "moonvpn pki revoke %s, or choose another name)",
				 p, name, name);
			return -EEXIST;
		}
	}
	return 0;
}

int pki_issue(const char *dir, const char *name, enum pki_kind kind, const struct pki_options *o,
	      char *err, size_t errlen)
{
	struct pki_index ix = { 0 };
	char p[PKI_PATH_MAX], serial[PKI_INDEX_SERIAL_MAX];
	EVP_PKEY *cakey = NULL, *key = NULL;
	ASN1_INTEGER *sn = NULL;
	X509 *ca = NULL, *x = NULL;
	int rc;

	if (!pki_name_ok(name)) {
		snprintf(err, errlen,
			 "\"%s\" cannot name a certificate: use 1 to %d letters, digits and _ . @ "
			 "- (not first: . or -)",
			 name, PKI_NAME_MAX);
		return -EINVAL;
	}
	if ((rc = check_free(dir, name, err, errlen)) < 0 ||
	    (rc = load_ca(dir, &ca, &cakey, err, errlen)) < 0)
		return rc;
	path_of(p, dir, "index.txt", "", "");
	if ((rc = pki_index_read(p, &ix, err, errlen)) < 0 ||
	    (rc = make_layout(dir, err, errlen)) < 0)
		goto out;
	rc = -EINVAL;
	if (!(key = new_key(o, err, errlen)))
		goto out;
	if (!(sn = new_serial(&ix, serial)) ||
	    !(x = make_cert(name, key, ca, cakey, kind, o->days ? o->days : PKI_CERT_DAYS_DEFAULT,
			    sn))) {
		rc = fail_ssl(err, errlen, "cannot make the certificate for %s", name);
		goto out;
	}
	path_of(p, dir, "private/", name, ".key");
	if ((rc = write_new(p, 0600, key, NULL, err, errlen)) < 0)
		goto out;
	path_of(p, dir, "issued/", name, ".crt");
	rc = write_new(p, 0644, NULL, x, err, errlen);
	if (rc == 0 && (rc = index_add(dir, &ix, x, serial, name, err, errlen)) < 0)
		unlink(p);
	if (rc < 0) { /* nothing half issued: the name stays free */
		path_of(p, dir, "private/", name, ".key");
		unlink(p);
	}
out:
	pki_index_free(&ix);
	ASN1_INTEGER_free(sn);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
	return rc;
}

int pki_cert_cn(const char *path, char *cn, size_t len, char *err, size_t errlen)
{
	X509 *x = read_cert(path, err, errlen);
	int n;

	if (!x)
		return -EINVAL;
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)len);
	X509_free(x);
	if (n <= 0) {
		snprintf(err, errlen, "%s: the certificate has no common name", path);
		return -EINVAL;
	}
	return 0;
}

/* One revoked entry of the index as a CRL entry. */
static bool add_revoked(X509_CRL *crl, const struct pki_index_entry *e)
{
	char when[PKI_INDEX_TIME_MAX];
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_TIME *t = ASN1_TIME_new();
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn = NULL;
	bool ok;

	snprintf(when, sizeof(when), "%.*s", (int)strcspn(e->revoked, ","), e->revoked);
	ok = r && t && BN_hex2bn(&bn, e->serial) && (sn = BN_to_ASN1_INTEGER(bn, NULL)) &&
	     ASN1_TIME_set_string(t, when) && X509_REVOKED_set_serialNumber(r, sn) &&
	     X509_REVOKED_set_revocationDate(r, t) && X509_CRL_add0_revoked(crl, r);
	if (!ok)
		X509_REVOKED_free(r);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	ASN1_TIME_free(t);
	return ok;
}

/* The CRL's number: the time it is made, so that each one is higher than the last. */
static bool add_crl_number(X509_CRL *crl, X509 *ca)
{
	ASN1_INTEGER *n = ASN1_INTEGER_new();
	X509V3_CTX ctx;
	X509_EXTENSION *aki;
	bool ok;

	X509V3_set_ctx(&ctx, ca, NULL, NULL, crl, 0);
	aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	ok = n && aki && ASN1_INTEGER_set_int64(n, (int64_t)time(NULL)) &&
	     X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, 0) && X509_CRL_add_ext(crl, aki, -1);
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(n);
	return ok;
}

static X509_CRL *make_crl(X509 *ca, EVP_PKEY *key, const struct pki_index *ix, unsigned days)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *now = ASN1_TIME_new(), *next = ASN1_TIME_new();
	bool ok = crl && now && next && X509_CRL_set_version(crl, 1) &&
		  X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) &&
		  X509_gmtime_adj(now, 0) && X509_time_adj_ex(next, (int)days, 0, NULL) &&
		  X509_CRL_set1_lastUpdate(crl, now) && X509_CRL_set1_nextUpdate(crl, next);

	for (size_t i = 0; ok && i < ix->n; i++) {
		if (ix->e[i].status == 'R')
			ok = add_revoked(crl, &ix->e[i]);
	}
	ok = ok && X509_CRL_sort(crl) && add_crl_number(crl, ca) &&
	     X509_CRL_sign(crl, key, EVP_sha256());
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	if (!ok) {
		X509_CRL_free(crl);
		return NULL;
	}
	return crl;
}

/* Writes crl to dir/crl.pem through a rename, so a server never reads half a file. */
static int write_crl(const char *dir, X509_CRL *crl, char *err, size_t errlen)
{
	char p[PKI_PATH_MAX], tmp[PKI_PATH_MAX + ATOMICFILE_SUFFIX_MAX];
	FILE *f;
	int rc;

	path_of(p, dir, "crl.pem", "", "");
	if (!(f = atomicfile_open(p, tmp, sizeof(tmp), 0644)))
		return fail_errno(err, errlen, "write", tmp);
	/* 0644 whatever the umask: the server reads it after it dropped root. */
	if (fchmod(fileno(f), 0644) < 0 || !PEM_write_X509_CRL(f, crl)) {
		atomicfile_abort(f, tmp);
		return fail_ssl(err, errlen, "cannot write %s", p);
	}
	if ((rc = atomicfile_commit(f, tmp, p)) < 0) {
		errno = -rc;
		return fail_errno(err, errlen, "write", p);
	}
	return 0;
}

int pki_crl(const char *dir, unsigned days, char *err, size_t errlen)
{
	struct pki_index ix = { 0 };
	char p[PKI_PATH_MAX];
	EVP_PKEY *key = NULL;
	X509_CRL *crl = NULL;
	X509 *ca = NULL;
	int rc;

	if ((rc = load_ca(dir, &ca, &key, err, errlen)) < 0)
		return rc;
	path_of(p, dir, "index.txt", "", "");
	if ((rc = pki_index_read(p, &ix, err, errlen)) < 0)
		goto out;
	crl = make_crl(ca, key, &ix, days ? days : PKI_CRL_DAYS_DEFAULT);
	rc = crl ? write_crl(dir, crl, err, errlen) : fail_ssl(err, errlen, "cannot make the CRL");
out:
	pki_index_free(&ix);
	X509_CRL_free(crl);
	X509_free(ca);
	EVP_PKEY_free(key);
	return rc;
}

/* The serial (hex) of NAME's certificate: from issued/NAME.crt, else its one valid index line. */
static int find_serial(const char *dir, const char *name, struct pki_index *ix,
		       char serial[PKI_INDEX_SERIAL_MAX], char *err, size_t errlen)
{
	char p[PKI_PATH_MAX], cn[PKI_INDEX_SUBJECT_MAX];
	X509 *x;
	int found = 0;

	path_of(p, dir, "issued/", name, ".crt");
	if (access(p, F_OK) == 0) {
		BIGNUM *bn;
		char *h;

		if (!(x = read_cert(p, err, errlen)))
			return -EINVAL;
		bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
		h = bn ? BN_bn2hex(bn) : NULL;
		snprintf(serial, PKI_INDEX_SERIAL_MAX, "%s", h ? h : "");
		OPENSSL_free(h);
		BN_free(bn);
		X509_free(x);
		return serial[0] ? 0 : fail_ssl(err, errlen, "%s: cannot read its serial", p);
	}
	for (size_t i = 0; i < ix->n; i++) {
		pki_index_cn(&ix->e[i], cn, sizeof(cn));
		if (ix->e[i].status == 'V' && strcmp(cn, name) == 0) {
			snprintf(serial, PKI_INDEX_SERIAL_MAX, "%s", ix->e[i].serial);
			found++;
		}
	}
	if (found == 1)
		return 0;
	if (found)
		snprintf(err, errlen,
			 "%s: no such file, and %d valid certificates are named %s in the index", p,
			 found, name);
	else
		snprintf(err, errlen,
			 "%s: no such file, and no valid certificate is named %s in the index "
			 "(moonvpn pki list shows them)",
			 p, name);
	return -ENOENT;
}

/* Moves NAME's files under revoked/, as easy-rsa does, so the name can be issued again. */
static void move_revoked(const char *dir, const char *name, const char *serial)
{
	static const char *const from[][2] = { { "issued/", ".crt" },
					       { "private/", ".key" },
					       { "reqs/", ".req" } };
	static const char *const to[] = { "revoked/certs_by_serial/", "revoked/private_by_serial/",
					  "revoked/reqs_by_serial/" };
	char a[PKI_PATH_MAX], b[PKI_PATH_MAX];

	for (size_t i = 0; i < 3; i++) {
		path_of(a, dir, from[i][0], name, from[i][1]);
		path_of(b, dir, to[i], serial, from[i][1]);
		if (access(a, F_OK) == 0) {
			char parent[PKI_PATH_MAX];

			snprintf(parent, sizeof(parent), "%s", b);
			*strrchr(parent, '/') = '\0';
			mkdir(parent, i == 1 ? 0700 : 0755);
			rename(a, b);
		}
	}
}

int pki_revoke(const char *dir, const char *name, unsigned crl_days, char serial_out[80], char *err,
	       size_t errlen)
{
	struct pki_index ix = { 0 };
	struct pki_index_entry *e;
	char p[PKI_PATH_MAX], serial[PKI_INDEX_SERIAL_MAX];
	ASN1_TIME *now = NULL;
	int rc;

	path_of(p, dir, "index.txt", "", "");
	if ((rc = pki_index_read(p, &ix, err, errlen)) < 0)
		return rc;
	if ((rc = find_serial(dir, name, &ix, serial, err, errlen)) < 0)
		goto out;
	rc = -ENOENT;
	e = pki_index_find(&ix, serial);
	if (!e || e->status == 'R') {
		snprintf(
			err, errlen,
			e ? "%s's certificate (serial %s) is revoked already"
			  : "%s's certificate (serial %s) is not in %s/index.txt: was it issued by "
			    "this CA?",
			name, serial, dir);
		goto out;
	}
	now = ASN1_TIME_new();
	if (!now || !X509_gmtime_adj(now, 0)) {
		rc = fail_ssl(err, errlen, "cannot read the time");
		goto out;
	}
	e->status = 'R';
	time_text(now, e->revoked);
	if ((rc = pki_index_write(p, &ix, err, errlen)) < 0)
		goto out;
	move_revoked(dir, name, serial);
	snprintf(serial_out, 80, "%s", serial);
	rc = pki_crl(dir, crl_days, err, errlen);
out:
	ASN1_TIME_free(now);
	pki_index_free(&ix);
	return rc;
}
