/*
 * service.h - service objects, the service directory, the backend registry and
 * the address table.
 *
 * Control thread (dp/main.c at start, dp/ctl.c afterwards) builds and publishes;
 * workers only read, through service_fastpath.h.
 *
 * - A service object (struct lb_svc) is immutable once published. An update
 *   builds a new object with its own Maglev table, stores its pointer into the
 *   directory slot with release semantics, and retires the old object through
 *   QSBR (dp/rcu.c). No other service is touched.
 * - The directory maps (VIP, port, protocol) to a service id with a read-mostly
 *   hash (rmhash.h: one writer, lock-free readers); the id comes from
 *   service_ids.c, is stable for the key's lifetime and reused only after a grace
 *   period.
 * - The backend registry gives each (service, backend address, port) a "real" id
 *   that connections store. A real keeps its id across updates of its service, so
 *   established flows keep their backend; a removed backend's real is marked
 *   LB_REAL_REMOVED and its id freed after a grace period.
 * - The address table says what an address is to the box: a VIP, an fnat source
 *   address (with its index), or one of the ports' own addresses.
 */
#ifndef LB_SERVICE_H
#define LB_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_model.h"
#include "scheduler.h"

#define LB_REAL_REMOVED 0xfe /* backend left its service; connections must re-pick */
#define LB_REAL_FREE 0xff    /* id not allocated */

/* lb_addr_info.flags */
#define LB_ADDR_OWN 0x1   /* one of a port's addresses */
#define LB_ADDR_LOCAL 0x2 /* an fnat source address; local_idx valid */
#define LB_ADDR_VIP 0x4   /* at least one service uses it */

struct lb_real {
	uint8_t addr[16];
	uint16_t port;      /* network order */
	uint8_t family;
	uint8_t state;      /* enum lb_backend_state, LB_REAL_REMOVED, LB_REAL_FREE */
	uint32_t svc_id;
	uint32_t neigh;     /* next hop's neighbour entry, LB_NEIGH_NONE: no route */
	uint16_t tx_port;   /* egress port index, LB_PORT_NONE: no route */
	uint16_t weight;
} __attribute__((aligned(64)));

struct lb_svc {
	uint8_t vip[16];
	uint16_t port;                /* network order */
	uint8_t family;
	uint8_t proto;
	uint8_t mode;
	uint8_t affinity;
	uint8_t pick_state;           /* backends in the table: ACTIVE, or DRAINING as fallback */
	uint8_t sched;                /* enum lb_sched: Maglev or pick below */
	uint16_t n_ranges;
	uint32_t id;                  /* directory slot */
	uint32_t version;             /* bumps on every publish of this id */
	uint32_t affinity_timeout_ms;
	uint32_t m;                   /* Maglev table size */
	uint32_t n_backends;
	const uint16_t *table;        /* Maglev: index into real_ids; LB_MAGLEV_EMPTY */
	const uint32_t *real_ids;     /* [n_backends], backends sorted by (address, port) */
	struct lb_sched_set pick;     /* other schedulers: the backends of pick_state */
	const struct lb_prefix *ranges;
	uint64_t publish_tsc;         /* when the control thread stored the pointer */
	uint64_t digest;              /* of the Maglev table and its backends: equal on
				       * every box given the same spec and hash_seed */
	struct lb_svc_spec spec;      /* as given (backends sorted); control thread only */
};

struct lb_addr_info {
	uint32_t vip_refs;   /* services using the address as VIP */
	uint8_t flags;       /* LB_ADDR_* */
	uint8_t local_idx;
};

struct lb_services;
struct lb_dp;

/*
 * What the table tells its owner, on the control thread, during an upsert: the
 * table itself neither announces addresses nor keeps counters (control/ does).
 */
struct lb_svcs_events {
	void (*vip_added)(void *arg, const struct lb_addr *vip);  /* first service on it */
	void (*svc_id_reused)(void *arg, uint32_t id);  /* a new service got this id */
	void (*real_id_reused)(void *arg, uint32_t id); /* a new backend got this id */
	void *arg;
};

/*
 * The id directories (service_ids.c) a persistent state region holds: one entry
 * per service id and per backend id. Bump the version when their layout changes.
 */
#define LB_SVCS_DIR_VERSION 1
size_t lb_svcs_dir_size(uint32_t max_services, uint32_t max_backends);

/*
 * The directories live in dp->svc_dir (dp->svc_dir_len bytes) when the dp has a
 * state region; with dp->svc_dir_adopt, the ids they hold are given back to the
 * same keys (service_ids.h) for dp->adopt_hold_ms.
 */
struct lb_services *lb_svcs_create(struct lb_dp *dp, uint32_t max_services,
				   uint32_t max_backends, char *err, size_t errlen);
void lb_svcs_set_events(struct lb_services *s, const struct lb_svcs_events *ev);
/* Workers must be stopped. */
void lb_svcs_destroy(struct lb_services *s);

/* Register the ports' own and fnat source addresses (at start, before workers). */
int lb_svcs_add_addr(struct lb_services *s, const struct lb_addr *a, uint8_t flags,
		     uint8_t local_idx);

/*
 * Build and publish a service from spec (created or replaced). Validates the spec,
 * sorts its backends, builds the Maglev table, then publishes with one atomic
 * store. On any error nothing changes. Returns the service id or a negative
 * LB_E* with a message in err.
 */
int lb_svcs_upsert(struct lb_services *s, const struct lb_svc_spec *spec, char *err,
		   size_t errlen);
/*
 * The two halves of lb_svcs_upsert(), for a build made off the control thread
 * (svc_build.c). lb_svc_build() validates the spec, sorts its backends and builds
 * the tables into a new, unpublished object; it touches no shared state, so any
 * thread may call it. NULL on error (*rc and err set). lb_svcs_publish() (control
 * thread) gives it a directory slot and real ids and publishes it; it takes svc
 * over either way. lb_svc_discard() frees a built object never published.
 */
struct lb_maglev_cache;
/* cache: recent tables to copy instead of building (the builder's own; NULL for
 * none). *cached: the table came from it. cancel: see lb_maglev_build_cancel()
 * (NULL: never called off); a build called off returns NULL with *rc
 * LB_ECANCELED. */
struct lb_svc *lb_svc_build(const struct lb_svc_spec *spec, uint64_t seed,
			    struct lb_maglev_cache *cache, const int *cancel, bool *cached,
			    int *rc, char *err, size_t errlen);
int lb_svcs_publish(struct lb_services *s, struct lb_svc *svc, char *err, size_t errlen);
void lb_svc_discard(struct lb_svc *svc);
uint64_t lb_svcs_seed(const struct lb_services *s);

/* Unpublish the service with this key. Returns 0 or LB_ENOENT. */
int lb_svcs_delete(struct lb_services *s, const struct lb_addr *vip, uint16_t port,
		   uint8_t proto);
/* Find by key (control thread). NULL when absent. */
const struct lb_svc *lb_svcs_find(const struct lb_services *s, const struct lb_addr *vip,
				  uint16_t port, uint8_t proto);

/* Run deferred frees whose grace period ended (control loop). */
unsigned lb_svcs_reclaim(struct lb_services *s);

/* Iterate the published services (control thread). */
const struct lb_svc *lb_svcs_next(const struct lb_services *s, uint32_t *iter);
uint32_t lb_svcs_count(const struct lb_services *s);
uint32_t lb_svcs_capacity(const struct lb_services *s);
uint32_t lb_reals_capacity(const struct lb_services *s);
const struct lb_svc *lb_svcs_at(const struct lb_services *s, uint32_t id);

/*
 * Backends whose next hop had no neighbour entry (the table was full when they
 * came): try again (control thread, once a second). Returns how many still have none.
 */
uint32_t lb_svcs_retry_neigh(struct lb_services *s);

#define LB_REAL_NO_ROUTE (-1) /* no route to the backend */
#define LB_REAL_NO_ENTRY (-2) /* routed, but no neighbour entry yet (table full) */
/* The next hop's enum lb_neigh_state for a real, or LB_REAL_NO_ROUTE / _NO_ENTRY. */
int lb_real_neigh_state(const struct lb_services *s, uint32_t real_id);
/* "reachable", ... "failed", "no_route", "no_entry" */
const char *lb_real_neigh_name(int state);
/* Can a frame leave for this real now (route, entry and MAC)? */
bool lb_real_resolved(const struct lb_services *s, uint32_t real_id);

#endif /* LB_SERVICE_H */
