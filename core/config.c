// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>

#include "config.h"

struct config *config_new(void)
{
	return calloc(1, sizeof(struct config));
}

static bool server_address(struct ip_prefix *out, const struct ip_prefix *network)
{
	out->len = network->len;
	return ip_prefix_host(&out->addr, network, 1);
}

bool config_derive_device(struct config *cfg)
{
	size_t n = 0;

	if (cfg->role == CONFIG_CLIENT) {
		cfg->device.n_addrs = 0;
		cfg->device.n_routes = 0;
		return true;
	}
	if (!server_address(&cfg->device_addrs[n++], &cfg->network))
		return false;
	if (cfg->has_network6 && !server_address(&cfg->device_addrs[n++], &cfg->network6))
		return false;
	cfg->device.addrs = cfg->device_addrs;
	cfg->device.n_addrs = n;
	cfg->device.routes = cfg->routes;
	cfg->device.n_routes = cfg->n_routes;
	return true;
}

static void free_strings(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* A field that may hold inline key text (a .ovpn profile's <key>): wiped before it goes. */
static void free_material(char *value)
{
	if (value)
		explicit_bzero(value, strlen(value));
	free(value);
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->source);
	free(cfg->console_path);
	free(cfg->mgmt_where);
	free(cfg->mgmt_password_file);
	free(cfg->status_file);
	free(cfg->routes);
	free(cfg->routes_outside);
	free(cfg->listen);
	free(cfg->dns);
	free_strings(cfg->pull_filter, cfg->n_pull_filter);
	free(cfg->auth_username);
	if (cfg->auth_password)
		explicit_bzero(cfg->auth_password, strlen(cfg->auth_password));
	free(cfg->auth_password);
	free_material(cfg->auth_file);
	free(cfg->auth_static_challenge);
	free(cfg->tls_ca);
	free(cfg->tls_cert);
	free_material(cfg->tls_key);
	free_material(cfg->tls_pkcs12);
	free_material(cfg->tls_key_password);
	free(cfg->tls_key_password_file);
	free(cfg->tls_crl);
	free_material(cfg->tls_auth_key);
	free_material(cfg->tls_crypt_key);
	free(cfg->token_secret);
	free_material(cfg->tls_crypt_v2_key);
	free_strings(cfg->tls_crypt_v2_revoked, cfg->n_tls_crypt_v2_revoked);
	free(cfg->user);
	free(cfg->metrics_listen);
	free(cfg->group);
	free_strings(cfg->ciphers, cfg->n_ciphers);
	free_strings(cfg->remotes, cfg->n_remotes);
	free_strings(cfg->public_hosts, cfg->n_public_hosts);
	free(cfg);
}
