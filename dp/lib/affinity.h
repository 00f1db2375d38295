/*
 * affinity.h - ClientIP session affinity, shared by all workers.
 *
 * Kubernetes semantics (sessionAffinity: ClientIP): new connections from a client
 * address to a service go to the backend its earlier connections went to, until
 * the client opened no new connection to that service for timeout seconds (as
 * kube-proxy's iptables `recent` match). Every worker reads and writes the one
 * table, so a client keeps its backend whichever worker RSS hands it to.
 *
 * Concurrency: readers never wait. Each entry carries a sequence number; a writer
 * claims an entry by moving it from even to odd with a compare-and-swap (never
 * spinning: if another worker holds it, the write is skipped and counted) and
 * releases it with the next even value; a reader that sees an odd or changed
 * sequence treats the entry as a miss. Refreshing last-use is one relaxed store.
 *
 * Set-associative: a key hashes to a bucket of LB_AFF_WAYS entries; a full bucket
 * replaces its least recently used entry. Pure C, no DPDK; the clock (ms) is a
 * parameter.
 */
#ifndef LB_AFFINITY_H
#define LB_AFFINITY_H

#include <stddef.h>
#include <stdint.h>

#define LB_AFF_WAYS 4
#define LB_AFF_NONE 0xffffffffu

struct lb_aff_table;

/* capacity is rounded up to a power-of-two number of buckets. */
size_t lb_aff_mem_size(uint32_t capacity);
struct lb_aff_table *lb_aff_init(void *mem, size_t len, uint32_t capacity, uint64_t seed);
struct lb_aff_table *lb_aff_create(uint32_t capacity, uint64_t seed); /* malloc'd */
void lb_aff_destroy(struct lb_aff_table *t);                         /* create'd only */

/*
 * The real id remembered for (svc_id, client) if it was used within timeout_ms of
 * now; LB_AFF_NONE otherwise. A hit does not refresh (call lb_aff_touch once the
 * caller decided to use it).
 */
uint32_t lb_aff_lookup(const struct lb_aff_table *t, uint32_t svc_id, const uint8_t client[16],
		       uint32_t now, uint32_t timeout_ms);
/* Record that (svc_id, client) now uses real_id. Returns 0, or LB_EAGAIN when the
 * entry was busy with another writer (nothing recorded). */
int lb_aff_update(struct lb_aff_table *t, uint32_t svc_id, const uint8_t client[16],
		  uint32_t real_id, uint32_t now);
/* Refresh last use of (svc_id, client) if present. */
void lb_aff_touch(struct lb_aff_table *t, uint32_t svc_id, const uint8_t client[16], uint32_t now);
/* Forget every entry of a service (its id is about to be reused). Control thread. */
void lb_aff_flush_service(struct lb_aff_table *t, uint32_t svc_id);
/* Entries in use (not expired is not checked); for stats. */
uint32_t lb_aff_count(const struct lb_aff_table *t);

#endif /* LB_AFFINITY_H */
