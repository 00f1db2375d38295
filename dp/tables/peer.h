/*
 * peer.h - the peer table: connections other boxes told this one about (flow sync,
 * docs/flow-sync.md), for a worker that meets a packet of a connection it does not
 * track.
 *
 * Written only by the control thread (dp/control/sync.c), read by every worker
 * without a lock: each entry is a seqlock (as dp/lib/affinity.c), each index a
 * set-associative bucket of LB_PEER_WAYS slots holding (hash tag, entry index). A
 * reader copies an entry under its sequence and checks the key in the copy, so an
 * entry freed or reused under it reads as a miss, never as another flow's data.
 * Indexed twice, like conntrack:
 *   forward: (family, proto, VIP, VIP port, client, client port)   client packets
 *   reverse: (family, proto, backend, backend port, SNAT address, SNAT port)   replies
 * Entries expire with the idle time the record carried. No EAL, no DPDK.
 */
#ifndef LB_PEER_H
#define LB_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync_codec.h"

#define LB_PEER_WAYS 8

struct lb_peer_table;

/* capacity: entries, a power of two >= 64. NULL when out of memory. */
struct lb_peer_table *lb_peer_create(uint32_t capacity, uint64_t seed);
void lb_peer_destroy(struct lb_peer_table *t);

/* Control thread. */
/*
 * Store or refresh r (from sender) with expire = now + r->timeout_ms. A record
 * whose forward key is present replaces that entry. own: r's SNAT address is one
 * of this box's own (its connections learned back after a restart; new flows skip
 * those ports, see lb_peer_own_count). Returns 0, or -1 when both buckets had no
 * free slot (nothing expired to reuse) or the table is full.
 */
int lb_peer_upsert(struct lb_peer_table *t, const struct lb_sync_rec *r, uint32_t sender,
		   uint32_t now, bool own);
/* Free expired entries among the next budget slots; returns how many. */
unsigned lb_peer_expire(struct lb_peer_table *t, uint32_t now, unsigned budget);
uint32_t lb_peer_count(const struct lb_peer_table *t);
/* Entries stored with own: while 0, a worker need not check its new SNAT ports here. */
uint32_t lb_peer_own_count(const struct lb_peer_table *t);
uint32_t lb_peer_capacity(const struct lb_peer_table *t);

/*
 * Control thread: visit at most budget slots from start; cb gets each live entry
 * that sender sent, with timeout_ms set to the time it has left. Returns the slot
 * to resume from, or the capacity when the walk is over.
 */
uint32_t lb_peer_walk(const struct lb_peer_table *t, uint32_t start, unsigned budget,
		      uint32_t sender, uint32_t now,
		      void (*cb)(const struct lb_sync_rec *r, void *arg), void *arg);

/* Workers (any thread): copy the live entry into *out; false when none. */
bool lb_peer_lookup_fwd(const struct lb_peer_table *t, uint8_t family, uint8_t proto,
			const uint8_t *vip, uint16_t vport, const uint8_t *client, uint16_t cport,
			uint32_t now, struct lb_sync_rec *out);
bool lb_peer_lookup_rev(const struct lb_peer_table *t, uint8_t family, uint8_t proto,
			const uint8_t *backend, uint16_t bport, const uint8_t *local,
			uint16_t lport, uint32_t now, struct lb_sync_rec *out);

#endif /* LB_PEER_H */
