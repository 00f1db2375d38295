/*
 * dp.h - the edgelb-dp process context: what every stage may read.
 *
 * One struct lb_dp per process, built by dp/main.c on the main lcore before the
 * workers start. Workers read it; only the control thread (main lcore) writes the
 * parts marked "control writes", and publishes them with the ordering noted there.
 */
#ifndef LB_DP_H
#define LB_DP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf_dyn.h>
#include <rte_rcu_qsbr.h>

#include "lb_counters.h"
#include "config.h"

#define EDGELB_VERSION "0.1.0"

struct lb_services;
struct lb_neigh_table;
struct lb_worker;
struct lb_aff_table;
struct lb_ctl;
struct lb_arp;
struct lb_stats;
struct lb_peer_table;
struct lb_sync;
struct lb_state;
struct rte_mempool;
struct rte_mbuf;

/* One port of the box, in config order (index = "port index", not ethdev id). */
struct lb_port {
	uint16_t eth_id;          /* ethdev port id */
	uint8_t role;             /* enum lb_port_role */
	uint8_t steering;         /* enum lb_steering actually in use for fnat replies */
	struct rte_ether_addr mac;
	uint16_t mtu;
	unsigned nat_flags;       /* LB_NAT_*_OFFLOAD the port's TX offloads allow */
	uint64_t tx_offloads;     /* offloads enabled on the port */
	const struct lb_port_conf *conf;
	uint16_t exc_id;          /* exception tap ethdev, LB_PORT_NONE when none */
};

/* An fnat source address (index = local_idx stored in connections). */
struct lb_local {
	struct lb_addr addr;
	uint16_t port;            /* port index it lives on */
};

/* Per-worker counters: written by one worker, read (racily) by the control thread. */
struct lb_cnt {
	uint64_t pkts;
	uint64_t bytes;
};

struct lb_real_cnt {
	uint64_t pkts;
	uint64_t bytes;
	int64_t conns;            /* +1 on create, -1 on expiry; summed over workers */
	int64_t active;           /* of conns, those active for lc/wlc/sed/nq (this worker's) */
};

struct lb_wstats {
	uint64_t ev[LB_EV_MAX];
	uint64_t drop[LB_DROP_MAX];
	struct lb_cnt port_rx[LB_MAX_PORTS];
	struct lb_cnt port_tx[LB_MAX_PORTS];
	uint64_t last_rx_tsc;     /* for --stop-idle-ms */
	uint64_t empty_polls;     /* consecutive polls that found nothing */
	struct lb_cnt *svc;       /* [services capacity] */
	struct lb_real_cnt *real; /* [backend registry capacity] */
} __rte_cache_aligned;

/*
 * Per-packet metadata in an mbuf dynamic field, for packets that travel between
 * workers and the control thread.
 */
enum lb_punt {
	LB_PUNT_RX = 1,   /* ARP, NDP, echo request: port = ingress port */
	LB_PUNT_RESOLVE,  /* ready frame, next hop unresolved: port = egress, info = neighbour */
	LB_PUNT_TOO_BIG,  /* original frame over the egress MTU: port = ingress, info = MTU */
	LB_PUNT_TTL,      /* original frame whose TTL ran out: port = ingress */
	LB_PUNT_TX,       /* control -> worker: send on port = egress */
	LB_PUNT_EXCEPTION,/* for the box's kernel: port = ingress (its exception tap) */
	LB_PUNT_SYNC,     /* a flow sync datagram: port = ingress (worker -> sync ring) */
};

struct lb_mbuf_meta {
	uint16_t port;    /* port index */
	uint8_t kind;     /* enum lb_punt */
	uint8_t hops;     /* worker hand-offs so far (ICMP errors looking for their flow) */
	uint32_t info;
};

/* off: the dynamic field's offset, dp->meta_off (workers keep a copy). */
static inline struct lb_mbuf_meta *
lb_meta(int off, struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, off, struct lb_mbuf_meta *);
}

struct lb_dp {
	struct lb_dp_conf conf;
	unsigned n_workers;
	unsigned n_ports;
	struct lb_port ports[LB_MAX_PORTS];
	unsigned n_local;
	struct lb_local local[LB_MAX_LOCAL_ADDRS];
	struct rte_mempool *pool;
	struct rte_rcu_qsbr *qsbr;      /* one reader slot per worker */
	struct lb_services *svcs;       /* service directory + backend registry */
	struct lb_neigh_table *neigh;   /* routes + neighbours */
	struct lb_aff_table *affinity; /* ClientIP affinity, shared by workers */
	struct lb_worker *workers[LB_MAX_WORKERS];
	struct lb_wstats *wstats[LB_MAX_WORKERS];
	struct lb_ctl *ctl;             /* control socket, NULL when disabled */
	struct lb_arp *arp;             /* ARP/NDP/ICMP on the control thread */
	struct lb_stats *stats;         /* counter bases of reused ids (control/stats.c) */
	struct lb_peer_table *peers;    /* flow sync: peers' connections; NULL when sync is off */
	struct lb_sync *sync;           /* flow sync on the control thread; NULL when off */
	unsigned n_local_peer;          /* peers' SNAT addresses at local[n_local ..], learned
					 * from sync records; never answered for in ARP/NDP */
	int meta_off;                   /* mbuf dynamic field of struct lb_mbuf_meta */
	unsigned n_built;               /* modules of control/dp.c built so far */
	uint64_t ctrl[LB_CTRL_MAX];     /* control-thread counters */
	uint8_t port_of_eth[RTE_MAX_ETHPORTS]; /* ethdev id -> port index */
	uint64_t tsc_hz;
	uint64_t start_tsc;
	uint32_t clock_base_ms;         /* CLOCK_MONOTONIC ms at start_tsc (lb_dp_ms) */
	/* persistent state (control/state.c); all NULL / 0 / false when there is none */
	struct lb_state *state;
	void *svc_dir;                  /* id directories of the service table */
	size_t svc_dir_len;
	bool svc_dir_adopt;             /* the directories come from the previous process */
	bool adopting;                  /* some conntrack table was re-attached */
	uint32_t adopt_hold_ms;         /* how long ids and orphaned entries are kept */
	uint32_t adopt_until;           /* lb_dp_ms() value when that ends */
	void *ct_mem[LB_MAX_WORKERS];   /* worker conntrack blocks in state regions */
	size_t ct_mem_len[LB_MAX_WORKERS];
	bool ct_adopt[LB_MAX_WORKERS];  /* the block holds the previous process's table */
	bool daemon;                    /* lb_dp_build(daemon): a real process, not a test */
	volatile bool quit;             /* set by signals / stop conditions; workers poll it */
};

/*
 * Build everything the workers read from dp->conf (already loaded): worker list,
 * mbuf pool, QSBR, routes and neighbours, services, ports, workers; with daemon,
 * also the ARP/NDP/ICMP slow path and the control socket. Returns 0 or an LB_E*
 * code with a message in err; lb_dp_teardown() cleans up either way, in the
 * reverse order (control/dp.c).
 */
int lb_dp_build(struct lb_dp *dp, bool daemon, char *err, size_t errlen);
void lb_dp_teardown(struct lb_dp *dp);

/*
 * The clock conntrack and affinity use, in wrapping milliseconds: CLOCK_MONOTONIC
 * (read once at start) advanced by the TSC, so a restarted process continues the
 * clock its re-attached conntrack entries were stamped with (control/state.c).
 */
static inline uint32_t
lb_dp_ms(const struct lb_dp *dp, uint64_t tsc)
{
	return dp->clock_base_ms + (uint32_t)((tsc - dp->start_tsc) / (dp->tsc_hz / 1000));
}

#endif /* LB_DP_H */
