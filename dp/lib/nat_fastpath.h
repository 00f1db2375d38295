/*
 * nat_fastpath.h - the rewrite stage's body, inline (see nat.h for what it does).
 *
 * Included by dp/lib/nat.c, whose lb_nat_rewrite() is this code out of line (the
 * tests and the fuzz target call that), and by dp/fastpath/forward.h, whose two
 * call sites inline it: that saves the call and the saving and restoring of six
 * registers, 147 -> 111 instructions for an IPv4/TCP fnat packet (callgrind,
 * docs/performance.md). Runs on whichever thread calls it; pure C, no DPDK, no
 * state.
 *
 * Offsets: IPv4 TTL 8, checksum 10, addresses 12/16; IPv6 hop limit 7, addresses
 * 8/24; checksum fields TCP 16, UDP 6, ICMPv6 2.
 */
#ifndef LB_NAT_FASTPATH_H
#define LB_NAT_FASTPATH_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lb_addr.h"
#include "nat.h"

#define LB_NAT_IPV4_TTL_OFF 8
#define LB_NAT_IPV4_CSUM_OFF 10
#define LB_NAT_IPV4_SRC_OFF 12
#define LB_NAT_IPV6_HLIM_OFF 7
#define LB_NAT_IPV6_SRC_OFF 8
#define LB_NAT_TCP_CSUM_OFF 16
#define LB_NAT_UDP_CSUM_OFF 6
#define LB_NAT_ICMPV6_CSUM_OFF 2

/*
 * Fold to 16 bits without complementing; nonzero for any nonzero sum. The high
 * half of sum + rotate(sum, 16) is hi + lo with the end-around carry already in
 * (the carry out of the low half lands in the high one): Linux's csum_fold().
 */
static inline uint16_t
nat_fold(uint32_t sum)
{
	return (uint16_t)((sum + (sum >> 16 | sum << 16)) >> 16);
}

/*
 * The rewrite's arithmetic runs in the CPU's byte order on whole 32-bit words. The
 * ones' complement sum does not depend on byte order (RFC 1071 2(B): swapping the
 * bytes of every addend swaps the bytes of the folded sum, 0 and 0xffff included),
 * and a 32-bit word counts as its two 16-bit halves (2^16 = 1 modulo 0xffff), so
 * folding a native sum of native words and storing it natively writes the same two
 * bytes as the big-endian computation, a word at a time: for IPv4/TCP one load per
 * address instead of four byte loads and shifts per 16-bit word. The folded sum is
 * 0 only when every addend is 0 in either order, so eqn. 3's 0 / 0xffff outcome is
 * kept too. tests/test_nat.c checks this against a big-endian reference.
 */
static inline uint32_t
nat_ld32(const uint8_t *b)
{
	uint32_t v;

	memcpy(&v, b, 4);
	return v;
}

static inline uint16_t
nat_ld16(const uint8_t *b)
{
	uint16_t v;

	memcpy(&v, b, 2);
	return v;
}

static inline void
nat_st16(uint8_t *b, uint16_t v)
{
	memcpy(b, &v, 2);
}

/* v (host order) as the CPU reads the two bytes v would have on the wire */
static inline uint16_t
nat_wire16(uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	return nat_ld16(b);
}

/* Fold a 64-bit sum to 16 bits without complementing (the same rotation trick). */
static inline uint16_t
nat_fold64(uint64_t sum)
{
	return nat_fold((uint32_t)((sum + (sum >> 32 | sum << 32)) >> 32));
}

/* ~m + m' for the address old[0..alen) -> new[0..alen), alen 4 or 16, native words */
static inline uint64_t
nat_addr_delta(const uint8_t *old, const uint8_t *new, bool v4)
{
	uint64_t d = (uint64_t)(uint32_t)~nat_ld32(old) + nat_ld32(new);

	if (!v4)
		for (uint32_t i = 4; i < 16; i += 4)
			d += (uint64_t)(uint32_t)~nat_ld32(old + i) + nat_ld32(new + i);
	return d;
}

/* An address's words summed natively (pseudo header). */
static inline uint64_t
nat_addr_sum(const uint8_t *a, bool v4)
{
	uint64_t s = nat_ld32(a);

	if (!v4)
		s += (uint64_t)nat_ld32(a + 4) + nat_ld32(a + 8) + nat_ld32(a + 12);
	return s;
}

/* HC' = ~(~HC + delta), native order, for the field at f */
static inline uint16_t
nat_csum_apply(const uint8_t *f, uint64_t delta)
{
	return (uint16_t)~nat_fold64((uint16_t)~nat_ld16(f) + delta);
}

/*
 * The rewrite for one family. Inlined twice, with v4 a constant in each copy, so
 * the address copies and sums are fixed-size loads and stores (4 or 16 bytes)
 * rather than memcpy()s of a run-time length: forced, since GCC 12 -O2 left it out
 * of line, and the variable-length copies cost ~40 instructions a packet
 * (callgrind, docs/performance.md).
 */
static inline __attribute__((always_inline)) int
nat_rewrite_af(uint8_t *l3, const struct lb_pkt *p, const struct lb_nat_rw *rw,
	       unsigned flags, const bool v4, const bool l4)
{
	const uint32_t alen = v4 ? 4 : 16;
	uint8_t *ttl = l3 + (v4 ? LB_NAT_IPV4_TTL_OFF : LB_NAT_IPV6_HLIM_OFF);
	uint8_t *saddr = l3 + (v4 ? LB_NAT_IPV4_SRC_OFF : LB_NAT_IPV6_SRC_OFF);
	uint8_t *daddr = saddr + alen;
	uint8_t *l4h = l3 + p->l3_len;
	uint64_t addr_d = 0;
	uint32_t port_d = 0;

	uint8_t ttl0 = *ttl; /* read once: the address stores below may alias it for the compiler */
	if (ttl0 <= 1)
		return -1;

	/* l4 (a constant): the caller knows p is TCP or UDP (the classify stage's packets) */
	bool ports = l4 || p->proto == LB_IPPROTO_TCP || p->proto == LB_IPPROTO_UDP;

	/* all deltas from the old words first, then the writes */
	if (rw->src != NULL)
		addr_d += nat_addr_delta(saddr, rw->src, v4);
	if (rw->dst != NULL)
		addr_d += nat_addr_delta(daddr, rw->dst, v4);
	if (ports && rw->sport != 0)
		port_d += (uint16_t)~nat_ld16(l4h) + (uint32_t)rw->sport;
	if (ports && rw->dport != 0)
		port_d += (uint16_t)~nat_ld16(l4h + 2) + (uint32_t)rw->dport;

	if (rw->src != NULL)
		memcpy(saddr, rw->src, alen);
	if (rw->dst != NULL)
		memcpy(daddr, rw->dst, alen);
	if (ports && rw->sport != 0)
		memcpy(l4h, &rw->sport, 2);
	if (ports && rw->dport != 0)
		memcpy(l4h + 2, &rw->dport, 2);

	*ttl = (uint8_t)(ttl0 - 1);
	if (v4) {
		/*
		 * The TTL shares its word with the protocol: m = ttl<<8|proto, m' = m - 0x100,
		 * and with ttl >= 2, ~m + m' is 0xfeff whatever m was (a nonzero addend, so
		 * the 0 / 0xffff choice is the same as with the words themselves).
		 */
		uint8_t *hc = l3 + LB_NAT_IPV4_CSUM_OFF;
		uint64_t ip_d = addr_d + nat_wire16(0xfeff);

		nat_st16(hc, (flags & LB_NAT_IP_OFFLOAD) ? 0 : nat_csum_apply(hc, ip_d));
	}

	uint8_t *lc;
	switch (l4 ? (p->proto == LB_IPPROTO_TCP ? LB_IPPROTO_TCP : LB_IPPROTO_UDP) : p->proto) {
	case LB_IPPROTO_TCP:
		lc = l4h + LB_NAT_TCP_CSUM_OFF;
		break;
	case LB_IPPROTO_UDP:
		lc = l4h + LB_NAT_UDP_CSUM_OFF;
		break;
	case LB_IPPROTO_ICMPV6:
		lc = l4h + LB_NAT_ICMPV6_CSUM_OFF;
		break;
	default:
		return 0; /* IPv4 ICMP: no pseudo header */
	}
	if (ports && (flags & LB_NAT_L4_OFFLOAD)) {
		/* pseudo header: IPv4 zero, proto, 16-bit length; IPv6 32-bit length
		 * (its high word 0: ip_len is 16 bits), zeros, next header */
		uint32_t l4_total = (uint32_t)p->ip_len - p->l3_len;
		uint64_t s = nat_addr_sum(saddr, v4) + nat_addr_sum(daddr, v4) +
			     nat_wire16(p->proto) + nat_wire16((uint16_t)l4_total);
		nat_st16(lc, nat_fold64(s));
	} else if (p->proto == LB_IPPROTO_UDP && nat_ld16(lc) == 0) {
		/* no checksum: stays none */
	} else {
		uint16_t c = nat_csum_apply(lc, addr_d + port_d);
		if (p->proto == LB_IPPROTO_UDP && c == 0)
			c = 0xffff;
		nat_st16(lc, c);
	}
	return 0;
}

/* lb_nat_rewrite() (nat.h), inline: forced, GCC 12 -O2 keeps it out of line */
static inline __attribute__((always_inline)) int
lb_nat_rewrite_fp(uint8_t *l3, const struct lb_pkt *p, const struct lb_nat_rw *rw,
		  unsigned flags)
{
	assert(p->family == LB_AF_INET || p->family == LB_AF_INET6);
	assert(p->kind == LB_PKT_L4 || p->kind == LB_PKT_ICMP);
	if (p->family == LB_AF_INET)
		return nat_rewrite_af(l3, p, rw, flags, true, false);
	return nat_rewrite_af(l3, p, rw, flags, false, false);
}

/*
 * The same for a TCP or UDP packet as the parse stage described it (the classify
 * stage's packets: kind LB_PKT_L4, family IPv4 or IPv6): the same bytes, without
 * the checks that cannot fail there (forward.h). tests/test_nat.c compares the two.
 */
static inline __attribute__((always_inline)) int
lb_nat_rewrite_l4_fp(uint8_t *l3, const struct lb_pkt *p, const struct lb_nat_rw *rw,
		     unsigned flags)
{
	if (p->family == LB_AF_INET)
		return nat_rewrite_af(l3, p, rw, flags, true, true);
	return nat_rewrite_af(l3, p, rw, flags, false, true);
}

#endif /* LB_NAT_FASTPATH_H */
