// SPDX-License-Identifier: MIT
/*
 * A UDP relay that reorders and duplicates datagrams, for the loss and
 * reordering specs (this kernel has no netem):
 *
 *   udprelay --listen ADDR:PORT --to ADDR:PORT [--reorder PCT] [--delay-ms MS]
 *            [--dup PCT] [--seed N]
 *
 * Datagrams arriving on --listen go to --to from a socket of the relay's
 * own, and the answers go back to the address the last datagram on
 * --listen came from (the client's, tracked as it changes). In each
 * direction PCT percent of the datagrams (--reorder) are held back for MS
 * milliseconds (--delay-ms, default 5) while later ones pass, so they
 * arrive after them, and PCT percent (--dup) are sent twice. Addresses are
 * IPv4 (1.2.3.4:1194) or IPv6 ([fd00::1]:1194).
 *
 * On SIGHUP it sends on from a new upstream socket, so the server sees the
 * client come from a new source port at once, as after a NAT rebinding,
 * and prints "rebound". Prints "listening" once bound; on SIGUSR1, and on SIGTERM or SIGINT
 * before it exits, one line of counters for each direction ("up": from
 * the client, "down": to it):
 *
 *   stats up.relayed=N up.held=N up.overtaken=N up.deepest=N up.dup=N
 *         up.dup_data=N up.lost=N down.relayed=N ...
 *
 * relayed counts datagrams received, held those held back, overtaken the
 * held ones that a later datagram passed (real reorderings), deepest is the
 * most datagrams that passed one held back (how far back in a replay window
 * it arrived), dup the extra copies sent and dup_data those of them that
 * were OpenVPN data packets (P_DATA_V1 or V2, what a peer's replay window
 * counts), lost datagrams the relay could not send or hold. Exit status 0, or 1 with the reason.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
	DATAGRAM_MAX_BYTES = 65536,
	HOLD_MAX = 8192,	       /* datagrams held back at once; more pass at once */
	SOCKET_BUFFER_BYTES = 8 << 20, /* the relay must not be where datagrams are lost */
	DRAIN_MAX = 64,		       /* datagrams read from one socket per round */
	DEFAULT_DELAY_MS = 5,
	OPCODE_DATA_V1 = 6,
	OPCODE_DATA_V2 = 9,
};

enum direction { UP, DOWN };

struct counters {
	uint64_t relayed, held, overtaken, deepest, dup, dup_data, lost;
	/* Sent at once: a held datagram released after more of these was overtaken. */
	uint64_t passed;
};

struct held {
	uint8_t *data;
	size_t len;
	uint64_t due_ms;
	uint64_t passed_before; /* the direction's passed count when it was held */
	enum direction dir;
	bool twice;
};

struct relay {
	int listen_fd, up_fd;
	struct sockaddr_storage to; /* where up_fd is connected */
	socklen_t to_len;
	struct sockaddr_storage client;
	socklen_t client_len;
	unsigned reorder_pct, dup_pct, delay_ms;
	uint64_t rng;
	struct counters c[2];
	struct held hold[HOLD_MAX]; /* a FIFO: every datagram waits the same delay */
	size_t hold_head, hold_n;
};

static volatile sig_atomic_t stop_requested, stats_requested, rebind_requested;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		stats_requested = 1;
	else if (sig == SIGHUP)
		rebind_requested = 1;
	else
		stop_requested = 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: udprelay --listen ADDR:PORT --to ADDR:PORT [--reorder PCT] "
			"[--delay-ms MS] [--dup PCT] [--seed N]\n");
	return 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* splitmix64: reproducible from --seed, good enough to pick datagrams. */
static unsigned percent_roll(struct relay *r)
{
	uint64_t z = (r->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (unsigned)((z ^ (z >> 31)) % 100);
}

/* "1.2.3.4:P" or "[v6]:P" into *ss; false when it is neither. */
static bool parse_address(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(text, ':');
	char *end;
	long port;
	size_t n;

	if (!colon || (n = (size_t)(colon - text)) == 0 || n >= sizeof(host))
		return false;
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535)
		return false;
	memcpy(host, text, n);
	host[n] = 0;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[n - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		host[n - 1] = 0;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*len = sizeof(*s4);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1;
}

static bool parse_percent(const char *text, unsigned *out)
{
	char *end;
	long v = strtol(text, &end, 10);

	if (*end || end == text || v < 0 || v > 100)
		return false;
	*out = (unsigned)v;
	return true;
}

static int open_socket(int family, const char *what)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		fprintf(stderr, "udprelay: %s socket: %s\n", what, strerror(errno));
		return -1;
	}
	/* FORCE needs CAP_NET_ADMIN (the specs run as root); else what the limits allow. */
	for (int opt = 0; opt < 2; opt++) {
		int rcv = opt ? SO_RCVBUF : SO_RCVBUFFORCE, snd = opt ? SO_SNDBUF : SO_SNDBUFFORCE;

		if (setsockopt(fd, SOL_SOCKET, rcv, &(int){ SOCKET_BUFFER_BYTES }, sizeof(int)) ==
			    0 &&
		    setsockopt(fd, SOL_SOCKET, snd, &(int){ SOCKET_BUFFER_BYTES }, sizeof(int)) ==
			    0)
			break;
	}
	return fd;
}

static int open_sockets(struct relay *r, const struct sockaddr_storage *listen,
			socklen_t listen_len, const struct sockaddr_storage *to, socklen_t to_len)
{
	r->listen_fd = open_socket(listen->ss_family, "listening");
	r->up_fd = open_socket(to->ss_family, "upstream");
	if (r->listen_fd < 0 || r->up_fd < 0)
		return -1;
	if (bind(r->listen_fd, (const struct sockaddr *)listen, listen_len) < 0) {
		fprintf(stderr, "udprelay: bind --listen: %s\n", strerror(errno));
		return -1;
	}
	/* Connected: only the server's answers come in on it. */
	if (connect(r->up_fd, (const struct sockaddr *)to, to_len) < 0) {
		fprintf(stderr, "udprelay: connect --to: %s\n", strerror(errno));
		return -1;
	}
	r->to = *to;
	r->to_len = to_len;
	return 0;
}

/* A new upstream socket (a new source port) in place of the old one; -1 keeps the old one. */
static int rebind(struct relay *r)
{
	int fd = open_socket(r->to.ss_family, "upstream");

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&r->to, r->to_len) < 0) {
		fprintf(stderr, "udprelay: connect --to: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	close(r->up_fd);
	r->up_fd = fd;
	return 0;
}

static bool is_data_packet(const uint8_t *p, size_t len)
{
	return len > 0 && (p[0] >> 3 == OPCODE_DATA_V1 || p[0] >> 3 == OPCODE_DATA_V2);
}

/* Sends one copy towards dir's far end; a datagram the kernel refuses is lost. */
static void send_one(struct relay *r, enum direction dir, const uint8_t *p, size_t len)
{
	ssize_t n;

	if (dir == UP)
		n = send(r->up_fd, p, len, 0);
	else
		n = sendto(r->listen_fd, p, len, 0, (const struct sockaddr *)&r->client,
			   r->client_len);
	if (n < 0)
		r->c[dir].lost++;
}

static void send_copies(struct relay *r, enum direction dir, const uint8_t *p, size_t len,
			bool twice)
{
	send_one(r, dir, p, len);
	if (!twice)
		return;
	send_one(r, dir, p, len);
	r->c[dir].dup++;
	r->c[dir].dup_data += is_data_packet(p, len);
}

static bool hold_back(struct relay *r, enum direction dir, const uint8_t *p, size_t len, bool twice)
{
	struct held *h;

	if (r->hold_n == HOLD_MAX)
		return false;
	h = &r->hold[(r->hold_head + r->hold_n) % HOLD_MAX];
	h->data = malloc(len ? len : 1);
	if (!h->data)
		return false;
	memcpy(h->data, p, len);
	h->len = len;
	h->due_ms = now_ms() + r->delay_ms;
	h->passed_before = r->c[dir].passed;
	h->dir = dir;
	h->twice = twice;
	r->hold_n++;
	r->c[dir].held++;
	return true;
}

/* Sends the held datagrams that are due (all of them with force). */
static void release_due(struct relay *r, bool force)
{
	uint64_t now = now_ms();

	while (r->hold_n) {
		struct held *h = &r->hold[r->hold_head];

		if (!force && h->due_ms > now)
			break;
		struct counters *c = &r->c[h->dir];

		if (c->passed > h->passed_before)
			c->overtaken++;
		if (c->passed - h->passed_before > c->deepest)
			c->deepest = c->passed - h->passed_before;
		send_copies(r, h->dir, h->data, h->len, h->twice);
		free(h->data);
		r->hold_head = (r->hold_head + 1) % HOLD_MAX;
		r->hold_n--;
	}
}

static void relay_datagram(struct relay *r, enum direction dir, const uint8_t *p, size_t len)
{
	bool twice = percent_roll(r) < r->dup_pct;

	r->c[dir].relayed++;
	if (percent_roll(r) < r->reorder_pct && hold_back(r, dir, p, len, twice))
		return;
	send_copies(r, dir, p, len, twice);
	r->c[dir].passed++;
}

/* Reads what one socket has (at most DRAIN_MAX datagrams) and relays it. */
static void drain(struct relay *r, enum direction dir)
{
	static uint8_t buf[DATAGRAM_MAX_BYTES];

	for (int i = 0; i < DRAIN_MAX; i++) {
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		ssize_t n;

		if (dir == UP)
			n = recvfrom(r->listen_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
				     &from_len);
		else
			n = recv(r->up_fd, buf, sizeof(buf), 0);
		if (n < 0)
			return; /* EAGAIN, or a queued ICMP error: nothing to relay */
		if (dir == UP) {
			r->client = from;
			r->client_len = from_len;
		} else if (r->client_len == 0) {
			r->c[DOWN].lost++; /* no client has spoken yet */
			continue;
		}
		relay_datagram(r, dir, buf, (size_t)n);
	}
}

static void print_stats(const struct relay *r)
{
	static const char *const names[] = { "up", "down" };

	printf("stats");
	for (int d = UP; d <= DOWN; d++) {
		const struct counters *c = &r->c[d];
		const char *n = names[d];

		printf(" %s.relayed=%llu %s.held=%llu %s.overtaken=%llu %s.deepest=%llu "
		       "%s.dup=%llu "
		       "%s.dup_data=%llu %s.lost=%llu",
		       n, (unsigned long long)c->relayed, n, (unsigned long long)c->held, n,
		       (unsigned long long)c->overtaken, n, (unsigned long long)c->deepest, n,
		       (unsigned long long)c->dup, n, (unsigned long long)c->dup_data, n,
		       (unsigned long long)c->lost);
	}
	printf("\n");
	fflush(stdout);
}

/* Until the first held datagram is due; NULL (forever) with none held. */
static struct timespec *poll_timeout(const struct relay *r, struct timespec *ts)
{
	uint64_t now = now_ms(), due, wait;

	if (!r->hold_n)
		return NULL;
	due = r->hold[r->hold_head].due_ms;
	wait = due <= now ? 0 : due - now;
	ts->tv_sec = (time_t)(wait / 1000);
	ts->tv_nsec = (long)(wait % 1000) * 1000000;
	return ts;
}

/* The signals are blocked except inside ppoll, so none is missed between the check and the wait. */
static int run(struct relay *r, const sigset_t *unblocked)
{
	struct pollfd fds[2] = { { .fd = r->listen_fd, .events = POLLIN },
				 { .fd = r->up_fd, .events = POLLIN } };
	struct timespec ts;

	printf("listening\n");
	fflush(stdout);
	while (!stop_requested) {
		if (stats_requested) {
			stats_requested = 0;
			print_stats(r);
		}
		if (rebind_requested) {
			rebind_requested = 0;
			if (rebind(r) == 0) {
				fds[1].fd = r->up_fd;
				printf("rebound\n");
				fflush(stdout);
			}
		}
		if (ppoll(fds, 2, poll_timeout(r, &ts), unblocked) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "udprelay: ppoll: %s\n", strerror(errno));
			return 1;
		}
		if (fds[0].revents & POLLIN)
			drain(r, UP);
		if (fds[1].revents & POLLIN)
			drain(r, DOWN);
		release_due(r, false);
	}
	release_due(r, true);
	print_stats(r);
	return 0;
}

static int parse_args(struct relay *r, int argc, char **argv, struct sockaddr_storage *listen,
		      socklen_t *listen_len, struct sockaddr_storage *to, socklen_t *to_len)
{
	bool have_listen = false, have_to = false;

	for (int i = 1; i < argc; i += 2) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;
		bool ok;

		if (!val)
			return usage();
		if (!strcmp(opt, "--listen"))
			ok = have_listen = parse_address(val, listen, listen_len);
		else if (!strcmp(opt, "--to"))
			ok = have_to = parse_address(val, to, to_len);
		else if (!strcmp(opt, "--reorder"))
			ok = parse_percent(val, &r->reorder_pct);
		else if (!strcmp(opt, "--dup"))
			ok = parse_percent(val, &r->dup_pct);
		else if (!strcmp(opt, "--delay-ms"))
			ok = (r->delay_ms = (unsigned)strtoul(val, &end, 10)) > 0 &&
			     r->delay_ms <= 10000 && !*end;
		else if (!strcmp(opt, "--seed")) {
			r->rng = strtoull(val, &end, 10);
			ok = !*end && end != val;
		} else
			return usage();
		if (!ok) {
			fprintf(stderr, "udprelay: %s %s: not %s\n", opt, val,
				!strcmp(opt, "--listen") || !strcmp(opt, "--to")
					? "an address:port (1.2.3.4:1194 or [fd00::1]:1194)"
				: !strcmp(opt, "--delay-ms") ? "a delay of 1 to 10000 ms"
				: !strcmp(opt, "--seed")     ? "a number"
							     : "a percentage from 0 to 100");
			return 1;
		}
	}
	return have_listen && have_to ? 0 : usage();
}

int main(int argc, char **argv)
{
	static struct relay r = { .delay_ms = DEFAULT_DELAY_MS, .rng = 1 };
	struct sockaddr_storage listen, to;
	socklen_t listen_len, to_len;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t handled, unblocked;

	if (parse_args(&r, argc, argv, &listen, &listen_len, &to, &to_len))
		return 1;
	sigemptyset(&handled);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	sigaddset(&handled, SIGUSR1);
	sigaddset(&handled, SIGHUP);
	sigprocmask(SIG_BLOCK, &handled, &unblocked);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (open_sockets(&r, &listen, listen_len, &to, to_len) < 0)
		return 1;
	return run(&r, &unblocked);
}
