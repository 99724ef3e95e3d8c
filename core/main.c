// SPDX-License-Identifier: MIT
/*
 * moonvpn's command line: run a configuration, check one, or talk to a
 * running engine's console. Finds the Lua library next to the binary
 * (source tree: build/moonvpn -> ./lua; installed: bin/moonvpn ->
 * share/moonvpn/lua), or in $MOONVPN_ROOT, or in the compiled-in datadir.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console_client.h"
#include "crypto.h"
#include "engine.h"
#include "genkey_cli.h"
#include "osslmem.h"
#include "passwd_cli.h"
#include "pki_cli.h"
#include "profile_cli.h"
#include "script.h"

#ifndef MOONVPN_DATADIR
#define MOONVPN_DATADIR "/usr/local/share/moonvpn"
#endif

enum { MAIN_ERR_MAX = 2048 };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: moonvpn [-v|-vv] [--log-level LEVEL] CONFIG   run the configuration "
		"file CONFIG\n"
		"       moonvpn client [--check] [-v] PROFILE.ovpn    connect with an OpenVPN "
		"client profile\n"
		"       moonvpn --check CONFIG                        validate CONFIG, open "
		"nothing\n"
		"       moonvpn console SOCKET [--json] [-e LUA]...   the console of a "
		"running moonvpn\n"
		"       moonvpn genkey FILE                           a tls-crypt/tls-auth key\n"
		"       moonvpn genkey --tls-crypt-v2-server FILE     a tls-crypt-v2 server key\n"
		"       moonvpn genkey --tls-crypt-v2-client FILE --server-key FILE [--metadata "
		"TEXT]\n"
		"                                                     a tls-crypt-v2 client key\n"
		"       moonvpn passwd [--method M] [USER]            a password hash for "
		"auth_file\n"
		"       moonvpn pki [--dir DIR] init|server NAME|client NAME|revoke NAME|list|crl\n"
		"                                                     a CA (easy-rsa's layout)\n"
		"       moonvpn profile [--config FILE] [--pki DIR] NAME  a client's .ovpn, on "
		"stdout\n"
		"       moonvpn --version | --help\n"
		"\n"
		"  -v, --verbose          log at debug level (-vv: trace), over the config's "
		"log_level\n"
		"  --log-level LEVEL      error, warn, info, debug or trace\n"
		"Signals: SIGHUP reloads CONFIG, SIGINT/SIGTERM stop moonvpn cleanly.\n");
}

/* True when root holds the library; canonicalizes root in place (no "bin/.." in paths). */
static bool has_library(char *root)
{
	char path[PATH_MAX], real[PATH_MAX];

	snprintf(path, sizeof(path), "%s/lua/moonvpn/init.lua", root);
	if (access(path, R_OK) != 0)
		return false;
	if (realpath(root, real))
		snprintf(root, PATH_MAX, "%s", real);
	return true;
}

/* Where lua/moonvpn/ lives; false with a message when nowhere. */
static bool find_lua_root(char out[PATH_MAX], size_t len)
{
	const char *env = getenv("MOONVPN_ROOT");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return has_library(out);
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *dir = dirname(exe);

		snprintf(out, len, "%s/..", dir);
		if (has_library(out))
			return true;
		snprintf(out, len, "%s/../share/moonvpn", dir);
		if (has_library(out))
			return true;
		/* build/san/moonvpn in the source tree */
		snprintf(out, len, "%s/../..", dir);
		if (has_library(out))
			return true;
	}
	snprintf(out, len, "%s", MOONVPN_DATADIR);
	return has_library(out);
}

/* Where the Lua library is, or false after saying how to point at it. */
static bool need_lua_root(char root[PATH_MAX])
{
	if (find_lua_root(root, PATH_MAX))
		return true;
	fprintf(stderr,
		"moonvpn: cannot find the moonvpn Lua library (lua/moonvpn/init.lua) near "
		"the binary or in %s; set MOONVPN_ROOT to the directory that holds lua/\n",
		MOONVPN_DATADIR);
	return false;
}

static int check_config(const char *root, const char *path)
{
	char err[MAIN_ERR_MAX];
	struct config *cfg = NULL;
	struct script *s = script_new(NULL, root, err, sizeof(err));
	int rc;

	if (!s) {
		fprintf(stderr, "moonvpn: %s\n", err);
		return 1;
	}
	rc = script_load_config(s, path, &cfg, err, sizeof(err));
	script_free(s);
	if (rc < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("%s: configuration is valid\n", path);
	config_free(cfg);
	return 0;
}

static int run(const struct engine_options *opts)
{
	char err[MAIN_ERR_MAX];
	struct engine *e = engine_new(opts, err, sizeof(err));
	int rc;

	if (!e) {
		fprintf(stderr, "moonvpn: %s\n", err);
		return 1;
	}
	rc = engine_start(e);
	if (rc == 0)
		rc = engine_run(e);
	engine_free(e);
	return rc == 0 ? 0 : 1;
}

static bool ends_with(const char *text, const char *suffix)
{
	size_t n = strlen(text), m = strlen(suffix);

	return n >= m && strcmp(text + n - m, suffix) == 0;
}

struct cli {
	struct engine_options opts;
	bool check;
	int verbose;
};

/* Parses options; returns -1 to continue, else an exit status. */
static int parse_args(struct cli *cli, int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "check", no_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli->check = true;
			break;
		case 'v':
			cli->verbose++;
			cli->opts.log_level_set = true;
			cli->opts.log_level = cli->verbose > 1 ? LOG_TRACE : LOG_DEBUG;
			break;
		case 'l':
			if (!log_level_parse(optarg, &cli->opts.log_level)) {
				fprintf(stderr,
					"moonvpn: --log-level: unknown level \"%s\" (expected "
					"error, warn, info, debug or trace)\n",
					optarg);
				return 2;
			}
			cli->opts.log_level_set = true;
			break;
		case 'V':
			printf("moonvpn %s\n", MOONVPN_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "moonvpn: expected one configuration file\n");
		usage(stderr);
		return 2;
	}
	cli->opts.config_path = argv[optind];
	return -1;
}

int main(int argc, char **argv)
{
	struct cli cli = { 0 };
	char root[PATH_MAX];
	int rc;

	/* Before OpenSSL allocates anything: handshakes' objects in a heap of their own. */
	(void)osslmem_init();
	if (argc > 1 && strcmp(argv[1], "console") == 0)
		return console_client_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "genkey") == 0)
		return genkey_cli_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "passwd") == 0)
		return passwd_cli_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "pki") == 0)
		return pki_cli_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "profile") == 0)
		return need_lua_root(root) ? profile_cli_main(root, argc - 1, argv + 1) : 1;
	/* moonvpn client PROFILE.ovpn: config.lua reads a .ovpn name as a profile. */
	bool client = argc > 1 && strcmp(argv[1], "client") == 0;

	rc = client ? parse_args(&cli, argc - 1, argv + 1) : parse_args(&cli, argc, argv);
	if (rc >= 0)
		return rc;
	if (client && !ends_with(cli.opts.config_path, ".ovpn")) {
		fprintf(stderr,
			"moonvpn client: %s: expected an OpenVPN client profile named NAME.ovpn "
			"(moonvpn tells profiles from Lua configurations by that ending: rename or "
			"copy the file)\n",
			cli.opts.config_path);
		return 2;
	}
	if (!need_lua_root(root))
		return 1;
	cli.opts.lua_root = root;
	if (cli.check)
		return check_config(root, cli.opts.config_path);
	signal(SIGPIPE, SIG_IGN);
	/* Inherited as ignored, the kernel would reap vpn.exec's programs before we see
	 * their exit status. */
	signal(SIGCHLD, SIG_DFL);
	return run(&cli.opts);
}
