/* SPDX-License-Identifier: MIT */
/*
 * struct config: the C snapshot of a validated configuration, the values
 * the core acts on. Validation itself happens before this struct exists
 * (lua/moonvpn/config.lua, with file/line/field messages); lua_config.c
 * then reads the normalized table into a new struct config. A reload
 * builds a second snapshot and the engine swaps it in only if it applies.
 */
#ifndef MOONVPN_CONFIG_H
#define MOONVPN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "device.h"
#include "ip.h"
#include "log.h"
#include "policy.h"
#include "tls.h"

enum { CONFIG_DEVICE_ADDRS_MAX = 2 /* the server's IPv4 and IPv6 addresses */ };

enum config_role {
	CONFIG_SERVER, /* vpn.server { ... } */
	CONFIG_CLIENT, /* vpn.client { ... } */
};

/* Which offloads the data path may use (each also needs the kernel's support). */
struct config_offload {
	bool tun;      /* TUN virtio-net header with TSO and checksum offload */
	bool uso;      /* ... and UDP segmentation offload */
	bool coalesce; /* TCP segments written to the device as one superpacket */
	bool gso;      /* UDP_SEGMENT on send */
	bool gro;      /* UDP_GRO on receive */
};

struct config {
	char *source; /* the configuration file, as given */
	enum config_role role;
	enum log_level log_level;
	char *console_path; /* NULL: no console */
	/* server: the management interface ("HOST:PORT" or a socket path, NULL: none), its
	 * password file (NULL: none), and whether its client decides admissions */
	char *mgmt_where, *mgmt_password_file;
	bool mgmt_client_auth;
	char *status_file; /* server: OpenVPN's status file, NULL: none */
	unsigned status_interval, status_version;
	struct ip_prefix network; /* the VPN's IPv4 network, e.g. 10.8.0.0/24 */
	bool has_network6;
	struct ip_prefix network6;
	/* The device as the core opens it; its arrays point into the fields below. */
	struct device_config device;
	struct ip_prefix device_addrs[CONFIG_DEVICE_ADDRS_MAX];
	struct ip_prefix *routes;
	size_t n_routes;
	/* client: networks kept outside the tunnel (a profile's route ... net_gateway) */
	struct ip_prefix *routes_outside;
	size_t n_routes_outside;
	char *listen;	       /* "udp://0.0.0.0:1194" (server) */
	bool client_to_client; /* server: forward between clients internally */
	unsigned max_clients;  /* server: clients at once (server_params.max_clients) */
	unsigned workers;      /* server: data-path workers (server_params.workers) */
	char **remotes;	       /* client: the servers to try in turn */
	size_t n_remotes;
	unsigned reconnect_initial, reconnect_max; /* client: backoff, seconds */
	char *dns; /* client: how pushed DNS servers reach the resolver (resolver.h's names) */
	/* client, from a .ovpn profile or its Lua fields: redirect-gateway's flags (enum
	 * push_redirect; 0: only what the server pushes), route-nopull, and pull-filter's
	 * rules, "accept|ignore|reject TEXT" each, first match wins */
	unsigned redirect_gateway;
	uint8_t client_framing; /* client: enum compframe, its compression field */
	bool route_nopull;
	char **pull_filter;
	size_t n_pull_filter;
	/* client: auth-user-pass, given or in a file (its first two lines); NULL: none */
	char *auth_username, *auth_password, *auth_file;
	/* client: what the server's refusal does (auth_retry), who answers questions (auth.ask),
	 * and auth.static_challenge's question (NULL: none) and whether its answer echoes */
	enum config_auth_retry {
		AUTH_RETRY_NONE,
		AUTH_RETRY_NOINTERACT,
		AUTH_RETRY_INTERACT
	} auth_retry;
	enum config_auth_ask { AUTH_ASK_NONE, AUTH_ASK_TERMINAL, AUTH_ASK_FUNCTION } auth_ask;
	char *auth_static_challenge;
	bool auth_static_echo;
	/* server: where clients reach it, for moonvpn profile: hosts, or "udp://HOST:PORT" */
	char **public_hosts;
	size_t n_public_hosts;
	/* TLS material; paths are already resolved against the config's directory. */
	char *tls_ca, *tls_cert, *tls_key, *tls_crl; /* crl may be NULL */
	char *tls_pkcs12; /* client: a PKCS#12 bundle (tls.h), NULL: none; ca may be NULL then */
	/* client: the password of an encrypted key or bundle (tls.key_password): itself, a file
	 * with it on its first line, or asked on the terminal; all NULL/false: none */
	char *tls_key_password, *tls_key_password_file;
	bool tls_key_password_ask;
	char *tls_auth_key;	/* NULL unless tls-auth */
	int tls_auth_direction; /* 0, 1 or -1 for none */
	char *tls_crypt_key;	/* NULL unless tls-crypt */
	/* tls-crypt-v2, NULL unless set: a server's server key, its age limit in days (0:
	 * none) and revoked client key ids (32 hex digits each); a client's client key */
	char *tls_crypt_v2_key;
	unsigned tls_crypt_v2_max_age;
	char **tls_crypt_v2_revoked;
	size_t n_tls_crypt_v2_revoked;
	enum tls_peer_cert client_cert; /* server: auth.certificate */
	/* client: pins on the server's certificate, "" when not set (tls.server_name,
	 * tls.server_fingerprint as 64 lower-case hex digits). */
	char tls_server_name[TLS_CN_MAX];
	char tls_server_fingerprint[2 * TLS_FINGERPRINT_LEN + 1];
	/* server: the flow table and on.flow (policy.flows, .flow_idle, .pending, .fallback) */
	unsigned flow_max, flow_idle, flow_pending;
	enum policy_verdict flow_fallback;
	char **ciphers; /* data ciphers in preference order */
	size_t n_ciphers;
	unsigned keepalive_interval, keepalive_timeout; /* seconds, as pushed */
	struct config_offload offload;			/* the fast data path's rungs */
	unsigned mssfix;	/* outer packet size TCP SYNs are clamped for; 0: off */
	unsigned reneg_seconds; /* 0: never by time */
	uint64_t reneg_bytes;	/* 0: never by volume */

	/* server: auth.token; token_secret NULL for a random key per start */
	bool token;
	char *token_secret;
	unsigned token_renew, token_lifetime; /* seconds; lifetime 0: none */
	/* the account to drop to once everything is open (NULL: stay root);
	 * the ids were resolved when the configuration was validated. */
	char *user, *group; /* group NULL: the user's primary group */
	uid_t uid;
	gid_t gid;
	/* server: metrics (Prometheus), "ADDRESS:PORT" or NULL; per-client series and their bound
	 */
	char *metrics_listen;
	bool metrics_per_client;
	unsigned metrics_per_client_max;
};

/* An empty config owned by the caller; NULL when out of memory. */
struct config *config_new(void) __attribute__((warn_unused_result));

/* Derives device.addrs from network and network6: the server takes host 1.
 * A client's device starts without addresses (they come with the push). */
bool config_derive_device(struct config *cfg) __attribute__((warn_unused_result));

/* NULL is a no-op. */
void config_free(struct config *cfg);

#endif
