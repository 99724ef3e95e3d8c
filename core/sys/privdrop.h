/* SPDX-License-Identifier: MIT */
/*
 * Dropping root once the engine has opened what needs root (the device,
 * the sockets, the keys, the console): the process becomes the configured
 * user and group with only the capabilities the running engine uses
 * (CAP_NET_ADMIN for addresses and routes, CAP_NET_BIND_SERVICE when it
 * listens below port 1024), an emptied bounding set and no_new_privs, so
 * that hooks and the programs vpn.exec starts run unprivileged. Also owns
 * the rules for what a reload may still change afterwards.
 *
 * Raw capget/capset/prctl rather than libcap: six calls, and one fewer
 * library to build and ship. Opening things stays with the engine.
 */
#ifndef MOONVPN_PRIVDROP_H
#define MOONVPN_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "log.h"

enum { PRIVDROP_NAME_MAX = 64 };

struct privdrop {
	bool active; /* root was dropped: the process runs as uid/gid */
	uid_t uid;
	gid_t gid;
	uint64_t caps; /* the capabilities kept, one bit per CAP_ number */
	char user[PRIVDROP_NAME_MAX];
};

/*
 * Drops to cfg->user and its group when it is set (else does nothing),
 * logging what it kept. Irreversible. 0, or -errno with err saying which
 * step failed; the caller must then stop rather than run as root.
 */
int privdrop_apply(struct privdrop *pd, const struct config *cfg, const struct log *lg, char *err,
		   size_t errlen) __attribute__((warn_unused_result));

/*
 * 0 when a reload from running to cfg can be applied with the privileges
 * left; else -EPERM with err naming the field, why and what to do
 * (restart moonvpn, or make a file readable by the user). new_device: cfg
 * needs a device of another name or type, which means opening /dev/net/tun.
 */
int privdrop_check_reload(const struct privdrop *pd, const struct config *running,
			  const struct config *cfg, bool new_device, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * After the drop: -EACCES with err set when the user cannot read path
 * (field names it in the message, e.g. "tls.key"); else 0.
 */
int privdrop_check_readable(const struct privdrop *pd, const char *field, const char *path,
			    char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
