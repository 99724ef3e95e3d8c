/* SPDX-License-Identifier: MIT */
/*
 * Superpackets on a TUN device opened with IFF_VNET_HDR: every read and
 * write carries a 10-byte virtio-net header (linux/virtio_net.h, in host
 * byte order) in front of the IP packet. Reads may return a TSO/USO
 * superpacket of up to 64 KB that this module cuts into ordinary IP packets
 * (vnet_split), or a single packet whose L4 checksum is only partial
 * (vnet_complete_csum). On the way back, decrypted TCP segments of one flow
 * are coalesced into one GSO frame (vnet_gro), so that one write(2) hands
 * the kernel's TCP stack a whole batch, as its own GRO would.
 * Pure: no I/O, no logging, no allocation but vnet_gro_new(); every length
 * is checked, a malformed packet is an error code, never a crash. Does not
 * open the device (device.h) nor read or write it (the data path).
 */
#ifndef MOONVPN_VNET_H
#define MOONVPN_VNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	VNET_HDR_LEN = 10, /* struct virtio_net_hdr; TUNSETVNETHDRSZ must say 10 */
	VNET_F_NEEDS_CSUM = 1,
	VNET_F_DATA_VALID = 2,
	VNET_GSO_NONE = 0,
	VNET_GSO_TCPV4 = 1,
	VNET_GSO_TCPV6 = 4,
	VNET_GSO_UDP_L4 = 5, /* USO; Debian 12's linux-libc-dev (6.1) lacks it */
	VNET_GSO_ECN = 0x80,
	VNET_PACKET_MAX_BYTES = 65535, /* an IP packet, superpacket included */
	VNET_FRAME_MAX_BYTES = VNET_HDR_LEN + VNET_PACKET_MAX_BYTES, /* one read or write */
	/*
	 * Segments of one superpacket: Linux's smallest TCP MSS (88 bytes)
	 * cuts 64 KB into 745; a USO packet cut finer is refused.
	 */
	VNET_SEGMENTS_MAX = 1024,
	VNET_SPLIT_HDR_MAX = 60 + 60, /* a segment's headers: IPv4 and TCP with options */
	VNET_GRO_FLOWS = 8,	      /* groups open at once, each with a 64 KB buffer */
};

/* What went wrong with a superpacket; vnet_strerror() names it. */
enum vnet_error {
	VNET_E_TRUNCATED = -1, /* shorter than its headers */
	VNET_E_LENGTH = -2,    /* IP length field disagrees with the read, or no payload */
	/* Not TCP/UDP as the GSO type says: another protocol or IP version, an IPv4 */
	/* fragment, an IPv6 extension header, an IHL or TCP data offset below 5. */
	VNET_E_PROTO = -3,
	VNET_E_GSO = -4,      /* GSO type unknown, legacy UFO, ECN, or gso_size 0 */
	VNET_E_CSUM = -5,     /* csum_start/csum_offset out of the packet or off the L4 header */
	VNET_E_TOO_MANY = -6, /* more than VNET_SEGMENTS_MAX segments */
};

struct vnet_hdr {
	uint8_t flags;	  /* VNET_F_* */
	uint8_t gso_type; /* VNET_GSO_*, possibly with VNET_GSO_ECN */
	uint16_t hdr_len; /* L3 + L4 header length: a hint, never trusted on read */
	uint16_t gso_size;
	uint16_t csum_start; /* where the checksummed part starts (the L4 header) */
	uint16_t csum_offset;
};

/* Reads the header at p (len bytes available); false when len < VNET_HDR_LEN. */
bool vnet_hdr_read(const uint8_t *p, size_t len, struct vnet_hdr *h)
	__attribute__((warn_unused_result));

/* Writes h to p (VNET_HDR_LEN bytes). */
void vnet_hdr_write(uint8_t *p, const struct vnet_hdr *h);

/* A short description of a vnet_error ("IPv6 extension header or ..."), for counters and logs. */
const char *vnet_strerror(int e);

/*
 * Completes a partial checksum in place: with VNET_F_NEEDS_CSUM the field at
 * csum_start + csum_offset holds only the pseudo-header sum, and the kernel
 * left the rest to us (small TCP segments and UDP come this way); a peer
 * would drop them as they are. Sums from csum_start to the end of pkt (len
 * bytes, the IP packet without the vnet header). 0 when done or nothing was
 * to do (no NEEDS_CSUM), VNET_E_CSUM when the offsets are outside pkt.
 */
int vnet_complete_csum(uint8_t *pkt, size_t len, const struct vnet_hdr *h)
	__attribute__((warn_unused_result));

/*
 * Iterator over the segments of a superpacket. Header lengths come from the
 * IPv4 IHL (IPv6: 40, extension headers refused) and the TCP data offset
 * (UDP: 8); hdr_len is ignored, csum_start is only checked against them.
 * Each segment is a complete IP packet: the first segment's headers with
 * IPv4 total length, ID0 + i and header checksum, IPv6 payload length, TCP
 * sequence seq0 + i * gso_size, FIN and PSH on the last segment only, CWR
 * on the first only, UDP length, and a full L4 checksum.
 */
struct vnet_split {
	const uint8_t *pkt;
	size_t len;
	size_t iphl, l4hl; /* the headers copied into every segment */
	uint16_t gso;	   /* payload bytes per segment but the last */
	uint8_t proto;	   /* 6 or 17; 0 for a packet passed whole (VNET_GSO_NONE) */
	bool v6;
	bool csum; /* VNET_GSO_NONE: complete the partial checksum */
	struct vnet_hdr h;
	unsigned n, i;
};

/*
 * Starts splitting pkt (len bytes after the vnet header h; pkt must stay
 * untouched until the last vnet_split_next). Returns the segment count
 * (>= 1) or a negative enum vnet_error. A VNET_GSO_NONE packet is one
 * segment, a copy with its checksum completed if NEEDS_CSUM (without it the
 * caller may as well use pkt itself).
 */
int vnet_split_init(struct vnet_split *sp, const struct vnet_hdr *h, const uint8_t *pkt, size_t len)
	__attribute__((warn_unused_result));

/*
 * The next segment in two pieces, for a caller that seals it without copying
 * the payload: its headers, written to hdr (cap bytes; VNET_SPLIT_HDR_MAX
 * always suffice for a superpacket), and its payload, left where it is in
 * pkt. Returns the segment's length, *hdrlen + *plen; 0 when every segment
 * has been returned or cap is too small (the iterator then stays). A
 * VNET_GSO_NONE packet is all header when its checksum had to be completed
 * (a copy: cap must hold it), else all payload (pkt itself, *hdrlen 0).
 */
size_t vnet_split_next_parts(struct vnet_split *sp, uint8_t *hdr, size_t cap, size_t *hdrlen,
			     const uint8_t **payload, size_t *plen)
	__attribute__((warn_unused_result));

/* The length of the longest segment: a cap of this much always suffices. */
size_t vnet_split_max(const struct vnet_split *sp);

/*
 * Writes the next segment to out and returns its length; 0 when every
 * segment has been written, or when cap is below this segment's length
 * (the iterator then stays where it is).
 */
size_t vnet_split_next(struct vnet_split *sp, uint8_t *out, size_t cap)
	__attribute__((warn_unused_result));

/*
 * Coalescing of decrypted TCP segments (userspace GRO) for one write each
 * to a vnet TUN device. A segment joins the group of its flow only under
 * every condition the kernel's own GRO (tcp_gro_receive) sets: TCP over
 * IPv4 with a 20-byte header, no fragment bits and a valid header checksum,
 * or over IPv6 without extension headers; same addresses, ports, TOS, TTL
 * and DF (IPv6: traffic class, flow label, hop limit), incrementing IDs
 * unless DF; same ACK number, window, header length and options; flags ACK
 * or ACK|PSH; a valid TCP checksum; payload > 0; in sequence; every segment
 * as long as the first but the last, and none after a PSH; 64 KB at most.
 * The order of each flow's packets is kept: a packet that cannot join its
 * flow's group flushes it first.
 */
struct vnet_gro;

/*
 * Where frames go, one write(2) each: [vnet header][IP packet], len bytes.
 * The frame is the module's or the caller's buffer: valid until emit returns.
 */
typedef void (*vnet_gro_emit_fn)(void *ctx, uint8_t *frame, size_t len);

struct vnet_gro_stats {
	uint64_t groups;    /* GSO frames emitted (two or more segments each) */
	uint64_t coalesced; /* segments in those frames */
	uint64_t passed;    /* packets emitted as they came, with a zero vnet header */
};

/*
 * With coalesce false every packet is emitted at once with a zero header
 * (for a device that took no offloads, or as a fallback). NULL when out of
 * memory (VNET_GRO_FLOWS buffers of VNET_FRAME_MAX_BYTES are preallocated).
 */
struct vnet_gro *vnet_gro_new(bool coalesce, vnet_gro_emit_fn emit, void *ctx)
	__attribute__((warn_unused_result));

/*
 * Adds the IP packet pkt (len bytes). The caller guarantees VNET_HDR_LEN
 * writable bytes before pkt: a packet that is not coalesced is emitted in
 * place with an all-zero header there, so the kernel verifies its checksum.
 * pkt is the caller's again when this returns (a grouped one is copied).
 * emit may be called for this packet or for groups it closes.
 */
void vnet_gro_add(struct vnet_gro *g, uint8_t *pkt, size_t len);

/* Emits every open group, oldest first. */
void vnet_gro_flush(struct vnet_gro *g);

/* Whether a group is open: segments are held until vnet_gro_flush. */
bool vnet_gro_holding(const struct vnet_gro *g);

const struct vnet_gro_stats *vnet_gro_stats(const struct vnet_gro *g);

/* Frees g without emitting what is still grouped. NULL is a no-op. */
void vnet_gro_free(struct vnet_gro *g);

#endif
