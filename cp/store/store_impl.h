/*
 * store_impl.h - the store's insides, shared by store.c (open, mutations,
 * reads) and store_sync.c (dp sync, health, metrics). Not for callers outside
 * cp/store: they see struct cp_store only through store.h. Everything here is
 * touched with s->mu held.
 */
#ifndef LB_CP_STORE_IMPL_H
#define LB_CP_STORE_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpconf.h"
#include "ipam.h"
#include "lb.h"

struct entry {
	struct cp_lb lb;
	uint8_t *health; /* per backend: 0 unknown, 1 up, 2 down */
};

struct cp_store {
	pthread_mutex_t mu;
	pthread_cond_t changed;
	struct lb_ipam *ipam;
	struct entry *e;
	uint32_t n, cap;
	uint64_t version;
	char path[CP_PATH_MAX];
	struct cp_health_check hc_defaults;
	bool alloc_only;       /* kubernetes mode: the file keeps allocations only */
	bool ready;            /* the dp may be synced (kubernetes: after the first reconcile) */
	uint64_t file_writes, file_bytes;
};

/* Something changed: wake the dp sync and health threads. With s->mu held. */
static inline void
bump(struct cp_store *s)
{
	s->version++;
	pthread_cond_broadcast(&s->changed);
}

#endif /* LB_CP_STORE_IMPL_H */
