/*
 * worker.h - a worker lcore: the poll-mode forwarding pipeline.
 *
 *   rx burst -> parse -> classify -> conntrack -> pick (affinity, Maglev) -> rewrite -> tx
 *
 * Each worker owns RX/TX queue `id` of every port, its conntrack table, its
 * counters and its hand-off ring; it takes no locks and makes no system calls
 * while packets flow (an optional sleep when idle is the only one).
 */
#ifndef LB_WORKER_H
#define LB_WORKER_H

#include <stddef.h>
#include <stdint.h>

struct lb_dp;
struct lb_worker;
struct rte_mbuf;
struct rte_ring;
struct lb_wstats;
struct lb_ct;

/* Allocate worker id (its conntrack, counters, hand-off ring) on lcore's socket. */
struct lb_worker *lb_worker_create(struct lb_dp *dp, unsigned id, unsigned lcore,
				   char *err, size_t errlen);
void lb_worker_destroy(struct lb_worker *w);

/* The lcore entry point (rte_eal_remote_launch): loops until dp->quit. */
int lb_worker_main(void *arg);

/*
 * One burst through the pipeline, as the main loop does it. in_port is the port
 * index the packets came from. Transmitted packets are buffered; call
 * lb_worker_flush() to send them. Exposed for the in-process benchmark.
 */
void lb_worker_process(struct lb_worker *w, uint16_t in_port, struct rte_mbuf **pkts,
		       uint16_t n);
void lb_worker_flush(struct lb_worker *w);
/* Advance the worker's clock (ms) and run one expiry step, as one loop does. */
void lb_worker_tick(struct lb_worker *w, uint64_t tsc);

struct lb_ct *lb_worker_ct(struct lb_worker *w);
struct lb_wstats *lb_worker_stats(struct lb_worker *w);
/* Packets the worker punts to the control thread (single producer, single consumer). */
struct rte_ring *lb_worker_ctrl_ring(struct lb_worker *w);
/* Frames the control thread wants sent: lb_meta(off, m)->port is the egress port index. */
struct rte_ring *lb_worker_tx_ring(struct lb_worker *w);
/* Flow sync (NULL when off): records the worker sends (SP: the worker; SC: the control
 * thread), and sync datagrams it received for the control thread. */
struct rte_ring *lb_worker_sync_rec_ring(struct lb_worker *w);
struct rte_ring *lb_worker_sync_rx_ring(struct lb_worker *w);

#endif /* LB_WORKER_H */
