/*
 * nat.h - the rewrite stage: addresses, ports, TTL and checksums, in place.
 *
 * Called by workers after the forwarding decision (dp/worker.c), and by unit tests
 * with byte arrays. Pure C, no DPDK.
 *
 * in:  an IPv4 or IPv6 datagram with a TCP or UDP header, described by lb_parse()
 * out: the same datagram with source and/or destination address and port replaced,
 *      TTL / hop limit decremented, the IPv4 header checksum and the TCP/UDP
 *      checksum updated incrementally (RFC 1624), so the result equals a checksum
 *      computed from scratch. An IPv4 UDP checksum of 0 (none) stays 0; a computed
 *      UDP checksum of 0 is sent as 0xffff.
 * With LB_NAT_L4_OFFLOAD the L4 checksum field is left holding the pseudo-header
 * sum for the NIC to finish; with LB_NAT_IP_OFFLOAD the IPv4 checksum is zeroed.
 */
#ifndef LB_NAT_H
#define LB_NAT_H

#include <stdint.h>

#include "parse.h"

#define LB_NAT_L4_OFFLOAD 0x1
#define LB_NAT_IP_OFFLOAD 0x2

struct lb_nat_rw {
	const uint8_t *src;  /* new source address (IPv4 in bytes 0..3) or NULL: keep */
	const uint8_t *dst;  /* new destination address or NULL: keep */
	uint16_t sport;      /* new source port, network order; 0: keep */
	uint16_t dport;      /* new destination port, network order; 0: keep */
};

/*
 * Rewrite the datagram at l3 (frame + p->l2_len). Returns 0, or -1 when the TTL or
 * hop limit is 1 or 0 (LB_DROP_TTL_EXPIRED; the datagram is left untouched).
 */
int lb_nat_rewrite(uint8_t *l3, const struct lb_pkt *p, const struct lb_nat_rw *rw,
		   unsigned flags);

/* Ones' complement helpers, exported for the ICMP path and the tests. */
uint16_t lb_csum_fold(uint32_t sum);
uint32_t lb_csum_partial(const void *data, uint32_t len, uint32_t sum);
/* IPv4 header checksum from scratch (field treated as zero). */
uint16_t lb_ipv4_cksum(const uint8_t *ip, uint32_t hdr_len);
/*
 * TCP/UDP/ICMPv6 checksum from scratch over the pseudo header and l4[0..l4_total),
 * with the checksum field at offset csum_off treated as zero.
 */
uint16_t lb_l4_cksum(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
		     const uint8_t *l4, uint32_t l4_total, uint32_t csum_off);

#endif /* LB_NAT_H */
