/*
 * conntrack_priv.h - the layout of a conntrack block, shared by conntrack.c (the
 * two indexes, entries, expiry, TCP states) and conntrack_snat.c (the fnat source
 * port allocator). Not for other modules: they see struct lb_ct as opaque.
 *
 * One block, every part on a cache line, no pointer stored inside it (offsets from
 * the block's start only), so the block can be mapped again at another address:
 *   struct lb_ct | conns[capacity] | fwd buckets | rev buckets | snat area
 */
#ifndef LB_CONNTRACK_PRIV_H
#define LB_CONNTRACK_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "conntrack.h"

#define CT_SLOTS 8
#define LB_CT_MAGIC 0x6c62637433ull /* "lbct3": the bucket layout, snat_pend_idx */

/*
 * One index bucket, one cache line: 8 tags (16 bits of the hash the bucket index
 * does not use; 0 = free slot) and the 8 entry indexes they stand for. A lookup
 * compares the tags and reads only the entries whose tag matches (rte_hash's
 * signature buckets). A full bucket chains overflow buckets from a pool.
 */
struct ct_bucket {
	uint16_t sig[CT_SLOTS];
	uint32_t idx[CT_SLOTS];
	uint32_t next; /* overflow bucket; LB_CT_NIL ends the chain (free list when unused) */
	uint32_t prev; /* overflow buckets: the bucket that links here */
	uint32_t pad[2];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct ct_bucket) == 64, "a bucket is one cache line");

struct lb_ct {
	uint64_t magic;
	uint64_t mem_size;
	uint64_t seed;
	uint32_t capacity;
	uint32_t mask;      /* primary buckets - 1 */
	uint32_t nb;        /* primary buckets per index */
	uint32_t count;     /* entries in use */
	uint32_t free_head; /* first free entry, chained through fwd_pos */
	uint32_t cursor;    /* next slot lb_ct_expire() looks at */
	uint32_t now;       /* latest clock the table was given (insert, expire, reclaim) */
	uint32_t ov_free[2]; /* free overflow buckets of each index */
	uint32_t timeout_ms[LB_CT_NSTATES];
	uint32_t rst_window;
	int owned;          /* memory came from lb_ct_create(): lb_ct_destroy() frees */
	uint64_t off_conns; /* offsets from the block's start */
	uint64_t off_fwd;
	uint64_t off_rev;
	uint64_t off_snat;
	/* fnat source ports (conntrack_snat.c) */
	uint32_t snat_first;   /* first port of this table's slice (host order) */
	uint32_t snat_count;   /* ports in the slice: snat_first + i * snat_stride */
	uint32_t snat_stride;
	uint32_t snat_words;   /* 64-bit words of one bitmap */
	uint32_t snat_pairs;   /* pairs the area has room for */
	uint32_t snat_used;    /* pairs handed out */
	uint32_t snat_mask;    /* pair index slots - 1 */
	uint32_t snat_pend_pair; /* pair of the port lb_ct_snat_alloc() last gave, or LB_CT_NIL */
	uint32_t snat_pend_port; /* that port, network order */
	uint32_t snat_pend_idx;  /* its slice index in the pair's order (no division again) */
	uint64_t snat_off_pairs; /* offset of pair 0 from the block's start */
	uint32_t snat_delay_ms;
	uint64_t snat_pair_size;
	uint64_t snat_exhausted; /* allocations refused, all pairs */
	uint64_t snat_no_pair;   /* allocations refused because no pair was left */
};

int lb_ct_snat_plan(const struct lb_ct_conf *conf, uint64_t *size);
void lb_ct_snat_init(struct lb_ct *ct, const struct lb_ct_conf *conf);
int lb_ct_snat_matches(const struct lb_ct *ct, const struct lb_ct_conf *conf);
/* An fnat entry was inserted / is going: reserve / release its source port. */
void lb_ct_snat_hold(struct lb_ct *ct, const struct lb_conn *c);
void lb_ct_snat_release(struct lb_ct *ct, const struct lb_conn *c, int cools);
int lb_ct_victim_better(const struct lb_conn *a, const struct lb_conn *b, uint32_t now);

#endif /* LB_CONNTRACK_PRIV_H */
