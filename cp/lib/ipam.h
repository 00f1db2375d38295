/*
 * ipam.h - external IP address management: pools, allocation, sharing.
 *
 * Pure C, no I/O, no thread of its own: edgelb-cp's store (cp/store/store.c)
 * owns one struct lb_ipam, calls it under its store lock, and persists the
 * allocations itself (cp/store/state.c). Unit-tested in tests/test_ipam.c.
 *
 * Rules (MetalLB-like, see docs/configuration.md and docs/api.md):
 * - A pool has a name, ranges (CIDRs and "start-end", IPv4 and IPv6 mixed),
 *   auto_assign (default true) and avoid_buggy_ips (skip IPv4 .0 and .255).
 * - An owner ("namespace/name") asks for one address per family it wants. Each
 *   address comes, in order, from: the owner's requested IP of that family (must
 *   lie in some pool, else LB_ENOENT); the requested pool; the first auto_assign
 *   pool with room (pools in configuration order).
 * - Sharing: several owners may hold one address only when all carry the same
 *   non-empty sharing key and their (protocol, port) sets do not overlap; else
 *   LB_ECONFLICT naming the holder. Automatic allocation with a sharing key first
 *   reuses an address already shared under that key, when the ports allow.
 * - An owner's allocation is all or nothing: when one family fails, nothing is
 *   taken.
 * - Reload (new pool list): an allocation stays where it is while a pool still
 *   contains its address (its own pool, else any pool with the address); others
 *   are released and reported.
 */
#ifndef LB_IPAM_H
#define LB_IPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_addr.h"

#define LB_POOL_NAME_MAX 64
#define LB_OWNER_MAX 256     /* "namespace/name" */
#define LB_SHARING_KEY_MAX 128
#define LB_POOL_RANGES_MAX 64

#define LB_FAMILY_V4 0x1
#define LB_FAMILY_V6 0x2

struct lb_ip_range {
	struct lb_addr lo, hi;   /* inclusive, same family, lo <= hi */
};

struct lb_pool_conf {
	char name[LB_POOL_NAME_MAX];
	uint32_t n_ranges;
	struct lb_ip_range ranges[LB_POOL_RANGES_MAX];
	bool auto_assign;
	bool avoid_buggy_ips;
};

/* One (protocol, port) an owner serves on its address: sharing must not overlap. */
struct lb_ipam_port {
	uint8_t proto;  /* LB_PROTO_TCP / LB_PROTO_UDP */
	uint16_t port;
};

struct lb_ipam_req {
	const char *owner;               /* "namespace/name", unique */
	uint8_t families;                /* LB_FAMILY_V4 | LB_FAMILY_V6 */
	uint32_t n_ips;                  /* requested addresses: at most one per family */
	struct lb_addr ips[2];
	const char *pool;                /* NULL or "" = any auto_assign pool */
	const char *sharing_key;         /* NULL or "" = no sharing */
	uint32_t n_ports;
	const struct lb_ipam_port *ports;
};

struct lb_ipam;

/*
 * Parse one range as written in a config file or an API request: "198.18.0.0/24",
 * "2001:db8::/120", "198.18.0.10-198.18.0.20", or a single address. Returns 0 or
 * LB_EINVAL.
 */
int lb_ipam_range_parse(const char *s, struct lb_ip_range *r);

/* Pools are copied. Names must be unique (LB_EINVAL). */
struct lb_ipam *lb_ipam_create(const struct lb_pool_conf *pools, uint32_t n_pools);
void lb_ipam_destroy(struct lb_ipam *ip);

/*
 * Allocate for req->owner (which must hold nothing yet; release first to change).
 * On success out[] gets one address per family (IPv4 first), *n_out their count,
 * and pool_out (if not NULL, LB_POOL_NAME_MAX) the pool of the first address.
 * Errors: LB_EINVAL (bad request), LB_ENOENT (requested IP in no pool, or unknown
 * pool), LB_ECONFLICT (address held, sharing not allowed), LB_EFULL (no free
 * address), LB_EEXIST (owner already holds addresses). err names the cause, e.g.
 * "198.18.0.100 is in use by default/web (sharing key differs)".
 */
int lb_ipam_assign(struct lb_ipam *ip, const struct lb_ipam_req *req, struct lb_addr out[2],
		   uint32_t *n_out, char *pool_out, char *err, size_t errlen);

/*
 * Put back an allocation loaded from the state file (or re-adopted from a
 * Kubernetes Service status): same checks as a requested IP, but the pool is
 * recorded as given when it still holds the address.
 */
int lb_ipam_restore(struct lb_ipam *ip, const struct lb_ipam_req *req, const struct lb_addr *addrs,
		    uint32_t n, char *err, size_t errlen);

/* Release everything owner holds. Returns how many addresses it held. */
int lb_ipam_release(struct lb_ipam *ip, const char *owner);

/* Addresses owner holds (up to 2), their count. */
uint32_t lb_ipam_lookup(const struct lb_ipam *ip, const char *owner, struct lb_addr out[2]);

/*
 * Replace the pools. Allocations whose address no pool holds any more are
 * released; their owners are reported through cb (may be NULL).
 */
int lb_ipam_reload(struct lb_ipam *ip, const struct lb_pool_conf *pools, uint32_t n_pools,
		   void (*cb)(const char *owner, const struct lb_addr *a, void *arg), void *arg);

struct lb_pool_usage {
	char name[LB_POOL_NAME_MAX];
	uint64_t size[2];  /* addresses usable, [0] IPv4 [1] IPv6 (saturates at UINT64_MAX) */
	uint64_t used[2];  /* addresses allocated */
};

/* Usage of pool i (0 <= i < lb_ipam_pool_count). */
uint32_t lb_ipam_pool_count(const struct lb_ipam *ip);
int lb_ipam_pool_usage(const struct lb_ipam *ip, uint32_t i, struct lb_pool_usage *u);
/* Index of a pool by name, or -1. */
int lb_ipam_pool_find(const struct lb_ipam *ip, const char *name);

#endif /* LB_IPAM_H */
