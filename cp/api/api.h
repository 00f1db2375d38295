/*
 * api.h - edgelb-cp's HTTP API (libmicrohttpd): the cloud-provider-like
 * /v1/loadbalancers REST API, /v1/pools, /v1/stats, /v1/conns, /healthz and
 * /metrics, and the routes other modules add (cp/bgp: /v1/drain, /v1/bgp).
 * Started and stopped by main.c; served from libmicrohttpd's own
 * threads; everything it touches is the store (locked) or a one-shot dp
 * request. Documented in docs/api.md.
 */
#ifndef LB_CP_API_H
#define LB_CP_API_H

#include <stddef.h>

#include <jansson.h>

#include "metrics.h"   /* cp_metrics_fn; cp_buf_printf for hooks */

struct cp_conf;
struct cp_store;
struct cp_dpsync;
struct cp_api;

/*
 * An extra route (another module's resource, e.g. cp/bgp's /v1/drain): called
 * for every authorised /v1 request with the complete body. Returns 0 when the
 * url is not its own, else the HTTP status with *out (JSON, stolen) on success
 * or err on failure.
 */
typedef int (*cp_route_fn)(void *arg, const char *method, const char *url, const char *body,
			   size_t len, json_t **out, char *err, size_t errlen);

struct cp_api *cp_api_start(const struct cp_conf *c, struct cp_store *store,
			    struct cp_dpsync *dps, char *err, size_t errlen);
/* Add a /metrics hook or a route (at most 4 of each, before requests arrive). */
void cp_api_set_metrics_hook(struct cp_api *a, cp_metrics_fn fn, void *arg);
void cp_api_add_route(struct cp_api *a, cp_route_fn fn, void *arg);
/* Extra /healthz fields (the Kubernetes leader election); adds members to obj. */
typedef void (*cp_health_fn)(void *arg, json_t *obj);
void cp_api_set_health_hook(struct cp_api *a, cp_health_fn fn, void *arg);
/* Whether the API accepts load balancer changes (false in kubernetes mode). */
void cp_api_set_read_only(struct cp_api *a, const char *why);
void cp_api_stop(struct cp_api *a);

#endif /* LB_CP_API_H */
