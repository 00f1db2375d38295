/*
 * sigbucket.h - the 16-bit tags of a signature bucket (rte_cuckoo_hash's layout):
 * eight tags side by side, compared at once.
 *
 * Pure inline code, no state: used by the conntrack indexes (dp/lib/conntrack.c,
 * worker lcores and the control thread) and the read-mostly hash of the service
 * directory (dp/tables/rmhash.h, workers read, the control thread writes).
 */
#ifndef LB_SIGBUCKET_H
#define LB_SIGBUCKET_H

#include <stdint.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define LB_SIG_SLOTS 8

/* A tag from the bits a bucket index below 2^16 buckets does not use; 0 marks a free slot. */
static inline uint16_t
lb_sig_of(uint32_t hash)
{
	uint16_t s = (uint16_t)(hash >> 16);

	return s ? s : 1;
}

/*
 * Bit s set for each of the 8 tags (16-byte aligned) equal to sig. Each tag is
 * read once; a reader that then reads what a tag guards orders that itself.
 */
static inline unsigned
lb_sig_match8(const uint16_t *tags, uint16_t sig)
{
#ifdef __SSE2__
	__m128i t = _mm_load_si128((const __m128i *)(const void *)tags);
	__m128i eq = _mm_cmpeq_epi16(t, _mm_set1_epi16((short)sig));

	/* Saturating pack: one byte per lane, then one bit per byte. */
	return (unsigned)_mm_movemask_epi8(_mm_packs_epi16(eq, _mm_setzero_si128()));
#else
	unsigned m = 0;

	for (int s = 0; s < LB_SIG_SLOTS; s++)
		m |= (unsigned)(__atomic_load_n(&tags[s], __ATOMIC_RELAXED) == sig) << s;
	return m;
#endif
}

#endif /* LB_SIGBUCKET_H */
