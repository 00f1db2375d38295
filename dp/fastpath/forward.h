/*
 * forward.h - conntrack, pick and rewrite: the forwarding decision of a worker.
 *
 * Called by the classify stage (classify.h) for each TCP/UDP packet of a burst.
 * Worker lcores only; writes only the worker's own table and counters.
 *
 *   client -> VIP:   conntrack forward lookup; a hit keeps its backend unless the
 *                    backend left the service; a miss picks (ClientIP affinity, then
 *                    Maglev), chooses the fnat source, inserts; then the rewrite.
 *   backend -> box:  conntrack reverse lookup (fnat: local address and port; dnat:
 *                    client), then the rewrite back to VIP -> client.
 *   ipip / gue:      the client -> VIP packet goes out unchanged inside an outer
 *                    header (encap.h); the backend answers the client directly.
 */
#ifndef LB_FP_FORWARD_H
#define LB_FP_FORWARD_H
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "affinity.h"
#include "conntrack.h"
#include "encap.h"
#include "maglev.h"
#include "nat_fastpath.h"
#include "tx.h"
#include "worker_priv.h"

/* ---- connection bookkeeping -------------------------------------------- */

/* A connection still names its backend unless that backend left the service. */
static inline bool
real_holds(const struct lb_real *r, const struct lb_conn *c)
{
	uint8_t st = __atomic_load_n(&r->state, __ATOMIC_ACQUIRE);

	return st <= LB_BACKEND_DOWN && r->svc_id == c->svc_id && r->port == c->backend_port &&
	       lb_ct_addr_eq(r->addr, c->backend);
}

/*
 * The first minutes after a restart that re-attached conntrack tables
 * (control/state.c): the cp may not have sent every service and backend again
 * yet, so an entry whose ids name nothing (yet) is kept, not removed, and its
 * packets are dropped rather than sent somewhere else. It expires normally if its
 * service never comes back.
 */
static inline bool
adopting(const struct lb_worker *w)
{
	return unlikely(w->dp->adopting) && lb_clock_before(w->now, w->dp->adopt_until);
}

/* The real id still stands for the entry's service and backend (any state but free). */
static inline bool
real_names(const struct lb_real *r, const struct lb_conn *c)
{
	return __atomic_load_n(&r->state, __ATOMIC_ACQUIRE) != LB_REAL_FREE &&
	       r->svc_id == c->svc_id && r->port == c->backend_port &&
	       memcmp(r->addr, c->backend, 16) == 0;
}

static void
conn_gone(const struct lb_conn *c, void *arg)
{
	struct lb_worker *w = arg;
	const struct lb_real *r = lb_real_get(w->svcs, c->real_id);

	w->st->ev[LB_EV_CT_EXPIRED]++;
	/* Only while the id still means this backend; a reused id has a fresh baseline. */
	if (real_holds(r, c) || __atomic_load_n(&r->state, __ATOMIC_RELAXED) == LB_REAL_REMOVED) {
		w->st->real[c->real_id].conns--;
		w->st->real[c->real_id].active -= lb_sched_ct_active(c->state);
	}
}

/* A TCP segment moved c from state before: keep the backend's active count (pick.h). */
static inline void
conn_moved(struct lb_worker *w, const struct lb_conn *c, uint8_t before)
{
	if (likely(c->state == before))
		return; /* most segments: nothing moved */
	int d = (int)lb_sched_ct_active(c->state) - (int)lb_sched_ct_active(before);

	if (unlikely(d != 0) && real_holds(lb_real_get(w->svcs, c->real_id), c))
		w->st->real[c->real_id].active += d;
}

/*
 * A half-open fnat entry the backend answered leaves a request socket at the
 * backend (SYN_RECV, kept for its SYN-ACK retries, about a minute on Linux). When
 * the dp gives the entry up to reuse its tuple, a new SYN on that tuple would meet
 * that socket and be answered with a bare ACK instead of a SYN-ACK (the new client
 * then has to retry after a second). So the dp first resets it: a RST from the
 * local address and port with the sequence number the backend expects next (the
 * client's, which the entry tracks), sent ahead of the new SYN on the same queue.
 *   out: Eth/IP(local -> backend)/TCP(local port -> backend port, RST, seq)
 * Only under pressure (cold); skipped when the backend's next hop is unresolved.
 */
static void
reset_backend(struct lb_worker *w, const struct lb_conn *c)
{
	const struct lb_real *r = lb_real_get(w->svcs, c->real_id);
	uint8_t mac[6];

	if (c->mode != LB_MODE_FNAT || c->proto != LB_IPPROTO_TCP || c->state != LB_CT_TCP_SYN ||
	    (c->flags & (LB_CONN_SEEN_REPLY | LB_CONN_SEQ_KNOWN)) !=
		    (LB_CONN_SEEN_REPLY | LB_CONN_SEQ_KNOWN) ||
	    !real_holds(r, c) || r->tx_port == LB_PORT_NONE || r->neigh == LB_NEIGH_NONE ||
	    !lb_neigh_mac(lb_neigh_entry(w->neigh, r->neigh), mac))
		return;
	bool v4 = c->family == LB_AF_INET;
	uint16_t l3 = v4 ? sizeof(struct rte_ipv4_hdr) : sizeof(struct rte_ipv6_hdr);
	uint16_t len = (uint16_t)(RTE_ETHER_HDR_LEN + l3 + sizeof(struct rte_tcp_hdr));
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->dp->pool);
	if (m == NULL)
		return;
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, len);
	if (f == NULL) {
		rte_pktmbuf_free(m);
		return;
	}
	memset(f, 0, len);
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)f;
	memcpy(eh->dst_addr.addr_bytes, mac, 6);
	eh->src_addr = w->dp->ports[r->tx_port].mac;
	eh->ether_type = rte_cpu_to_be_16(v4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(f + RTE_ETHER_HDR_LEN + l3);
	th->src_port = c->local_port;
	th->dst_port = c->backend_port;
	th->sent_seq = rte_cpu_to_be_32(c->seq_client);
	th->data_off = 5 << 4;
	th->tcp_flags = RTE_TCP_RST_FLAG;
	const uint8_t *src = w->dp->local[c->local_idx].addr.bytes;
	if (v4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + RTE_ETHER_HDR_LEN);
		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(l3 + sizeof(*th)));
		ip->time_to_live = 64;
		ip->next_proto_id = LB_IPPROTO_TCP;
		memcpy(&ip->src_addr, src, 4);
		memcpy(&ip->dst_addr, c->backend, 4);
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(f + RTE_ETHER_HDR_LEN);
		ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
		ip->payload_len = rte_cpu_to_be_16(sizeof(*th));
		ip->proto = LB_IPPROTO_TCP;
		ip->hop_limits = 64;
		memcpy(ip->src_addr, src, 16);
		memcpy(ip->dst_addr, c->backend, 16);
		th->cksum = rte_ipv6_udptcp_cksum(ip, th);
	}
	w->st->ev[LB_EV_BACKEND_RESETS]++;
	xmit(w, m, r->tx_port);
}

/* The callback of table reclaims: account as conn_gone, reset the backend's half-open state. */
static void
conn_reclaimed(const struct lb_conn *c, void *arg)
{
	struct lb_worker *w = arg;

	reset_backend(w, c);
	conn_gone(c, w);
}

/*
 * A table reclaim (lb_ct_reclaim, lb_ct_snat_reclaim) let entries go through
 * conn_gone, which counted them as expired; rc 2 means the last was evicted alive.
 */
static inline void
count_reclaim(struct lb_worker *w, int rc)
{
	if (rc == 2) {
		w->st->ev[LB_EV_CT_EXPIRED]--;
		w->st->ev[LB_EV_CT_EVICTED]++;
	}
}

static void
conn_remove(struct lb_worker *w, struct lb_conn *c)
{
	conn_gone(c, w);
	w->st->ev[LB_EV_CT_EXPIRED]--; /* removed, not expired: conn_gone counted it */
	lb_ct_remove(w->ct, c);
}

static inline bool
in_ranges(const struct lb_svc *svc, const struct lb_pkt *p)
{
	struct lb_addr a;

	a.family = p->family;
	memcpy(a.bytes, p->src, 16);
	for (uint16_t i = 0; i < svc->n_ranges; i++)
		if (lb_prefix_contains(&svc->ranges[i], &a))
			return true;
	return false;
}

/*
 * ClientIP affinity: the backend this client's previous connections used, if it
 * still takes new flows. LB_AFF_NONE otherwise.
 */
static uint32_t
affinity_pick(struct lb_worker *w, const struct lb_pkt *p, const struct lb_svc *svc)
{
	uint32_t rid = lb_aff_lookup(w->aff, svc->id, p->src, w->now, svc->affinity_timeout_ms);

	if (rid == LB_AFF_NONE)
		return LB_AFF_NONE;
	const struct lb_real *r = lb_real_get(w->svcs, rid);
	if (r->svc_id != svc->id || __atomic_load_n(&r->state, __ATOMIC_ACQUIRE) != svc->pick_state)
		return LB_AFF_NONE; /* gone, draining or down: pick again */
	lb_aff_touch(w->aff, svc->id, p->src, w->now);
	w->st->ev[LB_EV_AFFINITY_HITS]++;
	return rid;
}

/* The segment as the conntrack sees it: sequence space used by payload, SYN, FIN. */
static inline void
tcp_seg_of(const struct lb_pkt *p, struct lb_tcp_seg *s)
{
	s->flags = p->tcp_flags;
	s->seq = p->tcp_seq;
	_Static_assert(LB_TCP_FIN == 1 && LB_TCP_SYN == 2, "SYN and FIN count one each");
	s->len = (uint32_t)(p->ip_len - p->l3_len - p->l4_len) + (p->tcp_flags & LB_TCP_FIN) +
		 ((p->tcp_flags & LB_TCP_SYN) >> 1);
}

/*
 * A packet that would start a flow but must not: a RST (nothing to reset, and
 * no state is made for one) or a "land" packet whose source is one of our own
 * addresses (a VIP, a local or port address). Checked on conntrack misses only,
 * so established flows pay nothing.
 */
static inline bool
refuse_new(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p)
{
	if (p->proto == LB_IPPROTO_TCP && (p->tcp_flags & LB_TCP_RST)) {
		drop(w, m, LB_DROP_RST_NO_CONN);
		return true;
	}
	const struct lb_addr_info *ai = lb_addr_get(w->svcs, p->family, p->src);
	if (ai != NULL && __atomic_load_n(&ai->flags, __ATOMIC_ACQUIRE) != 0) {
		drop(w, m, LB_DROP_LAND);
		return true;
	}
	return false;
}

/*
 * A new flow: pick a backend (Maglev over the service's current table), choose
 * the fnat source, and insert the connection. Returns the entry, or NULL after a
 * drop. sh: what the classify stage's SNAT prefetch found (pair, port, reverse
 * hash), so the allocator need not look them up again; the allocator checks it.
 * A full table or a full SNAT port range gives up an expired entry, or else
 * a half-open entry (a handshake the client never completed: what a flood leaves)
 * that would expire first; when nothing can go, the flow is dropped and counted
 * rather than forwarded without state (its replies would find nothing).
 */
static struct lb_conn *
new_flow(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p,
	 const struct lb_svc *svc, struct lb_conn *tmp, uint32_t fwd_hash, uint32_t flow_hash,
	 const struct lb_ct_snat_hint *sh)
{
	uint32_t fh, rid = LB_AFF_NONE, rev_hash = 0;

	if (unlikely(refuse_new(w, m, p)))
		return NULL;
	if (flow_hash != 0) {
		fh = flow_hash; /* computed by the burst's look-ahead pass */
	} else if (svc->affinity == LB_AFFINITY_CLIENTIP) {
		/*
		 * Hash the client address only: without a table entry it still lands alike.
		 * Seeded by the service's key (VIP, port, protocol), never by its directory
		 * slot, which depends on the order services arrived in: every box must pick
		 * the same backend for the same client.
		 */
		uint64_t sk = lb_hash_bytes(p->dst, 16,
					    w->flow_seed ^ ((uint64_t)p->dport << 8 | p->proto));
		fh = (uint32_t)lb_hash_bytes(p->src, 16, sk);
		rid = affinity_pick(w, p, svc);
	} else {
		fh = lb_flow_hash(w->flow_seed, p->src, p->sport, p->dst, p->dport, p->proto);
	}
	if (rid == LB_AFF_NONE) {
		uint16_t bi = pick_backend(w, p, svc, fh); /* pick.h: Maglev or IPVS's */
		if (bi == LB_MAGLEV_EMPTY) {
			drop(w, m, LB_DROP_NO_BACKEND);
			return NULL;
		}
		rid = svc->real_ids[bi];
		if (svc->affinity == LB_AFFINITY_CLIENTIP)
			lb_aff_update(w->aff, svc->id, p->src, rid, w->now);
	}
	const struct lb_real *r = lb_real_get(w->svcs, rid);

	/* Both modes send to the backend: no route, no connection (and no SNAT port). */
	if (r->tx_port == LB_PORT_NONE) {
		drop(w, m, LB_DROP_NO_ROUTE);
		return NULL;
	}
	memset(tmp, 0, sizeof(*tmp));
	memcpy(tmp->client, p->src, 16);
	memcpy(tmp->backend, r->addr, 16);
	tmp->svc_id = svc->id;
	tmp->real_id = rid;
	tmp->client_port = p->sport;
	tmp->backend_port = r->port;
	tmp->family = p->family;
	tmp->proto = p->proto;
	tmp->mode = svc->mode;
	if (p->proto == LB_IPPROTO_TCP) {
		/* A first packet other than a bare SYN is a mid-stream pickup (after a
		 * restart, or a flow from another box) or junk: forwarded, but on the
		 * short "unconfirmed" timeout until the backend answers. */
		struct lb_tcp_seg seg;
		tcp_seg_of(p, &seg);
		tmp->state = (p->tcp_flags & (LB_TCP_SYN | LB_TCP_ACK)) == LB_TCP_SYN
				     ? LB_CT_TCP_SYN : LB_CT_TCP_UNCONFIRMED;
		tmp->seq_client = lb_tcp_seg_end(&seg);
		tmp->flags = LB_CONN_SEQ_KNOWN;
	} else {
		tmp->state = LB_CT_UDP;
	}
	/* Replies bypass the box in ipip/gue: the entry counts as answered, so the
	 * client's ACK completes the handshake and a UDP flow becomes a stream. */
	if (lb_mode_is_dsr(svc->mode))
		tmp->flags |= LB_CONN_SEEN_REPLY;

	if (svc->mode == LB_MODE_FNAT) {
		unsigned fam = p->family == LB_AF_INET6;
		unsigned ns = w->n_src[r->tx_port][fam];
		if (ns == 0) {
			drop(w, m, LB_DROP_NO_SNAT);
			return NULL;
		}
		struct lb_ct_rev_key rk;
		lb_ct_rev_key_init(&rk, LB_MODE_FNAT, p->proto, r->addr, r->port);
		/* O(1) per address (conntrack_snat.c): each source address in turn,
		 * starting at one the flow hash picks. */
		const uint8_t *src = w->src[r->tx_port][fam];
		unsigned first = fh % ns;
		rk.local_idx = src[first];
		int ok = snat_port(w, p, &rk, &rev_hash, sh); /* peer_fp.h */
		for (unsigned t = 1; t < ns && ok < 0; t++) {
			rk.local_idx = src[(fh + t) % ns];
			ok = snat_port(w, p, &rk, &rev_hash, sh);
		}
		if (ok < 0) {
			/* Every address is out of ports: free an expired or evict a
			 * half-open entry of the first one's, and take its port. */
			rk.local_idx = src[first];
			ok = lb_ct_snat_reclaim(w->ct, &rk, w->now, &rev_hash, conn_reclaimed, w);
			count_reclaim(w, ok);
			if (ok >= 0 && unlikely(w->peers != NULL) && lb_peer_own_count(w->peers) &&
			    peer_snat_taken(w, p, &rk))
				ok = LB_EFULL; /* peer_fp.h: a peer's record holds it */
		}
		if (ok < 0) {
			w->st->ev[LB_EV_SNAT_EXHAUSTED]++;
			w->st->real[rid].snat_exhausted++;
			drop(w, m, LB_DROP_NO_SNAT);
			return NULL;
		}
		tmp->local_idx = rk.local_idx;
		tmp->local_port = rk.local_port;
	} else {
		struct lb_ct_rev_key rk;
		lb_ct_rev_key_of(tmp, &rk);
		rev_hash = lb_ct_hash_rev(&rk, w->ct_seed);
	}

	/* Both hashes computed once: the lookup's and the allocator's. */
	struct lb_conn *c = lb_ct_insert_hashed(w->ct, tmp, w->now, fwd_hash, rev_hash);
	if (unlikely(c == NULL)) {
		w->st->ev[LB_EV_CT_FULL]++;
		int rc = lb_ct_reclaim(w->ct, w->now, conn_reclaimed, w);
		count_reclaim(w, rc);
		if (rc > 0)
			c = lb_ct_insert_hashed(w->ct, tmp, w->now, fwd_hash, rev_hash);
		if (c == NULL) {
			drop(w, m, LB_DROP_CT_TABLE_FULL);
			return NULL;
		}
	}
	w->st->ev[LB_EV_CT_CREATED]++;
	w->st->real[rid].conns++;
	w->st->real[rid].active += lb_sched_ct_active(c->state);
	if (unlikely(w->sync_rec != NULL))
		sync_push(w, c, svc); /* peer_fp.h: flow sync */
	return c;
}

/* ---- the two directions ------------------------------------------------ */

/* ipip / gue: the packet as it came, inside an outer header to the backend. */
static void
forward_dsr(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p, uint32_t id,
	    const struct lb_conn *c, const struct lb_real *r, uint32_t flow_hash)
{
	struct lb_pkt op;
	uint16_t inner = p->ip_len;

	if (unlikely(r->tx_port == LB_PORT_NONE)) {
		drop(w, m, LB_DROP_NO_ROUTE);
		return;
	}
	if (flow_hash == 0)
		flow_hash = lb_flow_hash(w->flow_seed, p->src, p->sport, p->dst, p->dport, p->proto);
	if (!encap_dsr(w, m, p, c->mode, c->backend, r->tx_port, flow_hash, &op))
		return;
	w->st->ev[LB_EV_FWD_PKTS]++;
	w->st->svc[id].pkts++;
	w->st->svc[id].bytes += inner;
	w->st->real[c->real_id].pkts++;
	w->st->real[c->real_id].bytes += inner;
	send_via(w, m, &op, r->tx_port, r->neigh);
}

/*
 * The end of both directions of a NAT'ed flow: rewrite with the port's offload
 * flags, count the packet (event ev, service sid, backend rid) and send it to
 * next hop neigh on port pi.
 */
static inline __attribute__((always_inline)) void
rewrite_and_send(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p,
		 const struct lb_nat_rw *rw, uint16_t pi, uint32_t neigh, unsigned ev,
		 uint32_t sid, uint32_t rid)
{
	/* What the send needs from w, read before the rewrite's byte stores (may alias) */
	const struct lb_port *port = &w->dp->ports[pi];
	uint64_t mw = neigh_word(w, neigh);
	struct lb_wstats *st = w->st;
	unsigned nf = nat_flags_for(port, m);
	uint8_t *l3 = rte_pktmbuf_mtod_offset(m, uint8_t *, p->l2_len);
	if (unlikely(lb_nat_rewrite_l4_fp(l3, p, rw, nf) < 0)) {
		drop(w, m, LB_DROP_TTL_EXPIRED); /* checked at parse time; kept as a guard */
		return;
	}
	uint16_t ip_len = p->ip_len;
	st->ev[ev]++;
	st->svc[sid].pkts++;
	st->svc[sid].bytes += ip_len;
	st->real[rid].pkts++;
	st->real[rid].bytes += ip_len;
	send_word(w, m, p, pi, port, neigh, mw, nf);
}

/*
 * cand: the entry the classify stage's prefetch found for fwd_hash (may be NULL
 * or stale: checked). Inlined into the classify stage's loop: every client packet
 * passes here, and a call costs its register saves.
 */
static inline __attribute__((always_inline)) void
forward_client(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p, uint32_t id,
	       uint32_t fwd_hash, struct lb_conn *cand, uint32_t flow_hash,
	       const struct lb_ct_snat_hint *sh)
{
	const struct lb_svc *svc = lb_svc_get(w->svcs, id);
	struct lb_conn tmp, *c;

	if (unlikely(svc == NULL)) {
		drop(w, m, LB_DROP_NO_SERVICE);
		return;
	}
	if (svc->n_ranges && !in_ranges(svc, p)) {
		drop(w, m, LB_DROP_SOURCE_RANGE);
		return;
	}
	if (svc->mode == LB_MODE_DNAT && w->n_workers > 1 && !w->handing_in) {
		unsigned owner = client_owner(w, p->src, p->sport);
		if (owner != w->id) {
			handoff(w, m, owner);
			return;
		}
	}

	struct lb_ct_fwd_key fk;
	memcpy(fk.client, p->src, 16);
	fk.client_port = p->sport;
	fk.svc_id = id;
	c = cand != NULL ? lb_ct_lookup_fwd_cand(w->ct, &fk, fwd_hash, cand)
			 : lb_ct_lookup_fwd_nocand(w->ct, &fk, fwd_hash);
	const struct lb_real *r = NULL; /* c's backend while c is the entry found here */
	if (c != NULL) {
		r = lb_real_get(w->svcs, c->real_id);
		if (unlikely(!real_holds(r, c))) {
			/* Its backend left the service: the flow goes to the new table's pick. */
			w->st->ev[LB_EV_CT_REPICK]++;
			conn_remove(w, c);
			c = NULL;
		} else if (p->proto == LB_IPPROTO_TCP) {
			struct lb_tcp_seg seg;
			tcp_seg_of(p, &seg);
			if (likely(lb_ct_tcp_seg_est(c, &seg, LB_DIR_CLIENT, w->now, w->ct_est_ms)))
				goto tracked; /* established, stays so: nothing moved or to sync */
			uint8_t before = c->state;
			uint8_t st = lb_ct_tcp_seg(w->ct, c, &seg, LB_DIR_CLIENT, w->now);
			conn_moved(w, c, before);
			if (unlikely(st == LB_CT_RST_REJECTED)) {
				drop(w, m, LB_DROP_RST_WINDOW);
				return;
			}
			if (st == LB_CT_STATE_FREE) {
				conn_remove(w, c); /* port reuse after close: a new flow */
				c = NULL;
			} else if (unlikely(w->sync_rec != NULL) && st != before) {
				sync_push(w, c, svc);
			}
		} else {
			uint8_t old = c->state;
			lb_ct_udp_update(w->ct, c, LB_DIR_CLIENT, w->now);
			if (unlikely(w->sync_rec != NULL) && c->state != old)
				sync_push(w, c, svc);
		}
	}
	if (c == NULL)
		r = NULL; /* removed above: the entry given below may even be the same slot */
	if (c == NULL && unlikely(w->peers != NULL) &&
	    (p->proto != LB_IPPROTO_TCP || (p->tcp_flags & (LB_TCP_SYN | LB_TCP_ACK)) != LB_TCP_SYN)) {
		bool gone;
		c = peer_client(w, m, p, svc, &gone); /* peer_fp.h: another box's connection? */
		if (gone)
			return;
	}
	if (c == NULL) {
		c = new_flow(w, m, p, svc, &tmp, fwd_hash, flow_hash, sh);
		if (c == NULL)
			return;
	}

tracked:;
	uint32_t rid = c->real_id;
	if (r == NULL)
		r = lb_real_get(w->svcs, rid); /* a new (or another box's) connection */
	if (unlikely(lb_mode_is_dsr(c->mode))) {
		forward_dsr(w, m, p, id, c, r, flow_hash);
		return;
	}
	struct lb_nat_rw rw = {.dst = c->backend, .dport = c->backend_port};
	if (c->mode == LB_MODE_FNAT) {
		rw.src = w->dp->local[c->local_idx].addr.bytes;
		rw.sport = c->local_port;
	}
	/* Read before the rewrite, whose byte stores the compiler must assume alias them. */
	uint16_t pi = r->tx_port;
	uint32_t neigh = r->neigh;
	if (unlikely(pi == LB_PORT_NONE)) {
		drop(w, m, LB_DROP_NO_ROUTE);
		return;
	}
	if (unlikely(p->ip_len > w->dp->ports[pi].mtu) && !fits(w, m, p, pi))
		return;
	rewrite_and_send(w, m, p, &rw, pi, neigh, LB_EV_FWD_PKTS, id, rid);
}

static void
backend_to_client(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p,
		  struct lb_conn *c)
{
	const struct lb_svc *svc = lb_svc_get(w->svcs, c->svc_id);

	if (unlikely(svc == NULL)) {
		if (!adopting(w))
			conn_remove(w, c);
		drop(w, m, LB_DROP_SVC_GONE);
		return;
	}
	if (adopting(w) && !real_names(lb_real_get(w->svcs, c->real_id), c)) {
		drop(w, m, LB_DROP_SVC_GONE); /* its backend is not back (yet): never misroute */
		return;
	}
	uint8_t old = c->state;
	if (p->proto == LB_IPPROTO_TCP) {
		struct lb_tcp_seg seg;
		tcp_seg_of(p, &seg);
		uint8_t before = c->state;
		if (!lb_ct_tcp_seg_est(c, &seg, LB_DIR_BACKEND, w->now, w->ct_est_ms)) {
			lb_ct_tcp_seg(w->ct, c, &seg, LB_DIR_BACKEND, w->now);
			conn_moved(w, c, before);
		}
	} else {
		lb_ct_udp_update(w->ct, c, LB_DIR_BACKEND, w->now);
	}
	if (unlikely(w->sync_rec != NULL) && c->state != old)
		sync_push(w, c, svc); /* peer_fp.h: flow sync */

	uint8_t client[16];
	uint16_t cport = c->client_port;
	uint32_t rid = c->real_id;
	memcpy(client, c->client, 16);
	struct lb_nat_rw rw = {.src = svc->vip, .sport = svc->port};
	if (c->mode == LB_MODE_FNAT) {
		rw.dst = client;
		rw.dport = cport;
	}
	uint32_t neigh = LB_NEIGH_NONE;
	const struct lb_route *rt = route_to(w, p->family, client, &neigh);
	if (unlikely(rt == NULL)) {
		drop(w, m, LB_DROP_NO_ROUTE);
		return;
	}
	if (unlikely(!fits(w, m, p, rt->port)))
		return;
	rewrite_and_send(w, m, p, &rw, rt->port, neigh, LB_EV_REV_PKTS, svc->id, rid);
}

static void
reply_fnat(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p, uint8_t local_idx)
{
	if (w->n_workers > 1 && !w->handing_in) {
		unsigned owner = rte_be_to_cpu_16(p->dport) % w->n_workers;
		if (owner != w->id) {
			handoff(w, m, owner);
			return;
		}
	}
	struct lb_ct_rev_key rk;
	lb_ct_rev_key_init(&rk, LB_MODE_FNAT, p->proto, p->src, p->sport);
	rk.local_idx = local_idx;
	rk.local_port = p->dport;
	struct lb_conn *c = lb_ct_lookup_rev(w->ct, &rk, lb_ct_hash_rev(&rk, w->ct_seed));
	if (c == NULL && unlikely(w->peers != NULL))
		c = peer_reply(w, p); /* peer_fp.h: a reply of another box's connection? */
	if (c == NULL) {
		drop(w, m, LB_DROP_REPLY_NO_CONN);
		return;
	}
	backend_to_client(w, m, p, c);
}

static void
reply_dnat(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p)
{
	if (w->n_workers > 1 && !w->handing_in) {
		unsigned owner = client_owner(w, p->dst, p->dport);
		if (owner != w->id) {
			handoff(w, m, owner);
			return;
		}
	}
	struct lb_ct_rev_key rk;
	lb_ct_rev_key_init(&rk, LB_MODE_DNAT, p->proto, p->src, p->sport);
	memcpy(rk.client, p->dst, 16);
	rk.client_port = p->dport;
	struct lb_conn *c = lb_ct_lookup_rev(w->ct, &rk, lb_ct_hash_rev(&rk, w->ct_seed));
	if (c == NULL) {
		drop(w, m, LB_DROP_NOT_OURS);
		return;
	}
	backend_to_client(w, m, p, c);
}

/* Not a service key: a reply to an fnat source, a dnat reply, or not ours. */
static inline void
forward_other(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p)
{
	const struct lb_addr_info *ai = lb_addr_get(w->svcs, p->family, p->dst);
	uint8_t flags = ai ? __atomic_load_n(&ai->flags, __ATOMIC_ACQUIRE) : 0;

	if (flags & LB_ADDR_LOCAL)
		reply_fnat(w, m, p, ai->local_idx);
	else if (flags & LB_ADDR_VIP)
		drop(w, m, LB_DROP_NO_SERVICE);
	else if ((flags & LB_ADDR_OWN) && unlikely(w->sync_rx != NULL) &&
		 p->proto == LB_IPPROTO_UDP && p->dport == w->sync_port)
		sync_rx_punt(w, m); /* peer_fp.h: a flow sync datagram */
	else if ((flags & LB_ADDR_OWN) && w->dp->ports[rx_port(w, m)].exc_id != LB_PORT_NONE)
		exception_punt(w, m, p); /* exc_fp.h: BGP, BFD, ssh: the kernel's */
	else if (flags & LB_ADDR_OWN)
		drop(w, m, LB_DROP_NOT_OURS);
	else
		reply_dnat(w, m, p);
}

#endif /* LB_FP_FORWARD_H */
