// SPDX-License-Identifier: MIT
/*
 * Superpackets: a reference builder written here, apart from core/data/vnet.c,
 * makes the segments a TCP/UDP sender would put on the wire and the
 * superpacket the kernel hands a vnet TUN reader for them; splitting must
 * give back every segment byte for byte, with checksums that verify.
 * Coalescing must build frames the kernel accepts (and that split back
 * into the segments), and must leave alone every packet the kernel's own
 * GRO would not merge, keeping each flow's order.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "vnet.h"

enum {
	PAYLOAD_MAX = 70000,
	FRAMES_MAX = 256,
	INPUTS_MAX = 80,
	INPUT_MAX_BYTES = 2048,
	HEADROOM = VNET_HDR_LEN,
	TCP_FIN = 0x01,
	TCP_SYN = 0x02,
	TCP_RST = 0x04,
	TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	TCP_URG = 0x20,
	TCP_ECE = 0x40,
	TCP_CWR = 0x80,
};

/* One packet as the test describes it. */
struct spec {
	bool v6, udp, no_df;
	size_t ip_opts; /* IPv4 option bytes (NOPs), a multiple of 4 */
	uint8_t tos, ttl;
	uint16_t id;
	uint32_t flow; /* IPv6 flow label */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;
	size_t tcp_opts; /* a multiple of 4: NOP NOP timestamps, then NOPs */
	uint32_t tsval;
};

static uint8_t payload[PAYLOAD_MAX], super[VNET_FRAME_MAX_BYTES], seg[VNET_FRAME_MAX_BYTES],
	ref[VNET_FRAME_MAX_BYTES];

/* ---- an independent reference: bytewise one's-complement sums ---- */

static uint32_t add_bytes(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void be16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	be16(p, v >> 16);
	be16(p + 2, v & 0xffff);
}

static uint32_t rd16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static size_t iphl_of(const uint8_t *p)
{
	return p[0] >> 4 == 6 ? 40 : (size_t)(p[0] & 15) * 4;
}

static uint32_t pseudo(const uint8_t *ip, size_t len)
{
	bool v6 = ip[0] >> 4 == 6;
	size_t l4 = len - iphl_of(ip);

	return add_bytes(v6 ? ip[6] : ip[9], ip + (v6 ? 8 : 12), v6 ? 32 : 8) + (uint32_t)l4;
}

/* Whether the IPv4 header and the L4 checksum of a whole packet verify. */
static bool sums_ok(const uint8_t *ip, size_t len)
{
	size_t hl = iphl_of(ip);

	if (ip[0] >> 4 == 4 && fold(add_bytes(0, ip, hl)) != 0xffff)
		return false;
	return fold(add_bytes(pseudo(ip, len), ip + hl, len - hl)) == 0xffff;
}

static size_t build_ip(const struct spec *s, uint8_t *o, size_t l4len)
{
	size_t hl = s->v6 ? 40 : 20 + s->ip_opts;

	memset(o, 0, hl);
	if (s->v6) {
		be32(o, 0x60000000u | (uint32_t)s->tos << 20 | (s->flow & 0xfffff));
		be16(o + 4, l4len);
		o[6] = s->udp ? 17 : 6;
		o[7] = s->ttl;
		o[8] = 0xfd, o[23] = 1;
		o[24] = 0xfd, o[39] = 2;
		return hl;
	}
	o[0] = (uint8_t)(0x40 | hl / 4);
	o[1] = s->tos;
	be16(o + 2, hl + l4len);
	be16(o + 4, s->id);
	be16(o + 6, s->no_df ? 0 : 0x4000);
	o[8] = s->ttl;
	o[9] = s->udp ? 17 : 6;
	o[12] = 10, o[15] = 1;
	o[16] = 10, o[19] = 2;
	memset(o + 20, 1, s->ip_opts);
	be16(o + 10, (uint16_t)~fold(add_bytes(0, o, hl)));
	return hl;
}

static size_t build_l4(const struct spec *s, uint8_t *t, size_t plen)
{
	size_t thl = s->udp ? 8 : 20 + s->tcp_opts;

	memset(t, 0, thl);
	be16(t, s->sport);
	be16(t + 2, s->dport);
	if (s->udp) {
		be16(t + 4, 8 + plen);
		return thl;
	}
	be32(t + 4, s->seq);
	be32(t + 8, s->ack);
	t[12] = (uint8_t)(thl / 4 << 4);
	t[13] = s->flags;
	be16(t + 14, s->window);
	memset(t + 20, 1, s->tcp_opts);
	if (s->tcp_opts >= 12) {
		t[22] = 8, t[23] = 10;
		be32(t + 24, s->tsval);
		be32(t + 28, 0x01020304);
	}
	return thl;
}

/* A whole packet with valid checksums; its length. */
static size_t build(const struct spec *s, const uint8_t *data, size_t plen, uint8_t *o)
{
	size_t thl = s->udp ? 8 : 20 + s->tcp_opts;
	size_t hl = build_ip(s, o, thl + plen);
	uint8_t *t = o + hl;
	uint16_t c;

	build_l4(s, t, plen);
	memcpy(t + thl, data, plen);
	c = (uint16_t)~fold(add_bytes(pseudo(o, hl + thl + plen), t, thl + plen));
	if (s->udp)
		be16(t + 6, c ? c : 0xffff);
	else
		be16(t + 16, c);
	return hl + thl + plen;
}

/* Segment i of n of a send of s with segments of mss bytes, as the sender's TCP/UDP makes it. */
static size_t ref_segment(const struct spec *s, size_t total, uint16_t mss, unsigned i, uint8_t *o)
{
	struct spec x = *s;
	unsigned n = (unsigned)((total + mss - 1) / mss);
	size_t off = (size_t)i * mss, plen = total - off < mss ? total - off : mss;

	x.id = (uint16_t)(s->id + i);
	x.seq = s->seq + i * (uint32_t)mss;
	if (i + 1 < n)
		x.flags &= (uint8_t) ~(TCP_FIN | TCP_PSH);
	if (i > 0)
		x.flags &= (uint8_t)~TCP_CWR;
	return build(&x, payload + off, plen, o);
}

/* The superpacket the kernel gives a vnet TUN reader: partial L4 checksum, a GSO header. */
static size_t ref_super(const struct spec *s, size_t total, uint16_t mss, uint8_t *o,
			struct vnet_hdr *h)
{
	size_t len = build(s, payload, total, o), hl = iphl_of(o);
	size_t at = hl + (s->udp ? 6 : 16);

	be16(o + at, fold(pseudo(o, len)));
	*h = (struct vnet_hdr){
		.flags = VNET_F_NEEDS_CSUM,
		.gso_type = s->udp  ? VNET_GSO_UDP_L4
			    : s->v6 ? VNET_GSO_TCPV6
				    : VNET_GSO_TCPV4,
		.hdr_len = 7, /* wrong on purpose: it must not be used */
		.gso_size = mss,
		.csum_start = (uint16_t)hl,
		.csum_offset = s->udp ? 6 : 16,
	};
	return len;
}

static void fill_payload(void)
{
	for (size_t i = 0; i < PAYLOAD_MAX; i++)
		payload[i] = (uint8_t)(i * 7 + (i >> 8) + 3);
}

/* ---- splitting ---- */

/* The same segments in two pieces: headers written, payload left in the superpacket. */
static void check_parts(const char *what, const struct spec *s, size_t total, uint16_t mss,
			size_t len, const struct vnet_hdr *h)
{
	uint8_t hdr[VNET_SPLIT_HDR_MAX];
	const uint8_t *pl;
	struct vnet_split sp;
	size_t hl, plen, got;
	unsigned i = 0;

	CHECK(vnet_split_init(&sp, h, super, len) > 0, "%s: parts init", what);
	while ((got = vnet_split_next_parts(&sp, hdr, sizeof(hdr), &hl, &pl, &plen)) != 0) {
		size_t rlen = ref_segment(s, total, mss, i, ref);

		CHECK(got == hl + plen && got == rlen && hl <= sizeof(hdr) && pl >= super &&
			      pl + plen <= super + len && memcmp(hdr, ref, hl) == 0 &&
			      memcmp(pl, ref + hl, plen) == 0,
		      "%s: parts of segment %u differ", what, i);
		i++;
	}
	CHECK(i == (total + mss - 1) / mss, "%s: %u parts", what, i);
}

static void check_split(const char *what, const struct spec *s, size_t total, uint16_t mss)
{
	struct vnet_split sp;
	struct vnet_hdr h;
	size_t len = ref_super(s, total, mss, super, &h), n_want = (total + mss - 1) / mss;
	int n = vnet_split_init(&sp, &h, super, len);
	unsigned i;

	CHECK(n == (int)n_want, "%s: %d segments, want %zu (%s)", what, n, n_want,
	      vnet_strerror(n));
	if (n < 0)
		return;
	for (i = 0; i < (unsigned)n; i++) {
		size_t rlen = ref_segment(s, total, mss, i, ref);
		size_t got = vnet_split_next(&sp, seg, sizeof(seg));

		CHECK(got == rlen && memcmp(seg, ref, rlen) == 0,
		      "%s: segment %u differs (%zu/%zu)", what, i, got, rlen);
		CHECK(got && sums_ok(seg, got), "%s: segment %u checksums", what, i);
		CHECK(got <= vnet_split_max(&sp), "%s: segment %u over the max", what, i);
	}
	CHECK(vnet_split_next(&sp, seg, sizeof(seg)) == 0, "%s: more than %d segments", what, n);
	check_parts(what, s, total, mss, len, &h);
}

static const struct spec tcp4 = {
	.ttl = 64,
	.id = 100,
	.sport = 40000,
	.dport = 5201,
	.seq = 1000,
	.ack = 777,
	.flags = TCP_ACK,
	.window = 512,
	.tcp_opts = 12,
	.tsval = 42,
};

static void test_split(void)
{
	struct spec s = tcp4;

	check_split("v4 tcp, last short", &s, 3500, 1448);
	check_split("v4 tcp, exact", &s, 4 * 1000, 1000);
	check_split("v4 tcp, one segment", &s, 800, 1000);
	s.seq = 0xfffff000u;
	s.id = 0xfffe;
	check_split("v4 tcp, seq and id wrap", &s, 10 * 1000, 1000);
	s.flags = TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR;
	check_split("v4 tcp, FIN PSH CWR", &s, 5000, 1200);
	s.ip_opts = 8;
	s.tcp_opts = 0;
	check_split("v4 tcp, IP options, no TCP options", &s, 5000, 1200);
	s = tcp4;
	s.v6 = true;
	s.flags = TCP_ACK | TCP_PSH;
	check_split("v6 tcp", &s, 65535 - 40 - 32, 1428);
	s = tcp4;
	s.udp = true;
	check_split("v4 udp", &s, 9000, 1400);
	s.v6 = true;
	check_split("v6 udp", &s, 3 * 1200 + 1, 1200);
	s = tcp4;
	s.no_df = true;
	check_split("v4 tcp, 1-byte segments", &s, VNET_SEGMENTS_MAX, 1);
}

/* A UDP segment whose checksum sums to 0 must carry 0xffff (RFC 768). */
static void test_split_udp_zero(void)
{
	struct spec s = tcp4;
	struct vnet_split sp;
	struct vnet_hdr h;
	size_t len;

	s.udp = true;
	/* With a zero payload word the field is the rest's inverted sum: as the word, it zeroes it.
	 */
	memset(payload, 0, 4);
	build(&s, payload, 2, ref);
	memcpy(payload, ref + 26, 2);
	memcpy(payload + 2, ref + 26, 2);
	len = ref_super(&s, 4, 2, super, &h);
	CHECK(vnet_split_init(&sp, &h, super, len) == 2, "udp zero init");
	for (int i = 0; i < 2; i++) {
		len = vnet_split_next(&sp, seg, sizeof(seg));
		CHECK(len == 30 && rd16(seg + 26) == 0xffff && sums_ok(seg, len),
		      "udp zero sum: %04x", rd16(seg + 26));
	}
	fill_payload();
}

struct bad_case {
	const char *what;
	int want;
};

static void check_bad(const char *what, const struct vnet_hdr *h, size_t len, int want)
{
	struct vnet_split sp;
	int r = vnet_split_init(&sp, h, super, len);

	CHECK(r == want, "%s: %d (%s), want %d", what, r, vnet_strerror(r), want);
	CHECK(vnet_split_next(&sp, seg, sizeof(seg)) == 0, "%s: a segment after an error", what);
}

static void test_split_bad(void)
{
	struct spec s = tcp4;
	struct vnet_hdr h, x;
	size_t len = ref_super(&s, 5000, 1000, super, &h);

	check_bad("truncated ip", &h, 10, VNET_E_TRUNCATED);
	check_bad("truncated tcp", &h, 40, VNET_E_LENGTH); /* total length says 5052 */
	x = h, x.gso_size = 0;
	check_bad("gso_size 0", &x, len, VNET_E_GSO);
	x = h, x.gso_type |= VNET_GSO_ECN;
	check_bad("ecn", &x, len, VNET_E_GSO);
	x = h, x.gso_type = 3;
	check_bad("legacy ufo", &x, len, VNET_E_GSO);
	x = h, x.gso_type = VNET_GSO_TCPV6;
	check_bad("tcpv6 type on ipv4", &x, len, VNET_E_PROTO);
	x = h, x.gso_type = VNET_GSO_UDP_L4;
	check_bad("udp type on tcp", &x, len, VNET_E_PROTO);
	x = h, x.csum_start = 21;
	check_bad("csum_start off the l4 header", &x, len, VNET_E_CSUM);
	x = h, x.csum_start = 60000;
	check_bad("csum_start out of range", &x, len, VNET_E_CSUM);
	x = h, x.csum_offset = 6;
	check_bad("csum_offset of udp on tcp", &x, len, VNET_E_CSUM);
	x = h, x.gso_size = 4;
	check_bad("over VNET_SEGMENTS_MAX", &x, len, VNET_E_TOO_MANY);
	check_bad("length disagrees", &h, len - 1, VNET_E_LENGTH);
	super[6] |= 0x20; /* MF */
	check_bad("ipv4 fragment", &h, len, VNET_E_PROTO);
	super[6] &= 0xdf;
	super[0] = 0x44;
	check_bad("IHL 4", &h, len, VNET_E_PROTO);
	super[0] = 0x45;
	super[32] = 0x40; /* data offset 16 bytes */
	check_bad("tcp data offset 4", &h, len, VNET_E_PROTO);
	super[32] = 0xf0; /* 60 bytes: fits, but csum agrees; then no payload when cut short */
	be16(super + 2, 80);
	check_bad("no payload", &h, 80, VNET_E_LENGTH);

	s.v6 = true;
	len = ref_super(&s, 5000, 1000, super, &h);
	super[6] = 0; /* hop-by-hop options */
	check_bad("ipv6 extension header", &h, len, VNET_E_PROTO);
	super[6] = 6;
	x = h, x.gso_type = VNET_GSO_TCPV4;
	check_bad("tcpv4 type on ipv6", &x, len, VNET_E_PROTO);
	check_bad("ipv6 length disagrees", &h, len + 1, VNET_E_LENGTH);
	super[0] = 0x50;
	check_bad("ip version 5", &h, len, VNET_E_PROTO);
}

static void test_split_cap(void)
{
	struct spec s = tcp4;
	struct vnet_split sp;
	struct vnet_hdr h;
	size_t len = ref_super(&s, 2500, 1000, super, &h);

	CHECK(vnet_split_init(&sp, &h, super, len) == 3, "cap init");
	CHECK(vnet_split_max(&sp) == 1052, "max %zu", vnet_split_max(&sp));
	CHECK(vnet_split_next(&sp, seg, 1051) == 0, "a short cap writes nothing");
	CHECK(vnet_split_next(&sp, seg, 1052) == 1052, "then the same segment fits");
	CHECK(rd16(seg + 4) == 100, "it is the first segment: id %u", rd16(seg + 4));
}

/* A single packet with a partial checksum, completed in place and through split. */
static void test_complete(void)
{
	struct spec s = tcp4;
	struct vnet_split sp;
	struct vnet_hdr h, x;
	size_t len;

	for (int udp = 0; udp < 2; udp++) {
		s.udp = udp;
		len = ref_super(&s, 300, 1000, super, &h);
		build(&s, payload, 300, ref);
		h.gso_type = VNET_GSO_NONE;
		h.gso_size = 0;
		CHECK(vnet_split_init(&sp, &h, super, len) == 1, "none: one segment");
		CHECK(vnet_split_next(&sp, seg, sizeof(seg)) == len && memcmp(seg, ref, len) == 0,
		      "none via split: udp %d", udp);
		{
			const uint8_t *pl;
			size_t hl, plen;

			CHECK(vnet_split_init(&sp, &h, super, len) == 1 &&
				      vnet_split_next_parts(&sp, seg, len - 1, &hl, &pl, &plen) ==
					      0,
			      "none: a copy needs room");
			CHECK(vnet_split_next_parts(&sp, seg, len, &hl, &pl, &plen) == len &&
				      hl == len && plen == 0 && memcmp(seg, ref, len) == 0,
			      "none: completed copy as the header part");
			h.flags = 0;
			CHECK(vnet_split_init(&sp, &h, super, len) == 1 &&
				      vnet_split_next_parts(&sp, seg, 0, &hl, &pl, &plen) == len &&
				      hl == 0 && pl == super && plen == len,
			      "none without NEEDS_CSUM: pkt itself");
			h.flags = VNET_F_NEEDS_CSUM;
		}
		CHECK(vnet_complete_csum(super, len, &h) == 0 && memcmp(super, ref, len) == 0,
		      "completed in place: udp %d", udp);
	}
	x = h, x.csum_offset = (uint16_t)(len - 20 - 1);
	CHECK(vnet_complete_csum(super, len, &x) == VNET_E_CSUM, "offset past the end");
	x = h, x.csum_start = (uint16_t)len;
	CHECK(vnet_complete_csum(super, len, &x) == VNET_E_CSUM, "start at the end");
	CHECK(vnet_split_init(&sp, &x, super, len) == VNET_E_CSUM, "none split checks too");
	/* A packet shorter than a checksum field: no offset fits (the fuzzer's find). */
	x = h, x.csum_start = 0, x.csum_offset = 0xffff;
	x.flags = VNET_F_NEEDS_CSUM, x.gso_type = VNET_GSO_NONE;
	CHECK(vnet_complete_csum(super, 1, &x) == VNET_E_CSUM &&
		      vnet_split_init(&sp, &x, super, 1) == VNET_E_CSUM,
	      "a 1-byte packet with NEEDS_CSUM");
	x.flags = 0;
	CHECK(vnet_complete_csum(super, len, &x) == 0 && memcmp(super, ref, len) == 0,
	      "no NEEDS_CSUM: untouched");
}

static void test_hdr(void)
{
	struct vnet_hdr h = { 1, 0x81, 0x1234, 0x5678, 0x9abc, 0xdef0 }, r;
	uint8_t b[VNET_HDR_LEN];
	uint16_t v;

	vnet_hdr_write(b, &h);
	memcpy(&v, b + 4, 2);
	CHECK(b[0] == 1 && b[1] == 0x81 && v == 0x5678, "header layout");
	CHECK(!vnet_hdr_read(b, VNET_HDR_LEN - 1, &r), "short header read");
	CHECK(vnet_hdr_read(b, VNET_HDR_LEN, &r) && memcmp(&r, &h, sizeof(h)) == 0,
	      "header round trip");
}

/* ---- coalescing ---- */

struct frame {
	uint8_t *data;
	size_t len;
	const uint8_t *at; /* where emit saw it */
};

static struct frame frames[FRAMES_MAX];
static size_t n_frames;
static uint8_t inputs[INPUTS_MAX][HEADROOM + INPUT_MAX_BYTES];
static size_t input_len[INPUTS_MAX];

static void collect(void *ctx, uint8_t *frame, size_t len)
{
	(void)ctx;
	CHECK(n_frames < FRAMES_MAX, "too many frames");
	if (n_frames == FRAMES_MAX)
		return;
	frames[n_frames].data = malloc(len);
	memcpy(frames[n_frames].data, frame, len);
	frames[n_frames].len = len;
	frames[n_frames].at = frame;
	n_frames++;
}

static void reset(void)
{
	for (size_t i = 0; i < n_frames; i++)
		free(frames[i].data);
	n_frames = 0;
}

/* Input k: the packet s carrying plen bytes of payload from off. */
static uint8_t *input(unsigned k, const struct spec *s, size_t off, size_t plen)
{
	input_len[k] = build(s, payload + off, plen, inputs[k] + HEADROOM);
	return inputs[k] + HEADROOM;
}

static void add(struct vnet_gro *g, unsigned k)
{
	vnet_gro_add(g, inputs[k] + HEADROOM, input_len[k]);
}

static bool zero_hdr(const uint8_t *f)
{
	static const uint8_t zero[VNET_HDR_LEN];

	return memcmp(f, zero, VNET_HDR_LEN) == 0;
}

/* Frame f is input k as it came, behind a zero header. */
static bool is_plain(size_t f, unsigned k)
{
	return f < n_frames && frames[f].len == VNET_HDR_LEN + input_len[k] &&
	       zero_hdr(frames[f].data) &&
	       memcmp(frames[f].data + VNET_HDR_LEN, inputs[k] + HEADROOM, input_len[k]) == 0;
}

/*
 * Frame f is a GSO frame of inputs first..first+count-1: a header as the
 * kernel wants it, a checksum that verifies once completed, and a split
 * that gives back the inputs byte for byte.
 */
static void check_group(const char *what, size_t f, unsigned first, unsigned count)
{
	const uint8_t *in = inputs[first] + HEADROOM;
	size_t hl = iphl_of(in), thl = (size_t)(in[hl + 12] >> 4) * 4;
	struct vnet_split sp;
	struct vnet_hdr h;
	uint8_t *ip;
	size_t len;

	CHECK(f < n_frames, "%s: no frame %zu", what, f);
	if (f >= n_frames)
		return;
	ip = frames[f].data + VNET_HDR_LEN;
	len = frames[f].len - VNET_HDR_LEN;
	CHECK(vnet_hdr_read(frames[f].data, frames[f].len, &h), "%s: header", what);
	CHECK(h.flags == VNET_F_NEEDS_CSUM &&
		      h.gso_type == (hl == 40 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4) &&
		      h.gso_size == input_len[first] - hl - thl && h.hdr_len == hl + thl &&
		      h.csum_start == hl && h.csum_offset == 16,
	      "%s: vnet header %u %u %u %u %u %u", what, h.flags, h.gso_type, h.gso_size, h.hdr_len,
	      h.csum_start, h.csum_offset);
	/* The field holds the pseudo-header sum over the whole group's L4 length. */
	CHECK(rd16(ip + hl + 16) == fold(pseudo(ip, len)), "%s: partial checksum", what);
	CHECK(hl == 40 || fold(add_bytes(0, ip, hl)) == 0xffff, "%s: ipv4 header checksum", what);
	CHECK(vnet_split_init(&sp, &h, ip, len) == (int)count, "%s: split count", what);
	for (unsigned i = 0; i < count; i++) {
		size_t n = vnet_split_next(&sp, seg, sizeof(seg));

		CHECK(n == input_len[first + i] &&
			      memcmp(seg, inputs[first + i] + HEADROOM, n) == 0,
		      "%s: segment %u differs", what, i);
	}
	CHECK(vnet_complete_csum(ip, len, &h) == 0 && sums_ok(ip, len), "%s: completed sums", what);
}

/* n consecutive segments of s, mss bytes each but the last (last bytes), from input k on. */
static void segments(const struct spec *s, unsigned k, unsigned n, size_t mss, size_t last)
{
	struct spec x = *s;

	for (unsigned i = 0; i < n; i++) {
		size_t plen = i + 1 == n ? last : mss;

		input(k + i, &x, i * mss, plen);
		x.seq += (uint32_t)plen;
		x.id++;
	}
}

static void test_gro_coalesce(void)
{
	struct vnet_gro *g = vnet_gro_new(true, collect, NULL);
	struct spec s = tcp4;

	segments(&s, 0, 5, 1000, 1000);
	CHECK(!vnet_gro_holding(g), "a new coalescer holds nothing");
	for (unsigned i = 0; i < 5; i++)
		add(g, i);
	CHECK(n_frames == 0, "nothing emitted before the flush: %zu", n_frames);
	CHECK(vnet_gro_holding(g), "a group is held");
	vnet_gro_flush(g);
	CHECK(!vnet_gro_holding(g), "nothing held after the flush");
	CHECK(n_frames == 1, "v4: one frame: %zu", n_frames);
	check_group("v4", 0, 0, 5);
	CHECK(vnet_gro_stats(g)->groups == 1 && vnet_gro_stats(g)->coalesced == 5 &&
		      vnet_gro_stats(g)->passed == 0,
	      "v4 stats");
	reset();

	/* A short last segment and a PSH close the group at once. */
	s.v6 = true;
	s.flags = TCP_ACK;
	segments(&s, 0, 4, 1200, 1200);
	s.seq += 3 * 1200;
	s.flags = TCP_ACK | TCP_PSH;
	input(3, &s, 3 * 1200, 1200);
	s = tcp4;
	s.v6 = true;
	for (unsigned i = 0; i < 4; i++)
		add(g, i);
	CHECK(n_frames == 1, "v6 with PSH: emitted without a flush: %zu", n_frames);
	check_group("v6 psh", 0, 0, 4);
	CHECK(n_frames && (frames[0].data[VNET_HDR_LEN + 40 + 13] & TCP_PSH), "PSH on the group");
	reset();
	segments(&s, 0, 3, 1200, 300);
	for (unsigned i = 0; i < 3; i++)
		add(g, i);
	CHECK(n_frames == 1, "short last: emitted without a flush: %zu", n_frames);
	check_group("v6 short last", 0, 0, 3);
	reset();

	/* 64 KB at most: the 63rd segment of 1040 bytes starts a new group. */
	s = tcp4;
	segments(&s, 0, 64, 1040, 1040);
	for (unsigned i = 0; i < 64; i++)
		add(g, i);
	vnet_gro_flush(g);
	CHECK(n_frames == 2, "64 KB: %zu frames", n_frames);
	check_group("64 KB first", 0, 0, 62);
	check_group("64 KB rest", 1, 62, 2);
	CHECK(n_frames && frames[0].len - VNET_HDR_LEN <= 65535, "64 KB: %zu", frames[0].len);
	reset();
	vnet_gro_free(g);
}

/* The second packet differs from the first in one way that forbids coalescing. */
struct apart_case {
	const char *what;
	void (*change)(struct spec *s, uint8_t *p, size_t *len);
};

static void ch_tos(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->tos = 4;
}

static void ch_ttl(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->ttl = 63;
}

static void ch_df(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->no_df = !s->no_df;
}

static void ch_id(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->id += 5;
}

static void ch_ack(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->ack++;
}

static void ch_window(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->window++;
}

static void ch_tsval(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->tsval++;
}

static void ch_thl(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->tcp_opts += 4;
}

static void ch_fin(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->flags |= TCP_FIN;
}

static void ch_urg(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->flags |= TCP_URG;
}

static void ch_ece(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->flags |= TCP_ECE;
}

static void ch_cwr(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->flags |= TCP_CWR;
}

static void ch_syn(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->flags = TCP_SYN | TCP_ACK;
}

static void ch_rst(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->flags = TCP_RST;
}

static void ch_no_ack_flag(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->flags = TCP_PSH;
}

static void ch_seq(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->seq += 1;
}

static void ch_ip_opts(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->ip_opts = 4;
}

/* Changes after building: the builder would fix the sums. */
static void ch_tcp_sum(struct spec *s, uint8_t *p, size_t *len)
{
	(void)s, (void)len;
	p[20 + 16] ^= 1;
}

static void ch_ip_sum(struct spec *s, uint8_t *p, size_t *len)
{
	(void)s, (void)len;
	p[10] ^= 1;
}

static void ch_mf(struct spec *s, uint8_t *p, size_t *len)
{
	(void)s, (void)len;
	p[6] |= 0x20;
	be16(p + 10, 0);
	be16(p + 10, (uint16_t)~fold(add_bytes(0, p, 20)));
}

static void ch_ip_len(struct spec *s, uint8_t *p, size_t *len)
{
	(void)s;
	*len += 1; /* a trailing byte the IP length does not cover */
	p[*len - 1] = 0;
}

static const struct apart_case apart4[] = {
	{ "tos", ch_tos },
	{ "ttl", ch_ttl },
	{ "df", ch_df },
	{ "ack", ch_ack },
	{ "window", ch_window },
	{ "options", ch_tsval },
	{ "header length", ch_thl },
	{ "fin", ch_fin },
	{ "urg", ch_urg },
	{ "ece", ch_ece },
	{ "cwr", ch_cwr },
	{ "syn", ch_syn },
	{ "rst", ch_rst },
	{ "no ack flag", ch_no_ack_flag },
	{ "sequence gap", ch_seq },
	{ "ip options", ch_ip_opts },
	{ "bad tcp checksum", ch_tcp_sum },
	{ "bad ip checksum", ch_ip_sum },
	{ "fragment", ch_mf },
	{ "ip length disagrees", ch_ip_len },
};

/* Input 0 opens a group; input 1, changed, must not join; both come out as they went in. */
static void check_apart(struct vnet_gro *g, const struct spec *base, const char *what,
			void (*change)(struct spec *s, uint8_t *p, size_t *len), bool after)
{
	struct spec s = *base;
	uint8_t *p;

	input(0, &s, 0, 1000);
	s.seq += 1000;
	s.id++;
	if (!after)
		change(&s, NULL, NULL);
	p = input(1, &s, 1000, 1000);
	if (after)
		change(&s, p, &input_len[1]);
	add(g, 0);
	add(g, 1);
	vnet_gro_flush(g);
	CHECK(n_frames == 2 && is_plain(0, 0) && is_plain(1, 1), "%s: %zu frames, in order", what,
	      n_frames);
	reset();
}

static void ch_class(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->tos = 0x10;
}

static void ch_flow(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->flow = 12345;
}

static void ch_hop(struct spec *s, uint8_t *p, size_t *len)
{
	(void)p, (void)len;
	s->ttl = 1;
}

static void ch_ext(struct spec *s, uint8_t *p, size_t *len)
{
	(void)s, (void)len;
	p[6] = 0; /* hop-by-hop: this is no longer a packet GRO takes */
}

static const struct apart_case apart6[] = {
	{ "v6 traffic class", ch_class },
	{ "v6 flow label", ch_flow },
	{ "v6 hop limit", ch_hop },
	{ "v6 extension header", ch_ext },
	{ "v6 ack", ch_ack },
	{ "v6 bad tcp checksum", ch_tcp_sum },
};

static bool changes_after(void (*f)(struct spec *, uint8_t *, size_t *))
{
	return f == ch_tcp_sum || f == ch_ip_sum || f == ch_mf || f == ch_ip_len || f == ch_ext;
}

static void test_gro_apart(void)
{
	struct vnet_gro *g = vnet_gro_new(true, collect, NULL);
	struct spec s = tcp4;

	for (size_t i = 0; i < sizeof(apart4) / sizeof(apart4[0]); i++)
		check_apart(g, &s, apart4[i].what, apart4[i].change,
			    changes_after(apart4[i].change));
	/* Without DF the IDs must count up; with it they may stay or jump. */
	s.no_df = true;
	check_apart(g, &s, "id not counting up without df", ch_id, false);
	segments(&s, 0, 3, 1000, 1000);
	for (unsigned i = 0; i < 3; i++)
		add(g, i);
	vnet_gro_flush(g);
	check_group("ids counting up without df", 0, 0, 3);
	reset();
	s.no_df = false;
	input(0, &s, 0, 1000);
	s.seq += 1000;
	input(1, &s, 1000, 1000);
	add(g, 0);
	add(g, 1);
	vnet_gro_flush(g);
	CHECK(n_frames == 1 && frames[0].len == VNET_HDR_LEN + 20 + 32 + 2000,
	      "df, same id: coalesced");
	reset();
	s.v6 = true;
	s.tcp_opts = 0;
	for (size_t i = 0; i < sizeof(apart6) / sizeof(apart6[0]); i++) {
		void (*f)(struct spec *, uint8_t *, size_t *) = apart6[i].change;

		/* the v6 TCP checksum sits 40 bytes in, not 20 */
		if (f == ch_tcp_sum) {
			struct spec x = s;

			input(0, &x, 0, 1000);
			x.seq += 1000;
			input(1, &x, 1000, 1000);
			inputs[1][HEADROOM + 40 + 16] ^= 1;
			add(g, 0);
			add(g, 1);
			vnet_gro_flush(g);
			CHECK(n_frames == 2 && is_plain(0, 0) && is_plain(1, 1), "%s",
			      apart6[i].what);
			reset();
			continue;
		}
		check_apart(g, &s, apart6[i].what, f, changes_after(f));
	}
	vnet_gro_free(g);
}

/* Sizes: only the last may be short, none may be longer than the first, no payload never joins. */
static void test_gro_sizes(void)
{
	struct vnet_gro *g = vnet_gro_new(true, collect, NULL);
	struct spec s = tcp4;

	input(0, &s, 0, 500);
	s.seq += 500, s.id++;
	input(1, &s, 500, 1000);
	add(g, 0);
	add(g, 1);
	vnet_gro_flush(g);
	CHECK(n_frames == 2 && is_plain(0, 0) && is_plain(1, 1), "longer than the first");
	reset();

	segments(&tcp4, 0, 2, 1000, 600);
	s = tcp4;
	s.seq += 1600, s.id += 2;
	input(2, &s, 1600, 1000);
	for (unsigned i = 0; i < 3; i++)
		add(g, i);
	vnet_gro_flush(g);
	CHECK(n_frames == 2, "after a short segment: %zu", n_frames);
	check_group("after a short segment", 0, 0, 2);
	CHECK(is_plain(1, 2), "after a short segment: the next alone");
	reset();

	s = tcp4;
	input(0, &s, 0, 1000);
	s.seq += 1000, s.id++;
	input(1, &s, 0, 0); /* a pure ACK */
	s.id++;
	input(2, &s, 1000, 1000);
	for (unsigned i = 0; i < 3; i++)
		add(g, i);
	vnet_gro_flush(g);
	CHECK(n_frames == 3 && is_plain(0, 0) && is_plain(1, 1) && is_plain(2, 2),
	      "pure ack in between: %zu", n_frames);
	reset();

	/* An IPv6 packet of 65575 bytes (payload length 65535) is passed, not grouped. */
	s = tcp4;
	s.v6 = true;
	s.tcp_opts = 0;
	{
		static uint8_t jumbo[HEADROOM + 40 + 65535];
		size_t len = build(&s, payload, 65535 - 20, jumbo + HEADROOM);

		vnet_gro_add(g, jumbo + HEADROOM, len);
		CHECK(len == 65575 && n_frames == 1 && frames[0].at == jumbo &&
			      frames[0].len == HEADROOM + len,
		      "65575-byte ipv6 packet passed: %zu", len);
		vnet_gro_flush(g);
		reset();
	}

	s = tcp4;
	s.flags = TCP_ACK | TCP_PSH;
	input(0, &s, 0, 1000);
	s.seq += 1000, s.id++;
	input(1, &s, 1000, 1000);
	add(g, 0);
	CHECK(n_frames == 1 && is_plain(0, 0) && frames[0].at == inputs[0],
	      "psh first: passed in place at once");
	add(g, 1);
	CHECK(n_frames == 2 && is_plain(1, 1), "nothing joins after a PSH");
	reset();
	vnet_gro_free(g);
}

/* Interleaved flows each get their group; other traffic does not break them; order per flow. */
static void test_gro_flows(void)
{
	struct vnet_gro *g = vnet_gro_new(true, collect, NULL);
	struct spec a = tcp4, b = tcp4, u = tcp4;

	b.sport = 40001;
	b.v6 = true;
	u.udp = true;
	for (unsigned i = 0; i < 3; i++) {
		input(2 * i, &a, i * 1000, 1000);
		input(2 * i + 1, &b, i * 1000, 1000);
		a.seq += 1000, a.id++;
		b.seq += 1000;
	}
	input(6, &u, 0, 100);
	for (unsigned i = 0; i < 3; i++) {
		add(g, 2 * i);
		if (i == 1)
			add(g, 6);
		add(g, 2 * i + 1);
	}
	CHECK(n_frames == 1 && is_plain(0, 6) && frames[0].at == inputs[6],
	      "udp passes at once, in place");
	vnet_gro_flush(g);
	CHECK(n_frames == 3, "interleaved: %zu frames", n_frames);
	/* check_group reads the inputs of a group as consecutive: copy them so. */
	for (unsigned i = 0; i < 3; i++) {
		memcpy(inputs[10 + i], inputs[2 * i], sizeof(inputs[0]));
		input_len[10 + i] = input_len[2 * i];
		memcpy(inputs[20 + i], inputs[2 * i + 1], sizeof(inputs[0]));
		input_len[20 + i] = input_len[2 * i + 1];
	}
	check_group("flow a", 1, 10, 3);
	check_group("flow b", 2, 20, 3);
	reset();

	/* A FIN of flow a flushes a's group first: a1 a2 FIN, in that order. */
	a = tcp4;
	segments(&a, 0, 2, 1000, 1000);
	a.seq += 2000, a.id += 2;
	a.flags = TCP_ACK | TCP_FIN;
	input(2, &a, 2000, 10);
	for (unsigned i = 0; i < 3; i++)
		add(g, i);
	CHECK(n_frames == 2, "fin: %zu frames", n_frames);
	check_group("before the fin", 0, 0, 2);
	CHECK(is_plain(1, 2), "the fin after its flow's group");
	reset();

	/* A later fragment of the flow's address pair (no ports) flushes it too. */
	a = tcp4;
	segments(&a, 0, 2, 1000, 1000);
	input(2, &a, 0, 100);
	inputs[2][HEADROOM + 6] = 0x00, inputs[2][HEADROOM + 7] = 0x10; /* offset 128 */
	for (unsigned i = 0; i < 3; i++)
		add(g, i);
	CHECK(n_frames == 2, "fragment: %zu frames", n_frames);
	check_group("before the fragment", 0, 0, 2);
	CHECK(is_plain(1, 2), "the fragment after the group");
	reset();

	/* All groups busy: the oldest goes. */
	a = tcp4;
	for (unsigned i = 0; i <= VNET_GRO_FLOWS; i++) {
		a.sport = (uint16_t)(30000 + i);
		input(i, &a, 0, 1000);
		add(g, i);
	}
	CHECK(n_frames == 1 && is_plain(0, 0), "oldest flushed: %zu", n_frames);
	vnet_gro_flush(g);
	CHECK(n_frames == VNET_GRO_FLOWS + 1, "flush all: %zu", n_frames);
	for (unsigned i = 1; i <= VNET_GRO_FLOWS; i++)
		CHECK(is_plain(i, i), "flow %u in opening order", i);
	reset();
	vnet_gro_free(g);
}

static void test_gro_off(void)
{
	struct vnet_gro *g = vnet_gro_new(false, collect, NULL);

	segments(&tcp4, 0, 3, 1000, 1000);
	for (unsigned i = 0; i < 3; i++) {
		add(g, i);
		CHECK(n_frames == i + 1 && is_plain(i, i) && frames[i].at == inputs[i],
		      "off: %u at once, in place", i);
	}
	vnet_gro_flush(g);
	CHECK(n_frames == 3 && vnet_gro_stats(g)->passed == 3 && vnet_gro_stats(g)->groups == 0,
	      "off: stats");
	reset();
	vnet_gro_free(g);
	vnet_gro_free(NULL);
}

int main(void)
{
	fill_payload();
	test_hdr();
	test_split();
	test_split_udp_zero();
	test_split_bad();
	test_split_cap();
	test_complete();
	test_gro_coalesce();
	test_gro_apart();
	test_gro_sizes();
	test_gro_flows();
	test_gro_off();
	return unit_report("test_vnet");
}
