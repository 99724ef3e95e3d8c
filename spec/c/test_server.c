// SPDX-License-Identifier: MIT
/*
 * The server's VPN-address index (the route from the device): every client
 * address is found in one lookup, removal keeps the other entries
 * reachable (backward-shift deletion across probe clusters), a newer
 * client's mapping survives the end of an older one, the table refuses to
 * fill beyond half, and random operations agree with a plain array. The
 * peer index (a control packet's session): every one of 1024 clients'
 * transport addresses is found, port and family matter, and a client that
 * moves (floats) is found at its new address only.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "unit.h"

/* The default max_clients: the VPN index holds two keys each, the peer index one. */
enum { CLIENTS = SERVER_CLIENTS_DEFAULT };

static struct server_addr_index ix;

/* Address number n: 10.(n / 256).(n % 256).1, or fd00::n. */
static struct ip_addr addr(int family, unsigned n)
{
	struct ip_addr a = { .family = family };

	if (family == AF_INET) {
		a.bytes[0] = 10;
		a.bytes[1] = (uint8_t)(n >> 8);
		a.bytes[2] = (uint8_t)n;
		a.bytes[3] = 1;
	} else {
		a.bytes[0] = 0xfd;
		a.bytes[14] = (uint8_t)(n >> 8);
		a.bytes[15] = (uint8_t)n;
	}
	return a;
}

/* Two addresses per client, as many clients as the server has: the table at its bound. */
static void test_full(void)
{
	struct ip_addr extra = addr(AF_INET, 4000), none = { 0 };
	int found = 0;

	CHECK(server_addr_index_init(&ix, &(struct siphash_key){ 1, 0 }, 2 * CLIENTS) == 0, "init");
	for (unsigned id = 0; id < CLIENTS; id++) {
		struct ip_addr a4 = addr(AF_INET, id), a6 = addr(AF_INET6, id);

		CHECK(server_addr_index_put(&ix, &a4, id), "put v4 %u", id);
		CHECK(server_addr_index_put(&ix, &a6, id), "put v6 %u", id);
	}
	for (unsigned id = 0; id < CLIENTS; id++) {
		struct ip_addr a4 = addr(AF_INET, id), a6 = addr(AF_INET6, id);

		found += server_addr_index_get(&ix, &a4) == (int32_t)id &&
			 server_addr_index_get(&ix, &a6) == (int32_t)id;
	}
	CHECK(found == CLIENTS, "found %d of %d", found, CLIENTS);
	CHECK(!server_addr_index_put(&ix, &extra, 0), "a table more than half full");
	CHECK(server_addr_index_get(&ix, &extra) == -1, "an absent address");
	CHECK(server_addr_index_get(&ix, &none) == -1, "no family");
	CHECK(!server_addr_index_put(&ix, &none, 0), "no family is not indexed");

	/* Every other client ends: the rest stay reachable behind the holes. */
	for (unsigned id = 0; id < CLIENTS; id += 2) {
		struct ip_addr a4 = addr(AF_INET, id), a6 = addr(AF_INET6, id);

		server_addr_index_del(&ix, &a4, id);
		server_addr_index_del(&ix, &a6, id);
	}
	found = 0;
	for (unsigned id = 0; id < CLIENTS; id++) {
		struct ip_addr a4 = addr(AF_INET, id), a6 = addr(AF_INET6, id);
		int32_t want = id % 2 ? (int32_t)id : -1;

		found += server_addr_index_get(&ix, &a4) == want &&
			 server_addr_index_get(&ix, &a6) == want;
	}
	CHECK(found == CLIENTS, "after removals: %d of %d right", found, CLIENTS);
	CHECK(ix.n == CLIENTS, "%zu entries left", ix.n);
	server_addr_index_free(&ix);
}

/* An address handed to a newer client: the older client's end must not remove it. */
static void test_reassigned(void)
{
	struct ip_addr a = addr(AF_INET, 7);

	CHECK(server_addr_index_init(&ix, &(struct siphash_key){ 2, 0 }, 2 * CLIENTS) == 0, "init");
	CHECK(server_addr_index_put(&ix, &a, 3), "put");
	CHECK(server_addr_index_put(&ix, &a, 9), "put again");
	CHECK(server_addr_index_get(&ix, &a) == 9, "the newer client has it");
	server_addr_index_del(&ix, &a, 3);
	CHECK(server_addr_index_get(&ix, &a) == 9, "still, after the older one ended");
	server_addr_index_del(&ix, &a, 9);
	CHECK(server_addr_index_get(&ix, &a) == -1, "gone with the newer one");
	CHECK(ix.n == 0, "%zu entries", ix.n);
	server_addr_index_free(&ix);
}

/* Random puts and removals against a plain array of owners. */
static void test_random(void)
{
	enum { ADDRS = 3000, OPS = 200000 };
	static int32_t owner[2][ADDRS];
	unsigned seed = 12345, wrong = 0;

	CHECK(server_addr_index_init(&ix, &(struct siphash_key){ 3, 0 }, 2 * CLIENTS) == 0, "init");
	memset(owner, 0xff, sizeof(owner)); /* -1 */
	for (int op = 0; op < OPS; op++) {
		unsigned r = (unsigned)rand_r(&seed), n = r % ADDRS, fam = (r >> 12) & 1;
		struct ip_addr a = addr(fam ? AF_INET6 : AF_INET, n);
		uint32_t id = (r >> 13) % CLIENTS;

		if ((r >> 24) % 3 == 0) {
			if (server_addr_index_put(&ix, &a, id))
				owner[fam][n] = (int32_t)id;
		} else if (owner[fam][n] >= 0) {
			/* Half the removals name the owner, half another client (a no-op). */
			uint32_t who = (r >> 30) & 1 ? (uint32_t)owner[fam][n] : id;

			server_addr_index_del(&ix, &a, who);
			if (who == (uint32_t)owner[fam][n])
				owner[fam][n] = -1;
		}
		wrong += server_addr_index_get(&ix, &a) != owner[fam][n];
	}
	for (unsigned fam = 0; fam < 2; fam++)
		for (unsigned n = 0; n < ADDRS; n++) {
			struct ip_addr a = addr(fam ? AF_INET6 : AF_INET, n);

			wrong += server_addr_index_get(&ix, &a) != owner[fam][n];
		}
	CHECK(wrong == 0, "%u lookups disagree with the model", wrong);
	server_addr_index_free(&ix);
}

/* The transport address of client n: 10.(n / 256).(n % 256).2:40000, or [fd00::n]:40000. */
static struct sockaddr_storage peer(int family, unsigned n, uint16_t port, socklen_t *len)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		struct ip_addr a = addr(AF_INET, n);

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, a.bytes, 4);
		*len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		struct ip_addr a = addr(AF_INET6, n);

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, a.bytes, 16);
		*len = sizeof(*in6);
	}
	return ss;
}

static void test_peers(void)
{
	socklen_t len, len6;
	int found = 0;

	CHECK(server_addr_index_init(&ix, &(struct siphash_key){ 4, 5 }, CLIENTS) == 0, "init");
	for (unsigned id = 0; id < CLIENTS; id++) {
		struct sockaddr_storage p = peer(id % 2 ? AF_INET6 : AF_INET, id, 40000, &len);

		CHECK(server_peer_index_put(&ix, (struct sockaddr *)&p, len, id), "put %u", id);
	}
	for (unsigned id = 0; id < CLIENTS; id++) {
		struct sockaddr_storage p = peer(id % 2 ? AF_INET6 : AF_INET, id, 40000, &len);

		found += server_peer_index_get(&ix, (struct sockaddr *)&p, len) == (int32_t)id;
	}
	CHECK(found == CLIENTS, "found %d of %d", found, CLIENTS);

	struct sockaddr_storage other_port = peer(AF_INET, 0, 40001, &len),
				other_family = peer(AF_INET6, 0, 40000, &len6);

	CHECK(server_peer_index_get(&ix, (struct sockaddr *)&other_port, len) == -1,
	      "another port");
	CHECK(server_peer_index_get(&ix, (struct sockaddr *)&other_family, len6) == -1,
	      "the same number, IPv6");
	CHECK(server_peer_index_get(&ix, (struct sockaddr *)&other_port, 0) == -1, "no length");

	/* Client 6 floats from 10.0.6.2:40000 to 10.0.6.2:40001. */
	struct sockaddr_storage was = peer(AF_INET, 6, 40000, &len),
				now = peer(AF_INET, 6, 40001, &len);

	server_peer_index_del(&ix, (struct sockaddr *)&was, len, 6);
	CHECK(server_peer_index_put(&ix, (struct sockaddr *)&now, len, 6), "moved");
	CHECK(server_peer_index_get(&ix, (struct sockaddr *)&was, len) == -1, "not where it was");
	CHECK(server_peer_index_get(&ix, (struct sockaddr *)&now, len) == 6, "where it is");
	CHECK(ix.n == CLIENTS, "%zu entries", ix.n);
	server_addr_index_free(&ix);
}

/*
 * Sized from max_clients: the largest the configuration allows holds an
 * IPv4 and an IPv6 address for every client and finds each, and refuses
 * one more; the smallest holds its one client's two.
 */
static void test_sized(void)
{
	struct ip_addr extra = addr(AF_INET, 65535), a4, a6;
	unsigned found = 0, put = 0;

	CHECK(server_addr_index_init(&ix, &(struct siphash_key){ 6, 7 },
				     2 * SERVER_CLIENTS_LIMIT) == 0,
	      "init for %d clients", SERVER_CLIENTS_LIMIT);
	for (unsigned id = 0; id < SERVER_CLIENTS_LIMIT; id++) {
		a4 = addr(AF_INET, id);
		a6 = addr(AF_INET6, id);
		put += server_addr_index_put(&ix, &a4, id) && server_addr_index_put(&ix, &a6, id);
	}
	for (unsigned id = 0; id < SERVER_CLIENTS_LIMIT; id++) {
		a4 = addr(AF_INET, id);
		a6 = addr(AF_INET6, id);
		found += server_addr_index_get(&ix, &a4) == (int32_t)id &&
			 server_addr_index_get(&ix, &a6) == (int32_t)id;
	}
	CHECK(put == SERVER_CLIENTS_LIMIT && found == SERVER_CLIENTS_LIMIT, "put %u, found %u", put,
	      found);
	/* Room for exactly max_clients' keys, rounded up to half a power of two: two more. */
	a4 = addr(AF_INET6, 65535);
	a6 = extra;
	a6.bytes[3] = 2;
	CHECK(ix.max == ix.n + 2 && server_addr_index_put(&ix, &a4, 1) &&
		      server_addr_index_put(&ix, &extra, 1) && !server_addr_index_put(&ix, &a6, 0),
	      "full at half its %zu slots", ix.cap);
	server_addr_index_free(&ix);

	CHECK(server_addr_index_init(&ix, &(struct siphash_key){ 8, 9 }, 2) == 0, "init for 1");
	a4 = addr(AF_INET, 1);
	a6 = addr(AF_INET6, 1);
	CHECK(server_addr_index_put(&ix, &a4, 0) && server_addr_index_put(&ix, &a6, 0) &&
		      !server_addr_index_put(&ix, &extra, 0),
	      "one client's two addresses, no more");
	server_addr_index_free(&ix);
}

int main(void)
{
	test_full();
	test_reassigned();
	test_random();
	test_peers();
	test_sized();
	return unit_report("server");
}
