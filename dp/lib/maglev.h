/*
 * maglev.h - Maglev consistent hashing (Eisenbud et al., NSDI 2016, Pseudocode 1).
 *
 * Owns the lookup-table population only. The dp control thread calls
 * lb_maglev_build() when it builds a service object (dp/service.c); workers only
 * index the finished table with lb_maglev_pick(). Pure C, no DPDK, no EAL.
 *
 * Determinism: the table depends only on the set of (key, weight) pairs, the table
 * size and the seed, never on the order of the input array: backends are ordered by
 * their key bytes before population, and offset/skip come from seeded hashes of the
 * key. Two processes (or two boxes) with the same seed build identical tables.
 *
 * Weights: each round every backend earns `weight` credits and takes one slot per
 * `max_weight` credits, so over the table a backend's share is weight / sum(weights).
 */
#ifndef LB_MAGLEV_H
#define LB_MAGLEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_error.h"
#include "hash.h"

#define LB_MAGLEV_EMPTY 0xffffu /* table entry when no backend takes new flows */

struct lb_maglev_backend {
	const void *key;  /* stable identity bytes, e.g. family|address|port */
	size_t key_len;
	uint32_t weight;  /* 0 = not placed in the table */
};

/*
 * Fill table[0..m-1] with indexes into b[] (the caller's order). m must be a prime
 * (lb_maglev_m_valid()), n at most 65535 (LB_MAGLEV_EMPTY is reserved). With no
 * backend of non-zero weight the table is all LB_MAGLEV_EMPTY.
 * Allocates O(n + m / 32) scratch memory with malloc and frees it before
 * returning.
 * Returns 0, LB_EINVAL (bad m, n, or duplicate keys) or LB_ENOMEM.
 */
int lb_maglev_build(uint16_t *table, uint32_t m, const struct lb_maglev_backend *b,
		    uint32_t n, uint64_t seed);

/*
 * lb_maglev_build() that can be called off: before every LB_MAGLEV_CANCEL_EVERY
 * claims, until only the last 128 slots are free, it reads *cancel (an atomic
 * load: another thread sets it) and returns LB_ECANCELED if it is non-zero,
 * leaving the table part-filled. cancel may be NULL (never called off). A build
 * that is not called off makes the same table as lb_maglev_build(). Tables of at
 * most 128 slots are never called off (they fill in one final pass).
 */
#define LB_MAGLEV_CANCEL_EVERY 4096u
int lb_maglev_build_cancel(uint16_t *table, uint32_t m, const struct lb_maglev_backend *b,
			   uint32_t n, uint64_t seed, const int *cancel);

/*
 * Where the CPU has AVX-512 F and CD, builds with equal weights and at least 32
 * backends make most claims in batches of 16 (maglev_claim.c, "Claims in
 * batches"); elsewhere, or after lb_maglev_use_batches(false), by the portable
 * walks only. Both give the same table (tests/test_maglev.c builds each way).
 * A switch for tests and benchmarks; a build in progress on another thread may
 * still go the old way. Returns whether batches run from now on.
 */
bool lb_maglev_use_batches(bool on);

/* The slot a flow hash falls into; a multiply-shift, no division on the fast path. */
static inline uint16_t
lb_maglev_pick(const uint16_t *table, uint32_t m, uint32_t flow_hash)
{
	return table[lb_hash_reduce(flow_hash, m)];
}

#endif /* LB_MAGLEV_H */
