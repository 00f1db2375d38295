/*
 * maglev_priv.h - what maglev.c and maglev_claim.c share: a backend's place in
 * its permutation, the modular arithmetic, the walks (inline: populate() runs
 * one per claim) and where a claim lands without walking.
 *
 * Not for other modules: lb_maglev_build() in maglev.h is the interface.
 */
#ifndef LB_MAGLEV_PRIV_H
#define LB_MAGLEV_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "maglev.h"

/* Population state of one backend with weight > 0. With maglev.c's struct ord,
 * the scratch a build needs: O(n), and m bits of occupancy while claiming in
 * batches. */
struct perm {
	uint32_t next;   /* next position of this backend's permutation, as a slot */
	uint32_t skip;
	uint32_t inv;    /* skip^-1 mod m, computed when first needed; 0 = not yet */
	uint32_t weight;
	uint64_t credit; /* below max_weight between turns; 64-bit so weight + credit cannot wrap */
	uint64_t due;    /* by heap: the round of its next claim */
	uint16_t idx;
};

/*
 * Once this few slots are free, a backend's next free slot is found by ranking the
 * free slots (at most FREE_MAX multiplies per claim) rather than by walking its
 * permutation (m / free probes per claim on average). The walk spends about
 * m * ln(FREE_MAX) of its m * ln(m) probes in this stretch. 32..256 measured
 * alike at m = 65537, n = 1000, 512 slower; see dp/bench/bench_maglev.c.
 */
#define FREE_MAX 128u

/* Claims made by walking (or in batches) before the last FREE_MAX are ranked. */
static inline uint32_t
walked_claims(uint32_t m)
{
	return m > FREE_MAX ? m - FREE_MAX : 0;
}

/* (c + d) mod m for c, d < m: a conditional subtract instead of a division. */
static inline uint32_t
mod_add(uint32_t c, uint32_t d, uint32_t m)
{
	c += d;
	return c >= m ? c - m : c;
}

/*
 * x mod d for d >= 2 without a division: Barrett reduction with d_recip =
 * UINT64_MAX / d = floor((2^64 - 1) / d) >= 2^64 / d - 1, so x * d_recip / 2^64
 * > x / d - 1 for every 64-bit x: the estimated quotient is the true one or one
 * less, and one conditional subtract finishes it.
 */
static inline uint32_t
mod_u64(uint64_t x, uint32_t d, uint64_t d_recip)
{
	uint64_t q = (uint64_t)(((unsigned __int128)x * d_recip) >> 64);
	uint64_t r = x - q * d;

	return (uint32_t)(r >= d ? r - d : r);
}

/*
 * The first free slot after position c of the permutation with step s. A single
 * walk is bound by its add/compare/select chain on the position, so this runs
 * four interleaved walks with stride 4s (c + s, c + 2s, c + 3s, c + 4s, then each
 * + 4s): their loads are independent, the chain per probe is a quarter, and
 * checking them in that order keeps the permutation's. Measured at m = 65537,
 * n = 1000: two walks took 25 % off one, four another 3 %.
 */
static inline __attribute__((always_inline)) uint32_t
free_after(const uint16_t *table, uint32_t m, uint32_t c, uint32_t s)
{
	uint32_t s2 = mod_add(s, s, m), s4 = mod_add(s2, s2, m);
	uint32_t a = mod_add(c, s, m), b = mod_add(c, s2, m);
	uint32_t x = mod_add(a, s2, m), y = mod_add(b, s2, m);

	for (;;) {
		if (table[a] == LB_MAGLEV_EMPTY)
			return a;
		if (table[b] == LB_MAGLEV_EMPTY)
			return b;
		if (table[x] == LB_MAGLEV_EMPTY)
			return x;
		if (table[y] == LB_MAGLEV_EMPTY)
			return y;
		a = mod_add(a, s4, m);
		b = mod_add(b, s4, m);
		x = mod_add(x, s4, m);
		y = mod_add(y, s4, m);
	}
}

/* Walk e's permutation from e->next to the first free slot (Pseudocode 1's inner
 * loop) and step e->next past it. */
static inline uint32_t
walk(const uint16_t *table, uint32_t m, struct perm *e)
{
	uint32_t s = e->skip, c = e->next;

	if (table[c] != LB_MAGLEV_EMPTY)
		c = free_after(table, m, c, s);
	e->next = mod_add(c, s, m);
	return c;
}

/*
 * walk() with K probes taken without a branch on each: from e->next, their
 * outcomes go into a mask and the first free one is picked by bit scan, so a
 * claim does not end on a mispredicted branch. Only when all K are taken does it
 * branch, to free_after() the K-th. The same probes in the same order as
 * walk(), so the same slot. K is even and at most 32.
 */
static inline __attribute__((always_inline)) uint32_t
walk_k(const uint16_t *table, uint32_t m, struct perm *e, const unsigned K)
{
	uint32_t s = e->skip, s2 = mod_add(s, s, m), c;
	uint32_t a = e->next, b = mod_add(a, s, m), pos[32], mask = 0;

	for (unsigned k = 0; k < K; k += 2) {
		pos[k] = a;
		pos[k + 1] = b;
		mask |= (uint32_t)(table[a] == LB_MAGLEV_EMPTY) << k;
		mask |= (uint32_t)(table[b] == LB_MAGLEV_EMPTY) << (k + 1);
		a = mod_add(a, s2, m);
		b = mod_add(b, s2, m);
	}
	if (__builtin_expect(mask != 0, 1))
		c = pos[__builtin_ctz(mask)];
	else
		c = free_after(table, m, pos[K - 1], s);
	e->next = mod_add(c, s, m);
	return c;
}

/* A caller's request to give up (lb_maglev_build_cancel), read before each chunk
 * of claims of the walk. */
static inline bool
cancel_requested(const int *cancel)
{
	return cancel != NULL && __atomic_load_n(cancel, __ATOMIC_RELAXED) != 0;
}

/*
 * The free slots of a table with at most FREE_MAX of them into free_slots[], in
 * slot order; returns how many.
 */
uint32_t maglev_collect_free(const uint16_t *table, uint32_t m, uint32_t *free_slots);

/*
 * The same answer as walk() when only n_free slots are left (their slots in
 * free_slots[]): returns the index into free_slots[] and steps e->next past it.
 * m_recip = UINT64_MAX / m.
 */
uint32_t maglev_nearest_free(const uint32_t *free_slots, uint32_t n_free, uint32_t m,
			     uint64_t m_recip, struct perm *e);

/*
 * The first claims of an equal-weight build (claimers p[0..np) in turn, p[*j_next]
 * next), in batches of 16 where the CPU has AVX-512 F and CD and np >= 32, up
 * to 90 % of the table and never into its last FREE_MAX slots: the claims walk()
 * would make, in the same order.
 * *filled: the claims made before (0) and after; *j_next and each p->next move
 * on. Returns 0, or LB_ECANCELED (read as often as populate() reads it). Makes
 * no claim (returns 0, *filled unchanged) where batches cannot run.
 */
int maglev_claim_in_batches(uint16_t *table, uint32_t m, struct perm *p, uint32_t np,
			    uint32_t *j_next, uint32_t *filled, const int *cancel);

#endif /* LB_MAGLEV_PRIV_H */
