// SPDX-License-Identifier: MIT
/*
 * The certificate authority of `moonvpn pki`: a CA, server and client
 * certificates with the key usages easy-rsa gives them, random 128-bit
 * serials, keys of mode 0600 (EC P-256, or RSA), the index, revocation
 * (the files move aside, the name can be issued again) and the CRL's
 * contents and signature; and the mistakes a user can make.
 */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pki.h"
#include "pki_index.h"
#include "unit.h"

static char dir[64];

static X509 *cert(const char *rel)
{
	char p[256];
	FILE *f;
	X509 *x;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	if (!(f = fopen(p, "r")))
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static unsigned mode_of(const char *rel)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return stat(p, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
}

static int key_type(const char *rel)
{
	char p[256];
	FILE *f;
	EVP_PKEY *k;
	int t;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	if (!(f = fopen(p, "r")))
		return -1;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	t = k ? EVP_PKEY_get_base_id(k) : -1;
	EVP_PKEY_free(k);
	return t;
}

static const struct {
	const char *file;
	uint32_t ku, xku;
	bool ca;
} USAGES[] = {
	{ "ca.crt", KU_KEY_CERT_SIGN | KU_CRL_SIGN, UINT32_MAX, true },
	{ "issued/srv.crt", KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT, XKU_SSL_SERVER, false },
	{ "issued/alice.crt", KU_DIGITAL_SIGNATURE, XKU_SSL_CLIENT, false },
};

static void test_issue(void)
{
	struct pki_options o = { 0 };
	char err[512];
	X509 *ca;

	CHECK(pki_init(dir, "Test CA", &o, err, sizeof(err)) == 0, "%s", err);
	CHECK(pki_issue(dir, "srv", PKI_SERVER, &o, err, sizeof(err)) == 0, "%s", err);
	CHECK(pki_issue(dir, "alice", PKI_CLIENT, &o, err, sizeof(err)) == 0, "%s", err);
	ca = cert("ca.crt");
	CHECK(ca != NULL, "ca.crt");
	for (size_t i = 0; i < sizeof(USAGES) / sizeof(USAGES[0]); i++) {
		X509 *x = cert(USAGES[i].file);
		const ASN1_INTEGER *sn = x ? X509_get0_serialNumber(x) : NULL;

		CHECK(x && X509_get_key_usage(x) == USAGES[i].ku, "%s: key usage %x",
		      USAGES[i].file, x ? X509_get_key_usage(x) : 0);
		CHECK(x && X509_get_extended_key_usage(x) == USAGES[i].xku, "%s: extended %x",
		      USAGES[i].file, x ? X509_get_extended_key_usage(x) : 0);
		CHECK(x && (X509_check_ca(x) != 0) == USAGES[i].ca, "%s: CA or not",
		      USAGES[i].file);
		CHECK(x && X509_verify(x, X509_get0_pubkey(ca)) == 1, "%s: signed by the CA",
		      USAGES[i].file);
		CHECK(sn && ASN1_STRING_length(sn) == 16 && ASN1_INTEGER_get(sn) != 0,
		      "%s: a 16-byte serial", USAGES[i].file);
		X509_free(x);
	}
	X509_free(ca);
	CHECK(mode_of("private/ca.key") == 0600 && mode_of("private/srv.key") == 0600 &&
		      mode_of("private/alice.key") == 0600,
	      "keys are mode 0600");
	CHECK(mode_of("private") == 0700, "private/ is mode 0700");
	CHECK(key_type("private/alice.key") == EVP_PKEY_EC, "EC keys by default");
	CHECK(mode_of("serial") && mode_of("index.txt.attr") && mode_of("certs_by_serial"),
	      "serial, index.txt.attr and certs_by_serial/, which easy-rsa requires");
}

static void test_index_and_mistakes(void)
{
	struct pki_options o = { 0 };
	struct pki_index ix;
	char err[512], p[128], cn[64];

	snprintf(p, sizeof(p), "%s/index.txt", dir);
	CHECK(pki_index_read(p, &ix, err, sizeof(err)) == 0 && ix.n == 2, "two lines: %zu", ix.n);
	pki_index_cn(&ix.e[1], cn, sizeof(cn));
	CHECK(ix.e[1].status == 'V' && strcmp(cn, "alice") == 0 &&
		      strcmp(ix.e[0].serial, ix.e[1].serial) != 0,
	      "alice valid, serials differ");
	pki_index_free(&ix);
	CHECK(pki_issue(dir, "alice", PKI_CLIENT, &o, err, sizeof(err)) < 0 &&
		      strstr(err, "revoke it first"),
	      "a name issued already: %s", err);
	CHECK(pki_issue(dir, "../x", PKI_CLIENT, &o, err, sizeof(err)) < 0 &&
		      strstr(err, "cannot name"),
	      "a path as a name: %s", err);
	CHECK(pki_init(dir, "again", &o, err, sizeof(err)) < 0 && strstr(err, "holds a CA"),
	      "init twice: %s", err);
	CHECK(pki_issue("/nonexistent", "x", PKI_CLIENT, &o, err, sizeof(err)) < 0 &&
		      strstr(err, "no CA here"),
	      "no CA: %s", err);
	CHECK(pki_revoke(dir, "nobody", 0, p, err, sizeof(err)) < 0 && strstr(err, "nobody"),
	      "revoking nobody: %s", err);
	/* The index cannot be written (its temporary file's name is taken by a directory):
	 * nothing is left half issued, and the name can be issued once it can. */
	snprintf(p, sizeof(p), "%s/index.txt.tmp", dir);
	CHECK(mkdir(p, 0700) == 0, "mkdir %s", p);
	CHECK(pki_issue(dir, "carol", PKI_CLIENT, &o, err, sizeof(err)) < 0 &&
		      strstr(err, "index.txt.tmp"),
	      "an index that cannot be written: %s", err);
	CHECK(mode_of("issued/carol.crt") == 0 && mode_of("private/carol.key") == 0,
	      "no certificate or key left behind");
	rmdir(p);
	CHECK(pki_issue(dir, "carol", PKI_CLIENT, &o, err, sizeof(err)) == 0, "then: %s", err);
}

static void test_revoke(void)
{
	struct pki_options o = { 0 };
	char err[512], serial[80], p[256];
	X509_CRL *crl;
	X509 *ca = cert("ca.crt"), *alice = cert("issued/alice.crt");
	X509_REVOKED *r = NULL;
	FILE *f;

	CHECK(pki_revoke(dir, "alice", 30, serial, err, sizeof(err)) == 0, "%s", err);
	CHECK(pki_revoke(dir, "alice", 0, serial, err, sizeof(err)) < 0, "twice: no such name");
	snprintf(p, sizeof(p), "%s/crl.pem", dir);
	f = fopen(p, "r");
	crl = f ? PEM_read_X509_CRL(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	CHECK(crl && X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1, "the CRL is the CA's");
	CHECK(crl && sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) == 1 &&
		      X509_CRL_get0_by_cert(crl, &r, alice) == 1,
	      "it lists alice's certificate, and only that");
	CHECK(crl && ASN1_TIME_diff(&(int){ 0 }, &(int){ 0 }, X509_CRL_get0_lastUpdate(crl),
				    X509_CRL_get0_nextUpdate(crl)),
	      "it has a next update");
	CHECK(mode_of("issued/alice.crt") == 0 && mode_of("private/alice.key") == 0,
	      "alice's files moved aside");
	snprintf(p, sizeof(p), "revoked/private_by_serial/%s.key", serial);
	CHECK(mode_of(p) == 0600, "kept, mode 0600: %s", p);
	o.rsa_bits = 2048;
	CHECK(pki_issue(dir, "alice", PKI_CLIENT, &o, err, sizeof(err)) == 0,
	      "alice again, with RSA: %s", err);
	CHECK(key_type("private/alice.key") == EVP_PKEY_RSA, "--rsa makes RSA keys");
	X509_CRL_free(crl);
	X509_free(ca);
	X509_free(alice);
}

/* index.txt lines: what is read, and what is refused with its line number. */
static void test_index_lines(void)
{
	static const struct {
		const char *text;
		size_t n; /* entries read; 0 with err naming line `line` */
		unsigned line;
	} cases[] = {
		{ "", 0, 0 },
		{ "V\t290101000000Z\t\t0A\tunknown\t/CN=a\n", 1, 0 },
		{ "V\t290101000000Z\t\t0A\tunknown\t/CN=a\n\nR\t290101000000Z\t260101000000Z,"
		  "keyCompromise\t0B\tunknown\t/CN=b\n",
		  2, 0 },
		{ "V\t290101000000Z\t\t0A\tunknown\n", 0, 1 }, /* five fields */
		{ "V\t290101000000Z\t\t0A\tunknown\t/CN=a\nX\t1\t\t0B\tu\t/CN=b\n", 0,
		  2 },						    /* status */
		{ "V\t290101000000Z\t\t\tunknown\t/CN=a\n", 0, 1 }, /* no serial */
	};
	char path[128], err[256], cn[64];

	snprintf(path, sizeof(path), "%s/index-case.txt", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pki_index ix;
		FILE *f = fopen(path, "w");
		int rc;

		fputs(cases[i].text, f);
		fclose(f);
		rc = pki_index_read(path, &ix, err, sizeof(err));
		if (cases[i].line) {
			char at[32];

			snprintf(at, sizeof(at), ":%u: not an index line", cases[i].line);
			CHECK(rc < 0 && strstr(err, at), "case %zu: %s", i, err);
			continue;
		}
		CHECK(rc == 0 && ix.n == cases[i].n, "case %zu: %zu entries", i, ix.n);
		if (rc == 0 && ix.n == 2) {
			pki_index_cn(&ix.e[1], cn, sizeof(cn));
			CHECK(ix.e[1].status == 'R' && strcmp(cn, "b") == 0 &&
				      strcmp(ix.e[1].revoked, "260101000000Z,keyCompromise") == 0 &&
				      pki_index_find(&ix, "0b") == &ix.e[1],
			      "case %zu: the revoked entry, its reason, found by serial in any "
			      "case",
			      i);
		}
		if (rc == 0)
			pki_index_free(&ix);
	}
	unlink(path);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_pki.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	test_issue();
	test_index_and_mistakes();
	test_revoke();
	test_index_lines();
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK(system(cmd) == 0, "cleanup");
	}
	return unit_report("test_pki");
}
