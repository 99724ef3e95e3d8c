// SPDX-License-Identifier: MIT
/*
 * credentials_load with inline material, as a .ovpn profile gives it (a
 * value with a newline is the text itself, never a file): the CA,
 * certificate and key, a tls-crypt key and the auth-user-pass lines load
 * from memory as they do from files; a bad inline key is refused naming the
 * field and "the inline text". An encrypted key's password is asked on a
 * pseudo-terminal at a load, never at a reload.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "credentials.h"
#include "crypto.h"
#include "tlscryptv2.h"
#include "unit.h"

static char pki[64];

/*
 * The Makefile links this test with ld --wrap=calloc --wrap=crypto_wipe: the
 * core's calls come here. A calloc of fail_size bytes fails (0: none does),
 * and a wipe notes whether it covered text holding wiped_marker.
 */
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void __real_crypto_wipe(void *p, size_t len);
void __wrap_crypto_wipe(void *p, size_t len);

static size_t fail_size;
static const char *wiped_marker;
static bool marker_wiped;

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_size && n * size == fail_size ? NULL : __real_calloc(n, size);
}

void __wrap_crypto_wipe(void *p, size_t len)
{
	if (wiped_marker && memmem(p, len, wiped_marker, strlen(wiped_marker)))
		marker_wiped = true;
	__real_crypto_wipe(p, len);
}

static char *read_text(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", pki, name);
	return unit_read_text(path);
}

/* An OpenVPN static key's text: 256 bytes of hex, 16 bytes a line. */
static char *static_key_text(void)
{
	char *text = calloc(1, 1024);
	size_t off = 0;

	off += (size_t)snprintf(text + off, 1024 - off,
				"#\n# 2048 bit OpenVPN static key\n#\n"
				"-----BEGIN OpenVPN Static key V1-----\n");
	for (int line = 0; line < 16; line++) {
		for (int i = 0; i < 16; i++)
			off += (size_t)snprintf(text + off, 1024 - off, "%02x",
						(line * 16 + i) * 7 & 0xff);
		text[off++] = '\n';
	}
	snprintf(text + off, 1024 - off, "-----END OpenVPN Static key V1-----\n");
	return text;
}

static struct config *client_config(void)
{
	struct config *cfg = calloc(1, sizeof(*cfg));

	cfg->role = CONFIG_CLIENT;
	cfg->tls_auth_direction = -1;
	cfg->tls_ca = read_text("ca.crt");
	cfg->tls_cert = read_text("client1.crt");
	cfg->tls_key = read_text("client1.key");
	cfg->tls_crypt_key = static_key_text();
	cfg->auth_file = strdup("alice\r\nsecret\r\n");
	return cfg;
}

static void test_inline_loads(struct crypto *c)
{
	struct config *cfg = client_config();
	struct credentials cr;
	char err[512] = "";

	CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) == 0, "inline credentials: %s", err);
	CHECK(cr.tls != NULL, "the TLS context from inline PEM");
	CHECK(cr.wrap.mode == WRAP_TLS_CRYPT, "tls-crypt from the inline key");
	CHECK(cr.username && strcmp(cr.username, "alice") == 0 && cr.password &&
		      strcmp(cr.password, "secret") == 0,
	      "auth-user-pass from the inline lines");
	credentials_clear(&cr);

	/* The same key as a tls-auth key with a direction. */
	cfg->tls_auth_key = cfg->tls_crypt_key;
	cfg->tls_crypt_key = NULL;
	cfg->tls_auth_direction = 1;
	CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) == 0, "inline tls-auth: %s", err);
	CHECK(cr.wrap.mode == WRAP_TLS_AUTH, "tls-auth from the inline key");
	credentials_clear(&cr);

	free(cfg->tls_auth_key);
	cfg->tls_auth_key = strdup("-----BEGIN OpenVPN Static key V1-----\nzz\n"
				   "-----END OpenVPN Static key V1-----\n");
	CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) < 0 &&
		      strstr(err, "tls.tls_auth.key: the inline text: "),
	      "a bad inline key names the field: %s", err);
	free(cfg->tls_auth_key);
	cfg->tls_auth_key = NULL;

	/* A username alone (or an empty second line): no password, to be asked as OpenVPN does. */
	for (int i = 0; i < 2; i++) {
		free(cfg->auth_file);
		cfg->auth_file = strdup(i ? "alice\n\n" : "alice\n");
		CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) == 0 && cr.username &&
			      strcmp(cr.username, "alice") == 0 && !cr.password,
		      "a username alone: %s", err);
		credentials_clear(&cr);
	}

	free(cfg->auth_file);
	cfg->auth_file = strdup("\nsecret\n");
	CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) < 0 &&
		      strstr(err, "auth.file: the inline text needs the username"),
	      "inline auth without a username: %s", err);
	config_free(cfg);
}

/*
 * A server's tls-crypt-v2 key text is wiped on every way out of loading it,
 * the out-of-memory one too (review s3 L9): the allocation of its server
 * state fails, and a wipe must still cover the text the key was read into.
 */
static void test_v2_key_wiped_on_oom(struct crypto *c)
{
	struct config *cfg = client_config();
	struct tlscryptv2_server_key key;
	struct credentials cr;
	char err[512] = "", *text = calloc(1, 4096);

	for (size_t i = 0; i < sizeof(key.bytes); i++)
		key.bytes[i] = (uint8_t)(i * 13);
	CHECK(text && tlscryptv2_server_key_format(&key, text, 4096) > 0, "a server key's text");
	cfg->role = CONFIG_SERVER;
	cfg->tls_crypt_v2_key = text;
	CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) == 0, "inline v2 server key: %s",
	      err);
	credentials_clear(&cr);

	fail_size = sizeof(struct tlscryptv2_server);
	wiped_marker = "-----BEGIN OpenVPN tls-crypt-v2 server key-----";
	marker_wiped = false;
	CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) == -ENOMEM &&
		      strstr(err, "tls.tls_crypt_v2: out of memory"),
	      "the server state's allocation fails: %s", err);
	fail_size = 0;
	CHECK(marker_wiped, "the key's text was wiped on the out-of-memory path");
	wiped_marker = NULL;
	config_free(cfg);
}

enum {
	STEPS_MAX = 3,
	CHILD_GUARD_S = 120, /* a child stuck at a prompt nobody answers dies, failing */
	PROMPT_WAIT_MS = 60000,
};

#define PROMPT "Enter Private Key Password: "

/* What a child made of each step ('L' credentials_load, 'R' credentials_reload). */
struct outcome {
	int rc[STEPS_MAX];
	char err[STEPS_MAX][400];
};

/*
 * The child: the pseudo-terminal's slave as its controlling terminal and
 * stdin, as for a person at a terminal; SIGINT ignored, so that a Ctrl-C
 * typed only ends the question (ttyask.c raises it again afterwards).
 */
static void run_steps(const char *slave, int out, struct crypto *c, const struct config *cfg,
		      const char *steps)
{
	struct outcome o;
	int fd;

	memset(&o, 0, sizeof(o));
	alarm(CHILD_GUARD_S);
	signal(SIGINT, SIG_IGN);
	if (setsid() < 0 || (fd = open(slave, O_RDWR)) < 0 || dup2(fd, STDIN_FILENO) < 0)
		_exit(2);
	for (size_t i = 0; steps[i] && i < STEPS_MAX; i++) {
		struct credentials cr;

		o.rc[i] = (steps[i] == 'R' ? credentials_reload : credentials_load)(
			&cr, c, cfg, o.err[i], sizeof(o.err[i]));
		if (o.rc[i] == 0)
			credentials_clear(&cr);
	}
	_exit(write(out, &o, sizeof(o)) == (ssize_t)sizeof(o) ? 0 : 3);
}

/* Reads the master into seen (cap bytes) until it holds want after *from; false at its end. */
static bool read_until(int master, char *seen, size_t cap, size_t *n, size_t *from,
		       const char *want)
{
	for (;;) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		char *hit = strstr(seen + *from, want);
		ssize_t r;

		if (want[0] && hit) {
			*from = (size_t)(hit - seen) + strlen(want);
			return true;
		}
		if (poll(&p, 1, PROMPT_WAIT_MS) <= 0 ||
		    (r = read(master, seen + *n, cap - *n - 1)) <= 0)
			return false;
		*n += (size_t)r;
		seen[*n] = '\0';
	}
}

/*
 * Runs steps in a child on a pseudo-terminal, typing each of typed (NULL
 * ended) once a prompt shows; its outcome in o, and how many prompts showed.
 */
static int on_terminal(struct crypto *c, const struct config *cfg, const char *steps,
		       const char *const *typed, struct outcome *o)
{
	static char seen[8192];
	int master = posix_openpt(O_RDWR | O_NOCTTY), pipefd[2], status = -1, prompts = 0;
	size_t n = 0, from = 0;
	bool ok = true;
	pid_t pid;

	memset(o, 0, sizeof(*o));
	seen[0] = '\0';
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || pipe(pipefd) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		run_steps(ptsname(master), pipefd[1], c, cfg, steps);
	}
	close(pipefd[1]);
	for (size_t i = 0; ok && typed[i]; i++)
		ok = read_until(master, seen, sizeof(seen), &n, &from, PROMPT) &&
		     write(master, typed[i], strlen(typed[i])) == (ssize_t)strlen(typed[i]);
	ok = ok && read(pipefd[0], o, sizeof(*o)) == (ssize_t)sizeof(*o);
	(void)read_until(master, seen, sizeof(seen), &n, &from, ""); /* the rest, to its end */
	for (const char *p = seen; (p = strstr(p, PROMPT)); p += strlen(PROMPT))
		prompts++;
	if (pid > 0 && !ok)
		kill(pid, SIGKILL); /* it may wait at a prompt for ever */
	if (pid > 0)
		waitpid(pid, &status, 0);
	close(pipefd[0]);
	close(master);
	CHECK(ok && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child answered: %s", seen);
	return prompts;
}

/* client_config with its key encrypted (password "secret") in enc.key. */
static struct config *encrypted_key_config(void)
{
	struct config *cfg = client_config();
	char cmd[512], path[128];

	snprintf(cmd, sizeof(cmd),
		 "openssl pkey -in %s/client1.key -aes256 -passout pass:secret -out %s/enc.key",
		 pki, pki);
	CHECK(system(cmd) == 0, "openssl pkey -aes256");
	snprintf(path, sizeof(path), "%s/enc.key", pki);
	free(cfg->tls_key);
	cfg->tls_key = strdup(path);
	return cfg;
}

/*
 * A server's encrypted key opens with tls.key_password, the text or its
 * file's first line, at a load and at a reload; without it, it is refused
 * saying to give it (a server never asks, not even on a terminal).
 */
static void test_server_key_password(struct crypto *c)
{
	struct config *cfg = encrypted_key_config();
	struct credentials cr;
	char err[512] = "", path[128];
	FILE *f;

	cfg->role = CONFIG_SERVER;
	CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) == -ENOKEY &&
		      strstr(err, "give tls.key_password (the password or { file = PATH }): a "
				  "server never asks"),
	      "a server's encrypted key without its password: %s", err);
	cfg->tls_key_password = strdup("secret");
	CHECK(credentials_load(&cr, c, cfg, err, sizeof(err)) == 0, "the password: %s", err);
	credentials_clear(&cr);
	CHECK(credentials_reload(&cr, c, cfg, err, sizeof(err)) == 0, "at a reload: %s", err);
	credentials_clear(&cr);
	free(cfg->tls_key_password);
	cfg->tls_key_password = NULL;
	snprintf(path, sizeof(path), "%s/pass.txt", pki);
	f = fopen(path, "w");
	CHECK(f && fputs("secret\n", f) >= 0 && fclose(f) == 0, "%s", path);
	cfg->tls_key_password_file = strdup(path);
	CHECK(credentials_reload(&cr, c, cfg, err, sizeof(err)) == 0, "its file: %s", err);
	credentials_clear(&cr);
	config_free(cfg);
}

/*
 * An encrypted key and no password given, on a terminal: a reload never asks
 * (the tunnel would stand still while it waited) and is refused saying so; a
 * load asks, and the reloads after it use that answer; Ctrl-D and Ctrl-C at
 * the prompt are told in words, not as errno strings.
 */
static void test_key_password_on_terminal(struct crypto *c)
{
	static const char *const secret[] = { "secret\n", NULL }, *const eof[] = { "\004", NULL },
				 *const intr[] = { "\003", NULL };
	struct config *cfg = encrypted_key_config();
	struct outcome o;
	int prompts;

	prompts = on_terminal(c, cfg, "RLR", secret, &o);
	CHECK(o.rc[0] < 0 && strstr(o.err[0], "it cannot be asked during a reload") &&
		      strstr(o.err[0], "restart moonvpn to be asked, or give tls.key_password"),
	      "a reload refused: %d %s", o.rc[0], o.err[0]);
	CHECK(o.rc[1] == 0, "the load asked: %s", o.err[1]);
	CHECK(o.rc[2] == 0, "the reload after it used that answer: %s", o.err[2]);
	CHECK(prompts == 1, "asked %d times, only at the load", prompts);
	on_terminal(c, cfg, "L", eof, &o);
	CHECK(o.rc[0] == -EPIPE && strstr(o.err[0], "standard input was closed, so there is no "
						    "terminal to ask on"),
	      "Ctrl-D: %d %s", o.rc[0], o.err[0]);
	on_terminal(c, cfg, "L", intr, &o);
	CHECK(o.rc[0] == -EINTR && strstr(o.err[0], "asking on the terminal was interrupted"),
	      "Ctrl-C: %d %s", o.rc[0], o.err[0]);
	config_free(cfg);
}

int main(void)
{
	char cmd[160], err[256];
	struct crypto *c = crypto_new(err, sizeof(err));

	CHECK(c != NULL, "crypto_new: %s", err);
	snprintf(pki, sizeof(pki), "/tmp/mvt-cred-XXXXXX");
	if (!c || !mkdtemp(pki)) {
		CHECK(0, "mkdtemp");
		return unit_report("test_credentials");
	}
	snprintf(cmd, sizeof(cmd), "scripts/make-pki %s 1 > /dev/null", pki);
	CHECK(system(cmd) == 0, "scripts/make-pki (needs openssl)");
	test_inline_loads(c);
	test_v2_key_wiped_on_oom(c);
	test_key_password_on_terminal(c);
	test_server_key_password(c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
	CHECK(system(cmd) == 0, "cleanup");
	crypto_free(c);
	return unit_report("test_credentials");
}
