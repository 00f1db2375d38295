/*
 * sync_lag.h - a small fixed log-scale histogram of flow sync lag, in microseconds
 * (docs/flow-sync.md "Lag").
 *
 * Pure code: no EAL, no threads. The control thread (dp/control/sync.c) owns one
 * and adds a sample per records datagram it accepts; hello and stats.get read the
 * percentiles from it. Buckets: 0..3 us one each, then 4 per power of two up to
 * 2^32 us, so a percentile is the middle of its bucket, within 12.5 % of the value.
 */
#ifndef LB_SYNC_LAG_H
#define LB_SYNC_LAG_H

#include <stdint.h>

#define LB_LAG_BUCKETS 124

struct lb_lag_hist {
	uint64_t n;                       /* samples */
	uint64_t ahead;                   /* samples from a clock ahead of ours (counted as 0) */
	uint64_t max_us;
	uint64_t b[LB_LAG_BUCKETS];
};

/* One sample: receive time minus send time (microseconds, may be negative). */
void lb_lag_add(struct lb_lag_hist *h, int64_t lag_us);

/* The q-th quantile (0 < q <= 1) in microseconds; 0 without samples. */
uint64_t lb_lag_quantile(const struct lb_lag_hist *h, double q);

#endif /* LB_SYNC_LAG_H */
