// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "packet.h"
#include "vnet.h"

enum {
	IPV4_HEADER = 20,
	IPV4_HEADER_MAX = 60,
	IPV6_HEADER = 40,
	TCP_HEADER = 20,
	TCP_HEADER_MAX = 60,
	UDP_HEADER = 8,
	TCP_CSUM_OFFSET = 16, /* offsetof(struct tcphdr, check) */
	UDP_CSUM_OFFSET = 6,
	TCP_FIN = 0x01,
	TCP_SYN = 0x02,
	TCP_RST = 0x04,
	TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	TCP_CWR = 0x80,
	IPV4_DF = 0x4000,
	IPV4_FRAG_MASK = 0x3fff, /* MF and the fragment offset */
};

/* Host byte order, as the tun driver reads and writes the header of a little-endian guest. */
static uint16_t get_host16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put_host16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

bool vnet_hdr_read(const uint8_t *p, size_t len, struct vnet_hdr *h)
{
	if (len < VNET_HDR_LEN)
		return false;
	h->flags = p[0];
	h->gso_type = p[1];
	h->hdr_len = get_host16(p + 2);
	h->gso_size = get_host16(p + 4);
	h->csum_start = get_host16(p + 6);
	h->csum_offset = get_host16(p + 8);
	return true;
}

void vnet_hdr_write(uint8_t *p, const struct vnet_hdr *h)
{
	p[0] = h->flags;
	p[1] = h->gso_type;
	put_host16(p + 2, h->hdr_len);
	put_host16(p + 4, h->gso_size);
	put_host16(p + 6, h->csum_start);
	put_host16(p + 8, h->csum_offset);
}

const char *vnet_strerror(int e)
{
	switch (e) {
	case VNET_E_TRUNCATED:
		return "packet shorter than its headers";
	case VNET_E_LENGTH:
		return "IP length disagrees with the packet's, or no payload";
	case VNET_E_PROTO:
		return "not plain TCP or UDP over IPv4/IPv6 as the GSO type says";
	case VNET_E_GSO:
		return "unsupported GSO type or gso_size 0";
	case VNET_E_CSUM:
		return "csum_start or csum_offset out of place";
	case VNET_E_TOO_MANY:
		return "too many segments";
	default:
		return "unknown error";
	}
}

/* The pseudo-header sum (RFC 793, RFC 8200 8.1), unfolded, for an L4 part of l4len bytes. */
static uint32_t pseudo_sum(const uint8_t *ip, bool v6, uint8_t proto, size_t l4len)
{
	const uint8_t *a = ip + (v6 ? 8 : 12);
	size_t alen = v6 ? 32 : 8;
	uint32_t sum = proto + (uint32_t)(l4len >> 16) + (uint16_t)l4len;

	for (size_t i = 0; i < alen; i += 2)
		sum += get16(a + i);
	return sum;
}

/* The inverted sum, as it goes into a checksum field; a 0 goes out as 0xffff (RFC 768). */
static uint16_t csum_field(const uint8_t *data, size_t len, uint32_t sum)
{
	uint16_t c = packet_checksum(data, len, sum);

	return c ? c : 0xffff;
}

/* Whether h's checksum field (at csum_start + csum_offset) lies inside a packet of len bytes. */
static bool csum_fits(const struct vnet_hdr *h, size_t len)
{
	size_t at = (size_t)h->csum_start + h->csum_offset;

	return len >= 2 && h->csum_start < len && at <= len - 2; /* len - 2 must not wrap */
}

int vnet_complete_csum(uint8_t *pkt, size_t len, const struct vnet_hdr *h)
{
	size_t start = h->csum_start, at = start + h->csum_offset;

	if (!(h->flags & VNET_F_NEEDS_CSUM))
		return 0;
	if (!csum_fits(h, len))
		return VNET_E_CSUM;
	/* The field holds the pseudo-header sum: summing over it folds that in. */
	put16(pkt + at, csum_field(pkt + start, len - start, 0));
	return 0;
}

/* The IP header of a superpacket: its length and L4 protocol, checked against len. */
static int parse_ip(struct vnet_split *sp, const uint8_t *p, size_t len)
{
	if (len < 1)
		return VNET_E_TRUNCATED;
	if (p[0] >> 4 == 4) {
		if (len < IPV4_HEADER)
			return VNET_E_TRUNCATED;
		sp->iphl = (size_t)(p[0] & 0x0f) * 4;
		if (sp->iphl < IPV4_HEADER)
			return VNET_E_PROTO;
		if (sp->iphl > len)
			return VNET_E_TRUNCATED;
		if (get16(p + 2) != len)
			return VNET_E_LENGTH;
		if (get16(p + 6) & IPV4_FRAG_MASK)
			return VNET_E_PROTO;
		sp->proto = p[9];
		sp->v6 = false;
		return 0;
	}
	if (p[0] >> 4 != 6)
		return VNET_E_PROTO;
	if (len < IPV6_HEADER)
		return VNET_E_TRUNCATED;
	if ((size_t)get16(p + 4) + IPV6_HEADER != len)
		return VNET_E_LENGTH;
	/* Any other next header is an extension header (or not TCP/UDP): not parsed here. */
	sp->iphl = IPV6_HEADER;
	sp->proto = p[6];
	sp->v6 = true;
	return 0;
}

/* The L4 header, which the GSO type must agree with. */
static int parse_l4(struct vnet_split *sp, const uint8_t *p, size_t len)
{
	uint8_t type = sp->h.gso_type;

	if ((type == VNET_GSO_TCPV4 && (sp->v6 || sp->proto != PACKET_PROTO_TCP)) ||
	    (type == VNET_GSO_TCPV6 && (!sp->v6 || sp->proto != PACKET_PROTO_TCP)) ||
	    (type == VNET_GSO_UDP_L4 && sp->proto != PACKET_PROTO_UDP))
		return VNET_E_PROTO;
	if (sp->proto == PACKET_PROTO_UDP) {
		sp->l4hl = UDP_HEADER;
	} else {
		if (len - sp->iphl < TCP_HEADER)
			return VNET_E_TRUNCATED;
		sp->l4hl = (size_t)(p[sp->iphl + 12] >> 4) * 4;
		if (sp->l4hl < TCP_HEADER)
			return VNET_E_PROTO;
	}
	if (len - sp->iphl < sp->l4hl)
		return VNET_E_TRUNCATED;
	if (len - sp->iphl == sp->l4hl)
		return VNET_E_LENGTH; /* a superpacket without payload */
	/* The kernel's offsets must point where ours do. */
	if ((sp->h.flags & VNET_F_NEEDS_CSUM) &&
	    (sp->h.csum_start != sp->iphl ||
	     sp->h.csum_offset !=
		     (sp->proto == PACKET_PROTO_UDP ? UDP_CSUM_OFFSET : TCP_CSUM_OFFSET)))
		return VNET_E_CSUM;
	return 0;
}

static int init_whole(struct vnet_split *sp, const struct vnet_hdr *h, size_t len)
{
	if (!len)
		return VNET_E_TRUNCATED;
	sp->csum = h->flags & VNET_F_NEEDS_CSUM;
	if (sp->csum && !csum_fits(h, len))
		return VNET_E_CSUM;
	sp->n = 1;
	return 1;
}

int vnet_split_init(struct vnet_split *sp, const struct vnet_hdr *h, const uint8_t *pkt, size_t len)
{
	size_t payload, n;
	int r;

	memset(sp, 0, sizeof(*sp));
	sp->pkt = pkt;
	sp->len = len;
	sp->h = *h;
	if (len > VNET_PACKET_MAX_BYTES)
		return VNET_E_LENGTH;
	if (h->gso_type == VNET_GSO_NONE)
		return init_whole(sp, h, len);
	if (h->gso_type != VNET_GSO_TCPV4 && h->gso_type != VNET_GSO_TCPV6 &&
	    h->gso_type != VNET_GSO_UDP_L4)
		return VNET_E_GSO; /* also ECN: CWR handling is not negotiated (TUN_F_TSO_ECN) */
	if (!h->gso_size)
		return VNET_E_GSO;
	r = parse_ip(sp, pkt, len);
	if (r < 0)
		return r;
	r = parse_l4(sp, pkt, len);
	if (r < 0)
		return r;
	sp->gso = h->gso_size;
	payload = len - sp->iphl - sp->l4hl;
	n = payload / sp->gso + (payload % sp->gso != 0);
	if (n > VNET_SEGMENTS_MAX)
		return VNET_E_TOO_MANY;
	sp->n = (unsigned)n;
	return (int)n;
}

size_t vnet_split_max(const struct vnet_split *sp)
{
	size_t payload;

	if (!sp->proto)
		return sp->len;
	payload = sp->len - sp->iphl - sp->l4hl;
	return sp->iphl + sp->l4hl + (payload < sp->gso ? payload : sp->gso);
}

static void fix_ip(uint8_t *out, const struct vnet_split *sp, size_t seglen)
{
	if (sp->v6) {
		put16(out + 4, (uint16_t)(seglen - IPV6_HEADER));
		return;
	}
	put16(out + 2, (uint16_t)seglen);
	put16(out + 4, (uint16_t)(get16(sp->pkt + 4) + sp->i));
	put16(out + 10, 0);
	put16(out + 10, packet_checksum(out, sp->iphl, 0));
}

/* The L4 header at hdr + iphl for this segment, its checksum summed over the payload where it lies.
 */
static void fix_l4(uint8_t *hdr, const struct vnet_split *sp, const uint8_t *payload, size_t plen)
{
	uint8_t *l4 = hdr + sp->iphl;
	size_t l4len = sp->l4hl + plen;
	uint32_t sum = pseudo_sum(hdr, sp->v6, sp->proto, l4len);
	size_t at = sp->proto == PACKET_PROTO_UDP ? UDP_CSUM_OFFSET : TCP_CSUM_OFFSET;
	uint16_t c;

	if (sp->proto == PACKET_PROTO_UDP) {
		put16(l4 + 4, (uint16_t)l4len);
	} else {
		put32(l4 + 4, get32(sp->pkt + sp->iphl + 4) + (uint32_t)sp->i * sp->gso);
		if (sp->i + 1 < sp->n)
			l4[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
		if (sp->i > 0)
			l4[13] &= (uint8_t)~TCP_CWR;
	}
	put16(l4 + at, 0);
	/* Headers are of even length: the header's folded sum carries on over the payload. */
	c = packet_checksum(l4, sp->l4hl, sum);
	c = packet_checksum(payload, plen, (uint16_t)~c);
	/* 0 means "no checksum" to UDP (RFC 768); to TCP 0xffff is the same value. */
	put16(l4 + at, c ? c : 0xffff);
}

/* This segment's payload length. */
static size_t seg_payload(const struct vnet_split *sp)
{
	size_t off = sp->iphl + sp->l4hl + (size_t)sp->i * sp->gso;

	return sp->len - off < sp->gso ? sp->len - off : sp->gso;
}

/* A VNET_GSO_NONE packet: a copy with its checksum completed, or pkt itself. */
static size_t whole_parts(struct vnet_split *sp, uint8_t *hdr, size_t cap, size_t *hdrlen,
			  const uint8_t **payload, size_t *plen)
{
	if (sp->csum && cap < sp->len)
		return 0;
	if (sp->csum) {
		memcpy(hdr, sp->pkt, sp->len);
		(void)!vnet_complete_csum(hdr, sp->len,
					  &sp->h); /* the offsets were checked by init */
		*hdrlen = sp->len;
		*payload = sp->pkt + sp->len;
		*plen = 0;
	} else {
		*hdrlen = 0;
		*payload = sp->pkt;
		*plen = sp->len;
	}
	sp->i++;
	return sp->len;
}

size_t vnet_split_next_parts(struct vnet_split *sp, uint8_t *hdr, size_t cap, size_t *hdrlen,
			     const uint8_t **payload, size_t *plen)
{
	size_t hl = sp->iphl + sp->l4hl;

	if (sp->i >= sp->n)
		return 0;
	if (!sp->proto)
		return whole_parts(sp, hdr, cap, hdrlen, payload, plen);
	if (cap < hl)
		return 0;
	*plen = seg_payload(sp);
	*payload = sp->pkt + hl + (size_t)sp->i * sp->gso;
	*hdrlen = hl;
	memcpy(hdr, sp->pkt, hl);
	fix_ip(hdr, sp, hl + *plen);
	fix_l4(hdr, sp, *payload, *plen);
	sp->i++;
	return hl + *plen;
}

size_t vnet_split_next(struct vnet_split *sp, uint8_t *out, size_t cap)
{
	size_t seglen, hdrlen, plen;
	const uint8_t *payload;

	if (sp->i >= sp->n)
		return 0;
	seglen = sp->proto ? sp->iphl + sp->l4hl + seg_payload(sp) : sp->len;
	if (cap < seglen)
		return 0;
	seglen = vnet_split_next_parts(sp, out, cap, &hdrlen, &payload, &plen);
	memcpy(out + hdrlen, payload, plen);
	return seglen;
}

/*
 * Userspace GRO. A group is a frame being built in its own buffer: the
 * first segment whole, then the payloads of the segments that joined.
 */
struct group {
	uint8_t *buf; /* VNET_FRAME_MAX_BYTES: [vnet header][IP packet] */
	size_t len;   /* of the IP packet so far */
	size_t iphl, thl;
	uint32_t next_seq; /* the sequence number the next segment must have */
	uint16_t gso;	   /* the first segment's payload */
	unsigned count;
	uint64_t opened; /* to flush the oldest when all are busy */
	bool open, v6, psh;
};

struct vnet_gro {
	vnet_gro_emit_fn emit;
	void *ctx;
	bool coalesce;
	uint64_t clock;
	struct vnet_gro_stats stats;
	struct group groups[VNET_GRO_FLOWS];
};

/* How a packet relates to the groups. */
enum seg_kind {
	SEG_OTHER, /* no TCP flow of ours: emitted as it is */
	SEG_ADDRS, /* TCP (or maybe TCP) without readable ports: its address pair's groups go first
		    */
	SEG_FLOW,  /* TCP that cannot be coalesced: its flow's group goes first */
	SEG_CAND,  /* may join or open a group */
};

struct seg {
	enum seg_kind kind;
	bool v6;
	size_t iphl, thl, plen;
	uint32_t seq;
	uint8_t flags;
};

/* The IP layer: fills v6 and iphl; SEG_FLOW when a TCP header follows. */
static enum seg_kind classify_ip(const uint8_t *p, size_t len, struct seg *s)
{
	if (len >= IPV4_HEADER && p[0] >> 4 == 4) {
		s->iphl = (size_t)(p[0] & 0x0f) * 4;
		if (p[9] != PACKET_PROTO_TCP || s->iphl < IPV4_HEADER)
			return SEG_OTHER;
		if ((get16(p + 6) & IPV4_FRAG_MASK) || len < s->iphl + 4)
			return SEG_ADDRS;
		return SEG_FLOW;
	}
	if (len >= IPV6_HEADER && p[0] >> 4 == 6) {
		s->v6 = true;
		s->iphl = IPV6_HEADER;
		if (p[6] == PACKET_PROTO_UDP || p[6] == PACKET_PROTO_ICMPV6)
			return SEG_OTHER;
		/* Other next headers may be extension headers in front of TCP. */
		if (p[6] != PACKET_PROTO_TCP || len < IPV6_HEADER + 4)
			return SEG_ADDRS;
		return SEG_FLOW;
	}
	return SEG_OTHER;
}

/* Whether a TCP segment of a flow is one the kernel's GRO would coalesce. */
static bool is_candidate(const uint8_t *p, size_t len, struct seg *s)
{
	const uint8_t *t = p + s->iphl;

	/* An IPv6 packet may be 40 bytes longer than a group's buffer holds. */
	if (len > VNET_PACKET_MAX_BYTES)
		return false;
	if (s->v6 ? (size_t)get16(p + 4) + IPV6_HEADER != len
		  : s->iphl != IPV4_HEADER || get16(p + 2) != len ||
			    packet_checksum(p, IPV4_HEADER, 0) != 0)
		return false;
	if (len - s->iphl < TCP_HEADER)
		return false;
	s->thl = (size_t)(t[12] >> 4) * 4;
	if (s->thl < TCP_HEADER || len - s->iphl <= s->thl)
		return false; /* bad data offset, or no payload */
	s->plen = len - s->iphl - s->thl;
	s->seq = get32(t + 4);
	s->flags = t[13];
	if (s->flags != TCP_ACK && s->flags != (TCP_ACK | TCP_PSH))
		return false;
	/*
	 * Joined, a bad checksum would be recomputed by the kernel and so
	 * accepted: a coalesced frame goes up with NEEDS_CSUM, which the
	 * kernel trusts. So every segment is verified, as the kernel's GRO
	 * verifies (or has the NIC verify) before it merges. The AEAD tag
	 * does not make this redundant: it proves the bytes are what the
	 * peer's OpenVPN sealed, not that the peer's TCP stack produced them
	 * whole; the TCP checksum is end to end, from the sending host's TCP
	 * to ours, and a packet written alone is checked by the kernel too.
	 */
	return packet_checksum(t, len - s->iphl,
			       pseudo_sum(p, s->v6, PACKET_PROTO_TCP, len - s->iphl)) == 0;
}

static void classify(const uint8_t *p, size_t len, struct seg *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = classify_ip(p, len, s);
	if (s->kind == SEG_FLOW && is_candidate(p, len, s))
		s->kind = SEG_CAND;
}

static const uint8_t *group_ip(const struct group *g)
{
	return g->buf + VNET_HDR_LEN;
}

static bool same_addrs(const struct group *g, const uint8_t *p, const struct seg *s)
{
	return g->open && g->v6 == s->v6 &&
	       (s->v6 ? memcmp(group_ip(g) + 8, p + 8, 32) : memcmp(group_ip(g) + 12, p + 12, 8)) ==
		       0;
}

static bool same_flow(const struct group *g, const uint8_t *p, const struct seg *s)
{
	return same_addrs(g, p, s) && memcmp(group_ip(g) + g->iphl, p + s->iphl, 4) == 0;
}

/* IP fields that must agree (inet_gro_receive, ipv6_gro_receive). */
static bool ip_agrees(const struct group *g, const uint8_t *p)
{
	const uint8_t *q = group_ip(g);

	if (g->v6)
		return memcmp(q, p, 4) == 0 && q[7] == p[7]; /* class, flow label, hop limit */
	if (q[1] != p[1] || q[8] != p[8] || ((get16(q + 6) ^ get16(p + 6)) & IPV4_DF))
		return false;
	/* Without DF the IDs must count up, as the kernel will set them when it resegments. */
	return (get16(q + 6) & IPV4_DF) || get16(p + 4) == (uint16_t)(get16(q + 4) + g->count);
}

/* TCP fields that must agree (tcp_gro_receive): ACK, offset, flags, window, options. */
static bool tcp_agrees(const struct group *g, const uint8_t *p, const struct seg *s)
{
	const uint8_t *gt = group_ip(g) + g->iphl, *t = p + s->iphl;

	return s->thl == g->thl && memcmp(gt + 8, t + 8, 5) == 0 &&
	       (gt[13] & ~TCP_PSH) == (t[13] & ~TCP_PSH) && memcmp(gt + 14, t + 14, 2) == 0 &&
	       memcmp(gt + TCP_HEADER, t + TCP_HEADER, s->thl - TCP_HEADER) == 0;
}

static bool can_join(const struct group *g, const uint8_t *p, const struct seg *s)
{
	return s->seq == g->next_seq && s->plen <= g->gso &&
	       g->len + s->plen <= VNET_PACKET_MAX_BYTES && ip_agrees(g, p) && tcp_agrees(g, p, s);
}

static void emit_plain(struct vnet_gro *gro, uint8_t *frame, size_t len)
{
	memset(frame, 0, VNET_HDR_LEN);
	gro->stats.passed++;
	gro->emit(gro->ctx, frame, VNET_HDR_LEN + len);
}

/* The frame the kernel would have built: lengths, pseudo-header sum, GSO header. */
static void finish_group(struct group *g)
{
	uint8_t *ip = g->buf + VNET_HDR_LEN, *t = ip + g->iphl;
	struct vnet_hdr h = {
		.flags = VNET_F_NEEDS_CSUM,
		.gso_type = g->v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4,
		.hdr_len = (uint16_t)(g->iphl + g->thl),
		.gso_size = g->gso,
		.csum_start = (uint16_t)g->iphl,
		.csum_offset = TCP_CSUM_OFFSET,
	};

	if (g->v6) {
		put16(ip + 4, (uint16_t)(g->len - IPV6_HEADER));
	} else {
		put16(ip + 2, (uint16_t)g->len);
		put16(ip + 10, 0);
		put16(ip + 10, packet_checksum(ip, IPV4_HEADER, 0));
	}
	if (g->psh)
		t[13] |= TCP_PSH;
	/* NEEDS_CSUM: the field holds the folded pseudo-header sum, not inverted. */
	put16(t + TCP_CSUM_OFFSET,
	      (uint16_t)~packet_checksum(
		      NULL, 0, pseudo_sum(ip, g->v6, PACKET_PROTO_TCP, g->len - g->iphl)));
	vnet_hdr_write(g->buf, &h);
}

static void flush_group(struct vnet_gro *gro, struct group *g)
{
	if (!g->open)
		return;
	g->open = false;
	if (g->count == 1) {
		emit_plain(gro, g->buf, g->len);
		return;
	}
	finish_group(g);
	gro->stats.groups++;
	gro->stats.coalesced += g->count;
	gro->emit(gro->ctx, g->buf, VNET_HDR_LEN + g->len);
}

static struct group *find_flow(struct vnet_gro *gro, const uint8_t *p, const struct seg *s)
{
	for (size_t i = 0; i < VNET_GRO_FLOWS; i++)
		if (same_flow(&gro->groups[i], p, s))
			return &gro->groups[i];
	return NULL;
}

/* A free group, or the oldest one flushed. */
static struct group *take_group(struct vnet_gro *gro)
{
	struct group *oldest = &gro->groups[0];

	for (size_t i = 0; i < VNET_GRO_FLOWS; i++) {
		struct group *g = &gro->groups[i];

		if (!g->open)
			return g;
		if (g->opened < oldest->opened)
			oldest = g;
	}
	flush_group(gro, oldest);
	return oldest;
}

static void open_group(struct vnet_gro *gro, const uint8_t *p, size_t len, const struct seg *s)
{
	struct group *g = take_group(gro);

	memcpy(g->buf + VNET_HDR_LEN, p, len);
	g->len = len;
	g->iphl = s->iphl;
	g->thl = s->thl;
	g->gso = (uint16_t)s->plen;
	g->next_seq = s->seq + (uint32_t)s->plen;
	g->count = 1;
	g->opened = gro->clock++;
	g->v6 = s->v6;
	g->psh = false;
	g->open = true;
}

static void join_group(struct vnet_gro *gro, struct group *g, const uint8_t *p, const struct seg *s)
{
	memcpy(g->buf + VNET_HDR_LEN + g->len, p + s->iphl + s->thl, s->plen);
	g->len += s->plen;
	g->next_seq += (uint32_t)s->plen;
	g->count++;
	g->psh = s->flags & TCP_PSH;
	/* After a PSH or a short segment nothing may join: out it goes. */
	if (g->psh || s->plen < g->gso)
		flush_group(gro, g);
}

void vnet_gro_add(struct vnet_gro *g, uint8_t *pkt, size_t len)
{
	struct group *grp = NULL;
	struct seg s;

	if (!g->coalesce) {
		emit_plain(g, pkt - VNET_HDR_LEN, len);
		return;
	}
	classify(pkt, len, &s);
	if (s.kind == SEG_ADDRS)
		for (size_t i = 0; i < VNET_GRO_FLOWS; i++)
			if (same_addrs(&g->groups[i], pkt, &s))
				flush_group(g, &g->groups[i]);
	if (s.kind == SEG_FLOW || s.kind == SEG_CAND)
		grp = find_flow(g, pkt, &s);
	if (grp && s.kind == SEG_CAND && can_join(grp, pkt, &s)) {
		join_group(g, grp, pkt, &s);
		return;
	}
	if (grp)
		flush_group(g, grp);
	/* A segment with PSH would be a group of one: no need to copy it. */
	if (s.kind == SEG_CAND && !(s.flags & TCP_PSH))
		open_group(g, pkt, len, &s);
	else
		emit_plain(g, pkt - VNET_HDR_LEN, len);
}

void vnet_gro_flush(struct vnet_gro *g)
{
	for (;;) {
		struct group *oldest = NULL;

		for (size_t i = 0; i < VNET_GRO_FLOWS; i++)
			if (g->groups[i].open && (!oldest || g->groups[i].opened < oldest->opened))
				oldest = &g->groups[i];
		if (!oldest)
			return;
		flush_group(g, oldest);
	}
}

bool vnet_gro_holding(const struct vnet_gro *g)
{
	for (size_t i = 0; i < VNET_GRO_FLOWS; i++)
		if (g->groups[i].open)
			return true;
	return false;
}

struct vnet_gro *vnet_gro_new(bool coalesce, vnet_gro_emit_fn emit, void *ctx)
{
	struct vnet_gro *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->coalesce = coalesce;
	g->emit = emit;
	g->ctx = ctx;
	for (size_t i = 0; coalesce && i < VNET_GRO_FLOWS; i++) {
		g->groups[i].buf = malloc(VNET_FRAME_MAX_BYTES);
		if (!g->groups[i].buf) {
			vnet_gro_free(g);
			return NULL;
		}
	}
	return g;
}

const struct vnet_gro_stats *vnet_gro_stats(const struct vnet_gro *g)
{
	return &g->stats;
}

void vnet_gro_free(struct vnet_gro *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < VNET_GRO_FLOWS; i++)
		free(g->groups[i].buf);
	free(g);
}
