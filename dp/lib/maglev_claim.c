/*
 * maglev_claim.c - where a Maglev claim lands when it is not walked one probe at
 * a time: the last FREE_MAX slots ranked (maglev_nearest_free()), and the first
 * 90 % of an equal-weight table claimed in batches of 16 with AVX-512
 * (maglev_claim_in_batches()). Both give exactly the slot walk() would, so the
 * table stays Pseudocode 1's. Pure C, no DPDK; called by maglev.c only.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lb_error.h"
#include "maglev.h"
#include "maglev_priv.h"

/* claim_batches() (AVX-512, chosen at run time) and maglev_collect_free() (SSE2) */
#if defined(__x86_64__) && defined(__GNUC__)
#define MAGLEV_BATCHES 1
#include <immintrin.h>
#else
#define MAGLEV_BATCHES 0
#endif
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* a * b mod m for a, b < m (so a * b < 2^40), by mod_u64(). */
static inline uint32_t
mod_mul(uint32_t a, uint32_t b, uint32_t m, uint64_t m_recip)
{
	return mod_u64((uint64_t)a * b, m, m_recip);
}

/* a^-1 mod m for prime m and 0 < a < m (extended Euclid). */
static uint32_t
mod_inv(uint32_t a, uint32_t m)
{
	int64_t r0 = m, r1 = a, t0 = 0, t1 = 1;

	while (r1 != 0) {
		int64_t q = r0 / r1, t;

		t = r0 - q * r1;
		r0 = r1;
		r1 = t;
		t = t0 - q * t1;
		t0 = t1;
		t1 = t;
	}
	return (uint32_t)(t0 < 0 ? t0 + m : t0);
}

/*
 * The same answer as walk() when only n_free slots are left: slot x sits
 * (x - next) * skip^-1 mod m steps ahead in e's permutation, and the walk would
 * stop at the free slot with the fewest steps. Steps are distinct (a bijection),
 * so there are no ties. mod_mul() here runs at most FREE_MAX^2 / 2 times a build.
 * Returns the index into free_slots[].
 */
uint32_t
maglev_nearest_free(const uint32_t *free_slots, uint32_t n_free, uint32_t m, uint64_t m_recip,
	     struct perm *e)
{
	uint32_t c = e->next, best = UINT32_MAX, k_best = 0;

	if (e->inv == 0)
		e->inv = mod_inv(e->skip, m);
	for (uint32_t k = 0; k < n_free; k++) {
		uint32_t x = free_slots[k];
		uint32_t dx = x >= c ? x - c : x + m - c;
		uint32_t steps = mod_mul(dx, e->inv, m, m_recip);

		if (steps < best) {
			best = steps;
			k_best = k;
		}
	}
	e->next = mod_add(free_slots[k_best], e->skip, m);
	return k_best;
}

/*
 * The free slots of a table with at most FREE_MAX of them, in slot order: 32
 * entries at a time tested for an empty one (0xffff) with SSE2 where there is
 * SSE2 (every x86-64), a 64-bit word of four elsewhere; only a block with one is
 * looked at entry by entry.
 */
#if defined(__SSE2__)
#define FREE_BLOCK 32u

static inline bool
block_has_free(const uint16_t *entries)
{
	const __m128i empty = _mm_set1_epi16((short)LB_MAGLEV_EMPTY);
	const __m128i_u *v = (const __m128i_u *)(const void *)entries; /* unaligned */
	__m128i e0 = _mm_cmpeq_epi16(_mm_loadu_si128(v), empty);
	__m128i e1 = _mm_cmpeq_epi16(_mm_loadu_si128(v + 1), empty);
	__m128i e2 = _mm_cmpeq_epi16(_mm_loadu_si128(v + 2), empty);
	__m128i e3 = _mm_cmpeq_epi16(_mm_loadu_si128(v + 3), empty);

	return _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(e0, e1), _mm_or_si128(e2, e3))) != 0;
}
#else
#define FREE_BLOCK 4u

/* A word holds an empty entry exactly when its complement has a zero 16-bit
 * lane, which the usual carry test finds. */
static inline bool
block_has_free(const uint16_t *entries)
{
	const uint64_t ones = 0x0001000100010001ULL, highs = 0x8000800080008000ULL;
	uint64_t w;

	memcpy(&w, entries, sizeof(w));
	w = ~w;
	return ((w - ones) & ~w & highs) != 0;
}
#endif

uint32_t
maglev_collect_free(const uint16_t *table, uint32_t m, uint32_t *free_slots)
{
	uint32_t n = 0, x = 0;

	for (; x + FREE_BLOCK <= m; x += FREE_BLOCK) {
		if (!block_has_free(table + x))
			continue;
		for (uint32_t i = x; i < x + FREE_BLOCK; i++)
			if (table[i] == LB_MAGLEV_EMPTY)
				free_slots[n++] = i;
	}
	for (; x < m; x++)
		if (table[x] == LB_MAGLEV_EMPTY)
			free_slots[n++] = x;
	return n;
}

/*
 * Claims in batches: equal weights, x86-64 with AVX-512 F and CD (found at run
 * time), up to BATCH_UNTIL_PCT of the table; then populate() goes on as anywhere
 * else. The next 16 claimers walk their permutations side by side, one vector
 * of 16 positions, one gather of 16 occupancy bits a step, and each lane stops
 * at its first free slot; then the 16 claims are made in turn order. A lane saw
 * the table as it was before the batch, so its slot is the one walk() would
 * give unless a lane before it in the batch took the same slot (every position
 * it passed was taken before the batch, so is still taken); then that claimer
 * walks on from there. Same probes, same claims, same table; found with the
 * conflict-detect instruction, a batch with no two lanes on one slot (nearly
 * all of them) is claimed without a check per lane. The walks end on one
 * mispredicted branch a batch instead of one a claim: at m = 65537, n = 1000,
 * 4-25 cycles a claim from empty to 90 % full, against 5-36 for the walks
 * (docs/performance.md, "Maglev table build"). Past 90 % a batch waits on its
 * slowest lane and walk() is as fast.
 */
#if MAGLEV_BATCHES
#define BATCH 16u
#define BATCH_UNTIL_PCT 90u
#define BATCH_MIN_BACKENDS 32u /* fewer: batches are mostly empty lanes */

static int use_batches = -1; /* -1: not yet asked; then 0 or 1 */

static bool
cpu_has_batches(void)
{
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd");
}

bool
lb_maglev_use_batches(bool on)
{
	bool can = on && cpu_has_batches();

	__atomic_store_n(&use_batches, can, __ATOMIC_RELAXED);
	return can;
}

/* Whether batches run: the CPU is asked by the first build, and a concurrent
 * lb_maglev_use_batches() is not overwritten by that first answer. */
static bool
batches_on(void)
{
	int on = __atomic_load_n(&use_batches, __ATOMIC_RELAXED), unasked = -1;

	if (on >= 0)
		return on;
	on = cpu_has_batches();
	if (!__atomic_compare_exchange_n(&use_batches, &unasked, on, false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		on = unasked; /* someone else set it first */
	return on;
}

/* Slot c to backend idx, in the table and in the occupancy bitmap. */
static inline void
claim(uint16_t *table, uint32_t *occ, uint32_t c, uint16_t idx)
{
	table[c] = idx;
	occ[c >> 5] |= 1u << (c & 31);
}

/* x mod m for each lane, x < 2m: x - m where that does not wrap below x. */
__attribute__((target("avx512f"))) static inline __m512i
mod_m(__m512i x, __m512i vm)
{
	return _mm512_min_epu32(x, _mm512_sub_epi32(x, vm));
}

/*
 * Claims [filled, until) by batches, p[*j_next] first. occ: the occupancy
 * bitmap; next[], skip[]: each backend's position and skip in p's order, for
 * vector loads.
 */
__attribute__((target("avx512f,avx512cd"))) static uint32_t
claim_batches(uint16_t *table, uint32_t m, const struct perm *p, uint32_t np, uint32_t *j_next,
	      uint32_t *occ, uint32_t *next, const uint32_t *skip, uint32_t filled, uint32_t until)
{
	const __m512i vm = _mm512_set1_epi32((int)m), low5 = _mm512_set1_epi32(31),
		      one = _mm512_set1_epi32(1);
	uint32_t slot[BATCH];

	while (filled < until) {
		uint32_t j = *j_next, len = np - j < BATCH ? np - j : BATCH;

		if (len > until - filled)
			len = until - filled;
		__mmask16 lanes = (__mmask16)((1u << len) - 1), walking = lanes;
		__m512i pos = _mm512_maskz_loadu_epi32(lanes, next + j);
		__m512i step = _mm512_maskz_loadu_epi32(lanes, skip + j);
		__m512i found = pos;

		for (;;) {
			/* All 16 lanes gathered, not only the walking ones: a gather
			 * masked by the last step's outcome would wait for it. */
			__m512i w = _mm512_i32gather_epi32(_mm512_srli_epi32(pos, 5), occ, 4);
			__mmask16 free_now;

			w = _mm512_srlv_epi32(w, _mm512_and_si512(pos, low5));
			free_now = _mm512_mask_testn_epi32_mask(walking, w, one);
			found = _mm512_mask_mov_epi32(found, free_now, pos);
			walking = (__mmask16)(walking & ~free_now);
			if (walking == 0)
				break;
			pos = mod_m(_mm512_add_epi32(pos, step), vm);
		}
		_mm512_storeu_si512(slot, found);
		__m512i dup = _mm512_conflict_epi32(found);

		/* With no two lanes on one slot every lane's slot stands, and the
		 * positions after them go back in one store. (One loop for both cases,
		 * branching per lane on the clash, measured 5 % slower.) */
		_mm512_mask_storeu_epi32(next + j, lanes, mod_m(_mm512_add_epi32(found, step), vm));
		if (__builtin_expect(_mm512_mask_test_epi32_mask(lanes, dup, dup) == 0, 1)) {
			for (uint32_t l = 0; l < len; l++)
				claim(table, occ, slot[l], p[j + l].idx);
		} else {
			for (uint32_t l = 0; l < len; l++) {
				uint32_t c = slot[l];

				if (table[c] != LB_MAGLEV_EMPTY) {
					c = free_after(table, m, c, skip[j + l]);
					next[j + l] = mod_add(c, skip[j + l], m);
				}
				claim(table, occ, c, p[j + l].idx);
			}
		}
		filled += len;
		*j_next = j + len == np ? 0 : j + len;
	}
	return filled;
}

/*
 * The first claims of an equal-weight build, see maglev_priv.h.
 */
int
maglev_claim_in_batches(uint16_t *table, uint32_t m, struct perm *p, uint32_t np,
			uint32_t *j_next, uint32_t *filled, const int *cancel)
{
	/* At most 90 % full, and never into the last FREE_MAX slots: populate()
	 * ranks those, and cancel is not read there (maglev.h) */
	uint32_t until = (uint32_t)((uint64_t)m * BATCH_UNTIL_PCT / 100);
	uint32_t *occ, *next, *skip;
	int rc = 0;

	if (until > walked_claims(m))
		until = walked_claims(m);
	if (until == 0 || np < BATCH_MIN_BACKENDS || !batches_on())
		return 0;
	occ = calloc((m + 31) / 32, sizeof(*occ));
	next = malloc(2 * sizeof(*next) * np);
	if (occ == NULL || next == NULL)
		goto out; /* the walks alone make the same table */
	skip = next + np;
	for (uint32_t i = 0; i < np; i++) {
		next[i] = p[i].next;
		skip[i] = p[i].skip;
	}
	while (*filled < until) {
		if (cancel_requested(cancel)) {
			rc = LB_ECANCELED;
			break;
		}
		*filled = claim_batches(table, m, p, np, j_next, occ, next, skip, *filled,
					until - *filled > LB_MAGLEV_CANCEL_EVERY
						? *filled + LB_MAGLEV_CANCEL_EVERY : until);
	}
	for (uint32_t i = 0; i < np; i++)
		p[i].next = next[i];
out:
	free(occ);
	free(next);
	return rc;
}
#else
bool
lb_maglev_use_batches(bool on)
{
	(void)on;
	return false;
}

int
maglev_claim_in_batches(uint16_t *table, uint32_t m, struct perm *p, uint32_t np,
			uint32_t *j_next, uint32_t *filled, const int *cancel)
{
	(void)table, (void)m, (void)p, (void)np, (void)j_next, (void)filled, (void)cancel;
	return 0;
}
#endif

