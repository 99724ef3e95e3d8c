// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "resolver.h"

extern char **environ;

#define RESOLV_CONF "/etc/resolv.conf"
/* The first line of a resolv.conf of ours: what tells it from anyone else's. */
#define MARKER "# moonvpn: "

static const char *const NAMES[] = {
	[RESOLVER_AUTO] = "auto",
	[RESOLVER_RESOLVED] = "resolved",
	[RESOLVER_RESOLVCONF] = "resolvconf",
	[RESOLVER_FILE] = "file",
	[RESOLVER_SHOW] = "show",
};

bool resolver_method_parse(const char *text, enum resolver_method *out)
{
	for (size_t i = 0; i < sizeof(NAMES) / sizeof(NAMES[0]); i++)
		if (strcmp(text, NAMES[i]) == 0) {
			*out = (enum resolver_method)i;
			return true;
		}
	return false;
}

const char *resolver_method_name(enum resolver_method m)
{
	return (size_t)m < sizeof(NAMES) / sizeof(NAMES[0]) ? NAMES[m] : "?";
}

const char *resolver_runtime_dir(void)
{
	const char *dir = getenv("RUNTIME_DIRECTORY");

	return dir && dir[0] == '/' ? dir : "/run/moonvpn";
}

/* Whether program is found in PATH (or the sbin directories root has). */
static bool installed(const char *program)
{
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin" };
	char path[RESOLVER_PATH_MAX];
	const char *env = getenv("PATH");

	for (const char *p = env; p && *p;) {
		size_t len = strcspn(p, ":");

		snprintf(path, sizeof(path), "%.*s/%s", (int)len, p, program);
		if (len && access(path, X_OK) == 0)
			return true;
		p += len + (p[len] == ':');
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], program);
		if (access(path, X_OK) == 0)
			return true;
	}
	return false;
}

/* Runs argv with input on its stdin (NULL: none); 0 when it exits 0, else -1 with err. */
static int run(char *const argv[], const char *input, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2], status = 0;
	pid_t pid;
	int rc;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "%s: %s", argv[0], strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[0], STDIN_FILENO);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[0]);
	if (rc != 0) {
		close(pipefd[1]);
		snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(rc));
		return -1;
	}
	if (input && write(pipefd[1], input, strlen(input)) < 0)
		status = -1;
	close(pipefd[1]);
	for (int waited = 0; waitpid(pid, &status, WNOHANG) == 0; waited++) {
		struct timespec tick = { 0, 10 * 1000 * 1000 };

		if (waited == RESOLVER_COMMAND_SECONDS * 100) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(err, errlen, "%s did not finish within %d s", argv[0],
				 RESOLVER_COMMAND_SECONDS);
			return -1;
		}
		nanosleep(&tick, NULL);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	snprintf(err, errlen, "%s %s failed (exit status %d)", argv[0], argv[1] ? argv[1] : "",
		 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return -1;
}

static bool standard_port(const struct resolver_dns *dns, size_t i)
{
	return dns->ports[i] == 0 || dns->ports[i] == 53;
}

const char *resolver_server_format(const struct resolver_dns *dns, size_t i, char *buf, size_t len)
{
	char text[IP_PREFIX_TEXT_MAX];
	bool v6 = dns->servers[i].family == AF_INET6;

	ip_addr_format(&dns->servers[i], text, sizeof(text));
	if (standard_port(dns, i))
		snprintf(buf, len, "%s", text);
	else
		snprintf(buf, len, "%s%s%s:%u", v6 ? "[" : "", text, v6 ? "]" : "",
			 (unsigned)dns->ports[i]);
	return buf;
}

/* resolv.conf lines: nameserver for each server on port 53, search for the domains. */
static void conf_text(char *out, size_t cap, const char *header, const struct resolver_dns *dns)
{
	size_t len = (size_t)snprintf(out, cap, "%s", header);
	char text[IP_PREFIX_TEXT_MAX];

	for (size_t i = 0; i < dns->n && len < cap; i++)
		if (standard_port(dns, i))
			len += (size_t)snprintf(
				out + len, cap - len, "nameserver %s\n",
				ip_addr_format(&dns->servers[i], text, sizeof(text)));
	if (dns->domains[0] && len < cap)
		snprintf(out + len, cap - len, "search %s\n", dns->domains);
}

static int apply_resolved(const char *device, const struct resolver_dns *dns, bool all_traffic,
			  char *err, size_t errlen)
{
	char text[RESOLVER_SERVERS_MAX][IP_PREFIX_TEXT_MAX + 8], routing[] = "~.";
	char domains[RESOLVER_DOMAINS_MAX], *save = NULL;
	/* resolvectl VERB DEVICE, then the servers or the domains (a domain takes 2 bytes), NULL */
	char *argv[4 + RESOLVER_DOMAINS_MAX / 2 + 1] = { "resolvectl", "dns", (char *)device };
	size_t k = 3;
	int rc;

	for (size_t i = 0; i < dns->n && i < RESOLVER_SERVERS_MAX; i++)
		argv[k++] = (char *)resolver_server_format(dns, i, text[i], sizeof(text[i]));
	argv[k] = NULL;
	rc = run(argv, NULL, err, errlen);
	argv[1] = "domain";
	k = 3;
	snprintf(domains, sizeof(domains), "%s", dns->domains);
	for (char *d = strtok_r(domains, " ", &save); d; d = strtok_r(NULL, " ", &save))
		argv[k++] = d;
	if (all_traffic)
		argv[k++] = routing; /* every name to the tunnel's servers, not only the domain's */
	argv[k] = NULL;
	return rc < 0 || k == 3 ? rc : run(argv, NULL, err, errlen);
}

static int apply_resolvconf(const char *device, const struct resolver_dns *dns, char *err,
			    size_t errlen)
{
	char name[IF_NAMESIZE + 16], text[2048];
	char *argv[] = { "resolvconf", "-a", name, NULL };

	snprintf(name, sizeof(name), "%s.moonvpn", device);
	conf_text(text, sizeof(text), "", dns);
	return run(argv, text, err, errlen);
}

static void saved_path(char *out, size_t cap, const char *device)
{
	snprintf(out, cap, "%s/resolv.conf.%s", resolver_runtime_dir(), device);
}

/* The whole of path into buf (NUL-terminated); its length, or -1. */
static ssize_t read_all(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, len = 0;

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf + len, cap - 1 - (size_t)len)) > 0)
		len += n;
	close(fd);
	if (n < 0 || (size_t)len == cap - 1)
		return -1; /* unreadable, or too large to keep */
	buf[len] = '\0';
	return len;
}

/*
 * /etc/resolv.conf rewritten in place (it may be a bind mount, which a
 * rename cannot replace): truncated and written, after its previous text
 * went to the runtime directory.
 */
static int write_conf(const char *text)
{
	int fd = open(RESOLV_CONF, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	size_t len = strlen(text);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

static int apply_file(struct resolver *r, const char *device, const struct resolver_dns *dns,
		      char *err, size_t errlen)
{
	static char previous[RESOLVER_FILE_MAX];
	char header[160], text[4096];
	struct stat st;
	int rc;

	if (lstat(RESOLV_CONF, &st) == 0 && S_ISLNK(st.st_mode)) {
		snprintf(err, errlen,
			 "%s is a symbolic link (another program manages it): set dns = "
			 "\"resolved\" or \"resolvconf\", or \"show\"",
			 RESOLV_CONF);
		return -1;
	}
	saved_path(r->saved_path, sizeof(r->saved_path), device);
	/* The text from before our first write is what goes back; a second push keeps it. */
	if (access(r->saved_path, F_OK) != 0) {
		if (read_all(RESOLV_CONF, previous, sizeof(previous)) < 0)
			previous[0] = '\0';
		mkdir(resolver_runtime_dir(), 0755);
		if ((rc = atomicfile_write(r->saved_path, previous, strlen(previous), 0644, true)) <
		    0) {
			snprintf(err, errlen, "cannot save %s in %s: %s", RESOLV_CONF,
				 r->saved_path, strerror(-rc));
			return -1;
		}
	}
	snprintf(header, sizeof(header),
		 MARKER "DNS of the VPN on %s; the previous file comes back when moonvpn stops\n",
		 device);
	conf_text(text, sizeof(text), header, dns);
	if ((rc = write_conf(text)) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", RESOLV_CONF, strerror(-rc));
		return -1;
	}
	return 0;
}

static enum resolver_method pick(void)
{
	if (access("/run/systemd/resolve/io.systemd.Resolve", F_OK) == 0 && installed("resolvectl"))
		return RESOLVER_RESOLVED;
	if (installed("resolvconf"))
		return RESOLVER_RESOLVCONF;
	return RESOLVER_FILE;
}

int resolver_apply(struct resolver *r, enum resolver_method method, const char *device,
		   const struct resolver_dns *dns, bool all_traffic, enum resolver_method *used,
		   char *err, size_t errlen)
{
	int rc = 0;

	if (method == RESOLVER_AUTO)
		method = r->applied != RESOLVER_AUTO ? r->applied : pick();
	if (r->applied != RESOLVER_AUTO && r->applied != method)
		resolver_revert(r);
	if (!dns->n && !dns->domains[0] && method != RESOLVER_SHOW) {
		resolver_revert(r); /* nothing pushed (any more) */
		*used = method;
		return 0;
	}
	if (method == RESOLVER_RESOLVED)
		rc = apply_resolved(device, dns, all_traffic, err, errlen);
	else if (method == RESOLVER_RESOLVCONF)
		rc = apply_resolvconf(device, dns, err, errlen);
	else if (method == RESOLVER_FILE)
		rc = apply_file(r, device, dns, err, errlen);
	if (rc < 0)
		return -1;
	r->applied = method == RESOLVER_SHOW ? RESOLVER_AUTO : method;
	snprintf(r->device, sizeof(r->device), "%s", device);
	*used = method;
	return 0;
}

/* Puts the saved resolv.conf back, unless someone replaced ours meanwhile; the copy goes. */
static bool restore_file(const char *saved)
{
	static char previous[RESOLVER_FILE_MAX], current[RESOLVER_FILE_MAX];
	bool restored = false;

	if (read_all(saved, previous, sizeof(previous)) < 0)
		return false;
	if (read_all(RESOLV_CONF, current, sizeof(current)) >= 0 &&
	    strncmp(current, MARKER, strlen(MARKER)) == 0)
		restored = write_conf(previous) == 0;
	unlink(saved);
	return restored;
}

void resolver_revert(struct resolver *r)
{
	char name[IF_NAMESIZE + 16], err[256];
	char *resolved[] = { "resolvectl", "revert", r->device, NULL };
	char *resolvconf[] = { "resolvconf", "-d", name, NULL };

	if (r->applied == RESOLVER_RESOLVED)
		(void)run(resolved, NULL, err, sizeof(err));
	if (r->applied == RESOLVER_RESOLVCONF) {
		snprintf(name, sizeof(name), "%s.moonvpn", r->device);
		(void)run(resolvconf, NULL, err, sizeof(err));
	}
	if (r->applied == RESOLVER_FILE)
		restore_file(r->saved_path);
	r->applied = RESOLVER_AUTO;
}

bool resolver_recover(const char *device)
{
	char path[RESOLVER_PATH_MAX];

	saved_path(path, sizeof(path), device);
	return access(path, F_OK) == 0 && restore_file(path);
}
