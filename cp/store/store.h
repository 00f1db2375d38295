/*
 * store.h - the control plane's load balancers, their addresses and health,
 * and the state file that keeps them across restarts.
 *
 * Shared by the API thread(s) (libmicrohttpd), the dp sync thread, the health
 * checker and the Kubernetes controller; one mutex guards everything (nothing
 * here is on a packet path). store.c is the in-memory store, store_sync.c its
 * readers for the dp sync, health and metrics callers, state.c the state
 * file's codec. Every change is written to the state file
 * (temporary file, fsync, rename, fsync of the directory) before it is
 * acknowledged, so an answer the API gave survives kill -9. In kubernetes mode
 * the file keeps only allocations (cp_lb_alloc_json): endpoint changes write
 * nothing; Services and EndpointSlices are the source of the rest.
 */
#ifndef LB_CP_STORE_H
#define LB_CP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cpconf.h"
#include "lb.h"

struct cp_store;

/* Open the store: read the state file (if any) and re-take every allocation. */
struct cp_store *cp_store_open(const struct cp_conf *c, char *err, size_t errlen);
void cp_store_close(struct cp_store *s);

/*
 * Mutations. Each takes ownership of lb (freed on return either way), answers
 * with the stored object as JSON in *out (the caller decrefs), and returns 0 or
 * an LB_E* code with err set: LB_EINVAL (bad request: 400), LB_ENOENT (no such
 * load balancer or pool: 404), LB_EEXIST / LB_ECONFLICT / LB_EFULL (409), LB_EIO
 * (state file not written: 500, nothing changed).
 * With pending_ok (Kubernetes), an address that cannot be allocated leaves the
 * load balancer stored as pending (status message) instead of failing.
 */
int cp_store_create(struct cp_store *s, struct cp_lb *lb, bool pending_ok, json_t **out,
		    char *err, size_t errlen);
/* Replace the spec; addresses stay unless the request changes what they must be. */
int cp_store_replace(struct cp_store *s, struct cp_lb *lb, bool pending_ok, json_t **out,
		     char *err, size_t errlen);
int cp_store_set_backends(struct cp_store *s, const char *ns, const char *name,
			  const json_t *body, json_t **out, char *err, size_t errlen);
int cp_store_delete(struct cp_store *s, const char *ns, const char *name, json_t **out,
		    char *err, size_t errlen);

/* Reads (new references; NULL when absent). */
json_t *cp_store_get(struct cp_store *s, const char *ns, const char *name);
json_t *cp_store_list(struct cp_store *s);
json_t *cp_store_pools(struct cp_store *s);
/* A copy of one load balancer (cp_lb_free it); LB_ENOENT when absent. */
int cp_store_copy(struct cp_store *s, const char *ns, const char *name, struct cp_lb *out);
/*
 * Keys ("ns/name") of every load balancer, or only of those waiting for an
 * address; *keys malloc'd array of malloc'd strings.
 */
int cp_store_keys(struct cp_store *s, bool pending_only, char ***keys, uint32_t *n);

/* SIGHUP: new pools; allocations no pool holds any more are re-assigned. */
int cp_store_reload(struct cp_store *s, const struct cp_conf *c, char *err, size_t errlen);

/* ---- for the dp sync thread -------------------------------------------- */

/* Bumps on every change that alters dp services. */
uint64_t cp_store_version(struct cp_store *s);
/* Wait until the version differs from seen, or timeout_ms passes. */
void cp_store_wait(struct cp_store *s, uint64_t seen, int timeout_ms);
/* Every dp service of every load balancer (see cp_lb_dp_specs), at *version. */
int cp_store_dp_specs(struct cp_store *s, struct lb_svc_spec **out, uint32_t *n,
		      uint64_t *version);

/* ---- for the health checker -------------------------------------------- */

struct cp_hc_target {
	char key[LB_OWNER_MAX];      /* "ns/name" */
	struct lb_addr addr;
	uint16_t port;               /* port to check */
	struct cp_health_check hc;
};

/* Every backend to check (load balancers with a health check), at *version. */
int cp_store_hc_targets(struct cp_store *s, struct cp_hc_target **out, uint32_t *n,
			uint64_t *version);
/* Record a backend's health (1 up, 2 down); bumps the version when it changed. */
void cp_store_set_health(struct cp_store *s, const char *key, const struct lb_addr *addr,
			 uint16_t port, uint8_t health);

/*
 * Kubernetes mode: the store opens not ready, and the dp sync thread waits until
 * the controller has reconciled every Service once (the state file has no
 * backends in that mode: syncing before would empty the dp's services).
 */
void cp_store_set_ready(struct cp_store *s);
bool cp_store_ready(struct cp_store *s);
/* State file writes and bytes written since start (/metrics). */
void cp_store_file_stats(struct cp_store *s, uint64_t *writes, uint64_t *bytes);

/* Counts for /metrics: load balancers, pending ones, backends down. */
void cp_store_counts(struct cp_store *s, uint32_t *lbs, uint32_t *pending, uint32_t *down);

#endif /* LB_CP_STORE_H */
