/* SPDX-License-Identifier: MIT */
/*
 * The engine's side of the OpenVPN management interface (mgmt.c) and of
 * the status file: what status, kill and bytecount read from the server's
 * sessions, the stable client id (CID) of each connection, the signal
 * command, and the status file written every interval (temp file, then
 * rename). A configuration without `management` and `status` opens nothing.
 */
#ifndef MOONVPN_ENGINE_MGMT_H
#define MOONVPN_ENGINE_MGMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct engine;
struct config;
struct session;
struct engine_mgmt;
struct session_push;

struct engine_mgmt *engine_mgmt_new(struct engine *e) __attribute__((warn_unused_result));

/* Listens where cfg says (or stops), reads its password file, starts the status file's timer.
 * -1 with err set: the previous listener stays. */
int engine_mgmt_apply(struct engine_mgmt *em, const struct config *cfg, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A client finished its key exchange: its CID is given now, in the order clients came. */
void engine_mgmt_connect(struct engine_mgmt *em, struct session *s);

/*
 * The hooks let s in with push: with management_client_auth the admission
 * waits for the management client (true: push was taken, >CLIENT:CONNECT
 * sent); false: admit it now.
 */
bool engine_mgmt_hold(struct engine_mgmt *em, struct session *s, struct session_push *push);

/* A client waiting for the management client answered its challenge (CR_RESPONSE,
 * base64): told as >CLIENT:CR_RESPONSE; false when the management client does not
 * decide on it (the hooks get it then). */
bool engine_mgmt_cr_response(struct engine_mgmt *em, struct session *s, const char *response);

/*
 * An admitted client renegotiated key key_id: with management_client_auth
 * the new key waits for the management client (true: >CLIENT:REAUTH sent,
 * decided by session_reauth_decide); false: it goes at once.
 */
bool engine_mgmt_reauth(struct engine_mgmt *em, struct session *s, uint8_t key_id,
			const char *password);

/* A session ended: its CID is forgotten. */
void engine_mgmt_ended(struct engine_mgmt *em, struct session *s, const char *reason);

/* Closes the listener and connections, removes the status file's timer. NULL is a no-op. */
void engine_mgmt_free(struct engine_mgmt *em);

/* Room for max_clients clients (by peer-id), before the first: once (another size: -EBUSY). */
int engine_mgmt_set_max_clients(struct engine_mgmt *em, uint32_t max_clients)
	__attribute__((warn_unused_result));

#endif
