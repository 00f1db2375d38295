/*
 * bench_sync.h - the flow sync parts of edgelb-bench-dp (--sync): the sync group of
 * the generated config, the control thread's share of a run, and the absorb rate.
 * Runs on the bench thread, which plays worker 0 and the control thread in turn.
 */
#ifndef LB_BENCH_SYNC_H
#define LB_BENCH_SYNC_H

#include <stdint.h>
#include <stdio.h>

struct lb_dp;

#define BENCH_SYNC_PEER "198.19.0.99"

/* Write a key file (mode 0600) into path (a mkstemp template). 0 or -1. */
int bench_sync_key(char *path);
/* The neighbour of the peer and the sync group, for the generated config. */
void bench_sync_neigh(FILE *f);
void bench_sync_group(FILE *f, const char *key_path);
/*
 * The control thread's turn: lb_sync_poll(), then what it queued on worker 0's TX
 * ring is freed (the NIC's part). Returns the TSC cycles it took.
 */
uint64_t bench_sync_drain(struct lb_dp *dp);
/* CPU time (ns) spent in bench_sync_drain() so far. */
uint64_t bench_sync_cpu_ns(void);
/*
 * Absorb: n datagrams of 15 records each from the peer, through the control
 * thread's checks into the peer table. Prints sync_absorb_* figures; returns 0, or
 * -1 when not every record was stored.
 */
int bench_sync_absorb(struct lb_dp *dp, uint32_t n);

#endif /* LB_BENCH_SYNC_H */
