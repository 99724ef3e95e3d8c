// SPDX-License-Identifier: MIT
/*
 * vpn.crypt_verify(password, hash) -> true | false: checks a crypt(3) hash
 * (yescrypt, sha512-crypt, ...) on a worker thread, so the tens of
 * milliseconds a hash costs suspend only the calling hook, never the loop.
 */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "lua_hook.h"
#include "passwd.h"

struct verify_job {
	struct worker_job job;	/* first: the worker hands it back */
	struct hook_call *call; /* NULL once the hook ended: nobody to resume */
	bool ok;
	size_t password_len;
	char *password, *hash;
};

static void run_verify(struct worker_job *job)
{
	struct verify_job *v = (struct verify_job *)job;

	v->ok = passwd_verify(v->password, v->hash);
}

static void verify_job_free(struct verify_job *v)
{
	crypto_wipe(v->password, v->password_len);
	free(v->password);
	free(v->hash);
	free(v);
}

static void verify_done(struct worker_job *job)
{
	struct verify_job *v = (struct verify_job *)job;
	struct hook_call *call = v->call;
	bool ok = v->ok && !job->cancelled;

	verify_job_free(v);
	if (!call)
		return;
	lua_pushboolean(hook_call_thread(call), ok);
	hook_call_resume(call, 1);
}

/* The hook ended while its hash was computed: the job finishes unreported. */
static void cancel_verify(void *op)
{
	((struct verify_job *)op)->call = NULL;
}

/* vpn.crypt_verify(password, hash). May raise, yields. */
static int l_hook_crypt_verify(lua_State *L)
{
	size_t plen;
	const char *password = luaL_checklstring(L, 1, &plen);
	const char *hash = luaL_checkstring(L, 2);
	struct hook_call *call = hook_check_yieldable(L, "vpn.crypt_verify");
	struct worker *w = hook_runtime_worker(hook_runtime_of(L));
	struct verify_job *v = calloc(1, sizeof(*v));

	if (!v || !(v->password = malloc(plen + 1)) || !(v->hash = strdup(hash))) {
		if (v)
			free(v->password);
		free(v);
		return luaL_error(L, "out of memory");
	}
	memcpy(v->password, password, plen + 1);
	v->password_len = plen;
	v->call = call;
	v->job.run = run_verify;
	v->job.done = verify_done;
	if (!w || worker_submit(w, &v->job) < 0) {
		verify_job_free(v);
		return luaL_error(L, "vpn.crypt_verify: %s",
				  w ? "too many password checks waiting" : "no worker thread");
	}
	return hook_yield(L, call, cancel_verify, v);
}

void lua_passwd_register(lua_State *L)
{
	lua_pushcfunction(L, l_hook_crypt_verify);
	lua_setfield(L, -2, "crypt_verify");
}
