/*
 * worker.c - the forwarding pipeline of one worker lcore (see worker.h).
 *
 * Runs on worker lcores only. Reads the service directory, backend registry,
 * routes and neighbours that the control thread publishes; writes only its own
 * conntrack table, counters and TX buffers.
 *
 * Packet shapes:
 *   client -> VIP, fnat   in: Eth/IP(c -> vip)/L4(cp -> vp)   out: Eth/IP(local -> b)/L4(lp -> bp)
 *   client -> VIP, dnat   in: Eth/IP(c -> vip)/L4(cp -> vp)   out: Eth/IP(c -> b)/L4(cp -> bp)
 *   backend -> local      in: Eth/IP(b -> local)/L4(bp -> lp) out: Eth/IP(vip -> c)/L4(vp -> cp)
 *   backend -> client     in: Eth/IP(b -> c)/L4(bp -> cp)     out: Eth/IP(vip -> c)/L4(vp -> cp)
 * 802.1Q tags are accepted on input and not sent on output.
 *
 * Ownership with several workers: a connection lives in the table of the worker
 * that saw its first packet. fnat picks a local port p with p % n_workers == id,
 * so replies can be steered (rte_flow) or handed over (ring) to that worker. dnat
 * replies carry nothing a worker chose, so both directions of a dnat flow are
 * owned by hash(client address, client port) % n_workers and handed over when
 * RSS delivered them elsewhere.
 */
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_random.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "affinity.h"
#include "conntrack.h"
#include "dp.h"
#include "icmp.h"
#include "maglev.h"
#include "nat.h"
#include "neigh.h"
#include "parse.h"
#include "service_fastpath.h"
#include "worker.h"

#define MAX_BURST 64
#define TX_BUF 64               /* per port; flushed when full and after every loop */
#define PREFETCH_OFFSET 3       /* packets ahead to prefetch headers of */
/*
 * Conntrack slots scanned per loop: few while packets flow (each slot is a likely
 * cache miss, measured: 64 -> 8 saves ~15 cycles/packet at 1M flows), more when the
 * last poll was empty and there is time to spare.
 */
#define EXPIRE_BUDGET_BUSY 8
#define EXPIRE_BUDGET_IDLE 256
#define SNAT_TRIES 32           /* local ports tried for a new fnat flow */
#define HANDOFF_RING 4096
#define IDLE_SPIN_POLLS 64      /* empty polls before an idle worker sleeps */
#define CTRL_RING 1024          /* each way between a worker and the control thread */

struct lb_worker {
	struct lb_dp *dp;
	struct lb_services *svcs;
	struct lb_neigh_table *neigh;
	struct lb_aff_table *aff;
	struct lb_ct *ct;
	uint64_t ct_seed;
	uint64_t flow_seed;
	struct lb_wstats *st;
	struct rte_ring *handoff;   /* MP/SC: packets other workers hand to us */
	struct rte_ring *ctrl;      /* SP/SC: to the control thread */
	struct rte_ring *txq;       /* SP/SC: from the control thread, to send */
	unsigned id;
	unsigned lcore;
	unsigned n_workers;
	uint32_t now;               /* ms clock of the current loop */
	bool handing_in;            /* processing packets from the hand-off ring */
	uint16_t snat_lo, snat_hi;
	uint32_t snat_salt;         /* random per process: where SNAT port searches start */
	uint16_t n_tx[LB_MAX_PORTS];
	struct rte_mbuf *tx[LB_MAX_PORTS][TX_BUF];
	/* fnat source addresses per egress port and family (0: IPv4, 1: IPv6) */
	uint8_t n_src[LB_MAX_PORTS][2];
	uint8_t src[LB_MAX_PORTS][2][LB_MAX_LOCAL_ADDRS];
} __rte_cache_aligned;

static inline void
drop(struct lb_worker *w, struct rte_mbuf *m, enum lb_drop why)
{
	w->st->drop[why]++;
	rte_pktmbuf_free(m);
}

/* ---- transmit ---------------------------------------------------------- */

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

void
lb_worker_flush(struct lb_worker *w)
{
	for (uint16_t pi = 0; pi < w->dp->n_ports; pi++)
		flush_port(w, pi);
}

static inline void
xmit(struct lb_worker *w, struct rte_mbuf *m, uint16_t pi)
{
	if (w->n_tx[pi] == TX_BUF)
		flush_port(w, pi);
	w->tx[pi][w->n_tx[pi]++] = m;
}

/* Hand a packet to the control thread (ARP, NDP, echo, errors to originate). */
static void
punt(struct lb_worker *w, struct rte_mbuf *m, uint8_t kind, uint16_t port, uint32_t info)
{
	struct lb_mbuf_meta *mm = lb_meta(m);

	mm->kind = kind;
	mm->port = port;
	mm->info = info;
	if (rte_ring_sp_enqueue(w->ctrl, m) != 0) {
		drop(w, m, LB_DROP_CTRL_FULL);
		return;
	}
	w->st->ev[LB_EV_CTRL_PUNT]++;
}

static inline uint16_t
rx_port(const struct lb_worker *w, const struct rte_mbuf *m)
{
	return w->dp->port_of_eth[m->port];
}

/*
 * Over the egress MTU: a router's answer is "fragmentation needed" (IPv4 with DF)
 * or "packet too big" (IPv6), originated by the control thread from the frame as
 * it arrived. IPv4 without DF would need fragmenting, which the dp does not do.
 */
static inline bool
fits(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p, uint16_t egress)
{
	uint16_t mtu = w->dp->ports[egress].mtu;

	if (likely(p->ip_len <= mtu))
		return true;
	const uint8_t *l3 = rte_pktmbuf_mtod_offset(m, const uint8_t *, p->l2_len);
	if (p->family == LB_AF_INET6 || (l3[6] & 0x40))
		punt(w, m, LB_PUNT_TOO_BIG, rx_port(w, m), mtu);
	else
		drop(w, m, LB_DROP_TOO_BIG);
	return false;
}

/*
 * Put a fresh Ethernet header in front of the (rewritten) IP datagram for port
 * pi. The old L2 header (with VLAN tags) and Ethernet padding after the datagram
 * go away.
 */
static void
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
	m->ol_flags = 0;
	if ((port->nat_flags & LB_NAT_L4_OFFLOAD) && p->kind == LB_PKT_L4) {
		m->l2_len = RTE_ETHER_HDR_LEN;
		m->l3_len = p->l3_len;
		m->ol_flags = (p->family == LB_AF_INET ? RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM
						       : RTE_MBUF_F_TX_IPV6) |
			      (p->proto == LB_IPPROTO_TCP ? RTE_MBUF_F_TX_TCP_CKSUM
							  : RTE_MBUF_F_TX_UDP_CKSUM);
	}
}

/*
 * Send to next hop neigh on port pi. An unresolved next hop: the frame goes to
 * the control thread, which holds it (bounded) while it resolves the neighbour.
 * neigh may be LB_NEIGH_NONE for a directly connected destination not seen yet.
 */
static void
send_via(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p, uint16_t pi,
	 uint32_t neigh)
{
	static const uint8_t zero[6];
	uint8_t mac[6];

	if (likely(neigh != LB_NEIGH_NONE && lb_neigh_mac(lb_neigh_entry(w->neigh, neigh), mac))) {
		frame_l2(w, m, p, pi, mac);
		xmit(w, m, pi);
		return;
	}
	frame_l2(w, m, p, pi, zero);
	punt(w, m, LB_PUNT_RESOLVE, pi, neigh);
}

/* Next hop towards an arbitrary destination (a client): route, then neighbour. */
static inline const struct lb_route *
route_to(struct lb_worker *w, uint8_t family, const uint8_t *dst, uint32_t *neigh)
{
	const struct lb_route *r = lb_route_lookup(w->neigh, family, dst);

	if (r != NULL)
		*neigh = r->gw_neigh != LB_NEIGH_NONE ? r->gw_neigh
						      : lb_neigh_lookup(w->neigh, family, dst);
	return r;
}

/* ---- connection bookkeeping -------------------------------------------- */

/* A connection still names its backend unless that backend left the service. */
static inline bool
real_holds(const struct lb_real *r, const struct lb_conn *c)
{
	uint8_t st = __atomic_load_n(&r->state, __ATOMIC_ACQUIRE);

	return st <= LB_BACKEND_DOWN && r->svc_id == c->svc_id && r->port == c->backend_port &&
	       memcmp(r->addr, c->backend, 16) == 0;
}

static void
conn_gone(const struct lb_conn *c, void *arg)
{
	struct lb_worker *w = arg;
	const struct lb_real *r = lb_real_get(w->svcs, c->real_id);

	w->st->ev[LB_EV_CT_EXPIRED]++;
	/* Only while the id still means this backend; a reused id has a fresh baseline. */
	if (real_holds(r, c) || __atomic_load_n(&r->state, __ATOMIC_RELAXED) == LB_REAL_REMOVED)
		w->st->real[c->real_id].conns--;
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

static inline unsigned
client_owner(const struct lb_worker *w, const uint8_t *client, uint16_t cport)
{
	uint8_t b[18];

	memcpy(b, client, 16);
	memcpy(b + 16, &cport, 2);
	return (unsigned)(lb_hash_bytes(b, sizeof(b), w->flow_seed) % w->n_workers);
}

static void
handoff(struct lb_worker *w, struct rte_mbuf *m, unsigned owner)
{
	if (rte_ring_mp_enqueue(w->dp->workers[owner]->handoff, m) != 0) {
		drop(w, m, LB_DROP_HANDOFF_FULL);
		return;
	}
	w->st->ev[LB_EV_HANDOFF_OUT]++;
}

/*
 * A new flow: pick a backend (Maglev over the service's current table), choose
 * the fnat source, and insert the connection. Returns the entry, or tmp filled in
 * when the table is full (forwarded without state), or NULL after a drop.
 */
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

static struct lb_conn *
new_flow(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p,
	 const struct lb_svc *svc, struct lb_conn *tmp, uint32_t flow_hash)
{
	uint32_t fh, rid = LB_AFF_NONE;

	if (flow_hash != 0) {
		fh = flow_hash; /* computed by the burst's look-ahead pass */
	} else if (svc->affinity == LB_AFFINITY_CLIENTIP) {
		/* Hash the client address only: without a table entry it still lands alike. */
		fh = (uint32_t)lb_hash_bytes(p->src, 16, w->flow_seed ^ svc->id);
		rid = affinity_pick(w, p, svc);
	} else {
		fh = lb_flow_hash(w->flow_seed, p->src, p->sport, p->dst, p->dport, p->proto);
	}
	if (rid == LB_AFF_NONE) {
		uint16_t bi = lb_maglev_pick(svc->table, svc->m, fh);
		if (bi == LB_MAGLEV_EMPTY) {
			drop(w, m, LB_DROP_NO_BACKEND);
			return NULL;
		}
		rid = svc->real_ids[bi];
		if (svc->affinity == LB_AFFINITY_CLIENTIP)
			lb_aff_update(w->aff, svc->id, p->src, rid, w->now);
	}
	const struct lb_real *r = lb_real_get(w->svcs, rid);

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
	if (p->proto == LB_IPPROTO_TCP)
		tmp->state = (p->tcp_flags & (LB_TCP_SYN | LB_TCP_ACK)) == LB_TCP_SYN
				     ? LB_CT_TCP_SYN : LB_CT_TCP_ESTABLISHED;
	else
		tmp->state = LB_CT_UDP;

	if (svc->mode == LB_MODE_FNAT) {
		if (r->tx_port == LB_PORT_NONE) {
			drop(w, m, LB_DROP_NO_ROUTE);
			return NULL;
		}
		unsigned fam = p->family == LB_AF_INET6;
		unsigned ns = w->n_src[r->tx_port][fam];
		if (ns == 0) {
			drop(w, m, LB_DROP_NO_SNAT);
			return NULL;
		}
		struct lb_ct_rev_key rk;
		memset(&rk, 0, sizeof(rk));
		memcpy(rk.backend, r->addr, 16);
		rk.backend_port = r->port;
		rk.mode = LB_MODE_FNAT;
		rk.proto = p->proto;
		/*
		 * Start the port search from the whole flow's hash: with ClientIP
		 * affinity fh covers the client address only, and every connection of
		 * that client would probe the same few ports.
		 */
		uint32_t port_start = (svc->affinity == LB_AFFINITY_CLIENTIP
					       ? lb_flow_hash(w->flow_seed, p->src, p->sport, p->dst,
							      p->dport, p->proto)
					       : fh) ^ w->snat_salt;
		int ok = -1;
		/* Each source address in turn, starting at one the flow hash picks. */
		for (unsigned t = 0; t < ns && ok < 0; t++) {
			rk.local_idx = w->src[r->tx_port][fam][(fh + t) % ns];
			ok = lb_ct_snat_port(w->ct, &rk, port_start, w->snat_lo, w->snat_hi,
					     (uint16_t)w->n_workers, (uint16_t)w->id, SNAT_TRIES);
		}
		if (ok < 0) {
			drop(w, m, LB_DROP_NO_SNAT);
			return NULL;
		}
		tmp->local_idx = rk.local_idx;
		tmp->local_port = rk.local_port;
	}

	struct lb_conn *c = lb_ct_insert(w->ct, tmp, w->now);
	if (c == NULL) {
		w->st->ev[LB_EV_CT_FULL]++;
		return tmp;
	}
	w->st->ev[LB_EV_CT_CREATED]++;
	w->st->real[rid].conns++;
	return c;
}

/* ---- the two directions ------------------------------------------------ */

static void
client_to_backend(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p, uint32_t id,
		  uint32_t fwd_hash, uint32_t flow_hash)
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
	c = lb_ct_lookup_fwd(w->ct, &fk, fwd_hash);
	if (c != NULL) {
		const struct lb_real *r = lb_real_get(w->svcs, c->real_id);
		if (unlikely(!real_holds(r, c))) {
			/* Its backend left the service: the flow goes to the new table's pick. */
			w->st->ev[LB_EV_CT_REPICK]++;
			conn_remove(w, c);
			c = NULL;
		} else if (p->proto == LB_IPPROTO_TCP) {
			if (lb_ct_tcp_update(w->ct, c, p->tcp_flags, LB_DIR_CLIENT, w->now) ==
			    LB_CT_STATE_FREE) {
				conn_remove(w, c); /* port reuse after close: a new flow */
				c = NULL;
			}
		} else {
			lb_ct_touch(w->ct, c, w->now);
		}
	}
	if (c == NULL) {
		c = new_flow(w, m, p, svc, &tmp, flow_hash);
		if (c == NULL)
			return;
	}

	const struct lb_real *r = lb_real_get(w->svcs, c->real_id);
	struct lb_nat_rw rw = {.dst = c->backend, .dport = c->backend_port};
	if (c->mode == LB_MODE_FNAT) {
		rw.src = w->dp->local[c->local_idx].addr.bytes;
		rw.sport = c->local_port;
	}
	if (unlikely(r->tx_port == LB_PORT_NONE)) {
		drop(w, m, LB_DROP_NO_ROUTE);
		return;
	}
	if (unlikely(!fits(w, m, p, r->tx_port)))
		return;
	uint8_t *l3 = rte_pktmbuf_mtod_offset(m, uint8_t *, p->l2_len);
	if (unlikely(lb_nat_rewrite(l3, p, &rw, w->dp->ports[r->tx_port].nat_flags) < 0)) {
		drop(w, m, LB_DROP_TTL_EXPIRED); /* checked at parse time; kept as a guard */
		return;
	}
	w->st->ev[LB_EV_FWD_PKTS]++;
	w->st->svc[id].pkts++;
	w->st->svc[id].bytes += p->ip_len;
	w->st->real[c->real_id].pkts++;
	w->st->real[c->real_id].bytes += p->ip_len;
	send_via(w, m, p, r->tx_port, r->neigh);
}

static void
backend_to_client(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p,
		  struct lb_conn *c)
{
	const struct lb_svc *svc = lb_svc_get(w->svcs, c->svc_id);

	if (unlikely(svc == NULL)) {
		conn_remove(w, c);
		drop(w, m, LB_DROP_SVC_GONE);
		return;
	}
	if (p->proto == LB_IPPROTO_TCP)
		lb_ct_tcp_update(w->ct, c, p->tcp_flags, LB_DIR_BACKEND, w->now);
	else
		lb_ct_touch(w->ct, c, w->now);

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
	uint8_t *l3 = rte_pktmbuf_mtod_offset(m, uint8_t *, p->l2_len);
	if (unlikely(lb_nat_rewrite(l3, p, &rw, w->dp->ports[rt->port].nat_flags) < 0)) {
		drop(w, m, LB_DROP_TTL_EXPIRED);
		return;
	}
	w->st->ev[LB_EV_REV_PKTS]++;
	w->st->svc[svc->id].pkts++;
	w->st->svc[svc->id].bytes += p->ip_len;
	w->st->real[rid].pkts++;
	w->st->real[rid].bytes += p->ip_len;
	send_via(w, m, p, rt->port, neigh);
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
	memset(&rk, 0, sizeof(rk));
	memcpy(rk.backend, p->src, 16);
	rk.backend_port = p->sport;
	rk.mode = LB_MODE_FNAT;
	rk.proto = p->proto;
	rk.local_idx = local_idx;
	rk.local_port = p->dport;
	struct lb_conn *c = lb_ct_lookup_rev(w->ct, &rk, lb_ct_hash_rev(&rk, w->ct_seed));
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
	memset(&rk, 0, sizeof(rk));
	memcpy(rk.backend, p->src, 16);
	rk.backend_port = p->sport;
	rk.mode = LB_MODE_DNAT;
	rk.proto = p->proto;
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
static void
classify_other(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p)
{
	const struct lb_addr_info *ai = lb_addr_get(w->svcs, p->family, p->dst);
	uint8_t flags = ai ? __atomic_load_n(&ai->flags, __ATOMIC_ACQUIRE) : 0;

	if (flags & LB_ADDR_LOCAL)
		reply_fnat(w, m, p, ai->local_idx);
	else if (flags & LB_ADDR_VIP)
		drop(w, m, LB_DROP_NO_SERVICE);
	else if (flags & LB_ADDR_OWN)
		drop(w, m, LB_DROP_NOT_OURS);
	else
		reply_dnat(w, m, p);
}

/* ---- ICMP errors about tracked connections ---------------------------- */

/*
 * An error quoting a packet we forwarded is translated so the other end of the
 * connection recognises it, the way a NAT box must for path MTU discovery:
 *   to a local address (fnat, backend side): quotes local:lp -> b:bp;
 *       becomes VIP -> client quoting client:cp -> VIP:vp
 *   to a client, not ours (dnat, backend side): quotes client:cp -> b:bp;
 *       becomes quoting client:cp -> VIP:vp
 *   to a VIP (client side): quotes VIP:vp -> client:cp;
 *       becomes -> backend quoting b:bp -> local:lp (fnat) or b:bp -> client:cp (dnat)
 * The worker that owns the flow does it; for client-side errors the owner is not
 * computable, so the message visits the workers in turn (meta hops) until one
 * finds the connection.
 */
static void
icmp_to_client(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p,
	       const struct lb_icmp_inner *in, struct lb_conn *c, bool fnat)
{
	const struct lb_svc *svc = lb_svc_get(w->svcs, c->svc_id);
	uint32_t neigh = LB_NEIGH_NONE;
	uint8_t client[16];

	if (svc == NULL) {
		drop(w, m, LB_DROP_SVC_GONE);
		return;
	}
	memcpy(client, c->client, 16);
	struct lb_icmp_rw rw = {.inner_dst = svc->vip, .inner_dport = svc->port};
	if (fnat) {
		rw.outer_src = svc->vip;
		rw.outer_dst = client;
		rw.inner_src = client;
		rw.inner_sport = c->client_port;
	}
	const struct lb_route *rt = route_to(w, p->family, client, &neigh);
	if (rt == NULL) {
		drop(w, m, LB_DROP_NO_ROUTE);
		return;
	}
	uint8_t *l3 = rte_pktmbuf_mtod_offset(m, uint8_t *, p->l2_len);
	if (lb_icmp_rewrite_error(l3, p, in, &rw) < 0) {
		drop(w, m, LB_DROP_TTL_EXPIRED);
		return;
	}
	send_via(w, m, p, rt->port, neigh);
}

static void
icmp_error(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p)
{
	uint8_t *l3 = rte_pktmbuf_mtod_offset(m, uint8_t *, p->l2_len);
	struct lb_icmp_inner in;
	struct lb_ct_rev_key rk;
	struct lb_conn *c;

	if (lb_icmp_inner(l3, p->ip_len, p, &in) < 0) {
		drop(w, m, LB_DROP_ICMP);
		return;
	}
	const struct lb_addr_info *ai = lb_addr_get(w->svcs, p->family, p->dst);
	uint8_t flags = ai ? __atomic_load_n(&ai->flags, __ATOMIC_ACQUIRE) : 0;
	memset(&rk, 0, sizeof(rk));
	memcpy(rk.backend, in.dst, 16);
	rk.backend_port = in.dport;
	rk.proto = in.proto;

	if (flags & LB_ADDR_LOCAL) {
		unsigned owner = rte_be_to_cpu_16(in.sport) % w->n_workers;
		if (owner != w->id && !w->handing_in) {
			handoff(w, m, owner);
			return;
		}
		rk.mode = LB_MODE_FNAT;
		rk.local_idx = ai->local_idx;
		rk.local_port = in.sport;
		c = lb_ct_lookup_rev(w->ct, &rk, lb_ct_hash_rev(&rk, w->ct_seed));
		if (c == NULL)
			drop(w, m, LB_DROP_ICMP);
		else
			icmp_to_client(w, m, p, &in, c, true);
		return;
	}
	if (flags & LB_ADDR_VIP) {
		struct lb_svc_key k;
		lb_svc_key_make(&k, p->family, in.src, in.sport, in.proto);
		int32_t id = rte_hash_lookup(w->svcs->svc_hash, &k);
		struct lb_ct_fwd_key fk;
		memcpy(fk.client, in.dst, 16);
		fk.client_port = in.dport;
		fk.svc_id = (uint32_t)id;
		c = id < 0 ? NULL : lb_ct_lookup_fwd(w->ct, &fk, lb_ct_hash_fwd(&fk, w->ct_seed));
		if (c == NULL) {
			struct lb_mbuf_meta *mm = lb_meta(m);
			unsigned hops = w->handing_in ? mm->hops : 0;
			if (id >= 0 && hops + 1 < w->n_workers) {
				mm->hops = (uint8_t)(hops + 1);
				handoff(w, m, (w->id + 1) % w->n_workers);
			} else {
				drop(w, m, LB_DROP_ICMP);
			}
			return;
		}
		const struct lb_real *r = lb_real_get(w->svcs, c->real_id);
		struct lb_icmp_rw rw = {.outer_dst = c->backend, .inner_src = c->backend,
					.inner_sport = c->backend_port};
		if (c->mode == LB_MODE_FNAT) {
			rw.outer_src = w->dp->local[c->local_idx].addr.bytes;
			rw.inner_dst = w->dp->local[c->local_idx].addr.bytes;
			rw.inner_dport = c->local_port;
		}
		if (r->tx_port == LB_PORT_NONE || lb_icmp_rewrite_error(l3, p, &in, &rw) < 0) {
			drop(w, m, LB_DROP_ICMP);
			return;
		}
		send_via(w, m, p, r->tx_port, r->neigh);
		return;
	}
	if (flags & LB_ADDR_OWN) {
		drop(w, m, LB_DROP_ICMP);
		return;
	}
	/* dnat, backend side: the quoted packet is client -> backend. */
	if (w->n_workers > 1 && !w->handing_in) {
		unsigned owner = client_owner(w, in.src, in.sport);
		if (owner != w->id) {
			handoff(w, m, owner);
			return;
		}
	}
	rk.mode = LB_MODE_DNAT;
	memcpy(rk.client, in.src, 16);
	rk.client_port = in.sport;
	c = lb_ct_lookup_rev(w->ct, &rk, lb_ct_hash_rev(&rk, w->ct_seed));
	if (c == NULL)
		drop(w, m, LB_DROP_NOT_OURS);
	else
		icmp_to_client(w, m, p, &in, c, false);
}

/* ARP, NDP and echo requests for the box go to the control thread. */
static void
control_packet(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p)
{
	if (p->kind == LB_PKT_ARP) {
		punt(w, m, LB_PUNT_RX, rx_port(w, m), 0);
		return;
	}
	if (lb_icmp_is_error(p->family, p->icmp_type)) {
		icmp_error(w, m, p);
		return;
	}
	if (p->family == LB_AF_INET6 && (p->icmp_type == LB_ICMP6_NEIGH_SOLICIT ||
					 p->icmp_type == LB_ICMP6_NEIGH_ADVERT)) {
		punt(w, m, LB_PUNT_RX, rx_port(w, m), 0);
		return;
	}
	if (lb_icmp_is_echo_request(p->family, p->icmp_type)) {
		const struct lb_addr_info *ai = lb_addr_get(w->svcs, p->family, p->dst);
		if (ai && __atomic_load_n(&ai->flags, __ATOMIC_ACQUIRE)) {
			punt(w, m, LB_PUNT_RX, rx_port(w, m), 0);
			return;
		}
	}
	drop(w, m, LB_DROP_ICMP);
}

/* ---- the burst --------------------------------------------------------- */

static inline bool
for_us(const struct lb_port *port, const uint8_t *frame)
{
	/* Group bit set: broadcast or multicast, ARP/NDP need those. */
	return (frame[0] & 1) || memcmp(frame, port->mac.addr_bytes, 6) == 0;
}

void
lb_worker_process(struct lb_worker *w, uint16_t in_port, struct rte_mbuf **pkts, uint16_t n)
{
	struct lb_pkt meta[MAX_BURST];
	struct lb_svc_key keys[MAX_BURST];
	const void *kp[MAX_BURST];
	int32_t ids[MAX_BURST];
	uint16_t idx[MAX_BURST];
	uint16_t k = 0;
	const struct lb_port *port = &w->dp->ports[in_port];

	for (uint16_t i = 0; i < n && i < PREFETCH_OFFSET; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	/* Pass 1: parse, keep TCP/UDP packets and their service keys. */
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		enum lb_drop why;

		if (i + PREFETCH_OFFSET < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_OFFSET], void *));
		const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
		/* Not every PMD fills m->port (net_ring does not); later stages rely on it. */
		if (!w->handing_in)
			m->port = port->eth_id;
		if (lb_parse(frame, m->data_len, &meta[i], &why) < 0) {
			drop(w, m, why);
			continue;
		}
		if (!w->handing_in && !for_us(port, frame)) {
			drop(w, m, LB_DROP_NOT_OURS);
			continue;
		}
		if (meta[i].kind != LB_PKT_L4) {
			control_packet(w, m, &meta[i]);
			continue;
		}
		if (unlikely(meta[i].ttl <= 1)) {
			/* A router answers with "time exceeded"; the control thread does. */
			punt(w, m, LB_PUNT_TTL, rx_port(w, m), 0);
			continue;
		}
		lb_svc_key_make(&keys[k], meta[i].family, meta[i].dst, meta[i].dport, meta[i].proto);
		kp[k] = &keys[k];
		idx[k++] = i;
	}
	if (k == 0)
		return;
	/* Pass 2: one bulk lookup of the service directory. */
	lb_svcs_lookup_bulk(w->svcs, kp, k, ids);
	/*
	 * Pass 2b: hash every forward key and prefetch its bucket head; pass 2c: the
	 * heads have arrived, prefetch the first entry of each chain. By pass 3 the
	 * misses of the whole burst were in flight together instead of one by one.
	 */
	uint32_t fh[MAX_BURST];
	for (uint16_t j = 0; j < k; j++) {
		if (ids[j] < 0)
			continue;
		const struct lb_pkt *p = &meta[idx[j]];
		struct lb_ct_fwd_key fk;
		memcpy(fk.client, p->src, 16);
		fk.client_port = p->sport;
		fk.svc_id = (uint32_t)ids[j];
		fh[j] = lb_ct_hash_fwd(&fk, w->ct_seed);
		lb_ct_prefetch_fwd(w->ct, fh[j]);
	}
	/*
	 * An empty chain (certainly new) or a bare SYN (most likely new) to an fnat
	 * service without affinity: pick the backend now and prefetch the reverse
	 * bucket of the first SNAT port new_flow() will try.
	 */
	uint32_t nfh[MAX_BURST];
	for (uint16_t j = 0; j < k; j++) {
		nfh[j] = 0;
		if (ids[j] < 0)
			continue;
		const struct lb_pkt *p = &meta[idx[j]];
		if (lb_ct_prefetch_fwd_entry(w->ct, fh[j]) &&
		    (p->tcp_flags & (LB_TCP_SYN | LB_TCP_ACK)) != LB_TCP_SYN)
			continue;
		const struct lb_svc *svc = lb_svc_get(w->svcs, (uint32_t)ids[j]);
		if (svc == NULL || svc->mode != LB_MODE_FNAT || svc->affinity != LB_AFFINITY_NONE)
			continue;
		uint32_t f = lb_flow_hash(w->flow_seed, p->src, p->sport, p->dst, p->dport, p->proto);
		uint16_t bi = lb_maglev_pick(svc->table, svc->m, f);
		if (f == 0 || bi == LB_MAGLEV_EMPTY)
			continue;
		nfh[j] = f;
		const struct lb_real *r = lb_real_get(w->svcs, svc->real_ids[bi]);
		unsigned fam = p->family == LB_AF_INET6;
		if (r->tx_port == LB_PORT_NONE || w->n_src[r->tx_port][fam] == 0)
			continue;
		struct lb_ct_rev_key rk;
		memset(&rk, 0, sizeof(rk));
		memcpy(rk.backend, r->addr, 16);
		rk.backend_port = r->port;
		rk.mode = LB_MODE_FNAT;
		rk.proto = p->proto;
		rk.local_idx = w->src[r->tx_port][fam][f % w->n_src[r->tx_port][fam]];
		lb_ct_snat_prefetch(w->ct, &rk, f ^ w->snat_salt, w->snat_lo, w->snat_hi, (uint16_t)w->n_workers,
				    (uint16_t)w->id);
	}
	/* Pass 3: per packet, the forwarding decision and the rewrite. */
	for (uint16_t j = 0; j < k; j++) {
		uint16_t i = idx[j];
		if (ids[j] >= 0)
			client_to_backend(w, pkts[i], &meta[i], (uint32_t)ids[j], fh[j], nfh[j]);
		else
			classify_other(w, pkts[i], &meta[i]);
	}
}

void
lb_worker_tick(struct lb_worker *w, uint64_t tsc)
{
	w->now = lb_dp_ms(w->dp, tsc);
	lb_ct_expire(w->ct, w->now, w->st->empty_polls ? EXPIRE_BUDGET_IDLE : EXPIRE_BUDGET_BUSY,
		     conn_gone, w);
}

int
lb_worker_main(void *arg)
{
	struct lb_worker *w = arg;
	struct lb_dp *dp = w->dp;
	struct rte_mbuf *pkts[MAX_BURST];
	uint16_t burst = (uint16_t)dp->conf.burst;
	uint64_t idle_ns = (uint64_t)dp->conf.idle_sleep_us * 1000;

	/* The default 50 us timer slack would more than double a 20 us idle sleep. */
	if (idle_ns)
		prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	rte_rcu_qsbr_thread_online(dp->qsbr, w->id);
	while (!__atomic_load_n(&dp->quit, __ATOMIC_RELAXED)) {
		uint64_t tsc = rte_rdtsc();
		unsigned got = 0;

		lb_worker_tick(w, tsc);
		for (uint16_t pi = 0; pi < dp->n_ports; pi++) {
			uint16_t n = rte_eth_rx_burst(dp->ports[pi].eth_id, (uint16_t)w->id, pkts, burst);
			if (n == 0)
				continue;
			uint64_t bytes = 0;
			for (uint16_t i = 0; i < n; i++)
				bytes += pkts[i]->pkt_len;
			got += n;
			w->st->port_rx[pi].pkts += n;
			w->st->port_rx[pi].bytes += bytes;
			w->st->ev[LB_EV_RX_BYTES] += bytes;
			lb_worker_process(w, pi, pkts, n);
		}
		if (got)
			w->st->ev[LB_EV_RX_PKTS] += got;
		uint16_t n = (uint16_t)rte_ring_sc_dequeue_burst(w->handoff, (void **)pkts, burst, NULL);
		if (n) {
			w->st->ev[LB_EV_HANDOFF_IN] += n;
			w->handing_in = true;
			lb_worker_process(w, 0, pkts, n);
			w->handing_in = false;
			got += n;
		}
		n = (uint16_t)rte_ring_sc_dequeue_burst(w->txq, (void **)pkts, burst, NULL);
		for (uint16_t i = 0; i < n; i++)
			xmit(w, pkts[i], lb_meta(pkts[i])->port);
		lb_worker_flush(w);
		/* Nothing from the old snapshot is held past this point. */
		rte_rcu_qsbr_quiescent(dp->qsbr, w->id);
		if (got) {
			w->st->last_rx_tsc = tsc;
			w->st->empty_polls = 0;
		} else {
			w->st->empty_polls++;
			/* Poll on a little after traffic stops: the answer is often on its way. */
			if (idle_ns && w->st->empty_polls > IDLE_SPIN_POLLS) {
				struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)idle_ns};
				w->st->ev[LB_EV_IDLE_SLEEPS]++;
				nanosleep(&ts, NULL);
			}
		}
	}
	lb_worker_flush(w);
	rte_rcu_qsbr_thread_offline(dp->qsbr, w->id);
	return 0;
}

struct lb_worker *
lb_worker_create(struct lb_dp *dp, unsigned id, unsigned lcore, char *err, size_t errlen)
{
	int socket = (int)rte_lcore_to_socket_id(lcore);
	struct lb_worker *w = rte_zmalloc_socket("lb_worker", sizeof(*w), RTE_CACHE_LINE_SIZE, socket);
	char name[RTE_RING_NAMESIZE];

	if (w == NULL)
		goto nomem;
	w->dp = dp;
	w->svcs = dp->svcs;
	w->neigh = dp->neigh;
	w->aff = dp->affinity;
	w->id = id;
	w->lcore = lcore;
	w->n_workers = dp->n_workers;
	w->flow_seed = dp->conf.hash_seed;
	w->snat_lo = dp->conf.snat_port_lo;
	w->snat_hi = dp->conf.snat_port_hi;

	/*
	 * Conntrack indexes only this worker's table: a random seed per process
	 * keeps crafted colliding flows from chaining up. The SNAT port search gets a
	 * random start too, so a restarted dp does not reuse, flow for flow, the ports
	 * the backends still hold in TIME_WAIT from the previous process.
	 */
	struct lb_ct_conf cc = {.capacity = dp->conf.ct_capacity, .seed = rte_rand()};
	w->snat_salt = (uint32_t)rte_rand();
	for (int s = 0; s < LB_CT_NSTATES; s++)
		cc.timeout_ms[s] = dp->conf.ct_timeout_s[s] * 1000u;
	size_t sz = lb_ct_mem_size(&cc);
	void *mem = sz ? rte_zmalloc_socket("lb_ct", sz, RTE_CACHE_LINE_SIZE, socket) : NULL;
	if (mem == NULL)
		goto nomem;
	w->ct = lb_ct_init(mem, sz, &cc);
	if (w->ct == NULL) {
		rte_free(mem);
		snprintf(err, errlen, "worker %u: bad conntrack settings", id);
		goto fail;
	}
	w->ct_seed = lb_ct_seed(w->ct);

	w->st = rte_zmalloc_socket("lb_wstats", sizeof(*w->st), RTE_CACHE_LINE_SIZE, socket);
	if (w->st == NULL)
		goto nomem;
	w->st->svc = rte_zmalloc_socket("lb_wstats_svc", sizeof(struct lb_cnt) * lb_svcs_capacity(dp->svcs),
					 RTE_CACHE_LINE_SIZE, socket);
	w->st->real = rte_zmalloc_socket("lb_wstats_real",
					  sizeof(struct lb_real_cnt) * lb_reals_capacity(dp->svcs),
					  RTE_CACHE_LINE_SIZE, socket);
	if (w->st->svc == NULL || w->st->real == NULL)
		goto nomem;
	snprintf(name, sizeof(name), "lb_handoff_%u", id);
	w->handoff = rte_ring_create(name, HANDOFF_RING, socket, RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "lb_ctrl_%u", id);
	w->ctrl = rte_ring_create(name, CTRL_RING, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "lb_txq_%u", id);
	w->txq = rte_ring_create(name, CTRL_RING, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (w->handoff == NULL || w->ctrl == NULL || w->txq == NULL)
		goto nomem;
	for (unsigned l = 0; l < dp->n_local; l++) {
		uint16_t pi = dp->local[l].port;
		unsigned fam = dp->local[l].addr.family == LB_AF_INET6;
		w->src[pi][fam][w->n_src[pi][fam]++] = (uint8_t)l;
	}
	return w;
nomem:
	snprintf(err, errlen, "worker %u: out of memory (conntrack capacity %u)", id,
		 dp->conf.ct_capacity);
fail:
	lb_worker_destroy(w);
	return NULL;
}

void
lb_worker_destroy(struct lb_worker *w)
{
	if (w == NULL)
		return;
	if (w->ct)
		rte_free(w->ct);
	if (w->st) {
		rte_free(w->st->svc);
		rte_free(w->st->real);
		rte_free(w->st);
	}
	rte_ring_free(w->handoff);
	rte_ring_free(w->ctrl);
	rte_ring_free(w->txq);
	rte_free(w);
}

struct lb_ct *
lb_worker_ct(struct lb_worker *w)
{
	return w->ct;
}

struct rte_ring *
lb_worker_ctrl_ring(struct lb_worker *w)
{
	return w->ctrl;
}

struct rte_ring *
lb_worker_tx_ring(struct lb_worker *w)
{
	return w->txq;
}

struct lb_wstats *
lb_worker_stats(struct lb_worker *w)
{
	return w->st;
}
