/*
 * csum_ref.h - the tests' own Internet checksum, byte at a time.
 *
 * Deliberately the plainest possible code, independent of dp/nat.c: the packet
 * tests recompute every checksum with it and compare with what the dp wrote.
 */
#ifndef LB_TEST_CSUM_REF_H
#define LB_TEST_CSUM_REF_H

#include <stddef.h>
#include <stdint.h>

/* Add n bytes (big-endian 16-bit words) to a running sum. */
static inline uint32_t
ref_add(uint32_t acc, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		acc += (i % 2 == 0) ? (uint32_t)b[i] << 8 : b[i];
	return acc;
}

/* Fold the carries back in (not complemented). */
static inline uint16_t
ref_fold(uint32_t acc)
{
	while (acc > 0xffff)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static inline uint16_t
rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline void
put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

#endif /* LB_TEST_CSUM_REF_H */
