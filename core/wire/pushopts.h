/* SPDX-License-Identifier: MIT */
/*
 * PUSH_REPLY as a client reads it (protocol guide 8.3, 8.4): the options a
 * server pushes (ifconfig, ifconfig-ipv6, route-gateway, route, route-ipv6,
 * redirect-gateway, dhcp-option DNS/DOMAIN, 2.6's dns server/search-domains, ping, ping-restart,
 * peer-id, cipher, protocol-flags, key-derivation, tun-mtu, topology) parsed into a struct, over
 * one or several messages (push-continuation). Unknown options are counted and ignored, as 2.6
 * does. Pure: no I/O, no allocation.
 */
#ifndef MOONVPN_PUSHOPTS_H
#define MOONVPN_PUSHOPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip.h"

enum {
	PUSH_ROUTES_MAX = 64,
	PUSH_DNS_MAX = 8,
	PUSH_TOKEN_MAX = 256, /* bytes of an auth-token, NUL included (OpenVPN's are ~100) */
	PUSH_NAME_MAX = 64,
	PUSH_DOMAINS_MAX = 256, /* bytes of the search domains, space-separated, NUL included */
	PUSH_ERR_MAX = 160,
	PUSH_FILTER_MAX = 1024, /* bytes of a client's pull-filter lines, NUL included */
};

struct push_options {
	bool has_ifconfig, has_ifconfig6, has_route_gateway, has_peer_id;
	struct ip_prefix ifconfig; /* our address with the netmask's length (net30: 30) */
	bool has_ifconfig_peer;	   /* net30/p2p: "ifconfig local peer" */
	struct ip_addr ifconfig_peer;
	struct ip_prefix ifconfig6;
	struct ip_addr route_gateway;
	struct ip_prefix routes[PUSH_ROUTES_MAX]; /* IPv4 and IPv6 */
	size_t n_routes;
	struct ip_addr dns[PUSH_DNS_MAX];
	uint16_t dns_port[PUSH_DNS_MAX]; /* 0: the default, 53 */
	long dns_priority[PUSH_DNS_MAX]; /* `dns server N`'s N: the servers are kept in its order */
	size_t n_dns;
	char domain[PUSH_DOMAINS_MAX]; /* search domains, separated by spaces */
	/* 2.6's `dns` gave the servers / the domains: dhcp-option's are ignored (dns.c) */
	bool dns_structured, domains_structured;
	char auth_token[PUSH_TOKEN_MAX]; /* "auth-token TOKEN": the password from now on; "" none */
	char cipher[PUSH_NAME_MAX];
	uint32_t peer_id;
	unsigned ping, ping_restart, tun_mtu;
	unsigned redirect; /* redirect-gateway's flags (enum push_redirect); 0: none pushed */
	bool tls_ekm, cc_exit, topology_subnet;
	bool dyn_tls_crypt; /* protocol-flags dyn-tls-crypt */
	bool epoch_data;    /* protocol-flags aead-epoch: 2.7's epoch data format */
	bool more;	    /* push-continuation 2: another PUSH_REPLY follows */
	unsigned unknown;   /* options we ignored */
	unsigned warnings;  /* what was ignored with a warning (too many servers, a bad domain) */
	char warning[PUSH_ERR_MAX]; /* the first of them, for the log */
	unsigned filtered;	    /* options the client's pull-filter dropped */
	uint8_t compress;	    /* enum push_compress: the framing the server asks for */
};

/*
 * redirect-gateway's words, as OpenVPN's RG_* flags (route.h): IPv4 is
 * redirected unless "!ipv4" says not, IPv6 when "ipv6" says so.
 */
enum push_redirect {
	PUSH_REDIRECT_ON = 1 << 0,    /* the option was pushed */
	PUSH_REDIRECT_IPV4 = 1 << 1,  /* default; "!ipv4" clears it */
	PUSH_REDIRECT_IPV6 = 1 << 2,  /* "ipv6" */
	PUSH_REDIRECT_LOCAL = 1 << 3, /* "local": the server is on our link, no host route */
	PUSH_REDIRECT_DEF1 = 1 << 4,  /* "def1": two /1 routes, not the default (we always do) */
	PUSH_REDIRECT_BLOCK_LOCAL = 1 << 5, /* "block-local" */
	PUSH_REDIRECT_BYPASS = 1 << 6,	    /* "bypass-dhcp", "bypass-dns": Windows' concerns */
};

/* A pushed comp-lzo or compress: the compression framing the server expects. */
enum push_compress {
	PUSH_COMPRESS_UNSAID, /* neither pushed: the client keeps its own */
	PUSH_COMPRESS_LZO,    /* comp-lzo (any argument): one byte before every packet */
	PUSH_COMPRESS_V2,     /* compress stub-v2 or lz4-v2 */
	PUSH_COMPRESS_V1,     /* compress, compress stub, lz4 or lzo: the older swap framing */
};

void push_options_init(struct push_options *o);

/* A client's own redirect-gateway words ("def1 ipv6"), as a pushed one's flags. */
unsigned push_redirect_parse(const char *words);

/*
 * Adds one "PUSH_REPLY,opt,opt,..." message to o. 0, or -1 with a one-line
 * reason in err (naming the option) for a malformed one.
 */
int push_parse(struct push_options *o, const char *message, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * As push_parse, through a client's pull-filter (NULL: none): lines of
 * "accept TEXT", "ignore TEXT" or "reject TEXT", each ending in a newline.
 * The first line whose TEXT begins an option decides it, as OpenVPN's
 * apply_pull_filter (options.c): accepted, dropped (o->filtered counts it),
 * or the whole reply refused with the option named in err.
 */
int push_parse_filtered(struct push_options *o, const char *message, const char *filter, char *err,
			size_t errlen) __attribute__((warn_unused_result));

/*
 * A domain as OpenVPN's validate_domain (domain_helper.h) takes it: letters,
 * digits, '.', '-', '_' and bytes past ASCII (IDN). Nothing else may reach
 * resolv.conf, resolvconf's stdin (a newline would add a line) or
 * resolvectl's arguments, where a leading '-' would be an option: refused too.
 * Pushed domains and those on.dns returns are checked with it.
 */
bool push_domain_valid(const char *d);

/* The prefix length of a contiguous IPv4 netmask ("255.255.255.0" -> 24), or -1. */
int push_netmask_len(const char *mask);

#endif
