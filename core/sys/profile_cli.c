// SPDX-License-Identifier: MIT
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "genkey_cli.h"
#include "pki.h"
#include "pki_index.h"
#include "profile_cli.h"
#include "script.h"

enum {
	PROFILE_FILE_MAX = 256 * 1024, /* a certificate chain or key file, generously */
	PROFILE_ERR_MAX = 2048,
};

static const char USAGE[] =
	"usage: moonvpn profile [--config FILE] [--pki DIR] [--cert FILE --key FILE] NAME > "
	"NAME.ovpn\n"
	"  --config FILE   the server's configuration (default vpn.lua)\n"
	"  --pki DIR       where NAME's certificate is: DIR/issued/NAME.crt and\n"
	"                  DIR/private/NAME.key (default: the directory of tls.ca)\n"
	"  --cert, --key   NAME's certificate and key files instead\n";

struct profile {
	const char *name, *pki, *cert, *key;
	const struct config *cfg;
	bool asks_password;
	FILE *out; /* a memory stream: nothing reaches stdout unless it all worked */
};

/* The file at path, whole (NUL-terminated, malloc'd); NULL after a message. */
static char *slurp(const char *path, const char *what, const char *hint)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (!f) {
		fprintf(stderr, "moonvpn profile: cannot read %s %s: %s%s\n", what, path,
			strerror(errno),
			errno == EACCES ? " (run as a user who may read it)" : hint);
		return NULL;
	}
	buf = malloc(PROFILE_FILE_MAX + 1);
	n = buf ? fread(buf, 1, PROFILE_FILE_MAX + 1, f) : 0;
	fclose(f);
	if (!buf || n > PROFILE_FILE_MAX) {
		fprintf(stderr, "moonvpn profile: %s %s: %s\n", what, path,
			buf ? "larger than 256 KiB: not a PEM file" : "out of memory");
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/*
 * Writes <tag>, the PEM blocks of the file (easy-rsa puts a text dump of the
 * certificate before its PEM, which some clients refuse), </tag>. 0 or -1.
 */
static int inline_pem(struct profile *p, const char *tag, const char *path, const char *what)
{
	char *text = slurp(path, what, "");
	const char *begin, *end, *last = NULL;

	if (!text)
		return -1;
	begin = strstr(text, "-----BEGIN ");
	for (end = begin; end && (end = strstr(end, "-----END ")); end++)
		last = end;
	if (!begin || !last || !strstr(last + 9, "-----")) {
		fprintf(stderr, "moonvpn profile: %s %s: no PEM block (-----BEGIN ...) in it\n",
			what, path);
		crypto_wipe(text, strlen(text));
		free(text);
		return -1;
	}
	end = strstr(last + 9, "-----") + 5;
	fprintf(p->out, "<%s>\n%.*s\n</%s>\n", tag, (int)(end - begin), begin, tag);
	crypto_wipe(text, strlen(text));
	free(text);
	return 0;
}

/* The transport and port of each listener ("udp://0.0.0.0:1194 tcp://[::]:443"). */
static int listeners(const char *listen, char proto[2][4], char port[2][6])
{
	int n = 0;
	const char *s = listen;

	while (s && *s && n < 2) {
		const char *sp = strchr(s, ' ');
		size_t len = sp ? (size_t)(sp - s) : strlen(s);
		const char *colon = memrchr(s, ':', len);

		snprintf(proto[n], 4, "%.3s", s);
		snprintf(port[n], 6, "%.*s", colon ? (int)(len - (size_t)(colon + 1 - s)) : 0,
			 colon ? colon + 1 : "");
		n++;
		s = sp ? sp + 1 : NULL;
	}
	return n;
}

/* One remote line per public address and listener, or as a public endpoint says. */
static int remotes(struct profile *p)
{
	char proto[2][4], port[2][6];
	int n = listeners(p->cfg->listen, proto, port);

	if (p->cfg->n_public_hosts == 0) {
		fprintf(stderr,
			"moonvpn profile: %s has no public address: add public = { "
			"\"vpn.example.com\" } to vpn.server { ... }, the name or address "
			"clients reach this server at\n",
			p->cfg->source);
		return -1;
	}
	for (size_t i = 0; i < p->cfg->n_public_hosts; i++) {
		const char *h = p->cfg->public_hosts[i];
		const char *rest = strstr(h, "://");

		if (rest) {
			const char *colon = strrchr(rest + 3, ':');
			const char *host = rest + 3;
			size_t hlen = (size_t)(colon - host);

			if (host[0] == '[') /* [v6]:port: OpenVPN takes the address bare */
				host++, hlen -= 2;
			fprintf(p->out, "remote %.*s %s %.3s\n", (int)hlen, host, colon + 1, h);
			continue;
		}
		for (int j = 0; j < n; j++)
			fprintf(p->out, "remote %s %s %s\n", h, port[j], proto[j]);
	}
	return 0;
}

/* verify-x509-name with the server certificate's CN, quoted when it must be. */
static int server_name(struct profile *p)
{
	char cn[PKI_NAME_MAX * 4 + 1], err[PROFILE_ERR_MAX];

	if (pki_cert_cn(p->cfg->tls_cert, cn, sizeof(cn), err, sizeof(err)) < 0) {
		fprintf(stderr, "moonvpn profile: tls.cert: %s\n", err);
		return -1;
	}
	if (strpbrk(cn, " \t\"\\'#;")) {
		fputs("verify-x509-name \"", p->out);
		for (const char *c = cn; *c; c++)
			fprintf(p->out, "%s%c", (*c == '"' || *c == '\\') ? "\\" : "", *c);
		fputs("\" name\n", p->out);
	} else {
		fprintf(p->out, "verify-x509-name %s name\n", cn);
	}
	return 0;
}

static int header(struct profile *p)
{
	fprintf(p->out, "# %s: made by moonvpn profile from %s\nclient\ndev %s\n", p->name,
		p->cfg->source, p->cfg->device.type == DEVICE_TAP ? "tap" : "tun");
	if (remotes(p) < 0)
		return -1;
	fputs("nobind\nremote-cert-tls server\n", p->out);
	if (server_name(p) < 0)
		return -1;
	fputs("data-ciphers ", p->out);
	for (size_t i = 0; i < p->cfg->n_ciphers; i++)
		fprintf(p->out, "%s%s", i ? ":" : "", p->cfg->ciphers[i]);
	fputs("\n", p->out);
	if (p->asks_password)
		fputs("auth-user-pass\n", p->out);
	fputs("verb 3\n", p->out);
	return 0;
}

/* Whether DIR's index has NAME revoked and nothing valid for it. */
static bool is_revoked(const struct profile *p)
{
	char path[PATH_MAX], err[PROFILE_ERR_MAX], cn[PKI_INDEX_SUBJECT_MAX];
	struct pki_index ix;
	bool revoked = false, valid = false;

	snprintf(path, sizeof(path), "%s/index.txt", p->pki);
	if (pki_index_read(path, &ix, err, sizeof(err)) < 0)
		return false;
	for (size_t i = 0; i < ix.n; i++) {
		pki_index_cn(&ix.e[i], cn, sizeof(cn));
		if (strcmp(cn, p->name) == 0) {
			revoked |= ix.e[i].status == 'R';
			valid |= ix.e[i].status == 'V';
		}
	}
	pki_index_free(&ix);
	return revoked && !valid;
}

/*
 * A directory of NAME.crt and NAME.key side by side (scripts/make-pki's, and
 * many hand-made ones): true, with the paths, when NAME.crt is there.
 */
static bool flat_layout(const struct profile *p, char cert[PATH_MAX], char key[PATH_MAX])
{
	char c[PATH_MAX];

	snprintf(c, sizeof(c), "%s/%s.crt", p->pki, p->name);
	if (access(c, F_OK) < 0)
		return false;
	snprintf(cert, PATH_MAX, "%s", c);
	snprintf(key, PATH_MAX, "%s/%s.key", p->pki, p->name);
	return true;
}

/*
 * NAME's certificate and key in the PKI directory: issued/NAME.crt and
 * private/NAME.key (easy-rsa's layout), else NAME.crt and NAME.key side by
 * side. False when there is none (said on stderr unless certificates are optional).
 */
static bool pki_paths(const struct profile *p, char cert[PATH_MAX], char key[PATH_MAX])
{
	snprintf(cert, PATH_MAX, "%s/issued/%s.crt", p->pki, p->name);
	snprintf(key, PATH_MAX, "%s/private/%s.key", p->pki, p->name);
	if (access(cert, F_OK) == 0 || flat_layout(p, cert, key))
		return true;
	if (p->cfg->client_cert == TLS_PEER_CERT_OPTIONAL)
		return false;
	if (is_revoked(p))
		fprintf(stderr,
			"moonvpn profile: %s's certificate is revoked: issue a new one with: "
			"moonvpn pki --dir %s client %s\n",
			p->name, p->pki, p->name);
	else
		fprintf(stderr,
			"moonvpn profile: no certificate for %s: %s/issued/%s.crt does not exist "
			"(issue one with: moonvpn pki --dir %s client %s, or give --cert FILE "
			"--key "
			"FILE)\n",
			p->name, p->pki, p->name, p->pki, p->name);
	return false;
}

/* NAME's certificate and key: from --cert/--key, or from the PKI directory. */
static int identity(struct profile *p)
{
	char cert[PATH_MAX], key[PATH_MAX];

	if (p->cfg->client_cert == TLS_PEER_CERT_NONE)
		return 0;
	if (p->cert) {
		snprintf(cert, sizeof(cert), "%s", p->cert);
		snprintf(key, sizeof(key), "%s", p->key);
	} else if (!pki_paths(p, cert, key)) {
		return p->cfg->client_cert == TLS_PEER_CERT_OPTIONAL ? 0 : -1;
	}
	if (inline_pem(p, "cert", cert, "the client certificate") < 0 ||
	    inline_pem(p, "key", key, "the client key") < 0)
		return -1;
	return 0;
}

/* The control channel's key: a fresh tls-crypt-v2 client key, else tls-crypt or tls-auth. */
static int control_key(struct profile *p)
{
	const struct config *c = p->cfg;

	if (c->tls_crypt_v2_key) {
		char text[TLSCRYPTV2_KEY_TEXT_MAX], id[TLSCRYPTV2_ID_TEXT_LEN + 1];
		size_t len;

		if (genkey_tls_crypt_v2_client("moonvpn profile: tls.tls_crypt_v2",
					       c->tls_crypt_v2_key, NULL, text, sizeof(text), &len,
					       id))
			return -1;
		fprintf(p->out, "<tls-crypt-v2>\n%.*s</tls-crypt-v2>\n", (int)len, text);
		crypto_wipe(text, sizeof(text));
		fprintf(stderr, "%s: tls-crypt-v2 client key %s (for tls_crypt_v2_revoked)\n",
			p->name, id);
		return 0;
	}
	if (c->tls_crypt_key)
		return inline_pem(p, "tls-crypt", c->tls_crypt_key, "the tls-crypt key");
	if (c->tls_auth_key) {
		if (c->tls_auth_direction >= 0)
			fprintf(p->out, "key-direction %d\n", 1 - c->tls_auth_direction);
		return inline_pem(p, "tls-auth", c->tls_auth_key, "the tls-auth key");
	}
	return 0;
}

static int write_profile(struct profile *p)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	p->out = open_memstream(&text, &len);
	if (!p->out) {
		fprintf(stderr, "moonvpn profile: out of memory\n");
		return 1;
	}
	rc = header(p) < 0 || inline_pem(p, "ca", p->cfg->tls_ca, "the CA certificate") < 0 ||
	     identity(p) < 0 || control_key(p) < 0;
	fclose(p->out);
	if (rc == 0 && (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)) {
		fprintf(stderr, "moonvpn profile: cannot write the profile: %s\n", strerror(errno));
		rc = 1;
	}
	crypto_wipe(text, len);
	free(text);
	return rc;
}

/* Loads the configuration (opening nothing) and writes NAME's profile. */
static int run(const char *root, struct profile *p, const char *config)
{
	char err[PROFILE_ERR_MAX], pki[PATH_MAX];
	struct config *cfg = NULL;
	struct script *s = script_new(NULL, root, err, sizeof(err));
	int rc = 1;

	if (!s) {
		fprintf(stderr, "moonvpn profile: %s\n", err);
		return 1;
	}
	if (script_load_config(s, config, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (cfg->role != CONFIG_SERVER) {
		fprintf(stderr,
			"moonvpn profile: %s is a client's configuration (vpn.client): "
			"give the server's with --config\n",
			config);
		goto out;
	}
	if (!p->pki) {
		snprintf(pki, sizeof(pki), "%s", cfg->tls_ca);
		p->pki = dirname(pki);
	}
	p->cfg = cfg;
	p->asks_password = script_asks_password(s);
	rc = write_profile(p);
out:
	config_free(cfg);
	script_free(s);
	return rc;
}

int profile_cli_main(const char *root, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "pki", required_argument, NULL, 'p' },
		{ "cert", required_argument, NULL, 'C' },   { "key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },	    { NULL, 0, NULL, 0 },
	};
	struct profile p = { 0 };
	const char *config = "vpn.lua";
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'p':
			p.pki = optarg;
			break;
		case 'C':
			p.cert = optarg;
			break;
		case 'K':
			p.key = optarg;
			break;
		case 'h':
			fputs(USAGE, stdout);
			return 0;
		default:
			fputs(USAGE, stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || !p.cert != !p.key) {
		fputs(!p.cert != !p.key ? "moonvpn profile: --cert and --key go together\n" : USAGE,
		      stderr);
		return 2;
	}
	p.name = argv[optind];
	if (!pki_name_ok(p.name)) {
		fprintf(stderr,
			"moonvpn profile: \"%s\" cannot name a client: use letters, digits and _ . "
			"@ - (not first: . or -)\n",
			p.name);
		return 2;
	}
	return run(root, &p, config);
}
