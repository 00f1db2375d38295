/*
 * sync_onlink.c - flow sync's on-link SNAT take-over (docs/flow-sync.md "On-link
 * take-over", setting sync.onlink_takeover).
 *
 * Main lcore only (lb_sync_poll calls it every loop). Owns the heartbeats (an empty
 * records datagram to every peer each sync.heartbeat_ms, sealed and checked like any
 * other) and the take-over state in struct lb_sync: which peer's SNAT addresses this
 * box answers ARP / neighbour solicitations for (arp.c asks lb_sync_answers_for),
 * and the gratuitous ARP / unsolicited NA it sends when it takes one over.
 *
 * A peer is live while its last accepted datagram is younger than sync.takeover_ms.
 * When the peer that owns an address (the sender whose records named it first) is
 * not live, the box with the lowest sync id among the live ones (this box and its
 * live peers) answers for it. When the owner is heard again, or a live peer with a
 * lower id is, this box stops answering; it sends nothing then (no fight): the
 * returning owner announces its own addresses when it starts, and again when it
 * hears another MAC announce one (ours, still on its way) (arp.c, defend()).
 */
#include <stdio.h>

#include <rte_cycles.h>

#include "arp.h"
#include "dp.h"
#include "sync.h"
#include "sync_priv.h"

#define ONLINK_CHECK_MS 20        /* how often liveness is looked at */
#define ONLINK_ANNOUNCES 3        /* gratuitous ARP / unsolicited NA per take-over */
#define ONLINK_ANNOUNCE_MS 1000   /* spacing between them */

static bool
live(const struct lb_sync *s, const struct sync_peer *p, uint64_t now)
{
	return p->last_seen_tsc != 0 &&
	       now - p->last_seen_tsc <= (uint64_t)s->dp->conf.sync.takeover_ms * s->ms;
}

/* The live peer with sync id id, or NULL (unknown or silent). */
static const struct sync_peer *
live_peer(const struct lb_sync *s, uint32_t id, uint64_t now)
{
	for (unsigned i = 0; i < s->n_peers; i++)
		if (s->peers[i].id == id && live(s, &s->peers[i], now))
			return &s->peers[i];
	return NULL;
}

/* This box has the lowest sync id among itself and its live peers. */
static bool
lowest_live(const struct lb_sync *s, uint64_t now)
{
	for (unsigned i = 0; i < s->n_peers; i++)
		if (s->peers[i].id != 0 && s->peers[i].id < s->dp->conf.sync.id &&
		    live(s, &s->peers[i], now))
			return false;
	return true;
}

void
lb_sync_onlink_poll(struct lb_sync *s, uint64_t now)
{
	struct lb_dp *dp = s->dp;

	if (!dp->conf.sync.onlink_takeover)
		return;
	if (now - s->heartbeat_tsc >= (uint64_t)dp->conf.sync.heartbeat_ms * s->ms) {
		s->heartbeat_tsc = now;
		for (unsigned i = 0; i < s->n_peers; i++)
			lb_sync_send_ctl(s, &s->peers[i], LB_SYNC_RECORDS); /* 0 records */
	}
	if (now - s->onlink_tsc < ONLINK_CHECK_MS * s->ms)
		return;
	s->onlink_tsc = now;
	/* Not before the join: a box that just started has not heard its live peers yet. */
	bool mine = s->bulk_done && lowest_live(s, now);
	for (unsigned k = dp->n_local; k < dp->n_local + dp->n_local_peer; k++) {
		bool take = mine && s->owner[k] != 0 && live_peer(s, s->owner[k], now) == NULL;
		char a[LB_ADDR_STRLEN];
		if (take != s->held[k]) {
			s->held[k] = take;
			lb_addr_format(&dp->local[k].addr, a, sizeof(a));
			fprintf(stderr, "edgelb-dp: flow sync: %s %s (peer %u %s)\n",
				take ? "taking over" : "releasing", a, s->owner[k],
				take ? "silent" : "heard, or a lower id is live");
			if (take) {
				s->takeovers++;
				s->announce_left[k] = ONLINK_ANNOUNCES;
				s->announce_tsc[k] = now - ONLINK_ANNOUNCE_MS * s->ms;
			} else {
				s->releases++;
				s->announce_left[k] = 0;
			}
		}
		if (s->held[k] && s->announce_left[k] > 0 &&
		    now - s->announce_tsc[k] >= ONLINK_ANNOUNCE_MS * s->ms) {
			s->announce_left[k]--;
			s->announce_tsc[k] = now;
			lb_arp_announce(dp->arp, &dp->local[k].addr);
		}
	}
}

bool
lb_sync_answers_for(const struct lb_sync *s, unsigned idx)
{
	return s != NULL && idx < LB_MAX_LOCAL_ADDRS && s->held[idx];
}
