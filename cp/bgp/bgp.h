/*
 * bgp.h - the bgp thread: decides which VIPs the box announces and drives the
 * box's BIRD 2 (a generated include file of static routes, then "configure" on
 * BIRD's control socket), and the box's drain state.
 *
 * One thread. It keeps its own connection to the dp control socket and probes it
 * (hello) every bgp.check_interval_ms: a dp that dies closes the socket and is
 * seen at once; one that stops answering for bgp.dp_timeout_ms counts as dead.
 * Decisions: cp/lib/announce.c. The API threads call cp_bgp_drain() and read
 * cp_bgp_status_json() (under the module's mutex). Documented in
 * docs/configuration.md (bgp) and docs/operations.md (running several boxes).
 */
#ifndef LB_CP_BGP_H
#define LB_CP_BGP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct cp_conf;
struct cp_store;
struct cp_dpsync;
struct cp_bgp;

struct cp_bgp *cp_bgp_start(const struct cp_conf *c, struct cp_store *store,
			    struct cp_dpsync *dps, char *err, size_t errlen);
void cp_bgp_stop(struct cp_bgp *b);

/*
 * Drain (on) or undrain (off) the box. timeout_s: how long established flows
 * are waited for (0 = the configured default). Kept across restarts of the cp
 * (a file beside the state file). Returns 0 or LB_EIO (file not written).
 */
int cp_bgp_drain(struct cp_bgp *b, bool on, uint32_t timeout_s, char *err, size_t errlen);

/* {"dp": ..., "gate": ..., "vips": [...], "bird": {...}, "drain": {...}} (new ref). */
json_t *cp_bgp_status_json(struct cp_bgp *b);
json_t *cp_bgp_drain_json(struct cp_bgp *b);

/* /metrics lines (a cp_metrics_fn). */
void cp_bgp_metrics(void *arg, char **buf, size_t *len, size_t *cap);

/*
 * The API's routes /v1/bgp (GET) and /v1/drain (GET, POST {"timeout_s": N},
 * DELETE): a cp_route_fn (api.h).
 */
int cp_bgp_route(void *arg, const char *method, const char *url, const char *body, size_t len,
		 json_t **out, char *err, size_t errlen);

#endif /* LB_CP_BGP_H */
