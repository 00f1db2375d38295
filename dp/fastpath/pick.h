/*
 * pick.h - the scheduler stage: which backend a new flow goes to.
 *
 * Called by forward.h's new_flow() after conntrack and ClientIP affinity missed.
 * Worker lcores only. Maglev (the default) is one load from the service's table;
 * the IPVS schedulers (dp/lib/scheduler.c) read the service's immutable pick set, this
 * worker's cursor for the service (rr/wrr) and this worker's connection counts
 * per backend (lc/wlc/sed/nq): nothing shared is written, no lock is taken.
 *
 * Counts are per worker: a worker sees the connections it created (w->st->real[].conns,
 * +1 on insert, -1 on expiry or removal), not its peers', so least-connection
 * schedulers balance each worker's share; with RSS spreading flows evenly that
 * approximates the box's total. Of those, w->st->real[].active are active as IPVS
 * counts them (lb_sched_ct_active: TCP in handshake or established; forward.h
 * moves the count on insert, state changes and expiry); the rest are inactive
 * (closing TCP, UDP). lc/wlc weigh active * 256 + inactive, sed/nq active only.
 */
#ifndef LB_FP_PICK_H
#define LB_FP_PICK_H

#include <rte_branch_prediction.h>

#include "maglev.h"
#include "scheduler.h"
#include "worker_priv.h"

struct pick_load {
	const struct lb_worker *w;
	const struct lb_svc *svc;
};

/* lb_sched_load_fn: this worker's tracked connections on backend bi of the service. */
static void
pick_load(void *arg, uint32_t bi, uint32_t *active, uint32_t *inactive)
{
	const struct pick_load *pl = arg;
	const struct lb_real_cnt *rc = &pl->w->st->real[pl->svc->real_ids[bi]];
	int64_t a = rc->active, i = rc->conns - rc->active;

	*active = a <= 0 ? 0 : a >= UINT32_MAX ? UINT32_MAX : (uint32_t)a;
	*inactive = i <= 0 ? 0 : i >= UINT32_MAX ? UINT32_MAX : (uint32_t)i;
}

/*
 * The backend for a new flow: an index into svc->real_ids, or LB_MAGLEV_EMPTY when
 * no backend takes new flows. fh is the flow hash Maglev indexes with.
 */
static inline uint16_t
pick_backend(struct lb_worker *w, const struct lb_pkt *p, const struct lb_svc *svc, uint32_t fh)
{
	if (likely(svc->sched == LB_SCHED_MAGLEV))
		return lb_maglev_pick(svc->table, svc->m, fh);
	struct pick_load pl = {.w = w, .svc = svc};
	uint32_t bi = lb_sched_pick(&svc->pick, &w->cursor[svc->id], svc->version, pick_load, &pl,
				    p->family, p->src, p->dst);
	return bi == LB_SCHED_NONE ? LB_MAGLEV_EMPTY : (uint16_t)bi;
}

#endif /* LB_FP_PICK_H */
