/*
 * sync_priv.h - what sync.c (datagrams in and out, join, status) and sync_walk.c
 * (walks over the workers' conntrack tables) share. Main lcore only.
 */
#ifndef LB_SYNC_PRIV_H
#define LB_SYNC_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "conntrack.h"
#include "sync_codec.h"
#include "sync_lag.h"

#define SYNC_PEND_MAX 64      /* datagrams waiting for a peer's next hop */
#define SYNC_PEND_MS 3000     /* longest they wait */
#define SYNC_BULK_RETRY_MS 1000
#define SYNC_WALK_BUDGET 256  /* conntrack slots a walk visits per loop */
#define SYNC_EXPIRE_BUDGET 1024

struct rte_mbuf;

/* Records waiting to be sealed into one datagram. */
struct sync_batch {
	uint16_t n;
	uint64_t first_tsc;   /* when the first record came */
	uint8_t buf[LB_SYNC_MAX_LEN];
};

/* A walk over every worker's table, a bounded slice per loop. */
struct sync_walk {
	bool active;
	unsigned worker;
	uint32_t slot;
	uint32_t peer_slot;   /* bulk answers: then the peer table, the asker's own entries */
};

struct sync_peer {
	struct lb_addr addr;
	uint32_t id;                  /* sender id seen, 0 before the first datagram */
	struct lb_sync_replay replay;
	uint64_t last_seen_tsc;       /* 0: never */
	uint64_t datagrams, records;
	bool bulk_done;               /* it sent its bulk end (our join) */
	uint64_t bulk_req_tsc;        /* our last bulk request to it */
	struct sync_walk answer;      /* our bulk answer to its request */
	struct sync_batch out;        /* bulk answer records for it alone */
	struct rte_mbuf *pend[SYNC_PEND_MAX];
	uint64_t pend_tsc[SYNC_PEND_MAX];
	unsigned n_pend;
};

struct lb_sync {
	struct lb_dp *dp;
	uint8_t key[LB_SYNC_KEY_LEN];
	uint32_t epoch;
	uint64_t seq;
	unsigned n_peers;
	struct sync_peer peers[LB_SYNC_MAX_PEERS];
	struct sync_batch all;        /* records for every peer */
	struct sync_walk refresh;
	uint64_t refresh_start_tsc;   /* start of the current refresh pass */
	uint64_t ms;                  /* TSC ticks per millisecond */
	uint64_t start_tsc;
	bool bulk_done;
	uint64_t records_sent, records_received;
	struct lb_lag_hist lag;       /* records datagrams accepted: receive time - send time */
	/* On-link take-over (sync_onlink.c), indexed like dp->local[]: */
	uint32_t owner[LB_MAX_LOCAL_ADDRS];   /* sync id of the peer whose records named it first */
	bool held[LB_MAX_LOCAL_ADDRS];        /* this box answers ARP/NDP for it now */
	uint8_t announce_left[LB_MAX_LOCAL_ADDRS];
	uint64_t announce_tsc[LB_MAX_LOCAL_ADDRS];
	uint64_t heartbeat_tsc;       /* last datagram to every peer (heartbeats) */
	uint64_t onlink_tsc;          /* last take-over check */
	uint64_t takeovers, releases;
};

/* sync.c: add a record to a batch; a full batch is sent (peer NULL: to every peer). */
void lb_sync_add(struct lb_sync *s, struct sync_batch *b, struct sync_peer *peer,
		 const struct lb_sync_rec *r);
void lb_sync_flush(struct lb_sync *s, struct sync_batch *b, struct sync_peer *peer);
void lb_sync_send_ctl(struct lb_sync *s, struct sync_peer *peer, uint8_t type);

/* sync_onlink.c: heartbeats, peers' liveness, on-link SNAT take-over (every loop). */
void lb_sync_onlink_poll(struct lb_sync *s, uint64_t now);

/* sync_walk.c */
/* The record of a tracked connection; false for what is not synced (dnat, expired). */
bool lb_sync_rec_of(const struct lb_sync *s, const struct lb_conn *c, uint32_t now,
		    struct lb_sync_rec *r);
/* One slice of a walk; records go to peer (NULL: all). Returns true when it finished. */
bool lb_sync_walk_step(struct lb_sync *s, struct sync_walk *w, struct sync_peer *peer);

#endif /* LB_SYNC_PRIV_H */
