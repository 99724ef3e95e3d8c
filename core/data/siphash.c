// SPDX-License-Identifier: MIT
#include "crypto.h"
#include "siphash.h"

enum {
	SIPHASH_C_ROUNDS = 2, /* per message word */
	SIPHASH_D_ROUNDS = 4, /* at the end */
};

static inline uint64_t rotl(uint64_t x, unsigned b)
{
	return x << b | x >> (64 - b);
}

/* The state v0..v3 and SipRound, as in section 2 of the paper. */
struct sip {
	uint64_t v0, v1, v2, v3;
};

static void sip_round(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

static void compress(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	for (int i = 0; i < SIPHASH_C_ROUNDS; i++)
		sip_round(s);
	s->v0 ^= m;
}

/* n (at most 8) bytes at p as a little-endian word, whatever the host's byte order. */
static uint64_t load_le(const uint8_t *p, size_t n)
{
	uint64_t w = 0;

	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)p[i] << (8 * i);
	return w;
}

uint64_t siphash(const struct siphash_key *k, const void *data, size_t len)
{
	const uint8_t *p = data;
	/* "somepseudorandomlygeneratedbytes", the paper's initialization constants. */
	struct sip s = {
		k->k0 ^ 0x736f6d6570736575ULL,
		k->k1 ^ 0x646f72616e646f6dULL,
		k->k0 ^ 0x6c7967656e657261ULL,
		k->k1 ^ 0x7465646279746573ULL,
	};
	size_t whole = len - len % 8;

	for (size_t i = 0; i < whole; i += 8)
		compress(&s, load_le(p + i, 8));
	/* The last word: the remaining bytes, and the length mod 256 in its top byte. */
	compress(&s, load_le(p + whole, len % 8) | (uint64_t)(len & 0xff) << 56);
	s.v2 ^= 0xff;
	for (int i = 0; i < SIPHASH_D_ROUNDS; i++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

int siphash_key_init(struct siphash_key *k)
{
	uint8_t b[16];

	if (crypto_random(b, sizeof(b)) < 0)
		return -1;
	k->k0 = load_le(b, 8);
	k->k1 = load_le(b + 8, 8);
	crypto_wipe(b, sizeof(b));
	return 0;
}
