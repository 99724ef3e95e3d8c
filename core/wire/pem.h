/* SPDX-License-Identifier: MIT */
/*
 * PEM armor as OpenSSL's PEM_write_bio writes it and PEM_read_bio reads it
 * (RFC 7468 textual encoding: "-----BEGIN NAME-----", base64 in lines of
 * 64 characters, "-----END NAME-----"), for OpenVPN's tls-crypt-v2 key
 * files. Text before the BEGIN line is skipped, as OpenSSL does; PEM
 * headers ("Proc-Type:") are not supported (the key files have none).
 * Pure: no I/O, no allocation.
 */
#ifndef MOONVPN_PEM_H
#define MOONVPN_PEM_H

#include <stddef.h>
#include <stdint.h>

enum {
	PEM_LINE_CHARS = 64,
	PEM_NAME_MAX = 80,
};

/*
 * Decodes the first PEM block in text into out (cap bytes); its length in
 * *out_len. The block must be named name. 0, or -1 with a one-line reason
 * in err (which names the block found when it has another name).
 */
int pem_decode(const char *name, const char *text, size_t len, uint8_t *out, size_t cap,
	       size_t *out_len, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Writes data as a PEM block named name (NUL-terminated); its length, 0 if cap is too small. */
size_t pem_encode(const char *name, const uint8_t *data, size_t len, char *out, size_t cap);

#endif
