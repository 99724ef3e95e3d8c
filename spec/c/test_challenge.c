// SPDX-License-Identifier: MIT
/*
 * The challenge/response texts as a stock OpenVPN client builds and reads
 * them: the SCRV1 password of a static challenge, the CRV1 refusal of a
 * dynamic one (the example of OpenVPN's management-notes.txt) and the
 * password that answers it; refusals that are no challenge, and parts too
 * long, are refused.
 */
#include <string.h>

#include "challenge.h"
#include "unit.h"

static void test_static(void)
{
	char out[64];

	CHECK(challenge_static_password(out, sizeof(out), "pass", "123456"), "fits");
	CHECK(strcmp(out, "SCRV1:cGFzcw==:MTIzNDU2") == 0, "%s", out);
	CHECK(challenge_static_password(out, sizeof(out), "", "1"), "empty password");
	CHECK(strcmp(out, "SCRV1::MQ==") == 0, "%s", out);
	CHECK(!challenge_static_password(out, 16, "a long password", "123456"), "too long");
}

static void test_dynamic(void)
{
	struct challenge c;
	char out[128];

	CHECK(challenge_parse(&c, "AUTH_FAILED,CRV1:R,E:Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l:Y3Ix:"
				  "Please enter token PIN"),
	      "management-notes' example");
	CHECK(c.echo && c.response, "flags R and E");
	CHECK(strcmp(c.state_id, "Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l") == 0, "%s", c.state_id);
	CHECK(strcmp(c.username, "cr1") == 0, "%s", c.username);
	CHECK(strcmp(c.text, "Please enter token PIN") == 0, "%s", c.text);
	CHECK(challenge_dynamic_password(out, sizeof(out), &c, "8675309"), "fits");
	CHECK(strcmp(out, "CRV1::Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l::8675309") == 0, "%s", out);
	CHECK(challenge_parse(&c, "AUTH_FAILED,CRV1::s1:YWxpY2U=:code: with a colon"), "no flags");
	CHECK(!c.echo && !c.response && strcmp(c.username, "alice") == 0 &&
		      strcmp(c.text, "code: with a colon") == 0,
	      "%s", c.text);
	CHECK(!challenge_dynamic_password(out, 10, &c, "123"), "too long");
}

/* A long text, as long as a stock server sends (PUSH_BUNDLE_SIZE), is a challenge still. */
static void test_long(void)
{
	static struct challenge c;
	char message[1024], state[300];
	size_t len;

	memset(state, 's', sizeof(state) - 1);
	state[sizeof(state) - 1] = '\0';
	len = (size_t)snprintf(message, sizeof(message), "AUTH_FAILED,CRV1:R:%s:YWxpY2U=:", state);
	memset(message + len, 't', sizeof(message) - 1 - len);
	message[sizeof(message) - 1] = '\0';
	CHECK(challenge_parse(&c, message), "a 1023-byte message with a 300-byte state id");
	CHECK(strlen(c.text) == sizeof(message) - 1 - len && strcmp(c.state_id, state) == 0,
	      "the whole text: %zu bytes", strlen(c.text));
}

static void test_not_a_challenge(void)
{
	struct challenge c;

	CHECK(!challenge_parse(&c, "AUTH_FAILED"), "plain refusal");
	CHECK(!challenge_parse(&c, "AUTH_FAILED,wrong password"), "a reason");
	CHECK(!challenge_parse(&c, "AUTH_FAILED,CRV1:R:state"), "missing fields");
	CHECK(!challenge_parse(&c, "AUTH_FAILED,CRV1:R:s:not base64!:text"), "bad username");
	CHECK(!challenge_parse(&c, "AUTH_FAILED,CRV1:R:s:AA==:text"), "a NUL in the username");
}

int main(void)
{
	test_static();
	test_dynamic();
	test_long();
	test_not_a_challenge();
	return unit_report("test_challenge");
}
