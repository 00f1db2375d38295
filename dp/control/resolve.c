/*
 * resolve.c - neighbour resolution and aging on the control thread (arp_priv.h).
 *
 * Runs on the main lcore only, called by arp.c: what ARP/NDP packets teach
 * (lb_arp_learn), the frames workers could not send yet (lb_arp_hold), and the
 * timers (lb_arp_timers). Owns the held frames and every state change of a
 * dynamic neighbour entry (dp/tables/neigh.c stores them).
 *
 * The state machine is Linux's (net/core/neighbour.c), with the settings of
 * neighbour_cache (docs/configuration.md):
 *
 *   INCOMPLETE --answer--> REACHABLE --reachable_ms--> STALE
 *   INCOMPLETE --probes unanswered--> FAILED
 *   STALE (needed: a route or backend uses it) --> PROBE --answer--> REACHABLE
 *   PROBE --probes unanswered--> FAILED (MAC unusable)
 *   STALE (not needed) --stale_ms--> deleted
 *   FAILED (not needed) --> deleted
 *   FAILED (needed) --> re-probed after retrans_ms x 2, x 4 ... up to retry_max_ms
 *   STATIC: from the config file, never changes
 *
 * Probes share one budget (probe_rate per second) and are sent only while the
 * ring to worker 0 has room, so no number of entries can flood the ring
 * (finding 6: 3,079 tx_ring_full drops in one pass); an entry that could not be
 * probed stays due and goes first at the next tick it is reached.
 */
#include <string.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "arp_priv.h"
#include "dp.h"
#include "lb_error.h"
#include "neigh.h"
#include "service.h"
#include "worker.h"

#define DELETE_PER_TICK 256   /* entries deleted per timer tick at most */
#define RETRY_MS 1000         /* backends without an entry: tried again this often */

/* Send a probe for entry idx if the budget and the ring allow. */
static bool
probe(struct lb_arp *a, uint32_t idx, uint64_t now)
{
	struct lb_neigh *n = lb_neigh_entry(a->dp->neigh, idx);
	struct rte_ring *r = lb_worker_tx_ring(a->dp->workers[0]);
	struct lb_addr x;

	/* Keep half the ring for answers and held frames. */
	if (a->probe_tokens < 1 || rte_ring_free_count(r) < rte_ring_get_capacity(r) / 2) {
		lb_arp_ctr(a)[LB_CTRL_PROBES_DEFERRED]++;
		return false;
	}
	a->probe_tokens -= 1;
	lb_addr_set(&x, n->family, n->addr);
	n->probe_tsc = now;
	n->probes++;
	lb_arp_solicit(a, n->port, &x);
	return true;
}

static void
set_state(struct lb_neigh *n, uint8_t state, uint64_t now)
{
	n->state = state;
	n->state_tsc = now;
	n->probes = 0;
}

/*
 * Learn (addr -> mac) from an ARP packet or an NA/NS received on port (issue 14,
 * findings 6 and 7). Only what the box itself needs and only from where it can
 * come:
 *  - never creates an entry: the box resolves the next hops it needs on demand
 *    (backends, gateways, on-link clients), so requests for our addresses from
 *    arbitrary senders cannot fill the table;
 *  - the entry must live on this port (where its route points) and the address
 *    must be inside a connected subnet of this port;
 *  - a resolved entry changes its MAC only on a solicited answer (a reply or a
 *    solicited NA within retrans_ms of a probe not answered yet); any other claim
 *    of a new MAC is refused and makes the entry re-probed, so the real owner's
 *    answer decides.
 * Static entries are the operator's and never change.
 */
void
lb_arp_learn(struct lb_arp *a, uint8_t family, const uint8_t *addr, const uint8_t *mac,
	     uint16_t port, bool answer)
{
	struct lb_addr x;
	static const uint8_t zero16[16];
	uint64_t now = rte_rdtsc(), retrans = a->dp->conf.neigh.retrans_ms * a->ms;

	if (memcmp(addr, zero16, (size_t)lb_addr_len(family)) == 0 || (mac[0] & 1))
		return;
	lb_addr_set(&x, family, addr);
	uint32_t idx = lb_neigh_lookup(a->dp->neigh, family, addr);
	if (idx == LB_NEIGH_NONE)
		return;
	struct lb_neigh *cur = lb_neigh_entry(a->dp->neigh, idx);
	if (cur->state == LB_NEIGH_STATIC)
		return;
	const struct lb_route *rt = lb_route_lookup(a->dp->neigh, family, addr);
	if (cur->port != port || rt == NULL || rt->gw_neigh != LB_NEIGH_NONE || rt->port != port) {
		lb_arp_ctr(a)[LB_CTRL_NEIGH_REJECTED]++;
		return;
	}
	uint8_t old[6];
	if (lb_neigh_mac(cur, old) && memcmp(old, mac, 6) != 0) {
		/* probes counts our requests since the last answer: one is outstanding. */
		bool solicited = answer && cur->probes > 0 && now - cur->probe_tsc <= retrans;
		if (!solicited) {
			lb_arp_ctr(a)[LB_CTRL_NEIGH_REJECTED]++;
			/* Ask: the owner's answer is solicited and wins. At most one
			 * probe per retrans_ms (a flood of claims is not a probe
			 * flood); the entry is re-probed by the timers after that. */
			if (cur->state == LB_NEIGH_REACHABLE || cur->state == LB_NEIGH_STALE)
				set_state(cur, LB_NEIGH_PROBE, now);
			if (cur->probe_tsc == 0 || now - cur->probe_tsc > retrans)
				probe(a, idx, now);
			return;
		}
	}
	int rc = lb_neigh_learn(a->dp->neigh, &x, mac, port, LB_NEIGH_REACHABLE);
	if (rc < 0)
		return;
	struct lb_neigh *n = lb_neigh_entry(a->dp->neigh, (uint32_t)rc);
	n->confirmed_tsc = now;
	lb_arp_ctr(a)[LB_CTRL_NEIGH_LEARNED]++;
	/* Frames that waited for this neighbour leave now. */
	unsigned k = 0;
	uint8_t m6[6];
	bool ok = lb_neigh_mac(n, m6);
	for (unsigned i = 0; i < a->n_hold; i++) {
		struct lb_arp_held *h = &a->hold[i];
		if (h->neigh == (uint32_t)rc && ok) {
			memcpy(rte_pktmbuf_mtod(h->m, uint8_t *), m6, 6);
			lb_arp_out_held(a, h->m, lb_meta(a->dp->meta_off, h->m)->port);
			lb_arp_ctr(a)[LB_CTRL_HELD_SENT]++;
		} else {
			a->hold[k++] = *h;
		}
	}
	a->n_hold = k;
}

/*
 * The next hop of a frame a worker punted: the gateway of its destination's route,
 * or the destination itself when on link. Found again from the frame, not from the
 * index the worker punted with: that entry may have been deleted (and its index
 * reused) while the frame waited in the ring.
 */
static int
next_hop(struct lb_arp *a, struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t off = 12;
	struct lb_addr dst;

	while (m->data_len >= off + 2 && (f[off] << 8 | f[off + 1]) == 0x8100)
		off += 4; /* VLAN tags */
	if (m->data_len < off + 2)
		return LB_EINVAL;
	uint16_t type = (uint16_t)(f[off] << 8 | f[off + 1]);
	if (type == 0x0800 && m->data_len >= off + 2 + 20)
		lb_addr_set(&dst, LB_AF_INET, f + off + 2 + 16);
	else if (type == 0x86dd && m->data_len >= off + 2 + 40)
		lb_addr_set(&dst, LB_AF_INET6, f + off + 2 + 24);
	else
		return LB_EINVAL;
	const struct lb_route *rt = lb_route_lookup(a->dp->neigh, dst.family, dst.bytes);
	if (rt == NULL)
		return LB_ENOENT;
	if (rt->gw_neigh != LB_NEIGH_NONE)
		return (int)rt->gw_neigh;
	/* An on-link destination nobody asked for yet (a client): a dynamic entry. */
	int rc = lb_neigh_ensure_dynamic(a->dp->neigh, &dst, rt->port);
	if (rc == LB_EFULL)
		lb_arp_ctr(a)[LB_CTRL_NEIGH_TABLE_FULL]++;
	return rc;
}

void
lb_arp_hold(struct lb_arp *a, struct rte_mbuf *m, uint16_t port)
{
	unsigned mine = 0;
	int rc = next_hop(a, m);

	if (rc < 0)
		goto drop;
	uint32_t idx = (uint32_t)rc;
	for (unsigned i = 0; i < a->n_hold; i++)
		mine += a->hold[i].neigh == idx;
	if (mine >= LB_HOLD_PER_NEIGH || a->n_hold == LB_HOLD_MAX)
		goto drop;
	struct lb_neigh *n = lb_neigh_entry(a->dp->neigh, idx);
	uint8_t mac[6];
	if (lb_neigh_mac(n, mac)) {
		/* Resolved while the frame was on its way here. */
		memcpy(rte_pktmbuf_mtod(m, uint8_t *), mac, 6);
		lb_arp_out_held(a, m, port);
		return;
	}
	uint64_t now = rte_rdtsc();
	a->hold[a->n_hold++] = (struct lb_arp_held){.m = m, .neigh = idx, .tsc = now};
	lb_arp_ctr(a)[LB_CTRL_HELD]++;
	/* Traffic asks for an answer now; a failed entry keeps its backoff. */
	uint64_t wait = (n->state == LB_NEIGH_FAILED ? n->retry_ms : a->dp->conf.neigh.retrans_ms) *
			a->ms;
	if (n->probe_tsc == 0 || now - n->probe_tsc > wait)
		probe(a, idx, now);
	return;
drop:
	lb_arp_ctr(a)[LB_CTRL_HELD_DROPPED]++;
	rte_pktmbuf_free(m);
}

/* Probes unanswered: unusable; deleted unless a route or backend needs it. */
static bool
give_up(struct lb_arp *a, uint32_t idx, struct lb_neigh *n, uint64_t now)
{
	lb_neigh_forget(a->dp->neigh, idx);
	set_state(n, LB_NEIGH_FAILED, now);
	lb_arp_ctr(a)[LB_CTRL_NEIGH_FAILED]++;
	n->retry_ms = 2 * a->dp->conf.neigh.retrans_ms;
	return n->refs == 0; /* delete */
}

/* One entry's timers. Returns true when it should be deleted. */
static bool
entry_tick(struct lb_arp *a, uint32_t idx, struct lb_neigh *n, uint64_t now)
{
	const struct lb_dp_conf *c = &a->dp->conf;
	uint64_t reachable = c->neigh.reachable_ms * a->ms, stale = c->neigh.stale_ms * a->ms;
	bool due = n->probe_tsc == 0 || now - n->probe_tsc > c->neigh.retrans_ms * a->ms;

	switch (n->state) {
	case LB_NEIGH_INCOMPLETE:
	case LB_NEIGH_PROBE:
		if (!due)
			return false;
		if (n->probes >= c->neigh.probes)
			return give_up(a, idx, n, now);
		probe(a, idx, now);
		return false;
	case LB_NEIGH_REACHABLE:
		if (now - n->confirmed_tsc > reachable)
			set_state(n, LB_NEIGH_STALE, now);
		return false;
	case LB_NEIGH_STALE:
		if (n->refs > 0) {
			/* Still used by a route or backend: confirm it (MAC kept meanwhile). */
			set_state(n, LB_NEIGH_PROBE, now);
			n->probe_tsc = 0;
			probe(a, idx, now);
			return false;
		}
		return now - n->state_tsc > stale;
	case LB_NEIGH_FAILED:
		if (n->refs == 0)
			return true;
		if (now - n->probe_tsc > (uint64_t)n->retry_ms * a->ms && probe(a, idx, now)) {
			n->retry_ms *= 2;
			if (n->retry_ms > c->neigh.retry_max_ms)
				n->retry_ms = c->neigh.retry_max_ms;
		}
		return false;
	default:
		return false;
	}
}

void
lb_arp_timers(struct lb_arp *a, uint64_t now)
{
	struct lb_neigh_table *t = a->dp->neigh;
	uint32_t it = 0, n_del = 0, del[DELETE_PER_TICK];
	int64_t idx;

	/* Probe budget: probe_rate per second, at most one second's worth saved. */
	double rate = a->dp->conf.neigh.probe_rate;
	a->probe_tokens += (double)(now - a->probe_tsc) / (double)a->dp->tsc_hz * rate;
	a->probe_tsc = now;
	if (a->probe_tokens > rate)
		a->probe_tokens = rate;

	/* Held frames that waited too long. */
	unsigned k = 0;
	for (unsigned i = 0; i < a->n_hold; i++) {
		if (now - a->hold[i].tsc > LB_ARP_HOLD_MS * a->ms) {
			rte_pktmbuf_free(a->hold[i].m);
			lb_arp_ctr(a)[LB_CTRL_HELD_DROPPED]++;
		} else {
			a->hold[k++] = a->hold[i];
		}
	}
	a->n_hold = k;

	while ((idx = lb_neigh_next(t, &it)) >= 0) {
		struct lb_neigh *n = lb_neigh_entry(t, (uint32_t)idx);
		if (entry_tick(a, (uint32_t)idx, n, now) && n_del < DELETE_PER_TICK)
			del[n_del++] = (uint32_t)idx;
	}
	/* Delete after the walk: the iterator is not disturbed. Held frames of a
	 * deleted entry would go nowhere: they are dropped now. */
	for (uint32_t i = 0; i < n_del; i++) {
		if (lb_neigh_delete(t, del[i]) < 0)
			continue;
		lb_arp_ctr(a)[LB_CTRL_NEIGH_DELETED]++;
		k = 0;
		for (unsigned j = 0; j < a->n_hold; j++) {
			if (a->hold[j].neigh == del[i]) {
				rte_pktmbuf_free(a->hold[j].m);
				lb_arp_ctr(a)[LB_CTRL_HELD_DROPPED]++;
			} else {
				a->hold[k++] = a->hold[j];
			}
		}
		a->n_hold = k;
	}
	lb_neigh_reclaim(t);
	if (now - a->retry_tsc > RETRY_MS * a->ms) {
		a->retry_tsc = now;
		lb_svcs_retry_neigh(a->dp->svcs);
	}
}

unsigned
lb_arp_held(const struct lb_arp *a)
{
	return a->n_hold;
}
