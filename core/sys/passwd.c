// SPDX-License-Identifier: MIT
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "passwd.h"

bool passwd_verify(const char *password, const char *hash)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *out;
	bool ok;

	if (!cd)
		return false;
	/* crypt_rn returns NULL (never a "*0" failure token) for a hash it cannot use. */
	out = crypt_rn(password, hash, cd, sizeof(*cd));
	ok = out && out[0] != '*' && strlen(out) == strlen(hash) &&
	     crypto_equal(out, hash, strlen(hash));
	crypto_wipe(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int passwd_hash(const char *password, const char *method, char out[PASSWD_HASH_MAX], char *err,
		size_t errlen)
{
	const char *prefix = strcmp(method, "yescrypt") == 0 ? "$y$"
			     : strcmp(method, "sha512") == 0 ? "$6$"
							     : NULL;
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	bool ok;

	if (!prefix) {
		snprintf(err, errlen, "unknown hash method \"%s\" (yescrypt or sha512)", method);
		return -1;
	}
	if (!crypt_gensalt_rn(prefix, 0, NULL, 0, setting, sizeof(setting))) {
		snprintf(err, errlen, "cannot make a salt: %s", strerror(errno));
		return -1;
	}
	if (!(cd = calloc(1, sizeof(*cd)))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	h = crypt_rn(password, setting, cd, sizeof(*cd)); /* points into cd */
	ok = h && h[0] != '*';
	if (ok)
		snprintf(out, PASSWD_HASH_MAX, "%s", h);
	else
		snprintf(err, errlen, "crypt failed: %s", strerror(errno));
	crypto_wipe(cd, sizeof(*cd));
	free(cd);
	return ok ? 0 : -1;
}
