// SPDX-License-Identifier: MIT
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pki.h"
#include "pki_cli.h"
#include "pki_index.h"

enum { PKI_CLI_ERR_MAX = 1024 };

static const char USAGE[] =
	"usage: moonvpn pki [--dir DIR] [--days N] [--rsa BITS] COMMAND\n"
	"  init [CN]        a new CA in DIR (default ./pki; CN default \"moonvpn CA\")\n"
	"  server NAME      issue a server certificate (issued/NAME.crt, private/NAME.key)\n"
	"  client NAME      issue a client certificate\n"
	"  revoke NAME      revoke NAME's certificate and write crl.pem again\n"
	"  list             the certificates issued, valid and revoked\n"
	"  crl              write crl.pem again (it is valid for --days, default 180)\n"
	"DIR may be an easy-rsa 3 pki/ directory. Keys are EC P-256 unless --rsa BITS;\n"
	"--days: how long what is made stays valid (CA 3650, certificates 825, CRL 180).\n";

/* "YYMMDDHHMMSSZ" or "YYYYMMDDHHMMSSZ" as YYYY-MM-DD. */
static void date_text(const char *t, char out[16])
{
	size_t n = strcspn(t, ",");

	if (n == 13)
		snprintf(out, 16, "%s%.2s-%.2s-%.2s",
			 atoi((char[3]){ t[0], t[1], 0 }) < 50 ? "20" : "19", t, t + 2, t + 4);
	else if (n == 15)
		snprintf(out, 16, "%.4s-%.2s-%.2s", t, t + 4, t + 6);
	else
		snprintf(out, 16, "?");
}

/* Whether an index time (YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ) is past. */
static bool is_past(const char *t)
{
	struct tm tm = { 0 };
	size_t n = strcspn(t, ",");
	const char *p = t;

	if (n != 13 && n != 15)
		return false;
	if (n == 13) {
		tm.tm_year = (p[0] - '0') * 10 + (p[1] - '0');
		tm.tm_year += tm.tm_year < 50 ? 100 : 0;
		p += 2;
	} else {
		tm.tm_year = atoi((char[5]){ p[0], p[1], p[2], p[3], 0 }) - 1900;
		p += 4;
	}
	tm.tm_mon = (p[0] - '0') * 10 + (p[1] - '0') - 1;
	tm.tm_mday = (p[2] - '0') * 10 + (p[3] - '0');
	tm.tm_hour = (p[4] - '0') * 10 + (p[5] - '0');
	tm.tm_min = (p[6] - '0') * 10 + (p[7] - '0');
	tm.tm_sec = (p[8] - '0') * 10 + (p[9] - '0');
	return timegm(&tm) < time(NULL);
}

static const char *status_name(const struct pki_index_entry *e)
{
	if (e->status == 'R')
		return "revoked";
	if (e->status == 'E' || is_past(e->expires))
		return "expired";
	return "valid";
}

static int list(const char *dir)
{
	char path[4096], err[PKI_CLI_ERR_MAX], cn[PKI_INDEX_SUBJECT_MAX], exp[16], rev[16];
	struct pki_index ix;

	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	if (access(path, F_OK) < 0) {
		fprintf(stderr,
			"moonvpn pki: %s: no CA here (make one with: moonvpn pki --dir %s init, or "
			"point --dir at an easy-rsa pki/ directory)\n",
			path, dir);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/index.txt", dir);
	if (pki_index_read(path, &ix, err, sizeof(err)) < 0) {
		fprintf(stderr, "moonvpn pki: %s\n", err);
		return 1;
	}
	printf("%-8s %-24s %-10s %-10s %s\n", "status", "name", "expires", "revoked", "serial");
	for (size_t i = 0; i < ix.n; i++) {
		const struct pki_index_entry *e = &ix.e[i];

		pki_index_cn(e, cn, sizeof(cn));
		date_text(e->expires, exp);
		if (e->revoked[0])
			date_text(e->revoked, rev);
		printf("%-8s %-24s %-10s %-10s %s\n", status_name(e), cn, exp,
		       e->revoked[0] ? rev : "-", e->serial);
	}
	pki_index_free(&ix);
	return 0;
}

/* A positive number from 1 to max, or 0 with a message. */
static unsigned number(const char *opt, const char *text, unsigned min, unsigned max)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);

	if (*text == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "moonvpn pki: %s: expected a number from %u to %u, got \"%s\"\n",
			opt, min, max, text);
		return 0;
	}
	return (unsigned)v;
}

static int run(const char *dir, const struct pki_options *o, int argc, char **argv)
{
	const char *cmd = argv[0], *name = argc > 1 ? argv[1] : NULL;
	char err[PKI_CLI_ERR_MAX], serial[80];
	int rc = -1;

	if (strcmp(cmd, "init") == 0 && argc <= 2)
		rc = pki_init(dir, name ? name : "moonvpn CA", o, err, sizeof(err));
	else if (strcmp(cmd, "server") == 0 && argc == 2)
		rc = pki_issue(dir, name, PKI_SERVER, o, err, sizeof(err));
	else if (strcmp(cmd, "client") == 0 && argc == 2)
		rc = pki_issue(dir, name, PKI_CLIENT, o, err, sizeof(err));
	else if (strcmp(cmd, "revoke") == 0 && argc == 2)
		rc = pki_revoke(dir, name, o->days, serial, err, sizeof(err));
	else if (strcmp(cmd, "crl") == 0 && argc == 1)
		rc = pki_crl(dir, o->days, err, sizeof(err));
	else if (strcmp(cmd, "list") == 0 && argc == 1)
		return list(dir);
	else {
		fputs(USAGE, stderr);
		return 2;
	}
	if (rc < 0) {
		fprintf(stderr, "moonvpn pki: %s\n", err);
		return 1;
	}
	if (strcmp(cmd, "init") == 0)
		fprintf(stderr,
			"%s/ca.crt: a new CA; its key is %s/private/ca.key (keep it secret)\n", dir,
			dir);
	else if (strcmp(cmd, "revoke") == 0)
		fprintf(stderr,
			"%s: revoked (serial %s); %s/crl.pem written: reload the server to apply "
			"it\n",
			name, serial, dir);
	else if (strcmp(cmd, "crl") == 0)
		fprintf(stderr, "%s/crl.pem written\n", dir);
	else
		fprintf(stderr, "%s/issued/%s.crt and %s/private/%s.key written\n", dir, name, dir,
			name);
	return 0;
}

int pki_cli_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "days", required_argument, NULL, 'n' },
		{ "rsa", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pki_options o = { 0 };
	const char *dir = "pki";
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			if (!(o.days = number("--days", optarg, 1, PKI_DAYS_MAX)))
				return 2;
			break;
		case 'r':
			if (!(o.rsa_bits =
				      number("--rsa", optarg, PKI_RSA_BITS_MIN, PKI_RSA_BITS_MAX)))
				return 2;
			break;
		case 'h':
			fputs(USAGE, stdout);
			return 0;
		default:
			fputs(USAGE, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(USAGE, stderr);
		return 2;
	}
	return run(dir, &o, argc - optind, argv + optind);
}
