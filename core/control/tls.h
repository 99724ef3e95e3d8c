/* SPDX-License-Identifier: MIT */
/*
 * TLS for the control channel, through OpenSSL 3 over memory BIOs: the
 * caller feeds the peer's ciphertext in (the reliability layer's in-order
 * payloads) and takes ciphertext out to send, so no socket is involved.
 * TLS 1.2 is the minimum, 1.3 is preferred; a server requires a client
 * certificate signed by its CA (optionally checked against a CRL) and with
 * the clientAuth key usage; a client requires serverAuth of the server
 * (explicitly: a certificate without extendedKeyUsage is refused) and may
 * pin its name or fingerprint.
 * A refused handshake says why in one line (unknown CA, expired, not yet
 * valid, revoked, wrong key usage, no certificate) with the peer's common
 * name when known. Also exports keying material (TLS-EKM). Does not know
 * about packets, sessions or OpenVPN messages.
 */
#ifndef MOONVPN_TLS_H
#define MOONVPN_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum tls_role {
	TLS_SERVER,
	TLS_CLIENT,
};

enum {
	TLS_ERR_MAX = 256,
	TLS_CN_MAX = 256,
	TLS_FINGERPRINT_LEN = 32, /* SHA-256 of the certificate (DER) */
	TLS_SUBJECT_MAX = 512,
	TLS_SERIAL_MAX = 48, /* 20 bytes of serial in hex, and a sign */
};

/* Whether the peer must present a certificate (a server may let clients in without). */
enum tls_peer_cert {
	TLS_PEER_CERT_REQUIRED,
	TLS_PEER_CERT_OPTIONAL, /* verified when presented */
	TLS_PEER_CERT_NONE,	/* not asked for */
};

/*
 * ca, cert, key and crl are each a PEM file's path or, when the value holds a
 * newline (tls_is_inline), the PEM text itself: a .ovpn profile's <ca> ...
 * </ca> blocks reach OpenSSL through a memory BIO, never a file on disk.
 */
struct tls_config {
	enum tls_role role;
	const char *ca;	  /* PEM of the CA that signs the peer */
	const char *cert; /* our certificate (PEM); a client may have none (NULL) */
	const char *key;  /* its private key (PEM) */
	const char *crl;  /* optional PEM CRL checked against the peer's certificate */
	enum tls_peer_cert peer_cert;
	/* A client's pins (NULL: none): the server certificate's common name or a DNS
	 * name is server_name; its SHA-256 (DER) is server_fingerprint. */
	const char *server_name;
	const uint8_t *server_fingerprint; /* TLS_FINGERPRINT_LEN bytes */
	/* A client's PKCS#12 bundle without a password (NULL: none): a DER file's path, or
	 * inline base64 (a profile's <pkcs12> block). Its certificate and key stand for
	 * cert and key. With a ca, its CA certificates are only the chain we send;
	 * without one (NULL), they are the trusted CAs and the bundle must carry some. */
	const char *pkcs12;
	/* The password of an encrypted key or of the PKCS#12 bundle (NULL: none). Without
	 * one, an encrypted key fails with -ENOKEY; a wrong one fails with -EKEYREJECTED. */
	const char *key_password;
};

struct tls_ctx;
struct tls_session;

/* Whether a path-or-text field holds the text itself: no file name has a newline. */
static inline bool tls_is_inline(const char *value)
{
	for (; value && *value; value++)
		if (*value == '\n')
			return true;
	return false;
}

/*
 * Loads certificates and keys; on failure err names the file and the reason
 * (-ENOKEY: the key or bundle is encrypted and no password was given;
 * -EKEYREJECTED: the password is wrong).
 */
int tls_ctx_new(struct tls_ctx **out, const struct tls_config *cfg, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/*
 * Contexts are reference-counted: a session takes a reference so that a
 * reload, which replaces the server's context, cannot free it under a
 * renegotiation. tls_ctx_free drops one reference.
 */
struct tls_ctx *tls_ctx_ref(struct tls_ctx *ctx);
void tls_ctx_free(struct tls_ctx *ctx);

/* A new session (one per key state); NULL when out of memory. */
struct tls_session *tls_session_new(struct tls_ctx *ctx) __attribute__((warn_unused_result));
void tls_session_free(struct tls_session *s);

/*
 * Gives back what the handshake's flights grew the ciphertext buffers to,
 * when neither holds anything (a no-op otherwise): for an established,
 * quiet session.
 */
void tls_session_trim(struct tls_session *s);
/* The bytes its ciphertext buffers have room for (0 after tls_session_trim). */
size_t tls_session_buffered(const struct tls_session *s);

/*
 * Hands an established TLS 1.3 session over to tlsrec.h's record layer and
 * frees OpenSSL's SSL object (some 20 KB): for a key state whose handshake
 * and key exchange are over and whose control channel is quiet. After it,
 * write, read and the ciphertext calls go on as before; the peer's names
 * and fingerprint stay, reverify parses its certificates again, export
 * fails. False (nothing changes) for TLS 1.2, a session not yet
 * established or with ciphertext waiting, or a KeyUpdate since.
 */
bool tls_session_park(struct tls_session *s);
bool tls_session_parked(const struct tls_session *s);
/* Records a parked session read and dropped: alerts and handshake messages. */
unsigned tls_session_dropped(const struct tls_session *s);

/* Ciphertext received from the peer, in order. 0, or -1 when out of memory. */
int tls_session_put_ciphertext(struct tls_session *s, const uint8_t *data, size_t len)
	__attribute__((warn_unused_result));

/* Ciphertext to send to the peer: copies up to cap bytes; 0 when there is none. */
size_t tls_session_get_ciphertext(struct tls_session *s, uint8_t *out, size_t cap);
size_t tls_session_pending_ciphertext(struct tls_session *s);

/* Advances the handshake: 1 complete, 0 waiting for the peer, -1 refused or failed. */
int tls_session_handshake(struct tls_session *s);

/* After a failed handshake: true when the peer's certificate was refused (or missing). */
bool tls_session_cert_refused(const struct tls_session *s);

/*
 * Verifies the peer certificate of an established session again, against
 * ctx's CA and CRL as they are now and the current time (a reload may have
 * brought a new CRL). 0 when it still verifies or there is none, -1 with
 * why ("client certificate revoked") when not.
 */
int tls_session_reverify(const struct tls_session *s, struct tls_ctx *ctx, char *why, size_t len)
	__attribute__((warn_unused_result));

/* Application data through the established session. 0 / bytes read, or -1 on failure. */
int tls_session_write(struct tls_session *s, const uint8_t *data, size_t len)
	__attribute__((warn_unused_result));
ssize_t tls_session_read(struct tls_session *s, uint8_t *out, size_t cap);

/* TLS exporter (RFC 5705/8446) with no context; 0 or -1 (also once parked). */
int tls_session_export(struct tls_session *s, const char *label, uint8_t *out, size_t len)
	__attribute__((warn_unused_result));

/* The peer certificate's common name ("" until seen), and why the handshake failed. */
const char *tls_session_peer_cn(const struct tls_session *s);
const char *tls_session_error(const struct tls_session *s);
/* The peer certificate's subject (RFC 2253) and serial number (hex); "" until seen. */
const char *tls_session_peer_subject(const struct tls_session *s);
const char *tls_session_peer_serial(const struct tls_session *s);
/* SHA-256 of the peer's certificate, once seen; NULL before. */
const uint8_t *tls_session_peer_fingerprint(const struct tls_session *s);
/* "TLSv1.3", and the cipher suite name, once established. */
const char *tls_session_version(const struct tls_session *s);
const char *tls_session_cipher(const struct tls_session *s);

#endif
