/* SPDX-License-Identifier: MIT */
/*
 * The texts of OpenVPN's challenge/response logins, client side (OpenVPN's
 * misc.c get_auth_challenge/parse_auth_challenge and get_user_pass_cr;
 * management-notes.txt, "Challenge/Response Protocol"):
 *
 * - static challenge: the password sent is "SCRV1:" base64(password) ":"
 *   base64(response), the response to a question the profile names;
 * - dynamic challenge: the server refuses the first login with
 *   "AUTH_FAILED,CRV1:flags:state_id:base64(username):text"; the next one
 *   sends that username and the password "CRV1::state_id::response".
 */
#ifndef MOONVPN_CHALLENGE_H
#define MOONVPN_CHALLENGE_H

#include <stdbool.h>
#include <stddef.h>

enum {
	/*
	 * OpenVPN bounds none of the parts (misc.c, parse_auth_challenge): only
	 * the message does, 1024 bytes as a server sends it (PUSH_BUNDLE_SIZE,
	 * push.c send_auth_failed), 2048 as a client reads it
	 * (TLS_CHANNEL_BUF_SIZE). Each part may take what the message can.
	 */
	CHALLENGE_MESSAGE_MAX = 2048,
	CHALLENGE_STATE_MAX = CHALLENGE_MESSAGE_MAX, /* bytes of a CRV1 state id, NUL included */
	CHALLENGE_USERNAME_MAX = 256, /* bytes of its decoded username, NUL included */
	CHALLENGE_TEXT_MAX = CHALLENGE_MESSAGE_MAX, /* bytes of its challenge text, NUL included */
	CHALLENGE_PASSWORD_MAX = 4096,		    /* bytes of a password we build, NUL included */
};

struct challenge {
	bool echo;     /* flag E: the response may be shown as it is typed */
	bool response; /* flag R: a response is required */
	char state_id[CHALLENGE_STATE_MAX];
	char username[CHALLENGE_USERNAME_MAX];
	char text[CHALLENGE_TEXT_MAX];
};

/*
 * Reads a refusal (the whole control message, "AUTH_FAILED,CRV1:...") into
 * *out; false when it is no dynamic challenge or a part does not fit.
 */
bool challenge_parse(struct challenge *out, const char *message);

/* "SCRV1:base64(password):base64(response)" into out (cap with its NUL); false: too long. */
bool challenge_static_password(char *out, size_t cap, const char *password, const char *response);

/* "CRV1::state_id::response" into out (cap with its NUL); false: too long. */
bool challenge_dynamic_password(char *out, size_t cap, const struct challenge *c,
				const char *response);

#endif
