/*
 * arp_priv.h - what the control thread's packet work (arp.c) and its neighbour
 * resolution (resolve.c) share. Control thread only; not for use elsewhere.
 */
#ifndef LB_ARP_PRIV_H
#define LB_ARP_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "arp.h"
#include "dp.h"
#include "exc_limit.h"

struct rte_mbuf;

#define LB_ARP_TIMER_MS 100   /* neighbour scan period */
#define LB_ARP_HOLD_MS 3000   /* longest a frame waits for its next hop */

struct lb_arp_held {
	struct rte_mbuf *m;
	uint32_t neigh;
	uint64_t tsc;
};

struct lb_arp {
	struct lb_dp *dp;
	struct lb_arp_held hold[LB_HOLD_MAX];
	unsigned n_hold;
	uint64_t next_timer;
	uint64_t ms;              /* TSC ticks per millisecond */
	double icmp_tokens;
	uint64_t icmp_tsc;
	double probe_tokens;      /* probes we may send now (neighbour_cache.probe_rate) */
	uint64_t probe_tsc;       /* when probe_tokens was last filled */
	uint64_t retry_tsc;       /* last lb_svcs_retry_neigh() */
	struct lb_exc_tb neigh_copy_tb; /* ARP/NDP copies to the kernel (dp.exception_priority_*) */
	struct lb_exc_tb defend_tb; /* our announcements answering another MAC's (defend()) */
};

static inline uint64_t *
lb_arp_ctr(struct lb_arp *a)
{
	return a->dp->ctrl;
}

/* arp.c: queue m for worker 0 to send on port, offload flags kept (held frames). */
void lb_arp_out_held(struct lb_arp *a, struct rte_mbuf *m, uint16_t port);
/* arp.c: an ARP request / neighbour solicitation for target on port. */
void lb_arp_solicit(struct lb_arp *a, uint16_t port, const struct lb_addr *target);

/* resolve.c: an ARP packet or NA/NS received on port says addr is at mac. */
void lb_arp_learn(struct lb_arp *a, uint8_t family, const uint8_t *addr, const uint8_t *mac,
		  uint16_t port, bool answer);
/* resolve.c: a frame a worker could not send (its next hop unresolved), egress port. */
void lb_arp_hold(struct lb_arp *a, struct rte_mbuf *m, uint16_t port);
/* resolve.c: probes, state changes, aging, held frames' expiry; every LB_ARP_TIMER_MS. */
void lb_arp_timers(struct lb_arp *a, uint64_t now);

#endif /* LB_ARP_PRIV_H */
