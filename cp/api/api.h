/*
 * api.h - edgelb-cp's HTTP API (libmicrohttpd): the cloud-provider-like
 * /v1/loadbalancers REST API, /v1/pools, /v1/stats, /v1/conns, /healthz and
 * /metrics. Started and stopped by main.c; served from libmicrohttpd's own
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

struct cp_api *cp_api_start(const struct cp_conf *c, struct cp_store *store,
			    struct cp_dpsync *dps, char *err, size_t errlen);
void cp_api_set_metrics_hook(struct cp_api *a, cp_metrics_fn fn, void *arg);
/* Extra /healthz fields (the Kubernetes leader election); adds members to obj. */
typedef void (*cp_health_fn)(void *arg, json_t *obj);
void cp_api_set_health_hook(struct cp_api *a, cp_health_fn fn, void *arg);
/* Whether the API accepts load balancer changes (false in kubernetes mode). */
void cp_api_set_read_only(struct cp_api *a, const char *why);
void cp_api_stop(struct cp_api *a);

#endif /* LB_CP_API_H */
