/*
 * worker_priv.h - a worker's state, shared by the files of its pipeline stages.
 *
 *   worker.c        the loop: rx, parse, hand-off and control rings, expiry;
 *                   the one translation unit that includes the stages below
 *   classify.h      classify: service lookup for the burst, prefetch, dispatch
 *   forward.h       conntrack, pick (affinity, then pick.h), rewrite
 *   pick.h          the service's scheduler for a new flow: Maglev or scheduler.h
 *   icmp_fwd.h      ICMP errors of tracked flows; ARP/NDP/echo to the control thread
 *   exc_fp.h        the exception path: the box's own traffic to the control thread,
 *                   rate-limited by class
 *   tx.h            transmit: Ethernet header, MTU, next hop, TX buffers
 *
 * Worker lcores only. Nothing here is shared between workers except through the
 * hand-off rings.
 */
#ifndef LB_WORKER_PRIV_H
#define LB_WORKER_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "conntrack.h"
#include "dp.h"
#include "exc_limit.h"
#include "parse.h"
#include "service_fastpath.h"
#include "worker.h"

#define MAX_BURST 64            /* largest burst the stages take */
#define TX_BUF 64               /* per port; flushed when full and after every loop */
#define PREFETCH_OFFSET 3       /* packets ahead to prefetch headers of */
/*
 * Conntrack slots scanned per loop: few while packets flow (each slot is a likely
 * cache miss, measured: 64 -> 8 saves ~15 cycles/packet at 1M flows), more when the
 * last poll was empty and there is time to spare.
 */
#define EXPIRE_BUDGET_BUSY 8
#define EXPIRE_BUDGET_IDLE 256
#define HANDOFF_RING 4096
#define IDLE_SPIN_POLLS 64      /* empty polls before an idle worker sleeps */
#define CTRL_RING 1024          /* each way between a worker and the control thread */
#define SYNC_REC_RING 8192      /* sync records to the control thread */
#define SYNC_RX_RING 1024       /* sync datagrams to the control thread */

struct lb_peer_table;
struct lb_neigh;

struct lb_worker {
	struct lb_dp *dp;
	struct lb_services *svcs;
	struct lb_neigh_table *neigh;
	struct lb_neigh *neigh_ent; /* the neighbour entries (fixed for the table's life) */
	const struct lb_route4 *rt4; /* lb_route4_list(neigh): fixed for the table's life */
	unsigned n_rt4;
	struct lb_aff_table *aff;
	struct lb_ct *ct;
	uint64_t ct_seed;
	uint32_t ct_est_ms;         /* lb_ct_timeout(ct, LB_CT_TCP_ESTABLISHED) */
	uint32_t ct_fwd_mask;       /* lb_ct_fwd_geometry(ct): for lb_ct_prefetch_fwd_at() */
	const void *ct_fwd_bk;
	struct lb_conn *ct_conns;   /* lb_ct_entries(ct): for lb_ct_prefetch_fwd_cand_at() */
	uint64_t flow_seed;
	struct lb_wstats *st;
	struct lb_sched_cursor *cursor; /* [services capacity]: rr/wrr place, this worker's */
	struct rte_ring *handoff;   /* MP/SC: packets other workers hand to us */
	struct rte_ring *ctrl;      /* SP/SC: to the control thread */
	struct rte_ring *txq;       /* SP/SC: from the control thread, to send */
	int meta_off;               /* dp->meta_off, kept next to what the loop reads */
	unsigned id;
	unsigned lcore;
	unsigned n_workers;
	uint32_t now;               /* ms clock of the current loop */
	uint32_t idle_expire_ms;    /* clock of the last idle expiry sweep */
	bool handing_in;            /* processing packets from the hand-off ring */
	bool ct_persistent;         /* ct lives in a state region (dp->ct_mem), not rte_malloc */
	/* flow sync (docs/flow-sync.md): all NULL when sync is off */
	const struct lb_peer_table *peers; /* read-only here: the control thread writes it */
	struct rte_ring *sync_rec;  /* SP/SC, elements struct lb_sync_rec: to the control thread */
	struct rte_ring *sync_rx;   /* SP/SC: sync datagrams for the control thread */
	uint16_t sync_port;         /* sync.port, network order */
	uint16_t n_tx[LB_MAX_PORTS];
	struct rte_mbuf *tx[LB_MAX_PORTS][TX_BUF];
	/* fnat source addresses per egress port and family (0: IPv4, 1: IPv6) */
	uint8_t n_src[LB_MAX_PORTS][2];
	uint8_t src[LB_MAX_PORTS][2][LB_MAX_LOCAL_ADDRS];
	/* ipip/gue: the outer source per egress port and family (the port's first address) */
	uint8_t tun_src[LB_MAX_PORTS][2][16];
	bool has_tun_src[LB_MAX_PORTS][2];
	uint16_t gue_port;          /* network order */
	/* the exception path's buckets (exc_fp.h), by enum lb_exc_class: this worker's share */
	struct lb_exc_tb exc_tb[LB_EXC_NCLASS];
} __rte_cache_aligned;


static inline void
drop(struct lb_worker *w, struct rte_mbuf *m, enum lb_drop why)
{
	w->st->drop[why]++;
	rte_pktmbuf_free(m);
}

static inline uint16_t
rx_port(const struct lb_worker *w, const struct rte_mbuf *m)
{
	return w->dp->port_of_eth[m->port];
}

/* dnat flows belong to hash(client address, client port) % workers (worker.c header). */
static inline unsigned
client_owner(const struct lb_worker *w, const uint8_t *client, uint16_t cport)
{
	uint8_t b[18];

	memcpy(b, client, 16);
	memcpy(b + 16, &cport, 2);
	return (unsigned)(lb_hash_bytes(b, sizeof(b), w->flow_seed) % w->n_workers);
}

static inline void
handoff(struct lb_worker *w, struct rte_mbuf *m, unsigned owner)
{
	if (rte_ring_mp_enqueue(w->dp->workers[owner]->handoff, m) != 0) {
		drop(w, m, LB_DROP_HANDOFF_FULL);
		return;
	}
	w->st->ev[LB_EV_HANDOFF_OUT]++;
}

#endif /* LB_WORKER_PRIV_H */
