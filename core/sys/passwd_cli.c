// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "crypto.h"
#include "passwd.h"
#include "passwd_cli.h"

enum { PASSWORD_MAX = 1024 };

/* One line of input without its newline; echo off on a terminal. False at EOF. */
static bool read_password(const char *prompt, char *buf, size_t cap)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	bool ok;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	ok = fgets(buf, (int)cap, stdin) != NULL;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (ok)
		buf[strcspn(buf, "\r\n")] = '\0';
	return ok;
}

static int usage(void)
{
	fprintf(stderr, "usage: moonvpn passwd [--method yescrypt|sha512] [USERNAME]\n"
			"  reads a password and prints its hash (USERNAME:HASH with a username)\n");
	return 2;
}

int passwd_cli_main(int argc, char **argv)
{
	const char *method = "yescrypt", *user = NULL;
	char pw[PASSWORD_MAX], again[PASSWORD_MAX], hash[PASSWD_HASH_MAX], err[160];
	int i = 1, rc = 1;

	if (i + 1 < argc && strcmp(argv[i], "--method") == 0) {
		method = argv[i + 1];
		i += 2;
	}
	if (i < argc && argv[i][0] != '-')
		user = argv[i++];
	if (i != argc || (user && strchr(user, ':')))
		return usage();
	if (!read_password("password: ", pw, sizeof(pw))) {
		fprintf(stderr, "moonvpn passwd: no password on standard input\n");
		return 1;
	}
	if (isatty(STDIN_FILENO) &&
	    (!read_password("again: ", again, sizeof(again)) || strcmp(pw, again) != 0)) {
		fprintf(stderr, "moonvpn passwd: the passwords differ\n");
		goto out;
	}
	if (passwd_hash(pw, method, hash, err, sizeof(err)) < 0) {
		fprintf(stderr, "moonvpn passwd: %s\n", err);
		goto out;
	}
	printf("%s%s%s\n", user ? user : "", user ? ":" : "", hash);
	rc = 0;
out:
	crypto_wipe(pw, sizeof(pw));
	crypto_wipe(again, sizeof(again));
	return rc;
}
