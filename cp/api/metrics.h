/*
 * metrics.h - GET /metrics: edgelb-cp's state, the dp's counters and any
 * extra lines a hook adds (the Kubernetes controller's), in Prometheus text
 * format (docs/operations.md lists the series).
 *
 * Called by the API (api.c) on libmicrohttpd's threads; reads the store under
 * its lock and asks the dp sync thread's connection for stats.get.
 */
#ifndef LB_CP_METRICS_H
#define LB_CP_METRICS_H

#include <stddef.h>

#include "buf.h"

struct cp_store;
struct cp_dpsync;

/* Extra /metrics lines (Kubernetes controller state); appends with cp_buf_printf. */
typedef void (*cp_metrics_fn)(void *arg, char **buf, size_t *len, size_t *cap);

/*
 * The whole /metrics text, malloc'ed, its length in *len; NULL when nothing
 * could be allocated. dps and hook may be NULL.
 */
char *cp_metrics_render(struct cp_store *store, struct cp_dpsync *dps, cp_metrics_fn hook,
			void *hook_arg, size_t *len);

#endif /* LB_CP_METRICS_H */
