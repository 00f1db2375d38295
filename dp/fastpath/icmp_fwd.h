/*
 * icmp_fwd.h - a worker's handling of ICMP, ARP and NDP.
 *
 * Called by worker.c for every frame that is not TCP/UDP. ICMP errors about a
 * tracked connection are translated here, by the worker that owns the flow (see
 * the comment below); ARP, NDP and echo requests for the box go to the control
 * thread (dp/control/arp.c). Worker lcores only.
 */
#ifndef LB_FP_ICMP_FWD_H
#define LB_FP_ICMP_FWD_H
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_mbuf.h>

#include "conntrack.h"
#include "icmp.h"
#include "tx.h"
#include "worker_priv.h"

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
	lb_ct_rev_key_init(&rk, LB_MODE_FNAT, in.proto, in.dst, in.dport); /* mode set below */

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
		int32_t id = lb_svcs_lookup(w->svcs, &k);
		struct lb_ct_fwd_key fk;
		memcpy(fk.client, in.dst, 16);
		fk.client_port = in.dport;
		fk.svc_id = (uint32_t)id;
		c = id < 0 ? NULL : lb_ct_lookup_fwd(w->ct, &fk, lb_ct_hash_fwd(&fk, w->ct_seed));
		if (c == NULL) {
			struct lb_mbuf_meta *mm = lb_meta(w->meta_off, m);
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
		if (r->tx_port == LB_PORT_NONE) {
			drop(w, m, LB_DROP_NO_ROUTE);
			return;
		}
		if (lb_icmp_rewrite_error(l3, p, &in, &rw) < 0) {
			drop(w, m, LB_DROP_TTL_EXPIRED); /* as on the backend side */
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
static inline void
icmp_forward(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p)
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

#endif /* LB_FP_ICMP_FWD_H */
