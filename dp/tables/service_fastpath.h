/*
 * service_fastpath.h - what workers read of the service directory, inline.
 *
 * Included by dp/worker.c and dp/service.c only. The struct is here (not in
 * service.h) because the lookups below must inline into the burst loop. The
 * control thread writes (service.c, service_ids.c); workers read lock-free: the
 * two key tables are read-mostly hashes (rmhash.h), one bucket line and one key
 * line a lookup.
 */
#ifndef LB_SERVICE_FASTPATH_H
#define LB_SERVICE_FASTPATH_H

#include "hash.h"
#include "rmhash.h"
#include "service.h"

struct lb_rcu;

struct lb_svc_key {
	uint8_t addr[16];
	uint16_t port;  /* network order */
	uint8_t proto;
	uint8_t family;
};

_Static_assert(sizeof(struct lb_svc_key) == LB_RMH_KEY_LEN, "a service key is an rmhash key");

struct lb_services {
	/* read by workers */
	struct lb_rmh *svc_tab;         /* lb_svc_key -> service id (service_ids.c) */
	struct lb_svc **slot;           /* [svc_cap]; atomic pointers */
	struct lb_real *reals;          /* [real_cap] */
	struct lb_rmh *addr_tab;        /* lb_svc_key with port/proto 0 -> position */
	struct lb_addr_info *addr_info; /* [addr_cap] */
	uint64_t seed;
	uint32_t svc_cap, real_cap, addr_cap;
	/* control thread only */
	struct lb_dp *dp;
	struct lb_rcu *rcu;
	uint32_t *real_free;            /* stack of free real ids */
	uint32_t n_real_free;
	uint32_t *svc_free;             /* stack of free service ids */
	uint32_t n_svc_free;
	uint32_t *addr_free;            /* stack of free address positions */
	uint32_t n_addr_free;
	struct lb_svc_dir_ent *dir_svc; /* [svc_cap]: key of each id in use (persistent) */
	struct lb_real_dir_ent *dir_real; /* [real_cap]: service key + backend of each id */
	void *dir_own;                  /* the directories when no state region holds them */
	struct rte_hash *resv_svc;      /* ids the previous process gave: key -> id */
	struct rte_hash *resv_real;
	uint64_t resv_deadline_tsc;     /* when those reservations end */
	struct lb_svcs_events ev;       /* to the owner (control/dp.c) */
	uint32_t *svc_version;          /* last version per slot */
	uint32_t n_svcs;
};

static inline void
lb_svc_key_make(struct lb_svc_key *k, uint8_t family, const uint8_t *addr, uint16_t port,
		uint8_t proto)
{
	memcpy(k->addr, addr, 16);
	k->port = port;
	k->proto = proto;
	k->family = family;
}

/* Acquire: pairs with the release store that published the object. */
static inline const struct lb_svc *
lb_svc_get(const struct lb_services *s, uint32_t id)
{
	return __atomic_load_n(&s->slot[id], __ATOMIC_ACQUIRE);
}

static inline const struct lb_real *
lb_real_get(const struct lb_services *s, uint32_t id)
{
	return &s->reals[id];
}

/* Service ids of n keys; ids[i] < 0 when key i is not a service. */
static inline void
lb_svcs_lookup_bulk(const struct lb_services *s, const void **keys, uint32_t n, int32_t *ids)
{
	lb_rmh_lookup_bulk(s->svc_tab, keys, n, ids);
}

/* The service id of one key, or < 0. */
static inline int32_t
lb_svcs_lookup(const struct lb_services *s, const struct lb_svc_key *k)
{
	return (int32_t)lb_rmh_lookup(s->svc_tab, k);
}

/* What an address is to the box; NULL when nothing. */
static inline const struct lb_addr_info *
lb_addr_get(const struct lb_services *s, uint8_t family, const uint8_t *addr)
{
	struct lb_svc_key k;

	lb_svc_key_make(&k, family, addr, 0, 0);
	int64_t pos = lb_rmh_lookup(s->addr_tab, &k);
	return pos < 0 ? NULL : &s->addr_info[pos];
}

/*
 * The flow hash Maglev picks with: lb_hash_bytes() of the 40 bytes
 * src | dst | sport | dport | proto | 0 0 0 (ports as they are in memory, network
 * order). On a little-endian machine the same value is computed from the five
 * words in place (no buffer, no loop): lb_flow_hash_bytes() is the reference
 * (tests/test_pipeline.c compares the two).
 */
static inline uint32_t
lb_flow_hash_bytes(uint64_t seed, const uint8_t *src, uint16_t sport, const uint8_t *dst,
		   uint16_t dport, uint8_t proto)
{
	uint8_t b[40];

	memcpy(b, src, 16);
	memcpy(b + 16, dst, 16);
	memcpy(b + 32, &sport, 2);
	memcpy(b + 34, &dport, 2);
	b[36] = proto;
	b[37] = b[38] = b[39] = 0;
	return (uint32_t)lb_hash_bytes(b, sizeof(b), seed);
}

static inline uint32_t
lb_flow_hash(uint64_t seed, const uint8_t *src, uint16_t sport, const uint8_t *dst,
	     uint16_t dport, uint8_t proto)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	uint64_t s0, s1, d0, d1;

	memcpy(&s0, src, 8);
	memcpy(&s1, src + 8, 8);
	memcpy(&d0, dst, 8);
	memcpy(&d1, dst + 8, 8);
	uint64_t h = seed ^ (40 * k);
	h = lb_mix64(h ^ s0) + k;
	h = lb_mix64(h ^ s1) + k;
	h = lb_mix64(h ^ d0) + k;
	h = lb_mix64(h ^ d1) + k;
	h = lb_mix64(h ^ ((uint64_t)sport | (uint64_t)dport << 16 | (uint64_t)proto << 32)) + k;
	return (uint32_t)lb_mix64(h);
#else
	return lb_flow_hash_bytes(seed, src, sport, dst, dport, proto);
#endif
}

#endif /* LB_SERVICE_FASTPATH_H */
