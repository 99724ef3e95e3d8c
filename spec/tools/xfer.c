// SPDX-License-Identifier: MIT
/*
 * A bulk TCP transfer whose both ends hash what they moved, for the
 * integrity specs: no file on disk, the data made on the fly.
 *
 *   xfer recv ADDR PORT
 *     Listens on ADDR:PORT (IPv4 or IPv6), prints "listening", takes one
 *     connection and reads it to its end, then prints
 *     "received BYTES sha256 HEX" and closes it.
 *   xfer send ADDR PORT BYTES SEED [until-signal]
 *     Connects to ADDR:PORT and sends BYTES bytes of a pseudo-random stream
 *     made from SEED, closes its sending half and waits for the receiver to
 *     close (so that everything sent was read), then prints
 *     "sent BYTES sha256 HEX". With until-signal it goes on sending past
 *     BYTES until it gets SIGUSR1 (a transfer that lasts until something
 *     else has happened, however fast the machine).
 *
 * Either end gives up when the connection makes no progress for STALL_SEC
 * seconds, saying how many bytes it had moved. Exit status 0, or 1 with the
 * reason on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum {
	CHUNK_BYTES = 64 * 1024,
	/* Long enough for a sanitizer build on a loaded machine, short enough to
	 * name a stall before the spec's own timeout ends everything. */
	STALL_SEC = 120,
};

static volatile sig_atomic_t stop_requested;

struct hash {
	EVP_MD_CTX *ctx;
	uint64_t bytes;
};

static int fail(const char *what)
{
	fprintf(stderr, "xfer: %s: %s\n", what, strerror(errno));
	return 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: xfer recv ADDR PORT\n"
			"       xfer send ADDR PORT BYTES SEED [until-signal]\n");
	return 1;
}

static struct addrinfo *resolve(const char *addr, const char *port, int flags)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | flags };
	struct addrinfo *ai;
	unsigned char bytes[sizeof(struct in6_addr)];
	int err;

	/* Only the full forms: getaddrinfo would take "1.2.3" as 1.2.0.3. */
	if (inet_pton(AF_INET, addr, bytes) != 1 && inet_pton(AF_INET6, addr, bytes) != 1) {
		fprintf(stderr, "xfer: %s is not an IPv4 or IPv6 address in full\n", addr);
		return NULL;
	}
	err = getaddrinfo(addr, port, &hints, &ai);
	if (err) {
		fprintf(stderr, "xfer: %s port %s: %s\n", addr, port, gai_strerror(err));
		return NULL;
	}
	return ai;
}

/* Blocking calls on fd return EAGAIN after STALL_SEC without progress. */
static int set_stall_timeout(int fd)
{
	struct timeval tv = { .tv_sec = STALL_SEC };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return fail("setsockopt timeout");
	return 0;
}

static int hash_init(struct hash *h)
{
	h->bytes = 0;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		fprintf(stderr, "xfer: SHA-256 is not available from libcrypto\n");
		return 1;
	}
	return 0;
}

static void hash_update(struct hash *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->ctx, data, len);
	h->bytes += len;
}

static void hash_print(struct hash *h, const char *verb)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_DigestFinal_ex(h->ctx, md, &len);
	EVP_MD_CTX_free(h->ctx);
	printf("%s %llu sha256 ", verb, (unsigned long long)h->bytes);
	for (unsigned int i = 0; i < len; i++)
		printf("%02x", md[i]);
	printf("\n");
	fflush(stdout);
}

/* Reads fd to its end into h (h NULL: discards). */
static int drain(int fd, struct hash *h, uint64_t *bytes)
{
	static unsigned char buf[CHUNK_BYTES];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n == 0)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "xfer: read after %llu bytes: %s\n",
				(unsigned long long)*bytes,
				errno == EAGAIN ? "no data for the stall timeout"
						: strerror(errno));
			return 1;
		}
		if (h)
			hash_update(h, buf, (size_t)n);
		*bytes += (uint64_t)n;
	}
}

static int do_recv(const char *addr, const char *port)
{
	struct addrinfo *ai = resolve(addr, port, AI_PASSIVE);
	struct hash h;
	uint64_t bytes = 0;
	int fd, conn;

	if (!ai)
		return 1;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0)
		return fail("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		return fail("bind");
	if (listen(fd, 1) < 0)
		return fail("listen");
	freeaddrinfo(ai);
	printf("listening\n");
	fflush(stdout);
	conn = accept(fd, NULL, NULL);
	if (conn < 0)
		return fail("accept");
	close(fd);
	if (set_stall_timeout(conn) || hash_init(&h) || drain(conn, &h, &bytes))
		return 1;
	hash_print(&h, "received");
	close(conn);
	return 0;
}

/* splitmix64: fast, and the same stream for the same seed everywhere. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void fill(unsigned char *buf, size_t len, uint64_t *state)
{
	for (size_t i = 0; i < len; i += sizeof(uint64_t)) {
		uint64_t r = next_random(state);

		memcpy(buf + i, &r, sizeof(r));
	}
}

static int write_all(int fd, const unsigned char *buf, size_t len, uint64_t done)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "xfer: write after %llu bytes: %s\n",
				(unsigned long long)done,
				errno == EAGAIN ? "no room for the stall timeout"
						: strerror(errno));
			return 1;
		}
		buf += n;
		len -= (size_t)n;
		done += (uint64_t)n;
	}
	return 0;
}

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Until SIGUSR1: a write it interrupts is resumed (write_all retries EINTR). */
static int until_signal(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return fail("sigaction SIGUSR1");
	return 0;
}

static int do_send(const char *addr, const char *port, uint64_t total, uint64_t seed, bool more)
{
	static unsigned char buf[CHUNK_BYTES];
	struct addrinfo *ai = resolve(addr, port, 0);
	struct hash h;
	uint64_t sent = 0, after = 0;
	int fd;

	if (!ai)
		return 1;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0)
		return fail("socket");
	if (set_stall_timeout(fd))
		return 1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		return fail("connect");
	freeaddrinfo(ai);
	if (hash_init(&h))
		return 1;
	while (sent < total || (more && !stop_requested)) {
		size_t len =
			!more && total - sent < sizeof(buf) ? (size_t)(total - sent) : sizeof(buf);

		fill(buf, sizeof(buf), &seed);
		if (write_all(fd, buf, len, sent))
			return 1;
		hash_update(&h, buf, len);
		sent += len;
	}
	/* The receiver closes once it has read our end: then all of it arrived. */
	if (shutdown(fd, SHUT_WR) < 0)
		return fail("shutdown");
	if (drain(fd, NULL, &after))
		return 1;
	if (after) {
		fprintf(stderr, "xfer: the receiver sent %llu bytes back\n",
			(unsigned long long)after);
		return 1;
	}
	hash_print(&h, "sent");
	close(fd);
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s || *end || s[0] == '-';
}

int main(int argc, char **argv)
{
	uint64_t bytes, seed;

	if (argc == 4 && !strcmp(argv[1], "recv"))
		return do_recv(argv[2], argv[3]);
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "send")) {
		bool more = argc == 7;

		if (parse_u64(argv[4], &bytes) || parse_u64(argv[5], &seed) ||
		    (more && strcmp(argv[6], "until-signal")))
			return usage();
		if (more && until_signal())
			return 1;
		return do_send(argv[2], argv[3], bytes, seed, more);
	}
	return usage();
}
