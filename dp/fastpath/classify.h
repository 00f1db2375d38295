/*
 * classify.h - the classify stage: which service (or which reply) each packet is.
 *
 * Included by worker.c (the pipeline translation unit); called with the TCP/UDP packets of a parsed burst. One bulk lookup
 * of the service directory (rte_hash) for the whole burst; then, while those
 * results are fresh, the conntrack buckets and entries of every packet are
 * prefetched together, so the forward stage finds them in cache instead of
 * waiting for each in turn (l3fwd's hash-and-prefetch, then compare-and-use).
 * Worker lcores only.
 */
#ifndef LB_FP_CLASSIFY_H
#define LB_FP_CLASSIFY_H
#include <string.h>

#include <rte_mbuf.h>

#include "conntrack.h"
#include "maglev.h"
#include "neigh.h"
#include "worker_priv.h"

static inline void
classify_burst(struct lb_worker *w, struct rte_mbuf **pkts, const struct lb_pkt *meta,
		  const uint16_t *idx, uint16_t k)
{
	struct lb_svc_key keys[MAX_BURST];
	const void *kp[MAX_BURST];
	int32_t ids[MAX_BURST];

	for (uint16_t j = 0; j < k; j++) {
		const struct lb_pkt *p = &meta[idx[j]];
		lb_svc_key_make(&keys[j], p->family, p->dst, p->dport, p->proto);
		kp[j] = &keys[j];
	}
	/* Pass 2: one bulk lookup of the service directory. */
	lb_svcs_lookup_bulk(w->svcs, kp, k, ids);
	/*
	 * Pass 2b: hash every forward key and prefetch its bucket; pass 2c: the
	 * buckets have arrived, prefetch the entry whose tag matches. By pass 3 the
	 * misses of the whole burst were in flight together instead of one by one.
	 */
	uint32_t fh[MAX_BURST];
	const void *fbk = w->ct_fwd_bk;
	uint32_t fmask = w->ct_fwd_mask;
	for (uint16_t j = 0; j < k; j++) {
		if (ids[j] < 0)
			continue;
		const struct lb_pkt *p = &meta[idx[j]];
		struct lb_ct_fwd_key fk;
		memcpy(fk.client, p->src, 16);
		fk.client_port = p->sport;
		fk.svc_id = (uint32_t)ids[j];
		fh[j] = lb_ct_hash_fwd(&fk, w->ct_seed);
		lb_ct_prefetch_fwd_at(fbk, fmask, fh[j]);
	}
	/*
	 * No tag match (certainly new) or a bare SYN (most likely new) to an fnat
	 * Maglev service without affinity: pick the backend now and prefetch the
	 * reverse bucket of the SNAT port the allocator would give. (Another
	 * scheduler picks in new_flow(): a Maglev pick here would only prefetch for a
	 * backend it does not take.) In three passes over the burst, each on what the
	 * one before fetched: 2d the flow hash and a prefetch of its Maglev slot, 2e
	 * the pick, the backend and its SNAT key, 2f the SNAT pairs, ports and reverse
	 * buckets (lb_ct_snat_prefetch_bulk). One packet at a time, each step waited
	 * for the load of the one before, and a new flow cost 20 % more cycles
	 * (docs/performance.md, "new flows in passes").
	 */
	uint32_t nfh[MAX_BURST];
	struct lb_ct_snat_hint sh[MAX_BURST]; /* for new_flow()'s allocation; set with nfh */
	struct lb_conn *cand[MAX_BURST];       /* the entry the tag points at, for pass 3 */
	const struct lb_svc *msvc[MAX_BURST];  /* 2d -> 2e: the packet's service ... */
	uint8_t mj[MAX_BURST];                 /* ... and its index in the burst */
	uint16_t n_m = 0;
	struct lb_ct_rev_key srk[MAX_BURST];   /* 2e -> 2f: the SNAT keys ... */
	struct lb_ct_snat_hint *shp[MAX_BURST]; /* ... and where their hints go */
	uint16_t n_srk = 0;
	_Static_assert(MAX_BURST <= LB_CT_SNAT_BULK_MAX, "a burst's keys in one bulk prefetch");
	for (uint16_t j = 0; j < k; j++) {
		nfh[j] = 0;
		if (ids[j] < 0)
			continue;
		const struct lb_pkt *p = &meta[idx[j]];
		if (lb_ct_prefetch_fwd_cand_at(fbk, fmask, w->ct_conns, fh[j], &cand[j]) &&
		    (p->tcp_flags & (LB_TCP_SYN | LB_TCP_ACK)) != LB_TCP_SYN)
			continue;
		const struct lb_svc *svc = lb_svc_get(w->svcs, (uint32_t)ids[j]);
		if (svc == NULL || svc->mode != LB_MODE_FNAT || svc->affinity != LB_AFFINITY_NONE ||
		    svc->sched != LB_SCHED_MAGLEV)
			continue;
		uint32_t f = lb_flow_hash(w->flow_seed, p->src, p->sport, p->dst, p->dport, p->proto);
		if (f == 0)
			continue;
		rte_prefetch0(&svc->table[lb_hash_reduce(f, svc->m)]); /* lb_maglev_pick()'s slot */
		nfh[j] = f;
		msvc[n_m] = svc;
		mj[n_m++] = (uint8_t)j;
	}
	for (uint16_t t = 0; t < n_m; t++) {
		uint16_t j = mj[t];
		const struct lb_svc *svc = msvc[t];
		const struct lb_pkt *p = &meta[idx[j]];
		uint16_t bi = lb_maglev_pick(svc->table, svc->m, nfh[j]);
		if (bi == LB_MAGLEV_EMPTY) {
			nfh[j] = 0;
			continue;
		}
		sh[j].pair = LB_CT_NIL;
		const struct lb_real *r = lb_real_get(w->svcs, svc->real_ids[bi]);
		unsigned fam = p->family == LB_AF_INET6;
		if (r->tx_port == LB_PORT_NONE || w->n_src[r->tx_port][fam] == 0)
			continue;
		struct lb_ct_rev_key *rk = &srk[n_srk];
		lb_ct_rev_key_init(rk, LB_MODE_FNAT, p->proto, r->addr, r->port);
		rk->local_idx = w->src[r->tx_port][fam][nfh[j] % w->n_src[r->tx_port][fam]];
		shp[n_srk++] = &sh[j];
	}
	lb_ct_snat_prefetch_bulk(w->ct, srk, shp, n_srk);
	/* Pass 3: per packet, the forwarding decision and the rewrite. */
	for (uint16_t j = 0; j < k; j++) {
		uint16_t i = idx[j];
		if (ids[j] >= 0)
			forward_client(w, pkts[i], &meta[i], (uint32_t)ids[j], fh[j], cand[j],
				       nfh[j], nfh[j] != 0 ? &sh[j] : NULL);
		else
			forward_other(w, pkts[i], &meta[i]);
	}
}

#endif /* LB_FP_CLASSIFY_H */
