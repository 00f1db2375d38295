/*
 * nat.c - the rewrite stage: addresses, ports, TTL / hop limit and checksums, in place.
 *
 * The rewrite's body is nat_fastpath.h, which the worker lcores' forward stage
 * inlines; lb_nat_rewrite() here is its out-of-line copy (tests/test_nat.c, the
 * fuzz target). This file also has the from-scratch checksums the ICMP path and
 * the tests use. Pure C, no DPDK, no state: safe on any thread.
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
#include "nat_fastpath.h"

static inline uint16_t
rd16(const uint8_t *b)
{
	return (uint16_t)((uint16_t)b[0] << 8 | b[1]);
}

/*
 * Fold a partial sum and complement it: the value that goes into a checksum field
 * (Linux csum_fold() semantics).
 */
uint16_t
lb_csum_fold(uint32_t sum)
{
	return (uint16_t)~nat_fold(sum);
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
	return nat_fold((uint32_t)s);
}

/* hdr_len: IHL * 4, at least 20 */
uint16_t
lb_ipv4_cksum(const uint8_t *ip, uint32_t hdr_len)
{
	uint32_t sum = lb_csum_partial(ip, LB_NAT_IPV4_CSUM_OFF, 0);

	sum = lb_csum_partial(ip + LB_NAT_IPV4_CSUM_OFF + 2, hdr_len - LB_NAT_IPV4_CSUM_OFF - 2, sum);
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
	return nat_fold(sum);
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

int
lb_nat_rewrite(uint8_t *l3, const struct lb_pkt *p, const struct lb_nat_rw *rw,
	       unsigned flags)
{
	return lb_nat_rewrite_fp(l3, p, rw, flags);
}
