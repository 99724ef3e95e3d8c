// SPDX-License-Identifier: MIT
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "privdrop.h"

enum {
	PRIVDROP_PORT_PRIVILEGED = 1024, /* binding below this needs CAP_NET_BIND_SERVICE */
	PRIVDROP_CAP_BITS = 64,		 /* two 32-bit words in capability version 3 */
};

static uint64_t cap_bit(int cap)
{
	return (uint64_t)1 << cap;
}

/* True when one of listen's endpoints ("udp://A:P tcp://[B]:Q") has a port below 1024. */
static bool listens_low(const char *listen)
{
	const char *p = listen;

	while (p && *p) {
		const char *end = strchr(p, ' ');
		const char *colon = p;

		for (const char *c = p; *c && c != end; c++)
			if (*c == ':')
				colon = c;
		if (strtoul(colon + 1, NULL, 10) < PRIVDROP_PORT_PRIVILEGED)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* What the running engine needs: routes and addresses, and its listen port if privileged. */
static uint64_t needed_caps(const struct config *cfg)
{
	uint64_t caps = cap_bit(CAP_NET_ADMIN);

	if (cfg->listen && listens_low(cfg->listen))
		caps |= cap_bit(CAP_NET_BIND_SERVICE);
	return caps;
}

static int set_caps(uint64_t caps)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { 0 };

	for (int i = 0; i < 2; i++)
		data[i].effective = data[i].permitted = (uint32_t)(caps >> (32 * i));
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

static int get_caps(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	*eff = data[0].effective | (uint64_t)data[1].effective << 32;
	*prm = data[0].permitted | (uint64_t)data[1].permitted << 32;
	*inh = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
	return 0;
}

/*
 * Empties the bounding set but for caps, so that no program run later can
 * gain more (a file capability, a setuid binary) even if no_new_privs were
 * lifted; -EPERM without CAP_SETPCAP (some containers).
 */
static int trim_bounding_set(uint64_t caps)
{
	for (int cap = 0; cap < PRIVDROP_CAP_BITS; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break; /* past the kernel's last capability */
		if (!(caps & cap_bit(cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -errno;
	}
	return 0;
}

static int fail(char *err, size_t errlen, int rc, const char *step)
{
	snprintf(err, errlen, "cannot drop root: %s: %s", step, strerror(-rc));
	return rc;
}

/* The identity change itself: KEEPCAPS carries the permitted set across setresuid. */
static int change_identity(const struct config *cfg, uint64_t caps, char *err, size_t errlen)
{
	int rc;

	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return fail(err, errlen, -errno, "PR_SET_KEEPCAPS");
	if (setgroups(1, &cfg->gid) < 0)
		return fail(err, errlen, -errno, "setgroups");
	if (setresgid(cfg->gid, cfg->gid, cfg->gid) < 0)
		return fail(err, errlen, -errno, "setresgid");
	if (setresuid(cfg->uid, cfg->uid, cfg->uid) < 0)
		return fail(err, errlen, -errno, "setresuid");
	if ((rc = set_caps(caps)) < 0)
		return fail(err, errlen, rc, "capset");
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return fail(err, errlen, -errno, "PR_SET_KEEPCAPS");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(err, errlen, -errno, "PR_SET_NO_NEW_PRIVS");
	return 0;
}

/* Proves the drop: root cannot be regained and exactly caps are left. */
static int verify(uint64_t caps, char *err, size_t errlen)
{
	uint64_t eff = 0, prm = 0, inh = 0;
	int rc = get_caps(&eff, &prm, &inh);

	if (rc < 0)
		return fail(err, errlen, rc, "capget");
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "cannot drop root: root could be regained after setresuid");
		return -EPERM;
	}
	if (eff != caps || prm != caps || inh != 0) {
		snprintf(err, errlen,
			 "cannot drop root: capabilities left: effective %#llx, permitted %#llx, "
			 "inheritable %#llx (expected %#llx)",
			 (unsigned long long)eff, (unsigned long long)prm, (unsigned long long)inh,
			 (unsigned long long)caps);
		return -EPERM;
	}
	return 0;
}

/* Whether the user can remove the console's socket file at exit (its directory). */
static void check_console_dir(const struct privdrop *pd, const char *path, const struct log *lg)
{
	char dir[PATH_MAX];
	char *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (access(dir, W_OK | X_OK) == 0 && stat(dir, &st) == 0 &&
	    (!(st.st_mode & S_ISVTX) || st.st_uid == pd->uid))
		return;
	log_warnx(lg, "console",
		  "user %s cannot remove %s at exit (it may not change %s); the next start "
		  "replaces the stale socket. To have it removed, give the console a directory "
		  "of its own that %s owns (install -d -o %s -m 0700 DIR)",
		  pd->user, path, dir, pd->user, pd->user);
}

/* The files a reload reads again, with the fields that name them. */
static int check_files(const struct privdrop *pd, const struct config *cfg, char *err,
		       size_t errlen)
{
	const struct {
		const char *field, *path;
	} files[] = {
		{ "the configuration file", cfg->source },
		{ "tls.ca", cfg->tls_ca },
		{ "tls.cert", cfg->tls_cert },
		{ "tls.key", cfg->tls_key },
		{ "tls.pkcs12", cfg->tls_pkcs12 },
		{ "tls.crl", cfg->tls_crl },
		{ "tls.tls_auth.key", cfg->tls_auth_key },
		{ "tls.tls_crypt", cfg->tls_crypt_key },
		{ "tls.tls_crypt_v2", cfg->tls_crypt_v2_key },
	};
	int rc;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if ((rc = privdrop_check_readable(pd, files[i].field, files[i].path, err, errlen)))
			return rc;
	return 0;
}

static void log_dropped(const struct privdrop *pd, const struct config *cfg, const struct log *lg)
{
	const struct group *gr = cfg->group ? NULL : getgrgid(pd->gid);

	log_info(lg, "engine",
		 "dropped root: running as user %s (uid %u), group %s (gid %u), keeping "
		 "cap_net_admin%s; no_new_privs set",
		 pd->user, (unsigned)pd->uid,
		 cfg->group ? cfg->group
		 : gr	    ? gr->gr_name
			    : "(the user's)",
		 (unsigned)pd->gid,
		 pd->caps & cap_bit(CAP_NET_BIND_SERVICE) ? " and cap_net_bind_service" : "");
}

int privdrop_apply(struct privdrop *pd, const struct config *cfg, const struct log *lg, char *err,
		   size_t errlen)
{
	uint64_t caps = needed_caps(cfg);
	char why[512];
	int rc;

	if (!cfg->user)
		return 0;
	if (geteuid() != 0) {
		snprintf(err, errlen,
			 "user = \"%s\" needs moonvpn started as root (it runs as uid %u): start "
			 "it as root, or leave user out",
			 cfg->user, (unsigned)geteuid());
		return -EPERM;
	}
	rc = trim_bounding_set(caps);
	if (rc == -EPERM)
		log_warnx(lg, "engine",
			  "cannot empty the capability bounding set (no CAP_SETPCAP here); "
			  "no_new_privs still keeps programs from gaining capabilities");
	else if (rc < 0)
		return fail(err, errlen, rc, "PR_CAPBSET_DROP");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return fail(err, errlen, -errno, "PR_CAP_AMBIENT_CLEAR_ALL");
	if ((rc = change_identity(cfg, caps, err, errlen)) < 0 || (rc = verify(caps, err, errlen)))
		return rc;
	*pd = (struct privdrop){ .active = true, .uid = cfg->uid, .gid = cfg->gid, .caps = caps };
	snprintf(pd->user, sizeof(pd->user), "%s", cfg->user);
	log_dropped(pd, cfg, lg);
	if (cfg->console_path)
		check_console_dir(pd, cfg->console_path, lg);
	if (check_files(pd, cfg, why, sizeof(why)) < 0)
		log_warnx(lg, "config", "reloads will be refused until this is fixed: %s", why);
	return 0;
}

int privdrop_check_readable(const struct privdrop *pd, const char *field, const char *path,
			    char *err, size_t errlen)
{
	/* access() checks with the real uid: the user's, since setresuid. Inline text is no file.
	 */
	if (!pd->active || !path || tls_is_inline(path) || access(path, R_OK) == 0 ||
	    (errno != EACCES && errno != EPERM))
		return 0;
	snprintf(err, errlen,
		 "%s: %s is not readable by user %s, which moonvpn runs as since it started: "
		 "make it readable by that user (chgrp GROUP FILE; chmod g+r FILE) or restart "
		 "moonvpn",
		 field, path, pd->user);
	return -EACCES;
}

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* A new device opens the tun clone device again: many systems make it 0666, some 0600. */
static int check_tun(const struct privdrop *pd, char *err, size_t errlen)
{
	static const char tun[] = "/dev/net/tun";

	if (access(tun, R_OK | W_OK) == 0)
		return 0;
	snprintf(err, errlen,
		 "device: a reload cannot change the device's name or type here after moonvpn "
		 "dropped root: user %s cannot open %s (%s); its addresses, routes and MTU can "
		 "change. Restart moonvpn for the new device",
		 pd->user, tun, strerror(errno));
	return -EPERM;
}

int privdrop_check_reload(const struct privdrop *pd, const struct config *running,
			  const struct config *cfg, bool new_device, char *err, size_t errlen)
{
	if (!pd->active && cfg->user) {
		snprintf(err, errlen,
			 "user: moonvpn started as root without user, and a reload cannot drop "
			 "root: restart moonvpn to run as \"%s\"",
			 cfg->user);
		return -EPERM;
	}
	if (!pd->active)
		return 0;
	if (!cfg->user || strcmp(cfg->user, pd->user) != 0 || cfg->uid != pd->uid ||
	    cfg->gid != pd->gid) {
		snprintf(err, errlen,
			 "user/group: moonvpn dropped root to user %s (gid %u) at start, and a "
			 "reload cannot change that or regain root: restart moonvpn for the new "
			 "user and group",
			 pd->user, (unsigned)pd->gid);
		return -EPERM;
	}
	if (!same_text(cfg->console_path, running->console_path)) {
		snprintf(err, errlen,
			 "console: a reload cannot move the console after moonvpn dropped root "
			 "(the new socket would be user %s's, not root's): restart moonvpn to "
			 "move it",
			 pd->user);
		return -EPERM;
	}
	if (!(pd->caps & cap_bit(CAP_NET_BIND_SERVICE)) && cfg->listen &&
	    listens_low(cfg->listen)) {
		snprintf(err, errlen,
			 "listen: %s has a port below 1024, and moonvpn kept no "
			 "CAP_NET_BIND_SERVICE when it dropped root (it listened on %s): restart "
			 "moonvpn to listen there",
			 cfg->listen, running->listen);
		return -EPERM;
	}
	if (new_device && check_tun(pd, err, errlen) < 0)
		return -EPERM;
	return check_files(pd, cfg, err, errlen);
}
