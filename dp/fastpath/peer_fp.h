/*
 * peer_fp.h - flow sync on the worker: send records of this worker's connections,
 * and take over a connection another box created (docs/flow-sync.md).
 *
 * Included by worker.c before forward.h; worker lcores only. Every entry point is
 * called behind `if (unlikely(w->sync_rec != NULL))` or `w->peers != NULL`, so a dp
 * without sync pays one predictable branch. Reads the peer table (the control
 * thread writes it, tables/peer.h); writes only this worker's conntrack, counters
 * and its record ring.
 *
 * A connection taken over keeps the backend and the SNAT address and port the
 * other box chose: the service and backend are resolved to this box's ids by
 * address, the SNAT address is found in the address table (the control thread
 * registered it as a source address when the record came). Its owner is the worker
 * lport % n_workers, the same worker replies to that port are steered to, so both
 * directions meet one entry. A local entry always wins: a record never replaces
 * one, and a take-over that would collide with one is refused.
 */
#ifndef LB_FP_PEER_H
#define LB_FP_PEER_H
#include <string.h>

#include <rte_byteorder.h>
#include <rte_hash.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "conntrack.h"
#include "peer.h"
#include "sync_codec.h"
#include "worker_priv.h"

/* A record of connection c (fnat only) for the peers, through the control thread. */
static inline void
sync_push(struct lb_worker *w, const struct lb_conn *c, const struct lb_svc *svc)
{
	struct lb_sync_rec r;

	if (c->mode != LB_MODE_FNAT || c->state >= LB_CT_NSTATES)
		return;
	r.family = c->family;
	r.proto = c->proto;
	r.mode = c->mode;
	r.state = c->state;
	r.flags = c->flags;
	memcpy(r.vip, svc->vip, 16);
	memcpy(r.client, c->client, 16);
	memcpy(r.backend, c->backend, 16);
	memcpy(r.local, w->dp->local[c->local_idx].addr.bytes, 16);
	r.vport = svc->port;
	r.cport = c->client_port;
	r.bport = c->backend_port;
	r.lport = c->local_port;
	int32_t left = (int32_t)(c->expire - w->now);
	r.timeout_ms = left > 0 ? (uint32_t)left : 1;
	r.seq_client = c->seq_client;
	if (rte_ring_sp_enqueue_elem(w->sync_rec, &r, sizeof(r)) != 0)
		w->st->ev[LB_EV_SYNC_RING_FULL]++;
}

/* Does a peer's record hold SNAT address rk->local_idx, port rk->local_port toward rk's backend? */
static inline bool
peer_snat_taken(struct lb_worker *w, const struct lb_pkt *p, const struct lb_ct_rev_key *rk)
{
	struct lb_sync_rec r;

	return lb_peer_lookup_rev(w->peers, p->family, p->proto, rk->backend, rk->backend_port,
				  w->dp->local[rk->local_idx].addr.bytes, rk->local_port, w->now, &r);
}

#define SNAT_PEER_RETRIES 4

/*
 * lb_ct_snat_alloc() for a new flow, from the classify stage's hint sh (may be
 * NULL). With sync on, a port a peer's record holds is not taken either: this
 * box's own connections come back that way after a restart (the join's bulk
 * copy), and the backend still has that socket. A port skipped so
 * stays reserved in the allocator: the connection that holds it is this box's own
 * and is taken over on its next packet, and that entry gives the port back when
 * it goes.
 */
static inline int
snat_port(struct lb_worker *w, const struct lb_pkt *p, struct lb_ct_rev_key *rk,
	  uint32_t *rev_hash, const struct lb_ct_snat_hint *sh)
{
	int ok = lb_ct_snat_alloc_hint(w->ct, rk, w->now, rev_hash, sh);

	/* Only records on this box's own SNAT addresses can hold its ports (rare: a restart). */
	if (likely(w->peers == NULL) || lb_peer_own_count(w->peers) == 0)
		return ok;
	for (unsigned k = 1; ok >= 0 && peer_snat_taken(w, p, rk); k++) {
		if (k > SNAT_PEER_RETRIES)
			return LB_EFULL;
		ok = lb_ct_snat_alloc(w->ct, rk, w->now, rev_hash);
	}
	return ok;
}

/* A sync datagram for this box: to the control thread (sync.c checks everything). */
static inline void
sync_rx_punt(struct lb_worker *w, struct rte_mbuf *m)
{
	struct lb_mbuf_meta *mm = lb_meta(w->meta_off, m);

	mm->kind = LB_PUNT_SYNC;
	mm->port = rx_port(w, m);
	if (rte_ring_sp_enqueue(w->sync_rx, m) != 0) {
		drop(w, m, LB_DROP_CTRL_FULL);
		return;
	}
	w->st->ev[LB_EV_CTRL_PUNT]++;
}

/*
 * Make a local entry from peer record r of service svc. NULL when this box cannot
 * serve it as the peer did (backend not in the service here, SNAT address
 * unknown), when it would collide with a local entry, or the table is full.
 */
static struct lb_conn *
peer_adopt(struct lb_worker *w, const struct lb_sync_rec *r, const struct lb_svc *svc)
{
	uint32_t rid = LB_CT_NIL;

	if (svc->mode != LB_MODE_FNAT)
		return NULL;
	for (uint32_t i = 0; i < svc->n_backends; i++) {
		const struct lb_real *x = lb_real_get(w->svcs, svc->real_ids[i]);
		if (x->port == r->bport && memcmp(x->addr, r->backend, 16) == 0 &&
		    x->svc_id == svc->id &&
		    __atomic_load_n(&x->state, __ATOMIC_ACQUIRE) <= LB_BACKEND_DOWN) {
			rid = svc->real_ids[i];
			break;
		}
	}
	if (rid == LB_CT_NIL)
		return NULL;
	const struct lb_addr_info *ai = lb_addr_get(w->svcs, r->family, r->local);
	if (ai == NULL || !(__atomic_load_n(&ai->flags, __ATOMIC_ACQUIRE) & LB_ADDR_LOCAL))
		return NULL;
	struct lb_ct_rev_key rk;
	lb_ct_rev_key_init(&rk, LB_MODE_FNAT, r->proto, r->backend, r->bport);
	rk.local_idx = ai->local_idx;
	rk.local_port = r->lport;
	if (lb_ct_lookup_rev(w->ct, &rk, lb_ct_hash_rev(&rk, w->ct_seed)) != NULL)
		return NULL; /* this box uses that SNAT port toward that backend: local wins */
	struct lb_ct_fwd_key fk;
	memcpy(fk.client, r->client, 16);
	fk.client_port = r->cport;
	fk.svc_id = svc->id;
	if (lb_ct_lookup_fwd(w->ct, &fk, lb_ct_hash_fwd(&fk, w->ct_seed)) != NULL)
		return NULL;

	struct lb_conn tmp;
	memset(&tmp, 0, sizeof(tmp));
	memcpy(tmp.client, r->client, 16);
	memcpy(tmp.backend, r->backend, 16);
	tmp.svc_id = svc->id;
	tmp.real_id = rid;
	tmp.local_idx = ai->local_idx;
	tmp.state = r->state;
	tmp.seq_client = r->seq_client;
	tmp.client_port = r->cport;
	tmp.backend_port = r->bport;
	tmp.local_port = r->lport;
	tmp.family = r->family;
	tmp.proto = r->proto;
	tmp.mode = LB_MODE_FNAT;
	tmp.flags = r->flags & (LB_CONN_FIN_CLIENT | LB_CONN_FIN_BACKEND | LB_CONN_SEEN_REPLY |
				LB_CONN_SEQ_KNOWN);
	struct lb_conn *c = lb_ct_insert(w->ct, &tmp, w->now);
	if (c == NULL) {
		w->st->ev[LB_EV_CT_FULL]++;
		return NULL;
	}
	w->st->ev[LB_EV_CT_CREATED]++;
	w->st->ev[LB_EV_SYNC_ADOPTED]++;
	w->st->real[rid].conns++;
	w->st->real[rid].active += lb_sched_ct_active(c->state); /* as new_flow() counts it */
	return c;
}

/*
 * A client packet (not a bare SYN) of service svc that missed conntrack: a peer's
 * connection? Returns the new local entry; NULL with *gone false when the peer
 * table has nothing usable (the caller makes a new flow); *gone true when the
 * packet was handed to the worker that owns the connection's SNAT port.
 */
static struct lb_conn *
peer_client(struct lb_worker *w, struct rte_mbuf *m, const struct lb_pkt *p,
	    const struct lb_svc *svc, bool *gone)
{
	struct lb_sync_rec r;

	*gone = false;
	if (!lb_peer_lookup_fwd(w->peers, p->family, p->proto, p->dst, p->dport, p->src, p->sport,
				w->now, &r))
		return NULL;
	if (w->n_workers > 1 && !w->handing_in) {
		unsigned owner = rte_be_to_cpu_16(r.lport) % w->n_workers;
		if (owner != w->id) {
			*gone = true;
			handoff(w, m, owner);
			return NULL;
		}
	}
	return peer_adopt(w, &r, svc);
}

/* A reply to an SNAT address and port that missed conntrack: a peer's connection? */
static struct lb_conn *
peer_reply(struct lb_worker *w, const struct lb_pkt *p)
{
	struct lb_sync_rec r;

	if (!lb_peer_lookup_rev(w->peers, p->family, p->proto, p->src, p->sport, p->dst, p->dport,
				w->now, &r))
		return NULL;
	struct lb_svc_key k;
	lb_svc_key_make(&k, r.family, r.vip, r.vport, r.proto);
	int32_t id = lb_svcs_lookup(w->svcs, &k);
	const struct lb_svc *svc = id < 0 ? NULL : lb_svc_get(w->svcs, (uint32_t)id);
	return svc == NULL ? NULL : peer_adopt(w, &r, svc);
}

#endif /* LB_FP_PEER_H */
