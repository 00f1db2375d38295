/*
 * worker.c - a worker lcore: its loop, and the first stage of the pipeline.
 *
 *   rx burst -> parse (here) -> classify (classify.h) -> conntrack, pick, rewrite
 *   (forward.h) -> tx (tx.h); ICMP/ARP/NDP go to icmp_fwd.h.
 *
 * This is the pipeline's one translation unit: the stages are static inline
 * headers included below (DPDK l3fwd's l3fwd_em.c + l3fwd_em_hlm.h), so a packet
 * makes no out-of-line call between stages.
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
#include "parse_fastpath.h"
#include "peer.h"
#include "service_fastpath.h"
#include "sync_codec.h"
#include "worker.h"
#include "worker_priv.h"

/* The pipeline stages, in the order a packet meets them backwards (each uses the next). */
#include "tx.h"
#include "pick.h"
#include "peer_fp.h"
#include "exc_fp.h"
#include "forward.h"
#include "icmp_fwd.h"
#include "classify.h"

/* ---- transmit buffers ----------------------------------------------------- */

void
lb_worker_flush(struct lb_worker *w)
{
	for (uint16_t pi = 0; pi < w->dp->n_ports; pi++)
		flush_port(w, pi);
}

/* ---- the burst --------------------------------------------------------- */

static inline bool
for_us(const struct lb_port *port, const uint8_t *frame)
{
	/* Group bit set: broadcast or multicast, ARP/NDP need those. */
	uint32_t a, b;
	uint16_t c, d;

	if (frame[0] & 1)
		return true;
	memcpy(&a, frame, 4);
	memcpy(&b, port->mac.addr_bytes, 4);
	memcpy(&c, frame + 4, 2);
	memcpy(&d, port->mac.addr_bytes + 4, 2);
	return ((a ^ b) | (uint32_t)(c ^ d)) == 0;
}

void
lb_worker_process(struct lb_worker *w, uint16_t in_port, struct rte_mbuf **pkts, uint16_t n)
{
	struct lb_pkt meta[MAX_BURST];
	uint16_t idx[MAX_BURST];
	uint16_t k = 0;
	const struct lb_port *port = &w->dp->ports[in_port];
	bool handing_in = w->handing_in; /* read once: the mbuf stores below may alias it */

	for (uint16_t i = 0; i < n && i < PREFETCH_OFFSET; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	/* Parse; keep the TCP/UDP packets for the classify stage. */
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		enum lb_drop why;

		if (i + PREFETCH_OFFSET < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_OFFSET], void *));
		const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
		/* Not every PMD fills m->port (net_ring does not); later stages rely on it. */
		if (!handing_in)
			m->port = port->eth_id;
		if (lb_parse_fp(frame, m->data_len, &meta[i], &why) < 0) {
			drop(w, m, why);
			continue;
		}
		if (!handing_in && !for_us(port, frame)) {
			drop(w, m, LB_DROP_NOT_OURS);
			continue;
		}
		if (meta[i].kind != LB_PKT_L4) {
			icmp_forward(w, m, &meta[i]);
			continue;
		}
		/* The NIC found the TCP/UDP checksum wrong: never forward (or "repair") it. */
		if (unlikely((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) ==
			     RTE_MBUF_F_RX_L4_CKSUM_BAD)) {
			drop(w, m, LB_DROP_L4_CKSUM);
			continue;
		}
		if (unlikely(meta[i].ttl <= 1) && !exc_for_kernel(w, &meta[i], rx_port(w, m))) {
			/* A router answers with "time exceeded"; the control thread does. */
			punt(w, m, LB_PUNT_TTL, rx_port(w, m), 0);
			continue;
		}
		idx[k++] = i;
	}
	if (k == 0)
		return;
	classify_burst(w, pkts, meta, idx, k);
}

void
lb_worker_tick(struct lb_worker *w, uint64_t tsc)
{
	unsigned budget = EXPIRE_BUDGET_BUSY;

	w->now = lb_dp_ms(w->dp, tsc);
	/*
	 * An idle worker sweeps a bigger share of the table, but once per millisecond
	 * of the clock, not once per empty poll: polls between short idle sleeps come
	 * tens of thousands of times a second, and a 256-entry scan on each was most
	 * of the worker's user time under light load (docs/performance.md, profile of
	 * the end-to-end race).
	 */
	if (w->st->empty_polls) {
		budget = w->now == w->idle_expire_ms ? 0 : EXPIRE_BUDGET_IDLE;
		w->idle_expire_ms = w->now;
	}
	if (budget)
		lb_ct_expire(w->ct, w->now, budget, conn_gone, w);
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
			xmit(w, pkts[i], lb_meta(w->meta_off, pkts[i])->port);
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

static int
count_kept(const struct lb_conn *c, void *arg)
{
	struct lb_worker *w = arg;

	if (c->real_id < lb_reals_capacity(w->svcs))
		w->st->real[c->real_id].conns++;
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
	w->meta_off = dp->meta_off;
	w->svcs = dp->svcs;
	w->neigh = dp->neigh;
	w->neigh_ent = dp->neigh != NULL ? lb_neigh_entry(dp->neigh, 0) : NULL;
	if (dp->neigh != NULL)
		w->rt4 = lb_route4_list(dp->neigh, &w->n_rt4);
	w->aff = dp->affinity;
	w->id = id;
	w->lcore = lcore;
	w->n_workers = dp->n_workers;
	w->flow_seed = dp->conf.hash_seed;
	exc_buckets_init(w);

	/*
	 * Conntrack indexes only this worker's table: a random seed per table keeps
	 * crafted colliding flows from filling a bucket (a re-attached table keeps
	 * its own). The SNAT allocator (conntrack_snat.c) derives from it where each
	 * backend's slice starts, so a restarted dp with a fresh table does not reuse
	 * first the ports the backends still hold in TIME_WAIT.
	 */
	struct lb_ct_conf cc;
	lb_dp_ct_conf(dp, id, rte_rand(), &cc);
	size_t sz = lb_ct_mem_size(&cc);
	if (dp->ct_mem[id] != NULL && dp->ct_mem_len[id] >= sz) {
		/* A persistent state region (control/state.c): it outlives the process. */
		w->ct_persistent = true;
		w->ct = dp->ct_adopt[id] ? lb_ct_attach(dp->ct_mem[id], sz, &cc) : NULL;
		if (dp->ct_adopt[id] && w->ct == NULL)
			RTE_LOG(WARNING, USER1, "state: worker %u: conntrack block does not "
				"describe this layout: starts empty\n", id);
		if (w->ct == NULL)
			w->ct = lb_ct_init(dp->ct_mem[id], sz, &cc);
		else
			RTE_LOG(NOTICE, USER1, "state: worker %u: %u connections kept\n", id,
				lb_ct_count(w->ct));
	} else {
		void *mem = sz ? rte_zmalloc_socket("lb_ct", sz, RTE_CACHE_LINE_SIZE, socket) : NULL;
		if (mem == NULL)
			goto nomem;
		w->ct = lb_ct_init(mem, sz, &cc);
		if (w->ct == NULL)
			rte_free(mem);
	}
	if (w->ct == NULL) {
		snprintf(err, errlen, "worker %u: bad conntrack settings", id);
		goto fail;
	}
	w->ct_seed = lb_ct_seed(w->ct);
	w->ct_est_ms = lb_ct_timeout(w->ct, LB_CT_TCP_ESTABLISHED);
	lb_ct_fwd_geometry(w->ct, &w->ct_fwd_bk, &w->ct_fwd_mask);
	w->ct_conns = lb_ct_entries(w->ct);

	w->st = rte_zmalloc_socket("lb_wstats", sizeof(*w->st), RTE_CACHE_LINE_SIZE, socket);
	if (w->st == NULL)
		goto nomem;
	w->st->svc = rte_zmalloc_socket("lb_wstats_svc", sizeof(struct lb_cnt) * lb_svcs_capacity(dp->svcs),
					 RTE_CACHE_LINE_SIZE, socket);
	w->st->real = rte_zmalloc_socket("lb_wstats_real",
					  sizeof(struct lb_real_cnt) * lb_reals_capacity(dp->svcs),
					  RTE_CACHE_LINE_SIZE, socket);
	w->cursor = rte_zmalloc_socket("lb_sched_cursor",
					sizeof(*w->cursor) * lb_svcs_capacity(dp->svcs),
					RTE_CACHE_LINE_SIZE, socket);
	if (w->st->svc == NULL || w->st->real == NULL || w->cursor == NULL)
		goto nomem;
	for (uint32_t i = 0; i < lb_svcs_capacity(dp->svcs); i++)
		lb_sched_cursor_reset(&w->cursor[i], 0); /* rr starts at the first backend */
	/* Kept connections count for their backends (least-conn, stats) as before. */
	if (lb_ct_count(w->ct) > 0)
		lb_ct_foreach(w->ct, count_kept, w);
	snprintf(name, sizeof(name), "lb_handoff_%u", id);
	w->handoff = rte_ring_create(name, HANDOFF_RING, socket, RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "lb_ctrl_%u", id);
	w->ctrl = rte_ring_create(name, CTRL_RING, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "lb_txq_%u", id);
	w->txq = rte_ring_create(name, CTRL_RING, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (w->handoff == NULL || w->ctrl == NULL || w->txq == NULL)
		goto nomem;
	if (dp->conf.sync.enabled) {
		w->peers = dp->peers;
		w->sync_port = rte_cpu_to_be_16(dp->conf.sync.port);
		snprintf(name, sizeof(name), "lb_syncrec_%u", id);
		w->sync_rec = rte_ring_create_elem(name, sizeof(struct lb_sync_rec), SYNC_REC_RING,
						   socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "lb_syncrx_%u", id);
		w->sync_rx = rte_ring_create(name, SYNC_RX_RING, socket,
					     RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (w->peers == NULL || w->sync_rec == NULL || w->sync_rx == NULL)
			goto nomem;
	}
	for (unsigned l = 0; l < dp->n_local; l++) {
		uint16_t pi = dp->local[l].port;
		unsigned fam = dp->local[l].addr.family == LB_AF_INET6;
		w->src[pi][fam][w->n_src[pi][fam]++] = (uint8_t)l;
	}
	/* ipip/gue outer sources: the port's first address of the family, else the
	 * box's first of the family on any port (encap.h falls back to the VIP). */
	for (uint16_t pi = 0; pi < dp->n_ports; pi++)
		for (uint16_t q = 0; q <= dp->n_ports; q++) {
			const struct lb_port_conf *pc = &dp->conf.ports[q == 0 ? pi : q - 1];
			for (uint32_t a = 0; a < pc->n_addrs; a++) {
				unsigned fam = pc->addrs[a].addr.family == LB_AF_INET6;
				if (w->has_tun_src[pi][fam])
					continue;
				memcpy(w->tun_src[pi][fam], pc->addrs[a].addr.bytes, 16);
				w->has_tun_src[pi][fam] = true;
			}
		}
	w->gue_port = rte_cpu_to_be_16(dp->conf.gue_port);
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
	if (w->ct && !w->ct_persistent)
		rte_free(w->ct);
	if (w->st) {
		rte_free(w->st->svc);
		rte_free(w->st->real);
		rte_free(w->st);
	}
	rte_free(w->cursor);
	rte_ring_free(w->handoff);
	rte_ring_free(w->ctrl);
	rte_ring_free(w->txq);
	rte_ring_free(w->sync_rec);
	if (w->sync_rx) {
		struct rte_mbuf *m;
		while (rte_ring_sc_dequeue(w->sync_rx, (void **)&m) == 0)
			rte_pktmbuf_free(m);
	}
	rte_ring_free(w->sync_rx);
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
lb_worker_sync_rec_ring(struct lb_worker *w)
{
	return w->sync_rec;
}

struct rte_ring *
lb_worker_sync_rx_ring(struct lb_worker *w)
{
	return w->sync_rx;
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
