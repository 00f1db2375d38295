/*
 * nat.c - the rewrite stage: addresses, ports, TTL / hop limit and checksums, in place.
 *
 * Called by worker lcores after the forwarding decision (dp/worker.c), by the ICMP
 * path for its checksums, and by tests/test_nat.c with byte arrays. Pure C, no DPDK,
 * no state: safe on any thread.
 *
 * in:  Eth/IPv4|IPv6/TCP|UDP as described by lb_parse(), l3 = frame + p->l2_len
 * out: the same datagram, source and/or destination address and port replaced,
 *      TTL / hop limit one lower, IPv4 header checksum and TCP/UDP checksum
 *      updated incrementally, or left for the NIC (LB_NAT_*_OFFLOAD)
 *
 * Incremental update, RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') summed over every
 * 16-bit word m that changes to m'. The IPv4 header sees the TTL word and the
 * addresses; TCP/UDP see the addresses (pseudo header) and the ports, never the
 * TTL. Eqn. 3 (unlike eqn. 2) cannot turn a correct checksum into 0xffff where a
 * from-scratch computation gives 0, so the results are bit-for-bit what
 * lb_ipv4_cksum() / lb_l4_cksum() would produce.
 *
 * A UDP checksum of 0 means "none" (IPv4; RFC 6936 zero-checksum mode on IPv6):
 * it stays 0, since a stale nonzero checksum would get the datagram dropped; a
 * computed 0 is sent as 0xffff (RFC 768). With LB_NAT_L4_OFFLOAD the NIC computes
 * the full checksum whatever the field held, so the pseudo-header sum is written
 * even for such datagrams (they leave with a real checksum, which is allowed).
 *
 * Other transports (ICMP, ICMPv6) get the address and TTL rewrite only, and
 * ICMPv6, whose checksum covers the pseudo header, the matching incremental
 * update; ports and offload flags do not apply to them.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lb_addr.h"
#include "nat.h"

#define IPV4_TTL_OFF 8
#define IPV4_CSUM_OFF 10
#define IPV4_SRC_OFF 12
#define IPV6_PLEN_OFF 4
#define IPV6_HLIM_OFF 7
#define IPV6_SRC_OFF 8
#define TCP_CSUM_OFF 16
#define UDP_CSUM_OFF 6
#define ICMPV6_CSUM_OFF 2

static inline uint16_t
rd16(const uint8_t *b)
{
	return (uint16_t)((uint16_t)b[0] << 8 | b[1]);
}

/*
 * Fold to 16 bits without complementing; nonzero for any nonzero sum. The high
 * half of sum + rotate(sum, 16) is hi + lo with the end-around carry already in
 * (the carry out of the low half lands in the high one): Linux's csum_fold().
 */
static inline uint16_t
fold(uint32_t sum)
{
	return (uint16_t)((sum + (sum >> 16 | sum << 16)) >> 16);
}

/*
 * Fold a partial sum and complement it: the value that goes into a checksum field
 * (Linux csum_fold() semantics).
 */
uint16_t
lb_csum_fold(uint32_t sum)
{
	return (uint16_t)~fold(sum);
}

/*
 * Add data[0..len) as big-endian 16-bit words (an odd last byte padded with zero)
 * to sum. The result is folded to 16 bits, so partial sums chain without overflow.
 */
uint32_t
lb_csum_partial(const void *data, uint32_t len, uint32_t sum)
{
	const uint8_t *b = data;
	uint64_t s = sum;
	uint32_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += rd16(b + i);
	if (i < len)
		s += (uint32_t)b[i] << 8;
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	return fold((uint32_t)s);
}

/* hdr_len: IHL * 4, at least 20 */
uint16_t
lb_ipv4_cksum(const uint8_t *ip, uint32_t hdr_len)
{
	uint32_t sum = lb_csum_partial(ip, IPV4_CSUM_OFF, 0);

	sum = lb_csum_partial(ip + IPV4_CSUM_OFF + 2, hdr_len - IPV4_CSUM_OFF - 2, sum);
	return lb_csum_fold(sum);
}

/* Pseudo-header sum, folded, not complemented (rte_ipv4/6_phdr_cksum). */
static uint32_t
phdr_sum(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
	 uint32_t l4_total)
{
	uint32_t alen = family == LB_AF_INET ? 4 : 16;
	uint32_t sum = lb_csum_partial(src, alen, 0);

	sum = lb_csum_partial(dst, alen, sum);
	/* IPv4: zero, proto, 16-bit length; IPv6: 32-bit length, zeros, next header */
	sum += proto + (l4_total >> 16) + (l4_total & 0xffff);
	return fold(sum);
}

/*
 * Checksum from scratch. csum_off may be any offset; the two bytes there count as
 * zero. For UDP a result of 0 is returned as 0xffff, the value to put on the wire.
 */
uint16_t
lb_l4_cksum(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
	    const uint8_t *l4, uint32_t l4_total, uint32_t csum_off)
{
	uint32_t sum = phdr_sum(family, src, dst, proto, l4_total);

	sum = lb_csum_partial(l4, l4_total, sum);
	/* take the field back out: adding ~x subtracts x in ones' complement */
	for (uint32_t i = csum_off; i - csum_off < 2 && i < l4_total; i++) {
		uint16_t w = (i & 1) ? l4[i] : (uint16_t)(l4[i] << 8);
		sum += (uint16_t)~w;
	}
	uint16_t c = lb_csum_fold(sum);
	if (proto == LB_IPPROTO_UDP && c == 0)
		c = 0xffff;
	return c;
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
ld32(const uint8_t *b)
{
	uint32_t v;

	memcpy(&v, b, 4);
	return v;
}

static inline uint16_t
ld16(const uint8_t *b)
{
	uint16_t v;

	memcpy(&v, b, 2);
	return v;
}

static inline void
st16(uint8_t *b, uint16_t v)
{
	memcpy(b, &v, 2);
}

/* v (host order) as the CPU reads the two bytes v would have on the wire */
static inline uint16_t
wire16(uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	return ld16(b);
}

/* Fold a 64-bit sum to 16 bits without complementing (the same rotation trick). */
static inline uint16_t
fold64(uint64_t sum)
{
	return fold((uint32_t)((sum + (sum >> 32 | sum << 32)) >> 32));
}

/* ~m + m' for the address old[0..alen) -> new[0..alen), alen 4 or 16, native words */
static inline uint64_t
addr_delta(const uint8_t *old, const uint8_t *new, bool v4)
{
	uint64_t d = (uint64_t)(uint32_t)~ld32(old) + ld32(new);

	if (!v4)
		for (uint32_t i = 4; i < 16; i += 4)
			d += (uint64_t)(uint32_t)~ld32(old + i) + ld32(new + i);
	return d;
}

/* An address's words summed natively (pseudo header). */
static inline uint64_t
addr_sum(const uint8_t *a, bool v4)
{
	uint64_t s = ld32(a);

	if (!v4)
		s += (uint64_t)ld32(a + 4) + ld32(a + 8) + ld32(a + 12);
	return s;
}

/* HC' = ~(~HC + delta), native order, for the field at f */
static inline uint16_t
csum_apply(const uint8_t *f, uint64_t delta)
{
	return (uint16_t)~fold64((uint16_t)~ld16(f) + delta);
}

/*
 * The rewrite for one family. Inlined twice, with v4 a constant in each copy, so
 * the address copies and sums are fixed-size loads and stores (4 or 16 bytes)
 * rather than memcpy()s of a run-time length: forced, since GCC 12 -O2 left it out
 * of line, and the variable-length copies cost ~60 instructions a packet
 * (callgrind, docs/performance.md).
 */
static inline __attribute__((always_inline)) int
rewrite_af(uint8_t *l3, const struct lb_pkt *p, const struct lb_nat_rw *rw,
	   unsigned flags, const bool v4)
{
	const uint32_t alen = v4 ? 4 : 16;
	uint8_t *ttl = l3 + (v4 ? IPV4_TTL_OFF : IPV6_HLIM_OFF);
	uint8_t *saddr = l3 + (v4 ? IPV4_SRC_OFF : IPV6_SRC_OFF);
	uint8_t *daddr = saddr + alen;
	uint8_t *l4 = l3 + p->l3_len;
	uint64_t addr_d = 0;
	uint32_t port_d = 0;

	if (*ttl <= 1)
		return -1;

	bool ports = p->proto == LB_IPPROTO_TCP || p->proto == LB_IPPROTO_UDP;

	/* all deltas from the old words first, then the writes */
	if (rw->src != NULL)
		addr_d += addr_delta(saddr, rw->src, v4);
	if (rw->dst != NULL)
		addr_d += addr_delta(daddr, rw->dst, v4);
	if (ports && rw->sport != 0)
		port_d += (uint16_t)~ld16(l4) + (uint32_t)rw->sport;
	if (ports && rw->dport != 0)
		port_d += (uint16_t)~ld16(l4 + 2) + (uint32_t)rw->dport;

	if (rw->src != NULL)
		memcpy(saddr, rw->src, alen);
	if (rw->dst != NULL)
		memcpy(daddr, rw->dst, alen);
	if (ports && rw->sport != 0)
		memcpy(l4, &rw->sport, 2);
	if (ports && rw->dport != 0)
		memcpy(l4 + 2, &rw->dport, 2);

	(*ttl)--;
	if (v4) {
		/*
		 * The TTL shares its word with the protocol: m = ttl<<8|proto, m' = m - 0x100,
		 * and with ttl >= 2, ~m + m' is 0xfeff whatever m was (a nonzero addend, so
		 * the 0 / 0xffff choice is the same as with the words themselves).
		 */
		uint8_t *hc = l3 + IPV4_CSUM_OFF;
		uint64_t ip_d = addr_d + wire16(0xfeff);

		st16(hc, (flags & LB_NAT_IP_OFFLOAD) ? 0 : csum_apply(hc, ip_d));
	}

	uint8_t *lc;
	switch (p->proto) {
	case LB_IPPROTO_TCP:
		lc = l4 + TCP_CSUM_OFF;
		break;
	case LB_IPPROTO_UDP:
		lc = l4 + UDP_CSUM_OFF;
		break;
	case LB_IPPROTO_ICMPV6:
		lc = l4 + ICMPV6_CSUM_OFF;
		break;
	default:
		return 0; /* IPv4 ICMP: no pseudo header */
	}
	if (ports && (flags & LB_NAT_L4_OFFLOAD)) {
		/* pseudo header: IPv4 zero, proto, 16-bit length; IPv6 32-bit length
		 * (its high word 0: ip_len is 16 bits), zeros, next header */
		uint32_t l4_total = (uint32_t)p->ip_len - p->l3_len;
		uint64_t s = addr_sum(saddr, v4) + addr_sum(daddr, v4) + wire16(p->proto) +
			     wire16((uint16_t)l4_total);
		st16(lc, fold64(s));
	} else if (p->proto == LB_IPPROTO_UDP && ld16(lc) == 0) {
		/* no checksum: stays none */
	} else {
		uint16_t c = csum_apply(lc, addr_d + port_d);
		if (p->proto == LB_IPPROTO_UDP && c == 0)
			c = 0xffff;
		st16(lc, c);
	}
	return 0;
}

int
lb_nat_rewrite(uint8_t *l3, const struct lb_pkt *p, const struct lb_nat_rw *rw,
	       unsigned flags)
{
	assert(p->family == LB_AF_INET || p->family == LB_AF_INET6);
	assert(p->kind == LB_PKT_L4 || p->kind == LB_PKT_ICMP);
	if (p->family == LB_AF_INET)
		return rewrite_af(l3, p, rw, flags, true);
	return rewrite_af(l3, p, rw, flags, false);
}
