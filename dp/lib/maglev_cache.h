/*
 * maglev_cache.h - recently built Maglev tables, by their exact inputs.
 *
 * A table is a pure function of (m, seed, backends with weights) (maglev.h), so a
 * build whose inputs equal an earlier build's can copy that table instead of
 * populating it again: a backend that fails its health check and comes back, or
 * a weight set back, costs a copy (tens of microseconds at m = 65537) instead of a
 * build (about a millisecond). Hits are checked byte for byte, never by a hash
 * alone, so a copy is always the table lb_maglev_build() would have made.
 *
 * Owned by one thread (the dp's service builder, dp/tables/svc_build.c); not
 * thread-safe. Pure C, no DPDK. Only tables of at least LB_MAGLEV_CACHE_MIN_M slots
 * are kept (smaller ones build in tens of microseconds anyway), least recently
 * used first out once the entries exceed the byte budget.
 */
#ifndef LB_MAGLEV_CACHE_H
#define LB_MAGLEV_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "maglev.h"

#define LB_MAGLEV_CACHE_MIN_M 4093u

struct lb_maglev_cache;

/* NULL on ENOMEM; budget_bytes 0 gives a cache that keeps nothing. */
struct lb_maglev_cache *lb_maglev_cache_create(size_t budget_bytes);
void lb_maglev_cache_destroy(struct lb_maglev_cache *c);

/*
 * lb_maglev_build_cancel(table, m, b, n, seed, cancel), or a copy of the table
 * an earlier call with the same m, seed and b[] (keys, weights, order) built. c
 * may be NULL (then it only builds). *hit says which; *table_hash is
 * lb_hash_bytes(table, m * 2, 0), kept with the table so a copy does not hash it
 * again (dp/tables/service.c puts it in the service's digest). Same return values as lb_maglev_build_cancel(); a
 * failed or called-off build is not kept.
 */
int lb_maglev_cache_build(struct lb_maglev_cache *c, uint16_t *table, uint32_t m,
			  const struct lb_maglev_backend *b, uint32_t n, uint64_t seed,
			  const int *cancel, bool *hit, uint64_t *table_hash);

struct lb_maglev_cache_stats {
	uint64_t hits, misses;
	uint32_t entries;
	size_t bytes;
};
void lb_maglev_cache_stats(const struct lb_maglev_cache *c, struct lb_maglev_cache_stats *st);

#endif /* LB_MAGLEV_CACHE_H */
