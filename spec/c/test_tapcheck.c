// SPDX-License-Identifier: MIT
/*
 * A TAP client's frames, checked on their bytes: IPv4, IPv6 and ARP from
 * its own addresses (or 0.0.0.0, ::, link-local) pass, from others' not;
 * ARP must be Ethernet/IPv4 with the frame's source as sender (a sender
 * address read at the wrong offset passed before); VLAN tags are refused;
 * neighbour discovery speaks only for itself (a Neighbour Advertisement
 * for another's address, a Router Advertisement or a Redirect from a
 * link-local source passed before), wherever it hides behind extension
 * headers or in a first fragment. Table-driven.
 */
#include <arpa/inet.h>
#include <string.h>

#include "tapcheck.h"
#include "unit.h"

enum kind { RAW, V4, ARP, V6 };
enum frag { NO_FRAG, FIRST_FRAG, LATER_FRAG };

struct frame_case {
	const char *name;
	enum kind kind;
	uint16_t type;	    /* the frame's type; 0: the kind's own */
	const char *src;    /* the packet's (or ARP sender's) source address */
	uint16_t htype;	    /* ARP: 0 is Ethernet */
	uint8_t hlen;	    /* ARP: 0 is 6 */
	bool other_mac;	    /* ARP sender or ND option: another host's link-layer address */
	uint8_t next;	    /* IPv6: 0 is UDP, 58 ICMPv6 */
	unsigned hops;	    /* IPv6: hop-by-hop option headers before it */
	enum frag frag;	    /* IPv6: in a fragment */
	uint8_t icmp;	    /* ICMPv6 type */
	const char *target; /* NS/NA target */
	uint8_t opt;	    /* ND option type (1 source, 2 target link-layer), 0: none */
	bool zero_opt;	    /* the option's length is 0 */
	size_t cut;	    /* the frame cut to so many bytes; 0: whole */
	bool pass;
};

static const uint8_t SRC_MAC[6] = { 0x02, 0, 0, 0, 0, 5 }, OTHER_MAC[6] = { 0x02, 0, 0, 0, 0, 6 };

/* The client's own: 10.77.0.5, fd00::5 and the subnet 192.168.5.0/24. */
static bool is_own(const void *ctx, const struct ip_addr *a)
{
	static const uint8_t v4[4] = { 10, 77, 0, 5 }, v6[16] = { 0xfd, [15] = 5 };

	(void)ctx;
	if (a->family == AF_INET)
		return !memcmp(a->bytes, v4, 4) ||
		       (a->bytes[0] == 192 && a->bytes[1] == 168 && a->bytes[2] == 5);
	return !memcmp(a->bytes, v6, 16);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t build_v6(const struct frame_case *c, uint8_t *ip)
{
	uint8_t next = c->next ? c->next : 17, *h = ip + 40;
	size_t n;

	ip[0] = 0x60;
	ip[7] = 255;
	(void)!inet_pton(AF_INET6, c->src, ip + 8);
	(void)!inet_pton(AF_INET6, "ff02::1", ip + 24);
	ip[6] = c->hops ? 0 : c->frag ? 44 : next;
	for (unsigned k = 0; k < c->hops; k++, h += 8)
		h[0] = k + 1 < c->hops ? 0 : c->frag ? 44 : next; /* length 0: 8 bytes, PadN */
	if (c->frag) {
		h[0] = next;
		put16(h + 2, c->frag == LATER_FRAG ? 1448 : 0);
		h += 8;
	}
	if (next == 58) {
		h[0] = c->icmp;
		n = c->icmp == 133 ? 8 : c->icmp == 134 ? 16 : c->icmp == 137 ? 40 : 24;
		if (c->target)
			(void)!inet_pton(AF_INET6, c->target, h + 8);
		if (c->opt) {
			h[n] = c->opt;
			h[n + 1] = c->zero_opt ? 0 : 1;
			memcpy(h + n + 2, c->other_mac ? OTHER_MAC : SRC_MAC, 6);
			n += 8;
		}
		h += n;
	} else {
		h += 8; /* a UDP header */
	}
	put16(ip + 4, (uint16_t)(h - ip - 40));
	return (size_t)(h - ip);
}

static size_t build(const struct frame_case *c, uint8_t *f)
{
	uint8_t *l3 = f + 14;
	size_t n = 0;
	uint16_t type = c->type;

	memset(f, 0, 1500);
	memset(f, 0xff, 6);
	memcpy(f + 6, SRC_MAC, 6);
	if (c->kind == V4) {
		l3[0] = 0x45;
		(void)!inet_pton(AF_INET, c->src, l3 + 12);
		n = 28;
		type = type ? type : 0x0800;
	} else if (c->kind == ARP) {
		uint8_t hlen = c->hlen ? c->hlen : 6;

		put16(l3, c->htype ? c->htype : 1);
		put16(l3 + 2, 0x0800);
		l3[4] = hlen;
		l3[5] = 4;
		put16(l3 + 6, 1);
		memcpy(l3 + 8, c->other_mac ? OTHER_MAC : SRC_MAC, hlen < 6 ? hlen : 6);
		(void)!inet_pton(AF_INET, c->src, l3 + 8 + hlen);
		if (hlen != 6) /* where a reader that assumes 6 looks: our own address */
			(void)!inet_pton(AF_INET, "10.77.0.5", l3 + 14);
		n = 28;
		type = 0x0806;
	} else if (c->kind == V6) {
		n = build_v6(c, l3);
		type = type ? type : 0x86dd;
	} else {
		n = 46;
	}
	put16(f + 12, type);
	return c->cut ? c->cut : 14 + n;
}

static const struct frame_case cases[] = {
	{ "IPv4 from its own address", V4, .src = "10.77.0.5", .pass = true },
	{ "IPv4 from a subnet behind it", V4, .src = "192.168.5.7", .pass = true },
	{ "IPv4 from 0.0.0.0 (DHCP)", V4, .src = "0.0.0.0", .pass = true },
	{ "IPv4 from another's address", V4, .src = "10.77.0.6" },
	{ "IPv4 in a frame typed IPv6", V4, .type = 0x86dd, .src = "10.77.0.5" },
	{ "IPv4 cut short", V4, .src = "10.77.0.5", .cut = 14 + 19 },
	{ "no Ethernet header", RAW, .type = 0x88cc, .cut = 13 },
	{ "another type (LLDP) carries no address", RAW, .type = 0x88cc, .pass = true },
	{ "802.1Q tagged", RAW, .type = 0x8100 },
	{ "802.1ad tagged", RAW, .type = 0x88a8 },
	{ "ARP from its own address", ARP, .src = "10.77.0.5", .pass = true },
	{ "ARP probe from 0.0.0.0", ARP, .src = "0.0.0.0", .pass = true },
	{ "ARP from another's address", ARP, .src = "10.77.0.6" },
	{ "ARP naming another link-layer sender", ARP, .src = "10.77.0.5", .other_mac = true },
	{ "ARP with a 4-byte hardware address (sender at 12)", ARP, .src = "10.77.0.6", .hlen = 4 },
	{ "ARP of another hardware type", ARP, .src = "10.77.0.5", .htype = 6 },
	{ "ARP cut short", ARP, .src = "10.77.0.5", .cut = 14 + 27 },
	{ "IPv6 from its own address", V6, .src = "fd00::5", .pass = true },
	{ "IPv6 from another's address", V6, .src = "fd00::6" },
	{ "IPv6 from link-local", V6, .src = "fe80::5", .pass = true },
	{ "IPv6 in a frame typed IPv4", V6, .type = 0x0800, .src = "fd00::5" },
	{ "echo request from link-local", V6, .src = "fe80::5", .next = 58, .icmp = 128,
	  .pass = true },
	{ "NA for another's address", V6, .src = "fe80::5", .next = 58, .icmp = 136,
	  .target = "fd00::6" },
	{ "NA for its own address", V6, .src = "fe80::5", .next = 58, .icmp = 136,
	  .target = "fd00::5", .opt = 2, .pass = true },
	{ "NA for its link-local address", V6, .src = "fe80::5", .next = 58, .icmp = 136,
	  .target = "fe80::5", .pass = true },
	{ "NA giving another's link-layer address", V6, .src = "fe80::5", .next = 58, .icmp = 136,
	  .target = "fd00::5", .opt = 2, .other_mac = true },
	{ "NA with a zero-length option", V6, .src = "fe80::5", .next = 58, .icmp = 136,
	  .target = "fd00::5", .opt = 2, .zero_opt = true },
	{ "NA cut short", V6, .src = "fe80::5", .next = 58, .icmp = 136, .target = "fd00::5",
	  .cut = 14 + 40 + 20 },
	{ "NA for another's address behind hop-by-hop options", V6, .src = "fe80::5", .next = 58,
	  .icmp = 136, .target = "fd00::6", .hops = 2 },
	{ "NA for another's address in a first fragment", V6, .src = "fe80::5", .next = 58,
	  .icmp = 136, .target = "fd00::6", .frag = FIRST_FRAG },
	{ "a later fragment", V6, .src = "fd00::5", .next = 58, .icmp = 136, .target = "fd00::6",
	  .frag = LATER_FRAG, .pass = true },
	{ "more extension headers than a host sends", V6, .src = "fd00::5", .hops = 9 },
	{ "Router Advertisement", V6, .src = "fe80::5", .next = 58, .icmp = 134 },
	{ "Redirect", V6, .src = "fe80::5", .next = 58, .icmp = 137 },
	{ "NS from :: (duplicate address detection), any target", V6, .src = "::", .next = 58,
	  .icmp = 135, .target = "fd00::6", .pass = true },
	{ "NS giving its own link-layer address", V6, .src = "fd00::5", .next = 58, .icmp = 135,
	  .target = "fd00::1", .opt = 1, .pass = true },
	{ "NS giving another's link-layer address", V6, .src = "fd00::5", .next = 58, .icmp = 135,
	  .target = "fd00::1", .opt = 1, .other_mac = true },
	{ "RS giving its own link-layer address", V6, .src = "fe80::5", .next = 58, .icmp = 133,
	  .opt = 1, .pass = true },
	{ "RS giving another's link-layer address", V6, .src = "fe80::5", .next = 58, .icmp = 133,
	  .opt = 1, .other_mac = true },
};

int main(void)
{
	uint8_t frame[1500];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = build(&cases[i], frame);

		CHECK(tapcheck_frame(frame, len, is_own, NULL) == cases[i].pass, "%s: %s",
		      cases[i].name, cases[i].pass ? "refused" : "passed");
	}
	return unit_report("test_tapcheck");
}
