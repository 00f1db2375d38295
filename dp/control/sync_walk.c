/*
 * sync_walk.c - flow sync's walks over the workers' conntrack tables: the bulk
 * answer to a peer's join and the periodic refresh (docs/flow-sync.md).
 *
 * Main lcore only. Reads the workers' tables while they run, as conns.list does:
 * an entry may change under the read, so the snapshot is racy, and a record is
 * only sent when the copy looks whole (a known family and an fnat service of this
 * box). Each step visits at most SYNC_WALK_BUDGET slots, so a big table never
 * stalls ARP or the control socket.
 */
#include <string.h>

#include <rte_cycles.h>

#include "dp.h"
#include "peer.h"
#include "service.h"
#include "service_fastpath.h"
#include "sync_priv.h"
#include "worker.h"

bool
lb_sync_rec_of(const struct lb_sync *s, const struct lb_conn *cp, uint32_t now,
	       struct lb_sync_rec *r)
{
	struct lb_conn c;

	memcpy(&c, cp, sizeof(c)); /* one copy: the fields below agree with each other */
	if (c.mode != LB_MODE_FNAT || c.state >= LB_CT_NSTATES ||
	    (c.family != LB_AF_INET && c.family != LB_AF_INET6) ||
	    c.local_idx >= s->dp->n_local + s->dp->n_local_peer)
		return false;
	int32_t left = (int32_t)(c.expire - now);
	if (left <= 0)
		return false;
	const struct lb_svc *svc = lb_svc_get(s->dp->svcs, c.svc_id);
	if (svc == NULL || svc->mode != LB_MODE_FNAT || svc->proto != c.proto)
		return false;
	memset(r, 0, sizeof(*r));
	r->family = c.family;
	r->proto = c.proto;
	r->mode = LB_MODE_FNAT;
	r->state = c.state;
	r->flags = c.flags;
	memcpy(r->vip, svc->vip, 16);
	memcpy(r->client, c.client, 16);
	memcpy(r->backend, c.backend, 16);
	memcpy(r->local, s->dp->local[c.local_idx].addr.bytes, 16);
	r->vport = svc->port;
	r->cport = c.client_port;
	r->bport = c.backend_port;
	r->lport = c.local_port;
	r->timeout_ms = (uint32_t)left;
	r->seq_client = c.seq_client;
	return true;
}

struct walk_arg {
	struct lb_sync *s;
	struct sync_peer *peer;
	uint32_t now;
	unsigned left;
};

static int
visit(const struct lb_conn *c, void *arg)
{
	struct walk_arg *a = arg;
	struct lb_sync_rec r;

	if (a->left == 0)
		return 1; /* resume from this entry next loop */
	a->left--;
	if (!lb_sync_rec_of(a->s, c, a->now, &r))
		return 0;
	if (a->peer != NULL) {
		lb_sync_add(a->s, &a->peer->out, a->peer, &r);
		return 0;
	}
	lb_sync_add(a->s, &a->s->all, NULL, &r);
	/*
	 * A connection taken over from a peer keeps its peer entry alive here: while
	 * the owner is gone nobody else refreshes it, and the other workers of this
	 * box still look there for the packets RSS gives them.
	 */
	if (c->local_idx >= a->s->dp->n_local)
		lb_peer_upsert(a->s->dp->peers, &r, a->s->dp->conf.sync.id, a->now, false);
	return 0;
}

static void
echo(const struct lb_sync_rec *r, void *arg)
{
	struct walk_arg *a = arg;

	lb_sync_add(a->s, &a->peer->out, a->peer, r);
}

/*
 * A bulk answer to peer: every connection of this box's workers, then what the
 * peer itself told this box (its peer table entries from that sender), so a box
 * that restarted without its tables learns its own connections back.
 */
bool
lb_sync_walk_step(struct lb_sync *s, struct sync_walk *w, struct sync_peer *peer)
{
	struct walk_arg a = {.s = s, .peer = peer, .now = lb_dp_ms(s->dp, rte_rdtsc()),
			     .left = SYNC_WALK_BUDGET};

	while (a.left > 0 && w->worker < s->dp->n_workers) {
		struct lb_ct *ct = lb_worker_ct(s->dp->workers[w->worker]);
		uint32_t at = lb_ct_foreach_from(ct, w->slot, visit, &a);
		if (at >= lb_ct_capacity(ct)) {
			w->worker++;
			w->slot = 0;
		} else {
			w->slot = at;
		}
	}
	if (w->worker < s->dp->n_workers)
		return false;
	if (peer != NULL && peer->id != 0 && a.left > 0) {
		w->peer_slot = lb_peer_walk(s->dp->peers, w->peer_slot, a.left * 4, peer->id, a.now,
					    echo, &a);
		if (w->peer_slot < lb_peer_capacity(s->dp->peers))
			return false;
	} else if (peer != NULL && peer->id != 0) {
		return false;
	}
	w->active = false;
	return true;
}

/* ---- after a restart that kept the conntrack tables ------------------------------ */

#define FORGET_BATCH 256

struct forget {
	struct lb_conn *v[FORGET_BATCH];
	unsigned n;
	unsigned n_local;
};

static int
collect_foreign(const struct lb_conn *c, void *arg)
{
	struct forget *f = arg;

	if (c->mode != LB_MODE_FNAT || c->local_idx < f->n_local)
		return 0;
	if (f->n == FORGET_BATCH)
		return 1;
	f->v[f->n++] = (struct lb_conn *)(uintptr_t)c;
	return 0;
}

unsigned
lb_sync_forget_foreign(struct lb_dp *dp)
{
	struct forget f = {.n_local = dp->n_local};
	unsigned removed = 0;

	for (unsigned w = 0; w < dp->n_workers; w++) {
		if (!dp->ct_adopt[w])
			continue;
		struct lb_ct *ct = lb_worker_ct(dp->workers[w]);
		do {
			f.n = 0;
			lb_ct_foreach(ct, collect_foreign, &f);
			for (unsigned i = 0; i < f.n; i++)
				lb_ct_remove(ct, f.v[i]);
			removed += f.n;
		} while (f.n == FORGET_BATCH);
	}
	return removed;
}
