// SPDX-License-Identifier: MIT
/*
 * tls-auth and tls-crypt wrapping and the static key file: round trips,
 * key directions, tampering, truncation. As root, and with openvpn
 * installed, also interop inside a private network namespace: a stock
 * openvpn client's reset unwraps with our code, and it accepts our wrapped
 * stateless reply (its next packet acks it), for tls-crypt and tls-auth,
 * with a key from `openvpn --genkey` and one we formatted. Dynamic
 * tls-crypt: the keying material XORed with the whole original static key
 * (tls-crypt and tls-auth, whatever the direction), as it is without one.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cookie.h"
#include "proto.h"
#include "unit.h"
#include "wrap.h"

static struct static_key test_key(void)
{
	struct static_key k;

	for (int i = 0; i < STATIC_KEY_LEN; i++)
		k.bytes[i] = (uint8_t)(i * 37 + 11);
	return k;
}

static void test_static_key(void)
{
	struct static_key k = test_key(), back;
	char text[STATIC_KEY_TEXT_MAX], err[128];
	size_t len = static_key_format(&k, text, sizeof(text));

	CHECK(len > 0 && strstr(text, "-----BEGIN OpenVPN Static key V1-----\n"), "format");
	CHECK(static_key_parse(&back, text, len, err, sizeof(err)) == 0 &&
		      memcmp(back.bytes, k.bytes, STATIC_KEY_LEN) == 0,
	      "round trip: %s", err);
	text[len - 40] = 'g';
	CHECK(static_key_parse(&back, text, len, err, sizeof(err)) < 0 && strstr(err, "non-hex"),
	      "non-hex: %s", err);
	CHECK(static_key_parse(&back, "hello", 5, err, sizeof(err)) < 0 && strstr(err, "no \""),
	      "not a key: %s", err);
	static const char short_key[] = "-----BEGIN OpenVPN Static key V1-----\nabcd\n"
					"-----END OpenVPN Static key V1-----\n";
	CHECK(static_key_parse(&back, short_key, sizeof(short_key) - 1, err, sizeof(err)) < 0 &&
		      strstr(err, "has 4 hex digits"),
	      "short: %s", err);
}

/* A client reset as plain bytes. */
static const uint8_t reset[] = { 0x38, 0x21, 0x9c, 0xf6, 0x02, 0xf5, 0xd8,
				 0xed, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00 };

static void check_round_trip(const char *what, const struct wrap *tx, const struct wrap *rx,
			     bool should_open)
{
	uint8_t wire[256], plain[256];
	uint32_t pid, t;
	int n = wrap_seal(tx, reset, sizeof(reset), 7, 0x6b05d657, wire, sizeof(wire));
	int m;

	CHECK(n == (int)(sizeof(reset) + wrap_overhead(tx)), "%s: sealed %d", what, n);
	m = wrap_open(rx, wire, (size_t)n, plain, sizeof(plain), &pid, &t);
	if (!should_open) {
		CHECK(m == WRAP_EAUTH, "%s: refused (%d)", what, m);
		return;
	}
	CHECK(m == (int)sizeof(reset) && memcmp(plain, reset, sizeof(reset)) == 0, "%s: opened",
	      what);
	CHECK(pid == 7 && t == 0x6b05d657, "%s: replay fields", what);
	for (int i = 0; i < n; i++) {
		wire[i] ^= 0x40;
		CHECK(wrap_open(rx, wire, (size_t)n, plain, sizeof(plain), &pid, &t) == WRAP_EAUTH,
		      "%s: byte %d tampered", what, i);
		wire[i] ^= 0x40;
	}
	CHECK(wrap_open(rx, wire, PROTO_HEADER_LEN, plain, sizeof(plain), &pid, &t) == WRAP_ETRUNC,
	      "%s: truncated", what);
}

static const struct {
	const char *digest;
	int tx_dir, rx_dir;
	bool opens;
} auth_pairs[] = {
	{ "SHA1", WRAP_KEY_DIRECTION_NONE, WRAP_KEY_DIRECTION_NONE, true },
	{ "SHA1", 0, 1, true },
	{ "SHA1", 1, 0, true },
	{ "SHA1", 0, 0, false },
	{ "SHA256", 1, 0, true },
	{ "SHA512", WRAP_KEY_DIRECTION_NONE, WRAP_KEY_DIRECTION_NONE, true },
	{ "SHA256", 0, WRAP_KEY_DIRECTION_NONE, true }, /* both use key[0] */
	{ "SHA256", 1, WRAP_KEY_DIRECTION_NONE, false },
};

static void test_tls_auth(const struct crypto *c)
{
	struct static_key k = test_key();
	struct wrap tx, rx;
	char err[128], what[64];

	for (size_t i = 0; i < sizeof(auth_pairs) / sizeof(auth_pairs[0]); i++) {
		CHECK(wrap_init_tls_auth(&tx, c, &k, auth_pairs[i].tx_dir, auth_pairs[i].digest,
					 err, sizeof(err)) == 0 &&
			      wrap_init_tls_auth(&rx, c, &k, auth_pairs[i].rx_dir,
						 auth_pairs[i].digest, err, sizeof(err)) == 0,
		      "init: %s", err);
		snprintf(what, sizeof(what), "tls-auth %s %d->%d", auth_pairs[i].digest,
			 auth_pairs[i].tx_dir, auth_pairs[i].rx_dir);
		check_round_trip(what, &tx, &rx, auth_pairs[i].opens);
	}
	CHECK(wrap_init_tls_auth(&tx, c, &k, 0, "MD5", err, sizeof(err)) < 0 &&
		      strstr(err, "unsupported digest"),
	      "MD5 refused: %s", err);
}

static void test_tls_crypt(const struct crypto *c)
{
	struct static_key k = test_key();
	struct wrap server, client, server2;

	wrap_init_tls_crypt(&server, c, &k, true);
	wrap_init_tls_crypt(&client, c, &k, false);
	wrap_init_tls_crypt(&server2, c, &k, true);
	CHECK(wrap_overhead(&server) == 40, "tls-crypt adds 40 bytes");
	check_round_trip("tls-crypt client->server", &client, &server, true);
	check_round_trip("tls-crypt server->client", &server, &client, true);
	check_round_trip("tls-crypt server->server", &server, &server2, false);
}

/* A client's dynamic wrap as the peer computes it: tls-crypt with ekm ^ key (or ekm). */
static void expected_client(const struct crypto *c, struct wrap *w, const uint8_t *ekm,
			    const struct static_key *key)
{
	struct static_key k;

	for (int i = 0; i < STATIC_KEY_LEN; i++)
		k.bytes[i] = ekm[i] ^ (key ? key->bytes[i] : 0);
	wrap_init_tls_crypt(w, c, &k, false);
}

static void test_dynamic(const struct crypto *c)
{
	struct static_key k = test_key();
	uint8_t ekm[WRAP_DYNAMIC_KEY_LEN];
	struct wrap orig, orig_client, dyn, dyn_client, want;
	char err[128];

	for (int i = 0; i < WRAP_DYNAMIC_KEY_LEN; i++)
		ekm[i] = (uint8_t)(i * 13 + 5);

	wrap_init_tls_crypt(&orig, c, &k, true);
	wrap_init_dynamic(&dyn, c, &orig, ekm, true);
	CHECK(dyn.mode == WRAP_TLS_CRYPT && dyn.dynamic, "dynamic tls-crypt is tls-crypt");
	expected_client(c, &want, ekm, &k);
	check_round_trip("dyn (tls-crypt) server->client", &dyn, &want, true);
	check_round_trip("dyn (tls-crypt) client->server", &want, &dyn, true);
	expected_client(c, &want, ekm, NULL);
	check_round_trip("dyn (tls-crypt) without the XOR", &dyn, &want, false);
	check_round_trip("dyn is not the static key", &dyn, &orig, false);
	CHECK(strstr(wrap_failure(&dyn), "dynamic") != NULL, "failure: %s", wrap_failure(&dyn));

	/* tls-auth: the whole key file, not just the HMAC halves its direction uses. */
	CHECK(wrap_init_tls_auth(&orig, c, &k, 0, "SHA1", err, sizeof(err)) == 0 &&
		      wrap_init_tls_auth(&orig_client, c, &k, 1, "SHA1", err, sizeof(err)) == 0,
	      "tls-auth: %s", err);
	wrap_init_dynamic(&dyn, c, &orig, ekm, true);
	wrap_init_dynamic(&dyn_client, c, &orig_client, ekm, false);
	expected_client(c, &want, ekm, &k);
	check_round_trip("dyn (tls-auth) server->client", &dyn, &want, true);
	check_round_trip("dyn (tls-auth) client->server", &dyn_client, &dyn, true);

	/* No wrapping: the keying material as it is. */
	wrap_init_none(&orig);
	wrap_init_dynamic(&dyn, c, &orig, ekm, true);
	expected_client(c, &want, ekm, NULL);
	check_round_trip("dyn (none) server->client", &dyn, &want, true);
	expected_client(c, &want, ekm, &k);
	check_round_trip("dyn (none) takes no key", &dyn, &want, false);
}

/* --- interop with stock openvpn, in a private network namespace --- */

struct interop {
	char dir[64];
	int sock;
	struct sockaddr_in addr;
};

static pid_t start_openvpn(const struct interop *io, const char *wrap_opt, const char *key,
			   const char *direction)
{
	char port[8], ca[96], crt[96], k[96];
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	snprintf(port, sizeof(port), "%u", ntohs(io->addr.sin_port));
	snprintf(ca, sizeof(ca), "%s/ca.crt", io->dir);
	snprintf(crt, sizeof(crt), "%s/client1.crt", io->dir);
	snprintf(k, sizeof(k), "%s/client1.key", io->dir);
	int null = open("/dev/null", O_WRONLY);
	dup2(null, 1);
	dup2(null, 2);
	/* An empty direction is left out: openvpn would read it as a bad direction. */
	execlp("openvpn", "openvpn", "--client", "--dev", "null", "--proto", "udp", "--remote",
	       "127.0.0.1", port, "--nobind", "--ca", ca, "--cert", crt, "--key", k, "--verb", "0",
	       wrap_opt, key, *direction ? direction : (char *)NULL, (char *)NULL);
	_exit(127);
}

/* Receives one datagram within 10 s; its length or -1. */
static ssize_t receive(int sock, uint8_t *buf, size_t cap, struct sockaddr_in *from)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	socklen_t len = sizeof(*from);

	if (poll(&p, 1, 10000) != 1)
		return -1;
	return recvfrom(sock, buf, cap, 0, (struct sockaddr *)from, &len);
}

static void interop_case(const struct crypto *c, struct interop *io, const char *what,
			 const char *wrap_opt, const char *key_file, const char *direction,
			 const struct wrap *w)
{
	uint8_t wire[2048], plain[2048], out[256];
	struct proto_control ctl, reply;
	struct proto_sid cookie = { { 0x15, 0xb3, 0x54, 0x44, 0x7a, 0x76, 0x4d, 0x3e } };
	struct sockaddr_in from;
	uint32_t pid, t;
	pid_t child = start_openvpn(io, wrap_opt, key_file, direction);
	ssize_t n = receive(io->sock, wire, sizeof(wire), &from);
	int m = n > 0 ? wrap_open(w, wire, (size_t)n, plain, sizeof(plain), &pid, &t) : -1;

	(void)c;
	CHECK(m > 0 && proto_decode_control(&ctl, plain, (size_t)m) == 0 &&
		      ctl.opcode == P_CONTROL_HARD_RESET_CLIENT_V2 && ctl.msg_id == 0 && pid == 1,
	      "%s: stock client reset unwrapped (received %zd, opened %d)", what, n, m);
	if (m > 0) {
		/* Our wrapped stateless reply; openvpn answers with its ClientHello acking it. */
		cookie_reply(&reply, &ctl, &cookie);
		size_t len = proto_encode_control(out, sizeof(out), &reply);
		int sealed = wrap_seal(w, out, len, 1, (uint32_t)time(NULL), wire, sizeof(wire));
		CHECK(sealed > 0 && sendto(io->sock, wire, (size_t)sealed, 0,
					   (struct sockaddr *)&from, sizeof(from)) == sealed,
		      "%s: reply sent", what);
		n = receive(io->sock, wire, sizeof(wire), &from);
		m = n > 0 ? wrap_open(w, wire, (size_t)n, plain, sizeof(plain), &pid, &t) : -1;
		CHECK(m > 0 && proto_decode_control(&ctl, plain, (size_t)m) == 0 &&
			      ctl.opcode == P_CONTROL_V1 && ctl.n_acks >= 1 && ctl.acks[0] == 0 &&
			      proto_sid_equal(&ctl.remote_sid, &cookie) && ctl.msg_id == 1 &&
			      pid == 2,
		      "%s: stock client accepted our wrapped reply (opcode %u, pid %u)", what,
		      m > 0 ? ctl.opcode : 0, pid);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

static bool interop_setup(struct interop *io)
{
	char cmd[256];
	socklen_t len = sizeof(io->addr);

	if (geteuid() != 0 || system("command -v openvpn > /dev/null") != 0) {
		printf("test_wrap: interop skipped: needs root and openvpn\n");
		return false;
	}
	if (unshare(CLONE_NEWNET) < 0 || system("ip link set lo up") != 0) {
		CHECK(0, "private network namespace");
		return false;
	}
	snprintf(io->dir, sizeof(io->dir), "/tmp/mvt-wrap-XXXXXX");
	CHECK(mkdtemp(io->dir) != NULL, "mkdtemp");
	snprintf(cmd, sizeof(cmd),
		 "scripts/make-pki %s 1 > /dev/null && openvpn --genkey secret %s/stock.key",
		 io->dir, io->dir);
	CHECK(system(cmd) == 0, "PKI and stock key");
	io->sock = socket(AF_INET, SOCK_DGRAM, 0);
	io->addr = (struct sockaddr_in){ .sin_family = AF_INET };
	inet_pton(AF_INET, "127.0.0.1", &io->addr.sin_addr);
	CHECK(bind(io->sock, (struct sockaddr *)&io->addr, sizeof(io->addr)) == 0 &&
		      getsockname(io->sock, (struct sockaddr *)&io->addr, &len) == 0,
	      "bind");
	return true;
}

static bool load_key(const char *path, struct static_key *k)
{
	char text[4096], err[128];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(text, 1, sizeof(text), f) : 0;

	if (f)
		fclose(f);
	CHECK(n > 0 && static_key_parse(k, text, n, err, sizeof(err)) == 0, "%s: %s", path, err);
	return n > 0;
}

static void test_interop(const struct crypto *c)
{
	struct interop io;
	struct static_key stock, ours = test_key();
	char stock_path[96], our_path[96], text[STATIC_KEY_TEXT_MAX], err[128], cmd[128];
	struct wrap w;
	FILE *f;

	if (!interop_setup(&io))
		return;
	snprintf(stock_path, sizeof(stock_path), "%s/stock.key", io.dir);
	snprintf(our_path, sizeof(our_path), "%s/ours.key", io.dir);
	f = fopen(our_path, "w");
	CHECK(f && fwrite(text, 1, static_key_format(&ours, text, sizeof(text)), f) > 0, "write");
	if (f)
		fclose(f);
	if (load_key(stock_path, &stock)) {
		wrap_init_tls_crypt(&w, c, &stock, true);
		interop_case(c, &io, "tls-crypt, stock key", "--tls-crypt", stock_path, "", &w);
		CHECK(wrap_init_tls_auth(&w, c, &stock, 0, "SHA1", err, sizeof(err)) == 0, "%s",
		      err);
		interop_case(c, &io, "tls-auth direction 1, stock key", "--tls-auth", stock_path,
			     "1", &w);
	}
	wrap_init_tls_crypt(&w, c, &ours, true);
	interop_case(c, &io, "tls-crypt, our key", "--tls-crypt", our_path, "", &w);
	CHECK(wrap_init_tls_auth(&w, c, &ours, WRAP_KEY_DIRECTION_NONE, "SHA1", err, sizeof(err)) ==
		      0,
	      "%s", err);
	interop_case(c, &io, "tls-auth without direction, our key", "--tls-auth", our_path, "", &w);
	close(io.sock);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", io.dir);
	CHECK(system(cmd) == 0, "cleanup");
}

int main(void)
{
	char err[256];
	struct crypto *c = crypto_new(err, sizeof(err));

	CHECK(c != NULL, "crypto: %s", err);
	test_static_key();
	if (c) {
		test_tls_auth(c);
		test_tls_crypt(c);
		test_dynamic(c);
		test_interop(c);
	}
	crypto_free(c);
	return unit_report("test_wrap");
}
