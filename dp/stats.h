/*
 * stats.h - the dp's counters, summed and shaped for people and programs.
 *
 * Control thread only. Reads the workers' counters without stopping them (each
 * 64-bit counter is written by one worker, so a read sees an old or new value).
 * The JSON shape is the `stats.get` result of the control protocol
 * (docs/control-protocol.md) and the --stats-json file.
 */
#ifndef LB_STATS_H
#define LB_STATS_H

#include <stdio.h>

#include <jansson.h>

struct lb_dp;

json_t *lb_stats_json(const struct lb_dp *dp);
void lb_stats_print(const struct lb_dp *dp, FILE *f);

#endif /* LB_STATS_H */
