/*
 * hash.h - seeded hashes for edgelb-dp's tables.
 *
 * Pure C, no DPDK: Maglev, conntrack and affinity use these, and their unit tests
 * run without EAL. The functions are deterministic for a given seed on every
 * machine (little- or big-endian reads are normalised), so two boxes configured
 * with the same seed pick the same backends.
 */
#ifndef LB_HASH_H
#define LB_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Finaliser of MurmurHash3: every input bit affects every output bit. */
static inline uint64_t
lb_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static inline uint64_t
lb_load64_le(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	       (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

/* Hash n bytes with a 64-bit seed. Good enough spread for table indexing. */
static inline uint64_t
lb_hash_bytes(const void *data, size_t n, uint64_t seed)
{
	const uint8_t *p = data;
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);

	while (n >= 8) {
		h = lb_mix64(h ^ lb_load64_le(p)) + 0x9e3779b97f4a7c15ULL;
		p += 8;
		n -= 8;
	}
	if (n > 0) {
		/* lb_load64_le() of the tail zero-padded, without a call to memcpy()
		 * when n is not a constant */
		uint64_t tail = 0;

		for (size_t i = 0; i < n; i++)
			tail |= (uint64_t)p[i] << (8 * i);
		h = lb_mix64(h ^ tail ^ ((uint64_t)n << 59));
	}
	return lb_mix64(h);
}

/* Map a 32-bit hash uniformly onto [0, m) without a division. */
static inline uint32_t
lb_hash_reduce(uint32_t h, uint32_t m)
{
	return (uint32_t)(((uint64_t)h * m) >> 32);
}

#endif /* LB_HASH_H */
