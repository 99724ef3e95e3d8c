// SPDX-License-Identifier: MIT
#include <string.h>

#include "keymethod.h"
#include "lua_peer.h"
#include "session.h"

enum { PEER_VALUE_MAX = 256, IV_PROTO_BITS = 32 };

/* t[field] = the peer-info variable name, when the client sent it. */
static void set_variable(lua_State *L, const struct km2_string *info, const char *name,
			 const char *field)
{
	char value[PEER_VALUE_MAX];

	if (km2_peer_info_get(info, name, value, sizeof(value)) && value[0]) {
		lua_pushstring(L, value);
		lua_setfield(L, -2, field);
	}
}

/* t.sso = the comma-separated IV_SSO methods, as a list. */
static void set_sso(lua_State *L, const struct km2_string *info)
{
	char value[PEER_VALUE_MAX];
	lua_Integer n = 0;

	if (!km2_peer_info_get(info, "IV_SSO", value, sizeof(value)) || !value[0])
		return;
	lua_newtable(L);
	for (char *save, *m = strtok_r(value, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
		lua_pushstring(L, m);
		lua_rawseti(L, -2, ++n);
	}
	lua_setfield(L, -2, "sso");
}

/* t.protocol = the names of the IV_PROTO bits set (a bit without a name as "bit N"). */
static void set_protocol(lua_State *L, uint32_t iv_proto)
{
	lua_Integer n = 0;

	lua_newtable(L);
	for (unsigned bit = 0; bit < IV_PROTO_BITS; bit++) {
		const char *name = km2_iv_proto_name(bit);

		if (!(iv_proto & (UINT32_C(1) << bit)))
			continue;
		if (name)
			lua_pushstring(L, name);
		else
			lua_pushfstring(L, "bit %d", (int)bit);
		lua_rawseti(L, -2, ++n);
	}
	lua_setfield(L, -2, "protocol");
}

void lua_peer_push_software(lua_State *L, const struct session *sess)
{
	const char *text = session_peer_info(sess);
	struct km2_string info = { text[0] ? text : NULL, strlen(text) };

	lua_createtable(L, 0, 5);
	set_variable(L, &info, "IV_PLAT", "platform");
	set_variable(L, &info, "IV_VER", "version");
	set_variable(L, &info, "IV_GUI_VER", "gui_version");
	set_sso(L, &info);
	set_protocol(L, session_iv_proto(sess));
}
