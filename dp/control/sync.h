/*
 * sync.h - flow sync on the control thread (docs/flow-sync.md).
 *
 * Main lcore only. Owns the sync datagrams in both directions: it drains the
 * workers' record rings into batches, seals them (dp/lib/sync_codec.c) and sends
 * them to every peer through worker 0's TX ring, as ARP does; it checks every
 * datagram the workers hand over, counts each refusal under its own reason, and
 * writes accepted records into the peer table (dp/tables/peer.c), the only writer.
 * It also answers peers' bulk requests, walks the workers' tables to refresh
 * long-lived entries, and asks its peers for their connections at start (join).
 */
#ifndef LB_SYNC_H
#define LB_SYNC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct lb_dp;
struct lb_sync;

/* dp->conf.sync.enabled: the key, the peers, the join. NULL with err on failure. */
struct lb_sync *lb_sync_create(struct lb_dp *dp, char *err, size_t errlen);
void lb_sync_destroy(struct lb_sync *s);

/* Every loop of the control thread: receive, batch and send, walks, timers. */
void lb_sync_poll(struct lb_sync *s);

/*
 * Replace the peers (control socket op flow_sync.peers): list is a JSON array of
 * address strings. Returns 0, or LB_EINVAL with a message in err.
 */
int lb_sync_set_peers(struct lb_sync *s, const json_t *list, char *err, size_t errlen);

/* The `flow_sync` object of hello and stats.get. */
json_t *lb_sync_json(const struct lb_sync *s);

/*
 * Before the workers start, after a restart that re-attached conntrack tables:
 * remove the connections taken over from peers (their SNAT address index named a
 * peer's address the previous process had learned; this one numbers them anew).
 * They are taken over again from the peer table when their next packet comes.
 * Returns how many went.
 */
unsigned lb_sync_forget_foreign(struct lb_dp *dp);

/*
 * On-link take-over (sync.onlink_takeover): true while this box answers ARP/NDP
 * for dp->local[idx], a silent peer's SNAT address (arp.c). False for s NULL.
 */
bool lb_sync_answers_for(const struct lb_sync *s, unsigned idx);

/* True once every peer answered the join, or its timeout passed (cp/bgp waits for it). */
bool lb_sync_bulk_done(const struct lb_sync *s);

#endif /* LB_SYNC_H */
