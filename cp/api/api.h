/*
 * api.h - edgelb-cp's HTTP API (libmicrohttpd): the cloud-provider-like
 * /v1/loadbalancers REST API, /v1/pools, /v1/stats, /v1/conns, /healthz and
 * /metrics. Served from libmicrohttpd's own threads; everything it touches is
 * the store (locked) or a one-shot dp request. Documented in docs/api.md.
 */
#ifndef LB_CP_API_H
#define LB_CP_API_H

#include <stddef.h>

#include <jansson.h>

struct cp_conf;
struct cp_store;
struct cp_dpsync;
struct cp_api;

/* Extra /metrics lines (Kubernetes controller state); appends to a buffer. */
typedef void (*cp_metrics_fn)(void *arg, char **buf, size_t *len, size_t *cap);

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
/* Whether the API accepts load balancer changes (false in kubernetes mode). */
void cp_api_set_read_only(struct cp_api *a, const char *why);
void cp_api_stop(struct cp_api *a);

/* Append printf-style text to a growing buffer (for metrics hooks). */
void cp_buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif /* LB_CP_API_H */
