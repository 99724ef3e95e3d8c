// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "pinstate.h"
#include "resolver.h"

enum { PIN_STATE_PATH_MAX = 512 };

/*
 * <runtime directory>/routes.<FNV-1a of config_path's absolute path>: one
 * file per configuration, however the path was typed ("vpn.ovpn" in /etc
 * and "/etc/vpn.ovpn" are the same file).
 */
static void state_path(char *out, size_t cap, const char *config_path)
{
	char *abs = realpath(config_path, NULL);
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)(abs ? abs : config_path); *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	free(abs);
	snprintf(out, cap, "%s/routes.%016llx", resolver_runtime_dir(), (unsigned long long)h);
}

/* The pins that are ours (routes we added, to remove after a crash). */
static size_t ours(const struct host_routes *h)
{
	size_t n = 0;

	for (size_t i = 0; i < h->n; i++)
		n += h->pin[i].ours;
	return n;
}

static void write_pins(FILE *f, const struct host_routes *h)
{
	char text[IP_PREFIX_TEXT_MAX];

	for (size_t i = 0; i < h->n; i++)
		if (h->pin[i].ours)
			fprintf(f, "%s\n", ip_prefix_format(&h->pin[i].dst, text, sizeof(text)));
}

int pin_state_save(const char *config_path, const struct host_routes *const *sets, size_t n,
		   char *err, size_t errlen)
{
	char path[PIN_STATE_PATH_MAX], tmp[PIN_STATE_PATH_MAX + ATOMICFILE_SUFFIX_MAX];
	size_t pins = 0;
	FILE *f;
	int rc;

	state_path(path, sizeof(path), config_path);
	for (size_t i = 0; i < n; i++)
		pins += ours(sets[i]);
	if (!pins) /* no pin: no list (ENOENT: there was none) */
		rc = unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
	else {
		(void)mkdir(resolver_runtime_dir(), 0755); /* EEXIST, or the open says why */
		/* Written whole, then renamed: a kill between leaves the old list or the new one.
		 */
		if (!(f = atomicfile_open(path, tmp, sizeof(tmp), 0644)))
			rc = -errno;
		else {
			for (size_t i = 0; i < n; i++)
				write_pins(f, sets[i]);
			rc = atomicfile_commit(f, tmp, path);
		}
	}
	if (rc < 0)
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
	return rc;
}

size_t pin_state_clear(const char *config_path)
{
	char path[PIN_STATE_PATH_MAX], line[IP_PREFIX_TEXT_MAX + 2];
	struct ip_prefix stale[HOST_ROUTES_MAX * 2];
	size_t n = 0;
	FILE *f;

	state_path(path, sizeof(path), config_path);
	if (!(f = fopen(path, "re")))
		return 0;
	while (n < sizeof(stale) / sizeof(stale[0]) && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		n += ip_prefix_parse(&stale[n], line);
	}
	fclose(f);
	(void)unlink(path);
	return host_routes_clear_stale(stale, n);
}
