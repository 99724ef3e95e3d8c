/* SPDX-License-Identifier: MIT */
/*
 * A small certificate authority over a directory in easy-rsa 3's layout, so
 * a PKI made by easy-rsa is used as it is and one made here can be handed to
 * easy-rsa: ca.crt, private/ca.key, issued/NAME.crt, private/NAME.key,
 * index.txt (OpenSSL's `ca` database: one line per certificate issued),
 * serial, crl.pem, and revoked/certs_by_serial/SERIAL.crt (plus
 * revoked/private_by_serial/SERIAL.key) for what was revoked. Keys are
 * EC P-256 unless RSA is asked for; certificates carry the key usages
 * easy-rsa gives its server and client types, random 128-bit serials, and
 * are signed with SHA-256. The index itself is pki_index.c's; this module
 * makes keys, certificates and the CRL. It prints nothing: errors go to err.
 */
#ifndef MOONVPN_PKI_H
#define MOONVPN_PKI_H

#include <stdbool.h>
#include <stddef.h>

enum {
	PKI_CA_DAYS_DEFAULT = 3650,  /* the CA: ten years, as easy-rsa */
	PKI_CERT_DAYS_DEFAULT = 825, /* servers and clients, as easy-rsa */
	PKI_CRL_DAYS_DEFAULT = 180,  /* the CRL's nextUpdate, as easy-rsa */
	PKI_DAYS_MAX = 36500,
	PKI_RSA_BITS_MIN = 2048,
	PKI_RSA_BITS_MAX = 8192,
	PKI_NAME_MAX = 64, /* a CN's upper bound (RFC 5280 ub-common-name) */
};

enum pki_kind {
	PKI_SERVER, /* extendedKeyUsage serverAuth, keyUsage digitalSignature+keyEncipherment */
	PKI_CLIENT, /* extendedKeyUsage clientAuth, keyUsage digitalSignature */
};

struct pki_options {
	unsigned rsa_bits; /* 0: EC P-256 */
	unsigned days;	   /* 0: the default for what is made */
};

/*
 * Makes a new CA in dir (created if missing): private/ca.key, ca.crt with
 * common name cn, an empty index, serial and an empty crl.pem. Refuses a
 * directory that holds a CA already.
 */
int pki_init(const char *dir, const char *cn, const struct pki_options *o, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Issues issued/NAME.crt and private/NAME.key (mode 0600) signed by dir's CA. */
int pki_issue(const char *dir, const char *name, enum pki_kind kind, const struct pki_options *o,
	      char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Revokes NAME's certificate: marked in the index, its files moved under
 * revoked/, and crl.pem written again (valid for crl_days, 0: the default).
 * The serial revoked is written to serial_out (hex).
 */
int pki_revoke(const char *dir, const char *name, unsigned crl_days, char serial_out[80], char *err,
	       size_t errlen) __attribute__((warn_unused_result));

/* Writes crl.pem from the index, valid for days (0: the default). */
int pki_crl(const char *dir, unsigned days, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The subject common name of the PEM certificate at path. */
int pki_cert_cn(const char *path, char *cn, size_t len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Whether name may name a certificate and its files: [A-Za-z0-9_.@-], not starting with '.'. */
bool pki_name_ok(const char *name);

#endif
