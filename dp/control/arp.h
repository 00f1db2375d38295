/*
 * arp.h - the control thread's packet work: ARP and NDP, neighbour resolution,
 * ICMP echo replies and the ICMP errors the box originates.
 *
 * Control thread only (dp/main.c's loop calls lb_arp_poll). Workers hand it
 * packets through their control rings (lb_meta(off, m)->kind says why); it answers
 * through the workers' TX rings, so every frame leaves on a worker's own queue.
 *
 * - Answers ARP requests and neighbour solicitations for VIPs (on external/both
 *   ports), the ports' own addresses and fnat source addresses (on their port).
 * - Announces addresses with gratuitous ARP / unsolicited NA at start and when a
 *   VIP appears.
 * - Resolves next hops and ages the entries (resolve.c, the neighbour_cache
 *   settings): frames waiting for a next hop are held (at most LB_HOLD_PER_NEIGH per
 *   neighbour, LB_HOLD_MAX in all, for up to 3 s) and sent when the answer comes;
 *   entries go reachable -> stale -> (probe | deleted) -> failed as in Linux, needed
 *   ones re-probed with backoff; static entries never change.
 * - Originates "fragmentation needed" / "packet too big" and "time exceeded",
 *   rate-limited (token bucket, 1000/s).
 */
#ifndef LB_ARP_H
#define LB_ARP_H

#include <stddef.h>

#include "lb_addr.h"

#define LB_HOLD_PER_NEIGH 16
#define LB_HOLD_MAX 1024

struct lb_dp;
struct lb_arp;

/* Create and announce the box's addresses and the VIPs already configured. */
struct lb_arp *lb_arp_create(struct lb_dp *dp, char *err, size_t errlen);
void lb_arp_destroy(struct lb_arp *a);

/* Serve punted packets and run the timers. Call every loop of the control thread. */
void lb_arp_poll(struct lb_arp *a);

/* Frames held now, waiting for their next hop (tests, stats). */
unsigned lb_arp_held(const struct lb_arp *a);

/* A VIP appeared: gratuitous ARP / unsolicited NA on the external ports. */
void lb_arp_announce(struct lb_arp *a, const struct lb_addr *vip);

#endif /* LB_ARP_H */
