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

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

struct lb_dp;
struct lb_svc;

/*
 * Service and backend ids are reused; the counters of an id restart at zero when
 * a new service or backend takes it. struct lb_stats keeps, per id, the workers'
 * sums at that moment (the table reports reuse through struct lb_svcs_events).
 */
int lb_stats_create(struct lb_dp *dp, char *err, size_t errlen);
void lb_stats_destroy(struct lb_dp *dp);
void lb_stats_svc_rebase(struct lb_dp *dp, uint32_t id);
void lb_stats_real_rebase(struct lb_dp *dp, uint32_t id);
/* New fnat flows to backend id dropped for want of a SNAT port (no_snat), all workers. */
uint64_t lb_stats_real_snat_exhausted(const struct lb_dp *dp, uint32_t id);

/* Counters since the id was given, summed over the workers. */
void lb_stats_svc(const struct lb_dp *dp, uint32_t id, uint64_t *pkts, uint64_t *bytes);
void lb_stats_real(const struct lb_dp *dp, uint32_t id, uint64_t *pkts, uint64_t *bytes,
		   int64_t *conns);
/* A service's spec with its counters and those of its backends (stats.get). */
/* A backend's next hop into its JSON: "neighbour" (state) and "unresolved" (bool). */
void lb_stats_backend_neigh(const struct lb_dp *dp, uint32_t real_id, json_t *bj);
json_t *lb_stats_svc_json(const struct lb_dp *dp, const struct lb_svc *svc);

json_t *lb_stats_json(const struct lb_dp *dp);
void lb_stats_print(const struct lb_dp *dp, FILE *f);

#endif /* LB_STATS_H */
