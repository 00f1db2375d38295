/*
 * tx.h - the transmit stage: MTU, Ethernet header, next hop, TX buffers.
 *
 * in:  an IP datagram (already rewritten) in an mbuf, its old L2 header in front
 * out: Eth(port MAC -> next hop MAC)/IP, queued on TX queue w of the egress port;
 *      or, when the next hop is not resolved yet, handed to the control thread,
 *      which holds it until ARP/NDP answers (dp/arp.c).
 * Worker lcores only; inline because every packet passes here.
 */
#ifndef LB_FP_TX_H
#define LB_FP_TX_H

#include <stddef.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "nat.h"
#include "neigh.h"
#include "worker_priv.h"

/* Send what is buffered for port pi; what the queue refuses is dropped and counted. */
static void
flush_port(struct lb_worker *w, uint16_t pi)
{
	uint16_t n = w->n_tx[pi];

	if (n == 0)
		return;
	uint16_t sent = rte_eth_tx_burst(w->dp->ports[pi].eth_id, (uint16_t)w->id, w->tx[pi], n);
	uint64_t bytes = 0;
	for (uint16_t i = 0; i < sent; i++)
		bytes += w->tx[pi][i]->pkt_len;
	w->st->port_tx[pi].bytes += bytes;
	w->st->port_tx[pi].pkts += sent;
	w->st->ev[LB_EV_TX_PKTS] += sent;
	w->st->ev[LB_EV_TX_BYTES] += bytes;
	if (sent < n) {
		w->st->drop[LB_DROP_TX_FULL] += n - sent;
		rte_pktmbuf_free_bulk(&w->tx[pi][sent], n - sent);
	}
	w->n_tx[pi] = 0;
}

static inline void
xmit(struct lb_worker *w, struct rte_mbuf *m, uint16_t pi)
{
	uint16_t n = w->n_tx[pi];

	if (unlikely(n == TX_BUF)) {
		flush_port(w, pi);
		n = 0;
	}
	w->tx[pi][n] = m;
	w->n_tx[pi] = (uint16_t)(n + 1);
}

/* Hand a packet to the control thread (ARP, NDP, echo, errors to originate): false if dropped. */
static inline bool
punt(struct lb_worker *w, struct rte_mbuf *m, uint8_t kind, uint16_t port, uint32_t info)
{
	struct lb_mbuf_meta *mm = lb_meta(w->meta_off, m);

	mm->kind = kind;
	mm->port = port;
	mm->info = info;
	if (rte_ring_sp_enqueue(w->ctrl, m) != 0) {
		drop(w, m, LB_DROP_CTRL_FULL);
		return false;
	}
	w->st->ev[LB_EV_CTRL_PUNT]++;
	return true;
}

/*
 * Over the egress MTU (less extra bytes of outer headers the packet will get): a
 * router's answer is "fragmentation needed" (IPv4 with DF) or "packet too big"
 * (IPv6) with the MTU left for the packet, originated by the control thread from
 * the frame as it arrived. IPv4 without DF would need fragmenting, which the dp
 * does not do.
 */
static inline bool
fits_with(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p, uint16_t egress,
	  uint16_t extra)
{
	uint16_t mtu = (uint16_t)(w->dp->ports[egress].mtu - extra);

	if (likely(p->ip_len <= mtu))
		return true;
	const uint8_t *l3 = rte_pktmbuf_mtod_offset(m, const uint8_t *, p->l2_len);
	if (p->family == LB_AF_INET6 || (l3[6] & 0x40))
		punt(w, m, LB_PUNT_TOO_BIG, rx_port(w, m), mtu);
	else
		drop(w, m, LB_DROP_TOO_BIG);
	return false;
}

static inline bool
fits(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p, uint16_t egress)
{
	return fits_with(w, m, p, egress, 0);
}

/*
 * The checksum offloads a packet may use on its way out of port out. The NIC
 * computes the TCP/UDP checksum afresh over whatever payload it is given, so a
 * segment corrupted before the box would leave "repaired" (issue 14, finding 9).
 * Only a segment whose checksum the receiving NIC verified (RX_L4_CKSUM_GOOD; BAD
 * ones were dropped at parse) goes to the TX offload; any other (a port without
 * RX checksum offload, UDP without a checksum) gets the incremental update, which
 * keeps an error an error.
 */
static inline unsigned
nat_flags_for(const struct lb_port *out, const struct rte_mbuf *m)
{
	if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) != RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		return 0;
	return out->nat_flags;
}


/* The checksum offload request for an L4 packet when the port does it (nat_flags). */
static inline __attribute__((always_inline)) void
tx_offload_set(struct rte_mbuf *m, const struct lb_pkt *p, unsigned nat_flags)
{
	m->ol_flags = 0;
	if ((nat_flags & LB_NAT_L4_OFFLOAD) && p->kind == LB_PKT_L4) {
		m->l2_len = RTE_ETHER_HDR_LEN;
		m->l3_len = p->l3_len;
		m->ol_flags = (p->family == LB_AF_INET ? RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM
						       : RTE_MBUF_F_TX_IPV6) |
			      (p->proto == LB_IPPROTO_TCP ? RTE_MBUF_F_TX_TCP_CKSUM
							  : RTE_MBUF_F_TX_UDP_CKSUM);
	}
}

/*
 * Put a fresh Ethernet header in front of the (rewritten) IP datagram for port
 * pi. The old L2 header (with VLAN tags) and Ethernet padding after the datagram
 * go away.
 */
static inline void
frame_l2(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p, uint16_t pi,
	 const uint8_t dmac[6])
{
	const struct lb_port *port = &w->dp->ports[pi];
	uint32_t frame = (uint32_t)RTE_ETHER_HDR_LEN + p->ip_len;

	if (p->l2_len > RTE_ETHER_HDR_LEN)
		rte_pktmbuf_adj(m, (uint16_t)(p->l2_len - RTE_ETHER_HDR_LEN));
	if (m->pkt_len > frame)
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - frame));
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	memcpy(eh->dst_addr.addr_bytes, dmac, 6);
	eh->src_addr = port->mac;
	eh->ether_type = rte_cpu_to_be_16(p->family == LB_AF_INET ? RTE_ETHER_TYPE_IPV4
								 : RTE_ETHER_TYPE_IPV6);
	unsigned nat_flags = nat_flags_for(port, m);
	tx_offload_set(m, p, nat_flags);
}

/*
 * frame_l2() for the forwarding paths (port: the egress port's lb_port), with
 * the next hop's MAC as the neighbour cache keeps it (a 64-bit word, MAC bytes
 * 0..5 in bits 0..47) and the NAT flags the caller already computed for the
 * rewrite (nat_flags_for(): the same mbuf flags, the same port). The header is
 * two overlapping 8-byte stores: the destination MAC (bytes 6-7 are overwritten
 * next), then the port's MAC with the ethertype. Same bytes and mbuf fields as
 * frame_l2().
 */
static inline __attribute__((always_inline)) void
frame_l2_word(struct rte_mbuf *m, const struct lb_pkt *p, const struct lb_port *port,
	      uint64_t dmac, unsigned nat_flags)
{
	uint32_t frame = (uint32_t)RTE_ETHER_HDR_LEN + p->ip_len;
	uint64_t src;

	if (unlikely(p->l2_len > RTE_ETHER_HDR_LEN))
		rte_pktmbuf_adj(m, (uint16_t)(p->l2_len - RTE_ETHER_HDR_LEN));
	if (m->pkt_len > frame) {
		/* Ethernet padding; rte_pktmbuf_trim() without its walk to the last segment */
		if (likely(m->nb_segs == 1)) {
			m->data_len = (uint16_t)(m->data_len - (m->pkt_len - frame));
			m->pkt_len = frame;
		} else {
			rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - frame));
		}
	}
	uint8_t *eh = rte_pktmbuf_mtod(m, uint8_t *);
	/* mac (6 bytes) and the 2 bytes after it (mtu) of struct lb_port: keep the mac's */
	RTE_BUILD_BUG_ON(offsetof(struct lb_port, mac) + 8 > sizeof(struct lb_port));
	memcpy(&src, &port->mac, 8);
	src = rte_le_to_cpu_64(src) & 0xffffffffffffull;
	src |= p->family == LB_AF_INET
		       ? (uint64_t)(RTE_ETHER_TYPE_IPV4 >> 8) << 48 |
				 (uint64_t)(RTE_ETHER_TYPE_IPV4 & 0xff) << 56
		       : (uint64_t)(RTE_ETHER_TYPE_IPV6 >> 8) << 48 |
				 (uint64_t)(RTE_ETHER_TYPE_IPV6 & 0xff) << 56;
	dmac = rte_cpu_to_le_64(dmac);
	src = rte_cpu_to_le_64(src);
	memcpy(eh, &dmac, 8);
	memcpy(eh + 6, &src, 8);
	tx_offload_set(m, p, nat_flags);
}

/* Neighbour neigh's MAC word as it is now (LB_NEIGH_MAC_VALID when usable); 0 for none. */
static inline __attribute__((always_inline)) uint64_t
neigh_word(const struct lb_worker *w, uint32_t neigh)
{
	if (unlikely(neigh == LB_NEIGH_NONE))
		return 0;
	return __atomic_load_n(&w->neigh_ent[neigh].mac, __ATOMIC_RELAXED);
}

/*
 * send_via_nf() with the port (&w->dp->ports[pi]) and neighbour neigh's MAC word
 * (neigh_word()) read by the caller, before the rewrite's stores, which the
 * compiler must assume change what w points to. Unusable word: the frame goes to
 * the control thread to wait for resolution, as in send_via_nf().
 */
static inline __attribute__((always_inline)) void
send_word(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p, uint16_t pi,
	  const struct lb_port *port, uint32_t neigh, uint64_t mw, unsigned nat_flags)
{
	static const uint8_t zero[6];

	if (likely(mw & LB_NEIGH_MAC_VALID)) {
		frame_l2_word(m, p, port, mw, nat_flags);
		xmit(w, m, pi);
		return;
	}
	frame_l2(w, m, p, pi, zero);
	punt(w, m, LB_PUNT_RESOLVE, pi, neigh);
}

/*
 * Send to next hop neigh on port pi. An unresolved next hop: the frame goes to
 * the control thread, which holds it (bounded) while it resolves the neighbour.
 * neigh may be LB_NEIGH_NONE for a directly connected destination not seen yet.
 * nat_flags: nat_flags_for(&w->dp->ports[pi], m), as the rewrite used them.
 */
static inline __attribute__((always_inline)) void
send_via_nf(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p, uint16_t pi,
	    uint32_t neigh, unsigned nat_flags)
{
	send_word(w, m, p, pi, &w->dp->ports[pi], neigh, neigh_word(w, neigh), nat_flags);
}

static inline void
send_via(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p, uint16_t pi,
	 uint32_t neigh)
{
	send_via_nf(w, m, p, pi, neigh, nat_flags_for(&w->dp->ports[pi], m));
}

/*
 * Next hop towards an arbitrary destination (a client): route, then neighbour.
 * IPv4 scans the route list inline (lb_route4_find: the same route as
 * lb_route_lookup()); the neighbour is looked up afresh every packet, so a
 * resolution or a deletion is seen by the next one.
 */
static inline const struct lb_route *
route_to(struct lb_worker *w, uint8_t family, const uint8_t *dst, uint32_t *neigh)
{
	const struct lb_route *r = family == LB_AF_INET ? lb_route4_find(w->rt4, w->n_rt4, dst)
							: lb_route_lookup(w->neigh, family, dst);

	if (r != NULL)
		*neigh = r->gw_neigh != LB_NEIGH_NONE ? r->gw_neigh
						      : lb_neigh_lookup(w->neigh, family, dst);
	return r;
}

#endif /* LB_FP_TX_H */
