/* SPDX-License-Identifier: MIT */
/*
 * The host and network routes a client pinned outside the tunnel
 * (hostroute.h), written down in the runtime directory (RUNTIME_DIRECTORY,
 * else /run/moonvpn, as the saved resolv.conf) while they are on, so that
 * the next start of the same configuration removes those a killed client
 * left: a host name's addresses are not known before it is resolved again,
 * and may have changed. The file is named by a hash of the configuration's
 * path, one per configuration; it goes when no pin is left.
 */
#ifndef MOONVPN_PINSTATE_H
#define MOONVPN_PINSTATE_H

#include <stddef.h>

#include "hostroute.h"

/*
 * Writes the pins of sets (n of them) that are ours for config_path, or
 * removes the file when there is none. 0, or -errno with err saying why.
 */
int pin_state_save(const char *config_path, const struct host_routes *const *sets, size_t n,
		   char *err, size_t errlen) __attribute__((warn_unused_result));

/* Removes the routes the file for config_path lists (ours alone), and the file: how many went. */
size_t pin_state_clear(const char *config_path);

#endif
