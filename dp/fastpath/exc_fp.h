/*
 * exc_fp.h - the exception path, worker side: TCP/UDP for one of the box's own
 * port addresses (BGP, BFD, ssh, ...) goes to the control thread, which hands it
 * to the kernel through the port's exception tap (dp/control/arp.c). Each packet
 * first takes a token from this worker's bucket for its class (dp/lib/exc_limit.h):
 *
 *   priority  BGP (TCP port 179 at either end) or BFD (UDP to 3784, 4784) from a
 *             trusted source: one of dp.exception_priority_sources, or when that
 *             list is empty, an address on a connected subnet of the port it came
 *             in on (where an eBGP router is);
 *   general   everything else, spoofed "BGP" from elsewhere included.
 *
 * A packet without a token is dropped here (exception_limited,
 * exception_priority_limited) before it costs a ring slot, the control thread or
 * the kernel. The dp-wide dp.exception_* rates and bursts are shared out equally
 * among the workers (at least 1 each), so the whole box hands over at most about
 * the configured rate; each worker owns its buckets (no lock, no atomic).
 *
 * Worker lcores only; included by worker.c after tx.h (punt()).
 */
#ifndef LB_FP_EXC_H
#define LB_FP_EXC_H

#include <rte_cycles.h>

static inline uint64_t
exc_share(uint64_t v, unsigned n_workers)
{
	uint64_t s = v / (n_workers ? n_workers : 1);

	return s ? s : 1;
}

/* This worker's share of the configured buckets, full (lb_worker_create). */
static void
exc_buckets_init(struct lb_worker *w)
{
	const struct lb_dp_conf *c = &w->dp->conf;
	unsigned n = w->dp->n_workers;
	uint64_t now = rte_rdtsc();

	lb_exc_tb_init(&w->exc_tb[LB_EXC_GENERAL], c->exc_rate_pps ? exc_share(c->exc_rate_pps, n) : 0,
		   exc_share(c->exc_burst, n), w->dp->tsc_hz, now);
	lb_exc_tb_init(&w->exc_tb[LB_EXC_PRIORITY],
		   c->exc_prio_rate_pps ? exc_share(c->exc_prio_rate_pps, n) : 0,
		   exc_share(c->exc_prio_burst, n), w->dp->tsc_hz, now);
}

/* A source BGP/BFD may come from with priority (see the top of this file). */
static inline bool
exc_trusted(const struct lb_worker *w, const struct lb_pkt *p, uint16_t port)
{
	const struct lb_dp_conf *c = &w->dp->conf;

	if (c->n_exc_sources > 0) {
		for (uint32_t i = 0; i < c->n_exc_sources; i++)
			if (lb_exc_in_subnet(p->family, p->src, &c->exc_sources[i].addr,
					     c->exc_sources[i].len))
				return true;
		return false;
	}
	const struct lb_port_conf *pc = w->dp->ports[port].conf;
	for (uint32_t i = 0; i < pc->n_addrs; i++)
		if (lb_exc_in_subnet(p->family, p->src, &pc->addrs[i].addr, pc->addrs[i].len))
			return true;
	return false;
}

static inline enum lb_exc_class
exc_class(const struct lb_worker *w, const struct lb_pkt *p, uint16_t port)
{
	if (lb_exc_routing_proto(p->proto, p->sport, p->dport) && exc_trusted(w, p, port))
		return LB_EXC_PRIORITY;
	return LB_EXC_GENERAL;
}

/*
 * Whether p is for the box's kernel through port's exception path: for one of the
 * box's own port addresses (not a VIP, not an fnat source), and the port has a tap.
 * Such a packet is not forwarded, so it has no TTL to spend: eBGP sends TTL 1.
 */
static inline bool
exc_for_kernel(const struct lb_worker *w, const struct lb_pkt *p, uint16_t port)
{
	if (w->dp->ports[port].exc_id == LB_PORT_NONE)
		return false;
	const struct lb_addr_info *ai = lb_addr_get(w->svcs, p->family, p->dst);
	uint8_t flags = ai ? __atomic_load_n(&ai->flags, __ATOMIC_ACQUIRE) : 0;
	return (flags & (LB_ADDR_OWN | LB_ADDR_LOCAL | LB_ADDR_VIP)) == LB_ADDR_OWN;
}

/* For the box's kernel (the ingress port has an exception tap): a token, then the ring. */
static inline void
exception_punt(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p)
{
	uint16_t port = rx_port(w, m);
	enum lb_exc_class cl = exc_class(w, p, port);

	if (unlikely(!lb_exc_tb_take(&w->exc_tb[cl], rte_rdtsc()))) {
		drop(w, m, cl == LB_EXC_PRIORITY ? LB_DROP_EXC_PRIORITY_LIMITED : LB_DROP_EXC_LIMITED);
		return;
	}
	if (punt(w, m, LB_PUNT_EXCEPTION, port, 0))
		w->st->ev[cl == LB_EXC_PRIORITY ? LB_EV_EXC_PRIORITY : LB_EV_EXC_GENERAL]++;
}

#endif /* LB_FP_EXC_H */
