/*
 * ipam_impl.h - what the files of the IPAM module share (not for its callers:
 * they include ipam.h).
 *
 *   ipam.c        requests, sharing rules, commit, reload, the lb_ipam_* API
 *   ipam_pool.c   pools: ranges as 128-bit integers, sizes, membership, range parsing
 *   ipam_table.c  the hash tables of allocations (by address) and owners (by name)
 *
 * Pure C, no I/O, no locks: the caller (cp/store) serialises every call.
 */
#ifndef LB_IPAM_IMPL_H
#define LB_IPAM_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ipam.h"
#include "lb_model.h"

/* An address as a number: IPv4 its 32 bits, IPv6 its 128, so ranges are arithmetic. */
__extension__ typedef unsigned __int128 u128;

#define U128_MAX (~(u128)0)
#define LB_IPAM_MIN_BUCKETS 64   /* initial buckets of each hash table (a power of two) */

struct owner;

/* One allocated address and everyone holding it (several only when shared). */
struct alloc {
	struct alloc *next;      /* hash chain */
	struct lb_addr addr;
	u128 v;
	int pool;                /* index in ip->pools: the pool it was taken from */
	int new_pool;            /* reload scratch: index in the new list, -1 = released */
	uint32_t n_holders, cap;
	struct owner **holders;  /* when shared, all carry the same non-empty key */
};

struct owner {
	struct owner *next;      /* hash chain */
	uint64_t hash;
	char name[LB_OWNER_MAX];
	char key[LB_SHARING_KEY_MAX];  /* "" = does not share */
	uint32_t n_ports;
	struct lb_ipam_port *ports;
	uint32_t n_addrs;
	struct alloc *addrs[2];  /* IPv4 first */
};

struct pool {
	struct lb_pool_conf conf;
	u128 lo[LB_POOL_RANGES_MAX], hi[LB_POOL_RANGES_MAX];
	/* No free address in [lo, cursor); full = none in [lo, hi] (cursor cannot say
	 * hi + 1 when hi is the last IPv6 address). */
	u128 cursor[LB_POOL_RANGES_MAX];
	bool full[LB_POOL_RANGES_MAX];
	uint64_t size[2];
};

struct lb_ipam {
	struct pool *pools;
	uint32_t n_pools;
	struct alloc **ab;       /* allocations by address */
	size_t anb, an;
	struct owner **ob;       /* owners by name */
	size_t onb, on;
};

static inline int
fam_idx(uint8_t family)
{
	return family == LB_AF_INET ? 0 : 1;
}

static inline const char *
fam_name(uint8_t family)
{
	return family == LB_AF_INET ? "IPv4" : "IPv6";
}

static inline bool
fam_valid(uint8_t family)
{
	return family == LB_AF_INET || family == LB_AF_INET6;
}

static inline u128
addr_val(const struct lb_addr *a)
{
	int n = lb_addr_len(a->family);
	u128 v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | a->bytes[i];
	return v;
}

static inline void
val_addr(uint8_t family, u128 v, struct lb_addr *a)
{
	int n = lb_addr_len(family);

	memset(a, 0, sizeof(*a));
	a->family = family;
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		a->bytes[i] = (uint8_t)v;
}

/* Old IPv4 stacks took x.x.x.0 and x.x.x.255 for network/broadcast addresses. */
static inline bool
is_buggy(uint8_t family, u128 v)
{
	unsigned low = (unsigned)(v & 0xff);

	return family == LB_AF_INET && (low == 0 || low == 0xff);
}

/* ---- pools (ipam_pool.c) ---- */

/* Copy and check n pool configurations (unique names) into a new array *out. */
int lb_ipam_pools_build(const struct lb_pool_conf *confs, uint32_t n, struct pool **out);
/* Index of the pool called name, or -1. */
int lb_ipam_pools_find(const struct pool *pools, uint32_t n, const char *name);
/* Index of the first pool that holds (could hand out) v, or -1. */
int lb_ipam_pools_first_holding(const struct pool *pools, uint32_t n, uint8_t family, u128 v);
/* v lies in one of p's ranges (whether or not p avoids it). */
bool lb_ipam_pool_in_range(const struct pool *p, uint8_t family, u128 v);
/* p could hand out v: in a range and not avoided. */
bool lb_ipam_pool_holds(const struct pool *p, uint8_t family, u128 v);
bool lb_ipam_pool_has_family(const struct pool *p, uint8_t family);

/* ---- tables (ipam_table.c) ---- */

uint64_t lb_ipam_hash_str(const char *s);
struct alloc *lb_ipam_alloc_find(const struct lb_ipam *ip, uint8_t family, u128 v);
void lb_ipam_alloc_insert(struct lb_ipam *ip, struct alloc *a);
void lb_ipam_alloc_unlink(struct lb_ipam *ip, struct alloc *a);
void lb_ipam_alloc_free(struct alloc *a);
struct owner *lb_ipam_owner_find(const struct lb_ipam *ip, const char *name);
void lb_ipam_owner_insert(struct lb_ipam *ip, struct owner *o);
void lb_ipam_owner_unlink(struct lb_ipam *ip, struct owner *o);
void lb_ipam_owner_free(struct owner *o);

#endif /* LB_IPAM_IMPL_H */
