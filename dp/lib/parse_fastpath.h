/*
 * parse_fastpath.h - the parse stage: one frame's bytes in, struct lb_pkt or a drop reason out.
 *
 * Inline here for the worker's parse loop (dp/fastpath/worker.c, every received
 * frame: saves the call and its register saves); dp/lib/parse.c's lb_parse() is
 * the same code out of line for the control thread and tests/test_parse.c. Pure
 * C, no DPDK, no state, no writes to the frame: safe on any thread.
 *
 * in:  Eth [802.1Q|802.1ad [802.1Q]] then IPv4 | IPv6 | ARP, frame[0..len)
 * out: struct lb_pkt describing the headers, or -1 and the one enum lb_drop reason
 *
 * Every read goes through lbp_rd8()/lbp_rd16()/lbp_ld32() after a bounds check
 * against len, so the parser never touches a byte past the frame. Multi-byte reads are memcpy()s:
 * one load where the CPU allows unaligned ones (frames start 2 bytes off a 4-byte
 * boundary after the Ethernet header), byte loads where it does not.
 *
 * The checks run in a fixed order so that each malformed frame has exactly one
 * reason: L2, then the IP header's size and version, IHL, total length, header
 * checksum, fragments, the transport protocol and its header (TCP flags that no
 * stack sends, port 0), and last the source address. Unsupported but well-formed cases and why they are dropped:
 *  - IPv4 options and IPv6 extension headers: the rewrite stage assumes a fixed
 *    L3 header length, and a load balancer has no use for either;
 *  - fragments: only the first carries ports, so the others cannot be steered to
 *    the same backend without reassembly (the DPVS choice too);
 *  - IPv6 datagrams longer than 65535 bytes (jumbograms): ip_len cannot hold them.
 */
#ifndef LB_PARSE_FASTPATH_H
#define LB_PARSE_FASTPATH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lb_addr.h"
#include "parse.h"

#define LBP_ETH_HLEN 14
#define LBP_VLAN_HLEN 4
#define LBP_MAX_VLANS 2
#define LBP_IPV4_HLEN 20
#define LBP_IPV6_HLEN 40
#define LBP_ARP_LEN 28 /* Ethernet/IPv4 ARP body */
#define LBP_TCP_HLEN 20
#define LBP_UDP_HLEN 8
#define LBP_ICMP_HLEN 8

#define LBP_IPV4_MF 0x2000
#define LBP_IPV4_OFFSET_MASK 0x1fff

#define LBP_IPV6_NH_FRAGMENT 44

static inline uint8_t
lbp_rd8(const uint8_t *b, uint32_t off)
{
	return b[off];
}

/* Big-endian 16-bit load (the compiler makes it one load and a rotate). */
static inline uint16_t
lbp_rd16(const uint8_t *b, uint32_t off)
{
	return (uint16_t)((uint16_t)b[off] << 8 | b[off + 1]);
}

/* 32 bits in the CPU's byte order, no alignment assumption. */
static inline uint32_t
lbp_ld32(const uint8_t *b, uint32_t off)
{
	uint32_t v;

	memcpy(&v, b + off, 4);
	return v;
}

static inline int
lbp_drop_with(enum lb_drop *drop, enum lb_drop reason)
{
	*drop = reason;
	return -1;
}

/*
 * Ones' complement sum of an IPv4 header; a correct header sums to 0xffff. Summed
 * as five native 32-bit words: the folded sum does not depend on byte order (RFC
 * 1071 2(B)) and 0xffff reads the same both ways.
 */
static inline bool
lbp_ipv4_cksum_ok(const uint8_t *ip)
{
	uint64_t sum = (uint64_t)lbp_ld32(ip, 0) + lbp_ld32(ip, 4) + lbp_ld32(ip, 8) + lbp_ld32(ip, 12) +
		       lbp_ld32(ip, 16);

	/* end-around-carry folds: the high half of x + rotate(x) (csum_fold() in Linux) */
	uint32_t s32 = (uint32_t)((sum + (sum >> 32 | sum << 32)) >> 32);
	return (uint16_t)((s32 + (s32 >> 16 | s32 << 16)) >> 16) == 0xffff;
}

/* 224.0.0.0/4, 127.0.0.0/8, 0.0.0.0 and 255.255.255.255 may not be a source. */
static inline bool
lbp_ipv4_martian(const uint8_t *a, bool allow_unspecified)
{
	uint32_t w = lbp_ld32(a, 0);

	if ((a[0] & 0xf0) == 0xe0 || a[0] == 127)
		return true;
	if (w == 0xffffffff)
		return true;
	return !allow_unspecified && w == 0;
}

/* ff00::/8, ::1 and :: may not be a source. */
static inline bool
lbp_ipv6_martian(const uint8_t *a)
{
	static const uint8_t zero[15];

	if (a[0] == 0xff)
		return true;
	return memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1);
}

static inline bool
lbp_ipv6_ext_header(uint8_t nh)
{
	switch (nh) {
	case 0:   /* hop-by-hop options */
	case 43:  /* routing */
	case 50:  /* ESP */
	case 51:  /* AH */
	case 60:  /* destination options */
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
	case 253: /* experimental */
	case 254:
		return true;
	default:
		return false;
	}
}

/*
 * The transport header at l4, l4_avail bytes up to the end of the IP datagram
 * (not of the frame: Ethernet padding is not transport data).
 */
/*
 * Flag sets that no TCP stack sends, only scanners and attackers: nothing, FIN+PSH+URG
 * ("xmas", which 0xff also is), SYN+FIN, SYN+RST. Checked in that order, so each
 * has one counter. Other odd but harmless sets (a bare FIN, SYN+ACK from a client)
 * are left to the conntrack, which gives them no long-lived state.
 */
static inline int
lbp_tcp_flags_bad(uint8_t f, enum lb_drop *drop)
{
	const uint8_t xmas = LB_TCP_FIN | LB_TCP_PSH | LB_TCP_URG;

	/* every set below but the empty one has FIN or RST: one test for most segments */
	if ((f & (LB_TCP_FIN | LB_TCP_RST)) == 0 && (f & 0x3f) != 0)
		return 0;
	if ((f & 0x3f) == 0)
		return lbp_drop_with(drop, LB_DROP_TCP_NULL);
	if ((f & xmas) == xmas)
		return lbp_drop_with(drop, LB_DROP_TCP_XMAS);
	if ((f & (LB_TCP_SYN | LB_TCP_FIN)) == (LB_TCP_SYN | LB_TCP_FIN))
		return lbp_drop_with(drop, LB_DROP_TCP_SYN_FIN);
	if ((f & (LB_TCP_SYN | LB_TCP_RST)) == (LB_TCP_SYN | LB_TCP_RST))
		return lbp_drop_with(drop, LB_DROP_TCP_SYN_RST);
	return 0;
}

/* inlined into both families' parsers: GCC 12 -O2 kept one out-of-line copy (a call a packet) */
static inline __attribute__((always_inline)) int
lbp_parse_l4(const uint8_t *l4, uint32_t l4_avail, struct lb_pkt *p, enum lb_drop *drop)
{
	switch (p->proto) {
	case LB_IPPROTO_TCP: {
		if (l4_avail < LBP_TCP_HLEN)
			return lbp_drop_with(drop, LB_DROP_L4_TRUNCATED);
		uint32_t doff = (uint32_t)(lbp_rd8(l4, 12) >> 4) * 4;
		if (doff < LBP_TCP_HLEN || doff > l4_avail)
			return lbp_drop_with(drop, LB_DROP_BAD_TCP_DOFF);
		p->kind = LB_PKT_L4;
		p->l4_len = (uint16_t)doff;
		p->tcp_flags = lbp_rd8(l4, 13);
		p->tcp_seq = (uint32_t)lbp_rd16(l4, 4) << 16 | lbp_rd16(l4, 6);
		memcpy(&p->sport, l4, 2); /* ports stay in network order */
		memcpy(&p->dport, l4 + 2, 2);
		if (lbp_tcp_flags_bad(p->tcp_flags, drop) < 0)
			return -1;
		if (p->sport == 0 || p->dport == 0)
			return lbp_drop_with(drop, LB_DROP_PORT_ZERO);
		return 0;
	}
	case LB_IPPROTO_UDP:
		if (l4_avail < LBP_UDP_HLEN)
			return lbp_drop_with(drop, LB_DROP_L4_TRUNCATED);
		p->kind = LB_PKT_L4;
		p->l4_len = LBP_UDP_HLEN;
		memcpy(&p->sport, l4, 2);
		memcpy(&p->dport, l4 + 2, 2);
		if (p->sport == 0 || p->dport == 0)
			return lbp_drop_with(drop, LB_DROP_PORT_ZERO);
		return 0;
	case LB_IPPROTO_ICMP:
	case LB_IPPROTO_ICMPV6:
		/* the callers let only ICMP on IPv4 and ICMPv6 on IPv6 through */
		if (l4_avail < LBP_ICMP_HLEN)
			return lbp_drop_with(drop, LB_DROP_L4_TRUNCATED);
		p->kind = LB_PKT_ICMP;
		p->l4_len = LBP_ICMP_HLEN;
		p->icmp_type = lbp_rd8(l4, 0);
		p->icmp_code = lbp_rd8(l4, 1);
		return 0;
	default:
		return lbp_drop_with(drop, LB_DROP_L4_PROTO);
	}
}

/* in: IPv4 header at ip, avail bytes to the end of the frame (inlined: one call site) */
static inline __attribute__((always_inline)) int
lbp_parse_ipv4(const uint8_t *ip, uint32_t avail, struct lb_pkt *p, enum lb_drop *drop)
{
	if (avail < LBP_IPV4_HLEN)
		return lbp_drop_with(drop, LB_DROP_L3_TRUNCATED);
	uint8_t vihl = lbp_rd8(ip, 0);
	const uint32_t ihl = LBP_IPV4_HLEN;
	if (__builtin_expect(vihl != 0x45, 0)) {
		/* not version 4 with a 20-byte header: one of these fails, in this order */
		uint32_t hl = (uint32_t)(vihl & 0x0f) * 4;
		if (vihl >> 4 != 4)
			return lbp_drop_with(drop, LB_DROP_IP_VERSION);
		if (hl < LBP_IPV4_HLEN)
			return lbp_drop_with(drop, LB_DROP_BAD_IHL);
		if (hl > avail)
			return lbp_drop_with(drop, LB_DROP_L3_TRUNCATED);
		return lbp_drop_with(drop, LB_DROP_IP_OPTIONS);
	}
	uint32_t tot = lbp_rd16(ip, 2);
	if (tot < ihl || tot > avail)
		return lbp_drop_with(drop, LB_DROP_BAD_TOTAL_LEN);
	if (!lbp_ipv4_cksum_ok(ip))
		return lbp_drop_with(drop, LB_DROP_IP_CKSUM);
	if (lbp_rd16(ip, 6) & (LBP_IPV4_MF | LBP_IPV4_OFFSET_MASK))
		return lbp_drop_with(drop, LB_DROP_FRAGMENT);

	p->family = LB_AF_INET;
	p->l3_len = LBP_IPV4_HLEN;
	p->ip_len = (uint16_t)tot;
	p->ttl = lbp_rd8(ip, 8);
	p->proto = lbp_rd8(ip, 9);
	memcpy(p->src, ip + 12, 4);
	memcpy(p->dst, ip + 16, 4);
	if (p->proto == LB_IPPROTO_ICMPV6)
		return lbp_drop_with(drop, LB_DROP_L4_PROTO);
	if (lbp_parse_l4(ip + LBP_IPV4_HLEN, tot - LBP_IPV4_HLEN, p, drop) < 0)
		return -1;
	if (lbp_ipv4_martian(p->src, false))
		return lbp_drop_with(drop, LB_DROP_MARTIAN);
	return 0;
}

/* in: IPv6 header at ip, avail bytes to the end of the frame */
static inline int
lbp_parse_ipv6(const uint8_t *ip, uint32_t avail, struct lb_pkt *p, enum lb_drop *drop)
{
	if (avail < LBP_IPV6_HLEN)
		return lbp_drop_with(drop, LB_DROP_L3_TRUNCATED);
	if (lbp_rd8(ip, 0) >> 4 != 6)
		return lbp_drop_with(drop, LB_DROP_IP_VERSION);
	uint32_t tot = LBP_IPV6_HLEN + (uint32_t)lbp_rd16(ip, 4);
	if (tot > avail || tot > UINT16_MAX)
		return lbp_drop_with(drop, LB_DROP_BAD_TOTAL_LEN);
	uint8_t nh = lbp_rd8(ip, 6);
	if (nh == LBP_IPV6_NH_FRAGMENT)
		return lbp_drop_with(drop, LB_DROP_FRAGMENT);
	if (lbp_ipv6_ext_header(nh))
		return lbp_drop_with(drop, LB_DROP_IPV6_EXT);
	if (nh == LB_IPPROTO_ICMP)
		return lbp_drop_with(drop, LB_DROP_L4_PROTO);

	p->family = LB_AF_INET6;
	p->l3_len = LBP_IPV6_HLEN;
	p->ip_len = (uint16_t)tot;
	p->ttl = lbp_rd8(ip, 7);
	p->proto = nh;
	memcpy(p->src, ip + 8, 16);
	memcpy(p->dst, ip + 24, 16);
	if (lbp_parse_l4(ip + LBP_IPV6_HLEN, tot - LBP_IPV6_HLEN, p, drop) < 0)
		return -1;
	if (lbp_ipv6_martian(p->src))
		return lbp_drop_with(drop, LB_DROP_MARTIAN);
	return 0;
}

/*
 * in: ARP body at arp, avail bytes to the end of the frame. Only Ethernet/IPv4 ARP
 * (htype 1, ptype 0x0800, hlen 6, plen 4) has the 28-byte body the ARP path reads;
 * any other shape is counted as a short L3 header. The opcode is the ARP path's
 * business. A sender of 0.0.0.0 is an ARP probe (RFC 5227) and is accepted.
 */
static inline int
lbp_parse_arp(const uint8_t *arp, uint32_t avail, struct lb_pkt *p, enum lb_drop *drop)
{
	if (avail < LBP_ARP_LEN || lbp_rd16(arp, 0) != 1 || lbp_rd16(arp, 2) != LB_ETHERTYPE_IPV4 ||
	    lbp_rd8(arp, 4) != 6 || lbp_rd8(arp, 5) != 4)
		return lbp_drop_with(drop, LB_DROP_L3_TRUNCATED);

	p->kind = LB_PKT_ARP;
	p->family = LB_AF_INET;
	p->ip_len = LBP_ARP_LEN; /* the body's length: l2_len + ip_len is the used frame */
	memcpy(p->src, arp + 14, 4); /* sender protocol address */
	memcpy(p->dst, arp + 24, 4); /* target protocol address */
	if (lbp_ipv4_martian(p->src, true))
		return lbp_drop_with(drop, LB_DROP_MARTIAN);
	return 0;
}

/* lb_parse() (parse.h), inline: forced, for the worker's parse loop (dp/fastpath/worker.c) */
static inline __attribute__((always_inline)) int
lb_parse_fp(const uint8_t *frame, uint32_t len, struct lb_pkt *p, enum lb_drop *drop)
{
	memset(p, 0, sizeof(*p));
	if (__builtin_expect(len < LBP_ETH_HLEN, 0))
		return lbp_drop_with(drop, len == 0 ? LB_DROP_ZERO_LEN : LB_DROP_L2_TRUNCATED);

	/* off: where the current EtherType / TPID sits */
	uint32_t off = LBP_ETH_HLEN - 2;
	uint16_t et = lbp_rd16(frame, off);
	/* untagged IPv4, the common frame, skips the tag loop's two compares */
	while (__builtin_expect(et != LB_ETHERTYPE_IPV4, 0) &&
	       (et == LB_ETHERTYPE_VLAN || et == LB_ETHERTYPE_QINQ)) {
		if (p->n_vlans == LBP_MAX_VLANS)
			return lbp_drop_with(drop, LB_DROP_VLAN_DEPTH);
		if (off + 2 + LBP_VLAN_HLEN > len)
			return lbp_drop_with(drop, LB_DROP_L2_TRUNCATED);
		if (p->n_vlans == 0)
			p->vlan_tci = lbp_rd16(frame, off + 2);
		p->n_vlans++;
		off += LBP_VLAN_HLEN;
		et = lbp_rd16(frame, off);
	}
	p->ethertype = et;
	p->l2_len = (uint16_t)(off + 2);

	const uint8_t *l3 = frame + p->l2_len;
	uint32_t avail = len - p->l2_len;
	if (__builtin_expect(et == LB_ETHERTYPE_IPV4, 1))
		return lbp_parse_ipv4(l3, avail, p, drop);
	switch (et) {
	case LB_ETHERTYPE_IPV6:
		return lbp_parse_ipv6(l3, avail, p, drop);
	case LB_ETHERTYPE_ARP:
		return lbp_parse_arp(l3, avail, p, drop);
	default:
		return lbp_drop_with(drop, LB_DROP_NON_IP);
	}
}

#endif /* LB_PARSE_FASTPATH_H */
