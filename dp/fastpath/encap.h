/*
 * encap.h - direct server return: the client's packet, unchanged, inside an outer
 * header to the backend (modes ipip and gue, include/lb_model.h).
 *
 *   in:  Eth/IP(client -> VIP)/TCP|UDP ...            (as received)
 *   ipip: Eth/IP(box -> backend, proto 4 | nh 41)/IP(client -> VIP)/...
 *   gue:  Eth/IP(box -> backend, proto 17)/UDP(sport from the flow hash ->
 *         dp.gue_port)/IP(client -> VIP)/...           (GUE variant 1: no GUE header,
 *         the inner IP version says what follows)
 *
 * The outer family is the inner one (IPv4 in IPv4, IPv6 in IPv6). The outer source
 * is the egress port's first address of that family (else the box's first address
 * of the family on any port, else the VIP itself); its IPv4 DF bit and DSCP are
 * the inner packet's, TTL/hop limit 64; the IPv6 flow label and the GUE source port
 * carry the flow hash so routers and the backend's RSS spread flows. The inner
 * packet, its TTL and its checksums are not touched: the backend decapsulates it
 * and answers the client directly, from the VIP. Worker lcores only, inline.
 */
#ifndef LB_FP_ENCAP_H
#define LB_FP_ENCAP_H

#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "tx.h"
#include "worker_priv.h"

#define LB_IPPROTO_IPIP 4   /* IPv4 in IPv4 */
#define LB_IPPROTO_IPV6 41  /* IPv6 in IPv6 */

/* Bytes the outer headers add for mode on family. */
static inline uint16_t
encap_overhead(uint8_t mode, uint8_t family)
{
	uint16_t ip = family == LB_AF_INET ? sizeof(struct rte_ipv4_hdr) : sizeof(struct rte_ipv6_hdr);

	return (uint16_t)(ip + (mode == LB_MODE_GUE ? sizeof(struct rte_udp_hdr) : 0));
}

/*
 * Wrap packet p (its datagram at p->l2_len) for backend dst out of port pi. On
 * success returns true and *op describes the outer datagram for send_via(); on
 * failure the packet was dropped or punted (too big: the client gets "fragmentation
 * needed" / "packet too big" with the MTU left for the inner packet).
 */
static inline bool
encap_dsr(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p, uint8_t mode,
	  const uint8_t *dst, uint16_t pi, uint32_t flow_hash, struct lb_pkt *op)
{
	bool v4 = p->family == LB_AF_INET;
	unsigned fam = !v4;
	uint16_t over = encap_overhead(mode, p->family);

	const uint8_t *src = w->has_tun_src[pi][fam] ? w->tun_src[pi][fam] : p->dst;

	if (unlikely(!fits_with(w, m, p, pi, over)))
		return false;
	const uint8_t *in = rte_pktmbuf_mtod_offset(m, const uint8_t *, p->l2_len);
	/* Inner DSCP/ECN byte and (IPv4) DF bit, read before the header goes in front. */
	uint8_t tos = v4 ? in[1] : (uint8_t)(((in[0] & 0x0f) << 4) | (in[1] >> 4));
	uint8_t df = v4 ? (in[6] & 0x40) : 0;

	/* Drop the old L2 header and any Ethernet padding, then make room for the outer. */
	rte_pktmbuf_adj(m, p->l2_len);
	if (m->pkt_len > p->ip_len)
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - p->ip_len));
	uint8_t *o = (uint8_t *)rte_pktmbuf_prepend(m, (uint16_t)(RTE_ETHER_HDR_LEN + over));
	if (unlikely(o == NULL)) {
		drop(w, m, LB_DROP_TOO_BIG); /* no headroom: never with the dp's own pool */
		return false;
	}
	o += RTE_ETHER_HDR_LEN;
	uint16_t total = (uint16_t)(p->ip_len + over);
	uint8_t proto = mode == LB_MODE_GUE ? LB_IPPROTO_UDP : v4 ? LB_IPPROTO_IPIP : LB_IPPROTO_IPV6;
	uint16_t ip_hlen;

	if (v4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)o;
		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->type_of_service = tos;
		ip->total_length = rte_cpu_to_be_16(total);
		ip->packet_id = 0;
		ip->fragment_offset = df ? rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG) : 0;
		ip->time_to_live = 64;
		ip->next_proto_id = proto;
		ip->hdr_checksum = 0;
		memcpy(&ip->src_addr, src, 4);
		memcpy(&ip->dst_addr, dst, 4);
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		ip_hlen = sizeof(*ip);
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)o;
		ip->vtc_flow = rte_cpu_to_be_32(6u << 28 | (uint32_t)tos << 20 | (flow_hash & 0xfffff));
		ip->payload_len = rte_cpu_to_be_16((uint16_t)(total - sizeof(*ip)));
		ip->proto = proto;
		ip->hop_limits = 64;
		memcpy(ip->src_addr, src, 16);
		memcpy(ip->dst_addr, dst, 16);
		ip_hlen = sizeof(*ip);
	}
	if (mode == LB_MODE_GUE) {
		struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(o + ip_hlen);
		/* Source port from the flow hash, in the dynamic range: stable per flow. */
		uh->src_port = rte_cpu_to_be_16((uint16_t)(0xc000 | (flow_hash >> 18)));
		uh->dst_port = w->gue_port;
		uh->dgram_len = rte_cpu_to_be_16((uint16_t)(total - ip_hlen));
		uh->dgram_cksum = 0; /* IPv4: none (RFC 768); IPv6: computed below (RFC 8200) */
		if (!v4) {
			uint16_t ck = rte_ipv6_udptcp_cksum((const struct rte_ipv6_hdr *)o, uh);
			uh->dgram_cksum = ck;
		}
	}
	memset(op, 0, sizeof(*op));
	op->family = p->family;
	op->l2_len = RTE_ETHER_HDR_LEN;
	op->ip_len = total;
	/* The inner checksums are final and the outer ones are done: without the RX
	 * checksum flags, frame_l2() asks the NIC for no offload. */
	m->ol_flags = 0;
	return true;
}

#endif /* LB_FP_ENCAP_H */
