/*
 * neigh.h - routes and the neighbour cache: where a packet leaves and to which MAC.
 *
 * The control thread builds the route list at start (connected subnets of the
 * ports' addresses, then config routes) and owns every write to the neighbour
 * cache (static entries from config; resolution by ARP/NDP in dp/arp.c). Workers
 * read both without locks: a route is immutable, a neighbour's MAC is one 64-bit
 * word written atomically, and the address -> entry index is an rte_hash in
 * lock-free read/write mode.
 *
 * Entries age (issue 14, finding 6; dp/control/resolve.c runs the timers): an
 * entry that a route or a backend refers to (refs > 0) and static entries stay;
 * any other dynamic entry (an on-link client's) is deleted once it failed or went
 * stale. Deletion invalidates the MAC, removes the key, and frees the index only
 * after every worker passed a quiescent state (QSBR), so an index a worker found
 * stays valid for its burst. An index that travelled in a punted frame may be
 * stale: the control thread re-derives the next hop from the frame instead.
 *
 * Routes are few on an LB (connected subnets, a default route, a handful of
 * others), so lookup is a linear scan over prefixes sorted longest first.
 */
#ifndef LB_NEIGH_H
#define LB_NEIGH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>
#include <rte_common.h>

#include "lb_addr.h"

#define LB_NEIGH_NONE 0xffffffffu
#define LB_PORT_NONE 0xffffu
#define LB_MAX_ROUTES 256

/* neighbour mac word: MAC bytes 0..5 in bits 0..47 (memcpy order), then flags */
#define LB_NEIGH_MAC_VALID (1ULL << 63)

enum lb_neigh_state {
	LB_NEIGH_INCOMPLETE = 0, /* wanted, not resolved yet */
	LB_NEIGH_REACHABLE,      /* resolved by ARP/NDP */
	LB_NEIGH_STALE,          /* resolved, not confirmed recently: still used; probed
				  * when needed, deleted after stale_ms when not */
	LB_NEIGH_STATIC,         /* from config, never aged */
	LB_NEIGH_PROBE,          /* was resolved; re-confirming it (MAC still used) */
	LB_NEIGH_FAILED,         /* probes unanswered: unusable; retried with backoff if needed */
	LB_NEIGH_NSTATES,
};

/* "incomplete", "reachable", "stale", "static", "probe", "failed" */
extern const char *const lb_neigh_state_names[LB_NEIGH_NSTATES];

struct lb_neigh {
	uint64_t mac;           /* atomic; LB_NEIGH_MAC_VALID when usable */
	uint8_t addr[16];
	uint8_t family;
	uint8_t state;          /* enum lb_neigh_state; control thread only */
	uint16_t port;          /* port index it was learned / configured on */
	uint64_t confirmed_tsc; /* control thread: last reply or use seen */
	uint64_t probe_tsc;     /* control thread: last request sent */
	uint32_t probes;        /* control thread: requests since last reply */
	uint32_t refs;          /* control thread: routes and backends using it */
	uint32_t retry_ms;      /* control thread: FAILED and needed: next retry after this */
	uint64_t state_tsc;     /* control thread: when it entered its state */
} __rte_cache_aligned;

struct lb_route {
	struct lb_prefix prefix;
	uint64_t mask[2];       /* prefix mask, for a branch-light compare */
	uint16_t port;          /* egress port index */
	uint32_t gw_neigh;      /* gateway's neighbour entry, LB_NEIGH_NONE = connected */
};

/*
 * An IPv4 route as the workers scan it: prefix and mask as the CPU reads the four
 * address bytes (one AND and one compare a route instead of route_match()'s two
 * 64-bit ones and its family test), in the route list's order.
 */
struct lb_route4 {
	uint32_t addr;
	uint32_t mask;
	const struct lb_route *r;
};

struct lb_neigh_table;
struct lb_dp;

/* Build routes and static neighbours from dp->conf and dp->ports. */
struct lb_neigh_table *lb_neigh_create(struct lb_dp *dp, uint32_t capacity, char *err,
				       size_t errlen);
void lb_neigh_destroy(struct lb_neigh_table *t);

/* Control thread: the entry for addr, created INCOMPLETE on port when absent. */
int lb_neigh_ensure(struct lb_neigh_table *t, const struct lb_addr *addr, uint16_t port);
/*
 * The same for a next hop nobody configured (an on-link client a reply goes to):
 * refused with LB_EFULL when unreferenced entries already fill the share of the
 * table not reserved for routes and backends, so a flood from many on-link
 * addresses cannot take the room a new backend needs.
 */
int lb_neigh_ensure_dynamic(struct lb_neigh_table *t, const struct lb_addr *addr, uint16_t port);
/* Control thread: a route or backend starts / stops using entry idx. */
void lb_neigh_ref(struct lb_neigh_table *t, uint32_t idx);
void lb_neigh_unref(struct lb_neigh_table *t, uint32_t idx);
/*
 * Control thread: delete an unreferenced dynamic entry (workers see it unresolved
 * at once; its index is reused after a grace period). Returns 0, or LB_ECONFLICT
 * when it is static or in use.
 */
int lb_neigh_delete(struct lb_neigh_table *t, uint32_t idx);
/* Control thread: free the indexes of deleted entries whose grace period ended. */
void lb_neigh_reclaim(struct lb_neigh_table *t);
/* Entries in the table now, and how many of them no route or backend uses. */
uint32_t lb_neigh_count(const struct lb_neigh_table *t);
uint32_t lb_neigh_unreferenced(const struct lb_neigh_table *t);
/* Control thread: record a resolution (ARP reply, NA) or a static entry. */
int lb_neigh_learn(struct lb_neigh_table *t, const struct lb_addr *addr, const uint8_t mac[6],
		   uint16_t port, uint8_t state);

/*
 * Control thread: egress port and neighbour entry for a destination (the gateway's
 * entry via a route, else the destination's own). Returns 0, or LB_ENOENT (no route).
 */
int lb_neigh_resolve(struct lb_neigh_table *t, const struct lb_addr *dst, uint16_t *port,
		     uint32_t *neigh);

/* Read access for workers and the control thread. */
const struct lb_route *lb_route_lookup(const struct lb_neigh_table *t, uint8_t family,
				       const uint8_t *addr);
/*
 * The IPv4 routes, longest prefix first (*n of them). Routes are built once with
 * the table and never change while it lives, so a worker may keep the pointer.
 */
const struct lb_route4 *lb_route4_list(const struct lb_neigh_table *t, unsigned *n);
uint32_t lb_neigh_lookup(const struct lb_neigh_table *t, uint8_t family, const uint8_t *addr);
struct lb_neigh *lb_neigh_entry(const struct lb_neigh_table *t, uint32_t idx);

/* Control thread: walk entries; returns the next index or -1 at the end (iter from 0). */
int64_t lb_neigh_next(const struct lb_neigh_table *t, uint32_t *iter);
/* Control thread: the neighbour stopped answering; unusable until resolved again. */
void lb_neigh_forget(struct lb_neigh_table *t, uint32_t idx);

/* Every entry as {address, mac, state, port, refs} (neigh.list). Control thread. */
json_t *lb_neigh_json(const struct lb_neigh_table *t);

/*
 * lb_route_lookup() for an IPv4 address over lb_route4_list(): the same route,
 * inline for the reply path (every packet back to a client looks its route up).
 */
static inline const struct lb_route *
lb_route4_find(const struct lb_route4 *rt, unsigned n, const uint8_t *addr)
{
	uint32_t a;

	memcpy(&a, addr, 4);
	for (unsigned i = 0; i < n; i++)
		if ((a & rt[i].mask) == rt[i].addr)
			return rt[i].r;
	return NULL;
}

/* Copy the usable MAC of entry idx to mac; false when unresolved. */
static inline bool
lb_neigh_mac(const struct lb_neigh *n, uint8_t mac[6])
{
	uint64_t w = __atomic_load_n(&n->mac, __ATOMIC_RELAXED);

	if (!(w & LB_NEIGH_MAC_VALID))
		return false;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(w >> (8 * i));
	return true;
}

#endif /* LB_NEIGH_H */
