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

static inline void
wr16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

/* Fold to 16 bits without complementing; nonzero for any nonzero sum. */
static inline uint16_t
fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
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

/* sum += ~m + m' for each 16-bit word of old[0..n) -> new[0..n), n even */
static inline uint32_t
csum_delta(uint32_t sum, const uint8_t *old, const uint8_t *new, uint32_t n)
{
	for (uint32_t i = 0; i < n; i += 2)
		sum += (uint16_t)~rd16(old + i) + (uint32_t)rd16(new + i);
	return sum;
}

/* HC' = ~(~HC + delta) on the field at f */
static inline uint16_t
csum_apply(const uint8_t *f, uint32_t delta)
{
	return lb_csum_fold((uint16_t)~rd16(f) + delta);
}

int
lb_nat_rewrite(uint8_t *l3, const struct lb_pkt *p, const struct lb_nat_rw *rw,
	       unsigned flags)
{
	bool v4 = p->family == LB_AF_INET;
	uint32_t alen = v4 ? 4 : 16;
	uint8_t *ttl = l3 + (v4 ? IPV4_TTL_OFF : IPV6_HLIM_OFF);
	uint8_t *saddr = l3 + (v4 ? IPV4_SRC_OFF : IPV6_SRC_OFF);
	uint8_t *daddr = saddr + alen;
	uint8_t *l4 = l3 + p->l3_len;
	uint32_t l4_total = (uint32_t)p->ip_len - p->l3_len;
	uint32_t addr_delta = 0, port_delta = 0;
	uint32_t csum_off;

	assert(p->family == LB_AF_INET || p->family == LB_AF_INET6);
	assert(p->kind == LB_PKT_L4 || p->kind == LB_PKT_ICMP);
	if (*ttl <= 1)
		return -1;

	switch (p->proto) {
	case LB_IPPROTO_TCP:
		csum_off = TCP_CSUM_OFF;
		break;
	case LB_IPPROTO_UDP:
		csum_off = UDP_CSUM_OFF;
		break;
	case LB_IPPROTO_ICMPV6:
		csum_off = ICMPV6_CSUM_OFF;
		break;
	default:
		csum_off = UINT32_MAX; /* IPv4 ICMP: no pseudo header */
		break;
	}
	bool ports = p->proto == LB_IPPROTO_TCP || p->proto == LB_IPPROTO_UDP;

	/* all deltas from the old words first, then the writes */
	if (rw->src != NULL)
		addr_delta = csum_delta(addr_delta, saddr, rw->src, alen);
	if (rw->dst != NULL)
		addr_delta = csum_delta(addr_delta, daddr, rw->dst, alen);
	if (ports && rw->sport != 0)
		port_delta = csum_delta(port_delta, l4, (const uint8_t *)&rw->sport, 2);
	if (ports && rw->dport != 0)
		port_delta = csum_delta(port_delta, l4 + 2, (const uint8_t *)&rw->dport, 2);

	if (rw->src != NULL)
		memcpy(saddr, rw->src, alen);
	if (rw->dst != NULL)
		memcpy(daddr, rw->dst, alen);
	if (ports && rw->sport != 0)
		memcpy(l4, &rw->sport, 2);
	if (ports && rw->dport != 0)
		memcpy(l4 + 2, &rw->dport, 2);

	if (v4) {
		/* the TTL shares its word with the protocol: m = ttl<<8|proto */
		uint16_t old_w = rd16(ttl);
		uint32_t ip_delta = addr_delta + (uint16_t)~old_w + (uint32_t)(old_w - 0x100);
		uint8_t *hc = l3 + IPV4_CSUM_OFF;

		(*ttl)--;
		wr16(hc, (flags & LB_NAT_IP_OFFLOAD) ? 0 : csum_apply(hc, ip_delta));
	} else {
		(*ttl)--;
	}

	if (csum_off == UINT32_MAX)
		return 0;
	uint8_t *lc = l4 + csum_off;
	if (ports && (flags & LB_NAT_L4_OFFLOAD)) {
		wr16(lc, (uint16_t)phdr_sum(p->family, saddr, daddr, p->proto, l4_total));
	} else if (p->proto == LB_IPPROTO_UDP && rd16(lc) == 0) {
		/* no checksum: stays none */
	} else {
		uint16_t c = csum_apply(lc, addr_delta + port_delta);
		if (p->proto == LB_IPPROTO_UDP && c == 0)
			c = 0xffff;
		wr16(lc, c);
	}
	return 0;
}
