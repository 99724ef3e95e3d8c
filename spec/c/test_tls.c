// SPDX-License-Identifier: MIT
/*
 * TLS sessions over memory BIOs: a server and a client session pump
 * ciphertext to each other in memory, with certificates from a throwaway
 * PKI (scripts/make-pki). A good client completes TLS 1.3, both sides
 * export the same key block, data flows; each kind of bad certificate is
 * refused with its reason and the peer's common name. Parked sessions
 * (tls_session_park): OpenSSL's SSL freed, their records sealed and opened
 * by tlsrec.c, talking to live OpenSSL peers in every TLS 1.3 suite.
 */
#include <errno.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"
#include "unit.h"

static char pki[64];

static const char *pki_file(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", pki, name);
	return buf;
}

static size_t move_ciphertext(struct tls_session *from, struct tls_session *to)
{
	uint8_t buf[4096];
	size_t n, total = 0;

	while ((n = tls_session_get_ciphertext(from, buf, sizeof(buf))) > 0) {
		CHECK(tls_session_put_ciphertext(to, buf, n) == 0, "put ciphertext");
		total += n;
	}
	return total;
}

/* Runs both handshakes to the end; returns the two results. */
static void pump(struct tls_session *server, struct tls_session *client, int *srv, int *cli)
{
	*srv = *cli = 0;
	for (int round = 0; round < 20; round++) {
		if (*cli == 0)
			*cli = tls_session_handshake(client);
		move_ciphertext(client, server);
		if (*srv == 0)
			*srv = tls_session_handshake(server);
		size_t moved = move_ciphertext(server, client);
		if (*srv != 0 && *cli != 0 && moved == 0)
			break;
		if (*srv < 0 && *cli == 0)
			*cli = tls_session_handshake(client); /* let the client read the alert */
	}
}

struct pair {
	struct tls_ctx *sctx, *cctx;
	struct tls_session *server, *client;
};

/* client_cert NULL: the client has none. mode: what the server asks of clients. */
static bool make_pair_mode(struct pair *p, const char *client_cert, const char *client_ca,
			   const char *crl, enum tls_peer_cert mode)
{
	char ca[128], scrt[128], skey[128], ccrt[128], ckey[128], cca[128], crlp[128], err[256];
	char name[64];
	struct tls_config scfg = { TLS_SERVER,
				   pki_file(ca, sizeof(ca), "ca.crt"),
				   pki_file(scrt, sizeof(scrt), "server.crt"),
				   pki_file(skey, sizeof(skey), "server.key"),
				   crl ? pki_file(crlp, sizeof(crlp), crl) : NULL,
				   mode,
				   NULL,
				   NULL,
				   NULL,
				   NULL };
	struct tls_config ccfg = { TLS_CLIENT, pki_file(cca, sizeof(cca), client_ca),
				   NULL,       NULL,
				   NULL,       TLS_PEER_CERT_REQUIRED,
				   NULL,       NULL,
				   NULL,       NULL };

	if (client_cert) {
		snprintf(name, sizeof(name), "%s.crt", client_cert);
		ccfg.cert = pki_file(ccrt, sizeof(ccrt), name);
		snprintf(name, sizeof(name), "%s.key", client_cert);
		ccfg.key = pki_file(ckey, sizeof(ckey), name);
	}
	memset(p, 0, sizeof(*p));
	CHECK(tls_ctx_new(&p->sctx, &scfg, err, sizeof(err)) == 0, "server ctx: %s", err);
	CHECK(tls_ctx_new(&p->cctx, &ccfg, err, sizeof(err)) == 0, "client ctx: %s", err);
	if (!p->sctx || !p->cctx)
		return false;
	p->server = tls_session_new(p->sctx);
	p->client = tls_session_new(p->cctx);
	return p->server && p->client;
}

static bool make_pair(struct pair *p, const char *client_cert, const char *client_ca,
		      const char *crl)
{
	return make_pair_mode(p, client_cert, client_ca, crl, TLS_PEER_CERT_REQUIRED);
}

static void free_pair(struct pair *p)
{
	tls_session_free(p->server);
	tls_session_free(p->client);
	tls_ctx_free(p->sctx);
	tls_ctx_free(p->cctx);
}

/* The SHA-256 fingerprint of a PKI certificate as openssl(1) prints it, colons removed. */
static bool openssl_fingerprint(const char *cert, uint8_t out[TLS_FINGERPRINT_LEN])
{
	char path[128], cmd[256], line[256];
	FILE *f;
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "openssl x509 -noout -fingerprint -sha256 -in %s",
		 pki_file(path, sizeof(path), cert));
	f = popen(cmd, "r");
	if (!f)
		return false;
	if (fgets(line, sizeof(line), f))
		for (char *c = strchr(line, '='); c && *c && n < TLS_FINGERPRINT_LEN; c += 3) {
			unsigned byte;

			if (sscanf(c + 1, "%2x", &byte) != 1)
				break;
			out[n++] = (uint8_t)byte;
		}
	pclose(f);
	return n == TLS_FINGERPRINT_LEN;
}

static void test_good_client(void)
{
	struct pair p;
	int srv, cli;
	uint8_t skeys[256], ckeys[256], buf[64];

	if (!make_pair(&p, "client1", "ca.crt", "crl.pem"))
		goto out;
	pump(p.server, p.client, &srv, &cli);
	CHECK(srv == 1 && cli == 1, "handshake: server %d (%s), client %d (%s)", srv,
	      tls_session_error(p.server), cli, tls_session_error(p.client));
	CHECK(strcmp(tls_session_version(p.server), "TLSv1.3") == 0, "TLS 1.3 preferred: %s",
	      tls_session_version(p.server));
	CHECK(strcmp(tls_session_peer_cn(p.server), "client1") == 0, "client CN: %s",
	      tls_session_peer_cn(p.server));
	CHECK(strcmp(tls_session_peer_cn(p.client), "server") == 0, "server CN");
	CHECK(strcmp(tls_session_peer_subject(p.server), "CN=client1") == 0, "subject: %s",
	      tls_session_peer_subject(p.server));
	CHECK(strspn(tls_session_peer_serial(p.server), "0123456789ABCDEF") ==
			      strlen(tls_session_peer_serial(p.server)) &&
		      strlen(tls_session_peer_serial(p.server)) >= 2,
	      "serial in hex: %s", tls_session_peer_serial(p.server));
	uint8_t fp[TLS_FINGERPRINT_LEN];
	CHECK(openssl_fingerprint("client1.crt", fp) && tls_session_peer_fingerprint(p.server) &&
		      memcmp(fp, tls_session_peer_fingerprint(p.server), sizeof(fp)) == 0,
	      "the client's SHA-256 fingerprint, as openssl x509 -fingerprint says");
	CHECK(tls_session_export(p.server, "EXPORTER-OpenVPN-datakeys", skeys, sizeof(skeys)) ==
			      0 &&
		      tls_session_export(p.client, "EXPORTER-OpenVPN-datakeys", ckeys,
					 sizeof(ckeys)) == 0,
	      "export");
	CHECK(memcmp(skeys, ckeys, sizeof(skeys)) == 0, "both sides export the same key block");
	CHECK(tls_session_write(p.client, (const uint8_t *)"key method 2", 12) == 0, "write");
	move_ciphertext(p.client, p.server);
	CHECK(tls_session_read(p.server, buf, sizeof(buf)) == 12 &&
		      memcmp(buf, "key method 2", 12) == 0,
	      "read");
	CHECK(tls_session_read(p.server, buf, sizeof(buf)) == 0, "nothing more yet");
out:
	free_pair(&p);
}

static const struct {
	const char *cert;      /* the client's certificate */
	const char *client_ca; /* the CA the client trusts */
	const char *crl;
	const char *server_error, *client_error, *cn; /* NULL: that side completes */
} refusals[] = {
	{ "stranger", "ca.crt", NULL, "client certificate signed by an unknown CA", NULL,
	  "stranger" },
	{ "expired", "ca.crt", NULL, "client certificate expired", NULL, "expired" },
	{ "future", "ca.crt", NULL, "client certificate not yet valid", NULL, "future" },
	{ "revoked", "ca.crt", "crl.pem", "client certificate revoked", NULL, "revoked" },
	{ "server-as-client", "ca.crt", NULL, "client certificate has the wrong key usage", NULL,
	  "server-as-client" },
	{ "client2", "other-ca.crt", NULL, NULL, "server certificate signed by an unknown CA",
	  "server" },
	/* Names that `cn` rules would read one way and logs another (issue 11 item 7). */
	{ "two-cn", "ca.crt", NULL, "client certificate has more than one common name", NULL,
	  "client3" },
	{ "nul-cn", "ca.crt", NULL, "client certificate common name contains a NUL byte", NULL,
	  "client1?evil" },
	{ "ctl-cn", "ca.crt", NULL, "client certificate common name contains a control character",
	  NULL, "client1?evil" },
};

static void test_refusals(void)
{
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		struct pair p;
		int srv, cli;

		if (!make_pair(&p, refusals[i].cert, refusals[i].client_ca, refusals[i].crl)) {
			free_pair(&p);
			continue;
		}
		pump(p.server, p.client, &srv, &cli);
		CHECK(srv == -1 || cli == -1, "%s: refused (server %d, client %d)",
		      refusals[i].cert, srv, cli);
		if (refusals[i].server_error) {
			CHECK(srv == -1 && strcmp(tls_session_error(p.server),
						  refusals[i].server_error) == 0,
			      "%s: server says \"%s\"", refusals[i].cert,
			      tls_session_error(p.server));
			CHECK(strcmp(tls_session_peer_cn(p.server), refusals[i].cn) == 0,
			      "%s: CN \"%s\"", refusals[i].cert, tls_session_peer_cn(p.server));
		}
		if (refusals[i].client_error)
			CHECK(cli == -1 && strcmp(tls_session_error(p.client),
						  refusals[i].client_error) == 0,
			      "%s: client says \"%s\"", refusals[i].cert,
			      tls_session_error(p.client));
		free_pair(&p);
	}
}

static void test_load_errors(void)
{
	char ca[128], crt[128], key[128], err[256];
	struct tls_ctx *ctx = NULL;
	struct tls_config cfg = { TLS_SERVER,
				  pki_file(ca, sizeof(ca), "ca.crt"),
				  pki_file(crt, sizeof(crt), "server.crt"),
				  pki_file(key, sizeof(key), "client1.key"),
				  NULL,
				  TLS_PEER_CERT_REQUIRED,
				  NULL,
				  NULL,
				  NULL,
				  NULL };

	CHECK(tls_ctx_new(&ctx, &cfg, err, sizeof(err)) < 0 &&
		      strstr(err, "does not belong to the certificate"),
	      "mismatched key: %s", err);
	cfg.key = pki_file(key, sizeof(key), "server.key");
	cfg.cert = "/nonexistent/server.crt";
	CHECK(tls_ctx_new(&ctx, &cfg, err, sizeof(err)) < 0 &&
		      strstr(err, "cannot load the certificate") &&
		      strstr(err, "/nonexistent/server.crt"),
	      "missing certificate: %s", err);
	cfg.cert = pki_file(crt, sizeof(crt), "server.crt");
	cfg.ca = "/nonexistent/ca.crt";
	CHECK(tls_ctx_new(&ctx, &cfg, err, sizeof(err)) < 0 && strstr(err, "/nonexistent/ca.crt"),
	      "missing CA: %s", err);
	tls_ctx_free(ctx);
}

static struct tls_ctx *server_ctx(const char *crl);

/* A PKI file's text (NUL-terminated, malloc'd), as a .ovpn profile carries it inline. */
static char *pki_text(const char *name)
{
	char path[128];

	return unit_read_text(pki_file(path, sizeof(path), name));
}

/*
 * Inline PEM (a profile's <ca>, <cert>, <key> blocks; a value with a newline)
 * is read from memory: a client made from text alone completes the handshake,
 * and a CA bundle, a CRL and each mistake work as they do from files.
 */
static void test_inline(void)
{
	char *ca = pki_text("ca.crt"), *other = pki_text("other-ca.crt"),
	     *crt = pki_text("client1.crt");
	char *key = pki_text("client1.key"), *crl = pki_text("crl.pem"),
	     *skey = pki_text("server.key");
	char bundle[32768], err[256];
	struct tls_ctx *sctx = server_ctx(NULL), *cctx = NULL;
	struct tls_config ccfg = { TLS_CLIENT, ca,   crt,  key, crl, TLS_PEER_CERT_REQUIRED,
				   "server",   NULL, NULL, NULL };
	struct tls_session *server = NULL, *client = NULL;
	int srv = 0, cli = 0;

	CHECK(tls_is_inline(ca) && !tls_is_inline("/etc/ca.crt") && !tls_is_inline(NULL),
	      "inline means a newline in the value");
	/* A bundle: another CA first, then the one that signs the server. */
	snprintf(bundle, sizeof(bundle), "%s%s", other, ca);
	ccfg.ca = bundle;
	CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) == 0, "inline client ctx: %s", err);
	if (sctx && cctx) {
		server = tls_session_new(sctx);
		client = tls_session_new(cctx);
		pump(server, client, &srv, &cli);
		CHECK(srv == 1 && cli == 1,
		      "handshake from inline PEM: server %d (%s), client %d (%s)", srv,
		      tls_session_error(server), cli, tls_session_error(client));
		CHECK(strcmp(tls_session_peer_cn(server), "client1") == 0,
		      "the inline certificate went");
	}
	tls_session_free(server);
	tls_session_free(client);
	tls_ctx_free(cctx);
	cctx = NULL;

	ccfg.ca = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
	CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) < 0 &&
		      strstr(err, "cannot load the CA certificate from the inline text"),
	      "bad inline CA: %s", err);
	ccfg.ca = ca;
	ccfg.key = skey;
	CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) < 0 &&
		      strstr(err,
			     "the key in the inline text does not belong to the certificate in "
			     "the inline text"),
	      "mismatched inline key: %s", err);
	ccfg.key = "\n";
	CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) < 0 &&
		      strstr(err, "cannot load the private key from the inline text"),
	      "empty inline key: %s", err);
	ccfg.key = key;
	ccfg.crl = "junk\n";
	CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) < 0 &&
		      strstr(err, "cannot load the CRL from the inline text"),
	      "bad inline CRL: %s", err);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
	free(ca), free(other), free(crt), free(key), free(crl), free(skey);
}

/*
 * An encrypted private key (review s3 L3), PKCS#8 or traditional PEM, from its
 * file or inline: opened with key_password; without one refused at once
 * (-ENOKEY) saying to give it, never asked for on the terminal through
 * OpenSSL's default callback (which would block the engine); a wrong one is
 * -EKEYREJECTED, saying so.
 */
static void test_encrypted_key(void)
{
	static const char *const keys[] = { "enc-pkcs8.key", "enc-trad.key" };
	char cmd[512], ca[128], crt[128], key[128], err[256];
	struct tls_ctx *cctx = NULL;
	struct tls_config ccfg = { TLS_CLIENT,
				   pki_file(ca, sizeof(ca), "ca.crt"),
				   pki_file(crt, sizeof(crt), "client1.crt"),
				   NULL,
				   NULL,
				   TLS_PEER_CERT_REQUIRED,
				   NULL,
				   NULL,
				   NULL,
				   NULL };

	snprintf(cmd, sizeof(cmd),
		 "cd %s && openssl pkey -in client1.key -aes256 -passout pass:secret -out "
		 "enc-pkcs8.key && openssl ec -in client1.key -aes256 -passout pass:secret -out "
		 "enc-trad.key 2> /dev/null",
		 pki);
	CHECK(system(cmd) == 0, "openssl pkey -aes256");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char *text = pki_text(keys[i]);

		ccfg.key = pki_file(key, sizeof(key), keys[i]);
		ccfg.key_password = NULL;
		CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) == -ENOKEY &&
			      strstr(err, "is encrypted and no password was given") &&
			      strstr(err, keys[i]),
		      "%s from its file: %s", keys[i], err);
		ccfg.key_password = "wrong";
		CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) == -EKEYREJECTED &&
			      strstr(err, "the password for the private key in") &&
			      strstr(err, "is wrong"),
		      "%s with a wrong password: %s", keys[i], err);
		ccfg.key_password = "secret";
		CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) == 0, "%s with its password: %s",
		      keys[i], err);
		tls_ctx_free(cctx);
		cctx = NULL;
		ccfg.key = text;
		ccfg.key_password = NULL;
		CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) == -ENOKEY &&
			      strstr(err, "the private key in the inline text is encrypted"),
		      "%s inline: %s", keys[i], err);
		ccfg.key_password = "secret";
		CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) == 0,
		      "%s inline with its password: %s", keys[i], err);
		tls_ctx_free(cctx);
		cctx = NULL;
		free(text);
	}
	/* The same client with its plain key loads: the refusal was the encryption's. */
	ccfg.key = pki_file(key, sizeof(key), "client1.key");
	ccfg.key_password = NULL;
	CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) == 0, "plain key: %s", err);
	tls_ctx_free(cctx);
}

/*
 * A client handshake with the server of server_ctx: 1 when both complete, -1
 * when either refuses; the client's reason in why (may be NULL).
 */
static int try_handshake(struct tls_ctx *sctx, struct tls_ctx *cctx, char *why, size_t len)
{
	struct tls_session *server = tls_session_new(sctx), *client = tls_session_new(cctx);
	int srv = 0, cli = 0;

	if (server && client)
		pump(server, client, &srv, &cli);
	CHECK(server && client, "sessions");
	if (why)
		snprintf(why, len, "server %d (%s), client %d (%s)", srv,
			 server ? tls_session_error(server) : "", cli,
			 client ? tls_session_error(client) : "");
	tls_session_free(server);
	tls_session_free(client);
	return srv == 1 && cli == 1 ? 1 : -1;
}

/* A client handshake with the server of server_ctx; true when both complete. */
static bool handshake_with(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
	char why[512];
	bool ok = try_handshake(sctx, cctx, why, sizeof(why)) == 1;

	CHECK(ok, "handshake: %s", why);
	return ok;
}

/* A client context from ccfg loads and completes a handshake with sctx. */
static void loads_and_shakes_hands(struct tls_ctx *sctx, const struct tls_config *ccfg,
				   const char *what)
{
	struct tls_ctx *cctx = NULL;
	char err[256];

	CHECK(tls_ctx_new(&cctx, ccfg, err, sizeof(err)) == 0, "%s: %s", what, err);
	if (sctx && cctx)
		handshake_with(sctx, cctx);
	tls_ctx_free(cctx);
}

/*
 * A profile's pkcs12: a bundle without a password, from its file or inline
 * base64, or without a MAC, gives the certificate, the key and the CA; one with a password
 * opens with it, and without it or with a wrong one is refused saying which.
 */
static void test_pkcs12(void)
{
	char cmd[1024], p12[128], locked[128], ca[128], err[256];
	struct tls_ctx *sctx = server_ctx(NULL), *cctx = NULL;
	struct tls_config ccfg = { .role = TLS_CLIENT, .peer_cert = TLS_PEER_CERT_REQUIRED };
	char *b64;

	snprintf(cmd, sizeof(cmd),
		 "cd %s && openssl pkcs12 -export -in client1.crt -inkey client1.key -certfile "
		 "ca.crt -passout pass: -out client1.p12 && openssl base64 -in client1.p12 -out "
		 "client1.p12.b64 && openssl pkcs12 -export -in client1.crt -inkey client1.key "
		 "-passout pass:secret -out locked.p12 && openssl pkcs12 -export -nomac -in "
		 "client1.crt -inkey client1.key -certfile ca.crt -keypbe NONE -certpbe NONE "
		 "-passout pass: -out nomac.p12",
		 pki);
	CHECK(system(cmd) == 0, "openssl pkcs12 -export");
	ccfg.pkcs12 = pki_file(p12, sizeof(p12), "client1.p12");
	loads_and_shakes_hands(sctx, &ccfg, "pkcs12 file");
	/* Without a MAC there is no password to check: it loads, as PKCS12_parse loads it. */
	ccfg.pkcs12 = pki_file(p12, sizeof(p12), "nomac.p12");
	loads_and_shakes_hands(sctx, &ccfg, "pkcs12 without a MAC");
	b64 = pki_text("client1.p12.b64");
	ccfg.pkcs12 = b64;
	loads_and_shakes_hands(sctx, &ccfg, "inline pkcs12");
	ccfg.pkcs12 = pki_file(locked, sizeof(locked), "locked.p12");
	CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) == -ENOKEY &&
		      strstr(err, "needs a password, and none was given") &&
		      strstr(err, "locked.p12"),
	      "a bundle with a password, none given: %s", err);
	ccfg.key_password = "wrong";
	CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) == -EKEYREJECTED &&
		      strstr(err, "the password for the PKCS#12 bundle") && strstr(err, "is wrong"),
	      "a bundle with a wrong password: %s", err);
	/* The right one opens it (its CA is not in it: ca gives it). */
	ccfg.key_password = "secret";
	ccfg.ca = pki_file(ca, sizeof(ca), "ca.crt");
	CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) == 0, "the bundle's password: %s", err);
	if (sctx && cctx)
		handshake_with(sctx, cctx);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
	free(b64);
}

/*
 * A bundle's CA certificates with a ca of the profile's own (review s3 M2): the
 * bundle carries the CA that signs the server, but the profile's ca is another
 * one, so the server must be refused, as OpenVPN does; a bundle carrying
 * another CA besides still works with the right ca (that CA is only chain).
 * With no ca, crl still applies, and a bundle that carries no CA is refused
 * at load.
 */
static void test_pkcs12_ca(void)
{
	char cmd[512], p12[128], ca[128], crl[128], why[512], err[256];
	struct tls_ctx *sctx = server_ctx(NULL), *cctx = NULL;
	struct tls_config ccfg = { .role = TLS_CLIENT, .peer_cert = TLS_PEER_CERT_REQUIRED };

	snprintf(cmd, sizeof(cmd),
		 "cd %s && openssl pkcs12 -export -in client1.crt -inkey client1.key -certfile "
		 "ca.crt -passout pass: -out with-ca.p12 && openssl pkcs12 -export -in "
		 "client1.crt -inkey client1.key -certfile other-ca.crt -passout pass: -out "
		 "with-other.p12 && openssl pkcs12 -export -in client1.crt -inkey client1.key "
		 "-passout pass: -out bare.p12",
		 pki);
	CHECK(system(cmd) == 0, "openssl pkcs12 -export");
	ccfg.pkcs12 = pki_file(p12, sizeof(p12), "with-ca.p12");
	ccfg.ca = pki_file(ca, sizeof(ca), "other-ca.crt");
	CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) == 0, "pkcs12 and ca: %s", err);
	if (sctx && cctx)
		CHECK(try_handshake(sctx, cctx, why, sizeof(why)) < 0 &&
			      strstr(why, "server certificate signed by an unknown CA"),
		      "the bundle's CA is not trusted when ca is given: %s", why);
	tls_ctx_free(cctx);
	cctx = NULL;
	ccfg.pkcs12 = pki_file(p12, sizeof(p12), "with-other.p12");
	ccfg.ca = pki_file(ca, sizeof(ca), "ca.crt");
	CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) == 0, "pkcs12 and ca: %s", err);
	if (sctx && cctx)
		handshake_with(sctx, cctx);
	tls_ctx_free(cctx);
	cctx = NULL;
	/* Without ca, crl still applies: read (a bad one refused), and the server passes it. */
	ccfg.pkcs12 = pki_file(p12, sizeof(p12), "with-ca.p12");
	ccfg.ca = NULL;
	ccfg.crl = "junk\n";
	CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) < 0 &&
		      strstr(err, "cannot load the CRL from the inline text"),
	      "pkcs12 without ca, a bad crl: %s", err);
	ccfg.crl = pki_file(crl, sizeof(crl), "crl.pem");
	CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) == 0, "pkcs12 without ca, crl: %s", err);
	if (sctx && cctx)
		handshake_with(sctx, cctx);
	tls_ctx_free(cctx);
	cctx = NULL;
	ccfg.crl = NULL;
	ccfg.pkcs12 = pki_file(p12, sizeof(p12), "bare.p12");
	CHECK(tls_ctx_new(&cctx, &ccfg, err, sizeof(err)) < 0 &&
		      strstr(err, "bare.p12 carries no CA certificate") && strstr(err, "give ca"),
	      "a bundle without CA and no ca: %s", err);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}

/* auth.certificate: which clients complete the handshake with each mode. */
static const struct {
	const char *cert; /* NULL: the client has none */
	enum tls_peer_cert mode;
	bool completes;
	const char *cn;
} cert_modes[] = {
	{ NULL, TLS_PEER_CERT_REQUIRED, false, "" },
	{ NULL, TLS_PEER_CERT_OPTIONAL, true, "" },
	{ NULL, TLS_PEER_CERT_NONE, true, "" },
	{ "client1", TLS_PEER_CERT_OPTIONAL, true, "client1" },
	{ "stranger", TLS_PEER_CERT_OPTIONAL, false, "stranger" }, /* presented: verified */
	{ "client1", TLS_PEER_CERT_NONE, true, "" },		   /* not asked for */
};

static void test_cert_modes(void)
{
	for (size_t i = 0; i < sizeof(cert_modes) / sizeof(cert_modes[0]); i++) {
		struct pair p;
		int srv, cli;

		if (make_pair_mode(&p, cert_modes[i].cert, "ca.crt", NULL, cert_modes[i].mode)) {
			pump(p.server, p.client, &srv, &cli);
			CHECK((srv == 1 && cli == 1) == cert_modes[i].completes,
			      "case %zu: server %d (%s), client %d", i, srv,
			      tls_session_error(p.server), cli);
			CHECK(strcmp(tls_session_peer_cn(p.server), cert_modes[i].cn) == 0,
			      "case %zu: CN \"%s\"", i, tls_session_peer_cn(p.server));
			CHECK(!cert_modes[i].completes || cert_modes[i].cn[0] ||
				      !tls_session_peer_fingerprint(p.server),
			      "case %zu: no certificate, no fingerprint", i);
		}
		free_pair(&p);
	}
}

/* A client's checks on the server certificate: serverAuth required, name and fingerprint pins
 * (issue 11 item 5). */
static void test_server_checks(void)
{
	static const struct {
		const char *server_cert, *name, *fingerprint_of;
		const char *client_error; /* NULL: completes */
	} cases[] = {
		{ "server", NULL, NULL, NULL },
		{ "server-no-eku", NULL, NULL,
		  "server certificate lacks the serverAuth extended key usage" },
		{ "server", "server", NULL, NULL },
		{ "server", "elsewhere", NULL,
		  "server certificate name \"server\" does not match tls.server_name "
		  "\"elsewhere\"" },
		{ "server", NULL, "server.crt", NULL },
		{ "server", NULL, "client2.crt",
		  "server certificate does not have the SHA-256 fingerprint of "
		  "tls.server_fingerprint" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char ca[128], crt[128], key[128], ccrt[128], ckey[128], name[64], err[256];
		uint8_t fp[TLS_FINGERPRINT_LEN];
		struct tls_config scfg = { TLS_SERVER, pki_file(ca, sizeof(ca), "ca.crt"),
					   NULL,       NULL,
					   NULL,       TLS_PEER_CERT_REQUIRED,
					   NULL,       NULL,
					   NULL,       NULL };
		struct tls_config ccfg = { TLS_CLIENT,
					   ca,
					   pki_file(ccrt, sizeof(ccrt), "client1.crt"),
					   pki_file(ckey, sizeof(ckey), "client1.key"),
					   NULL,
					   TLS_PEER_CERT_REQUIRED,
					   cases[i].name,
					   NULL,
					   NULL,
					   NULL };
		struct pair p = { 0 };
		int srv, cli;

		snprintf(name, sizeof(name), "%s.crt", cases[i].server_cert);
		scfg.cert = pki_file(crt, sizeof(crt), name);
		snprintf(name, sizeof(name), "%s.key", cases[i].server_cert);
		scfg.key = pki_file(key, sizeof(key), name);
		if (cases[i].fingerprint_of) {
			CHECK(openssl_fingerprint(cases[i].fingerprint_of, fp), "fingerprint");
			ccfg.server_fingerprint = fp;
		}
		CHECK(tls_ctx_new(&p.sctx, &scfg, err, sizeof(err)) == 0, "server ctx: %s", err);
		CHECK(tls_ctx_new(&p.cctx, &ccfg, err, sizeof(err)) == 0, "client ctx: %s", err);
		p.server = p.sctx ? tls_session_new(p.sctx) : NULL;
		p.client = p.cctx ? tls_session_new(p.cctx) : NULL;
		if (p.server && p.client) {
			pump(p.server, p.client, &srv, &cli);
			CHECK(cases[i].client_error
				      ? cli == -1 && strcmp(tls_session_error(p.client),
							    cases[i].client_error) == 0
				      : srv == 1 && cli == 1,
			      "case %zu: client %d \"%s\"", i, cli, tls_session_error(p.client));
		}
		free_pair(&p);
	}
}

/* A server context with crl (NULL for none), for verifying an established session again. */
static struct tls_ctx *server_ctx(const char *crl)
{
	char ca[128], crt[128], key[128], crlp[128], err[256];
	struct tls_config cfg = { TLS_SERVER,
				  pki_file(ca, sizeof(ca), "ca.crt"),
				  pki_file(crt, sizeof(crt), "server.crt"),
				  pki_file(key, sizeof(key), "server.key"),
				  crl ? pki_file(crlp, sizeof(crlp), crl) : NULL,
				  TLS_PEER_CERT_REQUIRED,
				  NULL,
				  NULL,
				  NULL,
				  NULL };
	struct tls_ctx *ctx = NULL;

	CHECK(tls_ctx_new(&ctx, &cfg, err, sizeof(err)) == 0, "server ctx: %s", err);
	return ctx;
}

/* A reload's new CRL reaches sessions that were established before it (issue 11 item 3). */
static void test_reverify(void)
{
	static const struct {
		const char *cert;
		const char *crl; /* of the context the session is verified against again */
		const char *why; /* NULL: still valid */
	} cases[] = {
		{ "revoked", "crl.pem", "client certificate revoked" },
		{ "revoked", NULL, NULL },
		{ "client1", "crl.pem", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tls_ctx *fresh = server_ctx(cases[i].crl);
		char why[TLS_ERR_MAX] = "";
		struct pair p = { 0 };
		int srv, cli;

		if (fresh && make_pair(&p, cases[i].cert, "ca.crt", NULL)) {
			pump(p.server, p.client, &srv, &cli);
			CHECK(srv == 1 && cli == 1, "%s: completes without a CRL", cases[i].cert);
			int rc = tls_session_reverify(p.server, fresh, why, sizeof(why));
			CHECK(cases[i].why ? rc == -1 && strcmp(why, cases[i].why) == 0 : rc == 0,
			      "case %zu: %s verified again: %d \"%s\"", i, cases[i].cert, rc, why);
		}
		free_pair(&p);
		tls_ctx_free(fresh);
	}
}

/*
 * A plain OpenSSL client held to TLS 1.2 and suites, with client1's
 * certificate, against a server session of ours; resume: a session of an
 * earlier connection to offer. 1 when both sides completed.
 */
static int raw_tls12(struct tls_ctx *sctx, const char *suites, SSL_SESSION **resume, bool *reused)
{
	char crt[128], key[128];
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	struct tls_session *server = tls_session_new(sctx);
	SSL *raw = cctx ? SSL_new(cctx) : NULL;
	BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
	uint8_t buf[4096];
	int srv = 0, cli = 0;

	if (!raw || !server || !in || !out)
		goto out;
	SSL_set_min_proto_version(raw, TLS1_2_VERSION);
	SSL_set_max_proto_version(raw, TLS1_2_VERSION);
	CHECK(SSL_set_cipher_list(raw, suites) == 1, "suites %s", suites);
	SSL_use_certificate_chain_file(raw, pki_file(crt, sizeof(crt), "client1.crt"));
	SSL_use_PrivateKey_file(raw, pki_file(key, sizeof(key), "client1.key"), SSL_FILETYPE_PEM);
	BIO_set_mem_eof_return(in, -1);
	SSL_set_bio(raw, in, out);
	in = out = NULL;
	if (*resume)
		SSL_set_session(raw, *resume);
	SSL_set_connect_state(raw);
	for (int round = 0; round < 20 && (cli == 0 || srv == 0); round++) {
		int n;

		if (cli == 0) {
			int rc = SSL_do_handshake(raw);

			cli = rc == 1 ? 1 : SSL_get_error(raw, rc) == SSL_ERROR_WANT_READ ? 0 : -1;
		}
		while ((n = BIO_read(SSL_get_wbio(raw), buf, sizeof(buf))) > 0)
			CHECK(tls_session_put_ciphertext(server, buf, (size_t)n) == 0, "put");
		if (srv == 0)
			srv = tls_session_handshake(server);
		size_t m;
		while ((m = tls_session_get_ciphertext(server, buf, sizeof(buf))) > 0)
			BIO_write(SSL_get_rbio(raw), buf, (int)m);
		if (cli < 0 || srv < 0)
			break;
	}
	*reused = SSL_session_reused(raw);
	if (!*resume && cli == 1)
		*resume = SSL_get1_session(raw);
out:
	BIO_free(in);
	BIO_free(out);
	SSL_free(raw);
	SSL_CTX_free(cctx);
	tls_session_free(server);
	return srv == 1 && cli == 1;
}

/* TLS 1.2 only with ECDHE and AEAD suites, and no session resumption (issue 11 item 8). */
static void test_tls12_suites(void)
{
	static const struct {
		const char *suites;
		bool completes;
	} cases[] = {
		{ "ECDHE-ECDSA-AES256-GCM-SHA384", true },
		{ "ECDHE-ECDSA-CHACHA20-POLY1305", true },
		{ "ECDHE-ECDSA-AES128-GCM-SHA256", true },
		{ "ECDHE-ECDSA-AES256-SHA", false },	/* CBC: no AEAD */
		{ "ECDHE-ECDSA-AES128-SHA256", false }, /* CBC: no AEAD */
	};
	struct pair p;
	SSL_SESSION *session = NULL;
	bool reused;

	if (!make_pair(&p, "client1", "ca.crt", NULL))
		goto out;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		SSL_SESSION *none = NULL;

		CHECK(raw_tls12(p.sctx, cases[i].suites, &none, &reused) == cases[i].completes,
		      "TLS 1.2 with %s: %s expected", cases[i].suites,
		      cases[i].completes ? "completion" : "refusal");
		SSL_SESSION_free(none);
	}
	/* A client that offers the session of its first connection gets a full handshake. */
	CHECK(raw_tls12(p.sctx, "ECDHE-ECDSA-AES256-GCM-SHA384", &session, &reused) && session,
	      "first TLS 1.2 connection");
	CHECK(raw_tls12(p.sctx, "ECDHE-ECDSA-AES256-GCM-SHA384", &session, &reused) && !reused,
	      "a second connection offering the first one's session completes without resuming");
	SSL_SESSION_free(session);
out:
	free_pair(&p);
}

/* Moves ciphertext one byte at a time: records split across control packets. */
static void trickle(struct tls_session *from, struct tls_session *to)
{
	uint8_t b;

	while (tls_session_get_ciphertext(from, &b, 1) == 1)
		CHECK(tls_session_put_ciphertext(to, &b, 1) == 0, "put a byte");
}

/* Sends text from one session to the other; true when it arrives whole. */
static bool say(struct tls_session *from, struct tls_session *to, const char *text, bool bytewise)
{
	uint8_t buf[64];
	size_t len = strlen(text), got = 0;
	ssize_t n;

	if (tls_session_write(from, (const uint8_t *)text, len) < 0)
		return false;
	if (bytewise)
		trickle(from, to);
	else
		move_ciphertext(from, to);
	/* A small buffer: a record longer than the reader's buffer comes in parts. */
	while (got < len && (n = tls_session_read(to, buf, 7)) > 0) {
		if (memcmp(buf, text + got, (size_t)n) != 0)
			return false;
		got += (size_t)n;
	}
	return got == len && tls_session_read(to, buf, sizeof(buf)) == 0;
}

/*
 * Parked after a few records each way, a session keeps talking with its
 * peer, parked or not, both directions, whole or split records, and its
 * peer's identity and certificate check stay.
 */
static void test_park(void)
{
	struct tls_ctx *fresh = server_ctx("crl.pem");
	char why[TLS_ERR_MAX] = "";
	struct pair p;
	int srv, cli;

	if (!fresh || !make_pair(&p, "revoked", "ca.crt", NULL))
		goto out;
	CHECK(!tls_session_park(p.server), "not before the handshake");
	pump(p.server, p.client, &srv, &cli);
	CHECK(srv == 1 && cli == 1, "handshake");
	CHECK(say(p.client, p.server, "key method 2 from the client", false) &&
		      say(p.server, p.client, "key method 2 from the server", false) &&
		      say(p.client, p.server, "PUSH_REQUEST", false),
	      "records under OpenSSL first");
	CHECK(tls_session_write(p.server, (const uint8_t *)"x", 1) == 0 &&
		      !tls_session_park(p.server),
	      "not with ciphertext waiting");
	move_ciphertext(p.server, p.client);
	CHECK(tls_session_read(p.client, (uint8_t *)why, sizeof(why)) == 1, "read it");
	CHECK(tls_session_park(p.server) && tls_session_parked(p.server), "the server parks");
	CHECK(strcmp(tls_session_version(p.server), "TLSv1.3") == 0 &&
		      strcmp(tls_session_peer_cn(p.server), "revoked") == 0 &&
		      tls_session_peer_fingerprint(p.server),
	      "its version and the peer's names stay");
	CHECK(say(p.server, p.client, "PUSH_REPLY,auth-token renewed", false), "parked -> live");
	CHECK(say(p.client, p.server, "EXIT", false), "live -> parked");
	CHECK(say(p.client, p.server, "a record split byte by byte", true), "split records");
	CHECK(tls_session_park(p.client), "the client parks too");
	CHECK(say(p.client, p.server, "parked -> parked", false) &&
		      say(p.server, p.client, "and back", true),
	      "both parked");
	CHECK(tls_session_buffered(p.server) == 0 && tls_session_buffered(p.client) == 0,
	      "nothing held once read");
	uint8_t ekm[16];
	CHECK(tls_session_export(p.server, "EXPORTER-OpenVPN-datakeys", ekm, sizeof(ekm)) < 0,
	      "no export once parked");
	CHECK(tls_session_reverify(p.server, fresh, why, sizeof(why)) == -1 &&
		      strcmp(why, "client certificate revoked") == 0,
	      "the certificate checked again: %s", why);
	CHECK(tls_session_reverify(p.client, p.cctx, why, sizeof(why)) == 0,
	      "the server's still verifies: %s", why);
	CHECK(tls_session_dropped(p.server) == 0, "nothing dropped");
out:
	free_pair(&p);
	tls_ctx_free(fresh);
}

/*
 * A parked server session against a plain OpenSSL client in one TLS 1.3
 * suite: data both ways, then what the client may still send that is not
 * data: a KeyUpdate (its next records do not open: the session fails) or
 * a close_notify (dropped and counted).
 */
static void park_against(struct tls_ctx *sctx, const char *suite, bool key_update)
{
	char crt[128], key[128];
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	struct tls_session *server = tls_session_new(sctx);
	SSL *raw = cctx ? SSL_new(cctx) : NULL;
	uint8_t buf[4096];
	size_t m, done;
	int n, srv = 0, cli = 0;

	if (!raw || !server)
		goto out;
	SSL_set_min_proto_version(raw, TLS1_3_VERSION);
	CHECK(SSL_set_ciphersuites(raw, suite) == 1, "suite %s", suite);
	SSL_use_certificate_chain_file(raw, pki_file(crt, sizeof(crt), "client1.crt"));
	SSL_use_PrivateKey_file(raw, pki_file(key, sizeof(key), "client1.key"), SSL_FILETYPE_PEM);
	SSL_set_bio(raw, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	BIO_set_mem_eof_return(SSL_get_rbio(raw), -1);
	SSL_set_connect_state(raw);
	for (int round = 0; round < 20 && (cli == 0 || srv == 0); round++) {
		if (cli == 0 && SSL_do_handshake(raw) == 1) {
			cli = 1; /* its first data goes with its Finished, in the same flight */
			CHECK(SSL_write_ex(raw, "early", 5, &done) == 1, "%s: write", suite);
		}
		while ((n = BIO_read(SSL_get_wbio(raw), buf, sizeof(buf))) > 0)
			CHECK(tls_session_put_ciphertext(server, buf, (size_t)n) == 0, "put");
		if (srv == 0)
			srv = tls_session_handshake(server);
		while ((m = tls_session_get_ciphertext(server, buf, sizeof(buf))) > 0)
			BIO_write(SSL_get_rbio(raw), buf, (int)m);
	}
	CHECK(srv == 1 && cli == 1, "%s: handshake", suite);
	CHECK(strcmp(tls_session_cipher(server), suite) == 0, "%s: negotiated %s", suite,
	      tls_session_cipher(server));
	CHECK(tls_session_read(server, buf, sizeof(buf)) == 5, "%s: its first record", suite);
	CHECK(tls_session_park(server), "%s: parked", suite);
	CHECK(tls_session_write(server, (const uint8_t *)"RESTART", 8) == 0, "%s: write", suite);
	while ((m = tls_session_get_ciphertext(server, buf, sizeof(buf))) > 0)
		BIO_write(SSL_get_rbio(raw), buf, (int)m);
	CHECK(SSL_read_ex(raw, buf, sizeof(buf), &done) == 1 && done == 8 &&
		      memcmp(buf, "RESTART", 8) == 0,
	      "%s: OpenSSL opens what the parked session sealed", suite);
	if (key_update)
		SSL_key_update(raw, SSL_KEY_UPDATE_NOT_REQUESTED);
	SSL_write_ex(raw, "EXIT", 5, &done);
	if (!key_update)
		SSL_shutdown(raw); /* close_notify */
	while ((n = BIO_read(SSL_get_wbio(raw), buf, sizeof(buf))) > 0)
		CHECK(tls_session_put_ciphertext(server, buf, (size_t)n) == 0, "put");
	if (key_update) {
		CHECK(tls_session_read(server, buf, sizeof(buf)) < 0 &&
			      strstr(tls_session_error(server), "did not authenticate"),
		      "%s: after a KeyUpdate nothing opens: %s", suite, tls_session_error(server));
		CHECK(tls_session_dropped(server) == 1, "%s: the KeyUpdate dropped", suite);
	} else {
		CHECK(tls_session_read(server, buf, sizeof(buf)) == 5 &&
			      memcmp(buf, "EXIT", 5) == 0,
		      "%s: the parked session opens what OpenSSL sealed", suite);
		CHECK(tls_session_read(server, buf, sizeof(buf)) == 0 &&
			      tls_session_dropped(server) == 1,
		      "%s: the close_notify dropped and counted", suite);
	}
out:
	SSL_free(raw);
	SSL_CTX_free(cctx);
	tls_session_free(server);
}

static void test_park_suites(void)
{
	static const char *const suites[] = { "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
					      "TLS_CHACHA20_POLY1305_SHA256" };
	struct tls_ctx *sctx = server_ctx(NULL);

	for (size_t i = 0; sctx && i < sizeof(suites) / sizeof(suites[0]); i++) {
		park_against(sctx, suites[i], false);
		park_against(sctx, suites[i], true);
	}
	tls_ctx_free(sctx);
}

int main(void)
{
	char cmd[160];

	snprintf(pki, sizeof(pki), "/tmp/mvt-tls-XXXXXX");
	if (!mkdtemp(pki)) {
		CHECK(0, "mkdtemp");
		return unit_report("test_tls");
	}
	snprintf(cmd, sizeof(cmd), "scripts/make-pki %s 2 > /dev/null", pki);
	CHECK(system(cmd) == 0, "scripts/make-pki (needs openssl)");
	test_good_client();
	test_refusals();
	test_cert_modes();
	test_tls12_suites();
	test_reverify();
	test_park();
	test_park_suites();
	test_server_checks();
	test_load_errors();
	test_inline();
	test_encrypted_key();
	test_pkcs12();
	test_pkcs12_ca();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
	CHECK(system(cmd) == 0, "cleanup");
	return unit_report("test_tls");
}
