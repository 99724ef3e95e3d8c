/* SPDX-License-Identifier: MIT */
/*
 * The engine: one struct that owns everything mutable (the libev loop, the
 * log, the Lua VM, the active configuration, the device, the console) and
 * its lifecycle: start, reload on SIGHUP, clean exit on SIGINT/SIGTERM.
 * main() creates one and passes it along; nothing is global.
 */
#ifndef MOONVPN_ENGINE_H
#define MOONVPN_ENGINE_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "client.h"
#include "config.h"
#include "console.h"
#include "credentials.h"
#include "crypto.h"
#include "device.h"
#include "devpath.h"
#include "engine_dns.h"
#include "engine_queues.h"
#include "hostroute.h"
#include "log.h"
#include "notify.h"
#include "privdrop.h"
#include "pushdev.h"
#include "resolver.h"
#include "server.h"
#include "tokens.h"

#define MOONVPN_VERSION "0.1.0"

struct script;
struct metrics;

struct engine_options {
	const char *config_path;
	const char *lua_root; /* holds lua/moonvpn/ and plugins/ */
	bool log_level_set;   /* given on the command line: wins over the config */
	enum log_level log_level;
};

struct engine {
	struct ev_loop *loop;
	struct log log;
	struct script *script;
	struct config *cfg; /* the active configuration */
	struct device *device;
	struct console *console;
	struct engine_mgmt *mgmt;	/* the OpenVPN management interface and status file */
	struct metrics *metrics;	/* Prometheus: its counters and listener */
	struct crypto *crypto;		/* OpenSSL algorithms, fetched once */
	struct credentials credentials; /* of the active configuration */
	struct tokens tokens;		/* auth.token: its key, limits and revocations */
	struct server *server;		/* server mode */
	struct client *client;		/* client mode */
	struct pushed_device pushed;	/* client mode: the device as the server's push made it */
	struct host_routes pins;	/* client mode: the servers kept outside redirect-gateway */
	struct host_routes outside;	/* client mode: routes_outside, along the path they had */
	struct resolver resolver;	/* client mode: the pushed DNS, given to the system */
	struct engine_dns dns;		/* client mode: the pushed DNS and on.dns */
	struct devpath devpath;		/* the device side of the data path */
	struct engine_queues queues;	/* the device's queues, one a worker's, with workers */
	struct loop_group *group;	/* the workers' threads (workers >= 2), or NULL */
	struct console_handlers console_handlers;
	ev_signal sig_int, sig_term, sig_hup;
	ev_tstamp started_at;
	char *config_path;
	bool log_level_set;
	enum log_level cli_log_level;
	bool stopping;	      /* engine_free has begun: nothing reloads (on.dns may still run) */
	int exit_signal;      /* the signal that stopped the loop, 0 if none */
	int exit_status;      /* non-zero: the engine stopped on a failure (a refused client) */
	struct privdrop priv; /* root dropped after start (config `user`) */
	struct notify notify; /* the service manager's $NOTIFY_SOCKET, if any */
};

/* A new engine with its loop and VM; nothing opened yet. NULL with err set on failure. */
struct engine *engine_new(const struct engine_options *opts, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Loads the configuration and its credentials (certificates, keys), then
 * opens the device, the console and the server socket, and last drops root
 * when the configuration names a user. Logs why on failure.
 */
int engine_start(struct engine *e) __attribute__((warn_unused_result));

/* Runs the loop until SIGINT or SIGTERM. */
/* Runs the loop until stopped: 0, or the exit status of a failure that stopped it. */
int engine_run(struct engine *e);

/*
 * Re-runs the configuration file. Applies it only if it validates and
 * applies; otherwise the running configuration stays and err says why.
 */
int engine_reload(struct engine *e, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Sets the log level until the next reload. */
void engine_set_log_level(struct engine *e, enum log_level level);

/* Closes the console, removes the device, closes the VM. NULL is a no-op. */
void engine_free(struct engine *e);

#endif
