/*
 * rmhash.h - a read-mostly hash of 20-byte keys to 32-bit values, for the
 * worker-side lookups of the service directory and the address table.
 *
 * One writer (the control thread: service.c, at start and for control requests),
 * any number of lock-free readers (worker lcores through service_fastpath.h, and
 * the control thread itself). Pure code: no allocation, no EAL; the caller places
 * the table (lb_rmh_mem_size) and runs the deferred frees below after a QSBR grace
 * period (dp/tables/rcu.c).
 *
 * Layout: an array of 64-byte buckets of 8 (16-bit tag, 32-bit value) slots, as
 * the conntrack indexes (dp/lib/conntrack.c), a power of two of at least
 * capacity / 4 of them plus capacity / 8 + 16 overflow buckets chained from a full
 * one, and a key array indexed by value (32 bytes a key, never across a line). A
 * lookup hashes the key with CRC32-C, compares the 8 tags of one bucket line at
 * once (SSE2) and reads the key of the value whose tag matches: one bucket line
 * and one key line in the common case.
 *
 * Values are chosen by the caller, < capacity, one per key in the table (the
 * service id, the address-table position): the key is stored at keys[value].
 * Rules for the writer, so that readers never see a half-written key:
 *  - lb_rmh_add() writes keys[value], then the slot's value, then publishes its tag
 *    with release stores; readers load the value with acquire before the key;
 *  - a value whose key was deleted is not given to lb_rmh_add() again until every
 *    reader passed a quiescent state (its key may still be being compared);
 *  - an overflow bucket lb_rmh_del() unlinked (*ov_out != LB_RMH_NIL) goes back to
 *    the pool with lb_rmh_ov_release() only after such a grace period too.
 * A lookup concurrent with a delete finds the key or not, as with rte_hash.
 */
#ifndef LB_RMHASH_H
#define LB_RMHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE4_2__
#include <nmmintrin.h>
#else
#include <rte_hash_crc.h>
#endif

#include "sigbucket.h"

#define LB_RMH_KEY_LEN 20
#define LB_RMH_SLOTS 8
#define LB_RMH_NIL 0xffffffffu
#define LB_RMH_CAPACITY_MAX (1u << 26)

struct lb_rmh_bucket {
	uint16_t tag[LB_RMH_SLOTS];  /* 0: free slot */
	uint32_t val[LB_RMH_SLOTS];
	uint32_t next; /* overflow bucket chained, LB_RMH_NIL ends; free-pool link */
	uint32_t prev; /* overflow buckets: the bucket that links here (writer only) */
	uint32_t pad[2];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct lb_rmh_bucket) == 64, "a bucket is one cache line");

struct lb_rmh_key {
	uint8_t b[LB_RMH_KEY_LEN];
	uint8_t pad[32 - LB_RMH_KEY_LEN];
} __attribute__((aligned(32)));

struct lb_rmh {
	/* read by everyone */
	struct lb_rmh_bucket *bk;  /* [nb + nov] */
	struct lb_rmh_key *keys;   /* [capacity], indexed by value */
	uint32_t mask;             /* primary buckets - 1 */
	uint32_t seed;
	/* writer only */
	uint32_t nb, nov, capacity, count;
	uint32_t ov_free;          /* free overflow buckets, chained through next */
};

/* Bytes lb_rmh_init() needs for capacity keys (0: capacity 0 or too large). */
size_t lb_rmh_mem_size(uint32_t capacity);
/* mem: lb_rmh_mem_size() bytes, 64-byte aligned. Returns the table or NULL. */
struct lb_rmh *lb_rmh_init(void *mem, size_t len, uint32_t capacity, uint32_t seed);

/*
 * Insert key -> value (value < capacity, not the value of another key in the table
 * nor one deleted less than a grace period ago). 0, LB_EEXIST when the key is in
 * the table (nothing changes), LB_EINVAL for a value out of range, LB_EFULL when
 * its bucket chain is full and no overflow bucket is left.
 */
int lb_rmh_add(struct lb_rmh *h, const void *key, uint32_t value);
/*
 * Remove key. Returns its value (free it after a grace period) or LB_ENOENT.
 * *ov_out: an overflow bucket the delete emptied and unlinked, to give to
 * lb_rmh_ov_release() after a grace period, or LB_RMH_NIL.
 */
int64_t lb_rmh_del(struct lb_rmh *h, const void *key, uint32_t *ov_out);
void lb_rmh_ov_release(struct lb_rmh *h, uint32_t ov);
uint32_t lb_rmh_count(const struct lb_rmh *h);

/* CRC32-C over the 20-byte key (one instruction per 8 bytes with SSE4.2). */
static inline uint32_t
lb_rmh_hash(const struct lb_rmh *h, const void *key)
{
	uint64_t a, b;
	uint32_t c;

	memcpy(&a, key, 8);
	memcpy(&b, (const uint8_t *)key + 8, 8);
	memcpy(&c, (const uint8_t *)key + 16, 4);
#ifdef __SSE4_2__
	uint64_t x = _mm_crc32_u64(h->seed, a);
	x = _mm_crc32_u64(x, b);
	return _mm_crc32_u32((uint32_t)x, c);
#else
	uint32_t x = rte_hash_crc_8byte(a, h->seed);
	x = rte_hash_crc_8byte(b, x);
	return rte_hash_crc_4byte(c, x);
#endif
}

/* The tag: 16 bits the bucket index does not use (below 2^16 buckets); 0 is free. */
static inline uint16_t
lb_rmh_tag(uint32_t hash)
{
	return lb_sig_of(hash);
}

/* Bit s set for each slot of b whose tag is tag. */
static inline unsigned
lb_rmh_match(const struct lb_rmh_bucket *b, uint16_t tag)
{
	unsigned m = lb_sig_match8(b->tag, tag);

	/* Orders the tag loads before the value and key loads (x86: no instruction). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return m;
}

/*
 * Two 20-byte keys equal, neither assumed aligned. The last 4 bytes first, alone:
 * for a service key they hold the port, which differs between most keys that
 * differ (the replies to SNAT ports), so those cost one compare.
 */
static inline int
lb_rmh_bytes_eq(const void *a, const void *b)
{
	uint64_t a0, a1, b0, b1;
	uint32_t a2, b2;

	memcpy(&a2, (const uint8_t *)a + 16, 4);
	memcpy(&b2, (const uint8_t *)b + 16, 4);
	if (a2 != b2)
		return 0;
	memcpy(&a0, a, 8);
	memcpy(&a1, (const uint8_t *)a + 8, 8);
	memcpy(&b0, b, 8);
	memcpy(&b1, (const uint8_t *)b + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

static inline int
lb_rmh_key_eq(const struct lb_rmh_key *k, const void *key)
{
	uint64_t a0, a1, b0, b1;
	uint32_t a2, b2;

	memcpy(&a0, k->b, 8);
	memcpy(&a1, k->b + 8, 8);
	memcpy(&a2, k->b + 16, 4);
	memcpy(&b0, key, 8);
	memcpy(&b1, (const uint8_t *)key + 8, 8);
	memcpy(&b2, (const uint8_t *)key + 16, 4);
	return ((a0 ^ b0) | (a1 ^ b1) | (a2 ^ b2)) == 0;
}

static inline void
lb_rmh_prefetch(const struct lb_rmh *h, uint32_t hash)
{
	__builtin_prefetch(&h->bk[hash & h->mask]);
}

/* The value of key (hash from lb_rmh_hash), or -1. */
static inline int64_t
lb_rmh_lookup_hashed(const struct lb_rmh *h, const void *key, uint32_t hash)
{
	const struct lb_rmh_bucket *b = &h->bk[hash & h->mask];
	uint16_t tag = lb_rmh_tag(hash);

	for (;;) {
		for (unsigned m = lb_rmh_match(b, tag); m != 0; m &= m - 1) {
			uint32_t v = __atomic_load_n(&b->val[__builtin_ctz(m)], __ATOMIC_ACQUIRE);
			if (lb_rmh_key_eq(&h->keys[v], key))
				return v;
		}
		uint32_t nx = __atomic_load_n(&b->next, __ATOMIC_ACQUIRE);
		if (nx == LB_RMH_NIL)
			return -1;
		b = &h->bk[nx];
	}
}

static inline int64_t
lb_rmh_lookup(const struct lb_rmh *h, const void *key)
{
	return lb_rmh_lookup_hashed(h, key, lb_rmh_hash(h, key));
}

/*
 * n lookups: hash every key and prefetch its bucket first, then compare, so the
 * burst's bucket misses overlap. vals[i] = value of keys[i], or -1. A key equal to
 * the one before it (a burst's packets to one service mostly come in runs) takes
 * that one's value without a hash or a lookup: the same answer as a lookup at the
 * moment the first was looked up, which is as good as its own (a concurrent update
 * may land before or after either). A different key costs one 20-byte compare more.
 */
#define LB_RMH_BULK 32
static inline void
lb_rmh_lookup_bulk(const struct lb_rmh *h, const void *const *keys, uint32_t n, int32_t *vals)
{
	uint32_t hs[LB_RMH_BULK];

	for (uint32_t o = 0; o < n; o += LB_RMH_BULK) {
		uint32_t k = n - o < LB_RMH_BULK ? n - o : LB_RMH_BULK;
		uint32_t same = 0; /* bit i: key i equals key i - 1 */
		for (uint32_t i = 0; i < k; i++) {
			if (i > 0 && lb_rmh_bytes_eq(keys[o + i - 1], keys[o + i])) {
				same |= 1u << i;
				continue;
			}
			hs[i] = lb_rmh_hash(h, keys[o + i]);
			lb_rmh_prefetch(h, hs[i]);
		}
		for (uint32_t i = 0; i < k; i++)
			vals[o + i] = (same >> i) & 1 ? vals[o + i - 1]
						    : (int32_t)lb_rmh_lookup_hashed(h, keys[o + i], hs[i]);
	}
}

#endif /* LB_RMHASH_H */
